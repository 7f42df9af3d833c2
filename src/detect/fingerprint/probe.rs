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
use crate::decode::models::{ModelFormat, ModelInfo};
use crate::model::Technique;
use image::{imageops, Rgb, RgbImage};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{Tensor, ValueType};
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
    let report = Probe::load(None)?.run_here(&model)?;
    let line = serde_json::to_string(&report).map_err(|e| ProbeError::Io(e.to_string()))?;
    println!("{line}");
    Ok(0)
}

fn rt(e: impl std::fmt::Display) -> ProbeError {
    // ONNX Runtime's messages run to source paths and several lines: keep the first clause.
    let full = e.to_string();
    let line = full.lines().next().unwrap_or("").trim();
    let short: String = line.chars().take(200).collect();
    ProbeError::Runtime(short)
}

/// One output tensor: name, concrete shape, values.
type Output = (String, Vec<i64>, Vec<f32>);
type Outputs = Vec<Output>;

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

    /// Run the model on probe inputs and measure its behaviour.
    pub fn run(&self, model: &[u8], info: &ModelInfo) -> Result<ProbeReport, ProbeError> {
        if info.format != Some(ModelFormat::Onnx) {
            return Err(ProbeError::Unsupported(
                "only ONNX models run in the probe".into(),
            ));
        }
        match &self.worker {
            Some((program, timeout)) => run_in_child(program, *timeout, model),
            None => self.run_here(model),
        }
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
        let [(in_name, in_type)] = inputs.as_slice() else {
            return Err(ProbeError::Unsupported(format!(
                "{} inputs (the probe feeds single-input models)",
                inputs.len()
            )));
        };
        let ValueType::Tensor { ty, shape, .. } = in_type else {
            return Err(ProbeError::Unsupported("input is not a tensor".into()));
        };
        if *ty != ort::value::TensorElementType::Float32 {
            return Err(ProbeError::Unsupported(format!("input type {ty}")));
        }
        let dims: Vec<i64> = shape.iter().copied().collect();
        let layout = InputLayout::of(&dims)?;
        let kind = if layout.frames.is_some() {
            ProbeKind::Silhouettes
        } else {
            ProbeKind::Faces
        };
        let mut run = |tensor: Vec<f32>| -> Result<Outputs, ProbeError> {
            let t = Tensor::from_array((layout.shape.clone(), tensor)).map_err(rt)?;
            let out = session
                .run(ort::inputs![in_name.as_str() => t])
                .map_err(rt)?;
            let mut v = Vec::new();
            for (name, value) in out.iter() {
                if let Ok((shape, data)) = value.try_extract_tensor::<f32>() {
                    v.push((name.to_string(), shape.to_vec(), data.to_vec()));
                }
            }
            Ok(v)
        };
        let mut report = ProbeReport {
            input: layout.shape.clone(),
            kind,
            scaling: None,
            identity_votes: (0, 0),
            outputs: Vec::new(),
            vector: None,
            millis: 0.0,
        };
        match kind {
            ProbeKind::Faces => {
                let (w, h) = (layout.width, layout.height);
                let faces: Vec<RgbImage> = (0..4).map(|i| synthetic_face(w, h, 11 + i)).collect();
                let base = run(layout.tensor(&faces[0], Scaling::Symmetric))?;
                report.outputs = base
                    .iter()
                    .map(|(n, s, _)| (n.clone(), s.clone()))
                    .collect();
                let pick = primary_vector(&base);
                // The model's preprocessing is unknown, so each published scaling is tried.
                // Coordinates moving with the face cannot happen by accident, so a scaling that
                // shows them wins; then one that shows an identity embedding; else the one under
                // which different faces differ most (the model "wakes up").
                let mut tried: Vec<(Scaling, f64, Option<VectorBehaviour>)> = Vec::new();
                for sc in Scaling::ALL {
                    let outs0 = run(layout.tensor(&faces[0], sc))?;
                    let outs1 = run(layout.tensor(&faces[1], sc))?;
                    let flat = |o: &[Output]| -> Vec<f32> {
                        o.iter().flat_map(|x| x.2.iter().copied()).collect()
                    };
                    let (a, b) = (flat(&outs0), flat(&outs1));
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
                    let shift_response = match (
                        coordinate_response(&v0, &right),
                        coordinate_response(&v0, &down),
                    ) {
                        (Some(r), Some(d)) => Some(ShiftResponse { right: r, down: d }),
                        _ => None,
                    };
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
            }
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
                        permutation_cos: Some(cosine(&v0, &reversed)),
                    });
                }
            }
        }
        report.millis = start.elapsed().as_secs_f64() * 1e3;
        Ok(report)
    }
}

/// Run `program probe-worker` with the model on stdin; its stdout is the report as JSON.
fn run_in_child(
    program: &Path,
    timeout: std::time::Duration,
    model: &[u8],
) -> Result<ProbeReport, ProbeError> {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .arg("probe-worker")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ProbeError::Runtime(format!("probe worker {}: {e}", program.display())))?;
    let mut stdin = child.stdin.take();
    let bytes = model.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            let _ = s.write_all(&bytes);
        }
    });
    // Drain stdout and stderr while waiting, so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.take(16 << 20).read_to_end(&mut v);
        }
        v
    });
    let mut err = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.take(64 << 10).read_to_end(&mut v);
        }
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                // The I/O threads end when the pipes close; not waited for here, since a
                // grandchild could hold them open.
                return Err(ProbeError::Runtime(format!(
                    "gave up after {} s (model hangs ONNX Runtime?)",
                    timeout.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(5)),
            Err(e) => return Err(ProbeError::Runtime(format!("probe worker: {e}"))),
        }
    };
    let _ = writer.join();
    let stdout = reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    if !status.success() {
        let msg = String::from_utf8_lossy(&stderr);
        let line = msg
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        // The worker prints "banwatch: <probe error>"; pass the error on as it was.
        let line = line.strip_prefix("banwatch: ").unwrap_or(line);
        let line = line.strip_prefix("ONNX Runtime: ").unwrap_or(line);
        return Err(match status.code() {
            Some(_) => ProbeError::Runtime(line.chars().take(200).collect()),
            None => ProbeError::Runtime(format!(
                "ONNX Runtime crashed on this model ({status}); the scan goes on"
            )),
        });
    }
    serde_json::from_slice(&stdout)
        .map_err(|e| ProbeError::Runtime(format!("probe worker answered garbage: {e}")))
}

/// What the probe fed the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ProbeKind {
    /// Face-like RGB images (single-image models).
    Faces,
    /// Sequences of walking-figure silhouettes (N × T × H × W inputs).
    Silhouettes,
}

/// How the model's main vector output behaves.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct VectorBehaviour {
    pub output: String,
    pub dim: usize,
    pub norm: f64,
    /// Cosine between the outputs for a face and its mirror image.
    pub flip_cos: f64,
    /// Cosine between the outputs for a face and the same face shifted `shift_px` right.
    pub shift_cos: f64,
    /// Mean cosine between the outputs for different faces.
    pub other_face_cos: f64,
    /// Cosine between the outputs for a face and for noise.
    pub noise_cos: f64,
    /// The output does not change with the input at all.
    pub constant: bool,
    pub shift_px: i64,
    /// For vectors read as interleaved (x, y) pairs: how x and y moved when the face moved.
    pub shift_response: Option<ShiftResponse>,
    /// Silhouette models: cosine between the outputs for a sequence and the same frames reversed.
    pub permutation_cos: Option<f64>,
}

impl VectorBehaviour {
    /// Invariant to the face moving, yet different for different faces: an identity embedding.
    pub fn identity_like(&self) -> bool {
        // Identity embeddings have 64+ dimensions; a 3-score head is no embedding however
        // stable it is.
        self.dim >= 64
            && !self.constant
            && self.flip_cos >= 0.85
            && self.shift_cos >= 0.85
            && self.other_face_cos < self.flip_cos.min(self.shift_cos) - 0.02
    }

    /// Moves with the face: a shift right moves the x values (not y), a shift down the y values
    /// (not x), both the same way round. Coordinates, not an identity.
    pub fn coordinate_like(&self) -> bool {
        let Some(r) = self.shift_response else {
            return false;
        };
        let ((rx, ry), (dx, dy)) = (r.right, r.down);
        let along = (rx.abs() + dy.abs()) / 2.0;
        let weaker = rx.abs().min(dy.abs());
        let across = ry.abs().max(dx.abs());
        rx * dy > 0.0 && along > 3.0 * across && weaker > 2.0 * across && weaker > 0.01
    }
}

/// Mean change of the x values and of the y values (read as interleaved pairs), relative to
/// the vector's spread, after shifting the face right and after shifting it down.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct ShiftResponse {
    pub right: (f64, f64),
    pub down: (f64, f64),
}

/// The probe's measurements on one model.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ProbeReport {
    pub input: Vec<i64>,
    pub kind: ProbeKind,
    /// The input scaling the probe settled on (image models).
    pub scaling: Option<Scaling>,
    /// Under how many of the tried scalings the output behaved like an identity embedding.
    /// A wrongly scaled keypoint net can look invariant by accident; a real embedder looks so
    /// under most scalings.
    pub identity_votes: (usize, usize),
    /// Output names and concrete shapes for the probe input.
    pub outputs: Vec<(String, Vec<i64>)>,
    pub vector: Option<VectorBehaviour>,
    pub millis: f64,
}

impl ProbeReport {
    /// Identity-embedding behaviour under most of the input scalings tried.
    pub fn identity_like(&self) -> bool {
        self.vector.as_ref().is_some_and(|v| v.identity_like())
            && 2 * self.identity_votes.0 > self.identity_votes.1
    }

    /// One line for the artifact's reasons.
    pub fn summary(&self) -> String {
        let shapes: Vec<String> = self
            .outputs
            .iter()
            .take(6)
            .map(|(_, s)| format!("{s:?}"))
            .collect();
        let mut s = format!(
            "probe: ran on {:?} {}{}, outputs {}",
            self.input,
            match self.kind {
                ProbeKind::Faces => "synthetic faces",
                ProbeKind::Silhouettes => "synthetic walking silhouettes",
            },
            self.scaling
                .map(|s| format!(" scaled {}", s.as_str()))
                .unwrap_or_default(),
            shapes.join(" ")
        );
        if let Some(v) = &self.vector {
            if v.constant {
                s.push_str("; the output does not change with the input");
            } else if let Some(p) = v.permutation_cos {
                s.push_str(&format!(
                    "; {}-value vector, reversed-sequence cosine {p:.2}, other-walker cosine {:.2}",
                    v.dim, v.other_face_cos
                ));
            } else {
                s.push_str(&format!(
                    "; {}-value vector (norm {:.2}): mirror cosine {:.2}, {}px-shift cosine {:.2}, other-face cosine {:.2}",
                    v.dim, v.norm, v.flip_cos, v.shift_px, v.shift_cos, v.other_face_cos
                ));
                if self.identity_votes.1 > 0 {
                    s.push_str(&format!(
                        ", identity-like under {} of {} input scalings",
                        self.identity_votes.0, self.identity_votes.1
                    ));
                }
                if let Some(r) = v.shift_response {
                    s.push_str(&format!(
                        ", as (x, y) pairs a shift right moves them ({:+.3}, {:+.3}) and a shift down ({:+.3}, {:+.3})",
                        r.right.0, r.right.1, r.down.0, r.down.1
                    ));
                }
            }
        }
        s
    }
}

/// Fold the probe's report into a structural classification. The probe strengthens or weakens
/// what structure found; it never makes a model a recognition model on its own, because
/// untrained or unrelated nets can also be invariant to small moves.
pub fn apply(c: &mut Classification, r: &ProbeReport) {
    c.reasons.push(r.summary());
    let Some(v) = &r.vector else { return };
    if v.constant {
        if c.technique != Technique::None {
            c.confidence = (c.confidence * 0.6).max(0.3);
            c.reasons
                .push("probe: constant output: an inert or broken export, weaker evidence".into());
        }
        return;
    }
    match c.technique {
        Technique::FaceRecognition => {
            // Coordinates first: positive (x, y) vectors also have high cosines under small
            // moves, so invariance alone would mistake keypoints for an identity.
            if v.coordinate_like() {
                // Keypoints, not an identity: the landmark hard negative.
                c.technique = Technique::FaceLandmarks;
                c.confidence = 0.6;
                c.family = None;
                c.reasons.push(
                    "probe: the vector moves with the face like (x, y) coordinates (x follows a shift right, y a shift down), not like an identity embedding: keypoints".into(),
                );
            } else if r.identity_like() {
                c.confidence = (c.confidence + 0.1).min(0.95);
                c.reasons.push(
                    "probe: the vector stays put when the face is mirrored or shifted and differs between faces: an identity embedding".into(),
                );
            } else {
                c.reasons.push(
                    "probe: no identity-embedding behaviour on synthetic faces (not conclusive: preprocessing may differ)".into(),
                );
            }
        }
        Technique::FaceLandmarks | Technique::BodyPose if v.coordinate_like() => {
            c.confidence = (c.confidence + 0.1).min(0.95);
            c.reasons.push(
                "probe: the output moves with the face (x follows a shift): coordinates".into(),
            );
        }
        _ => {}
    }
}

/// The shape the probe feeds and how to lay an image into it.
struct InputLayout {
    shape: Vec<i64>,
    width: u32,
    height: u32,
    channels: usize,
    /// NCHW (true) or NHWC.
    channels_first: bool,
    /// Silhouette sequence length (N × T × H × W inputs).
    frames: Option<usize>,
}

impl InputLayout {
    fn of(dims: &[i64]) -> Result<InputLayout, ProbeError> {
        let d = |i: usize, default: i64| match dims.get(i) {
            Some(&x) if x > 0 => x,
            _ => default,
        };
        let layout = match dims.len() {
            4 if matches!(dims[1], 1 | 3) => {
                let c = dims[1];
                InputLayout {
                    shape: vec![1, c, d(2, 112), d(3, 112)],
                    height: d(2, 112) as u32,
                    width: d(3, 112) as u32,
                    channels: c as usize,
                    channels_first: true,
                    frames: None,
                }
            }
            4 if matches!(dims[3], 1 | 3) => {
                let c = dims[3];
                InputLayout {
                    shape: vec![1, d(1, 112), d(2, 112), c],
                    height: d(1, 112) as u32,
                    width: d(2, 112) as u32,
                    channels: c as usize,
                    channels_first: false,
                    frames: None,
                }
            }
            // Silhouette sequences: N × T × H × W (or N × 1 × T × H × W).
            4 => InputLayout {
                shape: vec![1, d(1, 30), d(2, 64), d(3, 44)],
                height: d(2, 64) as u32,
                width: d(3, 44) as u32,
                channels: 1,
                channels_first: true,
                frames: Some(d(1, 30) as usize),
            },
            5 if dims[1] == 1 => InputLayout {
                shape: vec![1, 1, d(2, 30), d(3, 64), d(4, 44)],
                height: d(3, 64) as u32,
                width: d(4, 44) as u32,
                channels: 1,
                channels_first: true,
                frames: Some(d(2, 30) as usize),
            },
            _ => {
                return Err(ProbeError::Unsupported(format!(
                    "input shape {dims:?} is not an image or a silhouette sequence"
                )))
            }
        };
        let elements: i64 = layout.shape.iter().product();
        if layout.width < 8 || layout.height < 8 || elements as usize > MAX_INPUT_ELEMENTS {
            return Err(ProbeError::Unsupported(format!(
                "input shape {:?} out of the probe's range",
                layout.shape
            )));
        }
        Ok(layout)
    }

    /// An RGB image as the model's input tensor.
    fn tensor(&self, img: &RgbImage, scaling: Scaling) -> Vec<f32> {
        let img = if img.width() != self.width || img.height() != self.height {
            imageops::resize(img, self.width, self.height, imageops::FilterType::Triangle)
        } else {
            img.clone()
        };
        let (w, h, c) = (self.width as usize, self.height as usize, self.channels);
        let mut out = vec![0f32; w * h * c];
        for (x, y, px) in img.enumerate_pixels() {
            let (x, y) = (x as usize, y as usize);
            for ch in 0..c {
                let v = if c == 1 {
                    (px[0] as f32 + px[1] as f32 + px[2] as f32) / 3.0
                } else {
                    px[ch] as f32
                };
                let i = if self.channels_first {
                    ch * w * h + y * w + x
                } else {
                    (y * w + x) * c + ch
                };
                out[i] = scaling.apply(v, ch);
            }
        }
        out
    }
}

/// Input scalings in use by published face nets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Scaling {
    /// (x - 127.5) / 127.5: ArcFace, MobileFaceNet, FaceNet.
    Symmetric,
    /// x / 255.
    Unit,
    /// Raw 0..255 (models that normalise inside).
    Raw,
    /// ImageNet mean and standard deviation.
    ImageNet,
}

impl Scaling {
    const ALL: [Scaling; 4] = [
        Scaling::Symmetric,
        Scaling::Unit,
        Scaling::Raw,
        Scaling::ImageNet,
    ];

    fn apply(self, v: f32, ch: usize) -> f32 {
        const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
        const STD: [f32; 3] = [0.229, 0.224, 0.225];
        match self {
            Scaling::Symmetric => (v - 127.5) / 127.5,
            Scaling::Unit => v / 255.0,
            Scaling::Raw => v,
            Scaling::ImageNet => (v / 255.0 - MEAN[ch % 3]) / STD[ch % 3],
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scaling::Symmetric => "[-1, 1]",
            Scaling::Unit => "[0, 1]",
            Scaling::Raw => "0..255",
            Scaling::ImageNet => "ImageNet mean/std",
        }
    }
}

/// A small deterministic generator (xorshift), so probe inputs are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }
}

fn fill_ellipse(img: &mut RgbImage, cx: f64, cy: f64, rx: f64, ry: f64, color: [u8; 3]) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let y0 = ((cy - ry).floor() as i64).max(0);
    let y1 = ((cy + ry).ceil() as i64).min(h - 1);
    let x0 = ((cx - rx).floor() as i64).max(0);
    let x1 = ((cx + rx).ceil() as i64).min(w - 1);
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (dx, dy) = ((x as f64 + 0.5 - cx) / rx, (y as f64 + 0.5 - cy) / ry);
            if dx * dx + dy * dy <= 1.0 {
                img.put_pixel(x as u32, y as u32, Rgb(color));
            }
        }
    }
}

/// A frontal synthetic face filling the frame as a face crop would: skin ellipse, hair with a
/// side parting, brows, eyes, nose, mouth and a mole, with per-seed proportions and tones. The
/// parting and the mole make it asymmetric, so its mirror image is a different picture of the
/// same "person".
pub fn synthetic_face(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
    for _ in 0..4 {
        r.next();
    }
    let (fw, fh) = (w as f64, h as f64);
    let bg = [
        r.range(60.0, 200.0) as u8,
        r.range(60.0, 200.0) as u8,
        r.range(60.0, 200.0) as u8,
    ];
    let mut img = RgbImage::from_pixel(w, h, Rgb(bg));
    let skin_l = r.range(0.35, 1.0);
    let skin = [
        (255.0 * skin_l) as u8,
        (200.0 * skin_l) as u8,
        (165.0 * skin_l) as u8,
    ];
    let hair_l = r.range(0.05, 0.6);
    let hair = [
        (120.0 * hair_l) as u8,
        (90.0 * hair_l) as u8,
        (60.0 * hair_l) as u8,
    ];
    let cx = fw * 0.5;
    let cy = fh * r.range(0.5, 0.56);
    let rx = fw * r.range(0.33, 0.42);
    let ry = fh * r.range(0.42, 0.5);
    fill_ellipse(&mut img, cx, cy - ry * 0.25, rx * 1.05, ry * 0.85, hair);
    fill_ellipse(&mut img, cx, cy, rx, ry, skin);
    // Side parting: a sweep of hair over one side of the forehead.
    let part = r.range(0.25, 0.45);
    fill_ellipse(
        &mut img,
        cx - rx * part,
        cy - ry * 0.72,
        rx * 0.55,
        ry * 0.2,
        hair,
    );
    let eye_dx = rx * r.range(0.32, 0.48);
    let eye_y = cy - ry * r.range(0.1, 0.25);
    let eye_rx = rx * r.range(0.13, 0.2);
    let eye_ry = eye_rx * r.range(0.4, 0.7);
    let iris = [
        r.range(20.0, 120.0) as u8,
        r.range(20.0, 100.0) as u8,
        r.range(10.0, 80.0) as u8,
    ];
    let brow_y = eye_y - ry * r.range(0.12, 0.2);
    for side in [-1.0, 1.0] {
        let ex = cx + side * eye_dx;
        fill_ellipse(&mut img, ex, brow_y, eye_rx * 1.2, eye_ry * 0.35, hair);
        fill_ellipse(&mut img, ex, eye_y, eye_rx, eye_ry, [235, 235, 235]);
        fill_ellipse(&mut img, ex, eye_y, eye_ry * 0.8, eye_ry * 0.8, iris);
    }
    let nose_y = cy + ry * r.range(0.05, 0.2);
    let shade = tone(skin, [0.8, 0.75, 0.75]);
    fill_ellipse(
        &mut img,
        cx,
        nose_y,
        rx * r.range(0.08, 0.15),
        ry * r.range(0.12, 0.2),
        shade,
    );
    let mole = tone(skin, [0.45, 0.35, 0.3]);
    fill_ellipse(
        &mut img,
        cx + rx * r.range(0.35, 0.55),
        cy + ry * r.range(0.1, 0.3),
        rx * 0.05,
        rx * 0.05,
        mole,
    );
    let mouth_y = cy + ry * r.range(0.4, 0.55);
    fill_ellipse(
        &mut img,
        cx,
        mouth_y,
        rx * r.range(0.25, 0.45),
        ry * r.range(0.04, 0.09),
        [
            r.range(120.0, 200.0) as u8,
            r.range(40.0, 80.0) as u8,
            r.range(40.0, 80.0) as u8,
        ],
    );
    img
}

/// A darker shade of `c`, per channel.
fn tone(c: [u8; 3], f: [f64; 3]) -> [u8; 3] {
    [
        (c[0] as f64 * f[0]) as u8,
        (c[1] as f64 * f[1]) as u8,
        (c[2] as f64 * f[2]) as u8,
    ]
}

fn noise_image(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut r = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1);
    RgbImage::from_fn(w, h, |_, _| {
        Rgb([
            (r.next() * 255.0) as u8,
            (r.next() * 255.0) as u8,
            (r.next() * 255.0) as u8,
        ])
    })
}

/// The image moved `dx` pixels right and `dy` down, the uncovered edge repeating.
fn translate(img: &RgbImage, dx: i64, dy: i64) -> RgbImage {
    RgbImage::from_fn(img.width(), img.height(), |x, y| {
        let sx = (x as i64 - dx).clamp(0, img.width() as i64 - 1) as u32;
        let sy = (y as i64 - dy).clamp(0, img.height() as i64 - 1) as u32;
        *img.get_pixel(sx, sy)
    })
}

/// A walking figure's silhouettes over a gait cycle, as a 0/1 sequence tensor.
fn walking_silhouettes(l: &InputLayout, walker: u64) -> Vec<f32> {
    let t = l.frames.unwrap_or(1);
    let (w, h) = (l.width, l.height);
    let mut out = Vec::with_capacity(t * (w * h) as usize);
    let stride = 0.25 + 0.1 * walker as f64;
    let build = 0.8 + 0.15 * walker as f64;
    for f in 0..t {
        let phase = f as f64 / t as f64 * std::f64::consts::TAU * 2.0;
        let mut img = RgbImage::new(w, h);
        let (fw, fh) = (w as f64, h as f64);
        let white = [255, 255, 255];
        fill_ellipse(&mut img, fw * 0.5, fh * 0.1, fw * 0.1, fh * 0.07, white);
        fill_ellipse(
            &mut img,
            fw * 0.5,
            fh * 0.35,
            fw * 0.14 * build,
            fh * 0.2,
            white,
        );
        for side in [0.0, std::f64::consts::PI] {
            let swing = (phase + side).sin() * stride;
            for k in 0..12 {
                let s = k as f64 / 11.0;
                let x = fw * (0.5 + swing * s * 0.6);
                let y = fh * (0.55 + 0.42 * s);
                fill_ellipse(&mut img, x, y, fw * 0.06 * build, fh * 0.03, white);
            }
        }
        out.extend(img.pixels().map(|p| if p[0] > 127 { 1.0 } else { 0.0 }));
    }
    out
}

fn reverse_frames(seq: &[f32], l: &InputLayout) -> Vec<f32> {
    let frame = (l.width * l.height) as usize;
    seq.chunks(frame).rev().flatten().copied().collect()
}

/// The output to study: the largest output that is one flat vector (ignoring batch and unit
/// dimensions).
fn primary_vector(outs: &[Output]) -> Option<usize> {
    outs.iter()
        .enumerate()
        .filter(|(_, (_, shape, data))| {
            shape.iter().filter(|&&d| d > 1).count() == 1 && data.len() >= 2
        })
        .min_by_key(|(i, (_, _, d))| (std::cmp::Reverse(d.len()), *i))
        .map(|(i, _)| i)
}

fn l2(v: &[f32]) -> f64 {
    v.iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
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

fn max_abs_diff(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).abs())
        .fold(0.0, f64::max)
}

/// Read the vectors as interleaved (x, y) pairs and measure the mean change of x and of y,
/// relative to the spread of the values (so 0..1 and pixel coordinates read alike).
fn coordinate_response(before: &[f32], after: &[f32]) -> Option<(f64, f64)> {
    if before.len() < 10 || before.len() % 2 != 0 || before.len() != after.len() {
        return None;
    }
    let (lo, hi) = before.iter().fold((f64::MAX, f64::MIN), |(l, h), &x| {
        (l.min(x as f64), h.max(x as f64))
    });
    let spread = hi - lo;
    if spread <= 0.0 || !spread.is_finite() {
        return None;
    }
    let n = before.len() / 2;
    let (mut dx, mut dy) = (0.0, 0.0);
    for i in 0..n {
        dx += (after[2 * i] - before[2 * i]) as f64;
        dy += (after[2 * i + 1] - before[2 * i + 1]) as f64;
    }
    Some((dx / n as f64 / spread, dy / n as f64 / spread))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faces_differ_by_seed_and_their_mirror_is_another_picture() {
        let a = synthetic_face(112, 112, 1);
        let b = synthetic_face(112, 112, 2);
        assert_ne!(a, b);
        // Parting and mole make the mirror image differ, but only in a few places.
        let f = imageops::flip_horizontal(&a);
        let same = a.pixels().zip(f.pixels()).filter(|(x, y)| x == y).count() as f64;
        let frac = same / (112.0 * 112.0);
        assert!(frac > 0.8 && frac < 0.98, "{frac}");
    }

    #[test]
    fn coordinate_response_reads_a_shift() {
        // Five points in 0..1 units, moved right by 0.05.
        let before = [0.3f32, 0.4, 0.7, 0.4, 0.5, 0.55, 0.35, 0.7, 0.65, 0.7];
        let after: Vec<f32> = before
            .iter()
            .enumerate()
            .map(|(i, &v)| if i % 2 == 0 { v + 0.05 } else { v })
            .collect();
        let (dx, dy) = coordinate_response(&before, &after).unwrap_or((0.0, 0.0));
        assert!((dx - 0.125).abs() < 1e-3 && dy.abs() < 1e-6, "{dx} {dy}");
        let (dx, _) = coordinate_response(&before, &before).unwrap_or((1.0, 1.0));
        assert!(dx.abs() < 1e-9);
        let v = VectorBehaviour {
            output: "o".into(),
            dim: 10,
            norm: 1.0,
            flip_cos: 0.9,
            shift_cos: 0.9,
            other_face_cos: 0.9,
            noise_cos: 0.5,
            constant: false,
            shift_px: 4,
            shift_response: Some(ShiftResponse {
                right: (0.12, 0.01),
                down: (-0.005, 0.11),
            }),
            permutation_cos: None,
        };
        assert!(v.coordinate_like());
        // An embedding that drifts as much across as along is not coordinates.
        let v = VectorBehaviour {
            shift_response: Some(ShiftResponse {
                right: (0.02, 0.03),
                down: (0.02, 0.01),
            }),
            ..v
        };
        assert!(!v.coordinate_like());
    }

    #[test]
    fn layouts() {
        let l = InputLayout::of(&[-1, 3, 112, 112]).map_err(|e| e.to_string());
        assert!(matches!(l, Ok(ref l) if l.channels_first && l.width == 112));
        let l = InputLayout::of(&[1, 160, 160, 3]).map_err(|e| e.to_string());
        assert!(matches!(l, Ok(ref l) if !l.channels_first && l.width == 160));
        let l = InputLayout::of(&[-1, 30, 64, 44]).map_err(|e| e.to_string());
        assert!(matches!(l, Ok(ref l) if l.frames == Some(30)));
        assert!(InputLayout::of(&[1, 1000]).is_err());
        assert!(InputLayout::of(&[1, 3, 100000, 100000]).is_err());
    }
}
