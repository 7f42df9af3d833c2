//! PyTorch checkpoints: legacy `torch.save` files (a magic number, then pickles) and zip-format
//! files (`*/data.pkl` plus `*/data/N` storages; TorchScript adds `*/code/` and `constants.pkl`).
//! The pickles are walked statically ([`super::pickle`]); nothing is ever unpickled or run.

pub mod tensors;

use super::pickle;
use super::{ModelError, ModelFormat, ModelInfo};

/// The legacy format's magic number, pickled as a LONG1 right after PROTO 2.
const LEGACY_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const MAX_PKL: u64 = 64 << 20;

/// Whether `bytes` start with the legacy `torch.save` magic number pickle.
pub fn looks_like_legacy(bytes: &[u8]) -> bool {
    bytes.get(..4) == Some(&[0x80, 0x02, 0x8a, 0x0a]) && bytes.get(4..14) == Some(&LEGACY_MAGIC)
}

/// A zip whose entries include a `data.pkl`.
pub fn looks_like_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
        && memchr::memmem::find(&bytes[..bytes.len().min(1 << 16)], b"data.pkl").is_some()
}

/// Put what a pickle walk found into `info`: weights (counted), the classes it names as
/// `global:` ops, Ultralytics head and task, labels, and a note when the walk stopped early.
/// Errors: a tensor whose element count overflows.
pub(super) fn fill(info: &mut ModelInfo, facts: pickle::PickleFacts) -> Result<(), ModelError> {
    for t in &facts.tensors {
        info.count_params(&t.name, &t.shape)?;
    }
    info.weights = facts.tensors;
    for g in facts.globals.iter().take(32) {
        *info.ops.entry(format!("global:{g}")).or_default() += 1;
    }
    // Ultralytics (YOLO) checkpoints pickle the whole model: its head class says the task.
    for g in &facts.globals {
        if let Some(head) = g.strip_prefix("ultralytics.nn.modules.head.") {
            info.facts
                .insert("pytorch.ultralytics_head".into(), head.to_string());
        }
        if let Some(task) = g.strip_prefix("ultralytics.nn.tasks.") {
            info.facts
                .insert("pytorch.ultralytics_task".into(), task.to_string());
        }
    }
    if !facts.labels.is_empty() {
        info.facts
            .insert("model.labels".into(), facts.labels.join(","));
    }
    if !facts.complete {
        info.notes
            .push("pickle walk stopped before the end (unknown opcode or truncation)".into());
    }
    Ok(())
}

/// Parse a checkpoint's pickle statically (never run) for tensor names and shapes.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    let mut info = ModelInfo {
        format: Some(ModelFormat::Pytorch),
        ..Default::default()
    };
    if looks_like_legacy(bytes) {
        info.facts
            .insert("pytorch.container".into(), "legacy".into());
        fill(&mut info, pickle::walk(bytes, 4))?;
        return Ok(info);
    }
    if !bytes.starts_with(b"PK\x03\x04") {
        return Err(ModelError::Invalid(
            "pytorch: neither a legacy checkpoint nor a zip".into(),
        ));
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| ModelError::Invalid(format!("pytorch: zip: {e}")))?;
    let names: Vec<String> = zip.file_names().take(100_000).map(str::to_string).collect();
    let is_script = names
        .iter()
        .any(|n| n.contains("/code/") || n.ends_with("constants.pkl"));
    if is_script {
        info.format = Some(ModelFormat::Torchscript);
    }
    info.facts.insert("pytorch.container".into(), "zip".into());
    info.facts
        .insert("pytorch.entries".into(), names.len().to_string());
    let Some(pkl) = names.iter().find(|n| n.ends_with("data.pkl")).cloned() else {
        return Err(ModelError::Invalid("pytorch: zip without data.pkl".into()));
    };
    let data = super::zip_entry(&mut zip, &pkl, MAX_PKL, "pytorch")?;
    fill(&mut info, pickle::walk(&data, 1))?;
    Ok(info)
}
