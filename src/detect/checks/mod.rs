//! Audit checks: read-only questions to a device about what it is configured to do, as data
//! (`models/checks/*.toml`, one file per product, reviewed like the signatures). A check names
//! the request, where in the answer to look ([`extract::Extract`]), when the answer is evidence,
//! the technique it proves, how strongly, and its public source. Answers reduce to numbers (how
//! many face libraries, how many records, whether a switch is on): nothing a device says about a
//! person is kept.
//!
//! **Read-only by construction.** A request is a `GET` of a path on the device, or an ONVIF SOAP
//! call whose operation is a `Get…` query; a product's declared `login` (a session, as UniFi OS
//! needs) is the one other request. Loading refuses anything else, so no check file can make
//! banwatch change a device. The runner that sends the requests is
//! [`crate::sources::audit`].
//!
//! File layout (every table refuses unknown keys):
//! ```toml
//! [product]
//! id = "hikvision"                 # evidence `service`, inventory `product`
//! name = "Hikvision ISAPI camera or NVR"
//! auth = "http"                    # http (Digest/Basic after a 401) | ws_security | session
//! source = "where the identification is documented"
//! [[product.identify]]             # any one that fires identifies the product
//! request = { path = "/ISAPI/System/deviceInfo" }
//! extract = { xml = "DeviceInfo" }
//!
//! [[capture]]                      # values later requests name as {fdid}
//! name = "fdid"
//! request = { path = "/ISAPI/Intelligent/FDLib?format=json" }
//! extract = { json = "FDLib[].FDID" }
//! source = "…"
//!
//! [[check]]
//! id = "hikvision.audit.face_library"
//! request = { path = "/ISAPI/Intelligent/FDLib/Count?format=json" }
//! extract = { json = "FDRecordDataInfo[].recordDataNumber", reduce = "sum" }
//! at_least = 1                     # fires when the number is at least this
//! technique = "face_recognition"
//! strength = "strong"
//! excerpt = "{value} face records in face libraries"
//! description = "…"
//! source = "…"
//! positive = ['{"FDRecordDataInfo":[{"recordDataNumber":12}]}']
//! negative = ['{"FDRecordDataInfo":[]}']
//! ```

pub mod extract;

use crate::detect::signatures::default_weight;
use crate::model::{Strength, Technique};
use extract::Extract;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// How a product authenticates a read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// HTTP Digest (RFC 7616) after a 401, or Basic over HTTPS or with the device's opt-in.
    #[default]
    Http,
    /// ONVIF: a WS-Security UsernameToken (password digest) in every SOAP request's header
    /// (ONVIF Core Specification §5.12), and HTTP Digest after a 401.
    WsSecurity,
    /// A session opened by the product's `login` request; its cookies (and CSRF token) go with
    /// every request.
    Session,
}

/// A request a check sends: always read-only (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Path and query on the device, `/`-rooted; `{name}` is replaced by a captured value
    /// (a path may be just `{name}` of a capture with `url_path`, such as an ONVIF service).
    pub path: String,
    /// An ONVIF SOAP body: one element whose local name starts with `Get`, with its namespace
    /// declared on it. The request is then a `POST` of that body in a SOAP 1.2 envelope.
    pub soap: Option<String>,
    /// Largest answer read, bytes (default [`DEFAULT_MAX_BYTES`]).
    pub max_bytes: Option<usize>,
}

/// Largest answer read when a request does not say.
pub const DEFAULT_MAX_BYTES: usize = 1 << 20;
/// Largest bound a request may declare.
pub const LIMIT_MAX_BYTES: usize = 64 << 20;

impl Request {
    /// `(namespace, operation)` of a SOAP request: the SOAP action is `namespace/operation`.
    pub fn soap_operation(&self) -> Option<(String, String)> {
        self.soap.as_deref().and_then(|b| soap_operation(b).ok())
    }

    /// The bound on the answer.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes.unwrap_or(DEFAULT_MAX_BYTES)
    }

    /// Capture names the request uses.
    pub fn placeholders(&self) -> Vec<String> {
        let mut out = Vec::new();
        for text in [Some(self.path.as_str()), self.soap.as_deref()]
            .into_iter()
            .flatten()
        {
            let mut rest = text;
            while let Some(i) = rest.find('{') {
                let Some(j) = rest[i..].find('}') else { break };
                let name = rest[i + 1..i + j].to_string();
                if !out.contains(&name) {
                    out.push(name);
                }
                rest = &rest[i + j + 1..];
            }
        }
        out
    }

    /// The path and SOAP body with `{name}` replaced by `value`.
    pub fn fill(&self, name: &str, value: &str) -> Request {
        let key = format!("{{{name}}}");
        Request {
            path: self.path.replace(&key, value),
            soap: self.soap.as_ref().map(|s| s.replace(&key, value)),
            max_bytes: self.max_bytes,
        }
    }

    /// Whether a path (after filling) stays on the device: `/`-rooted, not `//`, no scheme, no
    /// spaces or controls.
    pub fn is_device_path(path: &str) -> bool {
        path.starts_with('/')
            && !path.starts_with("//")
            && !path.contains("://")
            && !path.chars().any(|c| c.is_whitespace() || c.is_control())
    }

    fn validate(&self) -> Result<(), String> {
        // A path may also be one captured service path (`{analytics}`), checked once filled.
        let whole_placeholder = self.path.starts_with('{')
            && self.path.ends_with('}')
            && self.path[1..self.path.len() - 1]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !whole_placeholder
            && (!self.path.starts_with('/')
                || self.path.starts_with("//")
                || self.path.contains("://")
                || self
                    .path
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(format!(
                "request path {:?} must be a path on the device (starting with one `/`, no spaces)",
                self.path
            ));
        }
        if let Some(b) = &self.soap {
            soap_operation(b)?;
        }
        if self
            .max_bytes
            .is_some_and(|m| m == 0 || m > LIMIT_MAX_BYTES)
        {
            return Err(format!("max_bytes must be in 1..={LIMIT_MAX_BYTES}"));
        }
        Ok(())
    }
}

/// The namespace and operation of a SOAP body, refusing any operation that is not a `Get…`
/// query (ONVIF names every read-only operation `Get…`).
fn soap_operation(body: &str) -> Result<(String, String), String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(body);
    loop {
        match reader.read_event() {
            Ok(Event::Start(s)) | Ok(Event::Empty(s)) => {
                let name = String::from_utf8_lossy(s.name().as_ref()).into_owned();
                let (prefix, op) = match name.split_once(':') {
                    Some((p, o)) => (Some(p.to_string()), o.to_string()),
                    None => (None, name.clone()),
                };
                if !op.starts_with("Get") {
                    return Err(format!(
                        "SOAP operation {op:?} is not a read-only Get… query: refused"
                    ));
                }
                let want = match &prefix {
                    Some(p) => format!("xmlns:{p}"),
                    None => "xmlns".to_string(),
                };
                let ns = s
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == want.as_bytes())
                    .map(|a| String::from_utf8_lossy(&a.value).into_owned())
                    .ok_or_else(|| {
                        format!("SOAP operation {op:?} must declare its namespace ({want}=…)")
                    })?;
                return Ok((ns, op));
            }
            Ok(Event::Eof) => return Err("SOAP body has no element".into()),
            Err(e) => return Err(format!("SOAP body is not XML: {e}")),
            _ => {}
        }
    }
}

/// Something a product answers that identifies it (`[[product.identify]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identify {
    /// The request.
    pub request: Request,
    /// What must be in the answer.
    pub extract: Extract,
    /// Smallest number that identifies (default 1).
    #[serde(default = "one")]
    pub at_least: u64,
}

fn one() -> u64 {
    1
}

/// A product's session login (`[product.login]`): `POST path` with a JSON body of the user
/// name and password; the answer's cookies and `X-CSRF-Token` go with every later request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The login path.
    pub path: String,
    /// Where the login is documented.
    pub source: String,
}

/// The product a check file is about (`[product]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Stable id: the evidence's service, an inventory's `product`.
    pub id: String,
    /// Human name.
    pub name: String,
    /// How reads authenticate.
    #[serde(default)]
    pub auth: Auth,
    /// The session login, for `auth = "session"`.
    pub login: Option<Login>,
    /// Requests that identify the product; the first that fires wins.
    pub identify: Vec<Identify>,
    /// Where the identification is documented.
    pub source: String,
}

/// A value read from one answer that later requests name (`[[capture]]`): configuration tokens,
/// library ids, service addresses. Values are short tokens of a fixed alphabet, used only in
/// requests, never reported.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    /// The placeholder name (`{name}` in requests).
    pub name: String,
    /// The request.
    pub request: Request,
    /// Where the values are.
    pub extract: Extract,
    /// The values are URLs (an ONVIF service address): keep only their path.
    #[serde(default)]
    pub url_path: bool,
    /// Where the request and answer are documented.
    pub source: String,
}

/// Most values one capture keeps (a device with more libraries is asked about the first ones,
/// and the audit says so).
pub const MAX_CAPTURED: usize = 16;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckDef {
    id: String,
    description: String,
    request: Request,
    extract: Extract,
    #[serde(default = "one")]
    at_least: u64,
    technique: Technique,
    strength: Strength,
    weight: Option<f64>,
    excerpt: String,
    source: String,
    positive: Vec<String>,
    negative: Vec<String>,
}

/// One compiled check.
#[derive(Debug, Clone)]
pub struct Check {
    /// Unique, stable id (evidence `signature`).
    pub id: String,
    /// What it means.
    pub description: String,
    /// The read-only request.
    pub request: Request,
    /// What is read from the answer.
    pub extract: Extract,
    /// Fires when the number read is at least this.
    pub at_least: u64,
    /// What a firing proves.
    pub technique: Technique,
    /// How strongly.
    pub strength: Strength,
    /// Weight in [0, 1] (default by strength, as signatures).
    pub weight: f64,
    /// Evidence text; `{value}` becomes the number read (the only part from the device).
    pub excerpt: String,
    /// Where the request and answer are documented.
    pub source: String,
    /// Answers it must fire on.
    pub positive: Vec<String>,
    /// Answers it must stay quiet on.
    pub negative: Vec<String>,
}

impl Check {
    /// Whether an answer's number is evidence.
    pub fn fires(&self, value: u64) -> bool {
        value >= self.at_least
    }

    /// Read `body` and say whether it fires, with the number read.
    pub fn evaluate(&self, body: &[u8]) -> Result<(bool, u64), extract::ExtractError> {
        let v = self.extract.number(body)?;
        Ok((self.fires(v), v))
    }

    /// The evidence text for the number read.
    pub fn excerpt_for(&self, value: u64) -> String {
        self.excerpt.replace("{value}", &value.to_string())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckFile {
    product: Product,
    #[serde(default)]
    capture: Vec<Capture>,
    #[serde(default)]
    check: Vec<CheckDef>,
}

/// A product with its captures and checks, from one file.
#[derive(Debug, Clone)]
pub struct ProductChecks {
    /// The product.
    pub product: Product,
    /// Values later requests name.
    pub captures: Vec<Capture>,
    /// The checks.
    pub checks: Vec<Check>,
    /// The file it came from.
    pub file: PathBuf,
}

/// Why the checks could not be loaded. Names the file and the check.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file is not valid TOML of the expected shape.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A product, capture or check is invalid.
    #[error("{path}: {id}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The product, capture or check id.
        id: String,
        /// What is wrong.
        message: String,
    },
}

/// Every product's checks.
#[derive(Debug, Clone, Default)]
pub struct CheckSet {
    /// By product, in file order.
    pub products: Vec<ProductChecks>,
}

fn validate_excerpt(e: &str) -> Result<(), String> {
    let rest = e.replace("{value}", "");
    if e.trim().is_empty() || rest.contains('{') || rest.contains('}') {
        return Err(format!(
            "excerpt {e:?} must be fixed text, with at most the placeholder {{value}}"
        ));
    }
    Ok(())
}

fn compile(path: &Path, file: CheckFile) -> Result<ProductChecks, CheckError> {
    let invalid = |id: &str, message: String| CheckError::Invalid {
        path: path.to_path_buf(),
        id: id.to_string(),
        message,
    };
    let p = &file.product;
    if p.id.is_empty() || !p.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(invalid(&p.id, "product id must be [A-Za-z0-9_]+".into()));
    }
    if p.source.trim().is_empty() {
        return Err(invalid(&p.id, "`source` is required".into()));
    }
    if p.identify.is_empty() {
        return Err(invalid(
            &p.id,
            "needs at least one [[product.identify]]".into(),
        ));
    }
    match (p.auth, &p.login) {
        (Auth::Session, None) => {
            return Err(invalid(
                &p.id,
                "auth = \"session\" needs [product.login]".into(),
            ))
        }
        (Auth::Session, Some(l)) => {
            let r = Request {
                path: l.path.clone(),
                soap: None,
                max_bytes: None,
            };
            r.validate().map_err(|m| invalid(&p.id, m))?;
        }
        (_, Some(_)) => {
            return Err(invalid(
                &p.id,
                "[product.login] belongs only with auth = \"session\"".into(),
            ))
        }
        _ => {}
    }
    for i in &p.identify {
        i.request.validate().map_err(|m| invalid(&p.id, m))?;
        i.extract.validate().map_err(|m| invalid(&p.id, m))?;
        if !i.request.placeholders().is_empty() {
            return Err(invalid(
                &p.id,
                "identify requests cannot name captures".into(),
            ));
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for c in &file.capture {
        let id = format!("capture {}", c.name);
        if c.name.is_empty()
            || !c
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(invalid(&id, "capture name must be [A-Za-z0-9_]+".into()));
        }
        c.request.validate().map_err(|m| invalid(&id, m))?;
        c.extract.validate().map_err(|m| invalid(&id, m))?;
        for ph in c.request.placeholders() {
            if !names.contains(&ph.as_str()) {
                return Err(invalid(
                    &id,
                    format!("names {{{ph}}}, which no earlier capture defines"),
                ));
            }
        }
        if c.source.trim().is_empty() {
            return Err(invalid(&id, "`source` is required".into()));
        }
        names.push(&c.name);
    }
    let mut checks = Vec::new();
    for d in file.check {
        let bad = |m: String| invalid(&d.id, m);
        if !d.id.starts_with(&format!("{}.", p.id)) {
            return Err(bad(format!(
                "check ids start with the product id `{}.`",
                p.id
            )));
        }
        d.request.validate().map_err(bad)?;
        d.extract.validate().map_err(bad)?;
        for ph in d.request.placeholders() {
            if !names.contains(&ph.as_str()) {
                return Err(bad(format!("names {{{ph}}}, which no capture defines")));
            }
        }
        validate_excerpt(&d.excerpt).map_err(bad)?;
        if d.source.trim().is_empty() || d.description.trim().is_empty() {
            return Err(bad("`source` and `description` are required".into()));
        }
        let weight = d.weight.unwrap_or(default_weight(d.strength));
        if !(0.0..=1.0).contains(&weight) {
            return Err(bad(format!("weight {weight} is outside [0, 1]")));
        }
        if d.positive.is_empty() || d.negative.is_empty() {
            return Err(bad(
                "needs at least one `positive` and one `negative` answer".into(),
            ));
        }
        let check = Check {
            id: d.id.clone(),
            description: d.description,
            request: d.request,
            extract: d.extract,
            at_least: d.at_least,
            technique: d.technique,
            strength: d.strength,
            weight,
            excerpt: d.excerpt,
            source: d.source,
            positive: d.positive,
            negative: d.negative,
        };
        for (i, body) in check.positive.iter().enumerate() {
            match check.evaluate(body.as_bytes()) {
                Ok((true, _)) => {}
                Ok((false, v)) => {
                    return Err(invalid(
                        &d.id,
                        format!("positive {i} reads {v}: does not fire"),
                    ))
                }
                Err(e) => return Err(invalid(&d.id, format!("positive {i}: {e}"))),
            }
        }
        for (i, body) in check.negative.iter().enumerate() {
            if let Ok((true, v)) = check.evaluate(body.as_bytes()) {
                return Err(invalid(&d.id, format!("negative {i} reads {v}: fires")));
            }
        }
        checks.push(check);
    }
    Ok(ProductChecks {
        product: file.product,
        captures: file.capture,
        checks,
        file: path.to_path_buf(),
    })
}

impl CheckSet {
    /// The shipped checks: `models/checks` (see [`crate::detect::models_dir`]).
    pub fn default_dir() -> PathBuf {
        crate::detect::models_dir().join("checks")
    }

    /// Load every `*.toml` of a directory, sorted by name.
    pub fn load_dir(dir: &Path) -> Result<CheckSet, CheckError> {
        let files = crate::detect::toml_files(dir)
            .map_err(|(path, source)| CheckError::Io { path, source })?;
        Self::from_sources(files.iter().map(|(p, t)| (p.as_path(), t.as_str())))
    }

    /// Compile (path, TOML text) pairs.
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a Path, &'a str)>,
    ) -> Result<CheckSet, CheckError> {
        let mut set = CheckSet::default();
        for (path, text) in sources {
            let file: CheckFile = toml::from_str(text).map_err(|e| CheckError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            let pc = compile(path, file)?;
            let dup_product = set.products.iter().any(|o| o.product.id == pc.product.id);
            let dup_check = pc.checks.iter().find(|c| {
                set.products
                    .iter()
                    .any(|o| o.checks.iter().any(|oc| oc.id == c.id))
            });
            if dup_product || dup_check.is_some() {
                return Err(CheckError::Invalid {
                    path: path.to_path_buf(),
                    id: dup_check.map_or(pc.product.id.clone(), |c| c.id.clone()),
                    message: "defined twice".into(),
                });
            }
            set.products.push(pc);
        }
        Ok(set)
    }

    /// A product's checks by id.
    pub fn product(&self, id: &str) -> Option<&ProductChecks> {
        self.products.iter().find(|p| p.product.id == id)
    }

    /// Number of checks over all products.
    pub fn len(&self) -> usize {
        self.products.iter().map(|p| p.checks.len()).sum()
    }

    /// Whether there are no checks.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
