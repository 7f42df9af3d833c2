//! An OpenVINO IR's whole graph, as the converter to ONNX needs it: every layer with its
//! `<data>` attributes and its ports' dimensions, and the edges between ports. Follows the IR
//! format as OpenVINO documents it ("OpenVINO IR format", `docs/articles_en/documentation/
//! openvino-ir-format`): `<net>` holds `<layers>` of `<layer id name type version>`, each with
//! an optional `<data …/>`, `<input>` and `<output>` sections of `<port id precision>` with
//! `<dim>` children (`-1` or `?` for an open dimension), then `<edges>` of `<edge from-layer
//! from-port to-layer to-port/>`. The bodies of `TensorIterator` and `Loop` layers (nested
//! `<body>` graphs) are not read: such a layer is marked, and the converter refuses it.

use super::super::ModelError;
use quick_xml::events::{BytesStart, Event};
use std::collections::HashMap;

/// Most layers read from one IR.
pub const MAX_LAYERS: usize = 200_000;
/// Most dimensions one port may have.
const MAX_DIMS: usize = 16;

/// One port of a layer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Port {
    /// The port's id, unique within its layer.
    pub id: u64,
    /// Its dimensions, `-1` where open.
    pub dims: Vec<i64>,
}

/// One layer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layer {
    /// The layer's id, unique in the graph.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its operation (`Convolution`, `Const`, `Parameter`, …).
    pub kind: String,
    /// The operation set (`opset1`, `opset8`).
    pub version: String,
    /// The `<data>` element's attributes.
    pub data: HashMap<String, String>,
    /// Input ports, in the order written.
    pub inputs: Vec<Port>,
    /// Output ports, in the order written.
    pub outputs: Vec<Port>,
    /// The layer holds a nested `<body>` graph (TensorIterator, Loop, If), not read.
    pub has_body: bool,
}

/// One edge: an output port feeding an input port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// The producing layer's id and its output port's id.
    pub from: (u64, u64),
    /// The consuming layer's id and its input port's id.
    pub to: (u64, u64),
}

/// A whole IR graph.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    /// The layers, in the order written.
    pub layers: Vec<Layer>,
    /// The edges.
    pub edges: Vec<Edge>,
}

fn attrs(e: &BytesStart<'_>) -> HashMap<String, String> {
    e.attributes()
        .flatten()
        .map(|a| {
            (
                String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                a.unescape_value()
                    .map(|v| v.into_owned())
                    .unwrap_or_else(|_| String::from_utf8_lossy(&a.value).into_owned()),
            )
        })
        .collect()
}

fn number(map: &HashMap<String, String>, key: &str, what: &str) -> Result<u64, ModelError> {
    map.get(key)
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| ModelError::Invalid(format!("openvino: {what} without a numeric {key}")))
}

/// Where the reader is inside a layer.
#[derive(Clone, Copy, PartialEq)]
enum Section {
    None,
    Input,
    Output,
}

/// Read the graph of an IR `.xml`. Errors: not XML, no layers, more than [`MAX_LAYERS`], a
/// layer, port or edge without its numeric ids.
pub fn read(bytes: &[u8]) -> Result<Graph, ModelError> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut buf = Vec::new();
    let mut g = Graph::default();
    let mut layer: Option<Layer> = None;
    let mut section = Section::None;
    let mut port: Option<Port> = None;
    let mut in_dim = false;
    // Depth inside a nested <body>: its layers and edges are the body's, not the graph's.
    let mut body = 0usize;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| ModelError::Invalid(format!("openvino: not well-formed XML: {e}")))?;
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Eof => break,
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = e.name();
                let tag = name.as_ref();
                if body > 0 {
                    if tag == b"body" && !empty {
                        body += 1;
                    }
                } else if tag == b"body" {
                    if let Some(l) = layer.as_mut() {
                        l.has_body = true;
                    }
                    if !empty {
                        body = 1;
                    }
                } else if tag == b"layer" {
                    if g.layers.len() >= MAX_LAYERS {
                        return Err(ModelError::Invalid(format!(
                            "openvino: over {MAX_LAYERS} layers"
                        )));
                    }
                    let a = attrs(e);
                    let l = Layer {
                        id: number(&a, "id", "a layer")?,
                        name: a.get("name").cloned().unwrap_or_default(),
                        kind: a.get("type").cloned().unwrap_or_default(),
                        version: a.get("version").cloned().unwrap_or_default(),
                        ..Default::default()
                    };
                    if empty {
                        g.layers.push(l);
                    } else {
                        layer = Some(l);
                    }
                } else if let Some(l) = layer.as_mut() {
                    match tag {
                        b"data" => l.data = attrs(e),
                        b"input" => section = Section::Input,
                        b"output" => section = Section::Output,
                        b"port" if section != Section::None => {
                            let p = Port {
                                id: number(&attrs(e), "id", "a port")?,
                                dims: Vec::new(),
                            };
                            if empty {
                                push_port(l, section, p);
                            } else {
                                port = Some(p);
                            }
                        }
                        b"dim" if port.is_some() && !empty => in_dim = true,
                        _ => {}
                    }
                } else if tag == b"edge" {
                    let a = attrs(e);
                    g.edges.push(Edge {
                        from: (
                            number(&a, "from-layer", "an edge")?,
                            number(&a, "from-port", "an edge")?,
                        ),
                        to: (
                            number(&a, "to-layer", "an edge")?,
                            number(&a, "to-port", "an edge")?,
                        ),
                    });
                }
            }
            Event::Text(t) if in_dim && body == 0 => {
                if let Some(p) = port.as_mut() {
                    if p.dims.len() >= MAX_DIMS {
                        return Err(ModelError::Invalid(format!(
                            "openvino: a port of over {MAX_DIMS} dimensions"
                        )));
                    }
                    let text = String::from_utf8_lossy(&t);
                    p.dims.push(
                        text.trim()
                            .parse::<i64>()
                            .ok()
                            .filter(|&d| d >= 0)
                            .unwrap_or(-1),
                    );
                }
            }
            Event::End(ref e) => {
                let name = e.name();
                let tag = name.as_ref();
                if body > 0 {
                    if tag == b"body" {
                        body -= 1;
                    }
                    continue;
                }
                match tag {
                    b"dim" => in_dim = false,
                    b"port" => {
                        if let (Some(l), Some(p)) = (layer.as_mut(), port.take()) {
                            push_port(l, section, p);
                        }
                    }
                    b"input" | b"output" => section = Section::None,
                    b"layer" => {
                        if let Some(l) = layer.take() {
                            g.layers.push(l);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        buf.clear();
    }
    if g.layers.is_empty() {
        return Err(ModelError::Invalid("openvino: no layers".into()));
    }
    Ok(g)
}

fn push_port(l: &mut Layer, section: Section, p: Port) {
    match section {
        Section::Input => l.inputs.push(p),
        Section::Output => l.outputs.push(p),
        Section::None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IR: &str = r#"<?xml version="1.0"?>
<net name="t" version="11"><layers>
<layer id="0" name="input" type="Parameter" version="opset1"><data shape="?,3,8,8" element_type="f32"/>
<output><port id="0" precision="FP32"><dim>-1</dim><dim>3</dim><dim>8</dim><dim>8</dim></port></output></layer>
<layer id="1" name="loop" type="TensorIterator" version="opset1"><input><port id="0"/></input>
<output><port id="1"><dim>1</dim></port></output>
<body><layers><layer id="0" name="inner" type="Parameter" version="opset1"/></layers>
<edges><edge from-layer="9" from-port="9" to-layer="9" to-port="9"/></edges></body></layer>
<layer id="2" name="out" type="Result" version="opset1"><input><port id="0"><dim>1</dim></port></input></layer>
</layers><edges><edge from-layer="0" from-port="0" to-layer="1" to-port="0"/>
<edge from-layer="1" from-port="1" to-layer="2" to-port="0"/></edges></net>"#;

    /// Layers, data, ports with open dimensions and edges are read; a nested body's layers
    /// and edges are not the graph's.
    #[test]
    fn layers_ports_and_edges_are_read_and_bodies_skipped() {
        let g = read(IR.as_bytes()).unwrap();
        assert_eq!(g.layers.len(), 3);
        assert_eq!(
            g.layers[0].data.get("shape").map(String::as_str),
            Some("?,3,8,8")
        );
        assert_eq!(g.layers[0].outputs[0].dims, vec![-1, 3, 8, 8]);
        assert!(g.layers[1].has_body);
        assert_eq!(g.layers[1].outputs[0].dims, vec![1]);
        assert_eq!(g.layers[2].inputs[0].id, 0);
        assert_eq!(
            g.edges,
            vec![
                Edge {
                    from: (0, 0),
                    to: (1, 0)
                },
                Edge {
                    from: (1, 1),
                    to: (2, 0)
                }
            ]
        );
    }

    /// Malformed input is an error that says what is wrong, not a panic.
    #[test]
    fn malformed_irs_are_refused() {
        assert!(read(b"<net><layers></layers></net>").is_err());
        assert!(read(b"<net><layers><layer name=\"x\"/></layers></net>").is_err());
        assert!(read(
            b"<net><layers><layer id=\"1\"><input><port/></input></layer></layers></net>"
        )
        .is_err());
        assert!(read(&[0xff, 0xfe, 0x00]).is_err());
    }
}
