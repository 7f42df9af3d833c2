//! Live sources of `banwatch serve`: one folder per kind of feed, each with its documented
//! configuration and its run loop, listed once in [`registry`]. A source turns what it receives
//! into observations and hands them to the service through its [`context::SourceContext`];
//! every source reconnects with capped, jittered backoff, reports its health, and counts and
//! skips a broken message instead of stopping.
//!
//! Adding a source: a folder here with a config struct (`deny_unknown_fields`) implementing
//! [`source::LiveSource`], and one line in [`registry::REGISTRY`].

pub mod context;
pub mod health;
pub mod http_stream;
pub mod registry;
pub mod source;
mod tail;

pub mod capture;
pub mod dahua;
pub mod eve;
pub mod hikvision;
pub mod mqtt;
pub mod onvif_events;
pub mod rtsp;
pub mod zeek;
