//! Taps (sources): where input comes from. A tap yields raw units (packets, files, messages)
//! and knows nothing about detection.

pub mod feed;
pub mod files;
pub mod pcap;
