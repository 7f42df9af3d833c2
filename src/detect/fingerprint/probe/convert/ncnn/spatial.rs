//! The NCNN layers with a spatial window or size: convolutions, inner product, pooling,
//! interpolation, padding (ncnn `src/layer/{convolution,deconvolution,innerproduct,pooling,
//! interp,padding}.cpp`).

use super::{count, graph, refuse, Converter, SAME_LOWER, UNSET};
use crate::decode::models::ncnn::{Layer, Params};
use crate::detect::fingerprint::probe::convert::builder::Attr;
use crate::detect::fingerprint::probe::convert::ConvertError;

/// A sliding window as a layer's parameters give it: kernel `1=w 11=h` (h defaults to w),
/// the stride and the four paddings at the layer's own ids (the right and top default to the
/// left, the bottom to the top).
struct Window {
    kw: usize,
    kh: usize,
    sw: i32,
    sh: i32,
    /// Left, right, top, bottom.
    pads: [i32; 4],
}

impl Window {
    fn read(p: &Params, stride: (i32, i32), pad: [i32; 4]) -> Result<Self, ConvertError> {
        let kw = count(p.int(1, 0), "kernel_w")?;
        let kh = count(p.int(11, kw as i32), "kernel_h")?;
        let sw = p.int(stride.0, 1);
        let left = p.int(pad[0], 0);
        let top = p.int(pad[2], left);
        Ok(Self {
            kw,
            kh,
            sw,
            sh: p.int(stride.1, sw),
            pads: [left, p.int(pad[1], left), top, p.int(pad[3], top)],
        })
    }
}

impl Converter<'_> {
    /// The layer's first input, which must be a feature map (three ncnn dimensions).
    fn feature_map(&self, l: &Layer) -> Result<super::Blob, ConvertError> {
        let x = self.bottom(l, 0)?;
        if x.dims != 3 {
            return Err(refuse(l, "an input that is not a feature map"));
        }
        Ok(x)
    }

    pub(super) fn convolution(&mut self, l: &Layer, transposed: bool) -> Result<(), ConvertError> {
        let p = &l.params;
        let x = self.feature_map(l)?;
        if p.int(19, 0) != 0 && !transposed || transposed && p.int(28, 0) != 0 {
            return Err(refuse(l, "dynamic weights"));
        }
        if p.int(8, 0) != 0 {
            return Err(refuse(l, "int8 weights"));
        }
        let out = count(p.int(0, 0), "num_output")?;
        let Window {
            kw,
            kh,
            sw,
            sh,
            pads: [pl, pr, pt, pb],
        } = Window::read(p, (3, 13), [4, 15, 14, 16])?;
        let dw = p.int(2, 1);
        let dh = p.int(12, dw);
        if !transposed && p.float(18, 0.0) != 0.0 {
            return Err(refuse(l, "a non-zero padding value"));
        }
        let group = if l.kind.ends_with("DepthWise") {
            count(p.int(7, 1), "group")?
        } else {
            1
        };
        let size = count(p.int(6, 0), "weight_data_size")?;
        let per = out * kh * kw;
        if size % per != 0 || out % group != 0 {
            return Err(graph(format!(
                "weight_data_size {size} is not num_output {out} × {kh} × {kw} × inputs"
            )));
        }
        let inputs_per_group = size / per;
        let mut w = self.load(l, size, false)?;
        let bias = if p.int(5, 0) != 0 {
            Some(self.load(l, out, true)?)
        } else {
            None
        };
        let (kh, kw) = (kh as i64, kw as i64);
        let dims = if transposed {
            // ncnn keeps a deconvolution's weights output-major per group; ONNX wants
            // input-major: swap the two axes within each group.
            let (o, i) = (out / group, inputs_per_group);
            let k = (kh * kw) as usize;
            let mut t = vec![0f32; w.len()];
            for g in 0..group {
                let base = g * o * i * k;
                for oc in 0..o {
                    for ic in 0..i {
                        let from = base + (oc * i + ic) * k;
                        let to = base + (ic * o + oc) * k;
                        t[to..to + k].copy_from_slice(&w[from..from + k]);
                    }
                }
            }
            w = t;
            vec![(group * i) as i64, o as i64, kh, kw]
        } else {
            vec![out as i64, inputs_per_group as i64, kh, kw]
        };
        let wn = self.b.const_f32(dims, &w)?;
        let mut ins = vec![x.name.clone(), wn];
        if let Some(bias) = &bias {
            ins.push(self.b.const_f32(vec![out as i64], bias)?);
        }
        let mut attrs = vec![
            ("kernel_shape", Attr::Ints(vec![kh, kw])),
            ("strides", Attr::Ints(vec![i64::from(sh), i64::from(sw)])),
            ("dilations", Attr::Ints(vec![i64::from(dh), i64::from(dw)])),
            ("group", Attr::Int(group as i64)),
        ];
        match pl {
            UNSET => attrs.push(("auto_pad", Attr::Str("SAME_UPPER"))),
            SAME_LOWER => attrs.push(("auto_pad", Attr::Str("SAME_LOWER"))),
            _ if [pl, pr, pt, pb].iter().any(|&v| v < 0) => {
                return Err(refuse(l, "a negative padding"))
            }
            _ => attrs.push((
                "pads",
                Attr::Ints([pt, pl, pb, pr].iter().map(|&v| i64::from(v)).collect()),
            )),
        }
        if transposed {
            let (ow, oh) = (p.int(18, 0), p.int(19, 0));
            let (outw, outh) = (p.int(20, 0), p.int(21, 0));
            if outw > 0 || outh > 0 {
                return Err(refuse(l, "a fixed output size"));
            }
            if ow > 0 || oh > 0 {
                attrs.push((
                    "output_padding",
                    Attr::Ints(vec![i64::from(oh), i64::from(ow)]),
                ));
            }
        }
        let names: Vec<&str> = ins.iter().map(String::as_str).collect();
        let op = if transposed { "ConvTranspose" } else { "Conv" };
        let y = self.b.op(op, &names, attrs);
        let y = self.activation(l, y)?;
        self.top(l, y, 3)
    }

    pub(super) fn inner_product(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let p = &l.params;
        let x = self.bottom(l, 0)?;
        if p.int(8, 0) != 0 {
            return Err(refuse(l, "int8 weights"));
        }
        let out = count(p.int(0, 0), "num_output")?;
        let size = count(p.int(2, 0), "weight_data_size")?;
        if size % out != 0 {
            return Err(graph(format!(
                "weight_data_size {size} is not a multiple of {out}"
            )));
        }
        let w = self.load(l, size, false)?;
        let bias = if p.int(1, 0) != 0 {
            self.load(l, out, true)?
        } else {
            vec![0.0; out]
        };
        let flat = self
            .b
            .op("Flatten", &[&x.name], vec![("axis", Attr::Int(1))]);
        let wn = self
            .b
            .const_f32(vec![out as i64, (size / out) as i64], &w)?;
        let bn = self.b.const_f32(vec![out as i64], &bias)?;
        let y = self
            .b
            .op("Gemm", &[&flat, &wn, &bn], vec![("transB", Attr::Int(1))]);
        let y = self.activation(l, y)?;
        self.top(l, y, 1)
    }

    pub(super) fn pooling(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let p = &l.params;
        let x = self.bottom(l, 0)?;
        let max = match p.int(0, 0) {
            0 => true,
            1 => false,
            t => return Err(refuse(l, &format!("pooling type {t}"))),
        };
        let global = p.int(4, 0) != 0;
        let adaptive = p.int(7, 0) != 0;
        let (ow, oh) = (p.int(8, 0), p.int(18, p.int(8, 0)));
        if global || adaptive && ow == 1 && oh == 1 {
            let op = if max {
                "GlobalMaxPool"
            } else {
                "GlobalAveragePool"
            };
            let g = self.b.op(op, &[&x.name], vec![]);
            if adaptive {
                return self.top(l, g, 3);
            }
            let y = self.b.op("Flatten", &[&g], vec![("axis", Attr::Int(1))]);
            return self.top(l, y, 1);
        }
        if adaptive {
            return Err(refuse(l, "adaptive pooling to more than one cell"));
        }
        let Window {
            kw,
            kh,
            sw,
            sh,
            pads: [pl, pr, pt, pb],
        } = Window::read(p, (2, 12), [3, 14, 13, 15])?;
        if [pl, pr, pt, pb].iter().any(|&v| v < 0) {
            return Err(refuse(l, "a negative padding"));
        }
        let mut attrs = vec![
            ("kernel_shape", Attr::Ints(vec![kh as i64, kw as i64])),
            ("strides", Attr::Ints(vec![i64::from(sh), i64::from(sw)])),
        ];
        match p.int(5, 0) {
            // "Full" padding: a last window past the edge is kept (Caffe's rounding up).
            0 | 1 => {
                attrs.push((
                    "pads",
                    Attr::Ints([pt, pl, pb, pr].iter().map(|&v| i64::from(v)).collect()),
                ));
                attrs.push(("ceil_mode", Attr::Int(i64::from(p.int(5, 0) == 0))));
            }
            2 => attrs.push(("auto_pad", Attr::Str("SAME_UPPER"))),
            3 => attrs.push(("auto_pad", Attr::Str("SAME_LOWER"))),
            m => return Err(refuse(l, &format!("pad_mode {m}"))),
        }
        if !max {
            attrs.push(("count_include_pad", Attr::Int(i64::from(p.int(6, 0)))));
        }
        let op = if max { "MaxPool" } else { "AveragePool" };
        let y = self.b.op(op, &[&x.name], attrs);
        self.top(l, y, 3)
    }

    pub(super) fn interp(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let p = &l.params;
        let x = self.feature_map(l)?;
        if p.int(5, 0) != 0 || l.bottoms.len() > 1 {
            return Err(refuse(l, "a size taken from another blob"));
        }
        let align = p.int(6, 0) != 0;
        let (mode, transform) = match p.int(0, 0) {
            1 => ("nearest", "asymmetric"),
            2 => ("linear", if align { "align_corners" } else { "half_pixel" }),
            3 => ("cubic", if align { "align_corners" } else { "half_pixel" }),
            t => return Err(refuse(l, &format!("resize_type {t}"))),
        };
        let mut attrs = vec![
            ("mode", Attr::Str(mode)),
            ("coordinate_transformation_mode", Attr::Str(transform)),
        ];
        if mode == "nearest" {
            attrs.push(("nearest_mode", Attr::Str("floor")));
        }
        if mode == "cubic" {
            attrs.push(("cubic_coeff_a", Attr::Float(-0.75)));
        }
        let (oh, ow) = (p.int(3, 0), p.int(4, 0));
        let y = if oh > 0 && ow > 0 {
            let shape = self.b.op("Shape", &[&x.name], vec![]);
            let starts = self.b.const_i64(&[0])?;
            let ends = self.b.const_i64(&[2])?;
            let nc = self.b.op("Slice", &[&shape, &starts, &ends], vec![]);
            let hw = self.b.const_i64(&[i64::from(oh), i64::from(ow)])?;
            let sizes = self
                .b
                .op("Concat", &[&nc, &hw], vec![("axis", Attr::Int(0))]);
            self.b.op("Resize", &[&x.name, "", "", &sizes], attrs)
        } else {
            let (hs, ws) = (p.float(1, 1.0), p.float(2, 1.0));
            if !(hs > 0.0 && ws > 0.0) {
                return Err(graph(format!("scales {hs} × {ws}")));
            }
            let scales = self.b.const_f32(vec![4], &[1.0, 1.0, hs, ws])?;
            self.b.op("Resize", &[&x.name, "", &scales], attrs)
        };
        self.top(l, y, 3)
    }

    pub(super) fn padding(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let p = &l.params;
        let x = self.feature_map(l)?;
        if p.int(6, 0) != 0 {
            return Err(refuse(l, "per-channel padding values"));
        }
        let (t, b, le, r) = (p.int(0, 0), p.int(1, 0), p.int(2, 0), p.int(3, 0));
        let (front, behind) = (p.int(7, 0), p.int(8, 0));
        let mode = match p.int(4, 0) {
            0 => "constant",
            1 => "edge",
            2 => "reflect",
            m => return Err(refuse(l, &format!("type {m}"))),
        };
        let pads = self
            .b
            .const_i64(&[0, front, t, le, 0, behind, b, r].map(i64::from))?;
        let v = self.b.scalar_f32(p.float(5, 0.0))?;
        let y = self.b.op(
            "Pad",
            &[&x.name, &pads, &v],
            vec![("mode", Attr::Str(mode))],
        );
        self.top(l, y, 3)
    }
}
