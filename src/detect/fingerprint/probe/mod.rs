//! The behavioural probe: run an ONNX model in ONNX Runtime (through `ort`, loaded dynamically
//! from the `onnxruntime` wheel's library) on generated inputs and read what it does.
//!
//! Structure says what a model *looks like*; the probe says how it *behaves*. The property that
//! separates the classes that look alike is how the output moves when the face moves:
//!
//! - an **identity embedding** barely changes when the face is mirrored or shifted a few pixels
//!   (identity is the same), yet differs between two different faces;
//! - a **landmark** or keypoint vector moves *with* the face: shift the image right and the
//!   x-coordinates grow while the y-coordinates stay (equivariance);
//! - a broken or untrained export gives the same output whatever the input.
//!
//! Probe faces are drawn here (ellipse, eyes, brows, nose, mouth, with varied proportions and
//! tones) with the `image` crate: synthetic, so no real face is ever used or stored. The probe
//! never executes anything but ONNX operators: no custom-op libraries are registered.

use super::Classification;

pub mod cascade;
pub mod convert;
mod images;
mod inputs;
mod isolate;
mod layout;
mod measure;
mod report;
mod signal;
#[cfg(test)]
mod tests;

use crate::decode::models::{onnx, ModelFormat, ModelInfo};
use crate::model::Technique;
use image::{imageops, Rgb, RgbImage};
use images::*;
use inputs::*;
pub use inputs::{SideInput, SideValue};
use isolate::*;
use layout::*;
use measure::*;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{Tensor, ValueType};
pub use report::*;
pub use signal::SignalResponse;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why a model was not probed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// No ONNX Runtime library was found.
    #[error("ONNX Runtime library not found (set ORT_DYLIB_PATH or run scripts/setup.sh)")]
    NoRuntime,
    /// The library could not be loaded.
    #[error("ONNX Runtime library {path}: {message}")]
    Load {
        /// The library file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The model is of a kind the probe does not run (the reason says which).
    #[error("model not probed: {0}")]
    Unsupported(String),
    /// ONNX Runtime refused or failed the model.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// Reading the model from standard input or writing the report failed (worker side).
    #[error("probe worker: {0}")]
    Io(String),
}

/// The child side of an isolated probe (`banwatch probe-worker`): the model on standard input,
/// the report as one JSON line on standard output. Returns the exit code.
pub fn worker_main() -> Result<u8, ProbeError> {
    use std::io::Read;
    let mut model = Vec::new();
    std::io::stdin()
        .take(MAX_PROBE_BYTES as u64 + 1)
        .read_to_end(&mut model)
        .map_err(|e| ProbeError::Io(e.to_string()))?;
    limit_memory(model.len())?;
    let report = Probe::load(None)?.run_here(&model)?;
    let line = serde_json::to_string(&report).map_err(|e| ProbeError::Io(e.to_string()))?;
    println!("{line}");
    Ok(0)
}

/// Address space a probe worker may use: [`WORKER_MEMORY_BASE`] plus
/// [`WORKER_MEMORY_PER_MODEL_BYTE`] times the model's size. ONNX Runtime ran every real model
/// in the corpus (up to 54 MB) within 1 GB; an allocation past the limit fails inside ONNX
/// Runtime, which reports it as an error for that model.
pub const WORKER_MEMORY_BASE: u64 = 1536 << 20;
/// See [`WORKER_MEMORY_BASE`].
pub const WORKER_MEMORY_PER_MODEL_BYTE: u64 = 6;

/// Set this process's address-space limit (`RLIMIT_AS`, soft and hard) for probing a model of
/// `model_bytes` bytes. Only the worker calls this: it cannot be raised again.
fn limit_memory(model_bytes: usize) -> Result<(), ProbeError> {
    let limit = WORKER_MEMORY_BASE
        .saturating_add(WORKER_MEMORY_PER_MODEL_BYTE.saturating_mul(model_bytes as u64));
    let (_, hard) = rlimit::Resource::AS
        .get()
        .map_err(|e| ProbeError::Io(format!("reading the memory limit: {e}")))?;
    let limit = limit.min(hard);
    rlimit::Resource::AS
        .set(limit, limit)
        .map_err(|e| ProbeError::Io(format!("setting the memory limit: {e}")))
}

/// Most elements a graph may ask one `ConstantOfShape`/`Expand` to make (1 GiB of float32);
/// no real network comes near it, and a few bytes of ONNX asking for billions is a bomb.
pub const MAX_CONSTANT_ELEMENTS: u64 = 1 << 28;

/// Refuse a graph that asks, in its constants, for an allocation past
/// [`MAX_CONSTANT_ELEMENTS`] (read from the parser's [`onnx::CONSTANT_SHAPE_FACT`]).
fn check_allocations(info: &ModelInfo) -> Result<(), ProbeError> {
    let asked = info
        .facts
        .get(onnx::CONSTANT_SHAPE_FACT)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if asked > MAX_CONSTANT_ELEMENTS {
        return Err(ProbeError::Unsupported(format!(
            "the graph asks for a constant of {asked} elements (over {MAX_CONSTANT_ELEMENTS}); not run"
        )));
    }
    Ok(())
}

fn rt(e: impl std::fmt::Display) -> ProbeError {
    // ONNX Runtime's messages run to source paths and several lines: keep the first clause.
    let full = e.to_string();
    if full.contains("Failed to allocate memory") {
        return ProbeError::Runtime(
            "the model asked for more memory than the probe allows; not run to the end".into(),
        );
    }
    let line = full.lines().next().unwrap_or("").trim();
    let short: String = line.chars().take(200).collect();
    ProbeError::Runtime(short)
}

/// One output tensor: name, concrete shape, values.
type Output = (String, Vec<i64>, Vec<f32>);
type Outputs = Vec<Output>;

/// One inference of `tensor` (one item, repeated to fill a fixed batch); the float outputs,
/// the first item's where the batch is fixed.
fn run_once(
    session: &mut Session,
    in_name: &str,
    layout: &InputLayout,
    tensor: Vec<f32>,
    side_inputs: &SideValues,
) -> Result<Outputs, ProbeError> {
    let batch = layout.batch;
    let tensor = if batch > 1 {
        tensor.repeat(batch)
    } else {
        tensor
    };
    let t = Tensor::from_array((layout.shape.clone(), tensor)).map_err(rt)?;
    let mut feed: Vec<(&str, ort::session::SessionInputValue<'_>)> =
        Vec::with_capacity(1 + side_inputs.len());
    feed.push((in_name, t.into_dyn().into()));
    for (name, value) in side_inputs {
        feed.push((name.as_str(), value.view().into()));
    }
    let mut v = float_outputs(&session.run(feed).map_err(rt)?);
    // A fixed batch: keep the first item's outputs.
    for (_, shape, data) in &mut v {
        if batch > 1 && shape.first() == Some(&(batch as i64)) {
            data.truncate(data.len() / batch);
            shape[0] = 1;
        }
    }
    Ok(v)
}

/// Every output's values, one after the other.
fn flattened(o: &[Output]) -> Vec<f32> {
    o.iter().flat_map(|x| x.2.iter().copied()).collect()
}

/// The float32 outputs of one inference: name, concrete shape, values (other element types
/// are left out).
fn float_outputs(out: &ort::session::SessionOutputs<'_>) -> Outputs {
    out.iter()
        .filter_map(|(name, value)| {
            let (shape, data) = value.try_extract_tensor::<f32>().ok()?;
            Some((name.to_string(), shape.to_vec(), data.to_vec()))
        })
        .collect()
}

/// Models larger than this are not loaded by the probe (structure still classifies them).
pub const MAX_PROBE_BYTES: usize = 256 << 20;
/// Input tensors larger than this many elements are not built.
const MAX_INPUT_ELEMENTS: usize = 16 << 20;

/// A loaded ONNX Runtime, ready to probe models. One per process.
#[derive(Clone)]
pub struct Probe {
    env: ort::environment::Environment,
    library: PathBuf,
    /// Run each model in a child process (`<worker> probe-worker`), so a model that crashes or
    /// hangs ONNX Runtime costs that model's probe, not the scan.
    worker: Option<(PathBuf, std::time::Duration)>,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe")
            .field("library", &self.library)
            .finish()
    }
}

/// Where the ONNX Runtime library is: `ORT_DYLIB_PATH`, else `.deps/onnxruntime/` beside the
/// crate (where `scripts/fetch-onnxruntime.sh` puts it).
pub fn find_runtime() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Some(p);
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(".deps/onnxruntime");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so"))
        })
        .collect();
    found.sort();
    found.pop()
}

/// The environment variable (and value) that turns ONNX Runtime's telemetry off, read by
/// `libonnxruntime` 1.31 at start. Also given to every probe worker.
pub const TELEMETRY_OPT_OUT: (&str, &str) = ("ORT_DISABLE_TELEMETRY", "1");

/// ort keeps one dynamically loaded library and one environment per process.
static LOADED: std::sync::OnceLock<Result<(ort::environment::Environment, PathBuf), String>> =
    std::sync::OnceLock::new();

impl Probe {
    /// Load ONNX Runtime from `library` (or [`find_runtime`]). The first successful load
    /// stays for the life of the process.
    pub fn load(library: Option<&Path>) -> Result<Probe, ProbeError> {
        let library = match library {
            Some(p) => p.to_path_buf(),
            None => find_runtime().ok_or(ProbeError::NoRuntime)?,
        };
        let loaded = LOADED.get_or_init(|| {
            // ONNX Runtime's own telemetry (a device id and an event queue under
            // ~/.cache/Microsoft/DeveloperTools/.onnxruntime/, uploaded to its vendor) is not
            // reached by `with_telemetry(false)`; the library reads this opt-out from the
            // environment when it starts. Set before the library is loaded; tests/probe.rs
            // proves nothing is written.
            std::env::set_var(TELEMETRY_OPT_OUT.0, TELEMETRY_OPT_OUT.1);
            let env = ort::init_from(&library)
                .map_err(|e| e.to_string())?
                .with_name("banwatch-probe")
                .with_telemetry(false)
                .build()
                .map_err(|e| e.to_string())?;
            Ok((env, library.clone()))
        });
        match loaded {
            Ok((env, lib)) => Ok(Probe {
                env: env.clone(),
                library: lib.clone(),
                worker: None,
            }),
            Err(message) => Err(ProbeError::Load {
                path: library,
                message: message.clone(),
            }),
        }
    }

    /// Load ONNX Runtime and probe in child processes of `program` (this binary's hidden
    /// `probe-worker` command), 60 s each; without a program, in this process.
    pub fn load_isolated(program: Option<PathBuf>) -> Result<Probe, ProbeError> {
        let p = Probe::load(None)?;
        Ok(match program {
            Some(exe) => p.isolated(exe, std::time::Duration::from_secs(60)),
            None => p,
        })
    }

    /// The library file loaded.
    pub fn library(&self) -> &Path {
        &self.library
    }

    /// Probe in a child process: `program probe-worker` reads the model on stdin and prints
    /// the report as JSON; it is killed after `timeout`.
    pub fn isolated(mut self, program: PathBuf, timeout: std::time::Duration) -> Probe {
        self.worker = Some((program, timeout));
        self
    }

    /// Run the model on probe inputs and measure its behaviour. ONNX models run as they are;
    /// models of a format [`convert`] translates (TFLite, TF.js graph models) are converted to
    /// ONNX first, and the report says so. Errors: [`ProbeError::Unsupported`] for other
    /// formats and for models the converter refuses (the reason names the operator), else what
    /// the run met.
    pub fn run(&self, model: &[u8], info: &ModelInfo) -> Result<ProbeReport, ProbeError> {
        self.run_with(model, info, &|_| None)
    }

    /// [`Probe::run`] for a model whose weights may sit in files beside it (TF.js shards):
    /// `sibling` fetches one by the name the model gives.
    pub fn run_with(
        &self,
        model: &[u8],
        info: &ModelInfo,
        sibling: &dyn Fn(&str) -> Option<Vec<u8>>,
    ) -> Result<ProbeReport, ProbeError> {
        // A model held whole inside a container (a pickle's byte array, a script's literal)
        // was classified from the file inside: run that file.
        let inner = crate::decode::models::model_file(model);
        let model: &[u8] = &inner;
        let (onnx, converted) = match info.format {
            Some(ModelFormat::Onnx) => {
                check_allocations(info)?;
                convert::prepare_onnx(model).map_err(|e| {
                    ProbeError::Unsupported(format!("not a readable ONNX graph: {e}"))
                })?
            }
            Some(f) if convert::converts(f) => {
                let (bytes, note) = convert::model_to_onnx(info, model, sibling)
                    .map_err(|e| ProbeError::Unsupported(format!("not converted to ONNX: {e}")))?;
                (std::borrow::Cow::Owned(bytes), Some(note))
            }
            _ => {
                return Err(ProbeError::Unsupported(
                    "only ONNX models and the formats converted to ONNX (TFLite, TF.js graph models, PyTorch state dicts, dlib, NCNN, Caffe, Keras HDF5, TF GraphDef, OpenVINO IR, clmtrackr) run in the probe"
                        .into(),
                ))
            }
        };
        let mut report = match &self.worker {
            Some((program, timeout)) => run_in_child(program, *timeout, &onnx),
            None => self.run_here(&onnx),
        }?;
        report.converted = converted;
        Ok(report)
    }

    /// Run the model in this process.
    pub fn run_here(&self, model: &[u8]) -> Result<ProbeReport, ProbeError> {
        if model.len() > MAX_PROBE_BYTES {
            return Err(ProbeError::Unsupported(format!(
                "{} bytes is over the probe's {} MiB bound",
                model.len(),
                MAX_PROBE_BYTES >> 20
            )));
        }
        // The worker is handed bytes only: read the graph's constants here as well.
        if let Ok(info) = onnx::parse(model) {
            check_allocations(&info)?;
        }
        let start = Instant::now();
        let mut session = Session::builder(&self.env)
            .map_err(rt)?
            .with_intra_threads(1)
            .map_err(rt)?
            .with_inter_threads(1)
            .map_err(rt)?
            .with_optimization_level(GraphOptimizationLevel::Level1)
            .map_err(rt)?
            // ONNX Runtime's own warnings (old exporters, initializers in graph inputs) are
            // about the model's hygiene, not the verdict.
            .with_log_level(ort::logging::LogLevel::Error)
            .map_err(rt)?
            .commit_from_memory(model)
            .map_err(rt)?;
        let inputs: Vec<(String, ValueType)> = session
            .inputs()
            .iter()
            .map(|o| (o.name().to_string(), o.dtype().clone()))
            .collect();
        // A graph no drawn picture fits, or that refuses the picture it was given, is still
        // run on drawn signals, which shows at least whether it is live; the report says why
        // no picture ran.
        let (why, runtime) = match picture_run(&mut session, &inputs, start) {
            Err(ProbeError::Unsupported(why)) => (why, false),
            Err(ProbeError::Runtime(why)) => (why, true),
            other => return other,
        };
        match signal::run(&mut session, &inputs) {
            Ok(mut r) => {
                if let Some(g) = r.signal.as_mut() {
                    g.no_picture = if runtime {
                        format!("ONNX Runtime refused the drawn picture: {why}")
                    } else {
                        why
                    };
                }
                Ok(r)
            }
            Err(e) if runtime => Err(ProbeError::Runtime(format!(
                "{why}; and on drawn signals: {e}"
            ))),
            Err(e) => Err(ProbeError::Unsupported(format!(
                "{why}; and on drawn signals: {e}"
            ))),
        }
    }
}

/// The probe's battery on drawn pictures (faces, or walking silhouettes for sequence inputs).
/// Errors: [`ProbeError::Unsupported`] when no input takes a picture or a sequence the probe
/// can draw, before anything runs; ONNX Runtime's errors as [`ProbeError::Runtime`].
fn picture_run(
    session: &mut Session,
    inputs: &[(String, ValueType)],
    start: Instant,
) -> Result<ProbeReport, ProbeError> {
    let graph_inputs = GraphInputs::of(inputs)?;
    let in_name = graph_inputs.image.as_str();
    let dims = graph_inputs.dims.clone();
    // The first face under the symmetric scaling: the probe's base run (below). For a graph
    // that leaves the size open, it also picks the size: the first published one it runs
    // at, whose outputs then serve as that base run.
    let first_face =
        |l: &InputLayout| l.tensor(&synthetic_face(l.width, l.height, 11), Scaling::Symmetric);
    let (layout, mut base_outputs) = if InputLayout::open_side(&dims) {
        let mut first_error = None;
        let mut found = None;
        for side in DYNAMIC_SIDES {
            let l = InputLayout::of_sized(&dims, side)?;
            let side_inputs = graph_inputs.side_values(&l)?.1;
            match run_once(session, in_name, &l, first_face(&l), &side_inputs) {
                Ok(o) => {
                    found = Some((l, Some(o)));
                    break;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match (found, first_error) {
            (Some(f), _) => f,
            (None, Some(e)) => return Err(e),
            (None, None) => (InputLayout::of(&dims)?, None),
        }
    } else {
        (InputLayout::of(&dims)?, None)
    };
    let kind = if layout.frames.is_some() {
        ProbeKind::Silhouettes
    } else {
        ProbeKind::Faces
    };
    let (given, side_inputs) = graph_inputs.side_values(&layout)?;
    let mut run = |tensor: Vec<f32>| -> Result<Outputs, ProbeError> {
        run_once(session, in_name, &layout, tensor, &side_inputs)
    };
    let mut report = ProbeReport {
        input: layout.shape.clone(),
        kind,
        scaling: None,
        identity_votes: (0, 0),
        outputs: Vec::new(),
        vector: None,
        millis: 0.0,
        converted: None,
        detection: None,
        side_inputs: given,
        signal: None,
    };
    match kind {
        ProbeKind::Faces => {
            let (w, h) = (layout.width, layout.height);
            let faces: Vec<RgbImage> = (0..4).map(|i| synthetic_face(w, h, 11 + i)).collect();
            let base = match base_outputs.take() {
                Some(o) => o,
                None => run(first_face(&layout))?,
            };
            report.outputs = base
                .iter()
                .map(|(n, s, _)| (n.clone(), s.clone()))
                .collect();
            let pick = primary_vector(&base);
            // The model's preprocessing is unknown, so each published scaling is tried.
            // Coordinates moving with the face cannot happen by accident, so a scaling that
            // shows them (as (x, y) pairs) wins; then one that shows an identity embedding;
            // then coordinates in wider records; else the one under which different faces
            // differ most (the model "wakes up").
            let mut tried: Vec<(Scaling, f64, Option<VectorBehaviour>)> = Vec::new();
            for sc in Scaling::ALL {
                // The base run is the first face under the symmetric scaling already.
                let outs0 = if sc == Scaling::Symmetric {
                    base.clone()
                } else {
                    run(layout.tensor(&faces[0], sc))?
                };
                let outs1 = run(layout.tensor(&faces[1], sc))?;
                let (a, b) = (flattened(&outs0), flattened(&outs1));
                let moved = max_abs_diff(&a, &b) / l2(&a).max(1e-6);
                let change = 1.0 - cosine(&a, &b);
                let Some(pick) = pick else {
                    tried.push((sc, change, None));
                    continue;
                };
                let mut vec_of = |img: &RgbImage| -> Result<Vec<f32>, ProbeError> {
                    Ok(run(layout.tensor(img, sc))?
                        .into_iter()
                        .nth(pick)
                        .map(|o| o.2)
                        .unwrap_or_default())
                };
                let v0 = outs0.get(pick).map(|o| o.2.clone()).unwrap_or_default();
                let flipped = vec_of(&imageops::flip_horizontal(&faces[0]))?;
                let shift = (w.min(h) / 16).max(2) as i64;
                let right = vec_of(&translate(&faces[0], shift, 0))?;
                let down = vec_of(&translate(&faces[0], 0, shift))?;
                let mut others = vec![outs1.get(pick).map(|o| o.2.clone()).unwrap_or_default()];
                for f in &faces[2..] {
                    others.push(vec_of(f)?);
                }
                let noise = vec_of(&noise_image(w, h, 7))?;
                let other_cos =
                    others.iter().map(|o| cosine(&v0, o)).sum::<f64>() / others.len() as f64;
                // The vector read as records of `stride` values, x and y first.
                let response = |stride| {
                    Some(ShiftResponse {
                        right: coordinate_response(&v0, &right, stride)?,
                        down: coordinate_response(&v0, &down, stride)?,
                    })
                };
                let shift_response = response(2);
                let grouped = (3..=5).find_map(|stride| {
                    response(stride)
                        .filter(ShiftResponse::coordinate_like)
                        .map(|r| (stride, r))
                });
                let v = VectorBehaviour {
                    output: outs0.get(pick).map(|o| o.0.clone()).unwrap_or_default(),
                    dim: v0.len(),
                    norm: l2(&v0),
                    flip_cos: cosine(&v0, &flipped),
                    shift_cos: cosine(&v0, &right),
                    other_face_cos: other_cos,
                    noise_cos: cosine(&v0, &noise),
                    constant: moved <= 1e-6,
                    shift_px: shift,
                    shift_response,
                    grouped_response: grouped,
                    permutation_cos: None,
                };
                tried.push((sc, if change.is_finite() { change } else { 0.0 }, Some(v)));
            }
            let votes = tried
                .iter()
                .filter(|t| t.2.as_ref().is_some_and(|v| v.identity_like()))
                .count();
            report.identity_votes = (votes, tried.len());
            let chosen = tried
                .iter()
                .position(|t| t.2.as_ref().is_some_and(|v| v.coordinate_like()))
                .or_else(|| {
                    tried
                        .iter()
                        .position(|t| t.2.as_ref().is_some_and(|v| v.identity_like()))
                        .filter(|_| 2 * votes > tried.len())
                })
                // Then coordinates read as wider records ((x, y, z) landmarks): after
                // identity, so that these readings never choose an embedder's scaling.
                .or_else(|| {
                    tried
                        .iter()
                        .position(|t| t.2.as_ref().is_some_and(|v| v.grouped_response.is_some()))
                })
                .or_else(|| {
                    (0..tried.len()).max_by(|&i, &j| {
                        tried[i]
                            .1
                            .partial_cmp(&tried[j].1)
                            .unwrap_or(std::cmp::Ordering::Equal)
                            .then(j.cmp(&i))
                    })
                });
            if let Some(i) = chosen {
                let all_constant = tried
                    .iter()
                    .all(|t| t.2.as_ref().is_none_or(|v| v.constant));
                let (sc, _, v) = tried.swap_remove(i);
                report.scaling = Some(sc);
                report.vector = v.map(|mut v| {
                    v.constant = all_constant;
                    v
                });
            }
            // A detector's score map follows a face moved across the picture: under the
            // chosen scaling first, then the others (the preprocessing is unknown). Only
            // models with a score-map output are run for it.
            if base.iter().any(|(_, shape, _)| score_map(shape).is_some()) {
                let (near_face, far_face) = (
                    cascade::scenes::placed_face(w, h, false),
                    cascade::scenes::placed_face(w, h, true),
                );
                let first = report.scaling.unwrap_or(Scaling::Symmetric);
                let order =
                    std::iter::once(first).chain(Scaling::ALL.into_iter().filter(|&s| s != first));
                for sc in order {
                    let near = run(layout.tensor(&near_face, sc))?;
                    let far = run(layout.tensor(&far_face, sc))?;
                    let Some(d) = detection_response(&near, &far) else {
                        break;
                    };
                    let follows = d.follows;
                    if follows || report.detection.is_none() {
                        report.detection = Some(d);
                    }
                    if follows {
                        break;
                    }
                }
            }
        }
        // A picture run never draws signals: that is `signal::run`'s.
        ProbeKind::Signals => {}
        ProbeKind::Silhouettes => {
            let seq = walking_silhouettes(&layout, 0);
            let base = run(seq.clone())?;
            report.outputs = base
                .iter()
                .map(|(n, s, _)| (n.clone(), s.clone()))
                .collect();
            if let Some(pick) = primary_vector(&base) {
                let v0 = base[pick].2.clone();
                let reversed = run(reverse_frames(&seq, &layout))?
                    .get(pick)
                    .map(|o| o.2.clone())
                    .unwrap_or_default();
                let other = run(walking_silhouettes(&layout, 1))?
                    .get(pick)
                    .map(|o| o.2.clone())
                    .unwrap_or_default();
                let spread = max_abs_diff(&v0, &other);
                let norm = l2(&v0);
                report.vector = Some(VectorBehaviour {
                    output: base[pick].0.clone(),
                    dim: v0.len(),
                    norm,
                    flip_cos: f64::NAN,
                    shift_cos: f64::NAN,
                    other_face_cos: cosine(&v0, &other),
                    noise_cos: f64::NAN,
                    constant: spread <= 1e-6 * norm.max(1e-6),
                    shift_px: 0,
                    shift_response: None,
                    grouped_response: None,
                    permutation_cos: Some(cosine(&v0, &reversed)),
                });
            }
        }
    }
    report.millis = start.elapsed().as_secs_f64() * 1e3;
    Ok(report)
}
