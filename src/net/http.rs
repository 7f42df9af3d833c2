//! The one HTTP client of banwatch, on `reqwest` with `rustls` ([`super::tls`]): device event
//! streams and ONVIF SOAP (sources), read-only device audits, and the Alertmanager and webhook
//! sinks. It adds what devices need on top of reqwest:
//!
//! - **authentication after a 401**: HTTP Digest (RFC 7616 / 2617 / 2069, through the
//!   `digest_auth` crate) whenever the device offers it; HTTP Basic only over HTTPS or when the
//!   feed opts in (`allow_basic = true`), because Basic sends the password as plain base64;
//! - **bounded bodies**: [`read_bounded`] reads at most a given number of bytes, and streams are
//!   read chunk by chunk with an idle timeout by the caller;
//! - no redirects followed (a device that redirects is reported, not chased), bounded connect and
//!   header waits.

use super::tls::{client_config, TlsError, TlsSettings};
use reqwest::header::{HeaderMap, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};
use std::time::Duration;
use url::Url;

/// How long to wait for a TCP (and TLS) connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the response head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(15);

/// A user name and password for a device, with the one choice that matters for safety.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The account name.
    pub username: String,
    /// The password; never logged (`Debug` prints `…`).
    pub password: String,
    /// Send Basic credentials over plain HTTP when the device asks only for Basic.
    pub allow_basic: bool,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"…")
            .field("allow_basic", &self.allow_basic)
            .finish()
    }
}

/// Why a request failed. Messages name the host, never credentials.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The TLS settings could not be turned into a configuration.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The client could not be built.
    #[error("http client: {0}")]
    Build(String),
    /// Connecting, the TLS handshake, sending or reading failed.
    #[error("{host}: {message}")]
    Transport {
        /// `host:port` of the peer.
        host: String,
        /// What went wrong, in reqwest's words without the URL.
        message: String,
    },
    /// The device wants credentials and none are configured, or it refused them.
    #[error("{host}: {message}")]
    Auth {
        /// `host:port` of the peer.
        host: String,
        /// Which step of authentication failed.
        message: String,
    },
    /// The body was larger than the bound given.
    #[error("{host}: body larger than {max} bytes")]
    TooLarge {
        /// `host:port` of the peer.
        host: String,
        /// The bound.
        max: usize,
    },
}

/// `host:port` of a URL, for messages.
pub fn authority(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or("?"),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// A client for endpoints trusted as `tls` says. Cheap to clone; build one per endpoint and
/// keep it (connections are pooled).
pub fn client(tls: &TlsSettings) -> Result<reqwest::Client, HttpError> {
    reqwest::Client::builder()
        .use_preconfigured_tls(client_config(tls)?)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("banwatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| HttpError::Build(e.without_url().to_string()))
}

fn transport(url: &Url, e: reqwest::Error) -> HttpError {
    let message = if e.is_timeout() {
        "timed out".to_string()
    } else {
        // The source chain says what failed (refused, TLS, reset) without the URL.
        let mut chain = Vec::new();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            chain.push(s.to_string());
            src = s.source();
        }
        let mut m = e.without_url().to_string();
        for c in chain {
            m = format!("{m}: {c}");
        }
        m
    };
    HttpError::Transport {
        host: authority(url),
        message,
    }
}

/// Send one request; after a 401 answer, send it once more with credentials (Digest, or Basic
/// where allowed). A second 401 is [`HttpError::Auth`]. The response's body is not read.
pub async fn send(
    client: &reqwest::Client,
    method: Method,
    url: &Url,
    headers: &HeaderMap,
    body: &[u8],
    creds: Option<&Credentials>,
) -> Result<Response, HttpError> {
    let first = attempt(client, method.clone(), url, headers, body, None).await?;
    if first.status() != StatusCode::UNAUTHORIZED {
        return Ok(first);
    }
    let host = authority(url);
    let Some(c) = creds else {
        return Err(HttpError::Auth {
            host,
            message: "401 unauthorized and no credentials configured".into(),
        });
    };
    let auth = authorization(first.headers(), &method, url, body, c).map_err(|message| {
        HttpError::Auth {
            host: host.clone(),
            message,
        }
    })?;
    drop(first);
    let second = attempt(client, method, url, headers, body, Some(&auth)).await?;
    if second.status() == StatusCode::UNAUTHORIZED {
        return Err(HttpError::Auth {
            host,
            message: "401 unauthorized: credentials rejected".into(),
        });
    }
    Ok(second)
}

async fn attempt(
    client: &reqwest::Client,
    method: Method,
    url: &Url,
    headers: &HeaderMap,
    body: &[u8],
    auth: Option<&str>,
) -> Result<Response, HttpError> {
    let mut req = client
        .request(method, url.clone())
        .headers(headers.clone())
        .timeout(HEAD_TIMEOUT);
    if !body.is_empty() {
        req = req.body(body.to_vec());
    }
    if let Some(a) = auth {
        req = req.header(AUTHORIZATION, a);
    }
    // The timeout covers the head only: streaming bodies are read with the caller's idle bound.
    req.send().await.map_err(|e| transport(url, e))
}

/// The `Authorization` value answering the challenges of a 401 response.
fn authorization(
    headers: &HeaderMap,
    method: &Method,
    url: &Url,
    body: &[u8],
    c: &Credentials,
) -> Result<String, String> {
    let challenges: Vec<&str> = headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let uri = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    for ch in &challenges {
        let t = ch.trim_start();
        if t.len() >= 6 && t[..6].eq_ignore_ascii_case("digest") {
            let mut prompt =
                digest_auth::parse(t).map_err(|e| format!("bad Digest challenge: {e}"))?;
            let body = (!body.is_empty()).then_some(body);
            let ctx = digest_auth::AuthContext::new_with_method(
                c.username.as_str(),
                c.password.as_str(),
                uri.as_str(),
                body,
                digest_auth::HttpMethod::from(method.as_str()),
            );
            let answer = prompt
                .respond(&ctx)
                .map_err(|e| format!("cannot answer the Digest challenge: {e}"))?;
            return Ok(answer.to_header_string());
        }
    }
    if challenges
        .iter()
        .any(|v| v.trim_start().to_ascii_lowercase().starts_with("basic"))
    {
        if url.scheme() == "https" || c.allow_basic {
            use base64::Engine as _;
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", c.username, c.password));
            return Ok(format!("Basic {token}"));
        }
        return Err(
            "the device asks for Basic authentication over plain HTTP, which would send the password readable on the network: refused (use https, or set allow_basic = true for this feed)"
                .into(),
        );
    }
    Err("401 with no usable WWW-Authenticate challenge".into())
}

/// Read a whole body, at most `max` bytes.
pub async fn read_bounded(mut resp: Response, max: usize) -> Result<Vec<u8>, HttpError> {
    let url = resp.url().clone();
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport(&url, e))? {
        if out.len() + chunk.len() > max {
            return Err(HttpError::TooLarge {
                host: authority(&url),
                max,
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The next chunk of a streaming body; `Ok(None)` at its end.
pub async fn next_chunk(resp: &mut Response) -> Result<Option<bytes::Bytes>, HttpError> {
    let url = resp.url().clone();
    resp.chunk().await.map_err(|e| transport(&url, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(allow_basic: bool) -> Credentials {
        Credentials {
            username: "admin".into(),
            password: "hunter2".into(),
            allow_basic,
        }
    }

    fn challenge(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.append(WWW_AUTHENTICATE, v.parse().unwrap());
        h
    }

    #[test]
    fn digest_is_answered_and_basic_needs_tls_or_consent() {
        let url = Url::parse("http://10.0.0.5/ISAPI/Event/notification/alertStream").unwrap();
        let h =
            challenge(r#"Digest realm="IP Camera", qop="auth", nonce="4e6f6e6365", opaque="x""#);
        let a = authorization(&h, &Method::GET, &url, b"", &creds(false)).unwrap();
        assert!(
            a.starts_with("Digest ") && a.contains("username=\"admin\""),
            "{a}"
        );
        assert!(!a.contains("hunter2"));
        let basic = challenge(r#"Basic realm="cam""#);
        let e = authorization(&basic, &Method::GET, &url, b"", &creds(false)).unwrap_err();
        assert!(e.contains("allow_basic"), "{e}");
        let a = authorization(&basic, &Method::GET, &url, b"", &creds(true)).unwrap();
        assert_eq!(a, "Basic YWRtaW46aHVudGVyMg==");
        let tls = Url::parse("https://10.0.0.5/x").unwrap();
        assert!(authorization(&basic, &Method::GET, &tls, b"", &creds(false)).is_ok());
    }

    #[test]
    fn credentials_never_print_the_password() {
        assert!(!format!("{:?}", creds(false)).contains("hunter2"));
    }
}
