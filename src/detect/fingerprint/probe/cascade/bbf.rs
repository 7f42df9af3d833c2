//! BBF cascades evaluated as jsfeat runs them (jsfeat `src/jsfeat_bbf.js`, a rewrite of ccv's
//! `ccv_bbf_detect_objects`; its image pyramid from `src/jsfeat_imgproc.js`, `resample` and
//! `pyrdown`), with jsfeat's own settings in its face-detection sample: an interval of 4 scales
//! per octave, the smallest face twice the window, `group_rectangles` with one neighbour.
//!
//! The pyramid: level 0 is the picture; levels 4, 8, 12, 16 are it area-resampled by
//! 2^(−i/5) (jsfeat's fixed-point `_resample_u8`); every level from 5 on is the level five
//! before halved (2 × 2 means, `pyrdown`), and from 10 on also halved at the three odd
//! offsets. A window at level i reads full-, half- and quarter-resolution pixels from levels i,
//! i + 5 and i + 10 (the quarter level at one of four offsets), steps four full-resolution
//! pixels, and skips the next window after a hit, exactly as jsfeat's loops do.

use super::eval::{Gray, Rect};
use crate::decode::models::cascade::bbf::{BbfCascade, Feature, Point};

/// One pyramid level: a grey image.
#[derive(Debug, Clone, Default)]
struct Level {
    w: usize,
    h: usize,
    data: Vec<u8>,
}

impl Level {
    fn new(w: usize, h: usize) -> Level {
        Level {
            w,
            h,
            data: vec![0; w * h],
        }
    }
}

/// jsfeat's `_resample_u8` (one channel): area averaging in 8-bit fixed point, the result
/// truncated as a `Uint8Array` store does.
fn resample(src: &Level, nw: usize, nh: usize) -> Level {
    let mut dst = Level::new(nw, nh);
    if !(src.h > nh && src.w > nw) || nw == 0 || nh == 0 {
        return dst;
    }
    let (w, h) = (src.w, src.h);
    let scale_x = w as f64 / nw as f64;
    let scale_y = h as f64 / nh as f64;
    let inv_scale_256 = (scale_x * scale_y * 65536.0) as i64 as f64;
    // (destination column, source column, weight of 256)
    let mut xofs: Vec<(usize, usize, i64)> = Vec::with_capacity(w * 2);
    for dx in 0..nw {
        let fsx1 = dx as f64 * scale_x;
        let fsx2 = fsx1 + scale_x;
        let sx1 = ((fsx1 + 1.0 - 1e-6) as i64).min(w as i64 - 1);
        let sx2 = (fsx2 as i64).min(w as i64 - 1);
        if sx1 as f64 > fsx1 {
            xofs.push((dx, (sx1 - 1) as usize, ((sx1 as f64 - fsx1) * 256.0) as i64));
        }
        for sx in sx1..sx2 {
            xofs.push((dx, sx as usize, 256));
        }
        if fsx2 - sx2 as f64 > 1e-3 {
            xofs.push((dx, sx2 as usize, ((fsx2 - sx2 as f64) * 256.0) as i64));
        }
    }
    let mut buf = vec![0i64; nw];
    let mut sum = vec![0i64; nw];
    let mut dy = 0usize;
    for sy in 0..h {
        let row = &src.data[sy * w..(sy + 1) * w];
        for &(dxn, sx, alpha) in &xofs {
            buf[dxn] += i64::from(row[sx]) * alpha;
        }
        if (dy + 1) as f64 * scale_y <= (sy + 1) as f64 || sy == h - 1 {
            let beta = ((((sy + 1) as f64 - (dy + 1) as f64 * scale_y).max(0.0)) * 256.0) as i64;
            let beta1 = 256 - beta;
            for dx in 0..nw {
                let v = if beta <= 0 {
                    (sum[dx] + buf[dx] * 256) as f64 / inv_scale_256
                } else {
                    (sum[dx] + buf[dx] * beta1) as f64 / inv_scale_256
                };
                if dy < nh {
                    dst.data[dy * nw + dx] = v.clamp(0.0, 255.0) as u8;
                }
                sum[dx] = if beta <= 0 { 0 } else { buf[dx] * beta };
                buf[dx] = 0;
            }
            dy += 1;
        } else {
            for dx in 0..nw {
                sum[dx] += buf[dx] * 256;
                buf[dx] = 0;
            }
        }
    }
    dst
}

/// jsfeat's `pyrdown`: half the size, 2 × 2 rounded means, starting `(sx, sy)` pixels in; the
/// last `2·sx` columns and `2·sy` rows of the result stay zero.
fn pyrdown(src: &Level, sx: usize, sy: usize) -> Level {
    let (w, h) = (src.w, src.h);
    let (w2, h2) = (w >> 1, h >> 1);
    let mut dst = Level::new(w2, h2);
    let (cw, ch) = (w2.saturating_sub(sx << 1), h2.saturating_sub(sy << 1));
    let s = &src.data;
    for y in 0..ch {
        let sline = sx + sy * w + y * (w << 1);
        for x in 0..cw {
            let i = sline + 2 * x;
            let v = (u32::from(s[i])
                + u32::from(s[i + 1])
                + u32::from(s[i + w])
                + u32::from(s[i + w + 1])
                + 2)
                >> 2;
            dst.data[y * w2 + x] = v as u8;
        }
    }
    dst
}

/// The pyramid of jsfeat's `build_pyramid` (`interval` 4): levels by index, the unused ones
/// empty, with its scale step and the number of scales searched.
struct Pyramid {
    levels: Vec<Level>,
    scale: f64,
    next: usize,
    scale_to: usize,
}

fn build_pyramid(g: &Gray, min_w: usize, min_h: usize) -> Pyramid {
    let src = Level {
        w: g.width,
        h: g.height,
        data: g.pixels.clone(),
    };
    let interval = 4usize;
    let scale = 2f64.powf(1.0 / (interval + 1) as f64);
    let next = interval + 1;
    let ratio = (src.w as f64 / min_w as f64).min(src.h as f64 / min_h as f64);
    let scale_to = ((ratio.ln() / scale.ln()) as i64).max(0) as usize;
    let count = (scale_to + next * 2) * 4;
    let mut levels = vec![Level::default(); count.max(1)];
    let resampled: Vec<Level> = (1..=interval)
        .map(|i| {
            let nw = (src.w as f64 / scale.powi(i as i32)) as usize;
            let nh = (src.h as f64 / scale.powi(i as i32)) as usize;
            resample(&src, nw, nh)
        })
        .collect();
    levels[0] = src;
    for (i, level) in (1..).zip(resampled) {
        if let Some(slot) = levels.get_mut(i << 2) {
            *slot = level;
        }
    }
    for i in next..scale_to + next * 2 {
        levels[i << 2] = pyrdown(&levels[(i - next) << 2], 0, 0);
    }
    for i in next * 2..scale_to + next * 2 {
        let src1 = &levels[(i - next) << 2];
        let halves = [
            pyrdown(src1, 1, 0),
            pyrdown(src1, 0, 1),
            pyrdown(src1, 1, 1),
        ];
        for (k, half) in halves.into_iter().enumerate() {
            levels[(i << 2) + 1 + k] = half;
        }
    }
    Pyramid {
        levels,
        scale,
        next,
        scale_to,
    }
}

/// A hit before grouping, in picture pixels (jsfeat keeps fractions).
#[derive(Debug, Clone, Copy)]
struct Hit {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    neighbors: usize,
}

/// JavaScript's comparisons of a pixel read that may fall outside its array (`undefined`,
/// which compares false with anything).
fn le(a: Option<i32>, b: Option<i32>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a <= b)
}
fn lt(a: Option<i32>, b: Option<i32>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a < b)
}

/// Whether feature `f` holds where `read` reads the window's pixels, as jsfeat decides it:
/// every positive point brighter than every negative one, given up at the first pair that
/// shows otherwise (points on no level, `z = -1`, are skipped).
fn holds(f: &Feature, read: impl Fn(Point) -> Option<i32>) -> bool {
    let mut pmin = read(f.positive[0]);
    let mut nmax = read(f.negative[0]);
    if le(pmin, nmax) {
        return false;
    }
    for (p, n) in f.positive.iter().zip(&f.negative).skip(1) {
        if p.z >= 0 {
            let v = read(*p);
            if lt(v, pmin) {
                if le(v, nmax) {
                    return false;
                }
                pmin = v;
            }
        }
        if n.z >= 0 {
            let v = read(*n);
            if lt(nmax, v) {
                if le(pmin, v) {
                    return false;
                }
                nmax = v;
            }
        }
    }
    true
}

/// jsfeat's `detect`: every window of every scale; returns the hits and the feature
/// evaluations spent.
fn detect(p: &Pyramid, c: &BbfCascade, budget: &mut u64) -> Option<Vec<Hit>> {
    let (next, scale) = (p.next, p.scale);
    let dx = [0usize, 1, 0, 1];
    let dy = [0usize, 0, 1, 1];
    let mut hits = Vec::new();
    let mut scale_x = 1.0f64;
    for i in 0..p.scale_to {
        let i4 = i << 2;
        let l0 = p.levels.get(i4)?;
        let l1 = p.levels.get(i4 + (next << 2))?;
        let l2q0 = p.levels.get(i4 + (next << 3))?;
        let qw = l2q0.w as i64 - (c.width >> 2) as i64;
        let qh = l2q0.h as i64 - (c.height >> 2) as i64;
        let steps = [l0.w as i64, l1.w as i64, l2q0.w as i64];
        for q in 0..4 {
            let l2 = p.levels.get(i4 + (next << 3) + q)?;
            let planes = [l0, l1, l2];
            let at = |z: i32, base: i64, x: i32, y: i32| -> Option<i32> {
                let zi = usize::try_from(z).ok()?;
                let idx = base + i64::from(x) + i64::from(y) * steps[zi];
                planes[zi]
                    .data
                    .get(usize::try_from(idx).ok()?)
                    .map(|&v| i32::from(v))
            };
            // jsfeat's running offsets: after a hit it skips a window, and the skip carries
            // into the next row's start (its loops do so; kept for the same windows).
            let mut o = [
                (dx[q] * 2) as i64 + (dy[q] * 2) as i64 * steps[0],
                dx[q] as i64 + dy[q] as i64 * steps[1],
                0i64,
            ];
            let paddings = [steps[0] * 4 - qw * 4, steps[1] * 2 - qw * 2, steps[2] - qw];
            for y in 0..qh.max(0) {
                let mut x = 0i64;
                while x < qw {
                    let mut pass = true;
                    for stage in &c.stages {
                        let mut sum = 0.0f64;
                        for (k, f) in stage.features.iter().enumerate() {
                            *budget = budget.checked_sub(1)?;
                            let read = |p: Point| at(p.z, o[usize::try_from(p.z).ok()?], p.x, p.y);
                            sum += f64::from(stage.alpha[(k << 1) + usize::from(holds(f, read))]);
                        }
                        if sum < f64::from(stage.threshold) {
                            pass = false;
                            break;
                        }
                    }
                    if pass {
                        hits.push(Hit {
                            x: (x * 4 + dx[q] as i64 * 2) as f64 * scale_x,
                            y: (y * 4 + dy[q] as i64 * 2) as f64 * scale_x,
                            w: f64::from(c.width) * scale_x,
                            h: f64::from(c.height) * scale_x,
                            neighbors: 1,
                        });
                        x += 1;
                        o[0] += 4;
                        o[1] += 2;
                        o[2] += 1;
                    }
                    x += 1;
                    o[0] += 4;
                    o[1] += 2;
                    o[2] += 1;
                }
                o[0] += paddings[0];
                o[1] += paddings[1];
                o[2] += paddings[2];
            }
        }
        scale_x *= scale;
    }
    Some(hits)
}

/// jsfeat's `_group_func`, as JavaScript evaluates it (its last two clauses parse as
/// `(r2.width <= r1.width·1.5 + 0.5) | 0` and a truthy `(r2.width·1.5 + 0.5) | 0`).
fn near(r1: &Hit, r2: &Hit) -> bool {
    let distance = (r1.w * 0.25 + 0.5) as i64 as f64;
    r2.x <= r1.x + distance
        && r2.x >= r1.x - distance
        && r2.y <= r1.y + distance
        && r2.y >= r1.y - distance
        && r2.w <= r1.w * 1.5 + 0.5
        && (r2.w * 1.5 + 0.5) as i64 != 0
}

/// jsfeat's `group_rectangles` (OpenCV's union-find grouping, then the small boxes inside
/// larger ones dropped), with `min_neighbors` 1.
fn group(rects: &[Hit]) -> Vec<Hit> {
    let n = rects.len();
    let mut parent: Vec<Option<usize>> = vec![None; n];
    let mut rank: Vec<i64> = vec![0; n];
    let root_of = |parent: &[Option<usize>], mut i: usize| {
        while let Some(p) = parent[i] {
            i = p;
        }
        i
    };
    for i in 0..n {
        let mut root = root_of(&parent, i);
        for j in 0..n {
            if i == j || !near(&rects[i], &rects[j]) {
                continue;
            }
            let root2 = root_of(&parent, j);
            if root2 == root {
                continue;
            }
            if rank[root] > rank[root2] {
                parent[root2] = Some(root);
            } else {
                parent[root] = Some(root2);
                if rank[root] == rank[root2] {
                    rank[root2] += 1;
                }
                root = root2;
            }
            // Compress the paths from j and from i to the root.
            for start in [j, i] {
                let mut node = start;
                while let Some(p) = parent[node] {
                    parent[node] = Some(root);
                    node = p;
                }
            }
        }
    }
    // Class labels in order of first appearance, as jsfeat's `~class_idx++` gives them.
    let mut label: Vec<Option<usize>> = vec![None; n];
    let mut classes = 0usize;
    let idx: Vec<usize> = (0..n)
        .map(|i| {
            *label[root_of(&parent, i)].get_or_insert_with(|| {
                classes += 1;
                classes - 1
            })
        })
        .collect();
    let mut comps = vec![(0usize, 0.0f64, 0.0f64, 0.0f64, 0.0f64); classes];
    for (i, r) in rects.iter().enumerate() {
        let c = &mut comps[idx[i]];
        c.0 += 1;
        c.1 += r.x;
        c.2 += r.y;
        c.3 += r.w;
        c.4 += r.h;
    }
    let seq: Vec<Hit> = comps
        .iter()
        .filter(|c| c.0 >= 1)
        .map(|&(k, x, y, w, h)| {
            let n = k as f64;
            Hit {
                x: (x * 2.0 + n) / (2.0 * n),
                y: (y * 2.0 + n) / (2.0 * n),
                w: (w * 2.0 + n) / (2.0 * n),
                h: (h * 2.0 + n) / (2.0 * n),
                neighbors: k,
            }
        })
        .collect();
    seq.iter()
        .enumerate()
        .filter(|&(i, r1)| {
            !seq.iter().enumerate().any(|(j, r2)| {
                let distance = (r2.w * 0.25 + 0.5) as i64 as f64;
                i != j
                    && r1.x >= r2.x - distance
                    && r1.y >= r2.y - distance
                    && r1.x + r1.w <= r2.x + r2.w + distance
                    && r1.y + r1.h <= r2.y + r2.h + distance
                    && (r2.neighbors > 3.max(r1.neighbors) || r1.neighbors < 3)
            })
        })
        .map(|(_, r)| *r)
        .collect()
}

/// The raw hits of `c` in `g` over jsfeat's pyramid (the smallest object twice the window);
/// `None` when `budget` runs out.
fn hits(c: &BbfCascade, g: &Gray, budget: &mut u64) -> Option<Vec<Hit>> {
    let p = build_pyramid(g, c.width as usize * 2, c.height as usize * 2);
    detect(&p, c, budget)
}

/// Why a BBF cascade was not evaluated to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// It spent the whole feature-evaluation budget.
    Budget,
}

/// The grouped detections of `c` in `g`, as jsfeat's face-detection sample finds them (the
/// smallest object twice the window), rounded to whole pixels, with each one's neighbour
/// count. `budget` bounds the feature evaluations over all calls.
pub fn detect_objects(
    c: &BbfCascade,
    g: &Gray,
    budget: &mut u64,
) -> Result<Vec<(Rect, usize)>, Cut> {
    let hits = hits(c, g, budget).ok_or(Cut::Budget)?;
    Ok(group(&hits)
        .into_iter()
        .map(|h| {
            (
                Rect {
                    x: h.x.round() as i64,
                    y: h.y.round() as i64,
                    w: h.w.round() as i64,
                    h: h.h.round() as i64,
                },
                h.neighbors,
            )
        })
        .collect())
}

/// The raw hits (before grouping) and grouped detections with their fractions, as jsfeat
/// returns them, for checking against jsfeat (scripts/compare-bbf-jsfeat.js).
pub fn comparison_record(c: &BbfCascade, g: &Gray) -> serde_json::Value {
    let mut unbounded = u64::MAX;
    let hits = hits(c, g, &mut unbounded).unwrap_or_default();
    let as_list = |v: &[Hit]| -> Vec<[f64; 4]> { v.iter().map(|h| [h.x, h.y, h.w, h.h]).collect() };
    serde_json::json!({
        "raw": as_list(&hits),
        "grouped": as_list(&group(&hits)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pyrdown` averages 2 × 2 blocks with rounding and leaves the offset rows and columns
    /// zero; `resample` keeps a flat picture flat.
    #[test]
    fn the_pyramid_operations_follow_jsfeat() {
        let src = Level {
            w: 4,
            h: 4,
            data: (0..16).map(|v| v as u8 * 10).collect(),
        };
        let d = pyrdown(&src, 0, 0);
        // (0 + 10 + 40 + 50 + 2) >> 2 = 25
        assert_eq!(d.data, vec![25, 45, 105, 125]);
        let d = pyrdown(&src, 1, 1);
        assert_eq!(d.data, vec![0, 0, 0, 0]);
        // An offset of one leaves 2 - 2 = 0 columns or rows to fill at this size.
        assert_eq!(pyrdown(&src, 1, 0).data, vec![0, 0, 0, 0]);
        let wide = Level {
            w: 8,
            h: 2,
            data: (0..16).map(|v| v as u8 * 10).collect(),
        };
        // One column in: (10 + 20 + 90 + 100 + 2) >> 2 = 55, then (30 + 40 + 110 + 120 + 2) >> 2
        // = 75; the last two stay zero.
        assert_eq!(pyrdown(&wide, 1, 0).data, vec![55, 75, 0, 0]);
        let flat = Level {
            w: 40,
            h: 30,
            data: vec![77; 1200],
        };
        let r = resample(&flat, 34, 26);
        assert!(
            r.data.iter().all(|&v| (76..=77).contains(&v)),
            "{:?}",
            &r.data[..8]
        );
    }
}
