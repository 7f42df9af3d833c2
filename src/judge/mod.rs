//! Judge: being written.
