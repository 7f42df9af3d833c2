//! The cascade reader on hand-written cascades: both layouts, and what it refuses.

use super::*;

fn cascade(kind: &str, nodes: &str, leaves: &str, features: &str) -> String {
    format!(
        "<opencv_storage><cascade type_id=\"opencv-cascade-classifier\"><featureType>{kind}</featureType><height>10</height><width>10</width><stages><_><stageThreshold>0.5</stageThreshold><weakClassifiers><_><internalNodes>{nodes}</internalNodes><leafValues>{leaves}</leafValues></_></weakClassifiers></_></stages><features>{features}</features></cascade></opencv_storage>"
    )
}
const HAAR_FEATURE: &str =
    "<_><rects><_>0 0 4 4 -1.</_><_>0 0 2 4 2.</_></rects><tilted>0</tilted></_>";

#[test]
fn a_cascade_is_read_whole() {
    let c = read(
        cascade(
            "HAAR",
            "1 2 0 0.1 0 -1 0 0.2 -2 -3 0 0.3",
            "1 2 3 4",
            HAAR_FEATURE,
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!((c.kind, c.width, c.height), (FeatureKind::Haar, 10, 10));
    assert_eq!(c.stages.len(), 1);
    assert_eq!(c.stages[0].weak[0].0.len(), 3);
    assert_eq!(c.stages[0].weak[0].1, vec![1.0, 2.0, 3.0, 4.0]);
    let lbp = read(
        cascade(
            "LBP",
            "0 -1 0 -1 0 0 0 0 0 0 1",
            "-1 1",
            "<_><rect>1 1 3 3</rect></_>",
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        lbp.stages[0].weak[0].0[0].subset,
        Some([u32::MAX, 0, 0, 0, 0, 0, 0, 1])
    );
}

#[test]
fn the_old_layout_is_read_into_the_same_cascade() {
    let old = "<opencv_storage><c type_id=\"opencv-haar-classifier\"><size>10 10</size><stages><_><trees><_><_><feature><rects><_>0 0 4 4 -1.</_><_>0 0 2 4 2.</_></rects><tilted>0</tilted></feature><threshold>0.1</threshold><left_node>1</left_node><right_val>0.5</right_val></_><_><feature><rects><_>3 1 2 2 -1.</_></rects><tilted>1</tilted></feature><threshold>0.2</threshold><left_val>-1</left_val><right_val>1</right_val></_></_></trees><stage_threshold>0.3</stage_threshold><parent>-1</parent><next>-1</next></_></stages></c></opencv_storage>";
    let c = read(old.as_bytes()).unwrap();
    assert_eq!((c.width, c.height, c.features.len()), (10, 10, 2));
    let (nodes, leaves) = &c.stages[0].weak[0];
    assert_eq!((nodes[0].left, nodes[0].right), (1, 0));
    assert_eq!((nodes[1].left, nodes[1].right), (-1, -2));
    assert_eq!(leaves, &vec![0.5, -1.0, 1.0]);
    assert_eq!(c.stages[0].threshold, 0.3);
    // A node missing a child is refused.
    let broken = old.replace("<right_val>0.5</right_val>", "");
    assert!(read(broken.as_bytes())
        .unwrap_err()
        .to_string()
        .contains("both children"));
}

#[test]
fn malformed_cascades_are_refused_with_the_reason() {
    let err = |xml: String| read(xml.as_bytes()).unwrap_err().to_string();
    // A child pointing backwards would loop forever.
    assert!(err(cascade(
        "HAAR",
        "1 -1 0 0.1 1 -1 0 0.2",
        "1 2",
        HAAR_FEATURE
    ))
    .contains("backwards"));
    assert!(err(cascade("HAAR", "0 -1 0 0.1", "1", HAAR_FEATURE)).contains("leaves"));
    // A feature outside the window would read outside the integral image.
    let outside = "<_><rects><_>8 8 4 4 -1.</_></rects><tilted>0</tilted></_>";
    assert!(err(cascade("HAAR", "0 -1 0 0.1", "1 2", outside)).contains("outside"));
    let tilted = "<_><rects><_>1 0 4 4 -1.</_></rects><tilted>1</tilted></_>";
    assert!(err(cascade("HAAR", "0 -1 0 0.1", "1 2", tilted)).contains("outside"));
    assert!(err(cascade("HAAR", "0 -1 7 0.1", "1 2", HAAR_FEATURE)).contains("feature 7"));
    assert!(err(cascade("HOG", "0 -1 0 0.1", "1 2", HAAR_FEATURE)).contains("HOG"));
    assert!(err(
        "<opencv_storage><haarcascade_eye type_id=\"opencv-haar-classifier\"><size>20 20</size></haarcascade_eye></opencv_storage>".into()
    )
    .contains("no stages"));
    let many =
        "<_><rects><_>0 0 1 1 1.</_></rects><tilted>0</tilted></_>".repeat(MAX_CASCADE_ITEMS + 1);
    assert!(err(cascade("HAAR", "0 -1 0 0.1", "1 2", &many)).contains("too large"));
}

#[test]
fn fuzz_found_comment_edge_does_not_panic() {
    // `<!-->`: the comment's end overlaps its start (found by the cascade fuzz target).
    let _ = parse(b"<opencv_storage><!-->x<stages></stages>");
    let _ = parse(b"<opencv_storage><!--");
}
