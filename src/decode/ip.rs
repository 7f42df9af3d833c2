//! IPv4, IPv6 (with extension headers), UDP and TCP headers. Checksums are not verified: many
//! captures are taken on hosts with checksum offload, and a monitor must not drop such packets.

use super::bytes::{be16, be32};
use super::link::IpVersion;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Transport protocol number (6 TCP, 17 UDP...).
    pub proto: u8,
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpSkip {
    Truncated,
    Malformed,
    /// A fragment after the first: its transport header is elsewhere.
    LaterFragment,
}

pub fn decode(version: IpVersion, data: &[u8]) -> Result<IpPacket<'_>, IpSkip> {
    match version {
        IpVersion::V4 => ipv4(data),
        IpVersion::V6 => ipv6(data),
    }
}

pub fn ipv4(d: &[u8]) -> Result<IpPacket<'_>, IpSkip> {
    let first = *d.first().ok_or(IpSkip::Truncated)?;
    if first >> 4 != 4 {
        return Err(IpSkip::Malformed);
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < 20 {
        return Err(IpSkip::Malformed);
    }
    if d.len() < ihl {
        return Err(IpSkip::Truncated);
    }
    let total = usize::from(be16(d, 2).ok_or(IpSkip::Truncated)?);
    // Total length trims link padding; 0 (TSO captures) or a longer claim keeps what was captured.
    let end = if total >= ihl && total <= d.len() {
        total
    } else {
        d.len()
    };
    let frag = be16(d, 6).ok_or(IpSkip::Truncated)?;
    if frag & 0x1fff != 0 {
        return Err(IpSkip::LaterFragment);
    }
    let src = Ipv4Addr::new(d[12], d[13], d[14], d[15]);
    let dst = Ipv4Addr::new(d[16], d[17], d[18], d[19]);
    Ok(IpPacket {
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        proto: d[9],
        payload: &d[ihl..end],
    })
}

pub fn ipv6(d: &[u8]) -> Result<IpPacket<'_>, IpSkip> {
    if d.len() < 40 {
        return Err(IpSkip::Truncated);
    }
    if d[0] >> 4 != 6 {
        return Err(IpSkip::Malformed);
    }
    let plen = usize::from(be16(d, 4).ok_or(IpSkip::Truncated)?);
    let end = if plen > 0 && 40 + plen <= d.len() {
        40 + plen
    } else {
        d.len()
    };
    let addr = |at: usize| -> Result<Ipv6Addr, IpSkip> {
        let b: [u8; 16] = d
            .get(at..at + 16)
            .and_then(|s| s.try_into().ok())
            .ok_or(IpSkip::Truncated)?;
        Ok(Ipv6Addr::from(b))
    };
    let (src, dst) = (addr(8)?, addr(24)?);
    let mut next = d[6];
    let mut at = 40;
    // Extension headers, bounded.
    for _ in 0..8 {
        match next {
            0 | 43 | 60 => {
                let len = (usize::from(*d.get(at + 1).ok_or(IpSkip::Truncated)?) + 1) * 8;
                next = d[at];
                at += len;
            }
            44 => {
                let off = be16(d, at + 2).ok_or(IpSkip::Truncated)?;
                if off & 0xfff8 != 0 {
                    return Err(IpSkip::LaterFragment);
                }
                next = d[at];
                at += 8;
            }
            51 => {
                let len = (usize::from(*d.get(at + 1).ok_or(IpSkip::Truncated)?) + 2) * 4;
                next = d[at];
                at += len;
            }
            _ => break,
        }
        if at > end {
            return Err(IpSkip::Truncated);
        }
    }
    Ok(IpPacket {
        src: IpAddr::V6(src),
        dst: IpAddr::V6(dst),
        proto: next,
        payload: d.get(at..end).ok_or(IpSkip::Truncated)?,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udp<'a> {
    pub sport: u16,
    pub dport: u16,
    pub payload: &'a [u8],
}

pub fn udp(d: &[u8]) -> Result<Udp<'_>, IpSkip> {
    let sport = be16(d, 0).ok_or(IpSkip::Truncated)?;
    let dport = be16(d, 2).ok_or(IpSkip::Truncated)?;
    let len = usize::from(be16(d, 4).ok_or(IpSkip::Truncated)?);
    let end = if (8..=d.len()).contains(&len) {
        len
    } else {
        d.len()
    };
    Ok(Udp {
        sport,
        dport,
        payload: d.get(8..end).ok_or(IpSkip::Truncated)?,
    })
}

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tcp<'a> {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub payload: &'a [u8],
}

pub fn tcp(d: &[u8]) -> Result<Tcp<'_>, IpSkip> {
    let off = usize::from(*d.get(12).ok_or(IpSkip::Truncated)? >> 4) * 4;
    if off < 20 {
        return Err(IpSkip::Malformed);
    }
    Ok(Tcp {
        sport: be16(d, 0).ok_or(IpSkip::Truncated)?,
        dport: be16(d, 2).ok_or(IpSkip::Truncated)?,
        seq: be32(d, 4).ok_or(IpSkip::Truncated)?,
        ack: be32(d, 8).ok_or(IpSkip::Truncated)?,
        flags: *d.get(13).ok_or(IpSkip::Truncated)?,
        payload: d.get(off..).ok_or(IpSkip::Truncated)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_trims_padding_and_skips_later_fragments() {
        let mut p = vec![
            0x45, 0, 0, 22, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0xaa, 0xbb,
        ];
        p.extend_from_slice(&[0; 6]); // Ethernet padding
        let ip = ipv4(&p).unwrap();
        assert_eq!(ip.payload, &[0xaa, 0xbb]);
        assert_eq!(ip.proto, 17);
        p[6] = 0x00;
        p[7] = 0x10;
        assert_eq!(ipv4(&p), Err(IpSkip::LaterFragment));
        assert_eq!(ipv4(&p[..10]), Err(IpSkip::Truncated));
        assert_eq!(ipv4(&[0x41, 0]), Err(IpSkip::Malformed));
    }

    #[test]
    fn ipv6_walks_extension_headers() {
        let mut p = vec![0x60, 0, 0, 0, 0, 16, 0, 64];
        p.extend_from_slice(&[0; 32]);
        p.extend_from_slice(&[17, 0, 0, 0, 0, 0, 0, 0]); // hop-by-hop, 8 bytes, next UDP
        p.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
        let ip = ipv6(&p).unwrap();
        assert_eq!(ip.proto, 17);
        assert_eq!(udp(ip.payload).unwrap().dport, 2);
        // A loop of headers claiming to run past the packet.
        let mut bad = p.clone();
        bad[41] = 200;
        assert_eq!(ipv6(&bad), Err(IpSkip::Truncated));
    }

    #[test]
    fn tcp_header() {
        let mut t = vec![
            0, 80, 1, 187, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x18, 0, 0, 0, 0, 0, 0,
        ];
        t.extend_from_slice(b"GET");
        let h = tcp(&t).unwrap();
        assert_eq!((h.sport, h.dport, h.seq, h.flags), (80, 443, 1, 0x18));
        assert_eq!(h.payload, b"GET");
        t[12] = 0x10;
        assert_eq!(tcp(&t), Err(IpSkip::Malformed));
        t[12] = 0xf0;
        assert_eq!(tcp(&t), Err(IpSkip::Truncated));
    }
}
