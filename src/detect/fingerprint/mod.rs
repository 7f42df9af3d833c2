//! Model fingerprints: being written.
