//! Formats recognised but not walked: their structure is undocumented (Axera), documented
//! only as a large schema not read here yet (MNN's FlatBuffers, Paddle's and CoreML's
//! protobufs, Paddle Lite's naive buffer), or compiled for an accelerator (Hailo HEF, TNN
//! weights). Each is named in the report with its size and the readable strings of its first
//! MiB (layer and network names: weak evidence), never as "no model here".
//!
//! How each is told apart, from the sources named:
//! - Hailo `.hef`: `HEADER_MAGIC 0x01484546` at offset 0 (hailort `hef_internal.hpp`),
//!   followed by a version (0–3) and the size of the `ProtoHEF` message.
//! - Axera `.axmodel` (Pulsar2 toolchain): by extension only; no published layout.
//! - MNN `.mnn`: by extension, and a FlatBuffers root table offset that stays in the file
//!   (MNN's schema `MNN.fbs` has no file identifier).
//! - Paddle `.pdmodel` / `__model__`: by name, and a `ProgramDesc` whose first field is its
//!   `blocks` (field 1, length-delimited: byte `0x0a`), per `framework.proto`.
//! - Paddle Lite `.nb`: by extension, and the naive buffer's header (meta version, optimizer
//!   version string).
//! - CoreML `.mlmodel`: by extension, and a `Model` starting with `specificationVersion`
//!   (field 1, varint: byte `0x08`), per coremltools `Model.proto`.
//! - TNN `.tnnmodel` weights: magic `0xFABC0002` or `0xFABC0004` (little-endian), as Netron's
//!   reader checks; the `.tnnproto` text beside it is read by [`super::tnn`].

use super::{ModelError, ModelFormat, ModelInfo};

fn u32_at(b: &[u8], at: usize, big: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big {
        u32::from_be_bytes(s)
    } else {
        u32::from_le_bytes(s)
    })
}

/// Hailo HEF: the magic in either byte order, a known header version.
pub fn looks_like_hef(b: &[u8]) -> bool {
    let big = b.starts_with(b"\x01HEF");
    (big || b.starts_with(b"FEH\x01")) && u32_at(b, 4, big).is_some_and(|v| v <= 3)
}

/// MNN: a `.mnn` whose FlatBuffers root offset points inside the file at a table whose vtable
/// is inside it too.
pub fn looks_like_mnn(b: &[u8], name: &str) -> bool {
    if !name.ends_with(".mnn") {
        return false;
    }
    let Some(root) = u32_at(b, 0, false).map(|r| r as usize) else {
        return false;
    };
    let Some(soff) = u32_at(b, root, false).map(|s| s as i32) else {
        return false;
    };
    let vtable = root as i64 - i64::from(soff);
    root >= 4
        && root % 4 == 0
        && vtable >= 0
        && u16::from_le_bytes([
            b.get(vtable as usize).copied().unwrap_or(1),
            b.get(vtable as usize + 1).copied().unwrap_or(0),
        ]) % 2
            == 0
}

/// Paddle `ProgramDesc`: by name and its first field.
pub fn looks_like_paddle(b: &[u8], name: &str) -> bool {
    (name.ends_with(".pdmodel") || name.ends_with("__model__")) && b.first() == Some(&0x0a)
}

/// Paddle Lite naive buffer: by extension, and its header as `LoadModelNaiveFromFile` reads
/// it (Paddle Lite `model_parser.cc`): a `u16` meta version (0–3), then the 16-byte optimizer
/// version string (`v2.12`...), NUL-padded.
pub fn looks_like_paddle_lite(b: &[u8], name: &str) -> bool {
    let Some(version) = b.get(2..18) else {
        return false;
    };
    name.ends_with(".nb")
        && b.len() >= 32
        && u16::from_le_bytes([b[0], b[1]]) <= 3
        && version.first().is_some_and(u8::is_ascii_alphanumeric)
        && version.iter().all(|c| *c == 0 || c.is_ascii_graphic())
}

/// CoreML `Model`: by extension and its first field.
pub fn looks_like_coreml(b: &[u8], name: &str) -> bool {
    name.ends_with(".mlmodel") && b.first() == Some(&0x08)
}

/// Axera: by extension.
pub fn looks_like_axmodel(b: &[u8], name: &str) -> bool {
    name.ends_with(".axmodel") && b.len() >= 32
}

/// TNN weights: the blob header magic.
pub fn looks_like_tnnmodel(b: &[u8]) -> bool {
    matches!(b, [0x02 | 0x04, 0x00, 0xbc, 0xfa, ..])
}

/// Report `b` as an opaque model of `format`: size, what the header says where it is known,
/// and the readable strings of its first MiB as shapeless weights (weak evidence).
pub fn parse(b: &[u8], format: ModelFormat) -> Result<ModelInfo, ModelError> {
    let fmt = format.as_str();
    let mut info = ModelInfo {
        format: Some(format),
        ..Default::default()
    };
    info.facts
        .insert(format!("{fmt}.size"), b.len().to_string());
    let mut region = b;
    if format == ModelFormat::Hef {
        let big = b.starts_with(b"\x01HEF");
        let version = u32_at(b, 4, big)
            .ok_or_else(|| ModelError::Truncated("hef: header of fewer than 12 bytes".into()))?;
        let proto = u32_at(b, 8, big)
            .ok_or_else(|| ModelError::Truncated("hef: header of fewer than 12 bytes".into()))?;
        info.facts.insert("hef.version".into(), version.to_string());
        info.facts
            .insert("hef.proto_size".into(), proto.to_string());
        // The ProtoHEF message (network groups, layer names) follows the header.
        let header = [32usize, 28, 44, 56]
            .get(version as usize)
            .copied()
            .unwrap_or(12);
        region = b.get(header..).unwrap_or_default();
    }
    if region.is_empty() {
        return Err(ModelError::Truncated(format!(
            "{fmt}: nothing after the header"
        )));
    }
    super::soc::scan_strings(&mut info, region, fmt);
    info.notes.push(format!(
        "{fmt}: format recognised, structure not read here (opaque); judged by the strings only"
    ));
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_is_named_and_its_strings_listed() {
        let mut hef = b"\x01HEF".to_vec();
        hef.extend_from_slice(&3u32.to_be_bytes());
        hef.extend_from_slice(&100u32.to_be_bytes());
        hef.extend_from_slice(&[0; 44]);
        hef.extend_from_slice(b"\x12\x0ayolov5s_personface\x00\x1aconv1_block");
        assert!(looks_like_hef(&hef));
        let m = parse(&hef, ModelFormat::Hef).unwrap();
        assert_eq!(m.facts["hef.version"], "3");
        let names: Vec<&str> = m.weights.iter().map(|w| w.name.as_str()).collect();
        assert!(
            names.iter().any(|n| n.contains("yolov5s_personface")),
            "{names:?}"
        );
        assert!(m.notes.iter().any(|n| n.contains("opaque")));

        let mut mnn = vec![0u8; 64];
        mnn[0..4].copy_from_slice(&16u32.to_le_bytes());
        mnn[16..20].copy_from_slice(&8i32.to_le_bytes());
        mnn[8..10].copy_from_slice(&8u16.to_le_bytes());
        mnn.extend_from_slice(b"Convolution\0conv1");
        assert!(looks_like_mnn(&mnn, "model.mnn"));
        assert!(!looks_like_mnn(&mnn, "model.bin"));
        assert!(!looks_like_mnn(&[0xff; 64], "model.mnn"));

        assert!(looks_like_paddle(b"\x0a\x10\x08\x00", "inference.pdmodel"));
        assert!(!looks_like_paddle(b"\x08\x10", "inference.pdmodel"));
        assert!(looks_like_coreml(b"\x08\x04\x12\x00", "model.mlmodel"));
        assert!(!looks_like_coreml(b"\x0a\x04", "model.mlmodel"));
        assert!(looks_like_tnnmodel(&[0x04, 0x00, 0xbc, 0xfa, 1]));
        assert!(!looks_like_tnnmodel(&[0x03, 0x00, 0xbc, 0xfa, 1]));
        assert!(looks_like_axmodel(&[0u8; 40], "yolo.axmodel"));
        let mut nb = vec![1, 0];
        nb.extend_from_slice(b"v2.12\0\0\0\0\0\0\0\0\0\0\0");
        nb.extend_from_slice(&[0; 20]);
        assert!(looks_like_paddle_lite(&nb, "face.nb"));
        assert!(!looks_like_paddle_lite(
            b"(* Content-type: application/vnd.wolfram.mathematica *)",
            "x.nb"
        ));
        let m = parse(
            b"\x0a\x10conv2d\x00softmax\x00feed\x00fetch",
            ModelFormat::Paddle,
        )
        .unwrap();
        assert_eq!(m.format, Some(ModelFormat::Paddle));
        assert!(m.weights.iter().any(|w| w.name == "conv2d"));
    }

    #[test]
    fn hostile_headers_are_errors() {
        assert!(!looks_like_hef(b"\x01HEF\x00\x00\x00\x09"));
        assert!(parse(b"\x01HEF\x00\x00", ModelFormat::Hef).is_err());
        let mut hef = b"\x01HEF".to_vec();
        hef.extend_from_slice(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        assert!(parse(&hef, ModelFormat::Hef).is_err());
        assert!(!looks_like_mnn(&[0xff, 0xff, 0xff, 0x7f], "x.mnn"));
        assert!(!looks_like_mnn(&[], "x.mnn"));
    }
}
