//! Tencent TNN models: the `.tnnproto` text. Every line is quoted and the content is a list of
//! comma-terminated records: a header (`blob_count ? layer_count [magic]`, magic `4206624770`
//! or, with typed inputs, `4206624772`), the inputs (`name dims...`, or `name rank dims...
//! dtype` with the second magic, several joined by `:`), the output names, the layer count,
//! then one record per layer: `Type name input_count output_count inputs... outputs...
//! params...`. The layout follows Netron's TNN reader (`source/tnn.js`); the weights
//! (`.tnnmodel`) are not needed for structure. Like NCNN, the last `InnerProduct` or
//! `Convolution` gives the head width (its `num_output` parameter: index 0 for InnerProduct,
//! 2 for Convolution).

use super::{ModelError, ModelFormat, ModelInfo, TensorInfo};

const MAGIC_TYPED: &str = "4206624772";
const MAGIC: &str = "4206624770";
/// Most records read.
const MAX_RECORDS: usize = 200_000;

fn header_ok(h: &str) -> bool {
    let f: Vec<&str> = h.split_whitespace().collect();
    f.len() >= 3
        && f[..3].iter().all(|x| x.parse::<u64>().is_ok())
        && (f.len() == 3 || f[3] == MAGIC || f[3] == MAGIC_TYPED)
}

/// The records of a `.tnnproto`: quotes and carriage returns dropped, lines joined, split at
/// commas.
fn records(text: &str) -> Vec<String> {
    let joined: String = text
        .lines()
        .take(MAX_RECORDS)
        .map(|l| l.replace(['"', '\r'], ""))
        .collect();
    joined
        .split(',')
        .take(MAX_RECORDS)
        .map(|r| r.trim().to_string())
        .collect()
}

/// Whether `bytes` begin with a quoted TNN header record.
pub fn looks_like(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(256)];
    let Ok(text) = std::str::from_utf8(head.split(|c| *c == b'\n').next().unwrap_or_default())
    else {
        return false;
    };
    let line = text.trim();
    line.starts_with('"')
        && line.trim_end_matches(['"', '\r']).trim_end().ends_with(',')
        && header_ok(line.trim_matches(['"', '\r', ',', ' ']))
}

/// Parse a `.tnnproto`: inputs with shapes, output names, the operator histogram and the
/// head width. Errors: not text, or no valid header.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    let text = std::str::from_utf8(&bytes[..bytes.len().min(16 << 20)])
        .map_err(|_| ModelError::Invalid("tnn: .tnnproto is not text".into()))?;
    let recs = records(text);
    let mut it = recs.iter();
    let header = it.next().map(String::as_str).unwrap_or_default();
    if !header_ok(header) {
        return Err(ModelError::Invalid("tnn: no TNN header record".into()));
    }
    let typed = header.split_whitespace().nth(3) == Some(MAGIC_TYPED);
    let mut info = ModelInfo {
        format: Some(ModelFormat::Tnn),
        ..Default::default()
    };
    info.facts
        .insert("tnn.header".into(), header.chars().take(64).collect());
    for input in it.next().map(String::as_str).unwrap_or_default().split(':') {
        let mut f = input.split_whitespace();
        let Some(name) = f.next() else { continue };
        let nums: Vec<i64> = f.filter_map(|x| x.parse().ok()).collect();
        let dims = if typed {
            let rank = nums.first().copied().unwrap_or(0).clamp(0, 8) as usize;
            nums.get(1..1 + rank).unwrap_or_default().to_vec()
        } else {
            nums.into_iter().take(8).collect()
        };
        info.inputs.push(TensorInfo {
            name: name.chars().take(128).collect(),
            shape: dims.into_iter().map(|d| (d > 0).then_some(d)).collect(),
            dtype: None,
        });
    }
    // The record after the inputs is empty in Netron's reading; the outputs follow it.
    let _ = it.next();
    let outputs: Vec<String> = it
        .next()
        .map(|r| r.split_whitespace().take(64).map(str::to_string).collect())
        .unwrap_or_default();
    let _ = it.next();
    let mut last_width = None;
    for rec in it {
        let f: Vec<&str> = rec.split_whitespace().collect();
        let [kind, _name, nin, nout, rest @ ..] = f.as_slice() else {
            continue;
        };
        let (Ok(nin), Ok(nout)) = (nin.parse::<usize>(), nout.parse::<usize>()) else {
            continue;
        };
        *info.ops.entry(kind.to_string()).or_default() += 1;
        let params = rest.get(nin.saturating_add(nout)..).unwrap_or_default();
        let width_at = match *kind {
            "InnerProduct" => Some(0),
            "Convolution" | "ConvolutionDepthWise" => Some(2),
            _ => None,
        };
        if let Some(i) = width_at {
            last_width = params
                .get(i)
                .and_then(|p| p.parse::<i64>().ok())
                .or(last_width);
        }
    }
    if info.ops.is_empty() {
        return Err(ModelError::Invalid("tnn: no layer records".into()));
    }
    for name in outputs {
        info.outputs.push(TensorInfo {
            name: name.chars().take(128).collect(),
            shape: vec![],
            dtype: None,
        });
    }
    if let (Some(d), 1) = (last_width, info.outputs.len()) {
        info.outputs[0].shape = vec![Some(1), Some(d)];
        info.notes
            .push("output width read from the last InnerProduct/Convolution layer".into());
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A MobileFaceNet-like proto in TNN's layout (typed inputs): a 112x112 face crop in, a
    /// 128-value embedding out.
    const FACE: &str = "\"1 8 1 4206624772 ,\"
\"data 4 1 3 112 112 0 ,\"
\" ,\"
\"fc1 ,\"
\" 3 ,\"
\"Convolution conv1 1 1 data conv1 1 3 64 3 3 2 2 1 1 -1 1 1 ,\"
\"PReLU prelu1 1 1 conv1 prelu1 64 ,\"
\"InnerProduct fc1 1 1 prelu1 fc1 128 1 0 1 ,\"
";

    #[test]
    fn reads_inputs_ops_and_head() {
        assert!(looks_like(FACE.as_bytes()));
        let m = parse(FACE.as_bytes()).unwrap();
        assert_eq!(m.format, Some(ModelFormat::Tnn));
        assert_eq!(
            m.inputs[0].shape,
            vec![Some(1), Some(3), Some(112), Some(112)]
        );
        assert_eq!(m.outputs[0].name, "fc1");
        assert_eq!(m.outputs[0].shape, vec![Some(1), Some(128)]);
        assert_eq!(m.ops["Convolution"], 1);
        assert_eq!(m.ops["InnerProduct"], 1);
        // The older layout: untyped inputs, no magic.
        let old = "\"1 8 1 ,\"\n\"data 1 3 64 64 ,\"\n\" ,\"\n\"prob ,\"\n\" 1 ,\"\n\"Softmax prob 1 1 data prob 1 ,\"\n";
        let m = parse(old.as_bytes()).unwrap();
        assert_eq!(
            m.inputs[0].shape,
            vec![Some(1), Some(3), Some(64), Some(64)]
        );
    }

    #[test]
    fn other_text_and_hostile_records_are_errors() {
        assert!(!looks_like(b"7767517\n"));
        assert!(!looks_like(b"\"hello world ,\"\n"));
        assert!(parse(b"\"1 2 3 999 ,\"\n").is_err());
        assert!(parse(b"\"1 2 3 ,\"\n").is_err());
        let hostile = "\"1 1 1 4206624772 ,\"\"x 99999999999 1 ,\" ,\"o ,\" 1 ,\"Conv c 18446744073709551615 5 ,\"";
        let _ = parse(hostile.as_bytes());
        for cut in 0..FACE.len() {
            let _ = parse(&FACE.as_bytes()[..cut]);
        }
    }
}
