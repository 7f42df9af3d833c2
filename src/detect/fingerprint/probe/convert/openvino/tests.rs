//! The converter on hand-written IRs: order, post-processing, hostile graphs.
use super::*;

fn ir(layers: &str, edges: &str) -> String {
    format!(r#"<net name="t" version="11"><layers>{layers}</layers><edges>{edges}</edges></net>"#)
}

const PARAM: &str = r#"<layer id="0" name="x" type="Parameter" version="opset1"><data shape="1,3,8,8" element_type="f32"/><output><port id="0"><dim>1</dim><dim>3</dim><dim>8</dim><dim>8</dim></port></output></layer>"#;
const RELU: &str = r#"<layer id="1" name="r" type="ReLU" version="opset1"><input><port id="0"/></input><output><port id="1"/></output></layer>"#;
const RESULT: &str = r#"<layer id="2" name="y" type="Result" version="opset1"><input><port id="0"/></input></layer>"#;

/// Layers written out of order are emitted along the edges.
#[test]
fn layers_are_converted_in_the_graphs_order_not_the_files() {
    let xml = ir(
        &format!("{RESULT}{RELU}{PARAM}"),
        r#"<edge from-layer="0" from-port="0" to-layer="1" to-port="0"/><edge from-layer="1" from-port="1" to-layer="2" to-port="0"/>"#,
    );
    let (_, note) = convert(xml.as_bytes(), &|_| Some(Vec::new())).unwrap();
    assert!(note.contains("3 layers"), "{note}");
}

/// A cycle, an edge to a missing layer and a constant outside the weights file are refused
/// with the reason.
/// An SSD's DetectionOutput at the end is post-processing: left out, and the probe reads
/// what it read. The same operation first in the graph ends the conversion, named.
#[test]
fn post_processing_at_the_end_is_left_out() {
    const DETECT: &str = r#"<layer id="3" name="d" type="DetectionOutput" version="opset8"><input><port id="0"/></input><output><port id="1"/></output></layer>"#;
    let result = RESULT.replace(r#"id="2""#, r#"id="4""#);
    let xml = ir(
        &format!("{PARAM}{RELU}{DETECT}{result}"),
        r#"<edge from-layer="0" from-port="0" to-layer="1" to-port="0"/><edge from-layer="1" from-port="1" to-layer="3" to-port="0"/><edge from-layer="3" from-port="1" to-layer="4" to-port="0"/>"#,
    );
    let (onnx, note) = convert(xml.as_bytes(), &|_| Some(Vec::new())).unwrap();
    assert!(
        note.contains("1 operator from DetectionOutput on left out"),
        "{note}"
    );
    let m = crate::decode::models::onnx::parse(&onnx).unwrap();
    assert_eq!(m.outputs.len(), 1);
    // First in the graph: all of it would go.
    let xml = ir(
        &format!(
            "{PARAM}{}{RELU}{result}",
            DETECT.replace(r#"id="3""#, r#"id="5""#)
        ),
        r#"<edge from-layer="0" from-port="0" to-layer="5" to-port="0"/><edge from-layer="5" from-port="1" to-layer="1" to-port="0"/><edge from-layer="1" from-port="1" to-layer="4" to-port="0"/>"#,
    );
    let e = convert(xml.as_bytes(), &|_| Some(Vec::new())).unwrap_err();
    assert!(e.to_string().contains("DetectionOutput"), "{e}");
}

#[test]
fn hostile_graphs_are_refused_with_the_reason() {
    let err = |xml: String| {
        convert(xml.as_bytes(), &|_| Some(vec![0; 8]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let cycle = ir(
        &format!("{PARAM}{RELU}{RESULT}"),
        r#"<edge from-layer="1" from-port="1" to-layer="1" to-port="0"/>"#,
    );
    assert!(err(cycle).contains("cycle"));
    let dangling = ir(
        &format!("{PARAM}{RELU}"),
        r#"<edge from-layer="7" from-port="0" to-layer="1" to-port="0"/>"#,
    );
    assert!(err(dangling).contains("not there"));
    let outside = ir(
        r#"<layer id="0" name="c" type="Const" version="opset1"><data element_type="f32" shape="4" offset="4" size="16"/><output><port id="0"><dim>4</dim></port></output></layer>"#,
        "",
    );
    assert!(err(outside).contains("outside the 8-byte weights file"));
    let huge = ir(
        r#"<layer id="0" name="c" type="Const" version="opset1"><data element_type="f32" shape="4294967296,4294967296,16" offset="0" size="16"/><output><port id="0"/></output></layer>"#,
        "",
    );
    assert!(err(huge).contains("a constant of shape"));
}
