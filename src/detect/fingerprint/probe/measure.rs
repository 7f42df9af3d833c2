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

/// Most channels a score map may have.
const MAX_MAP_CHANNELS: i64 = 16;

/// An output shape read as a score map: (channels, rows, columns, channels first), for
/// N × C × H × W or N × H × W × C with a batch of one, at most [`MAX_MAP_CHANNELS`] channels and
/// at least 4 × 4 cells.
pub(super) fn score_map(shape: &[i64]) -> Option<(usize, usize, usize, bool)> {
    let (c, h, w, nchw) = match *shape {
        [1, c, h, w] if c <= MAX_MAP_CHANNELS && h >= 4 && w >= 4 => (c, h, w, true),
        [1, h, w, c] if c <= MAX_MAP_CHANNELS && h >= 4 && w >= 4 => (c, h, w, false),
        _ => return None,
    };
    Some((
        usize::try_from(c).ok()?,
        usize::try_from(h).ok()?,
        usize::try_from(w).ok()?,
        nchw,
    ))
}

/// The score maps among `near` (a face top left) and `far` (the same face bottom right): where
/// each channel peaks. The first channel whose peak moves from the top-left quarter to the
/// bottom-right one is reported; else the first map's first channel; `None` without maps. A
/// peak must stand out (two standard deviations over the map's mean), so a flat map does not
/// "follow" by its first cell.
pub(super) fn detection_response(near: &[Output], far: &[Output]) -> Option<DetectionResponse> {
    let mut first = None;
    for ((name, shape, a), (_, _, b)) in near.iter().zip(far) {
        let Some((c, h, w, nchw)) = score_map(shape) else {
            continue;
        };
        if a.len() != c * h * w || b.len() != a.len() {
            continue;
        }
        let at = |ch: usize, y: usize, x: usize| {
            if nchw {
                (ch * h + y) * w + x
            } else {
                (y * w + x) * c + ch
            }
        };
        let peak = |d: &[f32], ch: usize| -> Option<(usize, usize)> {
            let vals: Vec<f64> = (0..h * w)
                .map(|i| f64::from(d[at(ch, i / w, i % w)]))
                .collect();
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            let sd =
                (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / vals.len() as f64).sqrt();
            let (i, top) = vals
                .iter()
                .enumerate()
                .max_by(|x, y| x.1.partial_cmp(y.1).unwrap_or(std::cmp::Ordering::Equal))?;
            (sd > 0.0 && *top > mean + 2.0 * sd).then_some((i % w, i / w))
        };
        for ch in 0..c {
            let (p, q) = (peak(a, ch), peak(b, ch));
            let follows = matches!((p, q), (Some((px, py)), Some((qx, qy)))
                if px < w / 2 && py < h / 2 && qx >= w / 2 && qy >= h / 2);
            let r = DetectionResponse {
                output: name.clone(),
                channel: ch,
                size: (h, w),
                top_left: p,
                bottom_right: q,
                follows,
            };
            if follows {
                return Some(r);
            }
            first.get_or_insert(r);
        }
    }
    first
}
