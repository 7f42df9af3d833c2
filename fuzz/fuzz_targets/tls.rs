#![no_main]
use banwatch::decode::{tls, AppParser, Emitter, Progress};
use banwatch::model::Direction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let mut em = Emitter::new(0.0, None, &mut out);
    let mut p = tls::TlsParser::new();
    for chunk in data.chunks(13) {
        if p.feed(Direction::ToServer, chunk, &mut em) == Progress::Done {
            break;
        }
    }
    tls::client_hello(data, Direction::ToServer, &mut em);
});
