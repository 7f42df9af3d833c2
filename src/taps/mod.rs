//! Taps (sources): where input comes from. A tap yields raw units (packets, files, messages)
//! and knows nothing about detection.

pub mod capture;
pub mod dahua;
pub mod digest;
pub mod eve;
pub mod feed;
pub mod files;
pub mod hikvision;
pub mod http_stream;
pub mod live;
pub mod mqtt;
pub mod onvif_events;
pub mod pcap;
pub mod rtsp;
mod tail;
pub mod zeek;
