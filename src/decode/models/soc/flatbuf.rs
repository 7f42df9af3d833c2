//! A bounds-checked FlatBuffers reader for the Sophgo containers: every offset is checked
//! against the buffer before it is followed.

use super::*;

// ---------------------------------------------------------------------------------------------
// FlatBuffers (bounds-checked, every offset verified against the buffer)

pub(super) struct Fb<'a> {
    pub(super) b: &'a [u8],
    pub(super) fmt: &'static str,
}

#[derive(Clone, Copy)]
pub(super) struct Table {
    pub(super) pos: usize,
    pub(super) vt: usize,
    pub(super) vt_len: usize,
}

impl Fb<'_> {
    pub(super) fn err(&self, what: &str) -> ModelError {
        bad(self.fmt, format!("flatbuffer: {what}"))
    }
    pub(super) fn u32_at(&self, at: usize) -> Result<u32, ModelError> {
        le32(self.b, at).ok_or_else(|| self.err("offset out of range"))
    }
    pub(super) fn u16_at(&self, at: usize) -> Result<u16, ModelError> {
        let s = at
            .checked_add(2)
            .and_then(|end| self.b.get(at..end))
            .ok_or_else(|| self.err("offset out of range"))?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    pub(super) fn u64_at(&self, at: usize) -> Result<u64, ModelError> {
        le64(self.b, at).ok_or_else(|| self.err("offset out of range"))
    }
    pub(super) fn table(&self, pos: usize) -> Result<Table, ModelError> {
        let soff = i64::from(self.u32_at(pos)? as i32);
        let vt = i64::try_from(pos)
            .ok()
            .and_then(|p| p.checked_sub(soff))
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| self.err("bad vtable"))?;
        let vt_len = usize::from(self.u16_at(vt)?);
        if vt_len < 4 || vt.saturating_add(vt_len) > self.b.len() {
            return Err(self.err("bad vtable"));
        }
        Ok(Table { pos, vt, vt_len })
    }
    pub(super) fn root(&self) -> Result<Table, ModelError> {
        let p = self.deref(0)?;
        self.table(p)
    }
    pub(super) fn field(&self, t: Table, i: usize) -> Result<Option<usize>, ModelError> {
        let at = 4 + 2 * i;
        if at + 2 > t.vt_len {
            return Ok(None);
        }
        let off = usize::from(self.u16_at(t.vt + at)?);
        if off == 0 {
            return Ok(None);
        }
        let p = t.pos.saturating_add(off);
        if p >= self.b.len() {
            return Err(self.err("field out of range"));
        }
        Ok(Some(p))
    }
    pub(super) fn deref(&self, at: usize) -> Result<usize, ModelError> {
        let rel = self.u32_at(at)? as usize;
        let p = at
            .checked_add(rel)
            .ok_or_else(|| self.err("offset overflow"))?;
        if p >= self.b.len() {
            return Err(self.err("reference out of range"));
        }
        Ok(p)
    }
    /// A vector at `p` (its length word) of `elem`-byte elements: (start, length).
    pub(super) fn vector_at(&self, p: usize, elem: usize) -> Result<(usize, usize), ModelError> {
        let n = self.u32_at(p)? as usize;
        if n > MAX_VEC {
            return Err(ModelError::TooLarge(format!(
                "{}: flatbuffer vector of {n} elements",
                self.fmt
            )));
        }
        let start = p + 4;
        let fits = n
            .checked_mul(elem)
            .and_then(|bytes| start.checked_add(bytes))
            .is_some_and(|end| end <= self.b.len());
        if !fits {
            return Err(self.err("vector runs past the buffer"));
        }
        Ok((start, n))
    }
    pub(super) fn vector(
        &self,
        t: Table,
        i: usize,
        elem: usize,
    ) -> Result<Option<(usize, usize)>, ModelError> {
        match self.field(t, i)? {
            Some(at) => Ok(Some(self.vector_at(self.deref(at)?, elem)?)),
            None => Ok(None),
        }
    }
    pub(super) fn str_at(&self, p: usize) -> Result<String, ModelError> {
        let (start, n) = self.vector_at(p, 1)?;
        let s = self
            .b
            .get(start..start + n.min(MAX_STR))
            .ok_or_else(|| self.err("string out of range"))?;
        Ok(String::from_utf8_lossy(s).into_owned())
    }
    pub(super) fn string(&self, t: Table, i: usize) -> Result<Option<String>, ModelError> {
        match self.field(t, i)? {
            Some(at) => Ok(Some(self.str_at(self.deref(at)?)?)),
            None => Ok(None),
        }
    }
    /// At most `max` strings of a vector of strings.
    pub(super) fn strings(
        &self,
        t: Table,
        i: usize,
        max: usize,
    ) -> Result<Vec<String>, ModelError> {
        let Some((start, n)) = self.vector(t, i, 4)? else {
            return Ok(vec![]);
        };
        (0..n.min(max))
            .map(|k| self.str_at(self.deref(start + 4 * k)?))
            .collect()
    }
    /// At most `max` tables of a vector of tables.
    pub(super) fn tables(&self, t: Table, i: usize, max: usize) -> Result<Vec<Table>, ModelError> {
        let Some((start, n)) = self.vector(t, i, 4)? else {
            return Ok(vec![]);
        };
        (0..n.min(max))
            .map(|k| self.table(self.deref(start + 4 * k)?))
            .collect()
    }
    /// The number of elements of a vector field (0 when absent).
    pub(super) fn count(&self, t: Table, i: usize) -> Result<usize, ModelError> {
        Ok(self.vector(t, i, 4)?.map_or(0, |(_, n)| n))
    }
    pub(super) fn sub(&self, t: Table, i: usize) -> Result<Option<Table>, ModelError> {
        match self.field(t, i)? {
            Some(at) => Ok(Some(self.table(self.deref(at)?)?)),
            None => Ok(None),
        }
    }
    /// The first [`MAX_DIMS`] elements of a vector of 64-bit integers.
    pub(super) fn ints64(&self, t: Table, i: usize) -> Result<Vec<i64>, ModelError> {
        let Some((start, n)) = self.vector(t, i, 8)? else {
            return Ok(vec![]);
        };
        (0..n.min(MAX_DIMS))
            .map(|k| Ok(self.u64_at(start + 8 * k)? as i64))
            .collect()
    }
    pub(super) fn scalar_u8(&self, t: Table, i: usize) -> Result<Option<u8>, ModelError> {
        Ok(match self.field(t, i)? {
            Some(at) => self.b.get(at).copied(),
            None => None,
        })
    }
    pub(super) fn scalar_u32(&self, t: Table, i: usize) -> Result<Option<u32>, ModelError> {
        Ok(match self.field(t, i)? {
            Some(at) => Some(self.u32_at(at)?),
            None => None,
        })
    }
}
