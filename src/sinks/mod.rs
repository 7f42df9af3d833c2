//! Sinks: being written.
