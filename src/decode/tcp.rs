//! TODO: tcp decoder (being written).
