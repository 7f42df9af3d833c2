//! Dahua CGI event stream: `GET /cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=5`
//! (Digest auth), a `multipart/x-mixed-replace` body with boundary `myboundary` whose text parts
//! are `Code=...;action=...;index=...[;data={json}]` or `Heartbeat`. SIGNATURES.md §2.

use super::http_stream::{run_event_stream, Credentials, HttpUrl};
use super::live::TapContext;

/// Path used when the configured URL names only the device. The heartbeat keeps idle streams
/// visibly alive (the tap drops a connection silent for 60 s).
pub const ATTACH: &str = "/cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=5";

pub async fn run(url: String, creds: Option<Credentials>, ctx: &TapContext) {
    match HttpUrl::parse(&url) {
        Ok(u) => run_event_stream(u.with_default_path(ATTACH), creds, ctx).await,
        Err(e) => ctx.health.set_error(&e.to_string()),
    }
}
