//! Sophgo/Cvitek `.cvimodel` and Sophgo `.bmodel`: headers and FlatBuffers per tpu-mlir's
//! published schemas (`cvimodel.fbs`, `bmodel.fbs`).

use super::flatbuf::{Fb, Table};
use super::*;

// ---------------------------------------------------------------------------------------------
// cvimodel

pub(super) fn cvi_dtype(t: u8) -> &'static str {
    match t {
        0 => "float32",
        1 => "int32",
        2 => "uint32",
        3 => "bfloat16",
        4 => "int16",
        5 => "uint16",
        6 => "int8",
        7 => "uint8",
        _ => "unknown",
    }
}

/// Walk `cvi.model.Model` (tpu-mlir `cvimodel.fbs`): 0 version (struct of 3 bytes), 1 name,
/// 2 build_time, 5 weight_map [Weight{0 name, 3 shape}], 6 programs [Program{2 input_tensors,
/// 3 output_tensors, 4 tensor_map [Tensor{1 name, 3 dtype, 4 shape}]}], 8 target,
/// 9 mlir_version; Shape{0 dim:[int64]}.
pub(super) fn walk_cvimodel(fb: &Fb, info: &mut ModelInfo) -> Result<(), ModelError> {
    let model = fb.root()?;
    if let Some(at) = fb.field(model, 0)? {
        if let Some(v) = fb.b.get(at..at.saturating_add(3)) {
            info.facts.insert(
                "cvimodel.version".into(),
                format!("{}.{}.{}", v[0], v[1], v[2]),
            );
        }
    }
    for (i, key) in [
        (1, "name"),
        (2, "build_time"),
        (8, "target"),
        (9, "mlir_version"),
    ] {
        if let Some(s) = fb.string(model, i)? {
            info.metadata.insert(format!("cvimodel.{key}"), s);
        }
    }
    let mut listed = 0usize;
    for w in fb.tables(model, 5, MAX_WEIGHTS_LISTED)? {
        let name = fb.string(w, 0)?.unwrap_or_default();
        let shape = match fb.sub(w, 3)? {
            Some(s) => fb.ints64(s, 0)?,
            None => vec![],
        };
        info.count_params(&name, &shape)?;
        info.weights.push(WeightInfo { name, shape });
        listed += 1;
    }
    let programs = fb.tables(model, 6, 16)?;
    info.facts
        .insert("cvimodel.programs".into(), fb.count(model, 6)?.to_string());
    let mut seen_io = BTreeSet::new();
    for p in programs {
        let ins = fb.strings(p, 2, MAX_IO)?;
        let outs = fb.strings(p, 3, MAX_IO)?;
        let wanted: BTreeSet<&str> = ins.iter().chain(&outs).map(String::as_str).collect();
        let mut found: BTreeMap<String, TensorInfo> = BTreeMap::new();
        let tensors = fb.tables(p, 4, 1 << 16)?;
        for t in &tensors {
            let name = fb.string(*t, 1)?.unwrap_or_default();
            let shape = match fb.sub(*t, 4)? {
                Some(s) => dyn_shape(&fb.ints64(s, 0)?),
                None => vec![],
            };
            let dtype = Some(cvi_dtype(fb.scalar_u8(*t, 3)?.unwrap_or(0)).to_string());
            if wanted.contains(name.as_str()) {
                found.insert(
                    name.clone(),
                    TensorInfo {
                        name: name.clone(),
                        shape,
                        dtype,
                    },
                );
            } else if listed == 0 && info.weights.len() < MAX_WEIGHTS_LISTED {
                // No weight_map: tensor (layer) names are still weak evidence.
                info.weights.push(WeightInfo {
                    name,
                    shape: vec![],
                });
            }
        }
        for (names, is_input) in [(&ins, true), (&outs, false)] {
            for n in names {
                if !seen_io.insert((is_input, n.clone())) || seen_io.len() > MAX_IO {
                    continue;
                }
                let t = found.get(n).cloned().unwrap_or(TensorInfo {
                    name: n.clone(),
                    shape: vec![],
                    dtype: None,
                });
                if is_input {
                    info.inputs.push(t);
                } else {
                    info.outputs.push(t);
                }
            }
        }
    }
    if listed == 0 && !info.weights.is_empty() {
        info.notes.push(
            "cvimodel: no weight_map; tensor names listed as shapeless weights (weak evidence)"
                .into(),
        );
    }
    Ok(())
}

pub(super) fn parse_cvimodel(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    if bytes.len() < CVI_HEADER {
        return Err(ModelError::Truncated(format!(
            "cvimodel: header of {CVI_HEADER} bytes, file of {}",
            bytes.len()
        )));
    }
    let mut info = ModelInfo {
        format: Some(ModelFormat::Cvimodel),
        ..Default::default()
    };
    let body = le32(bytes, 8).unwrap_or(0) as usize;
    let (major, minor) = (bytes.get(12).copied(), bytes.get(13).copied());
    if let (Some(a), Some(b)) = (major, minor) {
        info.facts
            .insert("cvimodel.header_version".into(), format!("{a}.{b}"));
    }
    let chip = c_str(bytes.get(30..46).unwrap_or_default());
    if !chip.is_empty() {
        info.facts.insert("cvimodel.chip".into(), chip);
    }
    let rest = bytes.get(CVI_HEADER..).unwrap_or_default();
    let walked = match rest.get(..body) {
        Some(fb) if body >= 8 => {
            let mut tmp = info.clone();
            match walk_cvimodel(
                &Fb {
                    b: fb,
                    fmt: "cvimodel",
                },
                &mut tmp,
            ) {
                Ok(()) => {
                    info = tmp;
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Some(_) => Err(format!(
            "body of {body} bytes is too small for a FlatBuffer"
        )),
        None => Err(format!(
            "body of {body} bytes runs past the file ({} left)",
            rest.len()
        )),
    };
    if let Err(why) = walked {
        info.notes
            .push(format!("cvimodel: FlatBuffer not read ({why})"));
        scan_strings(&mut info, rest, "cvimodel");
    } else {
        info.notes
            .push("cvimodel: command buffers and weight data are not interpreted".into());
    }
    Ok(info)
}

// ---------------------------------------------------------------------------------------------
// bmodel

pub(super) fn bm_dtype(t: u32) -> &'static str {
    match t {
        0 => "float32",
        1 => "float16",
        2 => "int8",
        3 => "uint8",
        4 => "int16",
        5 => "uint16",
        6 => "int32",
        7 => "uint32",
        8 => "bfloat16",
        9 => "int4",
        10 => "uint4",
        _ => "unknown",
    }
}

pub(super) fn bm_tensor(fb: &Fb, t: Table) -> Result<TensorInfo, ModelError> {
    let name = fb.string(t, 0)?.unwrap_or_default();
    let dtype = fb.scalar_u32(t, 1)?.map(|d| bm_dtype(d).to_string());
    let shape = match fb.tables(t, 5, 1)?.first() {
        Some(s) => dyn_shape(&fb.ints64(*s, 0)?),
        None => vec![],
    };
    Ok(TensorInfo { name, shape, dtype })
}

/// Walk `bmodel.Model` (tpu-mlir `bmodel.fbs`): 0 type, 1 version, 2 time, 3 chip,
/// 4 net [Net{0 name, 3 parameter [NetParameter{0 input_tensor, 1 output_tensor,
/// 4 coeff_mem CoeffMem{3 location [Location{0 name}]}}]}]; Tensor{0 name, 1 data_type,
/// 5 shape [Shape{0 dim:[uint64]}]}. Only each net's first stage (parameter) is read.
pub(super) fn walk_bmodel(fb: &Fb, info: &mut ModelInfo) -> Result<(), ModelError> {
    let model = fb.root()?;
    for (i, key) in [(0, "type"), (1, "version"), (2, "time")] {
        if let Some(s) = fb.string(model, i)? {
            info.metadata.insert(format!("bmodel.{key}"), s);
        }
    }
    if let Some(chip) = fb.string(model, 3)? {
        info.facts.insert("bmodel.chip".into(), chip);
    }
    info.facts
        .insert("bmodel.nets".into(), fb.count(model, 4)?.to_string());
    let mut names = Vec::new();
    for net in fb.tables(model, 4, 64)? {
        let name = fb.string(net, 0)?.unwrap_or_default();
        let stages = fb.count(net, 3)?;
        names.push(format!("{name} ({stages} stage(s))"));
        let Some(p) = fb.tables(net, 3, 1)?.first().copied() else {
            continue;
        };
        for t in fb.tables(p, 0, 256)? {
            if info.inputs.len() + info.outputs.len() < MAX_IO {
                info.inputs.push(bm_tensor(fb, t)?);
            }
        }
        for t in fb.tables(p, 1, 256)? {
            if info.inputs.len() + info.outputs.len() < MAX_IO {
                info.outputs.push(bm_tensor(fb, t)?);
            }
        }
        if let Some(coeff) = fb.sub(p, 4)? {
            let room = MAX_WEIGHTS_LISTED.saturating_sub(info.weights.len());
            for loc in fb.tables(coeff, 3, room)? {
                if let Some(n) = fb.string(loc, 0)? {
                    info.weights.push(WeightInfo {
                        name: n,
                        shape: vec![],
                    });
                }
            }
        }
    }
    info.metadata
        .insert("bmodel.net_names".into(), short(&names.join(", ")));
    if !info.weights.is_empty() {
        info.notes
            .push("bmodel: coefficient locations listed as shapeless weights (op names)".into());
    }
    Ok(())
}

pub(super) fn parse_bmodel(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    if bytes.len() < BMODEL_HEADER {
        return Err(ModelError::Truncated(format!(
            "bmodel: header of {BMODEL_HEADER} bytes, file of {}",
            bytes.len()
        )));
    }
    let mut info = ModelInfo {
        format: Some(ModelFormat::Bmodel),
        ..Default::default()
    };
    let header_size = le32(bytes, 4).unwrap_or(0);
    let fb_size = le32(bytes, 8).unwrap_or(0) as usize;
    let bin_size = le32(bytes, 12).unwrap_or(0);
    info.facts
        .insert("bmodel.header_size".into(), header_size.to_string());
    info.facts
        .insert("bmodel.binary_size".into(), bin_size.to_string());
    let rest = bytes.get(BMODEL_HEADER..).unwrap_or_default();
    let walked = match rest.get(..fb_size) {
        Some(fb) if fb_size >= 8 => {
            let mut tmp = info.clone();
            match walk_bmodel(
                &Fb {
                    b: fb,
                    fmt: "bmodel",
                },
                &mut tmp,
            ) {
                Ok(()) => {
                    info = tmp;
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Some(_) => Err(format!("FlatBuffer of {fb_size} bytes is too small")),
        None => Err(format!(
            "FlatBuffer of {fb_size} bytes runs past the file ({} left)",
            rest.len()
        )),
    };
    if let Err(why) = walked {
        info.notes
            .push(format!("bmodel: FlatBuffer not read ({why})"));
        scan_strings(&mut info, rest, "bmodel");
    } else {
        info.notes
            .push("bmodel: command streams and coefficient data are not interpreted".into());
    }
    Ok(info)
}
