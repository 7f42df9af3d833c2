//! Evaluating an OpenCV cascade on a grey image, as OpenCV 4's `CascadeClassifier` does:
//! integral images (upright, squared, and tilted for 45° Haar features), the window's
//! variance normalisation, boosted stages of small trees, a pyramid of scaled images and
//! `groupRectangles`. Written from OpenCV's documented semantics (`cv::integral`,
//! `cv::groupRectangles`, the cascade XML written by `opencv_traincascade`); checked window by
//! window against OpenCV itself in tests/cascade_probe.rs.

use crate::decode::models::cascade::{Cascade, CascadeFeature, FeatureKind};

/// A grey image, row-major, one byte a pixel.
#[derive(Debug, Clone)]
pub struct Gray {
    /// Width, pixels.
    pub width: usize,
    /// Height, pixels.
    pub height: usize,
    /// `width * height` values.
    pub pixels: Vec<u8>,
}

impl Gray {
    /// The picture as a binary PGM (`P5`), which OpenCV and most tools read.
    pub fn to_pgm(&self) -> Vec<u8> {
        let mut out = format!("P5\n{} {}\n255\n", self.width, self.height).into_bytes();
        out.extend_from_slice(&self.pixels);
        out
    }

    fn at(&self, x: i64, y: i64) -> i64 {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            0
        } else {
            self.pixels[y as usize * self.width + x as usize] as i64
        }
    }

    /// Bilinear resize to `w`×`h` (pixel centres aligned, as OpenCV's `INTER_LINEAR`).
    pub fn resized(&self, w: usize, h: usize) -> Gray {
        if w == self.width && h == self.height {
            return self.clone();
        }
        let (sx, sy) = (self.width as f64 / w as f64, self.height as f64 / h as f64);
        let mut pixels = Vec::with_capacity(w * h);
        for y in 0..h {
            let fy = ((y as f64 + 0.5) * sy - 0.5).max(0.0);
            let y0 = (fy.floor() as usize).min(self.height - 1);
            let y1 = (y0 + 1).min(self.height - 1);
            let ty = fy - y0 as f64;
            for x in 0..w {
                let fx = ((x as f64 + 0.5) * sx - 0.5).max(0.0);
                let x0 = (fx.floor() as usize).min(self.width - 1);
                let x1 = (x0 + 1).min(self.width - 1);
                let tx = fx - x0 as f64;
                let p = |xx: usize, yy: usize| self.pixels[yy * self.width + xx] as f64;
                let top = p(x0, y0) * (1.0 - tx) + p(x1, y0) * tx;
                let bottom = p(x0, y1) * (1.0 - tx) + p(x1, y1) * tx;
                pixels.push((top * (1.0 - ty) + bottom * ty).round().clamp(0.0, 255.0) as u8);
            }
        }
        Gray {
            width: w,
            height: h,
            pixels,
        }
    }
}

/// The integral images of one grey image, each `(width + 1) × (height + 1)`.
struct Integral {
    stride: usize,
    sum: Vec<i64>,
    squares: Vec<f64>,
    /// `tilted(X, Y)`: the sum of pixels `(x, y)` with `y < Y` and `|x − X + 1| ≤ Y − y − 1`
    /// (`cv::integral`'s tilted sum). Only built for cascades with tilted features.
    tilted: Vec<i64>,
}

impl Integral {
    fn new(g: &Gray, with_tilted: bool) -> Integral {
        let (w, h) = (g.width, g.height);
        let stride = w + 1;
        let mut sum = vec![0i64; stride * (h + 1)];
        let mut squares = vec![0f64; stride * (h + 1)];
        for y in 0..h {
            let (mut row, mut row_sq) = (0i64, 0f64);
            for x in 0..w {
                let v = g.pixels[y * w + x] as i64;
                row += v;
                row_sq += (v * v) as f64;
                sum[(y + 1) * stride + x + 1] = sum[y * stride + x + 1] + row;
                squares[(y + 1) * stride + x + 1] = squares[y * stride + x + 1] + row_sq;
            }
        }
        let tilted = if with_tilted {
            tilted_integral(g)
        } else {
            Vec::new()
        };
        Integral {
            stride,
            sum,
            squares,
            tilted,
        }
    }
}

/// The tilted integral by its recurrence
/// `T(X, Y) = T(X−1, Y−1) + T(X+1, Y−1) − T(X, Y−2) + I(X−1, Y−1) + I(X−1, Y−2)`, computed on
/// columns widened by the height on both sides (the triangles reach past the image's edges).
fn tilted_integral(g: &Gray) -> Vec<i64> {
    let (w, h) = (g.width as i64, g.height as i64);
    let pad = h + 2;
    let cols = (w + 1 + 2 * pad) as usize;
    let rows = (h + 1) as usize;
    let mut t = vec![0i64; cols * rows];
    let get = |t: &[i64], x: i64, y: i64| -> i64 {
        let c = x + pad;
        if y < 0 || c < 0 || c >= cols as i64 {
            0
        } else {
            t[y as usize * cols + c as usize]
        }
    };
    for y in 1..=h {
        for x in -pad..=(w + pad) {
            let v = get(&t, x - 1, y - 1) + get(&t, x + 1, y - 1) - get(&t, x, y - 2)
                + g.at(x - 1, y - 1)
                + g.at(x - 1, y - 2);
            t[y as usize * cols + (x + pad) as usize] = v;
        }
    }
    let stride = (w + 1) as usize;
    let mut out = vec![0i64; stride * rows];
    for y in 0..rows {
        for x in 0..stride {
            out[y * stride + x] = t[y * cols + x + pad as usize];
        }
    }
    out
}

/// How many node evaluations a run may still spend.
#[derive(Debug)]
pub struct Budget(u64);

impl Budget {
    /// A budget of `n` node evaluations.
    pub fn new(n: u64) -> Budget {
        Budget(n)
    }

    fn spend(&mut self, n: u64) -> bool {
        self.0 = self.0.saturating_sub(n);
        self.0 > 0
    }
}

/// OpenCV lowers every stage threshold by this much when it reads a cascade.
const THRESHOLD_EPS: f32 = 1e-5;

/// What one window came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Passed every stage.
    Accepted,
    /// Too flat to be judged (Haar's variance check).
    Flat,
    /// Rejected by this stage.
    Rejected(usize),
}

/// One split, flattened: children as in [`crate::decode::models::cascade::CascadeNode`].
#[derive(Debug, Clone, Copy)]
struct Split {
    left: i32,
    right: i32,
    feature: u32,
    threshold: f32,
    /// Index into [`Compiled::subsets`] (LBP).
    subset: u32,
}

/// A Haar feature's rectangles as corner offsets from the window's top-left entry of the
/// integral table (OpenCV's `OptFeature`); unused rectangles have weight 0.
#[derive(Debug, Clone, Copy)]
struct HaarOffsets {
    corners: [[usize; 4]; 3],
    weight: [f32; 3],
    tilted: bool,
}

/// A cascade laid out for one integral table's row stride: flat stages, trees, splits and
/// leaves, and every feature's corner offsets, so a window costs table reads and no
/// multiplications.
struct Compiled {
    haar: bool,
    /// Some feature is tilted: the tilted integral is needed.
    tilted: bool,
    /// `(threshold − THRESHOLD_EPS, first tree, end tree)`.
    stages: Vec<(f64, usize, usize)>,
    /// `(first split, first leaf)`.
    trees: Vec<(usize, usize)>,
    splits: Vec<Split>,
    leaves: Vec<f32>,
    subsets: Vec<[u32; 8]>,
    /// Each feature's offsets: Haar cascades fill `haar_features`, LBP ones `lbp_features`
    /// (a cascade's features are all of its kind).
    haar_features: Vec<HaarOffsets>,
    /// The 16 grid corners of each LBP feature.
    lbp_features: Vec<[usize; 16]>,
    /// The variance window (less a one-pixel border) and its area.
    norm: [usize; 4],
    area: f64,
}

impl Compiled {
    /// Lay `c`'s stages out; [`Compiled::set_stride`] adds the features' offsets for a table.
    fn new(c: &Cascade) -> Compiled {
        let mut out = Compiled {
            haar: c.kind == FeatureKind::Haar,
            tilted: c
                .features
                .iter()
                .any(|f| matches!(f, CascadeFeature::Haar { tilted: true, .. })),
            stages: Vec::with_capacity(c.stages.len()),
            trees: Vec::new(),
            splits: Vec::new(),
            leaves: Vec::new(),
            subsets: Vec::new(),
            haar_features: Vec::new(),
            lbp_features: Vec::new(),
            norm: [0; 4],
            area: ((c.width as f64) - 2.0) * ((c.height as f64) - 2.0),
        };
        for stage in &c.stages {
            let first = out.trees.len();
            for (nodes, leaves) in &stage.weak {
                out.trees.push((out.splits.len(), out.leaves.len()));
                for n in nodes {
                    let subset = match n.subset {
                        Some(s) => {
                            out.subsets.push(s);
                            (out.subsets.len() - 1) as u32
                        }
                        None => 0,
                    };
                    out.splits.push(Split {
                        left: n.left,
                        right: n.right,
                        feature: n.feature as u32,
                        threshold: n.threshold,
                        subset,
                    });
                }
                out.leaves.extend_from_slice(leaves);
            }
            out.stages.push((
                (stage.threshold - THRESHOLD_EPS) as f64,
                first,
                out.trees.len(),
            ));
        }
        out
    }

    /// Recompute the features' corner offsets for another row stride (another pyramid level).
    fn set_stride(&mut self, c: &Cascade, stride: usize) {
        let at = |x: i32, y: i32| y as usize * stride + x as usize;
        let upright = |x: i32, y: i32, w: i32, h: i32| {
            [at(x, y), at(x + w, y), at(x, y + h), at(x + w, y + h)]
        };
        self.norm = upright(1, 1, c.width as i32 - 2, c.height as i32 - 2);
        self.haar_features.clear();
        self.lbp_features.clear();
        for f in &c.features {
            match *f {
                CascadeFeature::Haar { ref rects, tilted } => {
                    let mut h = HaarOffsets {
                        corners: [[0; 4]; 3],
                        weight: [0.0; 3],
                        tilted,
                    };
                    for (i, &(x, y, w, rh, weight)) in rects.iter().take(3).enumerate() {
                        h.corners[i] = if tilted {
                            // OpenCV's CV_TILTED_OFS: (x, y), (x − h, y + h), (x + w, y + w),
                            // (x + w − h, y + w + h).
                            [
                                at(x, y),
                                at(x - rh, y + rh),
                                at(x + w, y + w),
                                at(x + w - rh, y + w + rh),
                            ]
                        } else {
                            upright(x, y, w, rh)
                        };
                        h.weight[i] = weight;
                    }
                    self.haar_features.push(h);
                }
                CascadeFeature::Lbp { x, y, w, h } => {
                    let mut g = [0usize; 16];
                    for row in 0..4 {
                        for col in 0..4 {
                            g[row * 4 + col] = at(x + col as i32 * w, y + row as i32 * h);
                        }
                    }
                    self.lbp_features.push(g);
                }
            }
        }
    }
}

/// A rectangle's sum from its four corners in an integral table: `c[0] − c[1] − c[2] + c[3]`.
fn sum4<T>(t: &[T], base: usize, c: &[usize; 4]) -> T
where
    T: Copy + std::ops::Add<Output = T> + std::ops::Sub<Output = T>,
{
    t[base + c[0]] - t[base + c[1]] - t[base + c[2]] + t[base + c[3]]
}

/// Run every stage on the window whose top-left entry of the integral tables is `base`.
fn run_at(l: &Compiled, ii: &Integral, base: usize, spent: &mut u64) -> Outcome {
    // Haar: features are divided by the window's standard deviation times its area, measured
    // on the window less a one-pixel border; nearly flat windows are rejected outright.
    let mut norm = 1f32;
    if l.haar {
        let s = sum4(&ii.sum, base, &l.norm) as f64;
        let sq = sum4(&ii.squares, base, &l.norm);
        let nf = l.area * sq - s * s;
        if nf <= 0.0 {
            return Outcome::Flat;
        }
        norm = (1.0 / nf.sqrt()) as f32;
        if l.area * norm as f64 >= 0.1 {
            return Outcome::Flat;
        }
    }
    for (si, &(threshold, t0, t1)) in l.stages.iter().enumerate() {
        let mut sum = 0f64;
        for &(first, leaf0) in &l.trees[t0..t1] {
            let mut idx = 0i32;
            loop {
                *spent += 1;
                let node = &l.splits[first + idx as usize];
                let left = if l.haar {
                    let f = &l.haar_features[node.feature as usize];
                    let table = if f.tilted { &ii.tilted } else { &ii.sum };
                    let mut v = f.weight[0] * sum4(table, base, &f.corners[0]) as f32
                        + f.weight[1] * sum4(table, base, &f.corners[1]) as f32;
                    if f.weight[2] != 0.0 {
                        v += f.weight[2] * sum4(table, base, &f.corners[2]) as f32;
                    }
                    v * norm < node.threshold
                } else {
                    let g = &l.lbp_features[node.feature as usize];
                    let cell = |r: usize, c: usize| {
                        let i = r * 4 + c;
                        sum4(&ii.sum, base, &[g[i], g[i + 1], g[i + 4], g[i + 5]])
                    };
                    let centre = cell(1, 1);
                    // Clockwise from the top-left cell, most significant bit first (OpenCV's
                    // order).
                    let code = [
                        (0, 0),
                        (0, 1),
                        (0, 2),
                        (1, 2),
                        (2, 2),
                        (2, 1),
                        (2, 0),
                        (1, 0),
                    ]
                    .iter()
                    .fold(0usize, |code, &(r, c)| {
                        (code << 1) | usize::from(cell(r, c) >= centre)
                    });
                    l.subsets[node.subset as usize][code >> 5] & (1u32 << (code & 31)) != 0
                };
                idx = if left { node.left } else { node.right };
                if idx <= 0 {
                    break;
                }
            }
            sum += l.leaves[leaf0 + idx.unsigned_abs() as usize] as f64;
        }
        if sum < threshold {
            return Outcome::Rejected(si);
        }
    }
    Outcome::Accepted
}

/// A rectangle in picture pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rect {
    /// Left.
    pub x: i64,
    /// Top.
    pub y: i64,
    /// Width.
    pub w: i64,
    /// Height.
    pub h: i64,
}

/// Every window the cascade accepts in `g` at scale 1 (no resizing), stepping `step` pixels:
/// what OpenCV's `detectMultiScale` with `minNeighbors = 0` and `maxSize` = the window returns.
pub fn windows_at_scale_one(
    c: &Cascade,
    g: &Gray,
    step: usize,
    budget: &mut Budget,
) -> Option<Vec<Rect>> {
    hits(c, &mut Compiled::new(c), g, 1.0, step.max(1), budget)
}

/// Accepted windows at one pyramid level; `None` when the budget ran out.
fn hits(
    c: &Cascade,
    compiled: &mut Compiled,
    g: &Gray,
    factor: f64,
    step: usize,
    budget: &mut Budget,
) -> Option<Vec<Rect>> {
    let ii = Integral::new(g, compiled.tilted);
    compiled.set_stride(c, ii.stride);
    let (ww, wh) = (c.width as usize, c.height as usize);
    let mut out = Vec::new();
    if g.width < ww || g.height < wh {
        return Some(out);
    }
    let factor = factor as f32;
    let (sw, sh) = (
        (ww as f32 * factor).round() as i64,
        (wh as f32 * factor).round() as i64,
    );
    for y in (0..=g.height - wh).step_by(step) {
        let mut spent = 0u64;
        let mut x = 0;
        while x <= g.width - ww {
            match run_at(compiled, &ii, y * ii.stride + x, &mut spent) {
                Outcome::Accepted => out.push(Rect {
                    x: (x as f32 * factor).round() as i64,
                    y: (y as f32 * factor).round() as i64,
                    w: sw,
                    h: sh,
                }),
                // OpenCV skips the next window after one the first stage rejects.
                Outcome::Rejected(0) => x += step,
                _ => {}
            }
            x += step;
        }
        if !budget.spend(spent) {
            return None;
        }
    }
    Some(out)
}

/// Why [`detect`] stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The work budget ran out.
    Budget,
    /// More than [`MAX_RAW_WINDOWS`] windows were accepted in one picture.
    Everywhere,
}

/// Most accepted windows one picture may give before the cascade is said to fire everywhere
/// (a real detector accepts a few dozen around each object).
pub const MAX_RAW_WINDOWS: usize = 4096;

/// Scale factor between pyramid levels (`detectMultiScale`'s default).
pub const SCALE_FACTOR: f64 = 1.1;
/// Neighbours a detection needs (`detectMultiScale`'s default `minNeighbors`).
pub const MIN_NEIGHBORS: usize = 3;

/// Detections in `g`: every pyramid level from the window's own size up to the picture's,
/// windows stepped 2 pixels (1 from a factor of 2; after a window the first stage rejects,
/// the next is skipped, as OpenCV does), then grouped as
/// `groupRectangles(.., MIN_NEIGHBORS, 0.2)`.
/// Each detection comes with the number of raw windows behind it. Errors: the budget ran out,
/// or more than [`MAX_RAW_WINDOWS`] windows were accepted (grouping is quadratic in them).
pub fn detect(c: &Cascade, g: &Gray, budget: &mut Budget) -> Result<Vec<(Rect, usize)>, Cut> {
    let mut raw = Vec::new();
    let mut compiled = Compiled::new(c);
    let mut factor = 1.0f64;
    loop {
        // OpenCV's scales are floats; the window at this scale must fit in the picture.
        let sc = factor as f32;
        if (c.width as f32 * sc).round() as usize > g.width
            || (c.height as f32 * sc).round() as usize > g.height
        {
            break;
        }
        let (w, h) = (
            (g.width as f32 / sc).round() as usize,
            (g.height as f32 / sc).round() as usize,
        );
        let step = if sc >= 2.0 { 1 } else { 2 };
        raw.extend(
            hits(c, &mut compiled, &g.resized(w, h), sc as f64, step, budget).ok_or(Cut::Budget)?,
        );
        if raw.len() > MAX_RAW_WINDOWS {
            return Err(Cut::Everywhere);
        }
        factor *= SCALE_FACTOR;
    }
    Ok(group(&raw, MIN_NEIGHBORS, 0.2))
}

/// OpenCV's `groupRectangles`: cluster similar rectangles, keep clusters of more than
/// `threshold` members as their mean, and drop a cluster inside a stronger one.
pub fn group(rects: &[Rect], threshold: usize, eps: f64) -> Vec<(Rect, usize)> {
    let n = rects.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let similar = |a: &Rect, b: &Rect| {
        let delta = eps * (a.w.min(b.w) + a.h.min(b.h)) as f64 * 0.5;
        ((a.x - b.x).abs() as f64) <= delta
            && ((a.y - b.y).abs() as f64) <= delta
            && ((a.x + a.w - b.x - b.w).abs() as f64) <= delta
            && ((a.y + a.h - b.y - b.h).abs() as f64) <= delta
    };
    for i in 0..n {
        for j in i + 1..n {
            if similar(&rects[i], &rects[j]) {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                if a != b {
                    parent[a] = b;
                }
            }
        }
    }
    let mut clusters: std::collections::BTreeMap<usize, (f64, f64, f64, f64, usize)> =
        Default::default();
    for (i, r) in rects.iter().enumerate() {
        let e = clusters
            .entry(root(&mut parent, i))
            .or_insert((0.0, 0.0, 0.0, 0.0, 0));
        e.0 += r.x as f64;
        e.1 += r.y as f64;
        e.2 += r.w as f64;
        e.3 += r.h as f64;
        e.4 += 1;
    }
    let means: Vec<(Rect, usize)> = clusters
        .values()
        .map(|&(x, y, w, h, k)| {
            let k = k as f64;
            (
                Rect {
                    x: (x / k).round() as i64,
                    y: (y / k).round() as i64,
                    w: (w / k).round() as i64,
                    h: (h / k).round() as i64,
                },
                k as usize,
            )
        })
        .collect();
    let mut out = Vec::new();
    for (i, &(r1, n1)) in means.iter().enumerate() {
        if n1 <= threshold {
            continue;
        }
        let inside_stronger = means.iter().enumerate().any(|(j, &(r2, n2))| {
            if j == i || n2 <= threshold {
                return false;
            }
            let dx = (r2.w as f64 * eps).round() as i64;
            let dy = (r2.h as f64 * eps).round() as i64;
            r1.x >= r2.x - dx
                && r1.y >= r2.y - dy
                && r1.x + r1.w <= r2.x + r2.w + dx
                && r1.y + r1.h <= r2.y + r2.h + dy
                && (n2 > n1.max(3) || n1 < 3)
        });
        if !inside_stronger {
            out.push((r1, n1));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tilted_integral_is_cv_integral_s_definition() {
        // tilted(X, Y) = sum of I(x, y) over y < Y and |x - X + 1| <= Y - y - 1.
        let (w, h) = (9usize, 7usize);
        let g = Gray {
            width: w,
            height: h,
            pixels: (0..w * h).map(|i| (i * 37 % 251) as u8).collect(),
        };
        let t = tilted_integral(&g);
        for yy in 0..=h as i64 {
            for xx in 0..=w as i64 {
                let mut want = 0i64;
                for y in 0..yy {
                    for x in 0..w as i64 {
                        if (x - xx + 1).abs() < yy - y {
                            want += g.at(x, y);
                        }
                    }
                }
                assert_eq!(t[yy as usize * (w + 1) + xx as usize], want, "({xx}, {yy})");
            }
        }
    }

    #[test]
    fn resizing_to_the_same_size_is_the_identity_and_halving_averages() {
        let g = Gray {
            width: 4,
            height: 2,
            pixels: vec![0, 100, 200, 50, 0, 100, 200, 50],
        };
        assert_eq!(g.resized(4, 2).pixels, g.pixels);
        assert_eq!(g.resized(2, 1).pixels, vec![50, 125]);
    }
}
