//! The fields decoders emit, declared: name, meaning, and what of the observed value is kept.
//! Each protocol module owns its declarations (`FIELDS`, a [`FieldTable`]); this module gathers
//! them. Signature loading refuses a rule on an undeclared field (a misspelt field would
//! otherwise load and never fire), decoders check in debug builds that what they emit is
//! declared, and `models/signatures/README.md`'s field table is generated from here
//! ([`markdown_table`]; a test keeps it current).

pub use super::protocol::{FieldDecl, FieldTable, Keeps};

/// Every declaring module's table, in README order.
pub const ALL: &[FieldTable] = &[
    super::link::FIELDS,
    super::dns::FIELDS,
    super::tls::FIELDS,
    super::quic::FIELDS,
    super::http::FIELDS,
    super::mqtt::FIELDS,
    super::rtsp::FIELDS,
    super::sdp::FIELDS,
    super::h264::FIELDS,
    super::events::FIELDS,
];

/// Every declared field, parsed once.
pub fn all() -> &'static [FieldDecl] {
    static ALL_FIELDS: std::sync::OnceLock<Vec<FieldDecl>> = std::sync::OnceLock::new();
    ALL_FIELDS.get_or_init(|| ALL.iter().flat_map(|t| t.parse().0).collect())
}

/// The declaration of `name` (`proto.field`), if any.
pub fn lookup(name: &str) -> Option<&'static FieldDecl> {
    all().iter().find(|f| f.name == name)
}

/// Whether `proto` + `field` is declared (the check decoders make in debug builds).
pub fn is_declared(proto: &str, field: &str) -> bool {
    all().iter().any(|f| {
        f.name.len() == proto.len() + 1 + field.len()
            && f.name.starts_with(proto)
            && f.name.as_bytes()[proto.len()] == b'.'
            && f.name.ends_with(field)
    })
}

/// The field table of `models/signatures/README.md`.
pub fn markdown_table() -> String {
    let mut out = String::from("| field | keeps | meaning |\n|---|---|---|\n");
    for f in all() {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            f.name,
            f.keeps.as_str(),
            f.meaning
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_well_formed() {
        for t in ALL {
            let (ok, bad) = t.parse();
            assert!(
                bad.is_empty() && !ok.is_empty(),
                "malformed field lines: {bad:?}"
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for f in all() {
            assert!(seen.insert(f.name), "{} declared twice", f.name);
            let (proto, rest) = f.name.split_once('.').expect("proto.field");
            assert!(!proto.is_empty() && !rest.is_empty(), "{}", f.name);
            assert!(is_declared(proto, rest), "{}", f.name);
        }
        assert!(lookup("tls.sni").is_some());
        assert!(lookup("tls.snii").is_none());
        assert!(!is_declared("tls", "sn"));
        assert!(!is_declared("tl", "s.sni"));
    }
}
