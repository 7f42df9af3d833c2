//! What a model's own class labels say: Ultralytics (YOLO) checkpoints, TFLite metadata and
//! other formats carry the list of classes they were trained on (`face`; `Anger, Happy, ...`;
//! `Normal, Fall`). The labels are the model's vocabulary, not anybody's data, and they are
//! read from the file's structure (a `names` dict), so they count as structure — but only for
//! detection and categorisation: no label list alone makes a model a recognition model.

use super::Classification;
use crate::model::Technique;

/// Facial-expression classes of the common emotion datasets (FER-2013, AffectNet, RAF-DB).
const EMOTIONS: &[&str] = &[
    "anger",
    "angry",
    "contempt",
    "disgust",
    "disgusted",
    "fear",
    "fearful",
    "happy",
    "happiness",
    "neutral",
    "sad",
    "sadness",
    "surprise",
    "surprised",
];
/// Demographic classes (age and gender estimation).
const DEMOGRAPHICS: &[&str] = &["male", "female", "man", "woman", "men", "women"];
/// Face classes of face detectors.
const FACES: &[&str] = &["face", "faces", "human face", "human_face", "head"];
/// Person classes of people detectors and fall/intrusion detectors.
const PEOPLE: &[&str] = &[
    "person",
    "people",
    "pedestrian",
    "human",
    "fall",
    "fallen",
    "falling",
    "normal",
    "standing",
    "sitting",
    "lying",
];
/// A few COCO classes: a list holding several is a general object detector.
const COCO: &[&str] = &[
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "dog",
    "cat",
    "bottle",
    "chair",
];

fn count(labels: &[String], words: &[&str]) -> usize {
    labels
        .iter()
        .filter(|l| words.iter().any(|w| l.trim().eq_ignore_ascii_case(w)))
        .count()
}

/// A verdict from the labels `labels` (comma-separated, as the parsers record them under the
/// `model.labels` fact) and the head kind (`Detect`, `Classify`, `Pose`, `Segment`), if any.
pub fn classify(labels: &str, head: Option<&str>) -> Option<Classification> {
    let labels: Vec<String> = labels.split(',').map(str::to_string).collect();
    let n = labels.len();
    // Only labels of the known vocabularies are shown: a model trained to tell people apart
    // has their names as its classes, and no name may reach a report.
    let known: Vec<&str> = labels
        .iter()
        .map(|l| l.trim())
        .filter(|l| {
            [EMOTIONS, DEMOGRAPHICS, FACES, PEOPLE, COCO]
                .iter()
                .any(|words| words.iter().any(|w| l.eq_ignore_ascii_case(w)))
        })
        .collect();
    let shown = known.iter().take(8).copied().collect::<Vec<_>>().join(", ");
    let others = n - known.len().min(n);
    let mut reasons = vec![match (shown.is_empty(), others) {
        (true, _) => format!("class labels ({n}), none of a known vocabulary"),
        (false, 0) => format!("class labels ({n}): {shown}"),
        (false, k) => format!("class labels ({n}): {shown} and {k} others"),
    }];
    if let Some(h) = head {
        reasons.push(format!("head: {h}"));
    }
    let verdict = |technique: Technique, confidence: f64, reasons: Vec<String>| {
        Some(Classification {
            technique,
            confidence,
            family: None,
            reasons,
        })
    };
    if head == Some("Pose") {
        reasons.push("a keypoint (pose) head".into());
        return verdict(Technique::BodyPose, 0.8, reasons);
    }
    if count(&labels, COCO) >= 3 {
        reasons.push("general object classes (COCO): an object detector, not a face model".into());
        return verdict(Technique::None, 0.7, reasons);
    }
    if count(&labels, EMOTIONS) >= 3 || count(&labels, DEMOGRAPHICS) >= 2 {
        reasons.push("facial-expression or demographic classes: face attributes".into());
        return verdict(Technique::FaceAttributes, 0.8, reasons);
    }
    if n <= 3 && count(&labels, FACES) >= 1 {
        reasons.push("a face class: a face detector".into());
        return verdict(Technique::FaceDetection, 0.8, reasons);
    }
    if n <= 6 && count(&labels, PEOPLE) >= 1 {
        reasons.push("person classes: people detection".into());
        return verdict(Technique::PersonDetection, 0.7, reasons);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_vocabulary_labels_are_shown() {
        let c = classify("face,Maria Lopez,person_0042", Some("Detect")).unwrap();
        let all = c.reasons.join(" | ");
        assert!(all.contains("class labels (3): face and 2 others"), "{all}");
        for name in ["Maria", "0042"] {
            assert!(!all.contains(name), "{all}");
        }
        let c = classify("Maria Lopez,Bob", None);
        let all = c.map(|c| c.reasons.join(" | ")).unwrap_or_default();
        assert!(!all.contains("Maria") && !all.contains("Bob"), "{all}");
    }

    #[test]
    fn labels_say_the_task_never_recognition() {
        let t = |l: &str, h: Option<&str>| classify(l, h).map(|c| c.technique);
        assert_eq!(t("face", Some("Detect")), Some(Technique::FaceDetection));
        assert_eq!(
            t(
                "Anger,Contempt,Disgust,Fear,Happy,Neutral,Sad,Surprise",
                Some("Detect")
            ),
            Some(Technique::FaceAttributes)
        );
        assert_eq!(
            t("Normal,Fall", Some("Detect")),
            Some(Technique::PersonDetection)
        );
        assert_eq!(
            t("person,bicycle,car,motorcycle,airplane,bus", Some("Detect")),
            Some(Technique::None)
        );
        assert_eq!(t("person", Some("Pose")), Some(Technique::BodyPose));
        assert_eq!(t("alice,bob,carol", Some("Classify")), None);
    }
}
