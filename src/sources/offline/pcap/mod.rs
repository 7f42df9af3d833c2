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
mod tests;
