//! TODO: tls decoder (being written).
