//! The measurements: vector norms and cosines, output changes, and how coordinates move.

use super::*;

/// The output to study: the largest output that is one flat vector (ignoring batch and unit
/// dimensions).
pub(super) fn primary_vector(outs: &[Output]) -> Option<usize> {
    outs.iter()
        .enumerate()
        .filter(|(_, (_, shape, data))| {
            shape.iter().filter(|&&d| d > 1).count() == 1 && data.len() >= 2
        })
        .min_by_key(|(i, (_, _, d))| (std::cmp::Reverse(d.len()), *i))
        .map(|(i, _)| i)
}

pub(super) fn l2(v: &[f32]) -> f64 {
    v.iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt()
}

pub(super) fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum();
    let (na, nb) = (l2(a), l2(b));
    if na == 0.0 || nb == 0.0 {
        return if na == nb { 1.0 } else { 0.0 };
    }
    dot / (na * nb)
}

pub(super) fn max_abs_diff(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).abs())
        .fold(0.0, f64::max)
}

/// Read the vectors as records of `stride` values, x and y first ((x, y) pairs at 2; (x, y, z)
/// triples as MediaPipe's face and hand landmarks; (x, y, z, visibility, presence) as its pose
/// landmarks) and measure the mean change of x and of y, relative to the spread of the values
/// (so 0..1 and pixel coordinates read alike).
pub(super) fn coordinate_response(
    before: &[f32],
    after: &[f32],
    stride: usize,
) -> Option<(f64, f64)> {
    if stride < 2
        || before.len() < 5 * stride
        || before.len() % stride != 0
        || before.len() != after.len()
    {
        return None;
    }
    let (lo, hi) = before.iter().fold((f64::MAX, f64::MIN), |(l, h), &x| {
        (l.min(x as f64), h.max(x as f64))
    });
    let spread = hi - lo;
    if spread <= 0.0 || !spread.is_finite() {
        return None;
    }
    let n = before.len() / stride;
    let (mut dx, mut dy) = (0.0, 0.0);
    for i in 0..n {
        dx += (after[stride * i] - before[stride * i]) as f64;
        dy += (after[stride * i + 1] - before[stride * i + 1]) as f64;
    }
    Some((dx / n as f64 / spread, dy / n as f64 / spread))
}
