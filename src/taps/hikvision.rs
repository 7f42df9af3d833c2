//! Hikvision ISAPI event stream: a long-lived `GET /ISAPI/Event/notification/alertStream`
//! whose multipart body carries one `EventNotificationAlert` (XML or JSON) per part, with
//! picture parts in between (skipped, never kept). SIGNATURES.md §1.

use super::http_stream::{run_event_stream, Credentials, HttpUrl};
use super::live::TapContext;

/// Path used when the configured URL names only the device.
pub const ALERT_STREAM: &str = "/ISAPI/Event/notification/alertStream";

pub async fn run(url: String, creds: Option<Credentials>, ctx: &TapContext) {
    match HttpUrl::parse(&url) {
        Ok(u) => run_event_stream(u.with_default_path(ALERT_STREAM), creds, ctx).await,
        Err(e) => ctx.health.set_error(&e.to_string()),
    }
}
