//! PyTorch state dicts to ONNX, where the layer chain can be read from the weights alone.
//!
//! A state dict holds weights, not the `forward` that uses them. What it does give: the
//! modules in registration order (which, for a sequential net, is the order they run), and each
//! module's kind by its parameters: a convolution (4-D `weight`), a linear layer (2-D), a batch
//! norm (`running_mean`, `running_var`), a PReLU (a lone 1-D `weight`). A net made only of
//! those, named as a flat list (`conv1`, `prelu1`, `dense4`, or `features.3`), is read as a
//! chain; what it cannot give is inferred, and the note says how:
//! - **heads**: a layer whose input width matches not the previous output but an earlier one
//!   starts a branch from there (MTCNN's `conv4_1` / `conv4_2`); every output no layer takes is
//!   a graph output;
//! - **activations** hold no weights: a PReLU is where the dict has one; between two weighted
//!   layers with none, a ReLU is assumed;
//! - **pooling and padding** hold no weights either: the input size (from the published crop and
//!   detector sizes), convolution padding (none, or "same"), and 2×2 or 3×3 max pooling with
//!   stride 2 after the activations are chosen, first fit, so that every flatten before a linear
//!   layer has the width that layer takes; a fully convolutional net gets none;
//! - **flatten** is PyTorch's `(C, H, W)` order (a `forward` that permutes first is not seen).
//!
//! Nets with blocks (`layer1.0.conv1`: a block's `forward` adds skips the dict does not record)
//! and modules of other kinds are refused with the module's name.

use super::builder::{Attr, Builder};
use super::onnx_proto::data_type;
use super::ConvertError;
use crate::decode::models::pytorch::tensors::{state_dict, Tensor};

/// Input sizes tried, smallest first: MTCNN's 12/24/48 crops, face-recognition crops (112,
/// 160), detector and classifier inputs.
const INPUT_SIZES: [usize; 10] = [12, 24, 48, 64, 96, 112, 128, 160, 224, 256];
/// Most places a pooling may go that are searched (3 choices each).
const MAX_POOL_PLACES: usize = 8;
/// Most layers converted.
const MAX_LAYERS: usize = 512;

#[derive(Debug)]
enum Layer<'a> {
    Conv {
        name: &'a str,
        weight: &'a Tensor,
        bias: Option<&'a Tensor>,
    },
    Linear {
        name: &'a str,
        weight: &'a Tensor,
        bias: Option<&'a Tensor>,
    },
    BatchNorm {
        scale: Option<&'a Tensor>,
        bias: Option<&'a Tensor>,
        mean: &'a Tensor,
        var: &'a Tensor,
    },
    PRelu {
        slope: &'a Tensor,
    },
}

/// The state dict's modules, in order, as layers.
fn layers(tensors: &[Tensor]) -> Result<Vec<Layer<'_>>, ConvertError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tensors.len() {
        let (prefix, _) = tensors[i]
            .name
            .rsplit_once('.')
            .unwrap_or(("", &tensors[i].name));
        let mut j = i;
        while j < tensors.len() && tensors[j].name.rsplit_once('.').map(|p| p.0) == Some(prefix) {
            j += 1;
        }
        let module = &tensors[i..j.max(i + 1)];
        i = j.max(i + 1);
        let comps: Vec<&str> = prefix.split('.').collect();
        if comps
            .iter()
            .enumerate()
            .any(|(k, c)| c.parse::<u32>().is_ok() && k + 1 < comps.len())
        {
            return Err(ConvertError::Graph(format!(
                "module {prefix} sits in a block, whose forward (and its skips) a state dict does not record"
            )));
        }
        let get = |s: &str| {
            module
                .iter()
                .find(|t| t.name.rsplit_once('.').map(|p| p.1) == Some(s))
        };
        let weight = get("weight");
        let bias = get("bias");
        let layer = match (get("running_mean"), get("running_var"), weight) {
            (Some(mean), Some(var), _) => Layer::BatchNorm {
                scale: weight,
                bias,
                mean,
                var,
            },
            (_, _, Some(w)) if w.shape.contains(&0) => {
                return Err(ConvertError::Graph(format!(
                    "module {prefix}: a weight of shape {:?}",
                    w.shape
                )))
            }
            (None, None, Some(w)) if w.shape.len() == 4 => Layer::Conv {
                name: prefix,
                weight: w,
                bias,
            },
            (None, None, Some(w)) if w.shape.len() == 2 => Layer::Linear {
                name: prefix,
                weight: w,
                bias,
            },
            (None, None, Some(w)) if w.shape.len() == 1 && bias.is_none() && module.len() == 1 => {
                Layer::PRelu { slope: w }
            }
            _ => {
                let params: Vec<String> = module
                    .iter()
                    .map(|t| format!("{} {:?}", t.name, t.shape))
                    .collect();
                return Err(ConvertError::Operator {
                    op: format!(
                        "module {}",
                        if prefix.is_empty() {
                            &module[0].name
                        } else {
                            prefix
                        }
                    ),
                    detail: format!(
                        "parameters {} are not a conv, linear, batch norm or PReLU",
                        params.join(", ")
                    ),
                });
            }
        };
        out.push(layer);
        if out.len() > MAX_LAYERS {
            return Err(ConvertError::Graph(format!("over {MAX_LAYERS} layers")));
        }
    }
    Ok(out)
}

/// What the search chooses: input size, "same" padding or none, and per pooling place none,
/// 2×2 or 3×3 (stride 2), with floor or ceiling rounding.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    size: usize,
    same: bool,
    ceil: bool,
    pools: Vec<u8>,
}

/// One step of the chain, resolved: which earlier value it reads (`from`), what it is.
#[derive(Debug)]
enum Step {
    /// A layer of [`layers`] applied to value `from`.
    Layer { layer: usize, from: usize },
    /// A ReLU assumed on value `from`.
    Relu { from: usize },
    /// A place a pooling may go, after value `from` (an activation of a convolution that feeds
    /// another convolution or a flatten).
    PoolPlace { from: usize },
}

/// A value's width: channels of a feature map, or features of a vector.
#[derive(Debug, Clone, Copy)]
struct Width {
    n: usize,
    spatial: bool,
}

fn in_width(l: &Layer<'_>) -> Option<usize> {
    match l {
        Layer::Conv { weight, .. } => weight.shape.get(1).copied(),
        Layer::Linear { weight, .. } => weight.shape.get(1).copied(),
        _ => None,
    }
}

fn out_width(l: &Layer<'_>, w: Width) -> Width {
    match l {
        Layer::Conv { weight, .. } => Width {
            n: weight.shape[0],
            spatial: true,
        },
        Layer::Linear { weight, .. } => Width {
            n: weight.shape[0],
            spatial: false,
        },
        _ => w,
    }
}

/// Layer `layer` applied to value `from`, keeping its width (batch norm, PReLU); the new value.
fn in_place(steps: &mut Vec<Step>, widths: &mut Vec<Width>, layer: usize, from: usize) -> usize {
    steps.push(Step::Layer { layer, from });
    widths.push(widths[from]);
    widths.len() - 1
}

/// Resolve the chain: branches, assumed ReLUs and pooling places. Values are numbered in
/// order; value 0 is the input.
fn resolve(layers: &[Layer<'_>]) -> Result<(Vec<Step>, Vec<Width>), ConvertError> {
    let first = match layers.first() {
        Some(Layer::Conv { weight, .. }) => weight.shape[1],
        _ => {
            return Err(ConvertError::Graph(
                "the first layer is not a convolution: not an image model".into(),
            ))
        }
    };
    let mut widths = vec![Width {
        n: first,
        spatial: true,
    }];
    let mut steps = Vec::new();
    // Values a weighted layer may read: activations (and the input), newest last.
    let mut readable: Vec<usize> = vec![0];
    let mut current = 0usize;
    // Whether `current` is a weighted layer's raw output (no activation yet).
    let mut raw = false;
    for (k, l) in layers.iter().enumerate() {
        let push = |steps: &mut Vec<Step>, widths: &mut Vec<Width>, s: Step, w: Width| {
            steps.push(s);
            widths.push(w);
            widths.len() - 1
        };
        match l {
            Layer::Conv { name, .. } | Layer::Linear { name, .. } => {
                let want = in_width(l).unwrap_or(0);
                let fits = |v: usize, widths: &[Width]| {
                    let w = widths[v];
                    match l {
                        Layer::Conv { weight, .. } => {
                            w.spatial
                                && (w.n == want
                                    || (weight.shape[1] == 1 && w.n == weight.shape[0])
                                    || (want > 0
                                        && w.n % want == 0
                                        && weight.shape[0] % (w.n / want) == 0))
                        }
                        _ => (w.spatial && want % w.n == 0) || (!w.spatial && w.n == want),
                    }
                };
                let from = if fits(current, &widths) {
                    current
                } else if let Some(&v) = readable
                    .iter()
                    .rev()
                    .find(|&&v| v != current && fits(v, &widths))
                {
                    // A head on an earlier value.
                    raw = false;
                    v
                } else {
                    return Err(ConvertError::Graph(format!(
                        "layer chain not recoverable: {name} takes {want} and no earlier output gives it"
                    )));
                };
                let mut from = from;
                if raw && from == current {
                    let w = widths[from];
                    from = push(&mut steps, &mut widths, Step::Relu { from }, w);
                    readable.push(from);
                    current = from;
                }
                if from == current && from != 0 && widths[from].spatial {
                    let w = widths[from];
                    from = push(&mut steps, &mut widths, Step::PoolPlace { from }, w);
                    readable.push(from);
                }
                let w = out_width(l, widths[from]);
                current = push(&mut steps, &mut widths, Step::Layer { layer: k, from }, w);
                raw = true;
            }
            Layer::BatchNorm { mean, .. } => {
                if widths[current].n != mean.shape.iter().product::<usize>() {
                    return Err(ConvertError::Graph(format!(
                        "layer chain not recoverable: a batch norm of {:?} after a width of {}",
                        mean.shape, widths[current].n
                    )));
                }
                current = in_place(&mut steps, &mut widths, k, current);
            }
            Layer::PRelu { slope } => {
                let n = slope.shape[0];
                if n != 1 && n != widths[current].n {
                    return Err(ConvertError::Graph(format!(
                        "layer chain not recoverable: a PReLU of {n} after a width of {}",
                        widths[current].n
                    )));
                }
                current = in_place(&mut steps, &mut widths, k, current);
                readable.push(current);
                raw = false;
            }
        }
    }
    Ok((steps, widths))
}

/// Spatial sizes through the chain under `plan`; `None` when a size vanishes or a flatten
/// does not give what its linear layer takes.
fn fits(layers: &[Layer<'_>], steps: &[Step], widths: &[Width], plan: &Plan) -> Option<()> {
    let mut size = vec![plan.size; widths.len()];
    let mut place = 0;
    for (i, s) in steps.iter().enumerate() {
        let v = i + 1;
        size[v] = match *s {
            Step::Relu { from } => size[from],
            Step::PoolPlace { from } => {
                let k = usize::from(*plan.pools.get(place)?);
                place += 1;
                if k == 0 {
                    size[from]
                } else {
                    let x = size[from].checked_sub(k)?;
                    (if plan.ceil { x.div_ceil(2) } else { x / 2 }) + 1
                }
            }
            Step::Layer { layer, from } => match &layers[layer] {
                Layer::Conv { weight, .. } => {
                    let k = weight.shape[2].max(weight.shape[3]);
                    if plan.same {
                        // A kernel wider than its input is no image net's.
                        (k <= size[from]).then_some(size[from])?
                    } else {
                        size[from].checked_sub(k - 1).filter(|&s| s > 0)?
                    }
                }
                Layer::Linear { weight, .. } => {
                    let w = widths[from];
                    if w.spatial && w.n * size[from] * size[from] != weight.shape[1] {
                        return None;
                    }
                    1
                }
                _ => size[from],
            },
        };
    }
    Some(())
}

/// The first plan that fits. Tried first, the usual convnet: a pooling after every
/// convolution stage but the one feeding a flatten (facenet-pytorch's R-Net and O-Net: 24 and
/// 48 inputs, 3×3 pooling rounding up, as Caffe's MTCNN); then any placement, fewest poolings
/// first. Within each: no padding before "same", smallest input, 3×3 before 2×2, rounding
/// down (PyTorch's default) before up.
fn search(layers: &[Layer<'_>], steps: &[Step], widths: &[Width]) -> Result<Plan, ConvertError> {
    let place_steps: Vec<usize> = (0..steps.len())
        .filter(|&i| matches!(steps[i], Step::PoolPlace { .. }))
        .collect();
    let places = place_steps.len();
    let before_flatten: Vec<bool> = place_steps
        .iter()
        .map(|&i| {
            matches!(steps.get(i + 1), Some(Step::Layer { layer, .. }) if matches!(layers[*layer], Layer::Linear { .. }))
        })
        .collect();
    let flattens = before_flatten.iter().any(|&b| b);
    if !flattens {
        // Nothing constrains a fully convolutional net's pooling: none is added.
        let plan = INPUT_SIZES.iter().find_map(|&size| {
            let plan = Plan {
                size,
                same: false,
                ceil: false,
                pools: vec![0; places],
            };
            fits(layers, steps, widths, &plan).map(|_| plan)
        });
        return plan
            .ok_or_else(|| ConvertError::Graph("no input size the convolutions fit".into()));
    }
    if places > MAX_POOL_PLACES {
        return Err(ConvertError::Graph(format!(
            "{places} places a pooling may go: too many to infer where they are"
        )));
    }
    let all = |choices: &[u8]| -> Vec<Vec<u8>> {
        let c = choices.len();
        (0..c.pow(places as u32))
            .map(|mut a| {
                (0..places)
                    .map(|_| {
                        let k = choices[a % c];
                        a /= c;
                        k
                    })
                    .collect()
            })
            .collect()
    };
    let template: Vec<Vec<u8>> = all(&[3, 2])
        .into_iter()
        .map(|a| {
            a.iter()
                .zip(&before_flatten)
                .map(|(&k, &f)| if f { 0 } else { k })
                .collect()
        })
        .collect();
    let mut general = all(&[0, 3, 2]);
    general.sort_by_key(|a| a.iter().filter(|&&k| k > 0).count());
    for group in [template, general] {
        for same in [false, true] {
            for size in INPUT_SIZES {
                for pools in &group {
                    for ceil in [false, true] {
                        let plan = Plan {
                            size,
                            same,
                            ceil,
                            pools: pools.clone(),
                        };
                        if fits(layers, steps, widths, &plan).is_some() {
                            return Ok(plan);
                        }
                    }
                }
            }
        }
    }
    Err(ConvertError::Graph(
        "no input size, padding and pooling makes every flatten fit its linear layer".into(),
    ))
}

/// Convert a PyTorch state dict (legacy or zip `torch.save`) whose layer chain can be read,
/// with a note of what was inferred. Errors: see the module doc.
pub fn convert(bytes: &[u8]) -> Result<(Vec<u8>, String), ConvertError> {
    let tensors = state_dict(bytes)?;
    let layers = layers(&tensors)?;
    let (steps, widths) = resolve(&layers)?;
    let plan = search(&layers, &steps, &widths)?;
    let mut b = Builder::default();
    let input = "input";
    b.io(
        false,
        input,
        data_type::FLOAT,
        Some(&[1, widths[0].n as i64, plan.size as i64, plan.size as i64]),
    );
    let mut names = vec![input.to_string()];
    let mut used = vec![false; widths.len()];
    let (mut relus, mut pools) = (0, Vec::new());
    let mut place = 0;
    let f32s = |b: &mut Builder, t: &Tensor, dims: Vec<i64>| b.const_f32(dims, &t.values);
    for s in &steps {
        let out = match *s {
            Step::Relu { from } => {
                used[from] = true;
                relus += 1;
                b.op("Relu", &[&names[from]], vec![])
            }
            Step::PoolPlace { from } => {
                used[from] = true;
                let k = plan.pools[place];
                place += 1;
                if k == 0 {
                    names[from].clone()
                } else {
                    pools.push(format!("{k}x{k}"));
                    let k = i64::from(k);
                    b.op(
                        "MaxPool",
                        &[&names[from]],
                        vec![
                            ("kernel_shape", Attr::Ints(vec![k, k])),
                            ("strides", Attr::Ints(vec![2, 2])),
                            ("ceil_mode", Attr::Int(i64::from(plan.ceil))),
                        ],
                    )
                }
            }
            Step::Layer { layer, from } => {
                used[from] = true;
                let x = names[from].clone();
                let dims = |t: &Tensor| t.shape.iter().map(|&d| d as i64).collect::<Vec<_>>();
                match &layers[layer] {
                    Layer::Conv { weight, bias, .. } => {
                        let c = widths[from].n;
                        let group = (c / weight.shape[1].max(1)).max(1) as i64;
                        let (kh, kw) = (weight.shape[2] as i64, weight.shape[3] as i64);
                        let w = f32s(&mut b, weight, dims(weight))?;
                        let mut ins = vec![x, w];
                        if let Some(bias) = bias {
                            ins.push(f32s(&mut b, bias, dims(bias))?);
                        }
                        let pads = if plan.same {
                            vec![(kh - 1) / 2, (kw - 1) / 2, kh / 2, kw / 2]
                        } else {
                            vec![0; 4]
                        };
                        let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
                        b.op(
                            "Conv",
                            &ins,
                            vec![
                                ("group", Attr::Int(group)),
                                ("kernel_shape", Attr::Ints(vec![kh, kw])),
                                ("pads", Attr::Ints(pads)),
                            ],
                        )
                    }
                    Layer::Linear { weight, bias, .. } => {
                        let x = if widths[from].spatial {
                            b.op("Flatten", &[&x], vec![("axis", Attr::Int(1))])
                        } else {
                            x
                        };
                        let w = f32s(&mut b, weight, dims(weight))?;
                        let mut ins = vec![x, w];
                        if let Some(bias) = bias {
                            ins.push(f32s(&mut b, bias, dims(bias))?);
                        }
                        let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
                        b.op("Gemm", &ins, vec![("transB", Attr::Int(1))])
                    }
                    Layer::BatchNorm {
                        scale,
                        bias,
                        mean,
                        var,
                    } => {
                        let n = mean.values.len();
                        let ones = vec![1.0; n];
                        let zeros = vec![0.0; n];
                        let s = b.const_f32(vec![n as i64], scale.map_or(&ones, |t| &t.values))?;
                        let o = b.const_f32(vec![n as i64], bias.map_or(&zeros, |t| &t.values))?;
                        let m = b.const_f32(vec![n as i64], &mean.values)?;
                        let v = b.const_f32(vec![n as i64], &var.values)?;
                        b.op(
                            "BatchNormalization",
                            &[&x, &s, &o, &m, &v],
                            vec![("epsilon", Attr::Float(1e-5))],
                        )
                    }
                    Layer::PRelu { slope } => {
                        let n = slope.values.len() as i64;
                        let dims = if widths[from].spatial {
                            vec![n, 1, 1]
                        } else {
                            vec![n]
                        };
                        let s = f32s(&mut b, slope, dims)?;
                        b.op("PRelu", &[&x, &s], vec![])
                    }
                }
            }
        };
        names.push(out);
    }
    let mut outputs = 0;
    for (v, name) in names.iter().enumerate().skip(1) {
        if !used[v] && !matches!(steps[v - 1], Step::PoolPlace { .. }) {
            b.io(true, name, data_type::FLOAT, None);
            outputs += 1;
        }
    }
    let note = format!(
        "PyTorch state dict read as a chain of {} layers into {outputs} output{} (input {}×{}{}{}{}, flatten in (C, H, W) order: inferred, a state dict records no forward)",
        layers.len(),
        if outputs == 1 { "" } else { "s" },
        plan.size,
        plan.size,
        if plan.same { ", \"same\" padding" } else { "" },
        if pools.is_empty() {
            String::new()
        } else {
            format!(
                ", max pooling {} stride 2{}",
                pools.join(", "),
                if plan.ceil { " rounding up" } else { "" }
            )
        },
        if relus > 0 {
            format!(", {relus} ReLU assumed")
        } else {
            String::new()
        }
    );
    Ok((b.finish("banwatch-pytorch"), note))
}

#[cfg(test)]
mod tests;
