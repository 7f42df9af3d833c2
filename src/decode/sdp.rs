//! TODO: sdp decoder (being written).
