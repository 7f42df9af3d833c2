#![no_main]
use banwatch::decode::{dns, Emitter, AppParser};
use banwatch::model::Direction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let mut em = Emitter::new(0.0, None, &mut out);
    dns::parse_udp(data, Direction::ToClient, &mut em);
    let mut p = dns::DnsTcpParser::new();
    for chunk in data.chunks(7) {
        p.feed(Direction::ToServer, chunk, &mut em);
    }
    p.close(&mut em);
});
