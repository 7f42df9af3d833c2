//! Building an ONNX graph node by node: fresh value names, constants, attributes.

use super::onnx_proto::*;
use super::ConvertError;
use prost::Message;

/// The opset the converters write (ONNX 1.12; every ONNX Runtime since 1.12 runs it).
pub const OPSET: i64 = 17;
/// IR version matching [`OPSET`].
const IR_VERSION: i64 = 8;

/// Largest ONNX model a converter writes (the probe's own bound on a model).
pub const MAX_ONNX_BYTES: usize = crate::detect::fingerprint::probe::MAX_PROBE_BYTES;

/// One attribute.
pub enum Attr {
    /// INT.
    Int(i64),
    /// INTS.
    Ints(Vec<i64>),
    /// FLOAT.
    Float(f32),
    /// STRING.
    Str(&'static str),
}

/// A graph under construction.
#[derive(Default)]
pub struct Builder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    fresh: usize,
    constant_bytes: usize,
}

impl Builder {
    /// A new value name, unique in the graph.
    pub fn fresh(&mut self) -> String {
        self.fresh += 1;
        format!("v{}", self.fresh)
    }

    /// Add a node `op(inputs) -> outputs` with attributes.
    pub fn node(&mut self, op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<(&str, Attr)>) {
        let attribute = attrs
            .into_iter()
            .map(|(name, a)| {
                let mut p = AttributeProto {
                    name: name.to_string(),
                    ..Default::default()
                };
                match a {
                    Attr::Int(i) => {
                        p.i = i;
                        p.r#type = 2;
                    }
                    Attr::Ints(v) => {
                        p.ints = v;
                        p.r#type = 7;
                    }
                    Attr::Float(f) => {
                        p.f = f;
                        p.r#type = 1;
                    }
                    Attr::Str(s) => {
                        p.s = s.as_bytes().to_vec();
                        p.r#type = 3;
                    }
                }
                p
            })
            .collect();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            name: format!("n{}", self.nodes.len()),
            op_type: op.to_string(),
            attribute,
        });
    }

    /// Add a node with one fresh output; returns the output's name.
    pub fn op(&mut self, op: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>) -> String {
        let out = self.fresh();
        self.node(op, inputs, &[&out], attrs);
        out
    }

    /// Add an initializer named `name`. Errors past [`MAX_ONNX_BYTES`] of constants.
    pub fn initializer(
        &mut self,
        name: &str,
        data_type: i32,
        dims: Vec<i64>,
        raw_data: Vec<u8>,
    ) -> Result<(), ConvertError> {
        self.constant_bytes = self.constant_bytes.saturating_add(raw_data.len());
        if self.constant_bytes > MAX_ONNX_BYTES {
            return Err(ConvertError::Graph(format!(
                "over {} MiB of float32 weights once dequantized",
                MAX_ONNX_BYTES >> 20
            )));
        }
        self.initializers.push(TensorProto {
            dims,
            data_type,
            name: name.to_string(),
            raw_data,
        });
        Ok(())
    }

    /// A float32 constant with a fresh name.
    pub fn const_f32(&mut self, dims: Vec<i64>, values: &[f32]) -> Result<String, ConvertError> {
        let name = self.fresh();
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(&name, data_type::FLOAT, dims, raw)?;
        Ok(name)
    }

    /// An int64 vector constant with a fresh name.
    pub fn const_i64(&mut self, values: &[i64]) -> Result<String, ConvertError> {
        let name = self.fresh();
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(&name, data_type::INT64, vec![values.len() as i64], raw)?;
        Ok(name)
    }

    /// `v` cast to int64 (ONNX wants int64 shapes, pads and repeats where TensorFlow has
    /// int32).
    pub fn int64(&mut self, v: &str) -> String {
        self.op(
            "Cast",
            &[v],
            vec![("to", Attr::Int(i64::from(data_type::INT64)))],
        )
    }

    /// A float32 scalar constant.
    pub fn scalar_f32(&mut self, v: f32) -> Result<String, ConvertError> {
        self.const_f32(vec![], &[v])
    }

    /// Declare a graph input or output.
    pub fn io(&mut self, output: bool, name: &str, elem_type: i32, shape: Option<&[i64]>) {
        let shape = shape.map(|dims| TensorShapeProto {
            dim: dims
                .iter()
                .map(|&d| {
                    if d > 0 {
                        Dimension {
                            dim_value: Some(d),
                            dim_param: None,
                        }
                    } else {
                        Dimension {
                            dim_value: None,
                            dim_param: Some("N".into()),
                        }
                    }
                })
                .collect(),
        });
        let v = ValueInfoProto {
            name: name.to_string(),
            r#type: Some(TypeProto {
                tensor_type: Some(TypeProtoTensor { elem_type, shape }),
            }),
        };
        if output {
            self.outputs.push(v);
        } else {
            self.inputs.push(v);
        }
    }

    /// `values` combined pairwise with `op` (`Add`, `Mul`, `Max`), each first multiplied by
    /// its coefficient when `op` is `Add` and `coeffs` are given (a missing one is 1): the
    /// element-wise layer of Caffe and NCNN. Errors: no values.
    pub fn eltwise(
        &mut self,
        op: &str,
        values: Vec<String>,
        coeffs: &[f32],
    ) -> Result<String, ConvertError> {
        let mut acc: Option<String> = None;
        for (i, mut v) in values.into_iter().enumerate() {
            if op == "Add" && !coeffs.is_empty() {
                let c = self.scalar_f32(coeffs.get(i).copied().unwrap_or(1.0))?;
                v = self.op("Mul", &[&v, &c], vec![]);
            }
            acc = Some(match acc {
                None => v,
                Some(a) => self.op(op, &[&a, &v], vec![]),
            });
        }
        acc.ok_or_else(|| ConvertError::Graph("an element-wise layer with no input".into()))
    }

    /// Declare the graph's outputs for a layered format: of `tops` (every layer's outputs, in
    /// order), those that `read` (every blob some layer reads) lacks, as `value` maps them to
    /// ONNX values, once each and never the input. Errors: no input or no output.
    pub fn unread_outputs<'a>(
        &mut self,
        tops: impl Iterator<Item = &'a String>,
        read: &std::collections::HashSet<&str>,
        value: impl Fn(&str) -> Option<String>,
        input: Option<&String>,
    ) -> Result<(), ConvertError> {
        let mut outputs: Vec<String> = Vec::new();
        for t in tops.filter(|t| !read.contains(t.as_str())) {
            if let Some(v) = value(t) {
                if !outputs.contains(&v) && Some(&v) != input {
                    outputs.push(v);
                }
            }
        }
        if input.is_none() || outputs.is_empty() {
            return Err(ConvertError::Graph("no input or no output".into()));
        }
        for o in &outputs {
            self.io(true, o, data_type::FLOAT, None);
        }
        Ok(())
    }

    /// Nodes added so far.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The serialized `ModelProto` of a layer-by-layer conversion, with the report's note:
    /// `converted from {from} ({layers} layers, {n} ONNX nodes[; {left_out}])`. The producer
    /// is `banwatch-` and `from` in lower case (`banwatch-caffe`, `banwatch-ncnn`).
    pub fn finish_layers(
        self,
        from: &str,
        layers: usize,
        left_out: Option<String>,
    ) -> (Vec<u8>, String) {
        let note = format!(
            "converted from {from} ({layers} layers, {} ONNX nodes{})",
            self.node_count(),
            left_out.map(|l| format!("; {l}")).unwrap_or_default()
        );
        let producer = format!("banwatch-{}", from.to_ascii_lowercase());
        (self.finish(&producer), note)
    }

    /// The serialized `ModelProto`.
    pub fn finish(self, producer: &str) -> Vec<u8> {
        ModelProto {
            ir_version: IR_VERSION,
            producer_name: producer.to_string(),
            graph: Some(GraphProto {
                node: self.nodes,
                name: "converted".into(),
                initializer: self.initializers,
                input: self.inputs,
                output: self.outputs,
            }),
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            }],
        }
        .encode_to_vec()
    }
}

/// `data` (row-major with `dims`) with its axes permuted: output axis `i` is input axis
/// `perm[i]`. `dims` and `perm` have the same length; `data` has the product of `dims`
/// elements (checked by the caller).
pub fn permute(data: &[f32], dims: &[usize], perm: &[usize]) -> Vec<f32> {
    let rank = dims.len();
    let mut in_strides = vec![1usize; rank];
    for i in (0..rank.saturating_sub(1)).rev() {
        in_strides[i] = in_strides[i + 1] * dims[i + 1];
    }
    let out_dims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
    let mut out = Vec::with_capacity(data.len());
    let mut idx = vec![0usize; rank];
    for _ in 0..data.len() {
        let src: usize = (0..rank).map(|i| idx[i] * in_strides[perm[i]]).sum();
        out.push(data.get(src).copied().unwrap_or(0.0));
        // Advance the output index, last axis fastest.
        for i in (0..rank).rev() {
            idx[i] += 1;
            if idx[i] < out_dims[i] {
                break;
            }
            idx[i] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_moves_axes() {
        // 2 × 3 transposed to 3 × 2.
        let d = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(
            permute(&d, &[2, 3], &[1, 0]),
            vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
        // OHWI (1 × 1 × 2 × 2) to OIHW.
        let w = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(
            permute(&w, &[1, 1, 2, 2], &[0, 3, 1, 2]),
            vec![1.0, 3.0, 2.0, 4.0]
        );
    }
}
