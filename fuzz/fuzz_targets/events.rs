//! Fuzz the event-body decoders (XML, JSON, Dahua text, vendor shapes) and the multipart
//! splitter. The first byte picks the entry point and chunking.
#![no_main]

use banwatch::decode::events;
use banwatch::decode::multipart::MultipartSplitter;
use banwatch::decode::Emitter;
use banwatch::model::Direction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let mut out = Vec::new();
    let mut em = Emitter::new(0.0, None, &mut out);
    let dir = Direction::ToClient;
    match sel % 6 {
        0 => events::decode_body(None, body, dir, &mut em),
        1 => events::decode_body(Some("application/json"), body, dir, &mut em),
        2 => events::decode_body(Some("text/plain"), body, dir, &mut em),
        3 => events::decode_json(Some("frigate/tracked_object_update"), body, dir, &mut em),
        4 => events::decode_xml(body, dir, &mut em),
        _ => {
            let mut s = MultipartSplitter::new("myboundary").with_max_part(4096);
            let chunk = usize::from(sel / 6).max(1);
            for c in body.chunks(chunk) {
                s.feed(c, &mut |p| {
                    events::decode_body(p.content_type.as_deref(), &p.body, dir, &mut em)
                });
            }
            s.finish(&mut |p| events::decode_body(p.content_type.as_deref(), &p.body, dir, &mut em));
        }
    }
});
