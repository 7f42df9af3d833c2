//! A minimal HTTP/1.1 client for the sinks (one POST per connection, bounded waits): enough for
//! Alertmanager and webhook receivers on a site network, without pulling a TLS stack in.
//! `https://` receivers are reached through a local TLS proxy (see the README).

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// host:port
    pub authority: String,
    /// Path without a trailing slash ("" for the root).
    pub path: String,
}

/// Parse an `http://host[:port][/path]` URL.
pub fn parse_url(url: &str) -> Result<Endpoint, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?}: only http:// URLs are supported"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.is_empty() {
        return Err(format!("{url:?}: no host"));
    }
    let authority = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok(Endpoint {
        authority,
        path: if path.is_empty() {
            String::new()
        } else {
            format!("/{}", path.trim_end_matches('/'))
        },
    })
}

/// POST `body` to `path` with extra headers; Ok on a 2xx answer.
pub async fn post(
    ep: &Endpoint,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<(), String> {
    let mut s = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(&ep.authority),
    )
    .await
    .map_err(|_| format!("{}: connect timed out", ep.authority))?
    .map_err(|e| format!("{}: {e}", ep.authority))?;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        ep.authority,
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    s.write_all(body).await.map_err(|e| e.to_string())?;
    let mut resp = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut resp))
        .await
        .map_err(|_| format!("{}: no response", ep.authority))?
        .map_err(|e| e.to_string())?;
    let line = String::from_utf8_lossy(&resp[..n]);
    let code = line.split_whitespace().nth(1).unwrap_or("");
    if code.starts_with('2') {
        Ok(())
    } else {
        Err(format!(
            "{} answered {:?}",
            ep.authority,
            line.lines().next().unwrap_or("")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let e = parse_url("http://127.0.0.1:9093/am/").map_err(|e| e.to_string());
        assert_eq!(
            e,
            Ok(Endpoint {
                authority: "127.0.0.1:9093".into(),
                path: "/am".into()
            })
        );
        assert!(parse_url("https://x").is_err());
        assert!(parse_url("http:///x").is_err());
        assert_eq!(
            parse_url("http://hooks.example").map(|e| e.authority),
            Ok("hooks.example:80".into())
        );
    }
}
