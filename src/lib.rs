//! banwatch: finds face and gait recognition where a city has banned it.
//!
//! Data flows one way through these stages (DESIGN.md §1):
//! [`taps`] (captures, files, feeds) → [`decode`] (protocols and model formats → observations)
//! → [`detect`] (traffic signatures, model fingerprints → evidence) → [`judge`] (verdicts,
//! policy) → [`sinks`] (reports, stores, alerting). [`scan`] wires them for the spot check.

pub mod decode;
pub mod detect;
pub mod judge;
pub mod model;
pub mod scan;
pub mod service;
pub mod sim;
pub mod sinks;
pub mod taps;

pub use model::*;

/// Version reported in JSON output.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
