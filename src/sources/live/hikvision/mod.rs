//! Hikvision ISAPI event stream: a long-lived `GET /ISAPI/Event/notification/alertStream`
//! whose multipart body carries one `EventNotificationAlert` (XML or JSON) per part, with
//! picture parts in between (skipped, never kept). SIGNATURES.md §1.
//!
//! ```toml
//! [[feed]]
//! id = "lobby-cam-events"
//! kind = "hikvision"
//! url = "https://10.20.0.12"            # the stream path is added when absent
//! username = "audit"
//! password = { env = "LOBBY_CAM_PASSWORD" }
//! tls = { pin_sha256 = "ab:cd:…" }      # self-signed device certificate
//! ```

use super::http_stream::EventStream;
use super::source::SourceKind;

/// Path used when the configured URL names only the device.
pub const ALERT_STREAM: &str = "/ISAPI/Event/notification/alertStream";

/// The registry entry.
pub const KIND: SourceKind = SourceKind {
    name: "hikvision",
    description: "Hikvision ISAPI alertStream (multipart event documents), Digest auth",
    build: |t| EventStream::build(t, "hikvision", ALERT_STREAM),
};
