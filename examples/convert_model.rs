//! Convert a model to ONNX as the probe does, and write it out (to compare against the model's
//! own runtime, or to open in a graph viewer).
//!   cargo run --example convert_model -- MODEL.tflite OUT.onnx
use banwatch::detect::fingerprint::probe::convert;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, out] = &args[..] else {
        anyhow::bail!("usage: convert_model MODEL OUT.onnx");
    };
    let bytes = std::fs::read(model)?;
    let dir = std::path::Path::new(model)
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let sibling = |name: &str| std::fs::read(dir.join(name)).ok();
    let info = banwatch::decode::models::sniff_and_parse(model, &bytes, &sibling)
        .ok_or_else(|| anyhow::anyhow!("{model}: not a model"))?
        .map_err(|e| anyhow::anyhow!("{model}: {e}"))?;
    let (onnx, note) = convert::model_to_onnx(&info, &bytes, &sibling)
        .map_err(|e| anyhow::anyhow!("{model}: {e}"))?;
    std::fs::write(out, &onnx)?;
    println!("{model}: {note}, {} bytes", onnx.len());
    Ok(())
}
