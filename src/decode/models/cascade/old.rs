//! The older `opencv-haar-classifier` layout (OpenCV 1.x–2.x): each node carries its own
//! feature, leaves are `left_val`/`right_val` and inner children `left_node`/`right_node`. Read
//! into the same [`Cascade`] as the current layout.

use super::*;

/// A child of an old-format node while it is read.
#[derive(Debug, Clone, Copy)]
enum OldChild {
    Node(i32),
    Leaf(f32),
}

/// An old-format node while it is read.
#[derive(Debug, Default)]
struct OldNode {
    rects: Vec<(i32, i32, i32, i32, f32)>,
    tilted: bool,
    threshold: f32,
    left: Option<OldChild>,
    right: Option<OldChild>,
}

/// The `opencv-haar-classifier` layout, read into the same [`Cascade`]: one feature per node.
pub(super) fn read_old(bytes: &[u8]) -> Result<Cascade, ModelError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut path: Vec<String> = Vec::new();
    let mut size: Option<(u32, u32)> = None;
    let mut stages: Vec<CascadeStage> = Vec::new();
    let mut features: Vec<CascadeFeature> = Vec::new();
    let mut tree: Vec<OldNode> = Vec::new();
    let mut items = 0usize;
    let num = |text: &str, what: &str| -> Result<f32, ModelError> {
        text.trim()
            .parse::<f32>()
            .map_err(|_| ModelError::Invalid(format!("cascade: {what} is not a number")))
    };
    loop {
        let event = next_event(&mut reader)?;
        match event {
            Event::Start(s) => {
                path.push(String::from_utf8_lossy(s.name().as_ref()).into_owned());
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                match p.as_slice() {
                    [_, _, "stages", "_"] => stages.push(CascadeStage {
                        threshold: 0.0,
                        weak: Vec::new(),
                    }),
                    [_, _, "stages", "_", "trees", "_"] => tree.clear(),
                    [_, _, "stages", "_", "trees", "_", "_"] => {
                        items += 1;
                        if items > MAX_CASCADE_ITEMS || tree.len() >= MAX_TREE_NODES {
                            return Err(ModelError::TooLarge(format!(
                                "cascade: more than {MAX_CASCADE_ITEMS} nodes, or {MAX_TREE_NODES} in one tree"
                            )));
                        }
                        tree.push(OldNode::default());
                    }
                    _ => {}
                }
            }
            Event::End(_) => {
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                if let [_, _, "stages", "_", "trees", "_"] = p.as_slice() {
                    let mut nodes = Vec::with_capacity(tree.len());
                    let mut leaves = Vec::new();
                    for n in tree.drain(..) {
                        let mut child = |c: Option<OldChild>| -> Result<i32, ModelError> {
                            match c {
                                Some(OldChild::Node(k)) if k > 0 => Ok(k),
                                Some(OldChild::Leaf(v)) => {
                                    leaves.push(v);
                                    Ok(-(leaves.len() as i32 - 1))
                                }
                                _ => Err(ModelError::Invalid(
                                    "cascade: a node without both children".into(),
                                )),
                            }
                        };
                        let (left, right) = (child(n.left)?, child(n.right)?);
                        if n.rects.is_empty() {
                            return Err(ModelError::Invalid(
                                "cascade: a node without a feature".into(),
                            ));
                        }
                        features.push(CascadeFeature::Haar {
                            rects: n.rects,
                            tilted: n.tilted,
                        });
                        nodes.push(CascadeNode {
                            left,
                            right,
                            feature: features.len() - 1,
                            threshold: n.threshold,
                            subset: None,
                        });
                    }
                    check_tree(&nodes, leaves.len())?;
                    let stage = stages.last_mut().ok_or_else(|| {
                        ModelError::Invalid("cascade: a tree outside a stage".into())
                    })?;
                    stage.weak.push((nodes, leaves));
                }
                path.pop();
            }
            Event::Text(t) => {
                let text = unescaped(&t)?;
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                let node = tree.last_mut();
                match (p.as_slice(), node) {
                    ([_, _, "size"], _) => {
                        let v: Vec<u32> = numbers(&text, "window size")?;
                        if let [w, h] = v[..] {
                            size = Some((w, h));
                        }
                    }
                    ([_, _, "stages", "_", "stage_threshold"], _) => {
                        if let Some(s) = stages.last_mut() {
                            s.threshold = num(&text, "stage threshold")?;
                        }
                    }
                    (
                        [_, _, "stages", "_", "trees", "_", "_", "feature", "rects", "_"],
                        Some(n),
                    ) => push_haar_rect(&text, &mut n.rects)?,
                    ([_, _, "stages", "_", "trees", "_", "_", "feature", "tilted"], Some(n)) => {
                        n.tilted = text.trim() == "1";
                    }
                    ([_, _, "stages", "_", "trees", "_", "_", field], Some(n)) => match *field {
                        "threshold" => n.threshold = num(&text, "node threshold")?,
                        "left_val" => n.left = Some(OldChild::Leaf(num(&text, "leaf")?)),
                        "right_val" => n.right = Some(OldChild::Leaf(num(&text, "leaf")?)),
                        "left_node" | "right_node" => {
                            let k = text.trim().parse::<i32>().map_err(|_| {
                                ModelError::Invalid(
                                    "cascade: a child index is not an integer".into(),
                                )
                            })?;
                            if *field == "left_node" {
                                n.left = Some(OldChild::Node(k));
                            } else {
                                n.right = Some(OldChild::Node(k));
                            }
                        }
                        _ => {}
                    },
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    finish(FeatureKind::Haar, size, stages, features)
}
