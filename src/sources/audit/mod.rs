//! The device audit as a source: asks each device the read-only questions of its product's
//! checks ([`crate::detect::checks`]) over HTTP(S) and returns, per check, whether it fired and
//! the number read. It sends nothing a check file does not declare: `GET`s, ONVIF `Get…` SOAP
//! calls, and a session product's login.
//!
//! Safe by construction:
//! - bounded: at most [`AuditOptions::concurrency`] devices at once and
//!   [`AuditOptions::per_site`] per site; at least [`AuditOptions::min_interval`] between two
//!   requests to one device; every request (head and body) within
//!   [`AuditOptions::request_timeout`], every device within [`AuditOptions::device_timeout`];
//!   answers read up to the check's `max_bytes`; redirects reported, never followed;
//! - credentials only from the inventory's secret sources or the environment, never in a
//!   message (errors name the device and what failed);
//! - what a device answers is reduced to numbers where it is read: no body is kept, logged or
//!   returned.
//!
//! Product identification: a target whose product is named (inventory `product`, `--product`)
//! is asked that product's identify requests only; otherwise every product that needs no
//! session is tried in file order until one answers as itself. Session products (UniFi OS) are
//! audited only when named, so no password is ever posted to a device of another make.

use crate::detect::checks::{Auth, CheckSet, ProductChecks, Request, MAX_CAPTURED};
use crate::model::{CheckResult, DeviceAudit, DeviceId, Outcome};
use crate::net::http::{self, Credentials, HttpError};
use crate::net::soap;
use crate::net::tls::TlsSettings;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use url::Url;

/// One device to audit.
#[derive(Debug, Clone)]
pub struct Target {
    /// How reports name the device (inventory id, else the URL's host).
    pub device: DeviceId,
    /// Scheme, host, port and an optional path prefix; no user information.
    pub url: Url,
    /// The product's checks to run, when known.
    pub product: Option<String>,
    /// The account to read with.
    pub credentials: Option<Credentials>,
    /// How to trust the device's certificate.
    pub tls: TlsSettings,
    /// The site, for per-site concurrency.
    pub site: Option<String>,
}

/// Bounds of an audit.
#[derive(Debug, Clone, Copy)]
pub struct AuditOptions {
    /// Devices audited at once.
    pub concurrency: usize,
    /// Devices of one site audited at once.
    pub per_site: usize,
    /// Least time between two requests to one device.
    pub min_interval: Duration,
    /// Longest wait for one answer, head and body.
    pub request_timeout: Duration,
    /// Longest time spent on one device.
    pub device_timeout: Duration,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            concurrency: 8,
            per_site: 2,
            min_interval: Duration::from_millis(200),
            request_timeout: Duration::from_secs(20),
            device_timeout: Duration::from_secs(180),
        }
    }
}

/// Audit every target, in parallel within the bounds; results in target order.
/// `progress` is called after each device with (done, total).
pub async fn audit(
    targets: Vec<Target>,
    checks: Arc<CheckSet>,
    opts: AuditOptions,
    progress: Option<Arc<dyn Fn(usize, usize) + Send + Sync>>,
) -> Vec<DeviceAudit> {
    let total = targets.len();
    let all = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut sites: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut set = tokio::task::JoinSet::new();
    for (i, t) in targets.into_iter().enumerate() {
        let site = t.site.as_ref().map(|s| {
            sites
                .entry(s.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(opts.per_site.max(1))))
                .clone()
        });
        let all = all.clone();
        let checks = checks.clone();
        set.spawn(async move {
            let _site = match &site {
                Some(s) => s.clone().acquire_owned().await.ok(),
                None => None,
            };
            let _all = all.acquire_owned().await.ok();
            (i, audit_device(&t, &checks, &opts).await)
        });
    }
    let mut out: Vec<Option<DeviceAudit>> = vec![None; total];
    let mut done = 0;
    while let Some(r) = set.join_next().await {
        if let Ok((i, a)) = r {
            out[i] = Some(a);
        }
        done += 1;
        if let Some(p) = &progress {
            p(done, total);
        }
    }
    out.into_iter().flatten().collect()
}

/// Audit one device within [`AuditOptions::device_timeout`].
pub async fn audit_device(t: &Target, checks: &CheckSet, opts: &AuditOptions) -> DeviceAudit {
    let mut a = DeviceAudit {
        device: t.device.clone(),
        target: t.url.to_string(),
        product: None,
        insecure: t.tls.insecure,
        requests: 0,
        checks: Vec::new(),
        error: None,
        started: crate::clock::now(),
    };
    let client = match http::client(&t.tls) {
        Ok(c) => c,
        Err(e) => {
            a.error = Some(e.to_string());
            return a;
        }
    };
    let mut s = Session {
        client,
        base: t.url.clone(),
        creds: t.credentials.clone(),
        auth: Auth::Http,
        cookies: None,
        requests: 0,
        last: None,
        opts: *opts,
        answers: HashMap::new(),
    };
    let work = run(&mut s, t, checks, &mut a);
    if tokio::time::timeout(opts.device_timeout, work)
        .await
        .is_err()
    {
        let msg = format!(
            "audit stopped after {} s; checks not run are missing",
            opts.device_timeout.as_secs()
        );
        a.error.get_or_insert(msg);
    }
    a.requests = s.requests;
    a
}

async fn run(s: &mut Session, t: &Target, checks: &CheckSet, a: &mut DeviceAudit) {
    let Some(pc) = identify(s, t, checks, a).await else {
        return;
    };
    a.product = Some(pc.product.id.clone());
    let mut captured: HashMap<String, Vec<String>> = HashMap::new();
    for c in &pc.captures {
        let mut values = Vec::new();
        for req in expand(&c.request, &captured) {
            if let Ok(body) = s.read(&req).await {
                if let Ok(v) = c.extract.tokens(&body, MAX_CAPTURED) {
                    for v in v {
                        let v = if c.url_path {
                            match Url::parse(&v) {
                                Ok(u) => u.path().to_string(),
                                Err(_) if v.starts_with('/') => v,
                                Err(_) => continue,
                            }
                        } else {
                            v
                        };
                        if values.len() < MAX_CAPTURED && !values.contains(&v) {
                            values.push(v);
                        }
                    }
                }
            }
        }
        captured.insert(c.name.clone(), values);
    }
    for check in &pc.checks {
        let reqs = expand(&check.request, &captured);
        if reqs.is_empty() {
            let missing = check.request.placeholders().join(", ");
            a.checks.push(CheckResult {
                check: check.id.clone(),
                outcome: Outcome::Unavailable,
                value: None,
                reason: Some(format!("the device reports no {missing} to ask about")),
            });
            continue;
        }
        let mut total = 0u64;
        let mut read_any = false;
        let mut failure: Option<(Outcome, String)> = None;
        for req in &reqs {
            match s.read(req).await {
                Ok(body) => match check.extract.number(&body) {
                    Ok(v) => {
                        read_any = true;
                        total = total.saturating_add(v);
                    }
                    Err(e) => failure = Some((Outcome::Error, e.to_string())),
                },
                Err(Failure::Unavailable(r)) => {
                    failure.get_or_insert((Outcome::Unavailable, r));
                }
                Err(Failure::Error(r)) => failure = Some((Outcome::Error, r)),
            }
        }
        let fired = check.fires(total);
        let result = match failure {
            // Evidence read is evidence, whatever else failed.
            f if read_any && (fired || f.is_none()) => CheckResult {
                check: check.id.clone(),
                outcome: if fired {
                    Outcome::Fired
                } else {
                    Outcome::Quiet
                },
                value: Some(total),
                reason: None,
            },
            // Read in part and not firing: the part not read could have fired.
            Some((outcome, reason)) => CheckResult {
                check: check.id.clone(),
                outcome,
                value: read_any.then_some(total),
                reason: Some(reason),
            },
            None => CheckResult {
                check: check.id.clone(),
                outcome: Outcome::Error,
                value: None,
                reason: Some("no answer".into()),
            },
        };
        a.checks.push(result);
    }
}

/// Find the product's checks: the named product's identify requests, else every
/// session-less product's in turn.
async fn identify<'c>(
    s: &mut Session,
    t: &Target,
    checks: &'c CheckSet,
    a: &mut DeviceAudit,
) -> Option<&'c ProductChecks> {
    let candidates: Vec<&ProductChecks> = match &t.product {
        Some(p) => match checks.product(p) {
            Some(pc) => vec![pc],
            None => {
                let known: Vec<&str> = checks
                    .products
                    .iter()
                    .map(|p| p.product.id.as_str())
                    .collect();
                a.error = Some(format!(
                    "product {p:?} has no checks (known: {})",
                    known.join(", ")
                ));
                return None;
            }
        },
        None => checks
            .products
            .iter()
            .filter(|p| p.product.auth != Auth::Session)
            .collect(),
    };
    let mut last_error: Option<String> = None;
    for pc in candidates {
        s.auth = pc.product.auth;
        s.cookies = None;
        s.answers.clear();
        if pc.product.auth == Auth::Session {
            if let Err(e) = s.login(pc).await {
                a.error = Some(e);
                return None;
            }
        }
        for id in &pc.product.identify {
            match s.read(&id.request).await {
                Ok(body) => match id.extract.number(&body) {
                    Ok(n) if n >= id.at_least => return Some(pc),
                    Ok(_) => {}
                    Err(e) => last_error = Some(format!("{}: {e}", id.request.path)),
                },
                // Credentials refused, TLS refused, unreachable: no other product will fare
                // better, and asking on would only repeat the failure.
                Err(Failure::Error(e)) if fatal(&e) => {
                    let hint = if e.contains("certificate") {
                        " (trust the device's certificate with tls.pin_sha256 in the inventory or --pin-sha256)"
                    } else {
                        ""
                    };
                    a.error = Some(format!("{e}{hint}"));
                    return None;
                }
                Err(Failure::Error(e)) | Err(Failure::Unavailable(e)) => {
                    last_error = Some(e);
                }
            }
        }
    }
    a.error = Some(match (&t.product, last_error) {
        (Some(p), Some(e)) => format!("does not answer as {p}: {e}"),
        (Some(p), None) => format!("does not answer as {p}"),
        (None, _) => {
            "no known product answered (name it with `product` in the inventory or --product)"
                .to_string()
        }
    });
    None
}

/// Failures after which asking the same device anything else is pointless.
fn fatal(e: &str) -> bool {
    let l = e.to_lowercase();
    [
        "credentials",
        "unauthorized",
        "certificate",
        "refused",
        "timed out",
        "tls",
        "dns",
    ]
    .iter()
    .any(|w| l.contains(w))
}

/// Every request a template gives with the captured values filled in (all combinations, at
/// most [`MAX_CAPTURED`]); none when a placeholder has no value.
fn expand(req: &Request, captured: &HashMap<String, Vec<String>>) -> Vec<Request> {
    let mut out = vec![req.clone()];
    for name in req.placeholders() {
        let name = &name;
        let values = captured.get(name).map(Vec::as_slice).unwrap_or(&[]);
        out = out
            .iter()
            .flat_map(|r| values.iter().map(move |v| r.fill(name, v)))
            .take(MAX_CAPTURED)
            .collect();
    }
    out
}

/// Why a read gave no document.
enum Failure {
    /// Not offered by the device.
    Unavailable(String),
    /// Failed: the audit is incomplete.
    Error(String),
}

struct Session {
    client: reqwest::Client,
    base: Url,
    creds: Option<Credentials>,
    auth: Auth,
    /// `Cookie` header of a session login.
    cookies: Option<HeaderValue>,
    requests: u32,
    last: Option<Instant>,
    opts: AuditOptions,
    /// Answers already read, by (path, SOAP body): two checks reading one document ask once.
    answers: HashMap<(String, Option<String>), Vec<u8>>,
}

/// Largest answer kept for a second check of the same document.
const KEEP_ANSWER: usize = 1 << 20;

impl Session {
    fn url(&self, path: &str) -> Result<Url, Failure> {
        if !Request::is_device_path(path) {
            return Err(Failure::Error(format!(
                "{}: refused to ask {path:?}: not a path on this device",
                http::authority(&self.base)
            )));
        }
        let prefix = self.base.path().trim_end_matches('/');
        let mut u = self.base.clone();
        let (p, q) = path.split_once('?').unwrap_or((path, ""));
        u.set_path(&format!("{prefix}{p}"));
        u.set_query((!q.is_empty()).then_some(q));
        Ok(u)
    }

    async fn pace(&mut self) {
        if let Some(l) = self.last {
            let wait = self.opts.min_interval.saturating_sub(l.elapsed());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        self.last = Some(Instant::now());
        self.requests += 1;
    }

    /// Open a session with the product's login (UniFi OS style: JSON user name and password,
    /// cookies back). Over plain HTTP only with the device's `allow_basic` consent, as the
    /// password would cross the network readable.
    async fn login(&mut self, pc: &ProductChecks) -> Result<(), String> {
        let host = http::authority(&self.base);
        let Some(login) = &pc.product.login else {
            return Err(format!("{host}: product {} has no login", pc.product.id));
        };
        let Some(c) = self.creds.clone() else {
            return Err(format!(
                "{host}: {} needs credentials to log in",
                pc.product.name
            ));
        };
        if self.base.scheme() != "https" && !c.allow_basic {
            return Err(format!(
                "{host}: the {} login would send the password over plain HTTP: refused (use https, or allow_basic = true)",
                pc.product.name
            ));
        }
        let url = self
            .url(&login.path)
            .map_err(|_| format!("{host}: bad login path"))?;
        let body = serde_json::json!({
            "username": c.username, "password": c.password, "rememberMe": false, "token": ""
        })
        .to_string();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.pace().await;
        let resp = tokio::time::timeout(
            self.opts.request_timeout,
            http::send(
                &self.client,
                Method::POST,
                &url,
                &headers,
                body.as_bytes(),
                None,
            ),
        )
        .await
        .map_err(|_| format!("{host}: login timed out"))?
        .map_err(|e| e.to_string())?;
        match resp.status() {
            s if s.is_success() => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(format!("{host}: login refused: credentials rejected"))
            }
            s => return Err(format!("{host}: login answered HTTP {}", s.as_u16())),
        }
        let cookies: Vec<String> = resp
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .map(|v| v.trim().to_string())
            .filter(|v| v.contains('='))
            .collect();
        if cookies.is_empty() {
            return Err(format!("{host}: login answered without a session cookie"));
        }
        self.cookies = HeaderValue::from_str(&cookies.join("; ")).ok();
        Ok(())
    }

    /// Send one declared request and read its answer within the bounds (once per session).
    async fn read(&mut self, req: &Request) -> Result<Vec<u8>, Failure> {
        let key = (req.path.clone(), req.soap.clone());
        if let Some(b) = self.answers.get(&key) {
            return Ok(b.clone());
        }
        let body = self.fetch(req).await?;
        if body.len() <= KEEP_ANSWER {
            self.answers.insert(key, body.clone());
        }
        Ok(body)
    }

    async fn fetch(&mut self, req: &Request) -> Result<Vec<u8>, Failure> {
        let url = self.url(&req.path)?;
        let host = http::authority(&url);
        let mut headers = HeaderMap::new();
        if let Some(c) = &self.cookies {
            headers.insert(COOKIE, c.clone());
        }
        let (method, body) = match (&req.soap, req.soap_operation()) {
            (Some(b), Some((ns, op))) => {
                let ct = format!("{}; action=\"{ns}/{op}\"", soap::CONTENT_TYPE);
                if let Ok(v) = HeaderValue::from_str(&ct) {
                    headers.insert(CONTENT_TYPE, v);
                }
                let header = match (&self.creds, self.auth) {
                    (Some(c), Auth::WsSecurity) => soap::username_token(&c.username, &c.password),
                    _ => String::new(),
                };
                (Method::POST, soap::envelope(&header, b).into_bytes())
            }
            // A SOAP body that is not a Get… query never loads; refuse anyway.
            (Some(_), None) => return Err(Failure::Error("refused: not a read".into())),
            (None, _) => (Method::GET, Vec::new()),
        };
        self.pace().await;
        let creds = self.creds.clone();
        let timeout = self.opts.request_timeout;
        let max = req.max_bytes();
        let exchange = async {
            let resp =
                http::send(&self.client, method, &url, &headers, &body, creds.as_ref()).await?;
            let status = resp.status();
            let location = resp.headers().contains_key(reqwest::header::LOCATION);
            let body = if status.is_success() {
                http::read_bounded(resp, max).await?
            } else {
                // An error's body says why (a SOAP fault, ISAPI's ResponseStatus); a little
                // is enough, and none is fine.
                http::read_bounded(resp, ERROR_BODY)
                    .await
                    .unwrap_or_default()
            };
            Ok::<_, HttpError>((status, location, body))
        };
        let (status, location, body) = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => {
                return Err(Failure::Error(format!(
                    "{host}: {}: no complete answer within {} s",
                    req.path,
                    timeout.as_secs()
                )))
            }
            Ok(Err(e)) => return Err(Failure::Error(e.to_string())),
            Ok(Ok(x)) => x,
        };
        let what = format!("{host}: {}", req.path);
        match status.as_u16() {
            200..=299 => Ok(body),
            300..=399 => Err(Failure::Error(format!(
                "{what}: HTTP {} {}: redirects are not followed",
                status.as_u16(),
                if location { "to another location" } else { "" }
            ))),
            404 | 405 | 501 => Err(Failure::Unavailable(format!(
                "{what}: HTTP {}: not offered by the device",
                status.as_u16()
            ))),
            // ISAPI: ResponseStatus subStatusCode notSupport (statusCode 4, Invalid Operation).
            403 if contains(&body, b"notSupport") => Err(Failure::Unavailable(format!(
                "{what}: HTTP 403 notSupport: not offered by the device"
            ))),
            403 => Err(Failure::Error(format!(
                "{what}: HTTP 403: the account may not read this (give it read access to audit)"
            ))),
            400 | 500 if req.soap.is_some() => Err(soap_fault(&what, &body)),
            s => Err(Failure::Error(format!("{what}: HTTP {s}"))),
        }
    }
}

/// Largest error body read.
const ERROR_BODY: usize = 64 << 10;

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// A SOAP fault, by its subcode: an action or service the device lacks is `Unavailable`;
/// an authentication fault or anything else an error.
fn soap_fault(what: &str, body: &[u8]) -> Failure {
    let text = String::from_utf8_lossy(&body[..body.len().min(8192)]);
    let has = |w: &str| text.contains(w);
    if has("NotAuthorized") || has("FailedAuthentication") || has("SenderNotAuthorized") {
        Failure::Error(format!(
            "{what}: SOAP fault: not authorized (credentials rejected)"
        ))
    } else if has("ActionNotSupported")
        || has("NoSuchService")
        || has("NotSupported")
        || has("ServiceNotSupported")
        || has("InvalidArgVal")
        || has("NoConfig")
    {
        Failure::Unavailable(format!("{what}: SOAP fault: not offered by the device"))
    } else {
        Failure::Error(format!("{what}: SOAP fault"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_values_fill_every_placeholder_within_the_bound() {
        let req = Request {
            path: "{svc}".into(),
            soap: Some("<a:GetX xmlns:a=\"n\"><a:T>{tok}</a:T></a:GetX>".into()),
            max_bytes: None,
        };
        let mut c = HashMap::new();
        c.insert("svc".to_string(), vec!["/onvif/analytics".to_string()]);
        c.insert(
            "tok".to_string(),
            (0..40).map(|i| format!("t{i}")).collect::<Vec<_>>(),
        );
        let r = expand(&req, &c);
        assert_eq!(r.len(), MAX_CAPTURED);
        assert_eq!(r[0].path, "/onvif/analytics");
        assert!(r[1].soap.as_deref().unwrap().contains("<a:T>t1</a:T>"));
        c.insert("tok".to_string(), vec![]);
        assert!(expand(&req, &c).is_empty());
    }
}
