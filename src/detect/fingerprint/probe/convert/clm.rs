//! clmtrackr models ([`crate::decode::models::clm`]) to ONNX: the landmark search of one
//! fitting step, as clmtrackr's `clm.js` runs it with its SVM patch experts
//! (`svmfilter_fft.js`), at the mean shape.
//!
//! The graph takes a face crop, RGB 0–255, (1, 3, T, T), and does what `clm.js` does to the
//! picture it tracks: grey levels `0.3 R + 0.59 G + 0.11 B`, drawn on the sketch canvas
//! (`canvasSize` plus a search window and a patch, `sketchW`/`sketchH`), where a patch of
//! `patchSize + searchWindow − 1` pixels is cut around each landmark of the mean shape
//! (`Math.round(x − side / 2)`), scaled to 0..1 by its own minimum and maximum, and scored at
//! every position of the search window by the landmark's linear filter and bias, then
//! `1 / (1 + e^−(r − 1))` and scaled to 0..1 again (`getResponses`). Outputs: those response
//! maps (`patch_responses`, (1, landmarks, window²), each row-major) and, per landmark, the position of
//! its map's peak in the crop's pixels (`landmarks`, (1, 2 × landmarks), x and y interleaved):
//! what the mean-shift step moves each landmark towards, before the shape model regularises
//! it. The shape model (PCA), the Gaussian prior and the tracking score are not converted.
//!
//! Where the crop falls in the model's frame ([`placement`]): as clmtrackr places a face it
//! found, by the eyes the model's `hints` give, the crop's eyes where faces are drawn and
//! cropped (so that the probe's drawn face lies on the mean shape). The canvas around the crop
//! repeats its edge pixels.
//!
//! MOSSE patch experts (`mosse.js`, whose filters are kept in the frequency domain) are run as
//! the `mosse` package runs them: the patch (of the search window's side) log-scaled,
//! normalised to mean 0 and norm 1 and multiplied by a cosine window, then correlated
//! circularly with the filter's spatial kernel (`IFFT(FFT(patch) · H)`, [`mosse_kernel`]), and
//! the map scaled to 0..1.

use super::builder::{Attr, Builder};
use super::onnx_proto::data_type;
use super::ConvertError;
use crate::decode::models::clm::{read, ClmModel, PatchExperts};

/// The search window, in pixels: clmtrackr's `searchWindow` parameter is 11 by default; 15
/// keeps the probe's shift of a face by a sixteenth of its picture inside the window.
pub const SEARCH_WINDOW: usize = 15;
/// The crop's side over the mean shape's width, for a model without eyes in its hints.
pub const BOX_OVER_SHAPE: f64 = 1.3;
/// Where a face crop's eyes are: their distance apart over the crop's width.
pub const EYES_APART: f64 = 0.3;
/// Where a face crop's eyes are: their height over the crop's.
pub const EYE_LINE: f64 = 0.45;

/// `Math.round`: halves go up.
fn js_round(v: f64) -> i64 {
    (v + 0.5).floor() as i64
}

/// Where the converted graph reads the model: the crop's side and its top-left corner on the
/// working canvas, the canvas's width and height, and each landmark's patch corner. The
/// canvas is the model's frame (`canvasSize`, mean shape in its pixels) moved by whole pixels
/// so that the crop and every patch fall on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// Side of the face crop the graph takes, in pixels.
    pub side: usize,
    /// Top-left corner of the crop on the canvas, (x, y).
    pub at: (i64, i64),
    /// The working canvas, width and height.
    pub canvas: (usize, usize),
    /// Top-left corner of each landmark's patch on the canvas, (x, y).
    pub patches: Vec<(i64, i64)>,
    /// The model frame's origin on the canvas, (x, y).
    pub origin: (i64, i64),
}

/// The placement of a face crop and of the patches of `pw` pixels for `m`. With the eyes
/// given (`hints`), the crop is placed as clmtrackr places a face it found, by its eyes: the
/// crop's eyes (at [`EYE_LINE`] of its height, [`EYES_APART`] of its width apart, centred, as
/// faces are drawn and cropped) on the model's; else the crop is centred on the mean shape, its
/// side [`BOX_OVER_SHAPE`] times the mean shape's width. Errors: a mean shape without extent,
/// or a crop of over 1024 pixels.
pub fn placement(m: &ClmModel, pw: usize) -> Result<Placement, ConvertError> {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in &m.mean_shape {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let (side, corner) = match m.eyes {
        Some((l, r)) if (r.0 - l.0).abs() >= 2.0 => {
            let side = ((r.0 - l.0).abs() / EYES_APART).round();
            let mid = ((l.0 + r.0) / 2.0, (l.1 + r.1) / 2.0);
            (side, (mid.0 - side / 2.0, mid.1 - EYE_LINE * side))
        }
        _ => {
            let side = (BOX_OVER_SHAPE * (x1 - x0)).round();
            (
                side,
                ((x0 + x1) / 2.0 - side / 2.0, (y0 + y1) / 2.0 - side / 2.0),
            )
        }
    };
    if !(4.0..=1024.0).contains(&side) {
        return Err(ConvertError::Graph(format!(
            "clmtrackr: a face crop of {side} pixels from the mean shape"
        )));
    }
    let side = side as usize;
    let at = (js_round(corner.0), js_round(corner.1));
    let half = pw as f64 / 2.0;
    let patches: Vec<(i64, i64)> = m
        .mean_shape
        .iter()
        .map(|&(x, y)| (js_round(x - half), js_round(y - half)))
        .collect();
    // The canvas: everything read, moved to start at (0, 0).
    let starts = patches.iter().copied().chain([at]);
    let left = starts.clone().map(|p| p.0).min().unwrap_or(0);
    let top = starts.map(|p| p.1).min().unwrap_or(0);
    let ends = patches
        .iter()
        .map(|&(x, y)| (x + pw as i64, y + pw as i64))
        .chain([(at.0 + side as i64, at.1 + side as i64)]);
    let right = ends.clone().map(|p| p.0).max().unwrap_or(0);
    let bottom = ends.map(|p| p.1).max().unwrap_or(0);
    let moved = |(x, y): (i64, i64)| (x - left, y - top);
    Ok(Placement {
        side,
        at: moved(at),
        canvas: ((right - left) as usize, (bottom - top) as usize),
        patches: patches.into_iter().map(moved).collect(),
        origin: moved((0, 0)),
    })
}

/// How one kind of patch expert is turned into graph nodes.
enum Experts<'a> {
    /// Linear filters over min-max scaled patches (`svmfilter_fft.js`).
    Svm {
        weights: &'a [Vec<f32>],
        bias: &'a [f32],
    },
    /// Spatial kernels of the MOSSE filters, for a circular correlation over log-scaled,
    /// normalised, cosine-windowed patches (`mosse.js`' `getResponse`).
    Mosse { kernels: Vec<f32> },
}

/// The real part of the inverse 2-D DFT of an `n` × `n` filter (row-major, as the `mosse`
/// package's `fft2d` lays it out, forward transform `e^−i`), each cell moved to
/// `(−y mod n, −x mod n)`: the kernel whose plain correlation with a patch repeated
/// periodically gives the circular convolution `IFFT(FFT(patch) · H)`.
pub fn mosse_kernel(real: &[f32], imag: &[f32], n: usize) -> Vec<f32> {
    let mut k = vec![0f32; n * n];
    let scale = 1.0 / (n * n) as f64;
    let tau = std::f64::consts::TAU / n as f64;
    for y in 0..n {
        for x in 0..n {
            let mut acc = 0f64;
            for v in 0..n {
                for u in 0..n {
                    let t = tau * ((v * y + u * x) % n) as f64;
                    let (hr, hi) = (f64::from(real[v * n + u]), f64::from(imag[v * n + u]));
                    acc += hr * t.cos() - hi * t.sin();
                }
            }
            k[((n - y) % n) * n + (n - x) % n] = (acc * scale) as f32;
        }
    }
    k
}

/// `x` scaled to 0..1 over `axes`: `(x − min) / max(max − min, tiny)`, as clmtrackr scales
/// its patches and response maps.
fn unit_range(b: &mut Builder, x: &str, axes: Vec<i64>, tiny: &str) -> String {
    let keep = |axes: &[i64]| {
        vec![
            ("axes", Attr::Ints(axes.to_vec())),
            ("keepdims", Attr::Int(1)),
        ]
    };
    let lo = b.op("ReduceMin", &[x], keep(&axes));
    let hi = b.op("ReduceMax", &[x], keep(&axes));
    let span = b.op("Sub", &[&hi, &lo], vec![]);
    let span = b.op("Max", &[&span, tiny], vec![]);
    let centred = b.op("Sub", &[x, &lo], vec![]);
    b.op("Div", &[&centred, &span], vec![])
}

/// Convert a clmtrackr model script, with a note of what was converted. Errors: what the
/// reader refuses, patch experts other than SVM and MOSSE (named), or a mean shape off its
/// canvas.
pub fn convert(bytes: &[u8]) -> Result<(Vec<u8>, String), ConvertError> {
    if memchr::memmem::find(bytes, b"patchModel").is_none() {
        return Err(ConvertError::Graph(
            "of the models scripts embed, clmtrackr's are converted (a Jeeliz network's weights are packed WebGL textures; a BBF cascade is evaluated, not converted)".into(),
        ));
    }
    let m = read(bytes)?;
    let ps = m.patch_size;
    let (experts, window, kind) = match &m.experts {
        PatchExperts::Svm { weights, bias } => {
            (Experts::Svm { weights, bias }, SEARCH_WINDOW, "SVM")
        }
        // clm.js: a MOSSE model's search window is its patch.
        PatchExperts::Mosse { real, imag } => {
            let kernels = real
                .iter()
                .zip(imag)
                .flat_map(|(re, im)| mosse_kernel(re, im, ps))
                .collect();
            (Experts::Mosse { kernels }, ps, "MOSSE")
        }
        PatchExperts::Other(t) => {
            return Err(ConvertError::Operator {
                op: format!("clmtrackr {t} patch experts"),
                detail: "clmtrackr's own code knows SVM and MOSSE".into(),
            })
        }
    };
    let pw = match experts {
        Experts::Svm { .. } => ps + window - 1,
        Experts::Mosse { .. } => window,
    };
    let place = placement(&m, pw)?;
    let n = m.landmarks as i64;
    let (ps, pw) = (ps as i64, pw as i64);
    let (cw, ch) = (place.canvas.0 as i64, place.canvas.1 as i64);
    let side = place.side as i64;
    let (ox, oy) = place.at;
    let mut b = Builder::default();
    b.io(false, "input", data_type::FLOAT, Some(&[1, 3, side, side]));
    // clm.js: grayscaleColor = r*0.3 + g*0.59 + b*0.11.
    let grey_w = b.const_f32(vec![1, 3, 1, 1], &[0.3, 0.59, 0.11])?;
    let grey = b.op("Conv", &["input", &grey_w], vec![]);
    let pads = b.const_i64(&[0, 0, oy, ox, 0, 0, ch - oy - side, cw - ox - side])?;
    let canvas = b.op("Pad", &[&grey, &pads], vec![("mode", Attr::Str("edge"))]);
    let flat_shape = b.const_i64(&[-1])?;
    let flat = b.op("Reshape", &[&canvas, &flat_shape], vec![]);
    // Each landmark's patch as a row of pw * pw pixel indices into the canvas.
    let mut index = Vec::with_capacity((n * pw * pw) as usize);
    for &(px, py) in &place.patches {
        for y in 0..pw {
            for x in 0..pw {
                index.push((py + y) * cw + px + x);
            }
        }
    }
    let index_name = b.fresh();
    b.initializer(
        &index_name,
        data_type::INT64,
        vec![n, pw * pw],
        index.iter().flat_map(|v| v.to_le_bytes()).collect(),
    )?;
    let patches = b.op("Gather", &[&flat, &index_name], vec![]);
    let tiny = b.scalar_f32(1e-12)?;
    let nchw = b.const_i64(&[1, n, pw, pw])?;
    let reduce = |axes: Vec<i64>| vec![("axes", Attr::Ints(axes)), ("keepdims", Attr::Int(1))];
    let r = match experts {
        Experts::Svm { weights, bias } => {
            // normalizePatches: (v - min) / (max - min) over the patch.
            let unit = unit_range(&mut b, &patches, vec![1], &tiny);
            let unit = b.op("Reshape", &[&unit, &nchw], vec![]);
            // Every landmark's filter over its own patch: a grouped convolution (the FFT
            // product of svmfilter_fft.js is a correlation with the filter as listed,
            // row-major).
            let flat_w: Vec<f32> = weights.iter().flatten().copied().collect();
            let w = b.const_f32(vec![n, 1, ps, ps], &flat_w)?;
            let bvec = b.const_f32(vec![n], bias)?;
            let r = b.op(
                "Conv",
                &[&unit, &w, &bvec],
                vec![
                    ("group", Attr::Int(n)),
                    ("kernel_shape", Attr::Ints(vec![ps, ps])),
                ],
            );
            // logisticResponse: 1 / (1 + exp(-(r - 1))).
            let one = b.scalar_f32(1.0)?;
            let r = b.op("Sub", &[&r, &one], vec![]);
            b.op("Sigmoid", &[&r], vec![])
        }
        Experts::Mosse { kernels } => {
            // preprocess: log(v + 1), mean 0, norm 1; then the cosine window.
            let one = b.scalar_f32(1.0)?;
            let shifted = b.op("Add", &[&patches, &one], vec![]);
            let logs = b.op("Log", &[&shifted], vec![]);
            let mean = b.op("ReduceMean", &[&logs], reduce(vec![1]));
            let centred = b.op("Sub", &[&logs, &mean], vec![]);
            let norm = b.op("ReduceL2", &[&centred], reduce(vec![1]));
            let norm = b.op("Max", &[&norm, &tiny], vec![]);
            let unit = b.op("Div", &[&centred, &norm], vec![]);
            let last = (pw - 1) as f64;
            let mut cosine = Vec::with_capacity((pw * pw) as usize);
            for y in 0..pw {
                for x in 0..pw {
                    let (sx, sy) = (
                        (std::f64::consts::PI * x as f64 / last).sin(),
                        (std::f64::consts::PI * y as f64 / last).sin(),
                    );
                    cosine.push(sx.min(sy) as f32);
                }
            }
            let cosine = b.const_f32(vec![pw * pw], &cosine)?;
            let windowed = b.op("Mul", &[&unit, &cosine], vec![]);
            let windowed = b.op("Reshape", &[&windowed, &nchw], vec![]);
            // The circular correlation: the patch repeated, then a plain one.
            let reps = b.const_i64(&[1, 1, 2, 2])?;
            let tiled = b.op("Tile", &[&windowed, &reps], vec![]);
            let starts = b.const_i64(&[0, 0])?;
            let ends = b.const_i64(&[2 * pw - 1, 2 * pw - 1])?;
            let axes = b.const_i64(&[2, 3])?;
            let periodic = b.op("Slice", &[&tiled, &starts, &ends, &axes], vec![]);
            let w = b.const_f32(vec![n, 1, ps, ps], &kernels)?;
            b.op(
                "Conv",
                &[&periodic, &w],
                vec![
                    ("group", Attr::Int(n)),
                    ("kernel_shape", Attr::Ints(vec![ps, ps])),
                ],
            )
        }
    };
    // Each map scaled to 0..1 (inplaceNormalizeFilterMatrix, normalizeFilterMatrix).
    let maps = unit_range(&mut b, &r, vec![2, 3], &tiny);
    // One row per landmark (so that the maps are not read as a detector's score map).
    let win = window as i64;
    let rows = b.const_i64(&[1, n, win * win])?;
    b.node("Reshape", &[&maps, &rows], &["patch_responses"], vec![]);
    // Each map's peak (the first, as ArgMax breaks ties), as a position in the crop: map cell
    // l is the mean position - (window - 1) / 2 + l (gpopt's updatePosition at scale 1).
    let peak = b.op(
        "ArgMax",
        &["patch_responses"],
        vec![("axis", Attr::Int(2)), ("keepdims", Attr::Int(0))],
    );
    let w_i = b.const_i64(&[win])?;
    let px = b.op("Mod", &[&peak, &w_i], vec![]);
    let py = b.op("Div", &[&peak, &w_i], vec![]);
    let float = || vec![("to", Attr::Int(i64::from(data_type::FLOAT)))];
    let px = b.op("Cast", &[&px], float());
    let py = b.op("Cast", &[&py], float());
    let half = (window as f64 - 1.0) / 2.0;
    // In the crop's pixels: canvas = model frame + origin; crop = canvas - at.
    let base = |f: &dyn Fn(&(f64, f64)) -> f64, o: i64| -> Vec<f32> {
        m.mean_shape
            .iter()
            .map(|p| (f(p) - half + o as f64) as f32)
            .collect()
    };
    let bx = b.const_f32(vec![1, n], &base(&|p| p.0, place.origin.0 - ox))?;
    let by = b.const_f32(vec![1, n], &base(&|p| p.1, place.origin.1 - oy))?;
    let x = b.op("Add", &[&px, &bx], vec![]);
    let y = b.op("Add", &[&py, &by], vec![]);
    let col = b.const_i64(&[1, n, 1])?;
    let x = b.op("Reshape", &[&x, &col], vec![]);
    let y = b.op("Reshape", &[&y, &col], vec![]);
    let xy = b.op("Concat", &[&x, &y], vec![("axis", Attr::Int(2))]);
    let pairs = b.const_i64(&[1, 2 * n])?;
    b.node("Reshape", &[&xy, &pairs], &["landmarks"], vec![]);
    b.io(true, "landmarks", data_type::FLOAT, Some(&[1, 2 * n]));
    b.io(
        true,
        "patch_responses",
        data_type::FLOAT,
        Some(&[1, n, win * win]),
    );
    let note = format!(
        "converted from clmtrackr ({n} {kind} patch experts of {ps}x{ps}, searched over {window}x{window} around the mean shape on its {cw}x{ch} canvas, the face crop {side}x{side}; the shape model not converted)"
    );
    Ok((b.finish("banwatch-clmtrackr"), note))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(points: &[(f64, f64)]) -> ClmModel {
        ClmModel {
            experts: PatchExperts::Svm {
                weights: vec![vec![0.0; 9]; points.len()],
                bias: vec![0.0; points.len()],
            },
            landmarks: points.len(),
            patch_size: 3,
            canvas: (40, 40),
            mean_shape: points.to_vec(),
            eyes: None,
        }
    }

    #[test]
    fn the_crop_is_placed_by_the_eyes_or_else_on_the_mean_shape() {
        let mut m = model(&[(10.0, 12.0), (30.0, 12.0), (20.0, 30.0)]);
        let p = placement(&m, 7).unwrap();
        // Mean shape 20 wide: a 26-pixel crop centred on (20, 21), at (7, 8) in the model's
        // frame; the first patch at Math.round(10 - 3.5) = 7 (halves go up), 9.
        assert_eq!(p.side, 26);
        // The canvas starts at the crop's corner (the patches lie inside it).
        assert_eq!(p.origin, (-7, -8));
        assert_eq!(p.at, (0, 0));
        assert_eq!(p.patches[0], (0, 1));
        // The patch of (30, 12) ends at x 34, one past the crop.
        assert_eq!(p.canvas, (27, 26));
        // Eyes 12 pixels apart on y = 12: a 40-pixel crop, its eye line at 18 of it.
        m.eyes = Some(((14.0, 12.0), (26.0, 12.0)));
        let p = placement(&m, 7).unwrap();
        assert_eq!(p.side, 40);
        // Crop corner (0, -6) in the frame; the canvas starts there.
        assert_eq!(p.origin, (0, 6));
        assert_eq!(p.patches[0], (7, 15));
        assert_eq!(p.canvas, (40, 40));
        // A mean shape without extent has no crop.
        let e = placement(&model(&[(5.0, 5.0), (5.0, 5.0)]), 7).unwrap_err();
        assert!(e.to_string().contains("face crop of 0 pixels"), "{e}");
    }
}
