//! RTP (RFC 3550) payloads, and the ONVIF metadata track carried in them (ONVIF Streaming
//! Specification §5.1.2.1: an XML document spans packets and ends at the marker bit, optionally
//! gzip-compressed when the SDP says `vnd.onvif.metadata.gzip` / `+gzip`). Used by the RTSP
//! decoder for interleaved captures and by the live RTSP source for GStreamer's RTP buffers.

use std::io::Read;

/// Largest metadata document reassembled (and largest decompressed size).
pub const MAX_DOC: usize = 1 << 20;

/// The payload and marker bit of an RTP packet (RFC 3550 §5.1), or why it is not one.
pub fn rtp_payload(p: &[u8]) -> Result<(bool, &[u8]), String> {
    let b0 = *p.first().ok_or("empty RTP packet")?;
    let b1 = *p.get(1).ok_or("short RTP packet")?;
    if b0 >> 6 != 2 {
        return Err("not RTP version 2".into());
    }
    let mut off = 12 + 4 * usize::from(b0 & 0x0f);
    if b0 & 0x10 != 0 {
        let words = p.get(off + 2..off + 4).ok_or("truncated RTP extension")?;
        off += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    let mut end = p.len();
    if b0 & 0x20 != 0 {
        let pad = usize::from(*p.last().ok_or("empty")?);
        end = end.checked_sub(pad).ok_or("bad RTP padding")?;
    }
    let payload = p.get(off..end).ok_or("truncated RTP packet")?;
    Ok((b1 & 0x80 != 0, payload))
}

/// Joins ONVIF metadata RTP payloads into documents: a document ends at the marker bit.
#[derive(Debug, Default)]
pub struct MetadataDepay {
    buf: Vec<u8>,
    /// Dropping an oversized document until its marker.
    skipping: bool,
    /// Documents are gzip-compressed.
    pub gzip: bool,
}

impl MetadataDepay {
    /// Feed one RTP packet; returns a complete document, or an error for a broken one.
    pub fn push(&mut self, rtp: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let (marker, payload) = rtp_payload(rtp)?;
        if !self.skipping {
            if self.buf.len() + payload.len() > MAX_DOC {
                self.buf.clear();
                self.skipping = true;
                if !marker {
                    return Err(format!("metadata document over {MAX_DOC} bytes"));
                }
            } else {
                self.buf.extend_from_slice(payload);
            }
        }
        if !marker {
            return Ok(None);
        }
        if std::mem::take(&mut self.skipping) {
            return Ok(None);
        }
        let doc = std::mem::take(&mut self.buf);
        if doc.is_empty() {
            return Ok(None);
        }
        if self.gzip {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(doc.as_slice())
                .take(MAX_DOC as u64)
                .read_to_end(&mut out)
                .map_err(|e| format!("gzip metadata: {e}"))?;
            return Ok(Some(out));
        }
        Ok(Some(doc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(marker: bool, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![
            0x80,
            107 | if marker { 0x80 } else { 0 },
            0,
            1,
            0,
            0,
            0,
            0,
            1,
            2,
            3,
            4,
        ];
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn depayloads_across_packets_and_skips_broken() {
        let mut d = MetadataDepay::default();
        assert_eq!(d.push(&rtp(false, b"<a>")).unwrap(), None);
        assert_eq!(d.push(&rtp(true, b"</a>")).unwrap().unwrap(), b"<a></a>");
        assert!(d.push(&[0x40, 0]).is_err());
        assert!(d
            .push(&[0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff])
            .is_err());
        assert!(d
            .push(&[0xa0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200])
            .is_err());
        // An oversized document is dropped whole, and the next one is intact.
        let big = vec![b'x'; 64 * 1024];
        let mut errs = 0;
        for _ in 0..(MAX_DOC / big.len() + 2) {
            errs += d.push(&rtp(false, &big)).is_err() as usize;
        }
        assert_eq!(errs, 1);
        assert_eq!(d.push(&rtp(true, b"tail")).unwrap(), None);
        assert_eq!(d.push(&rtp(true, b"<b/>")).unwrap().unwrap(), b"<b/>");
    }

    #[test]
    fn gzip_documents_are_inflated() {
        use std::io::Write;
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(b"<tt:MetadataStream/>").unwrap();
        let gz = z.finish().unwrap();
        let mut d = MetadataDepay {
            gzip: true,
            ..MetadataDepay::default()
        };
        assert_eq!(
            d.push(&rtp(true, &gz)).unwrap().unwrap(),
            b"<tt:MetadataStream/>"
        );
        assert!(d.push(&rtp(true, b"not gzip")).is_err());
    }
}
