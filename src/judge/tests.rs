use super::*;

fn dev(s: &str) -> DeviceId {
    DeviceId(s.to_string())
}

fn add(j: &mut Judge, d: &str, sig: &str, svc: &str, t: Technique, s: Strength, w: f64) {
    j.add(Finding {
        device: dev(d),
        signature: sig.into(),
        service: svc.into(),
        technique: t,
        basis: Basis::Signature {
            strength: s,
            weight: w,
        },
        role: Role::Runs,
        peer: None,
        organisation: None,
        source: "test:x.y".into(),
        excerpt: "v".into(),
        ts: 1.0,
    });
}

#[test]
fn audit_evidence_stands_until_the_next_audit_replaces_it() {
    let mut j = Judge::default();
    add(
        &mut j,
        "cam",
        "sig.traffic",
        "svc",
        Technique::FaceRecognition,
        Strength::Strong,
        0.9,
    );
    j.add(Finding {
        device: dev("nvr"),
        signature: "check.face_library".into(),
        service: "vendor".into(),
        technique: Technique::FaceRecognition,
        basis: Basis::Audit {
            strength: Strength::Strong,
            weight: 0.9,
        },
        role: Role::Runs,
        peer: None,
        organisation: None,
        source: "audit:/x".into(),
        excerpt: "12 records".into(),
        ts: 1.0,
    });
    j.expire(1_000.0);
    let left: Vec<String> = j.verdicts().iter().map(|d| d.device.0.clone()).collect();
    assert_eq!(
        left,
        vec!["nvr".to_string()],
        "traffic ages out, the audit stands"
    );
    assert_eq!(j.standing_devices(), vec![dev("nvr")]);
    j.clear_standing(&dev("nvr"));
    assert!(j.verdicts().is_empty());
    assert!(j.standing_devices().is_empty());
}

#[test]
fn the_judge_decides_how_strong_a_model_is() {
    let mut j = Judge::default();
    let model = |d: &str, confidence: f64| Finding {
        device: dev(d),
        signature: format!("model.{d}"),
        service: "model".into(),
        technique: Technique::FaceRecognition,
        basis: Basis::Model { confidence },
        role: Role::Runs,
        peer: None,
        organisation: None,
        source: "file:m.onnx".into(),
        excerpt: "sha256 00".into(),
        ts: 0.0,
    };
    assert!(j.add(model("a", 0.85)));
    assert!(j.add(model("b", 0.5)));
    assert!(!j.add(model("c", 0.2)));
    let a = verdict(&j, "a", Technique::FaceRecognition).unwrap();
    assert_eq!(
        (a.status, a.evidence[0].strength),
        (Status::Confirmed, Strength::Strong)
    );
    let b = verdict(&j, "b", Technique::FaceRecognition).unwrap();
    assert_eq!(
        (b.status, b.evidence[0].strength),
        (Status::Suspected, Strength::Weak)
    );
    assert!(verdict(&j, "c", Technique::FaceRecognition).is_none());
}

fn verdict(j: &Judge, d: &str, t: Technique) -> Option<Verdict> {
    j.verdicts()
        .into_iter()
        .find(|v| v.device == dev(d))
        .and_then(|v| v.verdicts.into_iter().find(|x| x.technique == t))
}

const FR: Technique = Technique::FaceRecognition;
const FD: Technique = Technique::FaceDetection;
const STRONG: Strength = Strength::Strong;
const WEAK: Strength = Strength::Weak;

#[test]
fn weak_evidence_alone_never_confirms() {
    let mut j = Judge::default();
    for i in 0..10 {
        for _ in 0..101 {
            add(
                &mut j,
                "a",
                &format!("weak{i}"),
                &format!("s{i}"),
                FR,
                WEAK,
                0.35,
            );
        }
    }
    let v = verdict(&j, "a", FR).unwrap();
    assert_eq!(v.status, Status::Suspected);
    assert!(v.confidence > 0.9);
}

#[test]
fn strong_evidence_confirms_and_repeats_do_not_reach_certainty() {
    let mut j = Judge::default();
    for _ in 0..1000 {
        add(&mut j, "a", "s1", "svc", FR, STRONG, 0.9);
    }
    let v = verdict(&j, "a", FR).unwrap();
    assert_eq!(v.status, Status::Confirmed);
    assert_eq!(v.evidence[0].count, 1000);
    assert!(v.confidence < 1.0 && v.confidence > 0.9, "{}", v.confidence);
}

#[test]
fn single_weak_hit_below_threshold_is_clear() {
    let mut j = Judge::default();
    add(&mut j, "a", "s1", "svc", FR, WEAK, 0.2);
    assert_eq!(verdict(&j, "a", FR).unwrap().status, Status::Clear);
}

#[test]
fn weak_host_evidence_is_explained_by_strong_detection_of_same_service() {
    let mut j = Judge::default();
    add(&mut j, "a", "aws.host", "aws", FR, WEAK, 0.35);
    assert_eq!(verdict(&j, "a", FR).unwrap().status, Status::Suspected);
    add(&mut j, "a", "aws.detect", "aws", FD, STRONG, 0.9);
    let after = verdict(&j, "a", FR).unwrap();
    assert_eq!(after.status, Status::Clear, "{after:?}");
    // The same host evidence from another device without the detection call stays suspected.
    add(&mut j, "b", "aws.host", "aws", FR, WEAK, 0.35);
    assert_eq!(verdict(&j, "b", FR).unwrap().status, Status::Suspected);
}

#[test]
fn violations_follow_policy_and_site() {
    let mut j = Judge::default();
    add(&mut j, "a", "s1", "svc", FR, STRONG, 0.9);
    add(&mut j, "b", "s2", "svc", FD, STRONG, 0.9);
    add(&mut j, "c", "s1", "svc", FR, STRONG, 0.9);
    j.set_site(&dev("c"), "depot-7", SiteType::Other);
    let v = j.violations(&j.verdicts(), &Policy::default_ban());
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].device, dev("a"));
    assert_eq!(
        v[0].banned_at,
        vec![SiteType::Housing, SiteType::School, SiteType::Transit]
    );
}

/// Findings split over two judges, the later absorbed into the earlier, give the verdicts
/// one judge given them all in order gives: counts, first/last seen, what the first finding
/// set, MAC addresses.
#[test]
fn absorbing_a_later_judge_is_feeding_one_judge() {
    let finding = |d: &str, sig: &str, ts: f64, source: &str| Finding {
        device: dev(d),
        signature: sig.into(),
        service: "svc".into(),
        technique: Technique::FaceRecognition,
        basis: Basis::Signature {
            strength: Strength::Strong,
            weight: 0.9,
        },
        role: Role::Runs,
        peer: None,
        organisation: None,
        source: source.into(),
        excerpt: format!("from {source}"),
        ts,
    };
    let early = [
        finding("a", "s1", 5.0, "first"),
        finding("a", "s2", 7.0, "first"),
        finding("b", "s1", 3.0, "first"),
    ];
    let late = [
        finding("a", "s1", 2.0, "second"),
        finding("a", "s1", 9.0, "second"),
        finding("b", "s3", 1.0, "second"),
        finding("c", "s1", 4.0, "second"),
    ];
    let mut one = Judge::default();
    let mut first = Judge::default();
    let mut second = Judge::default();
    for f in &early {
        one.add(f.clone());
        first.add(f.clone());
    }
    for f in &late {
        one.add(f.clone());
        second.add(f.clone());
    }
    for j in [&mut one, &mut second] {
        j.set_mac(&dev("b"), [0, 1, 2, 3, 4, 5]);
        j.set_mac(&dev("c"), [6, 7, 8, 9, 10, 11]);
    }
    first.absorb(second);
    let (want, got) = (one.verdicts(), first.verdicts());
    assert_eq!(want, got);
    let a = want.iter().find(|d| d.device == dev("a")).unwrap();
    let s1 = a.verdicts[0]
        .evidence
        .iter()
        .find(|e| e.signature == "s1")
        .unwrap();
    assert_eq!((s1.count, s1.source.as_str()), (3, "first"));
    assert_eq!(s1.first_seen, rfc3339(2.0));
    assert_eq!(s1.last_seen, rfc3339(9.0));
    assert!(got.iter().all(|d| d.device == dev("a") || d.mac.is_some()));
}
