//! Tests of the check set: loading, validation and evaluation.

use super::*;

const GOOD: &str = r#"
[product]
id = "acme"
name = "Acme NVR"
source = "Acme API guide §2"
[[product.identify]]
request = { path = "/api/info" }
extract = { json = "model" }

[[capture]]
name = "lib"
request = { path = "/api/libraries" }
extract = { json = "libraries[].id" }
source = "Acme API guide §3"

[[check]]
id = "acme.face_library"
description = "Face libraries hold records."
request = { path = "/api/libraries/{lib}/count" }
extract = { json = "records", reduce = "sum" }
technique = "face_recognition"
strength = "strong"
excerpt = "{value} face records"
source = "Acme API guide §3"
positive = ['{"records": 3}']
negative = ['{"records": 0}']
"#;

fn load(text: &str) -> Result<CheckSet, CheckError> {
    CheckSet::from_sources([(Path::new("t.toml"), text)])
}

#[test]
fn a_well_formed_file_loads_and_its_examples_hold() {
    let set = load(GOOD).unwrap();
    let c = &set.products[0].checks[0];
    assert_eq!(c.request.placeholders(), vec!["lib".to_string()]);
    assert_eq!(c.request.fill("lib", "7").path, "/api/libraries/7/count");
    assert_eq!(c.evaluate(br#"{"records": 12}"#).unwrap(), (true, 12));
    assert_eq!(c.excerpt_for(12), "12 face records");
    assert!((c.weight - 0.9).abs() < 1e-9);
}

#[test]
fn anything_but_a_read_is_refused() {
    let soap_set = GOOD.replace(
        "request = { path = \"/api/libraries/{lib}/count\" }",
        "request = { path = \"/onvif/analytics\", soap = '<tan:CreateRules xmlns:tan=\"http://www.onvif.org/ver20/analytics/wsdl\"/>' }",
    );
    let e = load(&soap_set).unwrap_err().to_string();
    assert!(e.contains("not a read-only Get"), "{e}");
    let soap_get = GOOD.replace(
        "request = { path = \"/api/libraries/{lib}/count\" }",
        "request = { path = \"/onvif/analytics\", soap = '<tan:GetRules xmlns:tan=\"http://www.onvif.org/ver20/analytics/wsdl\"><tan:ConfigurationToken>{lib}</tan:ConfigurationToken></tan:GetRules>' }",
    );
    let set = load(&soap_get).unwrap();
    assert_eq!(
        set.products[0].checks[0].request.soap_operation(),
        Some((
            "http://www.onvif.org/ver20/analytics/wsdl".to_string(),
            "GetRules".to_string()
        ))
    );
    let elsewhere = GOOD.replace("/api/info", "http://evil.example/api/info");
    assert!(load(&elsewhere)
        .unwrap_err()
        .to_string()
        .contains("path on the device"));
    let login = GOOD.replace(
        "source = \"Acme API guide §2\"",
        "source = \"x\"\n[product.login]\npath = \"/api/login\"\nsource = \"x\"",
    );
    assert!(load(&login)
        .unwrap_err()
        .to_string()
        .contains("only with auth = \"session\""));
}

#[test]
fn examples_unknown_keys_and_excerpts_are_checked() {
    let wrong_positive = GOOD.replace(r#"'{"records": 3}'"#, r#"'{"records": 0}'"#);
    assert!(load(&wrong_positive)
        .unwrap_err()
        .to_string()
        .contains("does not fire"));
    let misspelt = GOOD.replace("at_least", "x").replace(
        "strength = \"strong\"",
        "strength = \"strong\"\natleast = 2",
    );
    assert!(load(&misspelt)
        .unwrap_err()
        .to_string()
        .contains("unknown field"));
    let leaky = GOOD.replace("{value} face records", "{name} face records");
    assert!(load(&leaky).unwrap_err().to_string().contains("fixed text"));
    let undefined = GOOD.replace("{lib}/count", "{library}/count");
    assert!(load(&undefined)
        .unwrap_err()
        .to_string()
        .contains("no capture"));
}
