//! Zeek logs followed as they grow (JSON or Zeek's default tab-separated format), through the
//! same line decoder as `scan` ([`crate::sources::offline::logs`]).
//!
//! ```toml
//! [[feed]]
//! id = "zeek-http"
//! kind = "zeek"
//! path = "/opt/zeek/logs/current/http.log"
//! ```

use super::source::SourceKind;
use super::tail::FollowedLog;
use crate::sources::offline::logs::LogFormat;

/// The registry entry.
pub const KIND: SourceKind = SourceKind {
    name: "zeek",
    description: "A Zeek log (dns, ssl, http, conn; JSON or TSV) followed like tail -F",
    build: |t| FollowedLog::build(t, LogFormat::Zeek),
};
