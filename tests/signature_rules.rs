//! Every shipped signature fires on each of its `positive` examples and stays quiet on each of its
//! `negative` ones (the nearest values that must not match), for every field it watches.

use banwatch::detect::signatures::SignatureSet;

#[test]
fn every_rule_fires_on_positives_and_stays_quiet_on_negatives() {
    let set = SignatureSet::load_dir(&SignatureSet::default_dir()).expect("shipped rules load");
    assert!(
        set.len() >= 40,
        "expected the full starting set, got {}",
        set.len()
    );
    let mut failures = Vec::new();
    for sig in set.signatures() {
        for field in &sig.fields {
            let (proto, name) = field.split_once('.').expect("proto.field");
            for v in &sig.positive {
                if !set
                    .match_value(proto, name, v)
                    .iter()
                    .any(|s| s.id == sig.id)
                {
                    failures.push(format!(
                        "{} on {field}: positive {v:?} did not fire",
                        sig.id
                    ));
                }
            }
            for v in &sig.negative {
                if set
                    .match_value(proto, name, v)
                    .iter()
                    .any(|s| s.id == sig.id)
                {
                    failures.push(format!("{} on {field}: negative {v:?} fired", sig.id));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn detection_negatives_never_prove_recognition() {
    // The nearest negatives of recognition rules are usually detection strings; none of them may
    // fire any rule that proves an identifying technique.
    use banwatch::Technique;
    let set = SignatureSet::load_dir(&SignatureSet::default_dir()).expect("shipped rules load");
    for sig in set.signatures() {
        if sig.technique != Technique::FaceDetection {
            continue;
        }
        for field in &sig.fields {
            let (proto, name) = field.split_once('.').expect("proto.field");
            for v in &sig.positive {
                for hit in set.match_value(proto, name, v) {
                    assert!(
                        !hit.technique.is_biometric_identification(),
                        "detection example {v:?} of {} also fires {} ({})",
                        sig.id,
                        hit.id,
                        hit.technique
                    );
                }
            }
        }
    }
}

#[test]
fn every_technique_of_the_ban_has_rules() {
    use banwatch::{Strength, Technique};
    let set = SignatureSet::load_dir(&SignatureSet::default_dir()).expect("shipped rules load");
    for t in [
        Technique::FaceRecognition,
        Technique::FaceVerification,
        Technique::FaceAttributes,
        Technique::GaitRecognition,
        Technique::FaceDetection,
    ] {
        assert!(
            set.signatures().iter().any(|s| s.technique == t),
            "no rule for {t}"
        );
    }
    assert!(set
        .signatures()
        .iter()
        .any(|s| s.technique == Technique::FaceRecognition && s.strength == Strength::Strong));
}

#[test]
fn evidence_never_quotes_an_observed_value() {
    // Whatever a matching value carries besides the pattern (a person's name after a topic
    // prefix, a subject id inside a path), the excerpt is the rule's own text.
    let set = SignatureSet::load_dir(&SignatureSet::default_dir()).expect("shipped rules load");
    let planted = "Person_Zz_4711";
    let mut checked = 0;
    for sig in set.signatures() {
        for field in &sig.fields {
            let (proto, name) = field.split_once('.').expect("proto.field");
            for v in &sig.positive {
                let variants = [
                    v.clone(),
                    format!("{v}{planted}"),
                    format!("{v}/{planted}"),
                    format!("{planted}{v}"),
                    v.replacen('/', &format!("/{planted}/"), 1),
                    v.replacen('=', &format!("={planted},"), 1),
                ];
                for variant in &variants {
                    for hit in set.hits(proto, name, variant) {
                        checked += 1;
                        assert!(
                            !hit.excerpt.contains(planted) && !hit.excerpt.is_empty(),
                            "{} on {variant:?}: excerpt {:?}",
                            hit.signature.id,
                            hit.excerpt
                        );
                    }
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} hits checked");
}

#[test]
fn the_field_table_of_the_readme_is_the_declarations() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/signatures/README.md");
    let text = std::fs::read_to_string(&path).expect("README");
    let (begin, end) = ("<!-- fields:begin -->\n", "<!-- fields:end -->");
    let i = text.find(begin).expect("begin marker") + begin.len();
    let j = text.find(end).expect("end marker");
    let want = banwatch::decode::fields::markdown_table();
    if std::env::var_os("BANWATCH_BLESS").is_some() {
        std::fs::write(&path, format!("{}{want}{}", &text[..i], &text[j..])).expect("write");
        return;
    }
    assert_eq!(
        &text[i..j],
        want,
        "models/signatures/README.md's field table is stale: run BANWATCH_BLESS=1 cargo test --test signature_rules"
    );
}

/// Every declared field is emitted somewhere: its name appears as a literal in a decoder or
/// source (the emitter takes field names as `&'static str` literals, and debug builds check
/// that what is emitted is declared — this is the other direction). A declaration no decoder
/// emits would let a rule on it load, pass its examples and never fire.
#[test]
fn every_declared_field_is_emitted_by_some_decoder() {
    fn sources(dir: &std::path::Path, out: &mut String) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs")
                && !p.ends_with("fields.rs")
                && !p.ends_with("protocol.rs")
            {
                let text = std::fs::read_to_string(&p).unwrap();
                // Declarations live in `FieldTable("...")` literals: leave them out.
                let code = match text.find("FieldTable(") {
                    Some(i) => {
                        let end = text[i..].find("\",\n").map_or(text.len(), |j| i + j);
                        format!("{}{}", &text[..i], &text[end..])
                    }
                    None => text,
                };
                out.push_str(&code);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut code = String::new();
    sources(&root.join("decode"), &mut code);
    sources(&root.join("sources"), &mut code);
    let missing: Vec<&str> = banwatch::decode::fields::all()
        .iter()
        .filter(|f| {
            let field = f.name.split_once('.').map_or(f.name, |(_, rest)| rest);
            !code.contains(&format!("\"{field}\""))
        })
        .map(|f| f.name)
        .collect();
    assert!(
        missing.is_empty(),
        "declared but emitted nowhere: {missing:?}"
    );
}

/// The decoders build `json.key` only for keys the rules can match (`decode::demand`): no
/// positive example of a `json.key` rule is filtered out, and on real captures (the sample,
/// the realistic benchmark mix, the real-world cases) the rules hit exactly what they hit when
/// everything is built.
#[test]
fn the_decoders_demand_hides_no_key_a_rule_reads() {
    use banwatch::decode::demand::Demand;
    use banwatch::decode::flow::DecoderConfig;
    use banwatch::sources::offline::{read_capture_with, ReadOptions};
    use std::sync::Arc;
    let set = SignatureSet::load_dir(&SignatureSet::default_dir()).expect("shipped rules load");
    let demand = set.demand();
    assert!(
        demand.json_key.is_some(),
        "the shipped rules should narrow json.key"
    );
    let mut checked = 0;
    for s in set.signatures() {
        if s.fields.iter().any(|f| f == "json.key") {
            for p in &s.positive {
                let leaf = p.rsplit('.').next().unwrap_or(p);
                assert!(demand.json_key(leaf), "{}: {p} would not be built", s.id);
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "{checked}");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut captures = vec![
        std::fs::read(root.join("samples/housing-estate.pcap")).expect("sample"),
        banwatch::sim::realistic::write_realistic(Vec::new(), 3000)
            .expect("generated")
            .into_inner(),
    ];
    let cases = root.join("../shared/cases/realworld");
    for e in std::fs::read_dir(&cases)
        .expect("../shared/cases/realworld")
        .flatten()
    {
        if let Ok(b) = std::fs::read(e.path().join("input.pcap")) {
            captures.push(b);
        }
    }
    let hits = |data: &[u8], d: Arc<Demand>| {
        let mut out = Vec::new();
        read_capture_with(
            data,
            "t",
            DecoderConfig::default(),
            &ReadOptions {
                demand: d,
                ..ReadOptions::default()
            },
            &mut |obs| {
                for o in obs {
                    for h in set.match_observation(o) {
                        out.push((o.flow.map(|f| f.to_string()), h.signature.id.clone()));
                    }
                }
            },
            &mut |_, _| {},
        );
        out
    };
    for (i, c) in captures.iter().enumerate() {
        let all = hits(c, Arc::new(Demand::everything()));
        assert_eq!(hits(c, demand.clone()), all, "capture {i}");
        assert!(i == 1 || !all.is_empty(), "capture {i} hit nothing");
    }
}
