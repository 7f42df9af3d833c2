//! The application-layer protocols the flow engine knows, each with its name, default ports,
//! probe and parser: the engine asks them in order which one a new TCP flow speaks, instead of
//! switching on protocols itself (Suricata's app-layer registration, `rust/src/applayer.rs`).
//!
//! Adding a protocol: a module with a parser implementing [`AppParser`], a `PROTOCOL`
//! descriptor, its `FIELDS` in [`super::fields::ALL`], and one line in [`PROTOCOLS`].

pub use super::protocol::{starts_with_word, AppProtocol, FlowStart, Probe};

/// Probed in this order: the first `Yes` wins; a `NeedMore` waits.
pub const PROTOCOLS: &[&AppProtocol] = &[
    &super::tls::PROTOCOL,
    &super::rtsp::PROTOCOL,
    &super::http::PROTOCOL,
    &super::mqtt::PROTOCOL,
    &super::dns::PROTOCOL,
    // Last: it may wait on a server's SETTINGS frame for the client's preface.
    &super::http::h2::PROTOCOL,
];

/// Ports that name the server side of a flow picked up mid-stream: every protocol's, and the
/// camera vendors' SDK and web ports.
pub fn service_port(p: u16) -> bool {
    matches!(p, 8000..=8010 | 5000 | 32168 | 37777)
        || PROTOCOLS.iter().any(|proto| proto.ports.contains(&p))
}

/// Decide a flow's protocol. `Err(true)`: wait for more bytes; `Err(false)`: unknown.
pub fn decide(start: &FlowStart<'_>) -> Result<&'static AppProtocol, bool> {
    for p in PROTOCOLS {
        match (p.probe)(start) {
            Probe::Yes => return Ok(p),
            Probe::NeedMore if !start.final_look => return Err(true),
            _ => {}
        }
    }
    Err(start.data.len() < 8 && !start.final_look)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(data: &[u8], server_port: u16, final_look: bool) -> Option<&'static str> {
        decide(&FlowStart {
            data,
            client_port: 50000,
            server_port,
            final_look,
        })
        .ok()
        .map(|p| p.name)
    }

    #[test]
    fn probes_in_order() {
        assert_eq!(start(&[0x16, 3, 1, 0, 5], 443, false), Some("tls"));
        assert_eq!(start(b"OPTIONS * RTSP/1.0\r\n", 554, false), Some("rtsp"));
        assert_eq!(start(b"OPTIONS / HTTP/1.1\r\n", 80, false), Some("http"));
        assert_eq!(start(b"OPTIONS /", 80, false), None);
        assert!(matches!(
            decide(&FlowStart {
                data: b"OPTIONS /",
                client_port: 1,
                server_port: 80,
                final_look: false
            }),
            Err(true)
        ));
        assert_eq!(start(b"GET / HTTP/1.1\r\n", 8080, false), Some("http"));
        assert_eq!(start(b"RTSP/1.0 200 OK\r\n", 554, false), Some("rtsp"));
        assert_eq!(
            start(&[0x10, 12, 0, 4, b'M', b'Q', b'T', b'T'], 9999, false),
            Some("mqtt")
        );
        assert_eq!(
            start(&[0x30, 1, 2, 3, 4, 5, 6, 7, 8], 1883, false),
            Some("mqtt")
        );
        assert_eq!(start(&[0, 30, 1, 2, 3, 4, 5, 6, 7], 53, false), Some("dns"));
        assert_eq!(start(b"\x00\x01binary junk", 9999, false), None);
        assert_eq!(
            start(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 3000, false),
            Some("http2")
        );
        // A server's SETTINGS first: wait for the client, unless this is the last look.
        let settings = [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100];
        assert!(matches!(
            decide(&FlowStart {
                data: &settings,
                client_port: 1,
                server_port: 3000,
                final_look: false
            }),
            Err(true)
        ));
        assert_eq!(start(&settings, 3000, true), None);
        assert!(service_port(554) && service_port(37777) && !service_port(40000));
    }
}
