//! Keras models → ONNX, in both containers:
//! - HDF5 (`model.save("x.h5")`, Keras 2, `tf.keras`, Keras 3's legacy format): the
//!   architecture is the root's `model_config` JSON; the weights are the datasets under
//!   `model_weights/<layer>/`, named by the layer group's `weight_names` (Keras
//!   `legacy/hdf5_format.py`);
//! - the Keras 3 `.keras` zip (`model.save("x.keras")`, Keras `saving_lib`): the architecture
//!   is `config.json`; the weights are `model.weights.h5`'s `layers/<layer>/vars/<i>`, in the
//!   order the layer creates them (`kernel`, `bias`; `depthwise_kernel`, `pointwise_kernel`,
//!   `bias`; `gamma` and `beta` where `scale` and `center`, then the moving mean and
//!   variance; `alpha`).
//!
//! The architecture is a `Sequential` layer list, or a `Functional`/`Model` graph whose
//! `inbound_nodes` name each layer's inputs. Layer semantics follow the Keras 2 layer reference (`padding`,
//! `strides`, `dilation_rate`, `activation`, `use_bias`, `epsilon`, …).
//!
//! Tensors stay NHWC, as Keras has them (`data_format: channels_last`; `channels_first` is
//! refused), so `Flatten` keeps Keras's order; convolutions and pooling go through
//! [`super::nhwc`]. A `Lambda` layer is Python code, not a graph: it converts only when its
//! stored code is `return x * <argument>` with that argument a number in the layer's
//! `arguments` (keras-facenet's Inception-ResNet `scaling`; read by
//! [`crate::decode::models::pyfunc`], never run). Other Lambdas, nested models and layers not
//! listed in [`Converter::layer`] end the conversion naming the layer class. A weights-only
//! file has no architecture to convert.

mod layers;

use super::builder::{permute, Attr, Builder};
use super::nhwc::{hwio_to_oihw, Activation, Conv2d};
use super::onnx_proto::data_type;
use super::ConvertError;
use crate::decode::models::hdf5::{Hdf5, Object};
use crate::decode::models::keras;
use serde_json::Value;
use std::collections::HashMap;

/// Most layers converted.
const MAX_LAYERS: usize = 10_000;

/// Convert a Keras HDF5 model.
pub fn convert(bytes: &[u8]) -> Result<(Vec<u8>, String), ConvertError> {
    let (config_text, weights_file, store);
    let (config, file): (Value, &[u8]) = if bytes.starts_with(b"PK\x03\x04") {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| graph(format!("keras: zip: {e}")))?;
        config_text = crate::decode::models::zip_entry(&mut zip, "config.json", 32 << 20, "keras")?;
        weights_file = crate::decode::models::zip_entry(
            &mut zip,
            "model.weights.h5",
            super::builder::MAX_ONNX_BYTES as u64,
            "keras",
        )?;
        store = Store::Keras3;
        (
            serde_json::from_slice(&config_text).map_err(|e| graph(format!("config.json: {e}")))?,
            &weights_file,
        )
    } else {
        store = Store::Legacy;
        (Value::Null, bytes)
    };
    let f = Hdf5::open(file)?;
    let mut notes = Vec::new();
    let objects = f.objects(&mut notes)?;
    let by_path: HashMap<&str, &Object> = objects.iter().map(|o| (o.path.as_str(), o)).collect();
    let config = match store {
        Store::Keras3 => config,
        Store::Legacy => {
            let text = keras::model_config(&by_path).ok_or_else(|| {
                graph("weights only: the architecture is in the code that saved them, not in the file")
            })?;
            serde_json::from_str(text).map_err(|e| graph(format!("model_config: {e}")))?
        }
    };
    let mut c = Converter {
        f: &f,
        by_path: &by_path,
        store,
        groups: HashMap::new(),
        b: Builder::default(),
        values: HashMap::new(),
        hw: HashMap::new(),
        inputs: 0,
    };
    let outputs = c.model(&config)?;
    for o in &outputs {
        c.b.io(true, o, data_type::FLOAT, None);
    }
    let layers = c.values.len();
    Ok(c.b.finish_layers("Keras", layers, None))
}

/// A layer's weights by short name (`kernel`, `bias`, …): values and shape.
type Weights = HashMap<String, (Vec<f32>, Vec<usize>)>;

/// Where a layer's weights are kept.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Store {
    /// `model_weights/<layer>/…`, named by `weight_names`.
    Legacy,
    /// `layers/<layer>/vars/<i>`, in creation order.
    Keras3,
}

struct Converter<'a> {
    f: &'a Hdf5<'a>,
    store: Store,
    /// Keras 3: each layer's group under `layers/`, by layer name.
    groups: HashMap<String, String>,
    by_path: &'a HashMap<&'a str, &'a Object>,
    b: Builder,
    /// (layer name, node index, tensor index) → ONNX value.
    values: HashMap<(String, usize), String>,
    /// (height, width) of NHWC values where known: SAME padding with dilation needs them.
    hw: HashMap<String, (i64, i64)>,
    inputs: usize,
}

fn unsupported(class: &str, detail: impl Into<String>) -> ConvertError {
    ConvertError::Operator {
        op: class.to_string(),
        detail: detail.into(),
    }
}

fn graph(m: impl Into<String>) -> ConvertError {
    ConvertError::Graph(m.into())
}

/// The integer list option `key` (a missing element read as `missing`). Errors: no such list.
fn ints(cfg: &Value, key: &str, missing: i64) -> Result<Vec<i64>, ConvertError> {
    Ok(cfg[key]
        .as_array()
        .ok_or_else(|| graph(format!("no {key}")))?
        .iter()
        .map(|d| d.as_i64().unwrap_or(missing))
        .collect())
}

/// A pooling layer's window and strides (`strides` defaults to `pool_size`, as in Keras).
fn pool_geometry(cfg: &Value) -> ([i64; 2], [i64; 2]) {
    let kernel = pair(cfg.get("pool_size"), 2);
    let strides = match cfg.get("strides") {
        Some(Value::Null) | None => kernel,
        s => pair(s, 1),
    };
    (kernel, strides)
}

/// `ZeroPadding2D`'s padding as (top, bottom, left, right): `((t, b), (l, r))`, `(h, w)` or
/// one number for all four.
fn zero_padding(cfg: &Value) -> [i64; 4] {
    let p = &cfg["padding"];
    match p {
        Value::Array(a) if a.len() == 2 && a[0].is_array() => {
            let [t, b] = pair(a.first(), 0);
            let [l, r] = pair(a.get(1), 0);
            [t, b, l, r]
        }
        _ => {
            let [h, w] = pair(Some(p), 1);
            [h, h, w, w]
        }
    }
}

/// An integer pair from a Keras option (`3` or `[3, 3]`).
fn pair(v: Option<&Value>, default: i64) -> [i64; 2] {
    match v {
        Some(Value::Array(a)) if a.len() == 2 => [
            a[0].as_i64().unwrap_or(default),
            a[1].as_i64().unwrap_or(default),
        ],
        Some(Value::Number(n)) => {
            let x = n.as_i64().unwrap_or(default);
            [x, x]
        }
        _ => [default, default],
    }
}

impl Converter<'_> {
    /// The model's layers in order; returns its output values.
    fn model(&mut self, config: &Value) -> Result<Vec<String>, ConvertError> {
        let class = config["class_name"].as_str().unwrap_or("");
        let inner = &config["config"];
        // Keras 2.0–2.2 Sequential: `config` is the layer list itself.
        let layers = inner
            .get("layers")
            .or(Some(inner))
            .and_then(Value::as_array)
            .ok_or_else(|| graph("model_config lists no layers"))?;
        if layers.len() > MAX_LAYERS {
            return Err(graph(format!(
                "{} layers (over {MAX_LAYERS})",
                layers.len()
            )));
        }
        let sequential = class == "Sequential";
        // Keras 3 files a layer's weights under its class in snake case, numbered from the
        // second of a class on in layer order (`conv2d`, `conv2d_1`), not under its name.
        let mut seen: HashMap<String, usize> = HashMap::new();
        for l in layers {
            let stem = snake_case(l["class_name"].as_str().unwrap_or(""));
            let n = seen.entry(stem.clone()).or_default();
            let group = if *n == 0 { stem } else { format!("{stem}_{n}") };
            *n += 1;
            if let Some(name) = l["config"]["name"].as_str() {
                self.groups.insert(name.to_string(), group);
            }
        }
        let mut last: Option<String> = None;
        for l in layers {
            let class = l["class_name"].as_str().unwrap_or("?");
            let cfg = &l["config"];
            let name = cfg["name"]
                .as_str()
                .or_else(|| l["name"].as_str())
                .unwrap_or("?")
                .to_string();
            let ins: Vec<String> = if sequential {
                match &last {
                    Some(v) => vec![v.clone()],
                    None if class == "InputLayer" => Vec::new(),
                    // A Sequential model without an InputLayer: the first layer declares it.
                    None => vec![self.input(&name, cfg)?],
                }
            } else {
                self.inbound(l)?
            };
            let out = self
                .layer(class, &name, cfg, &ins)
                .map_err(|e| e.in_layer(class, &name))?;
            self.values.insert((name, 0), out.clone());
            last = Some(out);
        }
        if sequential {
            return Ok(last.into_iter().collect());
        }
        let outs = inner["output_layers"]
            .as_array()
            .ok_or_else(|| graph("a functional model without output_layers"))?;
        // One output may be written as a single `[layer, node, tensor]` (Keras 3).
        if outs.first().is_some_and(Value::is_string) {
            return Ok(vec![self.history(&inner["output_layers"])?]);
        }
        outs.iter()
            .map(|o| self.history(o))
            .collect::<Result<Vec<_>, _>>()
    }

    /// A graph input for the layer `name` declaring `batch_input_shape` (Keras 2) or
    /// `batch_shape` (Keras 3).
    fn input(&mut self, name: &str, cfg: &Value) -> Result<String, ConvertError> {
        if cfg["dtype"].as_str().is_some_and(|d| d != "float32") {
            return Err(unsupported(
                "InputLayer",
                format!("input {name} of {}", cfg["dtype"]),
            ));
        }
        let shape: Vec<i64> = cfg
            .get("batch_input_shape")
            .or_else(|| cfg.get("batch_shape"))
            .and_then(Value::as_array)
            .ok_or_else(|| graph(format!("input {name} declares no shape")))?
            .iter()
            .map(|d| d.as_i64().filter(|&d| d > 0).unwrap_or(-1))
            .collect();
        let value = format!("input_{}", self.inputs);
        self.inputs += 1;
        if let [_, h, w, _] = shape[..] {
            if h > 0 && w > 0 {
                self.hw.insert(value.clone(), (h, w));
            }
        }
        self.b.io(false, &value, data_type::FLOAT, Some(&shape));
        Ok(value)
    }

    /// A functional layer's inputs, from its first inbound node (Keras 2:
    /// `[[["name", node, tensor, {}], …]]`; Keras 3: `[{"args": [keras tensors], …}]`).
    fn inbound(&mut self, l: &Value) -> Result<Vec<String>, ConvertError> {
        let nodes = l["inbound_nodes"].as_array().cloned().unwrap_or_default();
        if nodes.len() > 1 {
            return Err(graph("a layer called more than once (shared layers)"));
        }
        let Some(node) = nodes.first() else {
            return Ok(Vec::new());
        };
        let refs: Vec<&Value> = match node {
            Value::Array(a) => a.iter().collect(),
            Value::Object(_) => {
                let mut found = Vec::new();
                collect_history(&node["args"], &mut found);
                found
            }
            _ => Vec::new(),
        };
        refs.into_iter().map(|r| self.history(r)).collect()
    }

    /// The value of a `[layer, node, tensor]` reference (or a Keras 3 tensor's `keras_history`).
    fn history(&self, r: &Value) -> Result<String, ConvertError> {
        let r = r
            .pointer("/config/keras_history")
            .unwrap_or(r)
            .as_array()
            .ok_or_else(|| graph("an inbound node that is not a [layer, node, tensor] list"))?;
        let layer = r.first().and_then(Value::as_str).unwrap_or("");
        let tensor = r.get(2).and_then(Value::as_u64).unwrap_or(0);
        if tensor != 0 {
            return Err(graph(format!("output {tensor} of layer {layer}")));
        }
        self.values
            .get(&(layer.to_string(), 0))
            .cloned()
            .ok_or_else(|| graph(format!("input from layer {layer}, not converted before")))
    }

    /// The layer's weights by short name (`kernel`, `bias`, `gamma`, …), as values and shapes.
    fn weights(&self, layer: &str, class: &str, cfg: &Value) -> Result<Weights, ConvertError> {
        // (short name, dataset path) of each weight.
        let located: Vec<(String, String)> = match self.store {
            Store::Legacy => {
                let group = format!("model_weights/{layer}");
                keras::weight_names(self.by_path, &group)
                    .into_iter()
                    .map(|w| (keras::short_name(&w).to_string(), format!("{group}/{w}")))
                    .collect()
            }
            Store::Keras3 => {
                let flag = |k: &str| cfg[k].as_bool().unwrap_or(true);
                let order: Vec<&str> = match class {
                    "SeparableConv2D" => vec!["depthwise_kernel", "pointwise_kernel", "bias"],
                    "BatchNormalization" => [
                        flag("scale").then_some("gamma"),
                        flag("center").then_some("beta"),
                        Some("moving_mean"),
                        Some("moving_variance"),
                    ]
                    .into_iter()
                    .flatten()
                    .collect(),
                    "PReLU" => vec!["alpha"],
                    _ => vec!["kernel", "bias"],
                };
                order
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        let group = self.groups.get(layer).map_or(layer, String::as_str);
                        (n.to_string(), format!("layers/{group}/vars/{i}"))
                    })
                    .filter(|(_, p)| self.by_path.contains_key(p.as_str()))
                    .collect()
            }
        };
        let mut out = HashMap::new();
        for (short, path) in located {
            let d = self
                .by_path
                .get(path.as_str())
                .and_then(|o| o.dataset.as_ref())
                .ok_or_else(|| graph(format!("weight {path} not in the file")))?;
            let values = self.f.read_f32(d)?;
            let shape = d.shape.iter().map(|&x| x as usize).collect();
            out.insert(short, (values, shape));
        }
        Ok(out)
    }

    /// One layer of class `class` on `ins`; returns its output value, whose height and width
    /// are recorded where they follow from the input's.
    fn layer(
        &mut self,
        class: &str,
        name: &str,
        cfg: &Value,
        ins: &[String],
    ) -> Result<String, ConvertError> {
        let in_hw = ins.first().and_then(|x| self.hw.get(x).copied());
        let out = self.layer_op(class, name, cfg, ins)?;
        let window = |kernel: [i64; 2], strides: [i64; 2], dilations: [i64; 2]| {
            let same = cfg["padding"].as_str() == Some("same");
            in_hw.map(|(h, w)| {
                let along = |x: i64, i: usize| {
                    let s = strides[i].max(1);
                    if same {
                        (x + s - 1) / s
                    } else {
                        (x - (kernel[i] - 1) * dilations[i].max(1) - 1) / s + 1
                    }
                };
                (along(h, 0), along(w, 1))
            })
        };
        let out_hw = match class {
            "Conv2D" | "DepthwiseConv2D" | "SeparableConv2D" => window(
                pair(cfg.get("kernel_size"), 1),
                pair(cfg.get("strides"), 1),
                pair(cfg.get("dilation_rate"), 1),
            ),
            "MaxPooling2D" | "AveragePooling2D" => {
                let (k, s) = pool_geometry(cfg);
                window(k, s, [1, 1])
            }
            "ZeroPadding2D" => in_hw.map(|(h, w)| {
                let [t, b, l, r] = zero_padding(cfg);
                (h + t + b, w + l + r)
            }),
            "UpSampling2D" => in_hw.map(|(h, w)| {
                let [sh, sw] = pair(cfg.get("size"), 2);
                (h * sh, w * sw)
            }),
            "BatchNormalization"
            | "Activation"
            | "ReLU"
            | "LeakyReLU"
            | "PReLU"
            | "Softmax"
            | "Dropout"
            | "SpatialDropout2D"
            | "GaussianNoise"
            | "GaussianDropout"
            | "AlphaDropout"
            | "ActivityRegularization"
            | "Add"
            | "Subtract"
            | "Multiply"
            | "Maximum"
            | "Minimum"
            | "Average"
            | "Concatenate"
            | "Rescaling"
            | "Lambda" => in_hw,
            _ => None,
        };
        if let Some(hw) = out_hw.filter(|&(h, w)| h > 0 && w > 0) {
            self.hw.insert(out.clone(), hw);
        }
        Ok(out)
    }
}

/// A class name in snake case as Keras's `naming.to_snake_case` makes it (`Conv2D` →
/// `conv2d`, `BatchNormalization` → `batch_normalization`, `PReLU` → `p_re_lu`).
fn snake_case(name: &str) -> String {
    let c: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &ch) in c.iter().enumerate() {
        // `(.)([A-Z][a-z]+)` and `([a-z])([A-Z])` both put an underscore before `ch`.
        let word = ch.is_ascii_uppercase() && c.get(i + 1).is_some_and(char::is_ascii_lowercase);
        let after_lower = i > 0 && c[i - 1].is_ascii_lowercase() && ch.is_ascii_uppercase();
        if i > 0 && (word || after_lower) && !out.ends_with('_') {
            out.push('_');
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

/// Every Keras 3 tensor reference (`{"class_name": "__keras_tensor__", …}`) in `v`, in order.
fn collect_history<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Object(o)
            if o.get("class_name").and_then(Value::as_str) == Some("__keras_tensor__") =>
        {
            out.push(v)
        }
        Value::Array(a) => a.iter().for_each(|x| collect_history(x, out)),
        _ => {}
    }
}

/// The constant a `Lambda` layer multiplies its input by, when its stored code is
/// `return x * <argument>` (either order) and `arguments` gives that argument as a number.
/// Errors: any other Lambda (named code, other bodies, other arguments).
fn lambda_scale(cfg: &Value) -> Result<f32, ConvertError> {
    use crate::decode::models::pyfunc::{self, Body};
    let other = |why: String| {
        unsupported(
            "Lambda",
            format!("Python code stored in the file, not a graph: {why}"),
        )
    };
    // Keras 2 / tf.keras: `function_type` "lambda" and `function` [code, defaults, closure];
    // Keras 3: `function` {"class_name": "__lambda__", "config": {"code": …}}. A function
    // stored by name has no code in the file.
    let f = &cfg["function"];
    let text = if f["class_name"].as_str() == Some("__lambda__") {
        f["config"]["code"].as_str()
    } else if cfg["function_type"].as_str() == Some("lambda") {
        f.get(0).and_then(Value::as_str).or_else(|| f.as_str())
    } else {
        return Err(other("a function named, not stored".into()));
    }
    .ok_or_else(|| other("no stored code".into()))?;
    let f = pyfunc::read(text).map_err(|e| other(e.to_string()))?;
    let args = cfg["arguments"].as_object();
    match (&f.body, f.args.as_slice(), args) {
        (Body::Product, [_, by], Some(a)) if a.len() == 1 => a
            .get(by)
            .and_then(Value::as_f64)
            .map(|s| s as f32)
            .ok_or_else(|| other(format!("`{by}` is not a number in its arguments"))),
        _ => Err(other(format!(
            "code of arguments {:?} other than `return x * <argument>`",
            f.args
        ))),
    }
}

#[cfg(test)]
mod tests {
    /// Class names as Keras 3 files them (`keras/src/utils/naming.py`).
    #[test]
    fn class_names_in_snake_case_as_keras_makes_them() {
        for (class, want) in [
            ("Conv2D", "conv2d"),
            ("BatchNormalization", "batch_normalization"),
            ("PReLU", "p_re_lu"),
            ("SeparableConv2D", "separable_conv2d"),
            ("GlobalAveragePooling2D", "global_average_pooling2d"),
            ("InputLayer", "input_layer"),
            ("ReLU", "re_lu"),
            ("Dense", "dense"),
        ] {
            assert_eq!(super::snake_case(class), want, "{class}");
        }
    }
}
