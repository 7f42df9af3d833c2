//! A small, bounded protobuf wire-format reader (no schema compiler, no build script).
//!
//! It walks one message's fields lazily; nested messages are read by handing their bytes to a
//! new [`Reader`]. Every length is checked against the remaining input before slicing, so a
//! hostile length never allocates or panics.

use super::ModelError;

/// One field's value as it sits on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl<'a> Value<'a> {
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Varint(v) | Value::Fixed64(v) => Some(v),
            Value::Fixed32(v) => Some(u64::from(v)),
            Value::Bytes(_) => None,
        }
    }
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match *self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
    /// A length-delimited field as UTF-8 text (lossy, bounded to `max` bytes).
    pub fn as_str(&self, max: usize) -> Option<String> {
        self.as_bytes()
            .map(|b| String::from_utf8_lossy(b.get(..max.min(b.len())).unwrap_or(b)).into_owned())
    }
}

/// Iterator over the fields of one message.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, ModelError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| ModelError::Truncated(format!("varint at {}", self.pos)))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(ModelError::Invalid(format!(
            "varint longer than 10 bytes at {}",
            self.pos
        )))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        super::take_bytes(self.buf, &mut self.pos, n, "field", "message")
    }

    /// The next `(field number, value)`, `None` at the end of the message.
    pub fn next_field(&mut self) -> Result<Option<(u32, Value<'a>)>, ModelError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = u32::try_from(key >> 3)
            .map_err(|_| ModelError::Invalid(format!("field number {} too large", key >> 3)))?;
        if field == 0 {
            return Err(ModelError::Invalid("field number 0".into()));
        }
        let v = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Value::Fixed64(u64::from_le_bytes(a))
            }
            2 => {
                let n = self.varint()?;
                let n =
                    usize::try_from(n).map_err(|_| ModelError::TooLarge(format!("length {n}")))?;
                Value::Bytes(self.take(n)?)
            }
            5 => {
                let b = self.take(4)?;
                let mut a = [0u8; 4];
                a.copy_from_slice(b);
                Value::Fixed32(u32::from_le_bytes(a))
            }
            w => {
                return Err(ModelError::Invalid(format!(
                    "wire type {w} (groups are not used by these formats)"
                )))
            }
        };
        Ok(Some((field, v)))
    }
}

/// Decode a repeated int64 field that may be packed (bytes) or not (one varint): appends to `out`
/// at most `max` values.
pub fn push_ints(v: Value<'_>, out: &mut Vec<i64>, max: usize) -> Result<(), ModelError> {
    match v {
        Value::Varint(x) => {
            if out.len() < max {
                out.push(x as i64);
            }
        }
        Value::Bytes(b) => {
            let mut r = Reader::new(b);
            while r.pos < b.len() {
                let x = r.varint()?;
                if out.len() < max {
                    out.push(x as i64);
                }
            }
        }
        _ => return Err(ModelError::Invalid("int field with fixed wire type".into())),
    }
    Ok(())
}

/// Protobuf writing: tests that build model files by hand, and the probe's rewrites of a
/// graph (which copy every field they do not change as it was read).
#[cfg(any(test, feature = "probe"))]
pub(crate) mod encode {
    /// One field as [`super::Reader::next_field`] gave it, written back unchanged.
    #[cfg(feature = "probe")]
    pub fn field(f: u32, v: super::Value<'_>, out: &mut Vec<u8>) {
        match v {
            super::Value::Varint(x) => field_varint(f, x, out),
            super::Value::Bytes(b) => field_bytes(f, b, out),
            super::Value::Fixed64(x) => {
                varint(u64::from(f) << 3 | 1, out);
                out.extend_from_slice(&x.to_le_bytes());
            }
            super::Value::Fixed32(x) => {
                varint(u64::from(f) << 3 | 5, out);
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
    /// A base-128 varint.
    pub fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
    }
    /// A length-delimited field.
    pub fn field_bytes(f: u32, b: &[u8], out: &mut Vec<u8>) {
        varint(u64::from(f) << 3 | 2, out);
        varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }
    /// A varint field.
    pub fn field_varint(f: u32, v: u64, out: &mut Vec<u8>) {
        varint(u64::from(f) << 3, out);
        varint(v, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_varint_and_bytes() {
        // field 1 varint 150, field 2 "hi"
        let b = [0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i'];
        let mut r = Reader::new(&b);
        assert_eq!(r.next_field().unwrap(), Some((1, Value::Varint(150))));
        assert_eq!(r.next_field().unwrap(), Some((2, Value::Bytes(b"hi"))));
        assert_eq!(r.next_field().unwrap(), None);
    }

    #[test]
    fn hostile_length_is_an_error() {
        let b = [0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 0];
        assert!(matches!(
            Reader::new(&b).next_field(),
            Err(ModelError::Truncated(_))
        ));
    }

    #[test]
    fn packed_ints() {
        let mut out = vec![];
        push_ints(Value::Bytes(&[0x01, 0x70, 0x96, 0x01]), &mut out, 10).unwrap();
        assert_eq!(out, vec![1, 112, 150]);
    }

    #[test]
    fn endless_varint_rejected() {
        let b = [
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ];
        assert!(Reader::new(&b).next_field().is_err());
    }
}
