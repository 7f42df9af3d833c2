//! Signature engine: being written.
