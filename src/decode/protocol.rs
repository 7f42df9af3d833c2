//! What a decoder declares about itself: the application protocol it speaks (name, ports,
//! probe, parser: [`AppProtocol`]) and the fields it emits ([`FieldTable`]). Decoders import
//! this module; the lists of all protocols ([`super::registry`]) and all fields
//! ([`super::fields`]) import the decoders — so nothing imports back up.

use super::AppParser;

/// What a probe says about a flow's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// This protocol.
    Yes,
    /// Not this protocol.
    No,
    /// Cannot tell yet: wait for more bytes (the engine stops asking the others).
    NeedMore,
}

/// What a probe sees of a new flow.
#[derive(Debug, Clone, Copy)]
pub struct FlowStart<'a> {
    /// The first bytes of one direction (at most the engine's sniff window).
    pub data: &'a [u8],
    /// Client and server ports.
    pub client_port: u16,
    /// Server port.
    pub server_port: u16,
    /// No more bytes will come before a decision must be made.
    pub final_look: bool,
}

impl FlowStart<'_> {
    /// Whether either end uses one of `ports`.
    pub fn on_port(&self, ports: &[u16]) -> bool {
        ports.contains(&self.client_port) || ports.contains(&self.server_port)
    }
}

/// One application-layer protocol.
pub struct AppProtocol {
    /// Name, as in observations' `proto`.
    pub name: &'static str,
    /// Ports it is usually found on (a hint for probes and for picking the server of a flow
    /// seen mid-stream).
    pub ports: &'static [u16],
    /// Recognise a flow by its first bytes.
    pub probe: fn(&FlowStart<'_>) -> Probe,
    /// A parser for a new flow.
    pub parser: fn() -> Box<dyn AppParser>,
}

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

/// Whether `data` starts with one of the space-separated `words` followed by a space (request
/// methods: `GET `, `DESCRIBE `).
pub fn starts_with_word(data: &[u8], words: &str) -> bool {
    // The first space decides which word it would be: most data (binary, TLS, JSON) has none
    // near its start and is refused without comparing any word.
    let Some(sp) = data.iter().take(MAX_WORD + 1).position(|&b| b == b' ') else {
        return false;
    };
    let first = &data[..sp];
    !first.is_empty() && words.split(' ').any(|w| w.as_bytes() == first)
}

/// Longest word [`starts_with_word`] recognises.
const MAX_WORD: usize = 32;
