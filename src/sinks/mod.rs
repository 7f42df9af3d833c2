//! Sinks: consume verdicts, violations and artifacts; never parse packets. One module each.

pub mod alertmanager;
pub mod report;
pub mod store;
pub mod text;
