//! HTTP Digest access authentication, client side (RFC 7616; MD5 and SHA-256, `qop=auth`, and
//! the RFC 2069 form without qop that old camera firmware still sends). Pure functions only.

use md5::{Digest as _, Md5};
use sha2::Sha256;

/// A parsed `WWW-Authenticate: Digest ...` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// `auth` when the server offers it (we never use `auth-int`).
    pub qop_auth: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
}

/// Parses `k=v, k="v, with comma"` auth parameters (at most 32; values bounded by the header).
pub fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() && out.len() < 32 {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq]
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(q) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut end = q.len();
            let mut esc = false;
            for (i, c) in q.char_indices() {
                if esc {
                    v.push(c);
                    esc = false;
                } else if c == '\\' {
                    esc = true;
                } else if c == '"' {
                    end = i + 1;
                    break;
                } else {
                    v.push(c);
                }
            }
            value = v;
            rest = q.get(end..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        rest = rest.trim_start().trim_start_matches(',').trim_start();
        out.push((key, value));
    }
    out
}

/// The Digest challenge in a `WWW-Authenticate` value, if it is one we can answer.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let h = header.trim();
    let scheme_end = h.find(char::is_whitespace)?;
    if !h[..scheme_end].eq_ignore_ascii_case("digest") {
        return None;
    }
    let mut ch = Challenge {
        realm: String::new(),
        nonce: String::new(),
        opaque: None,
        algorithm: Algorithm::Md5,
        qop_auth: false,
    };
    for (k, v) in parse_params(&h[scheme_end..]) {
        match k.as_str() {
            "realm" => ch.realm = v,
            "nonce" => ch.nonce = v,
            "opaque" => ch.opaque = Some(v),
            "qop" => ch.qop_auth = v.split(',').any(|q| q.trim().eq_ignore_ascii_case("auth")),
            "algorithm" => {
                ch.algorithm = match v.to_ascii_uppercase().as_str() {
                    "MD5" => Algorithm::Md5,
                    "MD5-SESS" => Algorithm::Md5Sess,
                    "SHA-256" => Algorithm::Sha256,
                    _ => return None,
                }
            }
            _ => {}
        }
    }
    (!ch.nonce.is_empty()).then_some(ch)
}

fn h(alg: Algorithm, data: &str) -> String {
    match alg {
        Algorithm::Md5 | Algorithm::Md5Sess => hex::encode(Md5::digest(data.as_bytes())),
        Algorithm::Sha256 => hex::encode(Sha256::digest(data.as_bytes())),
    }
}

/// The `Authorization` header value answering `ch` for `method uri`. `nc` counts requests
/// made with this nonce; `cnonce` is the client nonce.
pub fn authorization(
    ch: &Challenge,
    username: &str,
    password: &str,
    method: &str,
    uri: &str,
    nc: u32,
    cnonce: &str,
) -> String {
    let alg = ch.algorithm;
    let mut ha1 = h(alg, &format!("{username}:{}:{password}", ch.realm));
    if alg == Algorithm::Md5Sess {
        ha1 = h(alg, &format!("{ha1}:{}:{cnonce}", ch.nonce));
    }
    let ha2 = h(alg, &format!("{method}:{uri}"));
    let nc = format!("{nc:08x}");
    let response = if ch.qop_auth {
        h(alg, &format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", ch.nonce))
    } else {
        h(alg, &format!("{ha1}:{}:{ha2}", ch.nonce))
    };
    let alg_name = match alg {
        Algorithm::Md5 => "MD5",
        Algorithm::Md5Sess => "MD5-sess",
        Algorithm::Sha256 => "SHA-256",
    };
    let mut s = format!(
        "Digest username=\"{username}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", algorithm={alg_name}, response=\"{response}\"",
        ch.realm, ch.nonce
    );
    if ch.qop_auth {
        s.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"{cnonce}\""));
    }
    if let Some(o) = &ch.opaque {
        s.push_str(&format!(", opaque=\"{o}\""));
    }
    s
}

/// Server side check (used by the loopback test servers): does `auth` answer our challenge?
pub fn verify(
    auth: &str,
    realm: &str,
    nonce: &str,
    username: &str,
    password: &str,
    method: &str,
) -> bool {
    let Some(rest) = auth.trim().strip_prefix("Digest ") else {
        return false;
    };
    let p: std::collections::HashMap<String, String> = parse_params(rest).into_iter().collect();
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    if get("username") != username || get("realm") != realm || get("nonce") != nonce {
        return false;
    }
    let ch = Challenge {
        realm: realm.into(),
        nonce: nonce.into(),
        opaque: p.get("opaque").cloned(),
        algorithm: Algorithm::Md5,
        qop_auth: get("qop") == "auth",
    };
    let nc = u32::from_str_radix(get("nc"), 16).unwrap_or(0);
    let expect = authorization(
        &ch,
        username,
        password,
        method,
        get("uri"),
        nc,
        get("cnonce"),
    );
    parse_params(expect.trim_start_matches("Digest "))
        .into_iter()
        .any(|(k, v)| k == "response" && v == get("response"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example() {
        // RFC 2617 §3.5 (the same computation as RFC 7616 with MD5).
        let ch = parse_challenge(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        assert!(ch.qop_auth);
        let a = authorization(
            &ch,
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            1,
            "0a4f113b",
        );
        assert!(
            a.contains(r#"response="6629fae49393a05397450978507c4ef1""#),
            "{a}"
        );
        assert!(a.contains("nc=00000001"));
        assert!(verify(
            &a,
            "testrealm@host.com",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            "Mufasa",
            "Circle Of Life",
            "GET"
        ));
        assert!(!verify(
            &a,
            "testrealm@host.com",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            "Mufasa",
            "wrong",
            "GET"
        ));
    }

    #[test]
    fn rfc7616_sha256_example() {
        // RFC 7616 §3.9.1.
        let ch = parse_challenge(
            r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
        )
        .unwrap();
        assert_eq!(ch.algorithm, Algorithm::Sha256);
        let a = authorization(
            &ch,
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            1,
            "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        );
        assert!(
            a.contains(
                r#"response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1""#
            ),
            "{a}"
        );
    }

    #[test]
    fn hostile_headers_do_not_panic() {
        for h in [
            "Digest",
            "Digest ",
            "Digest realm=\"unterminated",
            "Digest =,=,=",
            "Basic realm=x",
            "Digest nonce=\"n\", algorithm=SHA-512-256",
            "digest nonce=é\"ü",
        ] {
            let _ = parse_challenge(h);
        }
        assert!(parse_challenge("Digest nonce=abc").is_some());
        assert!(parse_challenge("Digest realm=\"a\"").is_none());
    }
}
