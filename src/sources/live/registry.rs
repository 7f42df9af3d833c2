//! The live sources banwatch knows, by the `kind` a `[[feed]]` names. The service builds
//! feeds from configuration through [`build`]; nothing else switches on the kind of a source.
//! What a source is lives in [`super::source`] (re-exported here).

pub use super::source::*;
use std::sync::Arc;

/// Every live source, one line each.
pub const REGISTRY: &[SourceKind] = &[
    super::rtsp::KIND,
    super::hikvision::KIND,
    super::dahua::KIND,
    super::onvif_events::KIND,
    super::mqtt::KIND,
    super::zeek::KIND,
    super::eve::KIND,
    super::capture::KIND,
];

/// The registry entry for `kind`.
pub fn kind(name: &str) -> Option<&'static SourceKind> {
    REGISTRY.iter().find(|k| k.name == name)
}

/// Build the source a feed's `kind` and settings describe. Errors say what is wrong (unknown
/// kind, unknown or misspelt key, bad value) in a sentence the config loader prefixes with
/// file and line.
pub fn build(kind_name: &str, settings: toml::Table) -> Result<Arc<dyn LiveSource>, String> {
    match kind(kind_name) {
        Some(k) => (k.build)(settings),
        None => Err(format!(
            "unknown feed kind {kind_name:?} (known: {})",
            REGISTRY
                .iter()
                .map(|k| k.name)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_once_and_builds_from_its_settings() {
        let mut names: Vec<_> = REGISTRY.iter().map(|k| k.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), REGISTRY.len());
        let t: toml::Table = toml::from_str("url = \"rtsp://127.0.0.1:8554/cam1\"").unwrap();
        assert_eq!(build("rtsp", t).unwrap().kind(), "rtsp");
        let e = build("telnet", toml::Table::new()).unwrap_err();
        assert!(e.contains("unknown feed kind") && e.contains("rtsp"), "{e}");
    }

    #[test]
    fn a_misspelt_key_is_refused() {
        let t: toml::Table =
            toml::from_str("url = \"http://10.0.0.5/\"\nusername = \"a\"\npasword = \"x\"")
                .unwrap();
        let e = build("hikvision", t).unwrap_err();
        assert!(e.contains("pasword"), "{e}");
    }
}
