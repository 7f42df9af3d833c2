//! The flow-parser fuzz targets' shared driver: the first byte picks the chunk size, the
//! second the direction pattern; the rest is fed to `p` as a two-way conversation, with a gap
//! when the chunk size is 255.

use banwatch::decode::{AppParser, Emitter, Progress};
use banwatch::model::Direction;

/// Feed `data` to `p` as described above, then close it.
pub fn run(p: &mut dyn AppParser, data: &[u8], em: &mut Emitter<'_>) {
    let (Some(&size), Some(&pattern)) = (data.first(), data.get(1)) else {
        return;
    };
    let rest = data.get(2..).unwrap_or(&[]);
    let chunk = usize::from(size).max(1);
    for (i, c) in rest.chunks(chunk).enumerate() {
        let dir = if (pattern >> (i % 8)) & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let r = if size == 255 && i == 3 {
            p.gap(dir, c.len() as u64, em)
        } else {
            p.feed(dir, c, em)
        };
        if r == Progress::Done {
            break;
        }
    }
    p.close(em);
}
