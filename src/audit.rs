//! The device audit (`banwatch audit`): wires targets (command-line URLs, or an inventory's
//! through [`crate::service::config::Config::audit_targets`]) →
//! the audit source ([`crate::sources::audit`]) → findings → the judge → the report of
//! `banwatch scan` (same shape and exit codes; each device is an input, and the report's
//! `audits` list says what each check found). `serve` runs the same [`audit_and_judge`] on a
//! schedule.

use crate::detect::checks::CheckSet;
use crate::judge::policy::Policy;
use crate::judge::{Basis, Finding, Judge, JudgeConfig};
use crate::model::{DeviceAudit, DeviceId, Outcome, Role, SiteType};
use crate::net::http::Credentials;
use crate::net::tls::TlsSettings;
use crate::sinks::report::{InputSummary, ScanReport};
use crate::sources::audit::{self, AuditOptions, Target};
use std::sync::Arc;
use url::Url;

/// Environment variables holding the account for command-line targets.
pub const USERNAME_ENV: &str = "BANWATCH_AUDIT_USERNAME";
/// See [`USERNAME_ENV`].
pub const PASSWORD_ENV: &str = "BANWATCH_AUDIT_PASSWORD";

/// Why targets could not be assembled. Names the target or inventory entry.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A command-line target is not usable.
    #[error("{target}: {message}")]
    Target {
        /// The target as given (without any password).
        target: String,
        /// What is wrong.
        message: String,
    },
}

/// Targets from command-line URLs: `http(s)://host[:port][/prefix]`. The account comes from
/// [`USERNAME_ENV`] / [`PASSWORD_ENV`] (a user name in the URL is taken; a password in the URL
/// is refused, as it would sit in the shell's history and the process list).
pub fn targets_from_urls(
    urls: &[String],
    product: Option<&str>,
    tls: &TlsSettings,
    allow_basic: bool,
) -> Result<Vec<Target>, AuditError> {
    let env_user = std::env::var(USERNAME_ENV).ok().filter(|s| !s.is_empty());
    let env_pass = std::env::var(PASSWORD_ENV).ok();
    let mut out = Vec::new();
    for raw in urls {
        let shown = crate::sources::live::source::redact_url(raw);
        let bad = |message: String| AuditError::Target {
            target: shown.clone(),
            message,
        };
        let with_scheme = if raw.contains("://") {
            raw.clone()
        } else {
            format!("http://{raw}")
        };
        let mut url = Url::parse(&with_scheme).map_err(|e| bad(format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad(format!(
                "scheme {:?} is not http or https",
                url.scheme()
            )));
        }
        let Some(host) = url.host_str().map(str::to_string) else {
            return Err(bad("no host".into()));
        };
        if url.password().is_some() {
            return Err(bad(format!(
                "a password in the URL is refused; put it in {PASSWORD_ENV}"
            )));
        }
        let url_user = (!url.username().is_empty()).then(|| {
            percent_encoding::percent_decode_str(url.username())
                .decode_utf8_lossy()
                .into_owned()
        });
        let _ = url.set_username("");
        url.set_query(None);
        url.set_fragment(None);
        let credentials = url_user.or(env_user.clone()).map(|username| Credentials {
            username,
            password: env_pass.clone().unwrap_or_default(),
            allow_basic,
        });
        out.push(Target {
            device: DeviceId(host),
            url,
            product: product.map(str::to_string),
            credentials,
            tls: tls.clone(),
            site: None,
        });
    }
    Ok(out)
}

/// The judge's findings from one device's audit: one per check that fired.
pub fn findings(a: &DeviceAudit, checks: &CheckSet) -> Vec<Finding> {
    let Some(pc) = a.product.as_deref().and_then(|p| checks.product(p)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in a.checks.iter().filter(|r| r.outcome == Outcome::Fired) {
        let Some(c) = pc.checks.iter().find(|c| c.id == r.check) else {
            continue;
        };
        out.push(Finding {
            device: a.device.clone(),
            signature: c.id.clone(),
            service: pc.product.id.clone(),
            technique: c.technique,
            basis: Basis::Audit {
                strength: c.strength,
                weight: c.weight,
            },
            role: Role::Runs,
            peer: None,
            organisation: None,
            source: format!("audit:{}", c.request.path),
            excerpt: c.excerpt_for(r.value.unwrap_or(0)),
            ts: a.started,
        });
    }
    out
}

/// What one device's audit gives the report as an input.
pub fn input_summary(a: &DeviceAudit) -> InputSummary {
    let failed: Vec<_> = a
        .checks
        .iter()
        .filter(|r| r.outcome == Outcome::Error)
        .collect();
    let incomplete = failed.first().map(|first| {
        format!(
            "{}: {} of {} checks could not be read ({}: {})",
            a.device,
            failed.len(),
            a.checks.len(),
            first.check,
            first.reason.as_deref().unwrap_or("no answer")
        )
    });
    InputSummary {
        path: a.target.clone(),
        kind: match &a.product {
            Some(p) => format!("device {p}"),
            None => "device".into(),
        },
        packets: 0,
        errors: failed.len() as u64,
        files: None,
        incomplete,
        error: a.error.as_ref().map(|e| format!("{}: {e}", a.device)),
    }
}

/// Audit the targets and judge the answers: the report of `banwatch audit`. `placement`
/// gives an inventory device's site and site type.
pub async fn audit_and_judge(
    targets: Vec<Target>,
    checks: Arc<CheckSet>,
    opts: AuditOptions,
    policy: &Policy,
    placement: &dyn Fn(&DeviceId) -> Option<(String, SiteType)>,
    progress: Option<Arc<dyn Fn(usize, usize) + Send + Sync>>,
) -> ScanReport {
    let audits = audit::audit(targets, checks.clone(), opts, progress).await;
    let mut judge = Judge::new(JudgeConfig::default());
    for a in &audits {
        for f in findings(a, &checks) {
            judge.add(f);
        }
        if let Some((site, site_type)) = placement(&a.device) {
            judge.set_site(&a.device, &site, site_type);
        }
    }
    let devices = judge.verdicts();
    let violations = judge.violations(&devices, policy);
    ScanReport {
        version: crate::VERSION.to_string(),
        inputs: audits.iter().map(input_summary).collect(),
        devices,
        artifacts: Vec::new(),
        violations,
        audits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_targets_refuse_passwords_and_take_users() {
        let tls = TlsSettings::default();
        let e = targets_from_urls(&["http://admin:pw@10.0.0.5".into()], None, &tls, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("password in the URL is refused"), "{e}");
        assert!(!e.contains("pw@"), "{e}");
        let t = targets_from_urls(
            &["audit@10.0.0.5:8080/nvr".into()],
            Some("dahua"),
            &tls,
            false,
        )
        .unwrap();
        assert_eq!(t[0].url.as_str(), "http://10.0.0.5:8080/nvr");
        assert_eq!(t[0].device.0, "10.0.0.5");
        assert_eq!(t[0].credentials.as_ref().unwrap().username, "audit");
        assert!(targets_from_urls(&["ftp://x".into()], None, &tls, false).is_err());
    }
}
