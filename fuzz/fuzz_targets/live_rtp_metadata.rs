//! RTP depayloading of the ONVIF metadata track and H.264 SEI scanning.
#![no_main]
use banwatch::decode::h264::h264_sei_uuids;
use banwatch::decode::rtp::MetadataDepay;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut d = MetadataDepay::default();
    for pkt in data.split(|b| *b == 0xfe) {
        let _ = d.push(pkt);
    }
    let _ = h264_sei_uuids(data);
});
