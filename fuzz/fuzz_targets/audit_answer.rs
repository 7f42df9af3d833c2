#![no_main]
//! A device's answer to an audit check is untrusted: every extract kind (JSON paths with
//! arrays and wildcards, XML element and attribute paths, Dahua key=value lines) and every
//! reduction reads it without panicking, and captures keep only bounded tokens.
use banwatch::detect::checks::extract::Extract;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn extracts() -> &'static Vec<Extract> {
    static E: OnceLock<Vec<Extract>> = OnceLock::new();
    E.get_or_init(|| {
        [
            "json = \"FDRecordDataInfo[].recordDataNumber\"\nreduce = \"sum\"",
            "json = \"*.*[].x\"",
            "json = \".\"\nreduce = \"keys\"\nignore_keys = [\"train\"]",
            "json = \"nvr.smartDetection.faceRecognition\"\nreduce = \"true\"",
            "xml = \"FDLibBaseCfgList/FDLibBaseCfg\"",
            "xml = \"SupportedRules/RuleDescription@Name\"\nequals = [\"FaceRecognition\"]",
            "xml = \"EventCap/isSupportFaceContrast\"\nreduce = \"true\"",
            "kv = \"GroupList[*].groupSize\"\nreduce = \"sum\"",
            "kv = \"a[*].b[*].c\"",
        ]
        .iter()
        .filter_map(|t| toml::from_str(t).ok())
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    for e in extracts() {
        let _ = e.number(data);
        if let Ok(t) = e.tokens(data, 16) {
            assert!(t.len() <= 16 && t.iter().all(|v| v.len() <= 64));
        }
    }
});
