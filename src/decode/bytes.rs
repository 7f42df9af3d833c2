//! Fixed-width integers read at an offset of untrusted bytes, for every decoder and container
//! reader: `None` when the value would run past the end (or the offset itself overflows),
//! never a panic.

fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// Big-endian `u16` at `at`.
pub fn be16(b: &[u8], at: usize) -> Option<u16> {
    array(b, at).map(u16::from_be_bytes)
}

/// Big-endian `u32` at `at`.
pub fn be32(b: &[u8], at: usize) -> Option<u32> {
    array(b, at).map(u32::from_be_bytes)
}

/// Big-endian `u64` at `at`.
pub fn be64(b: &[u8], at: usize) -> Option<u64> {
    array(b, at).map(u64::from_be_bytes)
}

/// Little-endian `u16` at `at`.
pub fn le16(b: &[u8], at: usize) -> Option<u16> {
    array(b, at).map(u16::from_le_bytes)
}

/// Little-endian `u32` at `at`.
pub fn le32(b: &[u8], at: usize) -> Option<u32> {
    array(b, at).map(u32::from_le_bytes)
}

/// Little-endian `u64` at `at`.
pub fn le64(b: &[u8], at: usize) -> Option<u64> {
    array(b, at).map(u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_bounds_and_refuses_past_the_end() {
        let b = [0x12, 0x34, 0x56, 0x78, 0x9a];
        assert_eq!(be16(&b, 0), Some(0x1234));
        assert_eq!(le16(&b, 0), Some(0x3412));
        assert_eq!(be32(&b, 1), Some(0x3456_789a));
        assert_eq!(le32(&b, 0), Some(0x7856_3412));
        assert_eq!(be32(&b, 2), None);
        assert_eq!(le64(&b, 0), None);
        assert_eq!(be16(&b, usize::MAX), None);
    }
}
