use super::*;

/// A minimal back-to-front FlatBuffers builder. Object ids are distances from the end of
/// the buffer, as in the real builder; references always point forward.
#[derive(Default)]
struct Fbb {
    v: Vec<u8>,
}

enum F {
    Absent,
    U32(u32),
    U8(u8),
    Bytes3([u8; 3]),
    Ref(usize),
}

impl Fbb {
    fn prepend(&mut self, bytes: &[u8]) -> usize {
        let mut v = bytes.to_vec();
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v.extend_from_slice(&self.v);
        self.v = v;
        self.v.len()
    }
    fn string(&mut self, s: &str) -> usize {
        let mut b = (s.len() as u32).to_le_bytes().to_vec();
        b.extend_from_slice(s.as_bytes());
        b.push(0);
        self.prepend(&b)
    }
    fn vec_i64(&mut self, vals: &[i64]) -> usize {
        let mut b = (vals.len() as u32).to_le_bytes().to_vec();
        for v in vals {
            b.extend_from_slice(&v.to_le_bytes());
        }
        self.prepend(&b)
    }
    fn vec_refs(&mut self, ids: &[usize]) -> usize {
        let l = self.v.len() + 4 + 4 * ids.len();
        let mut b = (ids.len() as u32).to_le_bytes().to_vec();
        for (k, id) in ids.iter().enumerate() {
            b.extend_from_slice(&((l - 4 - 4 * k - id) as u32).to_le_bytes());
        }
        self.prepend(&b)
    }
    fn table(&mut self, fields: &[F]) -> usize {
        let vt_len = 4 + 2 * fields.len();
        let vt_pad = vt_len.div_ceil(4) * 4;
        let tbl_len = 4 + 4 * fields.len();
        let table_id = self.v.len() + tbl_len;
        let mut vt = (vt_pad as u16).to_le_bytes().to_vec();
        vt.extend_from_slice(&(tbl_len as u16).to_le_bytes());
        let mut tb = (vt_pad as i32).to_le_bytes().to_vec();
        for (k, f) in fields.iter().enumerate() {
            let off = 4 + 4 * k;
            let slot: [u8; 4] = match f {
                F::Absent => {
                    vt.extend_from_slice(&0u16.to_le_bytes());
                    [0; 4]
                }
                F::U32(x) => {
                    vt.extend_from_slice(&(off as u16).to_le_bytes());
                    x.to_le_bytes()
                }
                F::U8(x) => {
                    vt.extend_from_slice(&(off as u16).to_le_bytes());
                    [*x, 0, 0, 0]
                }
                F::Bytes3(b) => {
                    vt.extend_from_slice(&(off as u16).to_le_bytes());
                    [b[0], b[1], b[2], 0]
                }
                F::Ref(id) => {
                    vt.extend_from_slice(&(off as u16).to_le_bytes());
                    ((table_id - off - id) as u32).to_le_bytes()
                }
            };
            tb.extend_from_slice(&slot);
        }
        vt.resize(vt_pad, 0);
        vt.extend_from_slice(&tb);
        self.prepend(&vt);
        table_id
    }
    fn finish(mut self, root: usize) -> Vec<u8> {
        let l = self.v.len() + 4;
        self.prepend(&((l - root) as u32).to_le_bytes());
        self.v
    }
}

fn cvimodel() -> Vec<u8> {
    let mut b = Fbb::default();
    let shape_in = b.vec_i64(&[1, 3, 112, 112]);
    let shape_in = b.table(&[F::Ref(shape_in)]);
    let shape_out = b.vec_i64(&[1, 512]);
    let shape_out = b.table(&[F::Ref(shape_out)]);
    let n_in = b.string("data");
    let t_in = b.table(&[
        F::U32(0),
        F::Ref(n_in),
        F::Absent,
        F::U8(7),
        F::Ref(shape_in),
    ]);
    let n_out = b.string("fc1_embedding");
    let t_out = b.table(&[
        F::U32(1),
        F::Ref(n_out),
        F::Absent,
        F::U8(0),
        F::Ref(shape_out),
    ]);
    let map = b.vec_refs(&[t_in, t_out]);
    let s_in = b.string("data");
    let ins = b.vec_refs(&[s_in]);
    let s_out = b.string("fc1_embedding");
    let outs = b.vec_refs(&[s_out]);
    let prog = b.table(&[F::U32(1), F::U32(0), F::Ref(ins), F::Ref(outs), F::Ref(map)]);
    let progs = b.vec_refs(&[prog]);
    let wshape = b.vec_i64(&[64, 3, 3, 3]);
    let wshape = b.table(&[F::Ref(wshape)]);
    let wname = b.string("conv1_weight");
    let w = b.table(&[F::Ref(wname), F::Absent, F::Absent, F::Ref(wshape)]);
    let weights = b.vec_refs(&[w]);
    let name = b.string("arcface_r50");
    let model = b.table(&[
        F::Bytes3([1, 4, 0]),
        F::Ref(name),
        F::Absent,
        F::Absent,
        F::Absent,
        F::Ref(weights),
        F::Ref(progs),
    ]);
    let fb = b.finish(model);
    let mut f = CVI_MAGIC.to_vec();
    f.extend_from_slice(&(fb.len() as u32).to_le_bytes());
    f.extend_from_slice(&[1, 4]);
    f.extend_from_slice(&[0; 16]);
    f.extend_from_slice(b"cv181x\0\0\0\0\0\0\0\0\0\0");
    f.extend_from_slice(&[0; 2]);
    assert_eq!(f.len(), CVI_HEADER);
    f.extend_from_slice(&fb);
    f.extend_from_slice(&[0xAB; 32]);
    f
}

fn bmodel() -> Vec<u8> {
    let mut b = Fbb::default();
    let dims = b.vec_i64(&[1, 3, 640, 640]);
    let shape = b.table(&[F::Ref(dims)]);
    let shapes = b.vec_refs(&[shape]);
    let n = b.string("images");
    let t_in = b.table(&[
        F::Ref(n),
        F::U32(0),
        F::Absent,
        F::Absent,
        F::Absent,
        F::Ref(shapes),
    ]);
    let n = b.string("face_landmarks");
    let t_out = b.table(&[F::Ref(n), F::U32(1)]);
    let ins = b.vec_refs(&[t_in]);
    let outs = b.vec_refs(&[t_out]);
    let param = b.table(&[F::Ref(ins), F::Ref(outs)]);
    let params = b.vec_refs(&[param]);
    let net_name = b.string("retinaface");
    let net = b.table(&[F::Ref(net_name), F::Absent, F::Absent, F::Ref(params)]);
    let nets = b.vec_refs(&[net]);
    let ty = b.string("B");
    let ver = b.string("2.2");
    let time = b.string("now");
    let chip = b.string("BM1684X");
    let model = b.table(&[
        F::Ref(ty),
        F::Ref(ver),
        F::Ref(time),
        F::Ref(chip),
        F::Ref(nets),
    ]);
    let fb = b.finish(model);
    let mut f = BMODEL_MAGIC.to_le_bytes().to_vec();
    f.extend_from_slice(&(BMODEL_HEADER as u32).to_le_bytes());
    f.extend_from_slice(&(fb.len() as u32).to_le_bytes());
    f.extend_from_slice(&16u32.to_le_bytes());
    f.extend_from_slice(&[0; 48]);
    f.extend_from_slice(&fb);
    f.extend_from_slice(&[0xCD; 16]);
    f
}

fn rknn() -> Vec<u8> {
    let json = br#"{"connection":[{"left":"input","left_tensor_id":0,"node_id":0,"right_tensor":{"tensor_id":0,"type":"norm_tensor"}},{"left":"output","left_tensor_id":0,"node_id":0,"right_tensor":{"tensor_id":1,"type":"norm_tensor"}}],"name":"rknn model","network_platform":"ONNX","target_platform":["rk3588"],"nodes":[{"op":"Conv"},{"op":"Conv"}],"norm_tensor":[{"tensor_id":0,"url":"input.1","size":[1,3,112,112],"dtype":{"qnt_type":"","vx_type":"VSI_NN_TYPE_UINT8"}},{"tensor_id":1,"url":"embedding","size":[1,128],"dtype":{"qnt_type":"","vx_type":"VSI_NN_TYPE_FLOAT16"}}]}"#;
    let data = [0x11u8; 40];
    let mut f = RKNN_MAGIC.to_vec();
    f.extend_from_slice(&[0; 4]);
    f.extend_from_slice(&6u64.to_le_bytes());
    f.extend_from_slice(&(data.len() as u64).to_le_bytes());
    f.extend_from_slice(&[0; 40]);
    f.extend_from_slice(&data);
    f.extend_from_slice(&(json.len() as u64).to_le_bytes());
    f.extend_from_slice(json);
    f
}

#[test]
fn reads_rknn_model_info_json() {
    let f = rknn();
    assert!(looks_like(&f));
    let info = parse(&f).unwrap();
    assert_eq!(info.format, Some(ModelFormat::Rknn));
    assert_eq!(info.inputs.len(), 1);
    assert_eq!(info.inputs[0].name, "input.1");
    assert_eq!(
        info.inputs[0].shape,
        vec![Some(1), Some(3), Some(112), Some(112)]
    );
    assert_eq!(info.outputs[0].name, "embedding");
    assert_eq!(
        info.facts.get("rknn.target_platform").map(String::as_str),
        Some("rk3588")
    );
    assert_eq!(info.ops.get("Conv"), Some(&2));
    assert_eq!(
        info.metadata
            .get("rknn.network_platform")
            .map(String::as_str),
        Some("ONNX")
    );
}

#[test]
fn rknn_json_is_found_by_search_when_the_layout_does_not_match() {
    let mut f = rknn();
    f[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    let info = parse(&f).unwrap();
    assert_eq!(info.outputs.len(), 1);
    let info = parse(b"RKNN\0\0\0\0\x01\0\0\0\0\0\0\0 opaque bytes").unwrap();
    assert!(info.inputs.is_empty());
    assert!(info.notes.iter().any(|n| n.contains("opaque")));
    assert!(parse(b"CYPTRKNN....")
        .unwrap()
        .facts
        .contains_key("rknn.encrypted"));
}

#[test]
fn reads_cvimodel_flatbuffer() {
    let f = cvimodel();
    assert!(looks_like(&f));
    let info = parse(&f).unwrap();
    assert_eq!(info.format, Some(ModelFormat::Cvimodel));
    assert_eq!(
        info.metadata.get("cvimodel.name").map(String::as_str),
        Some("arcface_r50")
    );
    assert_eq!(
        info.facts.get("cvimodel.chip").map(String::as_str),
        Some("cv181x")
    );
    assert_eq!(
        info.facts.get("cvimodel.version").map(String::as_str),
        Some("1.4.0")
    );
    assert_eq!(info.inputs[0].name, "data");
    assert_eq!(info.inputs[0].dtype.as_deref(), Some("uint8"));
    assert_eq!(
        info.inputs[0].shape,
        vec![Some(1), Some(3), Some(112), Some(112)]
    );
    assert_eq!(info.outputs[0].name, "fc1_embedding");
    assert_eq!(info.outputs[0].shape, vec![Some(1), Some(512)]);
    assert_eq!(info.weights[0].name, "conv1_weight");
    assert_eq!(info.params, 64 * 27);
}

#[test]
fn cvimodel_falls_back_to_strings() {
    let mut f = CVI_MAGIC.to_vec();
    f.extend_from_slice(&1000u32.to_le_bytes());
    f.extend_from_slice(&[0; 36]);
    f.extend_from_slice(b"\0\0face_detect_conv1\0\x01xy\0landmark_out\0");
    let info = parse(&f).unwrap();
    assert_eq!(info.format, Some(ModelFormat::Cvimodel));
    let names: Vec<&str> = info.weights.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["face_detect_conv1", "landmark_out"]);
    assert!(info.notes.iter().any(|n| n.contains("not read")));
}

#[test]
fn reads_bmodel_flatbuffer() {
    let f = bmodel();
    assert!(looks_like(&f));
    let info = parse(&f).unwrap();
    assert_eq!(info.format, Some(ModelFormat::Bmodel));
    assert_eq!(
        info.facts.get("bmodel.chip").map(String::as_str),
        Some("BM1684X")
    );
    assert_eq!(info.inputs[0].name, "images");
    assert_eq!(info.inputs[0].dtype.as_deref(), Some("float32"));
    assert_eq!(
        info.inputs[0].shape,
        vec![Some(1), Some(3), Some(640), Some(640)]
    );
    assert_eq!(info.outputs[0].name, "face_landmarks");
    assert!(info
        .metadata
        .get("bmodel.net_names")
        .is_some_and(|n| n.starts_with("retinaface")));
}

#[test]
fn bmodel_header_with_strings_is_opaque() {
    let mut f = BMODEL_MAGIC.to_le_bytes().to_vec();
    f.extend_from_slice(&64u32.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&[0; 52]);
    f.extend_from_slice(b"BM1684X\0\0yolov8_face\0");
    let info = parse(&f).unwrap();
    assert_eq!(info.format, Some(ModelFormat::Bmodel));
    assert!(info.weights.iter().any(|w| w.name == "yolov8_face"));
}

#[test]
fn truncations_and_corruptions_never_panic() {
    for f in [rknn(), cvimodel(), bmodel()] {
        for cut in 0..f.len() {
            let _ = parse(&f[..cut]);
        }
        for i in 0..f.len() {
            for x in [0u8, 0xff, 0x7f, 0x80] {
                let mut g = f.clone();
                g[i] = x;
                let _ = parse(&g);
            }
        }
    }
    assert!(parse(b"").is_err());
    assert!(parse(b"MNN?").is_err());
    assert!(!looks_like(b"\x00\x00\x00\x00"));
}
