//! TODO: rtsp decoder (being written).
