//! Sinks: consume verdicts, violations and artifacts; never parse packets. One module each.

pub mod alertmanager;
pub mod eve;
pub mod http;
pub mod report;
pub mod spool;
pub mod store;
pub mod text;
pub mod webhook;
