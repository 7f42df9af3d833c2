//! Detectors: turn observations into evidence. Traffic signatures ([`signatures`]) match
//! decoded fields; model fingerprints ([`fingerprint`]) classify model files.

pub mod fingerprint;
pub mod signatures;
