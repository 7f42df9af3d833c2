//! Model fingerprints: what technique a model file implements, how sure, and why.
//!
//! Two independent paths: the **catalog** (`models/catalog.toml`: known public models by sha256
//! and by a weights-independent structural hash) and **structure** ([`structure`]: the shapes of
//! inputs and outputs, detection heads, embedding outputs, silhouette sequences...). The
//! structural path must stand on its own — tests run every fixture with the catalog turned off.
//! Names and metadata are weak evidence: they can break a tie between allowed techniques, never
//! turn a model into a recognition model.
//!
//! A third, optional path is the behavioural [`probe`]: ONNX models (and the formats converted
//! to ONNX) run in ONNX Runtime on generated inputs; how the output moves when the face moves
//! strengthens or weakens what structure found. OpenCV cascades are evaluated in Rust on drawn
//! pictures ([`probe::cascade`]); what they fire on says their object.

pub(crate) mod catalog;
pub(crate) mod labels;
#[cfg(feature = "probe")]
pub mod probe;
pub(crate) mod structure;

use crate::decode::models::ModelInfo;
use crate::model::Technique;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// Options of the model classifier.
#[derive(Debug, Clone)]
pub struct FingerprintOptions {
    /// Consult the catalog of known models.
    pub catalog: bool,
    /// Run ONNX models in ONNX Runtime (when loaded).
    #[cfg(feature = "probe")]
    pub probe: Option<std::sync::Arc<probe::Probe>>,
    /// Or load it the first time an ONNX model needs it.
    #[cfg(feature = "probe")]
    pub lazy_probe: Option<std::sync::Arc<LazyProbe>>,
}

/// A probe loaded the first time an ONNX model needs it (`scan --probe auto`): a scan with no
/// ONNX model in it never loads ONNX Runtime (about 20 ms and its memory at start).
#[cfg(feature = "probe")]
pub struct LazyProbe {
    cell: std::sync::OnceLock<Option<std::sync::Arc<probe::Probe>>>,
    load: Box<dyn Fn() -> Option<probe::Probe> + Send + Sync>,
}

#[cfg(feature = "probe")]
impl LazyProbe {
    /// `load` runs at most once; `None` leaves the probe off for the rest of the run.
    pub fn new(load: impl Fn() -> Option<probe::Probe> + Send + Sync + 'static) -> Self {
        LazyProbe {
            cell: std::sync::OnceLock::new(),
            load: Box::new(load),
        }
    }

    fn get(&self) -> Option<std::sync::Arc<probe::Probe>> {
        self.cell
            .get_or_init(|| (self.load)().map(std::sync::Arc::new))
            .clone()
    }
}

#[cfg(feature = "probe")]
impl std::fmt::Debug for LazyProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyProbe")
            .field("loaded", &self.cell.get().map(Option::is_some))
            .finish()
    }
}

impl Default for FingerprintOptions {
    fn default() -> Self {
        FingerprintOptions {
            catalog: true,
            #[cfg(feature = "probe")]
            probe: None,
            #[cfg(feature = "probe")]
            lazy_probe: None,
        }
    }
}

impl FingerprintOptions {
    /// Consult the catalog of known models, or not (structure alone).
    pub fn with_catalog(mut self, on: bool) -> Self {
        self.catalog = on;
        self
    }

    /// Run the behavioural probe on models it can run.
    #[cfg(feature = "probe")]
    pub fn with_probe(mut self, probe: Option<probe::Probe>) -> Self {
        self.probe = probe.map(std::sync::Arc::new);
        self
    }

    /// Load the probe the first time an ONNX model needs it.
    #[cfg(feature = "probe")]
    pub fn with_lazy_probe(mut self, probe: LazyProbe) -> Self {
        self.lazy_probe = Some(std::sync::Arc::new(probe));
        self
    }
}

/// The verdict on one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// What the model implements.
    pub technique: Technique,
    /// How sure, in [0, 1].
    pub confidence: f64,
    /// Published family (catalog) when known.
    pub family: Option<String>,
    /// Why, in words (shapes, heads, catalog, probe measurements).
    pub reasons: Vec<String>,
}

/// A hash of the model's structure without its weights: format, input and output shapes, the
/// operator histogram and weight shapes. Retrained or fine-tuned copies of a known network share
/// it; a re-export to another format does not.
pub fn structural_hash(info: &ModelInfo) -> String {
    let mut s = String::new();
    let _ = write!(s, "{:?}|", info.format);
    for t in info.inputs.iter().chain(&info.outputs) {
        let _ = write!(s, "{:?};", t.shape);
    }
    s.push('|');
    for (k, v) in &info.ops {
        let _ = write!(s, "{k}={v};");
    }
    s.push('|');
    for w in &info.weights {
        let _ = write!(s, "{:?};", w.shape);
    }
    hex::encode(Sha256::digest(s.as_bytes()))[..16].to_string()
}

/// Classify a parsed model, running the probe on its bytes when one is loaded.
pub fn classify_model(
    info: &ModelInfo,
    bytes: &[u8],
    sha256: &str,
    name: &str,
    opts: &FingerprintOptions,
) -> Classification {
    classify_model_with(info, bytes, &|_| None, sha256, name, opts)
}

/// [`classify_model`] for a model whose weights may sit beside it (TF.js shards): `sibling`
/// fetches a file by the name the model gives.
pub fn classify_model_with(
    info: &ModelInfo,
    bytes: &[u8],
    sibling: &dyn Fn(&str) -> Option<Vec<u8>>,
    sha256: &str,
    name: &str,
    opts: &FingerprintOptions,
) -> Classification {
    #[allow(unused_mut)]
    let mut c = structure::classify(info, name);
    #[cfg(not(feature = "probe"))]
    let _ = (bytes, sibling);
    #[cfg(feature = "probe")]
    let probing = opts.probe.is_some() || opts.lazy_probe.is_some();
    // Cascades are evaluated in Rust: no ONNX Runtime needed, bounded by a work budget.
    #[cfg(feature = "probe")]
    if probing && info.format == Some(crate::decode::models::ModelFormat::OpencvCascade) {
        match probe::cascade::run(bytes) {
            Ok(report) => probe::cascade::apply(&mut c, &report),
            Err(e) => c.reasons.push(format!("probe: cascade not evaluated: {e}")),
        }
    }
    // So are the BBF cascades web packages embed (ccv's format, run as jsfeat runs it).
    #[cfg(feature = "probe")]
    let bbf = info.format == Some(crate::decode::models::ModelFormat::JsEmbedded)
        && info.facts.get("cascade.feature_type").map(String::as_str) == Some("BBF (ccv)");
    #[cfg(feature = "probe")]
    if probing && bbf {
        match probe::cascade::run_bbf(bytes) {
            Ok(report) => probe::cascade::apply(&mut c, &report),
            Err(e) => c.reasons.push(format!("probe: cascade not evaluated: {e}")),
        }
    }
    #[cfg(feature = "probe")]
    if probing
        && !bbf
        && info.format.is_some_and(|f| {
            f == crate::decode::models::ModelFormat::Onnx || probe::convert::converts(f)
        })
    {
        let probe = opts
            .probe
            .clone()
            .or_else(|| opts.lazy_probe.as_ref().and_then(|l| l.get()));
        if let Some(p) = probe {
            match p.run_with(bytes, info, sibling) {
                Ok(report) => probe::apply(&mut c, &report),
                Err(e) => c.reasons.push(format!("probe: {e}")),
            }
        }
    } else if probing {
        // Say why a model was not probed, so a report lists every model's probe outcome.
        if let Some(f) = info
            .format
            .filter(|&f| f != crate::decode::models::ModelFormat::OpencvCascade && !bbf)
        {
            c.reasons.push(format!(
                "probe: not run: no converter from {} to ONNX",
                f.as_str()
            ));
        }
    }
    with_catalog(c, info, sha256, opts)
}

/// Classify a parsed model. `sha256` is the file's hash; `name` its file name (weak evidence).
pub fn classify_named(
    info: &ModelInfo,
    sha256: &str,
    name: &str,
    opts: &FingerprintOptions,
) -> Classification {
    with_catalog(structure::classify(info, name), info, sha256, opts)
}

fn with_catalog(
    mut c: Classification,
    info: &ModelInfo,
    sha256: &str,
    opts: &FingerprintOptions,
) -> Classification {
    if opts.catalog {
        if let Some(known) = catalog::Catalog::shipped().lookup(sha256, &structural_hash(info)) {
            let agrees = known.technique == c.technique;
            let mut reasons = vec![format!(
                "known model: {} ({}, {})",
                known.family,
                known.source,
                if known.by_hash {
                    "sha256"
                } else {
                    "structural hash"
                }
            )];
            if !agrees {
                reasons.push(format!(
                    "structure alone suggested {} ({:.2})",
                    c.technique, c.confidence
                ));
            }
            reasons.append(&mut c.reasons);
            c = Classification {
                technique: known.technique,
                confidence: if known.by_hash { 0.98 } else { 0.9 },
                family: Some(known.family.to_string()),
                reasons,
            };
        }
    }
    c
}

/// Classify with no file name.
pub fn classify(info: &ModelInfo, sha256: &str, opts: &FingerprintOptions) -> Classification {
    classify_named(info, sha256, "", opts)
}
