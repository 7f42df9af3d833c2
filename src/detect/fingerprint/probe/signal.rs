//! The run for graphs that take no picture: voice-activity and speech nets, sequence models,
//! a cosine helper between two embeddings, operator tests. Nothing about faces or gait can be
//! measured on them, but whether the graph is live can: every input gets a value of its
//! declared type and shape (open dimensions tried at a few sizes), the graph runs on two
//! different draws, and the report says how far its float outputs moved between them. A graph
//! whose outputs do not move at all is inert (a broken or placeholder export).
//!
//! Values by input: floats named as recurrent states (`state`, `h0`, `c0`, `hidden`) get
//! zeros, other floats a drawn signal in [-1, 1]; integers named as a sample rate (`sr`,
//! `sample_rate`) get 16000 (Silero VAD's ONNX export, `silero-vad` `utils_vad.py`), masks
//! ones, other integers small counts in [0, 8) (token ids, lengths), booleans true.

use super::*;
use ort::value::TensorElementType;

/// Sizes tried, in order, for a graph's open dimensions other than the batch: 512 samples
/// is Silero VAD's 16 kHz window, 64 and 16 fit sequence and operator-test graphs.
const OPEN_SIZES: [i64; 3] = [512, 64, 16];

/// Most elements one input may have in this run.
const MAX_SIGNAL_ELEMENTS: u64 = 1 << 20;

/// How the graph's float outputs answered two different draws of its inputs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SignalResponse {
    /// Largest change of any float output value between the two draws, relative to the first
    /// draw's L2 norm.
    pub change: f64,
    /// Cosine between the two draws' float outputs, flattened.
    pub cosine: f64,
    /// The float outputs did not move at all between the draws.
    pub constant: bool,
    /// How many float output values there were (0: the graph returns no float tensor).
    pub values: usize,
    /// Why no drawn picture ran (no input takes one, or ONNX Runtime refused it).
    #[serde(default)]
    pub no_picture: String,
}

/// The value an input gets in this run, from its name and element type.
fn value_for(name: &str, ty: TensorElementType) -> SideValue {
    use TensorElementType as T;
    let n = name.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| n.contains(w));
    match ty {
        T::Bool => SideValue::One,
        T::Float32 | T::Float64 => {
            if has(&["state", "hidden", "h0", "c0", "cell"]) {
                SideValue::Zero
            } else {
                SideValue::Drawn
            }
        }
        _ => {
            if n == "sr" || has(&["sample_rate", "sampling_rate", "samplerate"]) {
                SideValue::SampleRate
            } else if has(&["mask"]) {
                SideValue::One
            } else {
                SideValue::Counts
            }
        }
    }
}

/// One declared input: name, dimensions (open ones ≤ 0), the open dimensions' names (empty
/// where unnamed), element type.
type Declared = (String, Vec<i64>, Vec<String>, TensorElementType);

/// How open dimensions are filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fill {
    /// The leading one of a longer shape, or one named as a batch (`batch`, `N`,
    /// `batch_size`), is 1; the others the size tried.
    Batch,
    /// Every open dimension but each input's last is 1 (recurrent states whose unnamed middle
    /// dimension is the batch: Silero VAD's `state` [2, batch, 128]); the last the size tried.
    LastOnly,
}

/// `dims` made concrete under `fill`, `open` for the open dimensions that take the size tried.
fn concrete(dims: &[i64], symbols: &[String], open: i64, fill: Fill) -> Vec<i64> {
    let last = dims.len().saturating_sub(1);
    dims.iter()
        .enumerate()
        .map(|(i, &d)| {
            let symbol = symbols
                .get(i)
                .map(|s| s.to_ascii_lowercase())
                .unwrap_or_default();
            match (i, d) {
                (_, d) if d > 0 => d,
                _ if symbol.contains("batch") || symbol == "n" => 1,
                (0, _) if dims.len() > 1 => 1,
                (i, _) if fill == Fill::LastOnly && i != last => 1,
                _ => open,
            }
        })
        .collect()
}

/// The feed for one draw: every input's value, described.
fn feed(
    inputs: &[Declared],
    open: i64,
    fill: Fill,
    seed: u64,
) -> Result<(Vec<SideInput>, SideValues), ProbeError> {
    let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1);
    let mut described = Vec::with_capacity(inputs.len());
    let mut values = Vec::with_capacity(inputs.len());
    for (name, dims, symbols, ty) in inputs {
        let shape = concrete(dims, symbols, open, fill);
        let elements = shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(u64::try_from(d).ok()?))
            .unwrap_or(u64::MAX);
        if elements > MAX_SIGNAL_ELEMENTS {
            return Err(ProbeError::Unsupported(format!(
                "input {name} {shape:?} is over the probe's {MAX_SIGNAL_ELEMENTS} elements"
            )));
        }
        let value = value_for(name, *ty);
        let data: Vec<f64> = (0..elements)
            .map(|_| match value {
                SideValue::Drawn => rng.range(-1.0, 1.0),
                SideValue::Counts => rng.range(0.0, 8.0).floor(),
                SideValue::SampleRate => 16000.0,
                SideValue::One => 1.0,
                _ => 0.0,
            })
            .collect();
        values.push((name.clone(), tensor_of(*ty, shape.clone(), &data)?));
        described.push(SideInput {
            name: name.clone(),
            shape,
            element: ty.to_string(),
            value,
        });
    }
    Ok((described, values))
}

/// One inference on `feed`; the float outputs.
fn run_feed(session: &mut Session, feed: &SideValues) -> Result<Outputs, ProbeError> {
    let inputs: Vec<(&str, ort::session::SessionInputValue<'_>)> = feed
        .iter()
        .map(|(n, v)| (n.as_str(), v.view().into()))
        .collect();
    Ok(float_outputs(&session.run(inputs).map_err(rt)?))
}

/// Run a graph that takes no picture on two draws of its inputs (see the module's text).
/// `inputs` are the session's inputs as declared: name, dimensions (open ones ≤ 0), element
/// type. Errors: an input that is not a tensor or of a type the probe does not fill, one over
/// [`MAX_SIGNAL_ELEMENTS`], or ONNX Runtime's first error when no open size runs.
pub(super) fn run(
    session: &mut Session,
    inputs: &[(String, ValueType)],
) -> Result<ProbeReport, ProbeError> {
    let start = Instant::now();
    let mut declared = Vec::with_capacity(inputs.len());
    for (name, t) in inputs {
        let ValueType::Tensor {
            ty,
            shape,
            dimension_symbols,
        } = t
        else {
            return Err(ProbeError::Unsupported(format!(
                "input {name} is not a tensor"
            )));
        };
        declared.push((
            name.clone(),
            shape.iter().copied().collect::<Vec<i64>>(),
            dimension_symbols.iter().cloned().collect::<Vec<String>>(),
            *ty,
        ));
    }
    let has_open = declared.iter().any(|d| d.1.iter().any(|&x| x <= 0));
    let sizes: &[i64] = if has_open {
        &OPEN_SIZES
    } else {
        &OPEN_SIZES[..1]
    };
    let fills: &[Fill] = if has_open {
        &[Fill::Batch, Fill::LastOnly]
    } else {
        &[Fill::Batch]
    };
    let tries = sizes
        .iter()
        .flat_map(|&open| fills.iter().map(move |&fill| (open, fill)));
    let mut first_error = None;
    for (open, fill) in tries {
        let (given, a) = match feed(&declared, open, fill, 1) {
            Ok(f) => f,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        let first = match run_feed(session, &a) {
            Ok(o) => o,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        let second = run_feed(session, &feed(&declared, open, fill, 2)?.1)?;
        let (x, y) = (flattened(&first), flattened(&second));
        let moved = max_abs_diff(&x, &y);
        let change = moved / l2(&x).max(1e-6);
        let signal = SignalResponse {
            change: if change.is_finite() { change } else { f64::NAN },
            cosine: cosine(&x, &y),
            constant: !x.is_empty() && moved <= 1e-6 * l2(&x).max(1e-6),
            values: x.len(),
            no_picture: String::new(),
        };
        return Ok(ProbeReport {
            input: given.first().map(|g| g.shape.clone()).unwrap_or_default(),
            kind: ProbeKind::Signals,
            scaling: None,
            identity_votes: (0, 0),
            outputs: first
                .iter()
                .map(|(n, s, _)| (n.clone(), s.clone()))
                .collect(),
            vector: None,
            millis: start.elapsed().as_secs_f64() * 1e3,
            converted: None,
            detection: None,
            side_inputs: given,
            signal: Some(signal),
        });
    }
    Err(first_error.unwrap_or_else(|| ProbeError::Unsupported("no input size to try".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Silero VAD's inputs, as its ONNX export declares them, get a window of samples, zero
    /// state and the 16 kHz rate.
    #[test]
    fn inputs_get_values_by_name_and_type() {
        use TensorElementType as T;
        assert_eq!(value_for("input", T::Float32), SideValue::Drawn);
        assert_eq!(value_for("state", T::Float32), SideValue::Zero);
        assert_eq!(value_for("h0", T::Float32), SideValue::Zero);
        assert_eq!(value_for("sr", T::Int64), SideValue::SampleRate);
        assert_eq!(value_for("attention_mask", T::Int64), SideValue::One);
        assert_eq!(value_for("input_ids", T::Int64), SideValue::Counts);
        assert_eq!(value_for("keep", T::Bool), SideValue::One);
        let none: Vec<String> = Vec::new();
        let named = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let b = Fill::Batch;
        assert_eq!(concrete(&[-1, -1], &none, 512, b), vec![1, 512]);
        assert_eq!(
            concrete(&[2, -1, 128], &named(&["", "batch_size", ""]), 512, b),
            vec![2, 1, 128]
        );
        assert_eq!(concrete(&[2, -1, 128], &none, 512, b), vec![2, 512, 128]);
        assert_eq!(
            concrete(&[2, -1, 128], &none, 512, Fill::LastOnly),
            vec![2, 1, 128]
        );
        assert_eq!(
            concrete(&[-1, -1, 64], &none, 512, Fill::LastOnly),
            vec![1, 1, 64]
        );
        // A leading open dimension is the batch whatever its name (TensorFlow's `unk__749`).
        let tf = named(&["unk__749", "", ""]);
        assert_eq!(concrete(&[-1, 43844, 1], &tf, 512, b), vec![1, 43844, 1]);
        assert_eq!(concrete(&[], &none, 512, b), Vec::<i64>::new());
        assert_eq!(concrete(&[-1], &none, 16, b), vec![16]);
    }

    /// An input too large to build is refused with its name, not allocated.
    #[test]
    fn an_absurd_input_is_refused_by_name() {
        let declared = vec![(
            "x".to_string(),
            vec![1, 1 << 14, 1 << 14],
            Vec::new(),
            TensorElementType::Float32,
        )];
        let e = feed(&declared, 16, Fill::Batch, 1)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("input x"), "{e}");
    }
}
