//! TODO: multipart decoder (being written).
