//! Dahua CGI event stream: `GET /cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=5`
//! (Digest auth), a `multipart/x-mixed-replace` body with boundary `myboundary` whose text parts
//! are `Code=...;action=...;index=...[;data={json}]` or `Heartbeat`. SIGNATURES.md §2.
//!
//! ```toml
//! [[feed]]
//! id = "gate-nvr-events"
//! kind = "dahua"
//! url = "http://10.20.0.14"
//! username = "audit"
//! password = { env = "GATE_NVR_PASSWORD" }
//! ```

use super::http_stream::EventStream;
use super::source::SourceKind;

/// Path used when the configured URL names only the device. The heartbeat keeps idle streams
/// visibly alive (the source drops a connection silent for 60 s).
pub const ATTACH: &str = "/cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=5";

/// The registry entry.
pub const KIND: SourceKind = SourceKind {
    name: "dahua",
    description: "Dahua eventManager attach stream (multipart Code=… parts), Digest auth",
    build: |t| EventStream::build(t, "dahua", ATTACH),
};
