//! pcap and pcapng capture files, read in place from a byte slice (a memory-mapped file, or an
//! archive member): packets are borrowed from the input, never copied.
//!
//! Formats: classic pcap in both byte orders with micro- or nanosecond timestamps
//! (<https://www.tcpdump.org/manpages/pcap-savefile.5.html>); pcapng sections, interface
//! description, enhanced, simple and obsolete packet blocks, `if_tsresol`
//! (draft-ietf-opsawg-pcapng). Every length read from the file is checked against the data
//! before it is used.
//!
//! **A bad record does not end the capture.** A classic record whose lengths are absurd is
//! skipped by looking ahead for the next pair of plausible records; a pcapng block with a bad
//! length is skipped to the next block whose leading and trailing lengths agree; a packet on an
//! undeclared interface is skipped by its block length. Every skip is an error that names the
//! offset, and the bytes skipped are counted ([`PcapReader::skipped_bytes`]) so that a report can
//! say the capture was read only in part.

/// Largest packet accepted (well above any real snaplen of Ethernet captures).
pub const MAX_PACKET: usize = 256 * 1024;
/// Largest pcapng block accepted.
const MAX_BLOCK: usize = 16 * 1024 * 1024;
/// Timestamps of neighbouring records in a resynchronised classic capture stay this close (s).
const RESYNC_WINDOW: f64 = 7.0 * 86_400.0;

/// A problem in a capture, with where it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PcapError {
    /// The magic number is not one of pcap or pcapng.
    #[error("{file}: not a pcap or pcapng file")]
    NotACapture {
        /// The input's name.
        file: String,
    },
    /// The input ends inside a header or record.
    #[error("{file}: truncated {what} at byte {offset}")]
    Truncated {
        /// The input's name.
        file: String,
        /// What was being read.
        what: &'static str,
        /// Byte offset of its start.
        offset: u64,
    },
    /// A header or record is malformed.
    #[error("{file}: {what} at byte {offset}")]
    Invalid {
        /// The input's name.
        file: String,
        /// What is wrong, and how reading went on.
        what: String,
        /// Byte offset of the record.
        offset: u64,
    },
}

/// One captured packet, borrowed from the input.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Seconds since the Unix epoch.
    pub ts: f64,
    /// LINKTYPE_ value (<https://www.tcpdump.org/linktypes.html>).
    pub linktype: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: u32,
    /// Timestamp units per second.
    units: f64,
}

#[derive(Debug)]
enum Format {
    Pcap {
        le: bool,
        nanos: bool,
        linktype: u32,
        snaplen: usize,
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

/// Reads packets out of a capture held in memory.
#[derive(Debug)]
pub struct PcapReader<'a> {
    data: &'a [u8],
    name: String,
    format: Format,
    pos: usize,
    packets: u64,
    skipped: u64,
    last_ts: Option<f64>,
    done: bool,
}

fn u16_at(b: &[u8], at: usize, le: bool) -> Option<u16> {
    let a: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
    Some(if le {
        u16::from_le_bytes(a)
    } else {
        u16::from_be_bytes(a)
    })
}

fn u32_at(b: &[u8], at: usize, le: bool) -> Option<u32> {
    let a: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    })
}

impl<'a> PcapReader<'a> {
    /// Start reading `data`; `name` names the input in errors.
    pub fn new(data: &'a [u8], name: &str) -> Result<PcapReader<'a>, PcapError> {
        let mut r = PcapReader {
            data,
            name: name.to_string(),
            format: Format::Pcapng {
                le: true,
                ifaces: Vec::new(),
            },
            pos: 0,
            packets: 0,
            skipped: 0,
            last_ts: None,
            done: false,
        };
        let magic: [u8; 4] = match data.get(..4) {
            Some(m) => [m[0], m[1], m[2], m[3]],
            None => return Err(PcapError::NotACapture { file: r.name }),
        };
        if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
            r.section_header()?;
            return Ok(r);
        }
        let (le, nanos) = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
            [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
            [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
            [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
            _ => return Err(PcapError::NotACapture { file: r.name }),
        };
        if data.len() < 24 {
            return Err(r.truncated("file header", 0));
        }
        let snaplen = u32_at(data, 16, le).unwrap_or(0) as usize;
        // FCS bits live in the top of the link-type field; the link type is the low 16.
        let linktype = u32_at(data, 20, le).unwrap_or(1) & 0xffff;
        r.format = Format::Pcap {
            le,
            nanos,
            linktype,
            // A header snaplen of 0 or beyond the bound means "no promise".
            snaplen: if snaplen == 0 || snaplen > MAX_PACKET {
                MAX_PACKET
            } else {
                snaplen.clamp(65_535, MAX_PACKET)
            },
        };
        r.pos = 24;
        Ok(r)
    }

    /// Whether the input is pcapng (else classic pcap).
    pub fn is_pcapng(&self) -> bool {
        matches!(self.format, Format::Pcapng { .. })
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.pos as u64
    }

    /// Total size of the input.
    pub fn len(&self) -> u64 {
        self.data.len() as u64
    }

    /// Whether the input is empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Packets returned so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Bytes passed over without being read as packets: skipped records, unreadable blocks,
    /// and whatever followed an error reading could not recover from.
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped
    }

    fn truncated(&self, what: &'static str, at: usize) -> PcapError {
        PcapError::Truncated {
            file: self.name.clone(),
            what,
            offset: at as u64,
        }
    }

    fn invalid(&self, what: String, at: usize) -> PcapError {
        PcapError::Invalid {
            file: self.name.clone(),
            what,
            offset: at as u64,
        }
    }

    /// Skip from the current position to `to`, counting the bytes.
    fn skip_to(&mut self, to: usize) {
        self.skipped += to.saturating_sub(self.pos) as u64;
        self.pos = to;
    }

    /// Give up on the rest of the input, counting it as skipped.
    fn stop(&mut self) {
        self.skip_to(self.data.len());
        self.done = true;
    }

    /// The input ends inside a record (a capture cut short, e.g. by a killed writer): an error,
    /// but nothing readable was passed over.
    fn end(&mut self) {
        self.pos = self.data.len();
        self.done = true;
    }

    /// The next packet; `None` at the end of the input. An `Err` describes a skipped part;
    /// reading goes on after it.
    pub fn next_packet(&mut self) -> Option<Result<Packet<'a>, PcapError>> {
        if self.done || self.pos >= self.data.len() {
            self.done = true;
            return None;
        }
        let r = match self.format {
            Format::Pcap {
                le,
                nanos,
                linktype,
                snaplen,
            } => self.next_pcap(le, nanos, linktype, snaplen),
            Format::Pcapng { .. } => self.next_pcapng(),
        };
        match r {
            Ok(Some(p)) => {
                self.packets += 1;
                if p.ts > 0.0 {
                    self.last_ts = Some(p.ts);
                }
                Some(Ok(p))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => Some(Err(e)),
        }
    }

    /// A classic record header at `at` that could be real: lengths within bounds and inside
    /// the input, a fractional part below one second, and (once a packet has been read) a time
    /// near the last one.
    fn plausible_record(&self, at: usize, le: bool, nanos: bool, snaplen: usize) -> Option<usize> {
        let d = self.data;
        let secs = u32_at(d, at, le)?;
        let frac = u32_at(d, at + 4, le)?;
        let caplen = u32_at(d, at + 8, le)? as usize;
        let origlen = u32_at(d, at + 12, le)? as usize;
        let end = at.checked_add(16)?.checked_add(caplen)?;
        let frac_ok = frac < if nanos { 1_000_000_000 } else { 1_000_000 };
        let time_ok = self
            .last_ts
            .is_none_or(|t| (f64::from(secs) - t).abs() <= RESYNC_WINDOW);
        (caplen <= snaplen
            && caplen <= origlen
            && origlen <= MAX_PACKET * 4
            && frac_ok
            && time_ok
            && end <= d.len())
        .then_some(end)
    }

    /// Find the next offset after `from` where two plausible records follow each other (or one
    /// ends exactly at the end of the input).
    fn resync_pcap(&self, from: usize, le: bool, nanos: bool, snaplen: usize) -> Option<usize> {
        (from..self.data.len().saturating_sub(15)).find(|&at| {
            self.plausible_record(at, le, nanos, snaplen)
                .is_some_and(|next| {
                    next == self.data.len()
                        || self.plausible_record(next, le, nanos, snaplen).is_some()
                })
        })
    }

    fn next_pcap(
        &mut self,
        le: bool,
        nanos: bool,
        linktype: u32,
        snaplen: usize,
    ) -> Result<Option<Packet<'a>>, PcapError> {
        let at = self.pos;
        let d = self.data;
        if d.len() - at < 16 {
            self.end();
            return Err(self.truncated("packet header", at));
        }
        let caplen = u32_at(d, at + 8, le).unwrap_or(u32::MAX) as usize;
        let origlen = u32_at(d, at + 12, le).unwrap_or(0) as usize;
        let bad = if caplen > snaplen {
            Some(format!("packet length {caplen} exceeds {snaplen} bytes"))
        } else if caplen > origlen {
            Some(format!(
                "packet length {caplen} exceeds its original length {origlen}"
            ))
        } else {
            None
        };
        if let Some(why) = bad {
            return Err(match self.resync_pcap(at + 1, le, nanos, snaplen) {
                Some(next) => {
                    self.skip_to(next);
                    self.invalid(
                        format!("{why}; skipped {} bytes to the next record", next - at),
                        at,
                    )
                }
                None => {
                    self.stop();
                    self.invalid(format!("{why}; no later record found"), at)
                }
            });
        }
        let start = at + 16;
        let Some(data) = d.get(start..start + caplen) else {
            self.end();
            return Err(self.truncated("packet", at));
        };
        let secs = f64::from(u32_at(d, at, le).unwrap_or(0));
        let frac = f64::from(u32_at(d, at + 4, le).unwrap_or(0));
        self.pos = start + caplen;
        Ok(Some(Packet {
            ts: secs + frac / if nanos { 1e9 } else { 1e6 },
            linktype,
            data,
        }))
    }

    /// The section header block at `self.pos`: byte order, and a fresh interface list.
    fn section_header(&mut self) -> Result<(), PcapError> {
        let at = self.pos;
        let d = self.data;
        let le = match d.get(at + 8..at + 12) {
            Some([0x4d, 0x3c, 0x2b, 0x1a]) => true,
            Some([0x1a, 0x2b, 0x3c, 0x4d]) => false,
            Some(_) => return Err(self.invalid("bad pcapng byte-order magic".into(), at)),
            None => return Err(self.truncated("section header", at)),
        };
        let total = u32_at(d, at + 4, le).unwrap_or(0) as usize;
        if !(28..=MAX_BLOCK).contains(&total) || total % 4 != 0 {
            return Err(self.invalid(format!("bad section header length {total}"), at));
        }
        if at + total > d.len() {
            return Err(self.truncated("section header", at));
        }
        self.format = Format::Pcapng {
            le,
            ifaces: Vec::new(),
        };
        self.pos = at + total;
        Ok(())
    }

    /// A pcapng block at `at` whose lengths agree, with its type and length.
    fn block_at(&self, at: usize, le: bool) -> Option<(u32, usize)> {
        let d = self.data;
        let btype = u32_at(d, at, le)?;
        if btype == 0x0a0d_0d0a {
            // Byte order may change with the section: trust its own magic.
            let sle = match d.get(at + 8..at + 12)? {
                [0x4d, 0x3c, 0x2b, 0x1a] => true,
                [0x1a, 0x2b, 0x3c, 0x4d] => false,
                _ => return None,
            };
            let total = u32_at(d, at + 4, sle)? as usize;
            return ((28..=MAX_BLOCK).contains(&total)
                && total % 4 == 0
                && u32_at(d, at + total - 4, sle)? as usize == total)
                .then_some((btype, total));
        }
        let total = u32_at(d, at + 4, le)? as usize;
        let ok = (12..=MAX_BLOCK).contains(&total)
            && total % 4 == 0
            && u32_at(d, at.checked_add(total)? - 4, le)? as usize == total;
        ok.then_some((btype, total))
    }

    fn resync_pcapng(&self, from: usize, le: bool) -> Option<usize> {
        let known = |t: u32| matches!(t, 1..=6 | 0x0a0d_0d0a | 0x0bad | 0x4000_0bad);
        (from..self.data.len().saturating_sub(11))
            .step_by(4)
            .find(|&at| self.block_at(at, le).is_some_and(|(t, _)| known(t)))
    }

    fn next_pcapng(&mut self) -> Result<Option<Packet<'a>>, PcapError> {
        loop {
            let at = self.pos;
            let d = self.data;
            if at >= d.len() {
                return Ok(None);
            }
            let le = match &self.format {
                Format::Pcapng { le, .. } => *le,
                Format::Pcap { .. } => return Ok(None),
            };
            if d.len() - at < 12 {
                self.end();
                return Err(self.truncated("block header", at));
            }
            let Some((btype, total)) = self.block_at(at, le) else {
                let declared = u32_at(d, at + 4, le).unwrap_or(0);
                return Err(match self.resync_pcapng(at + 4, le) {
                    Some(next) => {
                        self.skip_to(next);
                        self.invalid(
                            format!(
                                "bad block length {declared}; skipped {} bytes to the next block",
                                next - at
                            ),
                            at,
                        )
                    }
                    None if at + declared as usize > d.len() && declared as usize <= MAX_BLOCK => {
                        self.end();
                        self.truncated("block", at)
                    }
                    None => {
                        self.stop();
                        self.invalid(
                            format!("bad block length {declared}; no later block found"),
                            at,
                        )
                    }
                });
            };
            if btype == 0x0a0d_0d0a {
                self.section_header()?;
                continue;
            }
            self.pos = at + total;
            let body = d.get(at + 8..at + total - 4).unwrap_or(&[]);
            match btype {
                1 => self.interface(body, le),
                6 | 2 | 3 => match self.packet_block(btype, body, le) {
                    Ok(p) => return Ok(Some(p)),
                    Err(why) => {
                        self.skipped += total as u64;
                        return Err(self.invalid(format!("{why}; block skipped"), at));
                    }
                },
                _ => {}
            }
        }
    }

    /// Interface description block: link type, and `if_tsresol` among the options.
    fn interface(&mut self, b: &[u8], le: bool) {
        let linktype = u32::from(u16_at(b, 0, le).unwrap_or(1));
        let mut units = 1e6;
        let mut o = 8;
        while let (Some(code), Some(len)) = (u16_at(b, o, le), u16_at(b, o + 2, le)) {
            let (v, len) = (o + 4, usize::from(len));
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

    /// Enhanced (6), obsolete (2) and simple (3) packet blocks.
    fn packet_block(&self, btype: u32, b: &'a [u8], le: bool) -> Result<Packet<'a>, String> {
        let ifaces = match &self.format {
            Format::Pcapng { ifaces, .. } => ifaces,
            Format::Pcap { .. } => return Err("not pcapng".into()),
        };
        if btype == 3 {
            let orig = u32_at(b, 0, le).ok_or("short simple packet block")? as usize;
            let ifc = ifaces.first().ok_or("packet on undeclared interface 0")?;
            let data = b.get(4..).unwrap_or(&[]);
            return Ok(Packet {
                ts: 0.0,
                linktype: ifc.linktype,
                data: &data[..orig.min(data.len())],
            });
        }
        if b.len() < 20 {
            return Err("short packet block".into());
        }
        let iface = if btype == 6 {
            u32_at(b, 0, le).unwrap_or(u32::MAX) as usize
        } else {
            usize::from(u16_at(b, 0, le).unwrap_or(u16::MAX))
        };
        let hi = u64::from(u32_at(b, 4, le).unwrap_or(0));
        let lo = u64::from(u32_at(b, 8, le).unwrap_or(0));
        let caplen = u32_at(b, 12, le).unwrap_or(u32::MAX) as usize;
        let data = b
            .get(20..20usize.saturating_add(caplen))
            .ok_or_else(|| format!("packet length {caplen} exceeds its block"))?;
        let ifc = ifaces
            .get(iface)
            .ok_or_else(|| format!("packet on undeclared interface {iface}"))?;
        Ok(Packet {
            ts: ((hi << 32) | lo) as f64 / ifc.units,
            linktype: ifc.linktype,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Packets = Vec<(f64, u32, Vec<u8>)>;

    fn read_all(bytes: &[u8]) -> (Packets, Vec<String>, u64) {
        let mut r = match PcapReader::new(bytes, "t") {
            Ok(r) => r,
            Err(e) => return (vec![], vec![e.to_string()], 0),
        };
        let mut out = vec![];
        let mut errs = vec![];
        while let Some(p) = r.next_packet() {
            match p {
                Ok(p) => out.push((p.ts, p.linktype, p.data.to_vec())),
                Err(e) => errs.push(e.to_string()),
            }
        }
        (out, errs, r.skipped_bytes())
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
            let (pk, errs, skipped) = read_all(&classic(le, nanos));
            assert!(errs.is_empty(), "{errs:?}");
            assert_eq!((pk.len(), skipped), (3, 0));
            assert_eq!(pk[1].2, vec![1, 1, 1]);
            let want = 101.0 + if nanos { 500e-9 } else { 500e-6 };
            assert!((pk[1].0 - want).abs() < 1e-9, "{}", pk[1].0);
        }
    }

    #[test]
    fn a_truncated_tail_is_an_error_and_headers_are_checked() {
        let mut b = classic(true, false);
        b.truncate(b.len() - 2);
        let (pk, errs, _) = read_all(&b);
        assert_eq!(pk.len(), 2);
        assert!(errs[0].contains("truncated packet"), "{errs:?}");
        let (_, errs, _) = read_all(b"hello world, not a capture");
        assert!(errs[0].contains("not a pcap"));
        let (_, errs, _) = read_all(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]);
        assert!(errs[0].contains("truncated file header"));
    }

    #[test]
    fn an_absurd_record_is_skipped_and_reading_goes_on() {
        // The second record claims 300,000 bytes: skipped, the third is read.
        let mut b = classic(true, false);
        let second = 24 + 19;
        b[second + 8..second + 12].copy_from_slice(&300_000u32.to_le_bytes());
        let (pk, errs, skipped) = read_all(&b);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("300000") && errs[0].contains("skipped"),
            "{errs:?}"
        );
        assert_eq!(pk.len(), 2);
        assert_eq!(pk[1].2, vec![2, 2, 2]);
        assert_eq!(skipped, 19);
        // The first record absurd: the rest is still found.
        let mut b = classic(true, false);
        b[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        let (pk, errs, skipped) = read_all(&b);
        assert_eq!((pk.len(), errs.len(), skipped), (2, 1, 19));
        // Nothing plausible after the bad record: stop, with everything after it skipped.
        let mut b = classic(true, false);
        b[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        b.truncate(24 + 19 + 5);
        let (pk, errs, skipped) = read_all(&b);
        assert_eq!((pk.len(), errs.len(), skipped), (0, 1, 24));
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

    fn epb(iface: u32, ts: u64, data: &[u8]) -> Vec<u8> {
        let mut epb = iface.to_le_bytes().to_vec();
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(data);
        block(6, &epb)
    }

    fn pcapng_head() -> Vec<u8> {
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
        f
    }

    #[test]
    fn pcapng_with_tsresol_and_unknown_blocks() {
        let mut f = pcapng_head();
        f.extend(block(0x0bad, &[1, 2, 3, 4]));
        let ts: u64 = 1_700_000_000_123_456_789;
        f.extend(epb(0, ts, b"hello"));
        let (pk, errs, _) = read_all(&f);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(pk.len(), 1);
        assert_eq!(pk[0].1, 113);
        assert_eq!(pk[0].2, b"hello");
        assert!((pk[0].0 - 1_700_000_000.123_456).abs() < 1e-5);
    }

    #[test]
    fn pcapng_bad_blocks_are_skipped() {
        let mut f = pcapng_head();
        let undeclared = epb(7, 1, b"lost!");
        let skipped_len = undeclared.len() as u64;
        f.extend(undeclared);
        f.extend(epb(0, 2, b"kept"));
        // A block whose length is garbage, then a good one.
        let mut broken = epb(0, 3, b"broken");
        broken[4..8].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
        let broken_len = broken.len() as u64;
        f.extend(broken);
        f.extend(epb(0, 4, b"after"));
        let (pk, errs, skipped) = read_all(&f);
        let bodies: Vec<&[u8]> = pk.iter().map(|p| p.2.as_slice()).collect();
        assert_eq!(bodies, [&b"kept"[..], b"after"], "{errs:?}");
        assert!(errs[0].contains("undeclared interface 7"), "{errs:?}");
        assert!(errs[1].contains("bad block length"), "{errs:?}");
        assert_eq!(skipped, skipped_len + broken_len);
    }

    #[test]
    fn is_capture_knows_all_magics() {
        assert!(is_capture(&[0xd4, 0xc3, 0xb2, 0xa1]));
        assert!(is_capture(&[0x0a, 0x0d, 0x0d, 0x0a]));
        assert!(!is_capture(b"PK\x03\x04"));
        assert!(!is_capture(&[0xd4]));
    }
}
