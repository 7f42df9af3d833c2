//! Spot check orchestration: being written.
