//! TODO: ip decoder (being written).
