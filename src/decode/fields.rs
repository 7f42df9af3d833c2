//! The fields decoders emit, declared: name, meaning, and what of the observed value is kept.
//! Each protocol module owns its declarations (`FIELDS`); this module gathers them. Signature
//! loading refuses a rule on an undeclared field (a misspelt field would otherwise load and
//! never fire), and `models/signatures/README.md`'s field table is generated from here
//! ([`markdown_table`]; a test keeps it current).

/// What of an observed value a field keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keeps {
    /// The value as sent, cut at [`super::MAX_VALUE_LEN`] bytes and made printable: host
    /// names, URIs, paths, media types.
    Value,
    /// A value from the sender's fixed vocabulary (event types, verify modes, topics, classes).
    Enumeration,
    /// Names of keys, elements or form fields — never their values.
    Name,
    /// Only that the thing is there (`present`), or an authentication scheme: secrets,
    /// people's names and ids.
    Presence,
    /// A fingerprint computed from the message (JA3, JA4), or a UUID naming a format.
    Digest,
}

impl Keeps {
    /// How the README names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Keeps::Value => "value",
            Keeps::Enumeration => "enumeration",
            Keeps::Name => "names only",
            Keeps::Presence => "presence only",
            Keeps::Digest => "digest",
        }
    }
}

/// One declared field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDecl {
    /// `proto.field`, as rules name it (`tls.sni`).
    pub name: &'static str,
    /// What it holds and where it comes from.
    pub meaning: &'static str,
    /// What of the value is kept.
    pub keeps: Keeps,
}

/// Shorthand for declaring fields in a protocol module.
pub const fn field(name: &'static str, keeps: Keeps, meaning: &'static str) -> FieldDecl {
    FieldDecl {
        name,
        meaning,
        keeps,
    }
}

/// Every declaring module's table, in README order.
pub const ALL: &[&[FieldDecl]] = &[
    super::link::FIELDS,
    super::dns::FIELDS,
    super::tls::FIELDS,
    super::http::FIELDS,
    super::mqtt::FIELDS,
    super::rtsp::FIELDS,
    super::sdp::FIELDS,
    super::h264::FIELDS,
    super::events::FIELDS,
];

/// The declaration of `name` (`proto.field`), if any.
pub fn lookup(name: &str) -> Option<&'static FieldDecl> {
    ALL.iter().flat_map(|t| t.iter()).find(|f| f.name == name)
}

/// Whether `proto` + `field` is declared (the check decoders make in debug builds).
pub fn is_declared(proto: &str, field: &str) -> bool {
    ALL.iter().flat_map(|t| t.iter()).any(|f| {
        f.name.len() == proto.len() + 1 + field.len()
            && f.name.starts_with(proto)
            && f.name.as_bytes()[proto.len()] == b'.'
            && f.name.ends_with(field)
    })
}

/// The field table of `models/signatures/README.md`.
pub fn markdown_table() -> String {
    let mut out = String::from("| field | keeps | meaning |\n|---|---|---|\n");
    for f in ALL.iter().flat_map(|t| t.iter()) {
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
        let mut seen = std::collections::BTreeSet::new();
        for f in ALL.iter().flat_map(|t| t.iter()) {
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
