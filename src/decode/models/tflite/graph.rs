//! The whole main subgraph of a TFLite model, as the probe's converter needs it: every tensor
//! with its shape, type, constant data and quantization, and every operator with its builtin
//! code, inputs, outputs and options table. Field numbers follow
//! `tensorflow/lite/schema/schema.fbs` (schema version 3c); every offset is checked.

use super::{bad, Fb, ModelError, Table};

/// Tensors a graph may have; real models have a few thousand.
pub const MAX_TENSORS: usize = 200_000;
/// Operators a graph may have.
pub const MAX_OPERATORS: usize = 100_000;

/// `TensorType` of schema.fbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum TensorType {
    Float32,
    Float16,
    Int32,
    Uint8,
    Int64,
    String,
    Bool,
    Int16,
    Int8,
    Float64,
    /// Any other code (complex, resource, variant, int4, unsigned 16/32/64).
    Other(u8),
}

impl TensorType {
    fn of(code: u8) -> TensorType {
        match code {
            0 => TensorType::Float32,
            1 => TensorType::Float16,
            2 => TensorType::Int32,
            3 => TensorType::Uint8,
            4 => TensorType::Int64,
            5 => TensorType::String,
            6 => TensorType::Bool,
            7 => TensorType::Int16,
            9 => TensorType::Int8,
            10 => TensorType::Float64,
            other => TensorType::Other(other),
        }
    }
    /// Bytes per element, where fixed.
    pub fn width(self) -> Option<usize> {
        Some(match self {
            TensorType::Float32 | TensorType::Int32 => 4,
            TensorType::Float16 | TensorType::Int16 => 2,
            TensorType::Uint8 | TensorType::Int8 | TensorType::Bool => 1,
            TensorType::Int64 | TensorType::Float64 => 8,
            TensorType::String | TensorType::Other(_) => return None,
        })
    }
}

/// Affine quantization: `real = scale[c] * (q - zero_point[c])`, per channel `c` along
/// `dimension` when there is more than one scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantization {
    /// One scale, or one per channel.
    pub scale: Vec<f32>,
    /// As many zero points as scales (or none: zero).
    pub zero_point: Vec<i64>,
    /// The channel axis of per-channel quantization.
    pub dimension: usize,
}

/// One tensor of the subgraph.
#[derive(Debug, Clone)]
pub struct Tensor<'a> {
    /// The tensor's name (may be empty).
    pub name: String,
    /// Dimensions as stored (`shape`); TFLite stores concrete sizes here, batch usually 1.
    pub shape: Vec<i64>,
    /// Element type.
    pub dtype: TensorType,
    /// The constant's bytes (little-endian), if the tensor has a non-empty buffer.
    pub data: Option<&'a [u8]>,
    /// Quantization parameters, if any scale is given.
    pub quantization: Option<Quantization>,
    /// Sparsity parameters: the data holds only the stored values, in this traversal.
    pub sparsity: Option<Sparsity>,
}

/// `SparsityParameters`: the TACO-style encoding TFLite uses for pruned weights (read by the
/// DENSIFY operator). Dimensions are listed in traversal order, block dimensions last.
#[derive(Debug, Clone, PartialEq)]
pub struct Sparsity {
    /// Traversal order of the dense dimensions, then the block dimensions.
    pub traversal_order: Vec<i32>,
    /// For each block dimension, the dense dimension it subdivides.
    pub block_map: Vec<i32>,
    /// Per traversed dimension.
    pub dims: Vec<DimensionMetadata>,
}

/// One traversed dimension: dense with a size, or compressed (CSR) with segments and indices.
#[derive(Debug, Clone, PartialEq)]
pub struct DimensionMetadata {
    /// `DENSE` (true) or `SPARSE_CSR`.
    pub dense: bool,
    /// Size of a dense dimension.
    pub dense_size: i32,
    /// CSR row pointers.
    pub array_segments: Vec<i32>,
    /// CSR column indices.
    pub array_indices: Vec<i32>,
}

/// One operator, in execution order.
#[derive(Debug, Clone)]
pub struct Operator {
    /// `BuiltinOperator` code (32 is CUSTOM).
    pub builtin: i32,
    /// The custom code, for CUSTOM operators.
    pub custom: Option<String>,
    /// Input tensor indices; -1 marks an absent optional input.
    pub inputs: Vec<i32>,
    /// Output tensor indices.
    pub outputs: Vec<i32>,
    options: Option<Table>,
    /// `custom_options` bytes, for CUSTOM operators (at most 4 KiB kept).
    pub custom_options: Vec<u8>,
}

/// The main subgraph with the buffers its tensors point to.
pub struct Graph<'a> {
    fb: Fb<'a>,
    /// All tensors.
    pub tensors: Vec<Tensor<'a>>,
    /// Indices of the graph's inputs.
    pub inputs: Vec<i32>,
    /// Indices of the graph's outputs.
    pub outputs: Vec<i32>,
    /// Operators in execution order.
    pub operators: Vec<Operator>,
}

/// Read the main subgraph of a TFLite FlatBuffer. Errors: not TFLite, offsets out of range,
/// more than [`MAX_TENSORS`] tensors or [`MAX_OPERATORS`] operators.
pub fn read(bytes: &[u8]) -> Result<Graph<'_>, ModelError> {
    if !super::looks_like(bytes) {
        return Err(bad("no TFL3 identifier"));
    }
    let fb = Fb { b: bytes };
    let model = fb.table(fb.u32_at(0)? as usize)?;
    let codes = operator_codes(&fb, model)?;
    let buffers = fb.tables(model, 4)?;
    let subgraphs = fb.tables(model, 2)?;
    let Some(&sg) = subgraphs.first() else {
        return Err(bad("no subgraph"));
    };
    let tensor_tables = fb.tables(sg, 0)?;
    if tensor_tables.len() > MAX_TENSORS {
        return Err(ModelError::TooLarge(format!(
            "tflite: {} tensors",
            tensor_tables.len()
        )));
    }
    let mut tensors = Vec::with_capacity(tensor_tables.len());
    for t in tensor_tables {
        let buffer = fb.scalar_i32(t, 2)?.unwrap_or(0);
        let data = match usize::try_from(buffer).ok().filter(|&b| b > 0) {
            Some(b) => match buffers.get(b) {
                Some(&buf) => buffer_data(&fb, buf)?,
                None => return Err(bad("tensor buffer index out of range")),
            },
            None => None,
        };
        tensors.push(Tensor {
            name: fb.string(t, 3)?.unwrap_or_default(),
            shape: fb
                .words(t, 0)?
                .into_iter()
                .map(|d| i64::from(d as i32))
                .collect(),
            dtype: TensorType::of(fb.scalar_u8(t, 1)?.unwrap_or(0)),
            data,
            quantization: match fb.field(t, 4)? {
                Some(at) => quantization(&fb, fb.table(fb.deref(at)?)?)?,
                None => None,
            },
            sparsity: match fb.field(t, 6)? {
                Some(at) => Some(sparsity(&fb, fb.table(fb.deref(at)?)?)?),
                None => None,
            },
        });
    }
    let op_tables = fb.tables(sg, 3)?;
    if op_tables.len() > MAX_OPERATORS {
        return Err(ModelError::TooLarge(format!(
            "tflite: {} operators",
            op_tables.len()
        )));
    }
    let mut operators = Vec::with_capacity(op_tables.len());
    for op in op_tables {
        let idx = fb.scalar_i32(op, 0)?.unwrap_or(0);
        let (builtin, custom) = usize::try_from(idx)
            .ok()
            .and_then(|i| codes.get(i))
            .cloned()
            .ok_or_else(|| bad("operator code index out of range"))?;
        let options = match fb.field(op, 4)? {
            Some(at) => Some(fb.table(fb.deref(at)?)?),
            None => None,
        };
        operators.push(Operator {
            builtin,
            custom,
            inputs: signed(fb.words(op, 1)?),
            outputs: signed(fb.words(op, 2)?),
            options,
            custom_options: fb
                .byte_vector(op, 5)?
                .map(|b| b[..b.len().min(4096)].to_vec())
                .unwrap_or_default(),
        });
    }
    Ok(Graph {
        inputs: signed(fb.words(sg, 1)?),
        outputs: signed(fb.words(sg, 2)?),
        fb,
        tensors,
        operators,
    })
}

/// The model's `operator_codes`: (builtin code, custom code) each. `builtin_code` (field 3,
/// int32) supersedes `deprecated_builtin_code` (field 0, byte).
pub(super) fn operator_codes(
    fb: &Fb<'_>,
    model: Table,
) -> Result<Vec<(i32, Option<String>)>, ModelError> {
    fb.tables(model, 1)?
        .into_iter()
        .map(|c| {
            let deprecated = i32::from(fb.scalar_u8(c, 0)?.unwrap_or(0));
            let code = fb.scalar_i32(c, 3)?.unwrap_or(0).max(deprecated);
            Ok((code, fb.string(c, 1)?))
        })
        .collect()
}

/// The name an operator goes by: its builtin's name, or `CUSTOM:<custom code>`.
pub fn operator_name(builtin: i32, custom: Option<&str>) -> String {
    match (builtin, custom) {
        (32, Some(c)) => format!("CUSTOM:{c}"),
        _ => builtin_name(builtin),
    }
}

fn signed(v: Vec<u32>) -> Vec<i32> {
    v.into_iter().map(|x| x as i32).collect()
}

/// A buffer's bytes: inline `data`, or `offset`/`size` into the file for models over 2 GB.
fn buffer_data<'a>(fb: &Fb<'a>, buf: Table) -> Result<Option<&'a [u8]>, ModelError> {
    if let Some(d) = fb.byte_vector(buf, 0)? {
        return Ok((!d.is_empty()).then_some(d));
    }
    let offset = fb.scalar_u64(buf, 1)?.unwrap_or(0);
    let size = fb.scalar_u64(buf, 2)?.unwrap_or(0);
    if offset <= 1 || size == 0 {
        return Ok(None);
    }
    let start = usize::try_from(offset).map_err(|_| bad("buffer offset out of range"))?;
    let len = usize::try_from(size).map_err(|_| bad("buffer size out of range"))?;
    start
        .checked_add(len)
        .and_then(|end| fb.b.get(start..end))
        .map(Some)
        .ok_or_else(|| bad("buffer outside the file"))
}

fn sparsity(fb: &Fb<'_>, s: Table) -> Result<Sparsity, ModelError> {
    let ints = |v: Vec<u32>| v.into_iter().map(|x| x as i32).collect::<Vec<i32>>();
    let mut dims = Vec::new();
    for d in fb.tables(s, 2)? {
        dims.push(DimensionMetadata {
            dense: fb.scalar_u8(d, 0)?.unwrap_or(0) == 0,
            dense_size: fb.scalar_i32(d, 1)?.unwrap_or(0),
            array_segments: index_vector(fb, d, 2)?,
            array_indices: index_vector(fb, d, 4)?,
        });
    }
    Ok(Sparsity {
        traversal_order: ints(fb.words(s, 0)?),
        block_map: ints(fb.words(s, 1)?),
        dims,
    })
}

/// A `SparseIndexVector` union (type in field `i`, table in `i + 1`): Int32Vector,
/// Uint16Vector or Uint8Vector, each with its `values` in field 0.
fn index_vector(fb: &Fb<'_>, d: Table, i: usize) -> Result<Vec<i32>, ModelError> {
    let kind = fb.scalar_u8(d, i)?.unwrap_or(0);
    let Some(at) = fb.field(d, i + 1)? else {
        return Ok(vec![]);
    };
    let t = fb.table(fb.deref(at)?)?;
    match kind {
        1 => Ok(fb.words(t, 0)?.into_iter().map(|x| x as i32).collect()),
        2 => {
            let Some((start, n)) = fb.vector(t, 0)? else {
                return Ok(vec![]);
            };
            (0..n)
                .map(|k| Ok(i32::from(fb.u16_at(start + 2 * k)?)))
                .collect()
        }
        3 => Ok(fb
            .byte_vector(t, 0)?
            .unwrap_or_default()
            .iter()
            .map(|&b| i32::from(b))
            .collect()),
        other => Err(bad(&format!("sparse index vector type {other}"))),
    }
}

fn quantization(fb: &Fb<'_>, q: Table) -> Result<Option<Quantization>, ModelError> {
    let scale: Vec<f32> = fb.words(q, 2)?.into_iter().map(f32::from_bits).collect();
    if scale.is_empty() {
        return Ok(None);
    }
    let zero_point = fb.longs(q, 3)?.into_iter().map(|z| z as i64).collect();
    let dimension = usize::try_from(fb.scalar_i32(q, 6)?.unwrap_or(0)).unwrap_or(0);
    Ok(Some(Quantization {
        scale,
        zero_point,
        dimension,
    }))
}

impl<'a> Graph<'a> {
    /// The tensor at `index`, if `index` is in range (not -1).
    pub fn tensor(&self, index: i32) -> Option<&Tensor<'a>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.tensors.get(i))
    }
    /// An `int`/`uint`/`float`-typed option field (4 bytes), raw; `None` when absent.
    fn option_word(&self, op: &Operator, field: usize) -> Result<Option<u32>, ModelError> {
        let Some(t) = op.options else {
            return Ok(None);
        };
        match self.fb.field(t, field)? {
            Some(at) => Ok(Some(self.fb.u32_at(at)?)),
            None => Ok(None),
        }
    }
    /// An `int` option field of `op`'s builtin options table, or `default` when absent.
    pub fn option_i32(&self, op: &Operator, field: usize, default: i32) -> Result<i32, ModelError> {
        Ok(self.option_word(op, field)?.map_or(default, |w| w as i32))
    }
    /// A `float` option field, or `default`.
    pub fn option_f32(&self, op: &Operator, field: usize, default: f32) -> Result<f32, ModelError> {
        Ok(self.option_word(op, field)?.map_or(default, f32::from_bits))
    }
    /// A `byte`/`bool`/enum option field, or `default`.
    pub fn option_u8(&self, op: &Operator, field: usize, default: u8) -> Result<u8, ModelError> {
        let Some(t) = op.options else {
            return Ok(default);
        };
        Ok(self.fb.scalar_u8(t, field)?.unwrap_or(default))
    }
    /// An `[int]` option field (empty when absent).
    pub fn option_ints(&self, op: &Operator, field: usize) -> Result<Vec<i64>, ModelError> {
        let Some(t) = op.options else {
            return Ok(vec![]);
        };
        Ok(self
            .fb
            .words(t, field)?
            .into_iter()
            .map(|w| i64::from(w as i32))
            .collect())
    }
}

/// `BuiltinOperator` names by code, 0..=161 (schema.fbs).
pub const BUILTIN_NAMES: [&str; 162] = [
    "ADD",
    "AVERAGE_POOL_2D",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEPTH_TO_SPACE",
    "DEQUANTIZE",
    "EMBEDDING_LOOKUP",
    "FLOOR",
    "FULLY_CONNECTED",
    "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION",
    "L2_POOL_2D",
    "LOCAL_RESPONSE_NORMALIZATION",
    "LOGISTIC",
    "LSH_PROJECTION",
    "LSTM",
    "MAX_POOL_2D",
    "MUL",
    "RELU",
    "RELU_N1_TO_1",
    "RELU6",
    "RESHAPE",
    "RESIZE_BILINEAR",
    "RNN",
    "SOFTMAX",
    "SPACE_TO_DEPTH",
    "SVDF",
    "TANH",
    "CONCAT_EMBEDDINGS",
    "SKIP_GRAM",
    "CALL",
    "CUSTOM",
    "EMBEDDING_LOOKUP_SPARSE",
    "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN",
    "GATHER",
    "BATCH_TO_SPACE_ND",
    "SPACE_TO_BATCH_ND",
    "TRANSPOSE",
    "MEAN",
    "SUB",
    "DIV",
    "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE",
    "BIDIRECTIONAL_SEQUENCE_RNN",
    "EXP",
    "TOPK_V2",
    "SPLIT",
    "LOG_SOFTMAX",
    "DELEGATE",
    "BIDIRECTIONAL_SEQUENCE_LSTM",
    "CAST",
    "PRELU",
    "MAXIMUM",
    "ARG_MAX",
    "MINIMUM",
    "LESS",
    "NEG",
    "PADV2",
    "GREATER",
    "GREATER_EQUAL",
    "LESS_EQUAL",
    "SELECT",
    "SLICE",
    "SIN",
    "TRANSPOSE_CONV",
    "SPARSE_TO_DENSE",
    "TILE",
    "EXPAND_DIMS",
    "EQUAL",
    "NOT_EQUAL",
    "LOG",
    "SUM",
    "SQRT",
    "RSQRT",
    "SHAPE",
    "POW",
    "ARG_MIN",
    "FAKE_QUANT",
    "REDUCE_PROD",
    "REDUCE_MAX",
    "PACK",
    "LOGICAL_OR",
    "ONE_HOT",
    "LOGICAL_AND",
    "LOGICAL_NOT",
    "UNPACK",
    "REDUCE_MIN",
    "FLOOR_DIV",
    "REDUCE_ANY",
    "SQUARE",
    "ZEROS_LIKE",
    "FILL",
    "FLOOR_MOD",
    "RANGE",
    "RESIZE_NEAREST_NEIGHBOR",
    "LEAKY_RELU",
    "SQUARED_DIFFERENCE",
    "MIRROR_PAD",
    "ABS",
    "SPLIT_V",
    "UNIQUE",
    "CEIL",
    "REVERSE_V2",
    "ADD_N",
    "GATHER_ND",
    "COS",
    "WHERE",
    "RANK",
    "ELU",
    "REVERSE_SEQUENCE",
    "MATRIX_DIAG",
    "QUANTIZE",
    "MATRIX_SET_DIAG",
    "ROUND",
    "HARD_SWISH",
    "IF",
    "WHILE",
    "NON_MAX_SUPPRESSION_V4",
    "NON_MAX_SUPPRESSION_V5",
    "SCATTER_ND",
    "SELECT_V2",
    "DENSIFY",
    "SEGMENT_SUM",
    "BATCH_MATMUL",
    "PLACEHOLDER_FOR_GREATER_OP_CODES",
    "CUMSUM",
    "CALL_ONCE",
    "BROADCAST_TO",
    "RFFT2D",
    "CONV_3D",
    "IMAG",
    "REAL",
    "COMPLEX_ABS",
    "HASHTABLE",
    "HASHTABLE_FIND",
    "HASHTABLE_IMPORT",
    "HASHTABLE_SIZE",
    "REDUCE_ALL",
    "CONV_3D_TRANSPOSE",
    "VAR_HANDLE",
    "READ_VARIABLE",
    "ASSIGN_VARIABLE",
    "BROADCAST_ARGS",
    "RANDOM_STANDARD_NORMAL",
    "BUCKETIZE",
    "RANDOM_UNIFORM",
    "MULTINOMIAL",
    "GELU",
    "DYNAMIC_UPDATE_SLICE",
    "RELU_0_TO_1",
    "UNSORTED_SEGMENT_PROD",
    "UNSORTED_SEGMENT_MAX",
    "UNSORTED_SEGMENT_SUM",
    "ATAN2",
    "UNSORTED_SEGMENT_MIN",
    "SIGN",
    "BITCAST",
    "BITWISE_XOR",
    "RIGHT_SHIFT",
];

/// The name of a builtin operator code (`OP_<n>` past the table).
pub fn builtin_name(code: i32) -> String {
    usize::try_from(code)
        .ok()
        .and_then(|i| BUILTIN_NAMES.get(i))
        .map_or_else(|| format!("OP_{code}"), |n| (*n).to_string())
}
