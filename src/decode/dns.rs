//! TODO: dns decoder (being written).
