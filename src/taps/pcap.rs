//! pcap and pcapng capture files, read as a stream with one reused buffer (no allocation per
//! packet). Every length read from the file is bounded before it is used: a record claiming a
//! 4 GB packet is an error naming the file and offset, not an allocation.

use std::fs::File;
use std::io::{BufReader, ErrorKind, Read};
use std::path::Path;

/// Largest packet accepted (well above any real snaplen of Ethernet captures).
pub const MAX_PACKET: usize = 256 * 1024;
/// Largest pcapng non-packet block read (options, name resolution, statistics...).
const MAX_BLOCK: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: not a pcap or pcapng file")]
    NotACapture { file: String },
    #[error("{file}: truncated {what} at byte {offset}")]
    Truncated {
        file: String,
        what: &'static str,
        offset: u64,
    },
    #[error("{file}: {what} at byte {offset}")]
    Invalid {
        file: String,
        what: String,
        offset: u64,
    },
}

/// One captured packet, borrowed from the reader's buffer until the next call.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Seconds since the Unix epoch.
    pub ts: f64,
    pub linktype: u32,
    pub data: &'a [u8],
}

#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: u32,
    /// Timestamp units per second.
    units: f64,
}

enum Format {
    Pcap {
        le: bool,
        nanos: bool,
        linktype: u32,
    },
    Pcapng {
        le: bool,
        ifaces: Vec<Iface>,
    },
}

/// Recognise a capture by its first bytes.
pub fn is_capture(head: &[u8]) -> bool {
    matches!(
        head.get(..4),
        Some([0xd4, 0xc3, 0xb2, 0xa1])
            | Some([0xa1, 0xb2, 0xc3, 0xd4])
            | Some([0x4d, 0x3c, 0xb2, 0xa1])
            | Some([0xa1, 0xb2, 0x3c, 0x4d])
            | Some([0x0a, 0x0d, 0x0d, 0x0a])
    )
}

pub struct PcapReader {
    r: Box<dyn Read + Send>,
    name: String,
    format: Format,
    buf: Vec<u8>,
    pos: u64,
    packets: u64,
    done: bool,
}

fn u16_of(b: &[u8], le: bool) -> u16 {
    let a = [b[0], b[1]];
    if le {
        u16::from_le_bytes(a)
    } else {
        u16::from_be_bytes(a)
    }
}

fn u32_of(b: &[u8], le: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if le {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    }
}

impl PcapReader {
    pub fn open(path: &Path) -> Result<PcapReader, PcapError> {
        let name = path.display().to_string();
        let f = File::open(path).map_err(|source| PcapError::Io {
            file: name.clone(),
            source,
        })?;
        PcapReader::from_reader(Box::new(BufReader::with_capacity(1 << 20, f)), &name)
    }

    pub fn from_reader(r: Box<dyn Read + Send>, name: &str) -> Result<PcapReader, PcapError> {
        let mut reader = PcapReader {
            r,
            name: name.to_string(),
            format: Format::Pcap {
                le: true,
                nanos: false,
                linktype: 1,
            },
            buf: Vec::with_capacity(65_536),
            pos: 0,
            packets: 0,
            done: false,
        };
        let mut magic = [0u8; 4];
        match reader.read_exact_or_eof(&mut magic, "file header")? {
            true => {}
            false => return Err(PcapError::NotACapture { file: reader.name }),
        }
        match magic {
            [0x0a, 0x0d, 0x0d, 0x0a] => {
                reader.format = Format::Pcapng {
                    le: true,
                    ifaces: Vec::new(),
                };
                reader.read_shb_after_type()?;
            }
            _ => {
                let (le, nanos) = match magic {
                    [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
                    [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
                    [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
                    [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
                    _ => return Err(PcapError::NotACapture { file: reader.name }),
                };
                let mut rest = [0u8; 20];
                if !reader.read_exact_or_eof(&mut rest, "file header")? {
                    return Err(reader.truncated("file header"));
                }
                // FCS bits live in the top of the link-type field; the link type is the low 16.
                let linktype = u32_of(&rest[16..20], le) & 0xffff;
                reader.format = Format::Pcap {
                    le,
                    nanos,
                    linktype,
                };
            }
        }
        Ok(reader)
    }

    pub fn is_pcapng(&self) -> bool {
        matches!(self.format, Format::Pcapng { .. })
    }

    /// True after a fatal error: the rest of the file cannot be framed.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Packets returned so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    fn truncated(&self, what: &'static str) -> PcapError {
        PcapError::Truncated {
            file: self.name.clone(),
            what,
            offset: self.pos,
        }
    }

    fn invalid(&self, what: String) -> PcapError {
        PcapError::Invalid {
            file: self.name.clone(),
            what,
            offset: self.pos,
        }
    }

    /// Fill `out` completely. Ok(false) on a clean EOF before the first byte; a partial read is
    /// a truncation error.
    fn read_exact_or_eof(&mut self, out: &mut [u8], what: &'static str) -> Result<bool, PcapError> {
        let mut got = 0;
        while got < out.len() {
            match self.r.read(&mut out[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(PcapError::Io {
                        file: self.name.clone(),
                        source,
                    })
                }
            }
        }
        self.pos += got as u64;
        if got == out.len() {
            Ok(true)
        } else if got == 0 {
            Ok(false)
        } else {
            Err(self.truncated(what))
        }
    }

    /// Read `len` bytes into the reused buffer.
    fn read_into_buf(&mut self, len: usize, what: &'static str) -> Result<(), PcapError> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.resize(len, 0);
        let r = self.read_exact_or_eof(&mut buf, what);
        self.buf = buf;
        match r {
            Ok(true) => Ok(()),
            Ok(false) if len == 0 => Ok(()),
            Ok(false) => Err(self.truncated(what)),
            Err(e) => Err(e),
        }
    }

    /// Section header block, its type already read.
    fn read_shb_after_type(&mut self) -> Result<(), PcapError> {
        let mut hdr = [0u8; 8];
        if !self.read_exact_or_eof(&mut hdr, "section header")? {
            return Err(self.truncated("section header"));
        }
        let le = match hdr[4..8] {
            [0x4d, 0x3c, 0x2b, 0x1a] => true,
            [0x1a, 0x2b, 0x3c, 0x4d] => false,
            _ => return Err(self.invalid("bad pcapng byte-order magic".into())),
        };
        let total = u32_of(&hdr[0..4], le) as usize;
        if !(28..=MAX_BLOCK).contains(&total) || total % 4 != 0 {
            return Err(self.invalid(format!("bad section header length {total}")));
        }
        self.read_into_buf(total - 12, "section header")?;
        self.format = Format::Pcapng {
            le,
            ifaces: Vec::new(),
        };
        Ok(())
    }

    /// The next packet; `None` at the end of the file.
    pub fn next_packet(&mut self) -> Option<Result<Packet<'_>, PcapError>> {
        if self.done {
            return None;
        }
        let r = match self.format {
            Format::Pcap {
                le,
                nanos,
                linktype,
            } => self.next_pcap(le, nanos, linktype),
            Format::Pcapng { .. } => self.next_pcapng(),
        };
        match r {
            Ok(Some((ts, linktype))) => {
                self.packets += 1;
                Some(Ok(Packet {
                    ts,
                    linktype,
                    data: &self.buf,
                }))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    fn next_pcap(
        &mut self,
        le: bool,
        nanos: bool,
        linktype: u32,
    ) -> Result<Option<(f64, u32)>, PcapError> {
        let mut h = [0u8; 16];
        if !self.read_exact_or_eof(&mut h, "packet header")? {
            return Ok(None);
        }
        let secs = u32_of(&h[0..4], le) as f64;
        let frac = u32_of(&h[4..8], le) as f64;
        let caplen = u32_of(&h[8..12], le) as usize;
        if caplen > MAX_PACKET {
            return Err(self.invalid(format!("packet length {caplen} exceeds {MAX_PACKET} bytes")));
        }
        self.read_into_buf(caplen, "packet")?;
        let ts = secs + frac / if nanos { 1e9 } else { 1e6 };
        Ok(Some((ts, linktype)))
    }

    fn next_pcapng(&mut self) -> Result<Option<(f64, u32)>, PcapError> {
        loop {
            let le = match &self.format {
                Format::Pcapng { le, .. } => *le,
                Format::Pcap { .. } => return Ok(None),
            };
            let mut h = [0u8; 8];
            if !self.read_exact_or_eof(&mut h, "block header")? {
                return Ok(None);
            }
            if h[0..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
                // A new section: its byte order may differ; interfaces reset.
                let mut rest = [0u8; 4];
                rest.copy_from_slice(&h[4..8]);
                let mut bom = [0u8; 4];
                if !self.read_exact_or_eof(&mut bom, "section header")? {
                    return Err(self.truncated("section header"));
                }
                let le = match bom {
                    [0x4d, 0x3c, 0x2b, 0x1a] => true,
                    [0x1a, 0x2b, 0x3c, 0x4d] => false,
                    _ => return Err(self.invalid("bad pcapng byte-order magic".into())),
                };
                let total = u32_of(&rest, le) as usize;
                if !(28..=MAX_BLOCK).contains(&total) || total % 4 != 0 {
                    return Err(self.invalid(format!("bad section header length {total}")));
                }
                self.read_into_buf(total - 12, "section header")?;
                self.format = Format::Pcapng {
                    le,
                    ifaces: Vec::new(),
                };
                continue;
            }
            let btype = u32_of(&h[0..4], le);
            let total = u32_of(&h[4..8], le) as usize;
            let limit = if matches!(btype, 2 | 3 | 6) {
                MAX_PACKET + 64
            } else {
                MAX_BLOCK
            };
            if total < 12 || total % 4 != 0 || total > limit {
                return Err(self.invalid(format!("bad block length {total} (type {btype})")));
            }
            self.read_into_buf(total - 8, "block")?;
            let body_len = total - 12;
            match btype {
                1 => {
                    // Interface description: link type, and if_tsresol among the options.
                    let b = &self.buf[..body_len];
                    if b.len() < 8 {
                        return Err(self.invalid("short interface block".into()));
                    }
                    let linktype = u32::from(u16_of(&b[0..2], le));
                    let mut units = 1e6;
                    let mut o = 8;
                    while o + 4 <= b.len() {
                        let code = u16_of(&b[o..o + 2], le);
                        let len = u16_of(&b[o + 2..o + 4], le) as usize;
                        let v = o + 4;
                        if code == 0 || v + len > b.len() {
                            break;
                        }
                        if code == 9 && len >= 1 {
                            let r = b[v];
                            let exp = i32::from(r & 0x7f).min(18);
                            units = if r & 0x80 == 0 {
                                10f64.powi(exp)
                            } else {
                                2f64.powi(exp)
                            };
                        }
                        o = v + len.div_ceil(4) * 4;
                    }
                    if let Format::Pcapng { ifaces, .. } = &mut self.format {
                        if ifaces.len() < 1024 {
                            ifaces.push(Iface { linktype, units });
                        }
                    }
                }
                6 | 2 => {
                    // Enhanced (6) and obsolete (2) packet blocks.
                    let b = &self.buf[..body_len];
                    if b.len() < 20 {
                        return Err(self.invalid("short packet block".into()));
                    }
                    let iface = if btype == 6 {
                        u32_of(&b[0..4], le) as usize
                    } else {
                        usize::from(u16_of(&b[0..2], le))
                    };
                    let hi = u64::from(u32_of(&b[4..8], le));
                    let lo = u64::from(u32_of(&b[8..12], le));
                    let caplen = u32_of(&b[12..16], le) as usize;
                    if caplen > b.len() - 20 {
                        return Err(
                            self.invalid(format!("packet length {caplen} exceeds its block"))
                        );
                    }
                    let Some(ifc) = self.iface(iface) else {
                        return Err(self.invalid(format!("packet on undeclared interface {iface}")));
                    };
                    let ts = ((hi << 32) | lo) as f64 / ifc.units;
                    self.buf.copy_within(20..20 + caplen, 0);
                    self.buf.truncate(caplen);
                    return Ok(Some((ts, ifc.linktype)));
                }
                3 => {
                    // Simple packet block: interface 0, no timestamp.
                    let b = &self.buf[..body_len];
                    if b.len() < 4 {
                        return Err(self.invalid("short simple packet block".into()));
                    }
                    let orig = u32_of(&b[0..4], le) as usize;
                    let caplen = orig.min(b.len() - 4);
                    let Some(ifc) = self.iface(0) else {
                        return Err(self.invalid("packet on undeclared interface 0".into()));
                    };
                    self.buf.copy_within(4..4 + caplen, 0);
                    self.buf.truncate(caplen);
                    return Ok(Some((0.0, ifc.linktype)));
                }
                _ => continue,
            }
        }
    }

    fn iface(&self, i: usize) -> Option<Iface> {
        match &self.format {
            Format::Pcapng { ifaces, .. } => ifaces.get(i).copied(),
            Format::Pcap { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Packets = Vec<(f64, u32, Vec<u8>)>;

    fn read_all(bytes: Vec<u8>) -> (Packets, Option<String>) {
        let mut r = match PcapReader::from_reader(Box::new(std::io::Cursor::new(bytes)), "t") {
            Ok(r) => r,
            Err(e) => return (vec![], Some(e.to_string())),
        };
        let mut out = vec![];
        let mut err = None;
        while let Some(p) = r.next_packet() {
            match p {
                Ok(p) => out.push((p.ts, p.linktype, p.data.to_vec())),
                Err(e) => err = Some(e.to_string()),
            }
        }
        (out, err)
    }

    fn classic(le: bool, nanos: bool) -> Vec<u8> {
        let w = |v: u32| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut b = w(magic).to_vec();
        b.extend_from_slice(&[0, 2, 0, 4]);
        if le {
            b[4..8].copy_from_slice(&[2, 0, 4, 0]);
        }
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&w(65535));
        b.extend_from_slice(&w(1));
        for i in 0..3u32 {
            b.extend_from_slice(&w(100 + i));
            b.extend_from_slice(&w(500));
            b.extend_from_slice(&w(3));
            b.extend_from_slice(&w(3));
            b.extend_from_slice(&[i as u8; 3]);
        }
        b
    }

    #[test]
    fn classic_both_endians_and_resolutions() {
        for (le, nanos) in [(true, false), (false, false), (true, true), (false, true)] {
            let (pk, err) = read_all(classic(le, nanos));
            assert!(err.is_none(), "{err:?}");
            assert_eq!(pk.len(), 3);
            assert_eq!(pk[1].2, vec![1, 1, 1]);
            let want = 101.0 + if nanos { 500e-9 } else { 500e-6 };
            assert!((pk[1].0 - want).abs() < 1e-9, "{}", pk[1].0);
        }
    }

    #[test]
    fn truncation_and_absurd_lengths_are_errors_not_allocations() {
        let mut b = classic(true, false);
        b.truncate(b.len() - 2);
        let (pk, err) = read_all(b);
        assert_eq!(pk.len(), 2);
        assert!(err.unwrap().contains("truncated packet"));
        let mut b = classic(true, false);
        b[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        let (pk, err) = read_all(b);
        assert!(pk.is_empty());
        assert!(err.unwrap().contains("exceeds"));
        let (_, err) = read_all(b"hello world, not a capture".to_vec());
        assert!(err.unwrap().contains("not a pcap"));
        let (_, err) = read_all(vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0]);
        assert!(err.unwrap().contains("truncated file header"));
    }

    fn block(t: u32, body: &[u8]) -> Vec<u8> {
        let pad = (4 - body.len() % 4) % 4;
        let total = (12 + body.len() + pad) as u32;
        let mut b = t.to_le_bytes().to_vec();
        b.extend_from_slice(&total.to_le_bytes());
        b.extend_from_slice(body);
        b.extend(std::iter::repeat_n(0, pad));
        b.extend_from_slice(&total.to_le_bytes());
        b
    }

    #[test]
    fn pcapng_with_tsresol_and_unknown_blocks() {
        let mut f = block(
            0x0a0d_0d0a,
            &[
                0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        );
        // IDB: linktype 113, snaplen, option if_tsresol = 9 (nanoseconds).
        let mut idb = vec![113, 0, 0, 0, 0xff, 0xff, 0, 0];
        idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
        f.extend(block(1, &idb));
        f.extend(block(0x0bad, &[1, 2, 3, 4]));
        let ts: u64 = 1_700_000_000_123_456_789;
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&5u32.to_le_bytes());
        epb.extend_from_slice(&5u32.to_le_bytes());
        epb.extend_from_slice(b"hello");
        f.extend(block(6, &epb));
        let (pk, err) = read_all(f);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(pk.len(), 1);
        assert_eq!(pk[0].1, 113);
        assert_eq!(pk[0].2, b"hello");
        assert!((pk[0].0 - 1_700_000_000.123_456).abs() < 1e-5);
    }

    #[test]
    fn is_capture_knows_all_magics() {
        assert!(is_capture(&[0xd4, 0xc3, 0xb2, 0xa1]));
        assert!(is_capture(&[0x0a, 0x0d, 0x0d, 0x0a]));
        assert!(!is_capture(b"PK\x03\x04"));
        assert!(!is_capture(&[0xd4]));
    }
}
