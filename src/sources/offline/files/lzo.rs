//! LZO1X decompression, the format of the Linux kernel's `lzo1x_decompress_safe`
//! (`lib/lzo/lzo1x_decompress_safe.c`), used by UBIFS and JFFS2 data nodes. Written here because
//! the crates.io decoders index their output unchecked on hostile input; every literal run and
//! match here is checked against the input, the output so far and the caller's cap.

/// A byte cursor for the LZO decoder.
struct Cur<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cur<'_> {
    fn u8(&mut self) -> Result<u8, String> {
        let v = *self.s.get(self.i).ok_or("lzo: input overrun")?;
        self.i += 1;
        Ok(v)
    }
    fn le16(&mut self) -> Result<usize, String> {
        Ok(usize::from(self.u8()?) | usize::from(self.u8()?) << 8)
    }
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.i.checked_add(n).ok_or("lzo: input overrun")?;
        let v = self.s.get(self.i..end).ok_or("lzo: input overrun")?;
        self.i = end;
        Ok(v)
    }
    /// A length continued by zero bytes (255 each) and a final non-zero byte.
    fn long_len(&mut self, base: usize) -> Result<usize, String> {
        let mut n = base;
        loop {
            let b = self.u8()?;
            if b != 0 {
                return n
                    .checked_add(usize::from(b))
                    .ok_or_else(|| "lzo: bad length".into());
            }
            n = n.checked_add(255).ok_or("lzo: bad length")?;
        }
    }
}

fn lzo_literals(c: &mut Cur<'_>, out: &mut Vec<u8>, n: usize, cap: usize) -> Result<(), String> {
    if out.len().saturating_add(n) > cap {
        return Err("lzo: output overrun".into());
    }
    out.extend_from_slice(c.take(n)?);
    Ok(())
}

fn lzo_match(out: &mut Vec<u8>, dist: usize, len: usize, cap: usize) -> Result<(), String> {
    if dist == 0 || dist > out.len() || out.len().saturating_add(len) > cap {
        return Err("lzo: bad match".into());
    }
    let from = out.len() - dist;
    for k in 0..len {
        let v = out.get(from + k).copied().ok_or("lzo: bad match")?;
        out.push(v);
    }
    Ok(())
}

/// LZO1X decompression of `src` (the kernel's `lzo1x_decompress_safe`): at most `cap` bytes,
/// an error naming what ran over (input, output, a match before the start).
pub fn decompress(src: &[u8], cap: usize) -> Result<Vec<u8>, String> {
    let mut c = Cur { s: src, i: 0 };
    let mut out = Vec::with_capacity(cap.min(1 << 20));
    let mut state = 0usize;
    let first = *src.first().ok_or("lzo: empty input")?;
    if first >= 18 {
        c.i = 1;
        let n = usize::from(first - 17);
        lzo_literals(&mut c, &mut out, n, cap)?;
        state = if first >= 22 { 4 } else { n };
    }
    loop {
        let inst = usize::from(c.u8()?);
        let (dist, len, next);
        if inst >= 64 {
            dist = (usize::from(c.u8()?) << 3) + ((inst >> 2) & 7) + 1;
            len = (inst >> 5) + 1;
            next = inst & 3;
        } else if inst >= 32 {
            len = if inst & 31 == 0 {
                c.long_len(33)?
            } else {
                (inst & 31) + 2
            };
            let w = c.le16()?;
            dist = (w >> 2) + 1;
            next = w & 3;
        } else if inst >= 16 {
            len = if inst & 7 == 0 {
                c.long_len(9)?
            } else {
                (inst & 7) + 2
            };
            let w = c.le16()?;
            let d = ((inst & 8) << 11) + (w >> 2);
            if d == 0 {
                return Ok(out); // end of stream
            }
            dist = d + 16384;
            next = w & 3;
        } else if state == 0 {
            let n = if inst == 0 { c.long_len(18)? } else { inst + 3 };
            lzo_literals(&mut c, &mut out, n, cap)?;
            state = 4;
            continue;
        } else if state != 4 {
            dist = (inst >> 2) + (usize::from(c.u8()?) << 2) + 1;
            len = 2;
            next = inst & 3;
        } else {
            dist = (inst >> 2) + (usize::from(c.u8()?) << 2) + 2049;
            len = 3;
            next = inst & 3;
        }
        lzo_match(&mut out, dist, len, cap)?;
        lzo_literals(&mut c, &mut out, next, cap)?;
        state = next;
    }
}
