//! One direction of a TCP stream, reassembled into in-order bytes in bounded memory.
//!
//! In-order data passes straight through (no copy). Out-of-order segments are held, up to a byte
//! and segment bound; past it, or at the end of the stream, the missing range is declared a gap
//! and delivery resumes after it. Retransmitted and overlapping bytes are trimmed: the first copy
//! seen wins, as in most IDS policies.

/// What reassembly hands on.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    Data(&'a [u8]),
    /// This many bytes were never seen.
    Gap(u64),
}

/// Bounds of held out-of-order data per direction.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    pub max_bytes: usize,
    pub max_segments: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            max_bytes: 256 * 1024,
            max_segments: 128,
        }
    }
}

#[derive(Debug, Default)]
pub struct Stream {
    next: Option<u32>,
    held: Vec<(u32, Vec<u8>)>,
    held_bytes: usize,
    delivered: bool,
    pub gaps: u64,
}

/// Signed distance from `b` to `a` in sequence space.
fn diff(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

impl Stream {
    /// The SYN of this direction: data starts at `isn + 1`.
    /// A SYN again before any data (a retried or port-reused connection) restarts the stream.
    pub fn syn(&mut self, isn: u32) {
        if self.next.is_none() || !self.delivered {
            self.next = Some(isn.wrapping_add(1));
            self.held.clear();
            self.held_bytes = 0;
        }
    }

    #[cfg(test)]
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// A segment with `data` starting at `seq`; in-order bytes go to `out`.
    pub fn segment(
        &mut self,
        seq: u32,
        data: &[u8],
        limits: &StreamLimits,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        if data.is_empty() {
            return;
        }
        let next = *self.next.get_or_insert(seq);
        let d = diff(seq, next);
        if d <= 0 {
            let skip = (-d) as u64;
            if skip >= data.len() as u64 {
                return; // retransmission of delivered bytes
            }
            let fresh = &data[skip as usize..];
            self.next = Some(next.wrapping_add(fresh.len() as u32));
            self.delivered = true;
            out(Chunk::Data(fresh));
            self.drain(out);
            return;
        }
        // Ahead of what we have: hold a copy, within bounds.
        if self.held.len() >= limits.max_segments || self.held_bytes + data.len() > limits.max_bytes
        {
            self.skip_to_held(out);
            // Re-offer this segment against the new position.
            if self.next.is_some_and(|n| diff(seq, n) <= 0) {
                self.segment(seq, data, limits, out);
                return;
            }
            if self.held_bytes + data.len() > limits.max_bytes {
                // Still no room (a single huge jump): treat it as the new position.
                let n = self.next.unwrap_or(seq);
                let gap = diff(seq, n).max(0) as u64;
                self.gaps += 1;
                out(Chunk::Gap(gap));
                self.next = Some(seq.wrapping_add(data.len() as u32));
                out(Chunk::Data(data));
                return;
            }
        }
        if !self.held.iter().any(|(s, _)| *s == seq) {
            self.held_bytes += data.len();
            self.held.push((seq, data.to_vec()));
        }
    }

    /// Deliver held segments that have become in order.
    fn drain(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        loop {
            let Some(next) = self.next else { return };
            let Some(i) = self.held.iter().position(|(s, _)| diff(*s, next) <= 0) else {
                return;
            };
            let (seq, data) = self.held.swap_remove(i);
            self.held_bytes -= data.len();
            let skip = (-diff(seq, next)) as usize;
            if skip < data.len() {
                let fresh = &data[skip..];
                self.next = Some(next.wrapping_add(fresh.len() as u32));
                self.delivered = true;
                out(Chunk::Data(fresh));
            }
        }
    }

    /// Declare the bytes before the earliest held segment lost and deliver from there.
    fn skip_to_held(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        let Some(next) = self.next else { return };
        let Some(first) = self
            .held
            .iter()
            .map(|(s, _)| *s)
            .min_by_key(|s| diff(*s, next))
        else {
            return;
        };
        let gap = diff(first, next).max(0) as u64;
        if gap > 0 {
            self.gaps += 1;
            out(Chunk::Gap(gap));
        }
        self.next = Some(first);
        self.drain(out);
    }

    /// End of stream: whatever is held is delivered after declaring what is missing.
    pub fn flush(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        while !self.held.is_empty() {
            self.skip_to_held(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(segs: &[(u32, &[u8])], limits: StreamLimits) -> (Vec<u8>, Vec<u64>) {
        let mut s = Stream::default();
        s.syn(99);
        let mut data = Vec::new();
        let mut gaps = Vec::new();
        let mut sink = |c: Chunk<'_>| match c {
            Chunk::Data(d) => data.extend_from_slice(d),
            Chunk::Gap(n) => gaps.push(n),
        };
        for (seq, d) in segs {
            s.segment(*seq, d, &limits, &mut sink);
        }
        s.flush(&mut sink);
        (data, gaps)
    }

    #[test]
    fn in_order_out_of_order_and_retransmits() {
        let (d, g) = run(
            &[
                (100, b"abc"),
                (106, b"ghi"),
                (103, b"def"),
                (100, b"abc"),
                (104, b"EFGH"),
            ],
            StreamLimits::default(),
        );
        assert_eq!(d, b"abcdefghi");
        assert!(g.is_empty());
    }

    #[test]
    fn gaps_are_declared_and_decoding_goes_on() {
        let (d, g) = run(&[(100, b"abc"), (110, b"xyz")], StreamLimits::default());
        assert_eq!(d, b"abcxyz");
        assert_eq!(g, vec![7]);
    }

    #[test]
    fn held_data_is_bounded() {
        let limits = StreamLimits {
            max_bytes: 8,
            max_segments: 2,
        };
        let segs: Vec<(u32, Vec<u8>)> = (0..50u32).map(|i| (200 + i * 10, vec![b'x'; 4])).collect();
        let refs: Vec<(u32, &[u8])> = segs.iter().map(|(s, d)| (*s, d.as_slice())).collect();
        let mut s = Stream::default();
        s.syn(99);
        let mut max_held = 0;
        for (seq, d) in &refs {
            s.segment(*seq, d, &limits, &mut |_| {});
            max_held = max_held.max(s.held_bytes());
        }
        assert!(max_held <= 8);
    }

    #[test]
    fn sequence_wraparound() {
        let mut s = Stream::default();
        s.syn(u32::MAX - 2);
        let mut data = Vec::new();
        let l = StreamLimits::default();
        s.segment(u32::MAX - 1, b"ab", &l, &mut |c| {
            if let Chunk::Data(d) = c {
                data.extend_from_slice(d)
            }
        });
        s.segment(0, b"cd", &l, &mut |c| {
            if let Chunk::Data(d) = c {
                data.extend_from_slice(d)
            }
        });
        assert_eq!(data, b"abcd");
    }
}
