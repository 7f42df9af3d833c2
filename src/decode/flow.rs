//! TODO: flow decoder (being written).
