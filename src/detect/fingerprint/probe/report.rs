//! What the probe measured, and how it changes a classification (never into recognition).

use super::*;

/// What the probe fed the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ProbeKind {
    /// Face-like RGB images (single-image models).
    Faces,
    /// Sequences of walking-figure silhouettes (N × T × H × W inputs).
    Silhouettes,
    /// Drawn signals of each input's declared type and shape: no drawn picture ran (no input
    /// takes one the probe draws, or ONNX Runtime refused it), so only whether the graph is
    /// live is measured.
    Signals,
}

/// How the model's main vector output behaves.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct VectorBehaviour {
    /// Name of the output the vector was read from.
    pub output: String,
    /// Its length.
    pub dim: usize,
    /// Its L2 norm on the first probe face.
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
    /// Shift applied, in pixels.
    pub shift_px: i64,
    /// For vectors read as interleaved (x, y) pairs: how x and y moved when the face moved.
    pub shift_response: Option<ShiftResponse>,
    /// Read as records of 3, 4 or 5 values, x and y first ((x, y, z) landmarks and the like):
    /// the first record width under which the vector moves like coordinates, with its response.
    #[serde(default)]
    pub grouped_response: Option<(usize, ShiftResponse)>,
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
        self.shift_response.is_some_and(|r| r.coordinate_like())
    }

    /// Moves like coordinates when read as pairs or as wider records (x, y first). Confirms a
    /// landmark or pose model; only pairs may turn a recognition-shaped model into keypoints,
    /// so that trying more readings cannot talk an embedding out of being one.
    pub fn coordinates_in_any_reading(&self) -> bool {
        self.coordinate_like() || self.grouped_response.is_some()
    }
}

impl ShiftResponse {
    /// A shift right moves the x values (not y), a shift down the y values (not x), both the
    /// same way round, well above the cross-talk.
    pub fn coordinate_like(&self) -> bool {
        let ((rx, ry), (dx, dy)) = (self.right, self.down);
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
    /// Mean change of (x, y) coordinates when the face moves right.
    pub right: (f64, f64),
    /// Mean change of (x, y) coordinates when the face moves down.
    pub down: (f64, f64),
}

/// Where a score map's peak falls for a face drawn in the top-left quarter of the picture and
/// for the same face in the bottom-right quarter: a detector's map follows the face.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DetectionResponse {
    /// The output read.
    pub output: String,
    /// The channel whose peak is reported.
    pub channel: usize,
    /// The map's rows and columns.
    pub size: (usize, usize),
    /// Peak (column, row) with the face top left; `None` when no cell stands out.
    pub top_left: Option<(usize, usize)>,
    /// Peak (column, row) with the face bottom right; `None` when no cell stands out.
    pub bottom_right: Option<(usize, usize)>,
    /// Whether the peak moved with the face (from the top-left quarter to the bottom-right).
    pub follows: bool,
}

/// The probe's measurements on one model.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ProbeReport {
    /// Concrete input shape used.
    pub input: Vec<i64>,
    /// What kind of input was drawn.
    pub kind: ProbeKind,
    /// The input scaling the probe settled on (image models).
    pub scaling: Option<Scaling>,
    /// Under how many of the tried scalings the output behaved like an identity embedding.
    /// A wrongly scaled keypoint net can look invariant by accident; a real embedder looks so
    /// under most scalings.
    pub identity_votes: (usize, usize),
    /// Output names and concrete shapes for the probe input.
    pub outputs: Vec<(String, Vec<i64>)>,
    /// Behaviour of the main output vector, when there is one.
    pub vector: Option<VectorBehaviour>,
    /// Time taken, milliseconds.
    pub millis: f64,
    /// How the model was converted to ONNX first, if it was not ONNX.
    #[serde(default)]
    pub converted: Option<String>,
    /// How a score-map output (N × C × H × W or N × H × W × C, a few channels) answers a face
    /// moved across the picture, when the model has one.
    #[serde(default)]
    pub detection: Option<DetectionResponse>,
    /// The graph's inputs other than the picture, with what each was given (empty for
    /// single-input graphs).
    #[serde(default)]
    pub side_inputs: Vec<SideInput>,
    /// How the outputs answered two draws, for a graph that takes no picture.
    #[serde(default)]
    pub signal: Option<super::SignalResponse>,
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
            "probe: {}ran on {:?} {}{}, outputs {}",
            self.converted
                .as_ref()
                .map(|c| format!("{c}; "))
                .unwrap_or_default(),
            self.input,
            match self.kind {
                ProbeKind::Faces => "synthetic faces",
                ProbeKind::Silhouettes => "synthetic walking silhouettes",
                ProbeKind::Signals => "drawn signals",
            },
            self.scaling
                .map(|s| format!(" scaled {}", s.as_str()))
                .unwrap_or_default(),
            shapes.join(" ")
        );
        if let Some(g) = self.signal.as_ref().filter(|g| !g.no_picture.is_empty()) {
            s.push_str(&format!(" (no drawn picture ran: {})", g.no_picture));
        }
        if !self.side_inputs.is_empty() {
            let given: Vec<String> = self.side_inputs.iter().map(SideInput::describe).collect();
            let label = match self.kind {
                ProbeKind::Signals => "inputs given",
                _ => "other inputs given",
            };
            s.push_str(&format!(", {label} {}", given.join(", ")));
        }
        if let Some(g) = &self.signal {
            if g.values == 0 {
                s.push_str("; the graph returns no float output to compare");
            } else if g.constant {
                s.push_str("; the outputs do not change with the input");
            } else {
                s.push_str(&format!(
                    "; two different draws move the outputs by up to {:.0} % of their norm (cosine {:.2}): the graph is live",
                    100.0 * g.change,
                    g.cosine
                ));
            }
        }
        if let Some(d) = &self.detection {
            s.push_str(&format!(
                "; score map {} channel {} ({}×{}): a face in the top-left quarter peaks at {}, in the bottom-right at {}{}",
                d.output,
                d.channel,
                d.size.0,
                d.size.1,
                d.top_left.map_or("no clear cell".into(), |p| format!("{p:?}")),
                d.bottom_right.map_or("no clear cell".into(), |p| format!("{p:?}")),
                if d.follows {
                    ": the peak follows the face"
                } else {
                    ": the peak does not follow the face"
                }
            ));
        }
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
                if let (Some((stride, r)), false) = (v.grouped_response, v.coordinate_like()) {
                    s.push_str(&format!(
                        ", as records of {stride} values (x, y first) a shift right moves them ({:+.3}, {:+.3}) and a shift down ({:+.3}, {:+.3})",
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
    if r.detection.as_ref().is_some_and(|d| d.follows)
        && matches!(
            c.technique,
            Technique::FaceDetection | Technique::PersonDetection
        )
    {
        c.confidence = (c.confidence + 0.1).min(0.9);
        c.reasons.push(
            "probe: a score map's peak follows a face moved across the picture: a detector".into(),
        );
    }
    if let Some(g) = &r.signal {
        c.reasons.push(
            "probe: no drawn picture ran on the graph, so no face or gait behaviour was measured; the run on drawn signals shows only whether it is live".into(),
        );
        if g.constant && c.technique != Technique::None {
            c.confidence = (c.confidence * 0.6).max(0.3);
            c.reasons
                .push("probe: constant output: an inert or broken export, weaker evidence".into());
        }
        return;
    }
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
        Technique::FaceLandmarks | Technique::BodyPose if v.coordinates_in_any_reading() => {
            c.confidence = (c.confidence + 0.1).min(0.95);
            c.reasons.push(
                "probe: the output moves with the face (x follows a shift): coordinates".into(),
            );
        }
        _ => {}
    }
}
