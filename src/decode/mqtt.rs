//! TODO: mqtt decoder (being written).
