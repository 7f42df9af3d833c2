//! Link layers: strip the frame down to its IP packet. Ethernet (with 802.1Q/QinQ tags), Linux
//! cooked SLL and SLL2, BSD loopback (NULL/LOOP), raw IP and Cisco HDLC.

use super::bytes::be16;
use super::protocol::FieldTable;

/// Fields of the link layer.
pub const FIELDS: FieldTable = FieldTable(
    "
mac.oui  value        First three bytes of a device's MAC address (`b4:1e:52`), once per address and device
",
);

/// The network-layer content of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
    pub ip: IpVersion,
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpVersion {
    V4,
    V6,
}

/// Why a frame carries no IP packet we can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkSkip {
    /// Shorter than its link header.
    Truncated,
    /// A link type banwatch does not decode.
    UnsupportedLinktype(u32),
    /// A frame of a known link type carrying something other than IP (ARP, LLDP...).
    NotIp,
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;

fn by_ethertype(t: u16) -> Option<IpVersion> {
    match t {
        ETHERTYPE_IPV4 => Some(IpVersion::V4),
        ETHERTYPE_IPV6 => Some(IpVersion::V6),
        _ => None,
    }
}

fn by_version_nibble(b: &[u8]) -> Option<IpVersion> {
    match b.first()? >> 4 {
        4 => Some(IpVersion::V4),
        6 => Some(IpVersion::V6),
        _ => None,
    }
}

fn mac(b: &[u8], at: usize) -> Option<[u8; 6]> {
    b.get(at..at + 6)?.try_into().ok()
}

fn plain(ip: Option<IpVersion>, payload: &[u8]) -> Result<Frame<'_>, LinkSkip> {
    let ip = ip.ok_or(LinkSkip::NotIp)?;
    Ok(Frame {
        src_mac: None,
        dst_mac: None,
        ip,
        payload,
    })
}

/// Decode one frame of `linktype`.
pub fn decode(linktype: u32, data: &[u8]) -> Result<Frame<'_>, LinkSkip> {
    match linktype {
        1 => ethernet(data),
        // NULL: address family in host byte order; LOOP: in network byte order.
        0 | 108 => {
            let fam = data.get(0..4).ok_or(LinkSkip::Truncated)?;
            let v = if linktype == 108 {
                u32::from_be_bytes([fam[0], fam[1], fam[2], fam[3]])
            } else {
                let le = u32::from_le_bytes([fam[0], fam[1], fam[2], fam[3]]);
                if le < 256 {
                    le
                } else {
                    u32::from_be_bytes([fam[0], fam[1], fam[2], fam[3]])
                }
            };
            let ip = match v {
                2 => Some(IpVersion::V4),
                24 | 28 | 30 => Some(IpVersion::V6),
                _ => None,
            };
            plain(ip, &data[4..])
        }
        12 | 14 | 101 => plain(by_version_nibble(data), data),
        228 => plain(Some(IpVersion::V4), data),
        229 => plain(Some(IpVersion::V6), data),
        113 => {
            let t = be16(data, 14).ok_or(LinkSkip::Truncated)?;
            let payload = data.get(16..).ok_or(LinkSkip::Truncated)?;
            let mut f = plain(by_ethertype(t), payload)?;
            // SLL keeps the sender's link address (MAC for Ethernet devices).
            if be16(data, 4) == Some(6) {
                f.src_mac = mac(data, 6);
            }
            Ok(f)
        }
        276 => {
            let t = be16(data, 0).ok_or(LinkSkip::Truncated)?;
            let payload = data.get(20..).ok_or(LinkSkip::Truncated)?;
            let mut f = plain(by_ethertype(t), payload)?;
            if data.get(11) == Some(&6) {
                f.src_mac = mac(data, 12);
            }
            Ok(f)
        }
        104 => {
            let t = be16(data, 2).ok_or(LinkSkip::Truncated)?;
            plain(by_ethertype(t), data.get(4..).ok_or(LinkSkip::Truncated)?)
        }
        other => Err(LinkSkip::UnsupportedLinktype(other)),
    }
}

/// Ethernet II with up to four VLAN tags (802.1Q, 802.1ad, old QinQ).
pub fn ethernet(data: &[u8]) -> Result<Frame<'_>, LinkSkip> {
    let dst_mac = mac(data, 0).ok_or(LinkSkip::Truncated)?;
    let src_mac = mac(data, 6).ok_or(LinkSkip::Truncated)?;
    let mut at = 12;
    let mut t = be16(data, at).ok_or(LinkSkip::Truncated)?;
    for _ in 0..4 {
        if !matches!(t, 0x8100 | 0x88a8 | 0x9100) {
            break;
        }
        at += 4;
        t = be16(data, at).ok_or(LinkSkip::Truncated)?;
    }
    let mut payload = data.get(at + 2..).ok_or(LinkSkip::Truncated)?;
    let ip = if t == 0x8864 {
        // PPPoE session: 6-byte PPPoE header, then the PPP protocol (0x0021 IPv4, 0x0057 IPv6).
        // PPP protocol-field compression sends odd one-byte protocols (0x21 = IPv4).
        let first = *payload.get(6).ok_or(LinkSkip::Truncated)?;
        let (ppp, skip) = if first & 1 == 1 {
            (u16::from(first), 7)
        } else {
            (be16(payload, 6).ok_or(LinkSkip::Truncated)?, 8)
        };
        payload = payload.get(skip..).ok_or(LinkSkip::Truncated)?;
        match ppp {
            0x0021 => IpVersion::V4,
            0x0057 => IpVersion::V6,
            _ => return Err(LinkSkip::NotIp),
        }
    } else {
        by_ethertype(t).ok_or(LinkSkip::NotIp)?
    };
    Ok(Frame {
        src_mac: Some(src_mac),
        dst_mac: Some(dst_mac),
        ip,
        payload,
    })
}

/// The vendor prefix (`b4:1e:52`) of a universally administered unicast MAC; `None` for a
/// locally administered or group address, which names no vendor.
pub fn oui(mac: [u8; 6]) -> Option<String> {
    (mac[0] & 0x03 == 0).then(|| format!("{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2]))
}

/// A MAC address as text (`00:11:22:aa:bb:cc` or with `-`).
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = text.trim().split([':', '-']);
    for b in &mut out {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethernet_with_vlan_tags() {
        let mut f = vec![
            1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0x81, 0x00, 0, 5, 0x81, 0x00, 0, 6, 0x86, 0xdd,
        ];
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        let fr = decode(1, &f).unwrap();
        assert_eq!(fr.ip, IpVersion::V6);
        assert_eq!(fr.src_mac, Some([2; 6]));
        assert_eq!(fr.payload, &[0x60, 0, 0, 0]);
        assert_eq!(decode(1, &f[..10]), Err(LinkSkip::Truncated));
        let arp = [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x06, 0, 1];
        assert_eq!(decode(1, &arp), Err(LinkSkip::NotIp));
    }

    #[test]
    fn other_link_types() {
        assert_eq!(decode(0, &[2, 0, 0, 0, 0x45]).unwrap().ip, IpVersion::V4);
        assert_eq!(decode(0, &[0, 0, 0, 30, 0x60]).unwrap().ip, IpVersion::V6);
        assert_eq!(decode(101, &[0x45, 0]).unwrap().payload, &[0x45, 0]);
        let mut sll = vec![0, 0, 0, 1, 0, 6, 9, 9, 9, 9, 9, 9, 0, 0, 0x08, 0x00];
        sll.push(0x45);
        let f = decode(113, &sll).unwrap();
        assert_eq!((f.ip, f.src_mac), (IpVersion::V4, Some([9; 6])));
        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 7, 7, 7, 7, 7, 7, 0, 0,
        ];
        sll2.push(0x45);
        assert_eq!(decode(276, &sll2).unwrap().src_mac, Some([7; 6]));
        assert_eq!(
            decode(104, &[0x0f, 0, 0x08, 0x00, 0x45]).unwrap().ip,
            IpVersion::V4
        );
        assert_eq!(decode(147, &[0]), Err(LinkSkip::UnsupportedLinktype(147)));
        assert_eq!(decode(113, &[0; 3]), Err(LinkSkip::Truncated));
    }
}
