#![no_main]
//! QUIC Initial packets: the raw datagram (header parsing), and the same bytes as the plaintext
//! frames of a correctly protected client Initial (so that frame parsing, CRYPTO assembly and
//! the ClientHello parser are reached past the AEAD), split over two packets.
use banwatch::decode::{quic, Emitter};
use libfuzzer_sys::fuzz_target;
use rustls::quic::Version;
use rustls::Side;

const DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

fn protect(frames: &[u8], pn: u32) -> Vec<u8> {
    let rustls::SupportedCipherSuite::Tls13(suite) =
        rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
    else {
        return Vec::new();
    };
    let keys = suite.quic_suite().unwrap().keys(&DCID, Side::Client, Version::V1);
    let mut payload = frames.to_vec();
    payload.resize(payload.len().max(1200), 0); // PADDING frames
    payload.truncate(16000);
    let len = payload.len() + 4 + 16;
    let mut header = vec![0xc3, 0, 0, 0, 1, 8];
    header.extend_from_slice(&DCID);
    header.extend_from_slice(&[0, 0]);
    header.extend_from_slice(&(0x4000u16 | len as u16).to_be_bytes());
    let pn_at = header.len();
    header.extend_from_slice(&pn.to_be_bytes());
    let tag = keys.local.packet.encrypt_in_place(u64::from(pn), &header, &mut payload).unwrap();
    let mut packet = header;
    packet.extend_from_slice(&payload);
    packet.extend_from_slice(tag.as_ref());
    let sample: Vec<u8> = packet[pn_at + 4..pn_at + 20].to_vec();
    let (first, rest) = packet.split_at_mut(1);
    keys.local
        .header
        .encrypt_in_place(&sample, &mut first[0], &mut rest[pn_at - 1..pn_at + 3])
        .unwrap();
    packet
}

fuzz_target!(|data: &[u8]| {
    let c = "10.0.0.5:50000".parse().unwrap();
    let s = "10.0.0.9:443".parse().unwrap();
    let mut out = Vec::new();
    let mut q = quic::Initials::default();
    let mut em = Emitter::new(0.0, None, &mut out);
    let _ = q.datagram(c, s, data, &mut em);
    let half = data.len() / 2;
    for (i, part) in [&data[half..], &data[..half]].into_iter().enumerate() {
        let _ = q.datagram(c, s, &protect(part, i as u32), &mut em);
    }
});
