//! NCNN models: the `.param` text (magic `7767517`, then `layer_count blob_count`, then one line
//! per layer: `Type Name inputs outputs blobs... k=v...`). The `Input` layer's `0=w 1=h 2=c`
//! gives the input shape; the last layer's output-size parameter (`0=` of InnerProduct /
//! Convolution) the head width. Weights (`.bin`) are not needed for structure.

use super::{ModelError, ModelFormat, ModelInfo, TensorInfo};

/// Whether `bytes` are an NCNN `.param` (magic 7767517).
pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.starts_with(b"7767517")
}

/// Parse an NCNN `.param`: layers, blobs, input and output shapes where declared.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    let text = std::str::from_utf8(&bytes[..bytes.len().min(16 << 20)])
        .map_err(|_| ModelError::Invalid("ncnn: .param is not text".into()))?;
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("7767517") {
        return Err(ModelError::Invalid("ncnn: no 7767517 magic".into()));
    }
    let counts = lines.next().unwrap_or("");
    let mut info = ModelInfo {
        format: Some(ModelFormat::Ncnn),
        ..Default::default()
    };
    info.facts.insert(
        "ncnn.counts".into(),
        counts.trim().chars().take(40).collect(),
    );
    let mut last_width = None;
    for line in lines.take(200_000) {
        let mut f = line.split_whitespace();
        let (Some(kind), Some(name)) = (f.next(), f.next()) else {
            continue;
        };
        *info.ops.entry(kind.to_string()).or_default() += 1;
        let params: Vec<(&str, i64)> = line
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
            .collect();
        let p = |k: &str| params.iter().find(|(x, _)| *x == k).map(|(_, v)| *v);
        if kind == "Input" {
            let (w, h, c) = (p("0"), p("1"), p("2"));
            info.inputs.push(TensorInfo {
                name: name.to_string(),
                shape: vec![Some(1), c.or(Some(3)), h, w],
                dtype: None,
            });
        }
        if matches!(
            kind,
            "InnerProduct" | "Convolution" | "ConvolutionDepthWise" | "Gemm"
        ) {
            last_width = p("0");
        }
    }
    if let Some(d) = last_width {
        info.outputs.push(TensorInfo {
            name: "last".into(),
            shape: vec![Some(1), Some(d)],
            dtype: None,
        });
        info.notes
            .push("output width read from the last InnerProduct/Convolution layer".into());
    }
    Ok(info)
}
