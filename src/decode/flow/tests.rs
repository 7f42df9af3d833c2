//! Tests of the flow engine: handshakes, mid-stream pickup, UDP, bounds, garbage.

use super::*;
use crate::sim::{self, Host, PcapWriter, TcpSession};
use std::net::Ipv4Addr;

fn decode_pcap(bytes: &[u8]) -> (Vec<Observation>, DecodeStats) {
    let mut r = crate::sources::offline::pcap::PcapReader::new(bytes, "t").unwrap();
    let mut d = Decoder::new(DecoderConfig::default());
    let mut out = Vec::new();
    while let Some(Ok(p)) = r.next_packet() {
        d.packet(p.ts, p.linktype, p.data, &mut out);
    }
    d.finish(&mut out);
    (out, d.stats().clone())
}

fn host(x: u8) -> Host {
    Host::new(Ipv4Addr::new(10, 0, 0, x))
}

#[test]
fn tls_over_tcp_with_handshake_and_bypass() {
    let mut w = PcapWriter::new(Vec::new(), 1).unwrap();
    let mut s = TcpSession::new(host(1), 50000, host(2), 443, 1000.0);
    s.open(&mut w).unwrap();
    s.client_send(&mut w, &sim::tls_client_hello("face.example"))
        .unwrap();
    s.server_send(&mut w, &[0x16, 3, 3, 0, 1, 2]).unwrap();
    for _ in 0..50 {
        s.client_send(&mut w, &[0x17, 3, 3, 0, 4, 1, 2, 3, 4])
            .unwrap();
    }
    s.close(&mut w).unwrap();
    let (o, st) = decode_pcap(&w.into_inner());
    let sni = o
        .iter()
        .find(|x| x.proto == "tls" && x.field == "sni")
        .unwrap();
    assert_eq!(sni.value, "face.example");
    let f = sni.flow.unwrap();
    assert_eq!(f.client, "10.0.0.1:50000".parse().unwrap());
    assert_eq!(f.server, "10.0.0.2:443".parse().unwrap());
    assert_eq!(f.client_mac, Some(host(1).mac));
    assert_eq!(sni.dir, Direction::ToServer);
    assert_eq!(st.flows_bypassed, 1);
    assert_eq!(st.errors(), 0);
}

#[test]
fn midstream_flow_picks_the_server_by_port() {
    let mut w = PcapWriter::new(Vec::new(), 1).unwrap();
    let c = host(3);
    let s = host(4);
    // No handshake: data from the server side first.
    w.packet(
        1.0,
        &sim::tcp_frame(
            &s,
            80,
            &c,
            41000,
            500,
            900,
            ACK,
            1,
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        ),
    )
    .unwrap();
    w.packet(
        1.1,
        &sim::tcp_frame(
            &c,
            41000,
            &s,
            80,
            900,
            540,
            ACK,
            2,
            b"GET /x HTTP/1.1\r\nHost: cam\r\n\r\n",
        ),
    )
    .unwrap();
    let (o, _) = decode_pcap(&w.into_inner());
    let host_obs = o.iter().find(|x| x.field == "host").expect("http host");
    assert_eq!(host_obs.flow.unwrap().server.port(), 80);
    assert!(o.iter().any(|x| x.field == "status" && x.value == "200"));
}

#[test]
fn udp_video_is_cheap_and_dns_is_read() {
    let mut w = PcapWriter::new(Vec::new(), 1).unwrap();
    for i in 0..100u16 {
        w.packet(
            f64::from(i),
            &sim::udp_frame(&host(5), 5000, &host(6), 6000, i, &[0u8; 1200]),
        )
        .unwrap();
    }
    w.packet(
        200.0,
        &sim::udp_frame(
            &host(5),
            5353,
            &host(7),
            53,
            1,
            &sim::dns_query(1, "api.kairos.com"),
        ),
    )
    .unwrap();
    let (o, st) = decode_pcap(&w.into_inner());
    assert_eq!(st.flows, 0);
    let q = o.iter().find(|x| x.field == "query").unwrap();
    assert_eq!(q.value, "api.kairos.com");
    assert_eq!(q.dir, Direction::ToServer);
    assert_eq!(q.flow.unwrap().client.ip().to_string(), "10.0.0.5");
}

#[test]
fn flow_table_is_bounded() {
    let mut d = Decoder::new(DecoderConfig {
        max_flows: 100,
        ..DecoderConfig::default()
    });
    let mut out = Vec::new();
    for i in 0..5000u32 {
        let f = sim::tcp_frame(
            &host(1),
            1024 + (i % 60000) as u16,
            &host(2),
            8080,
            i,
            0,
            SYN,
            1,
            &[],
        );
        d.packet(f64::from(i) * 0.001, 1, &f, &mut out);
    }
    assert!(d.tcp.len() <= 101, "{}", d.tcp.len());
    assert!(d.stats().flows_evicted > 0);
}

#[test]
fn garbage_frames_are_counted_not_fatal() {
    let mut d = Decoder::new(DecoderConfig::default());
    let mut out = Vec::new();
    let mut x: u32 = 7;
    for n in 0..3000usize {
        let mut f = vec![0u8; n % 200];
        for b in &mut f {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            *b = (x >> 16) as u8;
        }
        if f.len() > 14 {
            f[12] = 0x08;
            f[13] = 0x00;
            f[14] = 0x45;
        }
        d.packet(
            n as f64,
            [0, 1, 101, 113, 276, 104, 999][n % 7],
            &f,
            &mut out,
        );
    }
    d.finish(&mut out);
    assert!(d.stats().errors() > 0);
}
