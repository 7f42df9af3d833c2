//! Model formats: being written.
