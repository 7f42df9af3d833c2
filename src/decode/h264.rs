//! H.264 (ITU-T H.264 §7.3.2.3, Annex B) SEI messages, read without decoding video: the UUIDs of
//! `user_data_unregistered` payloads name a vendor's analytics data carried in the stream.

use super::protocol::FieldTable;

/// Fields of H.264 streams.
pub const FIELDS: FieldTable = FieldTable(
    "
h264.sei_uuid  digest       UUID of a SEI user_data_unregistered message (hex)
",
);

/// UUIDs of H.264 SEI `user_data_unregistered` messages (payload type 5) in an Annex B
/// access unit. Emulation-prevention bytes are removed before reading the SEI.
pub fn h264_sei_uuids(au: &[u8]) -> Vec<[u8; 16]> {
    let mut out = Vec::new();
    for nal in annexb_nals(au).take(256) {
        if nal.first().map(|b| b & 0x1f) != Some(6) {
            continue;
        }
        let rbsp = unescape(nal.get(1..).unwrap_or(&[]));
        let mut i = 0;
        while i < rbsp.len() && out.len() < 16 {
            let mut ptype = 0usize;
            while rbsp.get(i) == Some(&0xff) {
                ptype += 255;
                i += 1;
            }
            let Some(&b) = rbsp.get(i) else { break };
            ptype += usize::from(b);
            i += 1;
            let mut size = 0usize;
            while rbsp.get(i) == Some(&0xff) {
                size += 255;
                i += 1;
            }
            let Some(&b) = rbsp.get(i) else { break };
            size += usize::from(b);
            i += 1;
            let Some(payload) = rbsp.get(i..i + size) else {
                break;
            };
            if ptype == 5 {
                if let Some(u) = payload.get(..16).and_then(|u| <[u8; 16]>::try_from(u).ok()) {
                    out.push(u);
                }
            }
            i += size;
            if rbsp.get(i) == Some(&0x80) {
                break;
            }
        }
    }
    out
}

fn annexb_nals(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let finder = memchr::memmem::Finder::new(&[0u8, 0, 1]);
    let mut starts: Vec<usize> = finder.find_iter(data).map(|i| i + 3).collect();
    starts.truncate(4096);
    let n = starts.len();
    (0..n).map(move |k| {
        let s = starts[k];
        let e = starts.get(k + 1).map(|&n| n - 3).unwrap_or(data.len());
        let nal = data.get(s..e).unwrap_or(&[]);
        // A 4-byte start code leaves a trailing zero on the previous NAL.
        nal.strip_suffix(&[0]).unwrap_or(nal)
    })
}

fn unescape(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sei_user_data_uuid() {
        let uuid = [
            0xdc, 0x45, 0xe9, 0xbd, 0xe6, 0xd9, 0x48, 0xb7, 0x96, 0x2c, 0xd8, 0x20, 0xd9, 0x23,
            0xee, 0xef,
        ];
        let mut au = vec![0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x06, 5, 20];
        au.extend_from_slice(&uuid);
        au.extend_from_slice(b"x264");
        au.push(0x80);
        au.extend_from_slice(&[0, 0, 1, 0x65, 0x88]);
        assert_eq!(h264_sei_uuids(&au), vec![uuid]);
        for junk in [
            &[0u8, 0, 1, 6][..],
            &[0, 0, 1, 6, 0xff, 0xff, 0xff],
            &[0, 0, 1, 6, 5, 200, 1, 2],
            &[],
        ] {
            assert!(h264_sei_uuids(junk).is_empty());
        }
    }
}
