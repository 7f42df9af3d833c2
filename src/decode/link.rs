//! TODO: link decoder (being written).
