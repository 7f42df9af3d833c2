//! The fields decoders emit, declared: name, meaning, and what of the observed value is kept.
//! Each protocol module owns its declarations (`FIELDS`, a [`FieldTable`]); this module gathers
//! them. Signature loading refuses a rule on an undeclared field (a misspelt field would
//! otherwise load and never fire), decoders check in debug builds that what they emit is
//! declared, and `models/signatures/README.md`'s field table is generated from here
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

/// A protocol's declarations as a table, one field a line: `name  keeps  meaning`, columns
/// separated by two or more spaces; `keeps` is `value`, `enumeration`, `name`, `presence` or
/// `digest` ([`Keeps`]). A line that does not read so is a mistake the tests report.
#[derive(Debug, Clone, Copy)]
pub struct FieldTable(pub &'static str);

impl FieldTable {
    /// The declarations, and the lines that do not read as one.
    pub fn parse(&self) -> (Vec<FieldDecl>, Vec<&'static str>) {
        let (mut ok, mut bad) = (Vec::new(), Vec::new());
        for line in self.0.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (name, rest) = line.split_once("  ").unwrap_or((line, ""));
            let (keeps, meaning) = rest.trim_start().split_once("  ").unwrap_or((rest, ""));
            let keeps = match keeps.trim() {
                "value" => Keeps::Value,
                "enumeration" => Keeps::Enumeration,
                "name" => Keeps::Name,
                "presence" => Keeps::Presence,
                "digest" => Keeps::Digest,
                _ => {
                    bad.push(line);
                    continue;
                }
            };
            let (name, meaning) = (name.trim(), meaning.trim());
            if name.split_once('.').is_none() || meaning.is_empty() {
                bad.push(line);
                continue;
            }
            ok.push(FieldDecl {
                name,
                meaning,
                keeps,
            });
        }
        (ok, bad)
    }
}

/// Every declaring module's table, in README order.
pub const ALL: &[FieldTable] = &[
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
