//! TODO: http decoder (being written).
