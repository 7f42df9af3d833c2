//! The graph's inputs: which one takes the picture, and what the others are given.
//!
//! Many exported detectors take more than the image: PaddleDetection's exports take
//! `im_shape` and `scale_factor` beside `image` (PaddleDetection `deploy/EXPORT_MODEL.md`),
//! RT-DETR's ONNX export takes `orig_target_sizes`, Caffe2/Detectron's Faster R-CNN `im_info`
//! (height, width, scale), and recurrent nets their initial states. The probe feeds its drawn
//! picture to the image input and gives every other input a neutral value chosen by its name:
//! the picture's own size for a size input, 1 for a scale, 0.5 for a threshold, zeros for the
//! rest (initial states, masks). The report lists each input and the value it was given.

use super::*;
use ort::value::{DynValue, TensorElementType};

/// Most inputs a graph may have for the probe to fill.
const MAX_INPUTS: usize = 16;

/// Most elements one side input may have (recurrent states, masks).
const MAX_SIDE_ELEMENTS: u64 = 1 << 20;

/// What a side input is given, chosen from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SideValue {
    /// The picture's height and width (`im_shape`, `orig_target_sizes`, `image_size`), with a
    /// third value of 1 where the input has three (`im_info`: height, width, scale).
    ImageSize,
    /// Ones (`scale_factor`, `scale`: the picture is the original).
    One,
    /// 0.5 (`score_threshold`, `iou_threshold`, `conf_thres`).
    Half,
    /// Zeros (initial recurrent states, masks, anything else).
    Zero,
    /// A drawn signal in [-1, 1], different on each draw (graphs that take no picture).
    Drawn,
    /// Small drawn counts in [0, 8): token ids, lengths (graphs that take no picture).
    Counts,
    /// 16000, a sample rate in hertz (Silero VAD's `sr`).
    SampleRate,
}

impl SideValue {
    /// The value for an input named `name` (any case).
    pub fn for_name(name: &str) -> SideValue {
        let n = name.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| n.contains(w));
        if has(&[
            "im_shape",
            "image_shape",
            "img_shape",
            "im_info",
            "im_size",
            "image_size",
            "img_size",
            "orig_size",
            "orig_target_size",
            "target_size",
            "input_size",
        ]) {
            SideValue::ImageSize
        } else if has(&["thresh", "iou", "conf"]) {
            SideValue::Half
        } else if has(&["scale"]) {
            SideValue::One
        } else {
            SideValue::Zero
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            SideValue::ImageSize => "the picture's height and width",
            SideValue::One => "ones",
            SideValue::Half => "0.5",
            SideValue::Zero => "zeros",
            SideValue::Drawn => "a drawn signal",
            SideValue::Counts => "small drawn counts",
            SideValue::SampleRate => "16000",
        }
    }
}

/// An input other than the picture: its name, its shape as given (batch as the picture's,
/// other open dimensions 1), its element type and what it was given.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SideInput {
    /// The graph's name for the input.
    pub name: String,
    /// The shape given.
    pub shape: Vec<i64>,
    /// ONNX element type, as ONNX Runtime names it (`f32`, `i64`, `bool`, …).
    pub element: String,
    /// What was given.
    pub value: SideValue,
}

impl SideInput {
    /// One phrase for the report: `scale_factor [1, 2] f32 = ones`.
    pub fn describe(&self) -> String {
        format!(
            "{} {:?} {} = {}",
            self.name,
            self.shape,
            self.element,
            self.value.as_str()
        )
    }
}

/// The graph's inputs, read from the session: the picture's (name and dimensions as declared)
/// and the others'.
pub(super) struct GraphInputs {
    /// Name of the input the picture goes to.
    pub(super) image: String,
    /// Its declared dimensions (open ones ≤ 0).
    pub(super) dims: Vec<i64>,
    /// The others: name, declared dimensions, element type.
    side: Vec<(String, Vec<i64>, TensorElementType)>,
}

/// The side inputs' values, by input name, as fed to ONNX Runtime.
pub(super) type SideValues = Vec<(String, DynValue)>;

/// Whether `dims` can take a picture or a silhouette sequence.
fn image_like(dims: &[i64]) -> bool {
    matches!(dims, [_, 1 | 3, _, _] | [_, _, _, 1 | 3])
}

impl GraphInputs {
    /// Read and sort a session's inputs. The picture goes to the only input, else to the first
    /// float 4-D input laid out as an image (N × C × H × W or N × H × W × C, C 1 or 3), else to
    /// the first float input of rank 4 or 5 (silhouette sequences). Errors: no tensor input
    /// the picture fits, more than [`MAX_INPUTS`] inputs, a side input of an element type the
    /// probe does not fill.
    pub(super) fn of(inputs: &[(String, ValueType)]) -> Result<GraphInputs, ProbeError> {
        if inputs.is_empty() {
            return Err(ProbeError::Unsupported("the graph has no inputs".into()));
        }
        if inputs.len() > MAX_INPUTS {
            return Err(ProbeError::Unsupported(format!(
                "{} inputs (the probe fills at most {MAX_INPUTS})",
                inputs.len()
            )));
        }
        let mut tensors = Vec::with_capacity(inputs.len());
        for (name, t) in inputs {
            let ValueType::Tensor { ty, shape, .. } = t else {
                return Err(ProbeError::Unsupported(format!(
                    "input {name} is not a tensor"
                )));
            };
            tensors.push((
                name.clone(),
                shape.iter().copied().collect::<Vec<i64>>(),
                *ty,
            ));
        }
        let float = |t: &(String, Vec<i64>, TensorElementType)| t.2 == TensorElementType::Float32;
        let image = if tensors.len() == 1 {
            if !float(&tensors[0]) {
                return Err(ProbeError::Unsupported(format!(
                    "input type {}",
                    tensors[0].2
                )));
            }
            0
        } else {
            tensors
                .iter()
                .position(|t| float(t) && image_like(&t.1))
                .or_else(|| {
                    tensors
                        .iter()
                        .position(|t| float(t) && matches!(t.1.len(), 4 | 5))
                })
                .ok_or_else(|| {
                    ProbeError::Unsupported(format!(
                        "none of the {} inputs ({}) takes a float image",
                        tensors.len(),
                        tensors
                            .iter()
                            .map(|t| format!("{} {:?} {}", t.0, t.1, t.2))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?
        };
        let (name, dims, _) = tensors.remove(image);
        for (n, _, ty) in &tensors {
            if !fillable(*ty) {
                return Err(ProbeError::Unsupported(format!(
                    "input {n} is of type {ty}, which the probe does not fill"
                )));
            }
        }
        Ok(GraphInputs {
            image: name,
            dims,
            side: tensors,
        })
    }

    /// The side inputs as given for a picture laid out as `layout`: what each is given, and
    /// the values. Errors: a side input of more than [`MAX_SIDE_ELEMENTS`] elements.
    pub(super) fn side_values(
        &self,
        layout: &InputLayout,
    ) -> Result<(Vec<SideInput>, SideValues), ProbeError> {
        let mut described = Vec::with_capacity(self.side.len());
        let mut values = Vec::with_capacity(self.side.len());
        for (name, dims, ty) in &self.side {
            let shape: Vec<i64> = dims
                .iter()
                .enumerate()
                .map(|(i, &d)| match (i, d) {
                    (_, d) if d > 0 => d,
                    // An open first dimension is the batch when there is more to the shape.
                    (0, _) if dims.len() > 1 => layout.batch as i64,
                    _ => 1,
                })
                .collect();
            let elements = shape
                .iter()
                .try_fold(1u64, |a, &d| a.checked_mul(u64::try_from(d).ok()?))
                .unwrap_or(u64::MAX);
            if elements > MAX_SIDE_ELEMENTS {
                return Err(ProbeError::Unsupported(format!(
                    "input {name} {shape:?} is over the probe's {MAX_SIDE_ELEMENTS} elements"
                )));
            }
            let kind = SideValue::for_name(name);
            let row = |i: usize| -> f64 {
                match kind {
                    SideValue::ImageSize => match i {
                        0 => f64::from(layout.height),
                        1 => f64::from(layout.width),
                        _ => 1.0,
                    },
                    SideValue::One => 1.0,
                    SideValue::Half => 0.5,
                    // `for_name` gives the drawn kinds to no side input of a picture run.
                    SideValue::Zero
                    | SideValue::Drawn
                    | SideValue::Counts
                    | SideValue::SampleRate => 0.0,
                }
            };
            // Values run along the last dimension (one row of [h, w] per batch item).
            let last = shape.last().copied().unwrap_or(1).max(1) as usize;
            let data: Vec<f64> = (0..elements as usize).map(|i| row(i % last)).collect();
            values.push((name.clone(), tensor_of(*ty, shape.clone(), &data)?));
            described.push(SideInput {
                name: name.clone(),
                shape,
                element: ty.to_string(),
                value: kind,
            });
        }
        Ok((described, values))
    }
}

/// Element types the probe fills side inputs of.
fn fillable(ty: TensorElementType) -> bool {
    use TensorElementType as T;
    matches!(
        ty,
        T::Float32 | T::Float64 | T::Int64 | T::Int32 | T::Int8 | T::Uint8 | T::Bool
    )
}

/// `data` as a tensor of element type `ty` (integers truncated, booleans non-zero).
pub(super) fn tensor_of(
    ty: TensorElementType,
    shape: Vec<i64>,
    data: &[f64],
) -> Result<DynValue, ProbeError> {
    use TensorElementType as T;
    fn make<X: ort::value::PrimitiveTensorElementType + std::fmt::Debug + Clone + 'static>(
        shape: Vec<i64>,
        data: Vec<X>,
    ) -> Result<DynValue, ProbeError> {
        Ok(Tensor::from_array((shape, data)).map_err(rt)?.into_dyn())
    }
    match ty {
        T::Float32 => make(shape, data.iter().map(|&x| x as f32).collect()),
        T::Float64 => make(shape, data.to_vec()),
        T::Int64 => make(shape, data.iter().map(|&x| x as i64).collect()),
        T::Int32 => make(shape, data.iter().map(|&x| x as i32).collect()),
        T::Int8 => make(shape, data.iter().map(|&x| x as i8).collect()),
        T::Uint8 => make(shape, data.iter().map(|&x| x as u8).collect()),
        T::Bool => make(shape, data.iter().map(|&x| x != 0.0).collect()),
        other => Err(ProbeError::Unsupported(format!(
            "side input of type {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Input names as published exporters write them, and what each is given.
    #[test]
    fn side_inputs_are_given_values_by_name() {
        for (name, want) in [
            ("im_shape", SideValue::ImageSize),          // PaddleDetection
            ("orig_target_sizes", SideValue::ImageSize), // RT-DETR
            ("im_info", SideValue::ImageSize),           // Detectron / Caffe2
            ("scale_factor", SideValue::One),            // PaddleDetection
            ("score_threshold", SideValue::Half),
            ("iou_threshold", SideValue::Half),
            ("h0", SideValue::Zero),
            ("attention_mask", SideValue::Zero),
        ] {
            assert_eq!(SideValue::for_name(name), want, "{name}");
        }
    }

    /// The picture goes to the image-shaped float input, wherever it stands; a graph with no
    /// such input, or a side input of a type the probe does not fill, says so.
    #[test]
    fn the_picture_goes_to_the_image_shaped_input() {
        use ort::value::{Shape, SymbolicDimensions, TensorElementType as T};
        let tensor = |ty, dims: &[i64]| ValueType::Tensor {
            ty,
            shape: Shape::new(dims.iter().copied()),
            dimension_symbols: SymbolicDimensions::empty(dims.len()),
        };
        let inputs = vec![
            ("im_shape".to_string(), tensor(T::Float32, &[-1, 2])),
            ("image".to_string(), tensor(T::Float32, &[-1, 3, -1, -1])),
            ("scale_factor".to_string(), tensor(T::Float32, &[-1, 2])),
        ];
        let g = GraphInputs::of(&inputs).unwrap();
        assert_eq!(g.image, "image");
        assert_eq!(g.side.len(), 2);
        let text = |r: Result<GraphInputs, ProbeError>| match r {
            Err(e) => e.to_string(),
            Ok(_) => "accepted".into(),
        };
        let no_image = vec![
            ("ids".to_string(), tensor(T::Int64, &[1, 16])),
            ("mask".to_string(), tensor(T::Int64, &[1, 16])),
        ];
        assert!(text(GraphInputs::of(&no_image)).contains("none of the 2 inputs"));
        let strings = vec![
            ("image".to_string(), tensor(T::Float32, &[1, 3, 112, 112])),
            ("label".to_string(), tensor(T::String, &[1])),
        ];
        assert!(text(GraphInputs::of(&strings)).contains("input label is of type String"));
    }
}
