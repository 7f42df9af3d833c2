//! Suricata EVE JSON (`eve.json`) followed as it grows, through the same line decoder as `scan`
//! ([`crate::sources::offline::logs::eve`]).
//!
//! ```toml
//! [[feed]]
//! id = "suricata"
//! kind = "eve"
//! path = "/var/log/suricata/eve.json"
//! ```

use super::source::SourceKind;
use super::tail::FollowedLog;
use crate::sources::offline::logs::LogFormat;

/// The registry entry.
pub const KIND: SourceKind = SourceKind {
    name: "eve",
    description: "Suricata EVE JSON (dns, tls, http, mqtt events) followed like tail -F",
    build: |t| FollowedLog::build(t, LogFormat::Eve),
};
