use super::*;

fn set(toml: &str) -> SignatureSet {
    SignatureSet::from_sources([(Path::new("t.toml"), toml)]).unwrap()
}

const BASE: &str = r#"
[meta]
service = "test"
"#;

fn rule(kind: &str, pat: &str, extra: &str) -> String {
    format!(
        r#"{BASE}
[[signature]]
id = "t.rule"
field = "http.path"
{kind} = {pat}
technique = "face_recognition"
strength = "strong"
description = "d"
source = "s"
positive = ["x"]
negative = ["y"]
{extra}
"#
    )
}

fn ids(s: &SignatureSet, field: &str, v: &str) -> usize {
    let (p, f) = field.split_once('.').unwrap();
    s.match_value(p, f, v).len()
}

#[test]
fn exact_prefix_suffix_contains_regex() {
    let s = set(&rule("exact", r#"["/a", "/b"]"#, ""));
    assert_eq!(ids(&s, "http.path", "/a"), 1);
    assert_eq!(ids(&s, "http.path", "/A"), 0);
    assert_eq!(ids(&s, "http.host", "/a"), 0);
    let s = set(&rule("exact", r#""/A""#, "nocase = true"));
    assert_eq!(ids(&s, "http.path", "/a"), 1);
    let s = set(&rule("prefix", r#""/face/""#, ""));
    assert_eq!(ids(&s, "http.path", "/face/identify"), 1);
    assert_eq!(ids(&s, "http.path", "/x/face/identify"), 0);
    let s = set(&rule("suffix", r#""/identify""#, ""));
    assert_eq!(ids(&s, "http.path", "/face/v1.0/identify"), 1);
    assert_eq!(ids(&s, "http.path", "/face/v1.0/identify/x"), 0);
    let s = set(&rule("contains", r#""FDLib""#, "nocase = true"));
    assert_eq!(ids(&s, "http.path", "/ISAPI/Intelligent/fdlib/x"), 1);
    let s = set(&rule("regex", r#""^/v\\d/face$""#, "excerpt = \"x\""));
    assert_eq!(ids(&s, "http.path", "/v1/face"), 1);
    assert_eq!(ids(&s, "http.path", "/v1/faces"), 0);
}

#[test]
fn domain_matches_subdomains_only_on_label_boundaries() {
    let s = set(&rule("domain", r#""faceplusplus.com""#, ""));
    assert_eq!(ids(&s, "http.path", "api-us.faceplusplus.com"), 1);
    assert_eq!(ids(&s, "http.path", "FacePlusPlus.com."), 1);
    assert_eq!(ids(&s, "http.path", "notfaceplusplus.com"), 0);
    assert_eq!(ids(&s, "http.path", "faceplusplus.com.evil.net"), 0);
}

#[test]
fn excerpts_come_from_the_rule_never_from_the_value() {
    let s =
        set(&rule("prefix", r#""double-take/matches/""#, "").replace("http.path", "mqtt.topic"));
    let h = s.hits("mqtt", "topic", "double-take/matches/person_a");
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].excerpt, "double-take/matches/…");
    let s = set(&rule(
        "regex",
        r#""^/api/faces/[^/]+/register$""#,
        "excerpt = \"face enrolment\"",
    ));
    let h = s.hits("http", "path", "/api/faces/person_a/register");
    assert_eq!(h[0].excerpt, "face enrolment");
    let s = set(&rule("exact", r#"["/a", "/b"]"#, ""));
    assert_eq!(s.hits("http", "path", "/b")[0].excerpt, "/b");
}

#[test]
fn rules_on_undeclared_fields_or_regex_without_excerpt_do_not_load() {
    let bad = rule("exact", r#""/a""#, "").replace("http.path", "http.pth");
    let err = SignatureSet::from_sources([(Path::new("t.toml"), bad.as_str())])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("http.pth") && err.contains("not emitted"),
        "{err}"
    );
    let bad = rule("regex", r#""^/a$""#, "");
    let err = SignatureSet::from_sources([(Path::new("t.toml"), bad.as_str())])
        .unwrap_err()
        .to_string();
    assert!(err.contains("excerpt"), "{err}");
    let bad = rule("exact", r#""/a""#, "").replace("face_recognition", "data_sharing");
    let err = SignatureSet::from_sources([(Path::new("t.toml"), bad.as_str())])
        .unwrap_err()
        .to_string();
    assert!(err.contains("organisation"), "{err}");
}

#[test]
fn rejects_rules_without_examples_or_with_two_patterns() {
    let bad = rule("exact", r#""/a""#, "prefix = \"/b\"");
    assert!(SignatureSet::from_sources([(Path::new("t.toml"), bad.as_str())]).is_err());
    let bad = rule("exact", r#""/a""#, "").replace("negative = [\"y\"]", "negative = []");
    let err = SignatureSet::from_sources([(Path::new("t.toml"), bad.as_str())])
        .unwrap_err()
        .to_string();
    assert!(err.contains("t.rule") && err.contains("negative"), "{err}");
    let bad = rule("regex", r#""(""#, "excerpt = \"x\"");
    let err = SignatureSet::from_sources([(Path::new("t.toml"), bad.as_str())])
        .unwrap_err()
        .to_string();
    assert!(err.contains("t.rule") && err.contains("regex"), "{err}");
}
