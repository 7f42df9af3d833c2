//! Constants in the float view: dequantized (per tensor or per channel) and densified.

use super::*;

pub(super) fn elements(shape: &[i64]) -> Result<usize, ConvertError> {
    let mut n: usize = 1;
    for &d in shape {
        let d = usize::try_from(d).map_err(|_| graph_err(format!("constant shape {shape:?}")))?;
        n = n
            .checked_mul(d)
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| graph_err(format!("constant of shape {shape:?} is too large")))?;
    }
    Ok(n)
}

/// Whether a tensor is a real number in the float view.
pub(super) fn is_real(t: &Tensor<'_>) -> bool {
    match t.dtype {
        TensorType::Float32 | TensorType::Float16 | TensorType::Float64 => true,
        TensorType::Int8 | TensorType::Int16 => t.quantization.is_some(),
        TensorType::Uint8 => true,
        TensorType::Int32 => t.quantization.is_some() && t.data.is_some(),
        _ => false,
    }
}

/// A constant's values as float32, densified and dequantized.
pub(super) fn real_values(t: &Tensor<'_>) -> Result<Vec<f32>, ConvertError> {
    let data = t
        .data
        .ok_or_else(|| graph_err(format!("tensor {:?} has no data", t.name)))?;
    let n = elements(&t.shape)?;
    let width = t
        .dtype
        .width()
        .ok_or_else(|| graph_err(format!("tensor {:?} of type {:?}", t.name, t.dtype)))?;
    let stored = match &t.sparsity {
        Some(_) => data.len() / width,
        None => n,
    };
    if data.len() != stored.saturating_mul(width) {
        return Err(graph_err(format!(
            "tensor {:?}: {} bytes for shape {:?}",
            t.name,
            data.len(),
            t.shape
        )));
    }
    let c = data.chunks_exact(width);
    let mut raw: Vec<f32> = match t.dtype {
        TensorType::Float32 => c
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        TensorType::Float16 => c
            .map(|b| crate::decode::models::f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        TensorType::Float64 => c
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        TensorType::Int8 => data.iter().map(|&b| f32::from(b as i8)).collect(),
        TensorType::Uint8 => data.iter().map(|&b| f32::from(b)).collect(),
        TensorType::Int16 => c
            .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])))
            .collect(),
        TensorType::Int32 => c
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32)
            .collect(),
        other => return Err(graph_err(format!("tensor {:?} of type {other:?}", t.name))),
    };
    if let Some(sp) = &t.sparsity {
        if n > stored.saturating_mul(MAX_SPARSE_EXPANSION).max(1 << 20) {
            return Err(graph_err(format!(
                "sparse tensor {:?}: {stored} values for {n} elements",
                t.name
            )));
        }
        raw = densify(&raw, sp, &t.shape, n)
            .map_err(|m| graph_err(format!("sparse tensor {:?}: {m}", t.name)))?;
    }
    let float = matches!(
        t.dtype,
        TensorType::Float32 | TensorType::Float16 | TensorType::Float64
    );
    let Some(q) = t.quantization.as_ref().filter(|_| !float) else {
        return Ok(raw);
    };
    let zp = |k: usize| q.zero_point.get(k).copied().unwrap_or(0) as f32;
    if q.scale.len() == 1 {
        let (s, z) = (q.scale[0], zp(0));
        return Ok(raw.into_iter().map(|v| s * (v - z)).collect());
    }
    // Per-channel along `dimension`.
    let dims: Vec<usize> = t.shape.iter().map(|&d| d.max(0) as usize).collect();
    let channels = dims.get(q.dimension).copied().unwrap_or(0);
    if channels != q.scale.len() {
        return Err(graph_err(format!(
            "tensor {:?}: {} scales for {} channels",
            t.name,
            q.scale.len(),
            channels
        )));
    }
    let inner: usize = dims[q.dimension + 1..].iter().product::<usize>().max(1);
    Ok(raw
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let ch = (i / inner) % channels;
            q.scale[ch] * (v - zp(ch))
        })
        .collect())
}

/// The dense tensor (row-major, `shape`, `n` elements) that sparse `values` encode, as
/// TFLite's `FormatConverter::SparseToDense` reads them
/// (`tensorflow/lite/kernels/internal/utils/sparsity_format_converter.cc`).
pub(super) fn densify(
    values: &[f32],
    sp: &Sparsity,
    shape: &[i64],
    n: usize,
) -> Result<Vec<f32>, String> {
    let rank = shape.len();
    let levels = sp.traversal_order.len();
    if rank == 0 || rank > 8 || levels < rank || levels != sp.dims.len() {
        return Err(format!("{levels} traversed dimensions for rank {rank}"));
    }
    if sp.block_map.len() != levels - rank {
        return Err("block map and traversal order disagree".into());
    }
    let dims: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
    let block_size: Vec<usize> = (0..sp.block_map.len())
        .map(|k| sp.dims[rank + k].dense_size.max(1) as usize)
        .collect();
    let mut out = vec![0f32; n];
    let mut indices = vec![0usize; levels];
    let mut next = 0usize;
    // An explicit stack of (level, prev_idx, position) replaces the reference's recursion.
    struct Frame {
        level: usize,
        prev: usize,
        at: usize,
        end: usize,
    }
    let bounds = |level: usize, prev: usize| -> (usize, usize) {
        let d = &sp.dims[level];
        if d.dense {
            (0, d.dense_size.max(0) as usize)
        } else {
            let seg = &d.array_segments;
            match (seg.get(prev), seg.get(prev + 1)) {
                (Some(&a), Some(&b)) if a >= 0 && b >= a => (a as usize, b as usize),
                _ => (0, 0),
            }
        }
    };
    let (a, b) = bounds(0, 0);
    let mut stack = vec![Frame {
        level: 0,
        prev: 0,
        at: a,
        end: b,
    }];
    let mut steps = 0usize;
    while let Some(f) = stack.last_mut() {
        steps += 1;
        if steps > n.saturating_mul(4).saturating_add(1 << 16) {
            return Err("traversal longer than the tensor".into());
        }
        if f.at >= f.end {
            stack.pop();
            continue;
        }
        let level = f.level;
        let d = &sp.dims[level];
        let (index, child_prev) = if d.dense {
            (f.at, f.prev * d.dense_size.max(0) as usize + f.at)
        } else {
            let Some(&ix) = d.array_indices.get(f.at) else {
                return Err("index past the indices array".into());
            };
            (ix.max(0) as usize, f.at)
        };
        f.at += 1;
        indices[level] = index;
        if level + 1 == levels {
            // A stored value: map the traversal indices back to the dense position.
            let mut orig = vec![0usize; rank];
            for (&o, &index) in sp.traversal_order.iter().zip(&indices).take(rank) {
                *orig
                    .get_mut(o as usize)
                    .ok_or("traversal order out of range")? = index;
            }
            for (&block, &index) in sp.traversal_order.iter().zip(&indices).skip(rank) {
                let block = block as usize;
                let k = block.checked_sub(rank).ok_or("block order out of range")?;
                let dim = *sp.block_map.get(k).ok_or("block map out of range")? as usize;
                let bs = *block_size.get(k).ok_or("block size out of range")?;
                let o = orig.get_mut(dim).ok_or("block map out of range")?;
                *o = *o * bs + index;
            }
            let mut flat = 0usize;
            for (o, &dsz) in orig.iter().zip(&dims) {
                if *o >= dsz {
                    return Err("index outside the dense shape".into());
                }
                flat = flat * dsz + o;
            }
            let v = *values
                .get(next)
                .ok_or("fewer values than the traversal needs")?;
            out[flat] = v;
            next += 1;
        } else {
            let (a, b) = bounds(level + 1, child_prev);
            stack.push(Frame {
                level: level + 1,
                prev: child_prev,
                at: a,
                end: b,
            });
        }
    }
    Ok(out)
}
