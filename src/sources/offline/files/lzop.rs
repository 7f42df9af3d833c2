//! lzop files: the container written by the `lzop` tool (Markus Oberhumer, `src/lzop.c` and
//! `src/p_lzo.c` of lzop 1.0x), holding LZO1X blocks.
//!
//! Layout (all integers big-endian): the 9-byte magic `89 4C 5A 4F 00 0D 0A 1A 0A`; a header
//! (version, library version, [version needed to extract], method, [level], flags, [filter],
//! mode, mtime low, [mtime high], name, header checksum, [extra field]); then blocks of
//! `dst_len`, `src_len`, optional checksums and `src_len` bytes — stored when
//! `src_len == dst_len`, else LZO1X-compressed to exactly `dst_len` — ended by `dst_len == 0`.
//!
//! The checksums of decompressed blocks (Adler-32 and CRC-32, when the flags ask for them) are
//! verified; the header checksum and the checksums of compressed blocks are not. Only the LZO1X
//! methods (1, 2, 3) are read; lzop's filters (`F_H_FILTER`) and multi-part files are refused.

use super::lzo;

/// The 9-byte lzop magic.
const MAGIC: [u8; 9] = [0x89, 0x4C, 0x5A, 0x4F, 0x00, 0x0D, 0x0A, 0x1A, 0x0A];

const F_ADLER32_D: u32 = 0x1;
const F_ADLER32_C: u32 = 0x2;
const F_H_EXTRA_FIELD: u32 = 0x40;
const F_CRC32_D: u32 = 0x100;
const F_CRC32_C: u32 = 0x200;
const F_MULTIPART: u32 = 0x400;
const F_H_FILTER: u32 = 0x800;

/// lzop's own limit on a block's decompressed size (`MAX_BLOCK_SIZE`, 64 MiB).
const MAX_BLOCK: u32 = 64 << 20;

/// Whether `b` starts with the lzop magic (89 4C 5A 4F 00 0D 0A 1A 0A).
pub fn is_lzop(b: &[u8]) -> bool {
    b.starts_with(&MAGIC)
}

/// A big-endian byte cursor over the file.
struct Cur<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.i.checked_add(n).ok_or("lzop: truncated")?;
        let v = self.s.get(self.i..end).ok_or("lzop: truncated")?;
        self.i = end;
        Ok(v)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        let v = self.take(2)?;
        Ok(u16::from_be_bytes([v[0], v[1]]))
    }
    fn u32(&mut self) -> Result<u32, String> {
        let v = self.take(4)?;
        Ok(u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
    }
}

/// Adler-32 of `b` (lzop's default checksum).
fn adler32(b: &[u8]) -> u32 {
    let (mut a, mut s) = (1u32, 0u32);
    for chunk in b.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            s += a;
        }
        a %= 65521;
        s %= 65521;
    }
    s << 16 | a
}

/// CRC-32 (IEEE, reflected) of `b`.
fn crc32(b: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (n, t) in (0u32..).zip(table.iter_mut()) {
        let mut c = n;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *t = c;
    }
    let mut c = !0u32;
    for &x in b {
        c = table[usize::from((c as u8) ^ x)] ^ (c >> 8);
    }
    !c
}

/// Reads the header, leaving the cursor at the first block; returns the flags.
fn header(c: &mut Cur<'_>) -> Result<u32, String> {
    if c.take(9)? != MAGIC {
        return Err("lzop: bad magic".into());
    }
    let version = c.u16()?;
    let _lib_version = c.u16()?;
    if version >= 0x0940 {
        let _needed = c.u16()?;
    }
    let method = c.u8()?;
    if !(1..=3).contains(&method) {
        return Err(format!("lzop: unsupported method {method}"));
    }
    if version >= 0x0940 {
        let _level = c.u8()?;
    }
    let flags = c.u32()?;
    if flags & F_H_FILTER != 0 {
        let _filter = c.u32()?;
        return Err("lzop: filters not supported".into());
    }
    if flags & F_MULTIPART != 0 {
        return Err("lzop: multi-part files not supported".into());
    }
    let _mode = c.u32()?;
    let _mtime_low = c.u32()?;
    if version >= 0x0940 {
        let _mtime_high = c.u32()?;
    }
    let name_len = c.u8()?;
    c.take(usize::from(name_len))?;
    let _header_checksum = c.u32()?;
    if flags & F_H_EXTRA_FIELD != 0 {
        let len = c.u32()?;
        c.take(usize::try_from(len).map_err(|_| "lzop: truncated")?)?;
        let _extra_checksum = c.u32()?;
    }
    Ok(flags)
}

/// Decodes one block into `out`; `Ok(false)` at the end marker.
fn block(c: &mut Cur<'_>, flags: u32, out: &mut Vec<u8>, cap: u64) -> Result<bool, String> {
    let dst_len = c.u32()?;
    if dst_len == 0 {
        return Ok(false);
    }
    if dst_len > MAX_BLOCK {
        return Err(format!("lzop: block of {dst_len} bytes over lzop's 64 MiB"));
    }
    let src_len = c.u32()?;
    if src_len > dst_len {
        return Err("lzop: compressed block larger than its output".into());
    }
    let d_adler = if flags & F_ADLER32_D != 0 {
        Some(c.u32()?)
    } else {
        None
    };
    let d_crc = if flags & F_CRC32_D != 0 {
        Some(c.u32()?)
    } else {
        None
    };
    if src_len < dst_len {
        if flags & F_ADLER32_C != 0 {
            c.u32()?;
        }
        if flags & F_CRC32_C != 0 {
            c.u32()?;
        }
    }
    let total = (out.len() as u64).saturating_add(u64::from(dst_len));
    if total > cap {
        return Err(format!("lzop: output over the cap of {cap} bytes"));
    }
    // Both lengths are at most 64 MiB, so they fit any usize this code runs on.
    let dst = dst_len as usize;
    let src = c.take(src_len as usize)?;
    let data = if src_len == dst_len {
        src.to_vec()
    } else {
        let d = lzo::decompress(src, dst)?;
        if d.len() != dst {
            return Err(format!(
                "lzop: block gave {} bytes, expected {dst}",
                d.len()
            ));
        }
        d
    };
    if d_adler.is_some_and(|a| a != adler32(&data)) {
        return Err("lzop: Adler-32 mismatch".into());
    }
    if d_crc.is_some_and(|v| v != crc32(&data)) {
        return Err("lzop: CRC-32 mismatch".into());
    }
    out.extend_from_slice(&data);
    Ok(true)
}

/// The decompressed bytes of an lzop file, at most `cap` bytes (stop with an error when more),
/// and what ended it early, if anything (partial output kept, like a truncated stream).
///
/// Only the first member is read; the checksums of decompressed blocks are verified, the header
/// checksum is not.
pub fn decompress(b: &[u8], cap: u64) -> (Vec<u8>, Option<String>) {
    let mut c = Cur { s: b, i: 0 };
    let mut out = Vec::new();
    let flags = match header(&mut c) {
        Ok(f) => f,
        Err(e) => return (out, Some(e)),
    };
    loop {
        match block(&mut c, flags, &mut out, cap) {
            Ok(true) => {}
            Ok(false) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// xorshift64 pseudo-random numbers.
    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    fn inputs() -> Vec<Vec<u8>> {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut mixed = Vec::new();
        while mixed.len() < 300_000 {
            if rng(&mut s) % 3 == 0 {
                mixed.extend_from_slice(b"the quick brown fox jumps over the lazy dog ");
            } else {
                mixed.extend_from_slice(&rng(&mut s).to_le_bytes());
            }
        }
        vec![
            Vec::new(),
            b"0123456789".to_vec(),
            mixed,
            vec![0u8; 1 << 20],
        ]
    }

    /// `lzop <level> -c` of `data`, or None when the tool is missing.
    fn lzop(level: &str, data: &[u8]) -> Option<Vec<u8>> {
        let mut child = Command::new("lzop")
            .args([level, "-c"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let mut stdin = child.stdin.take()?;
        let data = data.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&data));
        let out = child.wait_with_output().ok()?;
        writer.join().ok()?.ok()?;
        assert!(out.status.success());
        Some(out.stdout)
    }

    #[test]
    fn round_trips_and_limits() {
        let Some(probe) = lzop("-1", b"x") else {
            eprintln!("lzop missing: skipped");
            return;
        };
        assert!(is_lzop(&probe));
        for data in inputs() {
            for level in ["-3", "-1", "-9"] {
                let f = lzop(level, &data).unwrap();
                let (out, err) = decompress(&f, u64::MAX);
                assert_eq!(err, None, "level {level}, {} bytes", data.len());
                assert!(out == data, "level {level}, {} bytes", data.len());
                if data.len() > 1000 {
                    // Truncated: a prefix of the output and an error.
                    let (part, err) = decompress(&f[..f.len() * 2 / 3], u64::MAX);
                    assert!(err.is_some());
                    assert!(data.starts_with(&part));
                    // Over the cap.
                    let (part, err) = decompress(&f, data.len() as u64 - 1);
                    assert!(err.unwrap().contains("cap"));
                    assert!(part.len() < data.len());
                    let (all, err) = decompress(&f, data.len() as u64);
                    assert!(err.is_none() && all == data);
                }
            }
        }
    }

    #[test]
    fn hostile_inputs_never_panic() {
        let Some(f) = lzop("-3", &inputs()[2]) else {
            eprintln!("lzop missing: skipped");
            return;
        };
        for n in (0..f.len()).step_by(97) {
            let _ = decompress(&f[..n], 1 << 24);
        }
        let mut s = 12345u64;
        for _ in 0..2000 {
            let mut g = f.clone();
            for _ in 0..1 + rng(&mut s) % 4 {
                let bit = (rng(&mut s) % (g.len() as u64 * 8)) as usize;
                g[bit / 8] ^= 1 << (bit % 8);
            }
            let (out, _) = decompress(&g, 1 << 24);
            assert!(out.len() <= 1 << 24);
        }
        assert!(!is_lzop(b"\x89LZO"));
        assert!(decompress(b"", 10).1.is_some());
    }
}
