//! banwatch: finds face and gait recognition where a city has banned it.
//!
//! Data flows one way through these stages (DESIGN.md §1):
//! [`sources`] (captures, files, feeds) → [`decode`] (protocols and model formats →
//! observations) → [`detect`] (traffic signatures, model fingerprints → findings) → [`judge`]
//! (evidence, verdicts, policy) → [`sinks`] (reports, store, alerting). [`scan`] wires them
//! for the spot check, [`audit`] for the device audit, [`service`] for the long-running service.
//!
//! Cargo features: `scan` is the core (spot check on files, no GStreamer, libpcap or ONNX
//! Runtime needed to build it); `probe` adds the behavioural probe (ONNX Runtime, loaded at
//! run time); `live` adds the service, live sources and sinks (tokio, GStreamer, libpcap,
//! SQLite, HTTP). The default builds everything.

#![warn(missing_docs)]

#[cfg(feature = "live")]
pub mod audit;
pub mod clock;
pub mod decode;
pub mod detect;
pub mod judge;
pub mod model;
pub mod net;
pub mod scan;
pub mod secret;
#[cfg(feature = "live")]
pub mod service;
pub mod sim;
pub mod sinks;
pub mod sources;

pub use model::*;

/// Version reported in JSON output.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
