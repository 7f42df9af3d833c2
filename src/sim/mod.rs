//! Synthetic camera-network traffic for the demo, end-to-end tests and benchmarks: a classic pcap
//! writer and TCP/UDP session builders that produce well-formed Ethernet/IPv4 frames (real
//! handshakes, sequence numbers, MSS-sized segments, IPv4 header checksums).
//!
//! Payloads follow the vendors' documented formats (see `scenario`); addresses are private-range
//! *inside the capture file only* — nothing here sends a packet anywhere.

#[cfg(feature = "live")]
pub mod history;
#[cfg(feature = "live")]
pub mod live;
pub mod realistic;
pub mod scenario;

use std::io::{self, Write};
use std::net::Ipv4Addr;

/// Writes classic little-endian pcap (microsecond timestamps).
pub struct PcapWriter<W: Write> {
    out: W,
    /// Packets written.
    pub packets: u64,
    /// Bytes written.
    pub bytes: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Write the global header for `linktype` (1 = Ethernet).
    pub fn new(mut out: W, linktype: u32) -> io::Result<Self> {
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&65_535u32.to_le_bytes())?;
        out.write_all(&linktype.to_le_bytes())?;
        Ok(PcapWriter {
            out,
            packets: 0,
            bytes: 24,
        })
    }

    /// Write one frame with capture time `ts` (Unix seconds).
    pub fn packet(&mut self, ts: f64, data: &[u8]) -> io::Result<()> {
        let secs = ts.floor();
        let usecs = ((ts - secs) * 1e6).round().min(999_999.0);
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        self.out.write_all(&(secs as u32).to_le_bytes())?;
        self.out.write_all(&(usecs as u32).to_le_bytes())?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(data)?;
        self.packets += 1;
        self.bytes += 16 + data.len() as u64;
        Ok(())
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// A host on the simulated network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    /// Its MAC address.
    pub mac: [u8; 6],
    /// Its IPv4 address.
    pub ip: Ipv4Addr,
}

impl Host {
    /// A host whose MAC is derived from its address (locally administered).
    pub fn new(ip: Ipv4Addr) -> Host {
        let o = ip.octets();
        Host {
            mac: [0x02, 0x00, o[0], o[1], o[2], o[3]],
            ip,
        }
    }
}

fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in header.chunks(2) {
        let hi = u32::from(pair[0]);
        let lo = u32::from(*pair.get(1).unwrap_or(&0));
        sum += (hi << 8) | lo;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet + IPv4 frame around a transport payload (`proto` 6 = TCP, 17 = UDP).
pub fn ipv4_frame(src: &Host, dst: &Host, proto: u8, id: u16, transport: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + 20 + transport.len());
    f.extend_from_slice(&dst.mac);
    f.extend_from_slice(&src.mac);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + transport.len()).min(65_535) as u16;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip[6] = 0x40; // don't fragment
    ip[8] = 64;
    ip[9] = proto;
    ip[12..16].copy_from_slice(&src.ip.octets());
    ip[16..20].copy_from_slice(&dst.ip.octets());
    let c = ipv4_checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(transport);
    f
}

/// A UDP datagram in a frame (checksum 0: optional over IPv4).
pub fn udp_frame(
    src: &Host,
    sport: u16,
    dst: &Host,
    dport: u16,
    id: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()).min(65_535) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    ipv4_frame(src, dst, 17, id, &u)
}

/// TCP SYN flag.
pub const SYN: u8 = 0x02;
/// TCP ACK flag.
pub const ACK: u8 = 0x10;
/// TCP PSH flag.
pub const PSH: u8 = 0x08;
/// TCP FIN flag.
pub const FIN: u8 = 0x01;

/// A TCP segment in a frame.
#[allow(clippy::too_many_arguments)]
pub fn tcp_frame(
    src: &Host,
    sport: u16,
    dst: &Host,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    id: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + payload.len());
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.push(5 << 4);
    t.push(flags);
    t.extend_from_slice(&64_240u16.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(payload);
    ipv4_frame(src, dst, 6, id, &t)
}

/// Largest TCP payload per segment.
pub const MSS: usize = 1448;

/// A TCP connection being written into a capture: handshake, data both ways, close.
pub struct TcpSession {
    /// The client host.
    pub client: Host,
    /// The server host.
    pub server: Host,
    /// Client port.
    pub cport: u16,
    /// Server port.
    pub sport: u16,
    cseq: u32,
    sseq: u32,
    id: u16,
    /// Capture time of the next packet.
    pub ts: f64,
    /// Time between packets.
    pub step: f64,
}

impl TcpSession {
    /// A session between `client:cport` and `server:sport`, starting at `ts`.
    pub fn new(client: Host, cport: u16, server: Host, sport: u16, ts: f64) -> TcpSession {
        let seed = u32::from(client.ip) ^ (u32::from(cport) << 16) ^ u32::from(sport);
        TcpSession {
            client,
            server,
            cport,
            sport,
            cseq: seed.wrapping_mul(2_654_435_761),
            sseq: seed.wrapping_mul(40_503).wrapping_add(7),
            id: (seed & 0xffff) as u16,
            ts,
            step: 0.0005,
        }
    }

    fn tick(&mut self) -> f64 {
        let t = self.ts;
        self.ts += self.step;
        self.id = self.id.wrapping_add(1);
        t
    }

    /// One segment from the client (`from_client`) or the server; sequence numbers advance by
    /// the payload, plus one for SYN and FIN.
    fn segment<W: Write>(
        &mut self,
        w: &mut PcapWriter<W>,
        from_client: bool,
        flags: u8,
        payload: &[u8],
    ) -> io::Result<()> {
        let t = self.tick();
        let (c, s) = (self.client, self.server);
        let ack_of = |seq: u32| if flags & ACK != 0 { seq } else { 0 };
        let frame = if from_client {
            tcp_frame(
                &c,
                self.cport,
                &s,
                self.sport,
                self.cseq,
                ack_of(self.sseq),
                flags,
                self.id,
                payload,
            )
        } else {
            tcp_frame(
                &s,
                self.sport,
                &c,
                self.cport,
                self.sseq,
                ack_of(self.cseq),
                flags,
                self.id,
                payload,
            )
        };
        w.packet(t, &frame)?;
        let adv = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        if from_client {
            self.cseq = self.cseq.wrapping_add(adv);
        } else {
            self.sseq = self.sseq.wrapping_add(adv);
        }
        Ok(())
    }

    /// SYN, SYN-ACK, ACK.
    pub fn open<W: Write>(&mut self, w: &mut PcapWriter<W>) -> io::Result<()> {
        self.segment(w, true, SYN, &[])?;
        self.segment(w, false, SYN | ACK, &[])?;
        self.segment(w, true, ACK, &[])
    }

    /// Data from the client, in MSS-sized segments.
    pub fn client_send<W: Write>(&mut self, w: &mut PcapWriter<W>, data: &[u8]) -> io::Result<()> {
        for chunk in data.chunks(MSS) {
            self.segment(w, true, ACK | PSH, chunk)?;
        }
        Ok(())
    }

    /// Data from the server, in MSS-sized segments.
    pub fn server_send<W: Write>(&mut self, w: &mut PcapWriter<W>, data: &[u8]) -> io::Result<()> {
        for chunk in data.chunks(MSS) {
            self.segment(w, false, ACK | PSH, chunk)?;
        }
        Ok(())
    }

    /// FIN from both sides.
    pub fn close<W: Write>(&mut self, w: &mut PcapWriter<W>) -> io::Result<()> {
        self.segment(w, true, FIN | ACK, &[])?;
        self.segment(w, false, FIN | ACK, &[])?;
        self.segment(w, true, ACK, &[])
    }
}

/// A DNS query message for `name` (type A).
pub fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        m.push(label.len().min(63) as u8);
        m.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    m
}

/// A minimal TLS 1.2/1.3 ClientHello record carrying `sni` and ALPN `h2`/`http/1.1`.
pub fn tls_client_hello(sni: &str) -> Vec<u8> {
    let mut ext = Vec::new();
    // server_name
    let name = sni.as_bytes();
    let mut sn = Vec::new();
    sn.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    sn.push(0);
    sn.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sn.extend_from_slice(name);
    ext.extend_from_slice(&0u16.to_be_bytes());
    ext.extend_from_slice(&(sn.len() as u16).to_be_bytes());
    ext.extend_from_slice(&sn);
    // supported_groups
    ext.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]);
    // ec_point_formats
    ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    // signature_algorithms
    ext.extend_from_slice(&[0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x03, 0x08, 0x04]);
    // ALPN: h2, http/1.1
    let alpn: &[u8] = b"\x02h2\x08http/1.1";
    ext.extend_from_slice(&0x0010u16.to_be_bytes());
    ext.extend_from_slice(&((alpn.len() + 2) as u16).to_be_bytes());
    ext.extend_from_slice(&(alpn.len() as u16).to_be_bytes());
    ext.extend_from_slice(alpn);
    // supported_versions: TLS 1.3, 1.2
    ext.extend_from_slice(&[0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03]);

    let mut body = Vec::new();
    body.extend_from_slice(&[0x03, 0x03]);
    body.extend((0..32u8).map(|i| i.wrapping_mul(37)));
    body.push(0); // session id
    let suites: [u16; 4] = [0x1301, 0x1302, 0xc02f, 0xc030];
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);

    let mut hs = vec![0x01];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// An MQTT 3.1.1 CONNECT packet.
pub fn mqtt_connect(client_id: &str) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&[0x00, 0x04]);
    v.extend_from_slice(b"MQTT");
    v.push(4); // level 3.1.1
    v.push(0x02); // clean session
    v.extend_from_slice(&60u16.to_be_bytes());
    v.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
    v.extend_from_slice(client_id.as_bytes());
    mqtt_packet(0x10, &v)
}

/// An MQTT PUBLISH (QoS 0).
pub fn mqtt_publish(topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    v.extend_from_slice(topic.as_bytes());
    v.extend_from_slice(payload);
    mqtt_packet(0x30, &v)
}

fn mqtt_packet(header: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![header];
    let mut len = body.len();
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        p.push(b);
        if len == 0 {
            break;
        }
    }
    p.extend_from_slice(body);
    p
}

/// An RTP packet (version 2) with `payload`.
pub fn rtp_packet(pt: u8, seq: u16, timestamp: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + payload.len());
    p.push(0x80);
    p.push(pt & 0x7f);
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&timestamp.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_checksum_verifies() {
        let a = Host::new(Ipv4Addr::new(10, 0, 0, 1));
        let b = Host::new(Ipv4Addr::new(10, 0, 0, 2));
        let f = udp_frame(&a, 1, &b, 2, 7, b"x");
        // A correct header sums to 0xffff (checksum of it is 0).
        assert_eq!(ipv4_checksum(&f[14..34]), 0);
    }

    #[test]
    fn mqtt_remaining_length_is_varint() {
        let p = mqtt_publish("t", &[0u8; 200]);
        assert_eq!(p[0], 0x30);
        // 2 (topic length) + 1 (topic) + 200 = 203 = 0x4b | 0x80, then 1.
        assert_eq!(&p[1..3], &[0xcb, 0x01]);
    }
}
