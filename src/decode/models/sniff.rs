//! Which format is this file? Decided by content (magic bytes and structure), with the file
//! name only as a tie-breaker; returns `None` for files that are not models at all.

use super::{
    caffe, cascade, dlib, embedded, joblib, jsmodel, keras, ncnn, numpy, onnx, opaque, openvino,
    pytorch, safetensors, soc, tfgraph, tfjs, tflite, tnn, torch7, ModelError, ModelFormat,
    ModelInfo,
};

/// Largest file parsed as a model.
pub const MAX_MODEL: usize = 2 << 30;

/// One model format the sniffer knows: how to recognise it (by content; by the lowercase file
/// name only where a format has no magic) and how to parse it.
pub struct FormatReader {
    /// The format, as reports name it.
    pub name: &'static str,
    /// Whether `bytes` (named `lower_name`) are this format.
    pub recognise: fn(&[u8], &str) -> bool,
    /// Parse them.
    pub parse: fn(&[u8]) -> Result<ModelInfo, ModelError>,
}

/// Every model format, tried in this order (magic-numbered containers first: their magic
/// cannot be mistaken; ONNX and TensorFlow graphs, plain protobuf, late). Adding a format: a
/// module with `looks_like` and `parse`, a [`super::ModelFormat`] variant, and one line here.
pub const READERS: &[FormatReader] = &[
    FormatReader {
        name: "tflite",
        recognise: |b, _| tflite::looks_like(b),
        parse: tflite::parse,
    },
    FormatReader {
        name: "soc",
        recognise: |b, _| soc::looks_like(b),
        parse: soc::parse,
    },
    FormatReader {
        name: "numpy",
        recognise: |b, _| numpy::looks_like(b),
        parse: numpy::parse,
    },
    FormatReader {
        name: "safetensors",
        recognise: |b, _| safetensors::looks_like(b),
        parse: safetensors::parse,
    },
    FormatReader {
        name: "torch7",
        recognise: |b, _| torch7::looks_like(b),
        parse: torch7::parse,
    },
    FormatReader {
        name: "pytorch",
        recognise: |b, _| pytorch::looks_like_legacy(b) || pytorch::looks_like_zip(b),
        parse: pytorch::parse,
    },
    FormatReader {
        name: "hef",
        recognise: |b, _| opaque::looks_like_hef(b),
        parse: |b| opaque::parse(b, ModelFormat::Hef),
    },
    FormatReader {
        name: "axmodel",
        recognise: opaque::looks_like_axmodel,
        parse: |b| opaque::parse(b, ModelFormat::Axmodel),
    },
    FormatReader {
        name: "mnn",
        recognise: opaque::looks_like_mnn,
        parse: |b| opaque::parse(b, ModelFormat::Mnn),
    },
    FormatReader {
        name: "paddle",
        recognise: opaque::looks_like_paddle,
        parse: |b| opaque::parse(b, ModelFormat::Paddle),
    },
    FormatReader {
        name: "paddle_lite",
        recognise: opaque::looks_like_paddle_lite,
        parse: |b| opaque::parse(b, ModelFormat::PaddleLite),
    },
    FormatReader {
        name: "coreml",
        recognise: opaque::looks_like_coreml,
        parse: |b| opaque::parse(b, ModelFormat::Coreml),
    },
    FormatReader {
        name: "tnnmodel",
        recognise: |b, _| opaque::looks_like_tnnmodel(b),
        parse: |b| opaque::parse(b, ModelFormat::Tnn),
    },
    FormatReader {
        name: "tnn",
        recognise: |b, _| tnn::looks_like(b),
        parse: tnn::parse,
    },
    FormatReader {
        name: "pickle",
        recognise: |b, _| joblib::looks_like(b),
        parse: joblib::parse,
    },
    FormatReader {
        name: "dlib",
        recognise: |b, _| dlib::looks_like(b),
        parse: dlib::parse,
    },
    FormatReader {
        name: "cascade",
        recognise: |b, _| cascade::looks_like(b),
        parse: cascade::parse,
    },
    FormatReader {
        name: "tfjs",
        recognise: |b, n| {
            (n.ends_with(".json") || b.first().is_some_and(|c| matches!(c, b'{' | b'[')))
                && tfjs::looks_like(b)
        },
        parse: tfjs::parse,
    },
    FormatReader {
        name: "jsmodel",
        recognise: |b, _| jsmodel::looks_like(b),
        parse: jsmodel::parse,
    },
    FormatReader {
        name: "ncnn",
        recognise: |b, _| ncnn::looks_like(b),
        parse: ncnn::parse,
    },
    FormatReader {
        name: "keras",
        recognise: |b, _| keras::looks_like(b),
        parse: keras::parse,
    },
    FormatReader {
        name: "openvino",
        recognise: |b, _| openvino::looks_like(b),
        parse: openvino::parse,
    },
    FormatReader {
        name: "caffe",
        recognise: |b, _| caffe::looks_like_prototxt(b),
        parse: caffe::parse,
    },
    FormatReader {
        name: "onnx",
        recognise: |b, _| onnx::looks_like(b),
        parse: onnx::parse,
    },
    FormatReader {
        name: "tfgraph",
        recognise: |b, _| tfgraph::looks_like(b),
        parse: tfgraph::parse,
    },
    FormatReader {
        name: "caffemodel",
        recognise: |b, n| n.ends_with(".caffemodel") && caffe::looks_like_caffemodel(b),
        parse: caffe::parse,
    },
    // Last: any other text format claims its files first.
    FormatReader {
        name: "embedded",
        recognise: |b, _| embedded::looks_like(b, &recognised),
        parse: embedded::parse,
    },
];

/// Whether some format recognises `bytes` (by content alone).
fn recognised(bytes: &[u8]) -> bool {
    READERS.iter().any(|r| (r.recognise)(bytes, "embedded"))
}

/// Containers of a whole model file — a source text holding it as a literal, a pickle holding
/// it as a byte array — give that file, which is read as the model, with a note on where it
/// was; at most [`MAX_NESTING`] deep.
fn nested(reader: &str, bytes: &[u8], depth: usize) -> Option<Result<ModelInfo, ModelError>> {
    let (inner, note) = inner_file(reader, bytes)?;
    if depth >= MAX_NESTING {
        return None;
    }
    let r = READERS.iter().find(|r| (r.recognise)(&inner, "embedded"))?;
    let mut info = match nested(r.name, &inner, depth + 1) {
        Some(Ok(info)) => info,
        _ => (r.parse)(&inner).ok()?,
    };
    info.notes.push(note);
    Some(Ok(info))
}

/// The whole model file that a container read by `reader` holds (a source text's literal, a
/// pickle's byte array), with a note of where it was; `None` for other readers.
fn inner_file(reader: &str, bytes: &[u8]) -> Option<(Vec<u8>, String)> {
    match reader {
        "embedded" => embedded::inner_file(bytes, &recognised),
        "pickle" => joblib::inner_file(bytes, &recognised),
        _ => None,
    }
}

/// Most models inside models followed.
const MAX_NESTING: usize = 3;

/// The model file itself: `bytes`, or the file a container holds whole (a source text holding
/// it as a literal, a pickle holding it as a byte array: scikeras's `.keras` zip), followed as
/// [`sniff_and_parse`] follows it, so that what runs is what was classified.
pub fn model_file(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let mut current = std::borrow::Cow::Borrowed(bytes);
    for _ in 0..MAX_NESTING {
        let Some(r) = READERS.iter().find(|r| (r.recognise)(&current, "embedded")) else {
            break;
        };
        match inner_file(r.name, &current) {
            Some((b, _)) => current = std::borrow::Cow::Owned(b),
            None => break,
        }
    }
    current
}

/// Recognise and parse a model. `sibling` fetches a file next to this one (weight shards, the
/// `.bin` of a `.param`); formats that need none ignore it.
pub fn sniff_and_parse(
    name: &str,
    bytes: &[u8],
    _sibling: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Option<Result<ModelInfo, ModelError>> {
    if bytes.len() > MAX_MODEL {
        return Some(Err(ModelError::TooLarge(format!("{} bytes", bytes.len()))));
    }
    let lower = name.to_ascii_lowercase();
    if let Some(r) = READERS.iter().find(|r| (r.recognise)(bytes, &lower)) {
        if let Some(Ok(info)) = nested(r.name, bytes, 0) {
            return Some(Ok(info));
        }
        let mut parsed = (r.parse)(bytes);
        if let Ok(info) = &mut parsed {
            // An NCNN .param's or an OpenVINO .xml's weights are in the .bin of the same
            // name: only here is the name known.
            if let Some((fact, w)) = info.format.and_then(|f| super::weights_beside(f, name)) {
                info.facts.insert(fact.into(), w);
            }
        }
        return Some(parsed);
    }
    if lower.ends_with(".onnx") {
        return Some(Err(ModelError::Invalid(
            "named .onnx but not an ONNX model".into(),
        )));
    }
    None
}
