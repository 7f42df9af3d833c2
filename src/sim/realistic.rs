//! A realistic capture for benchmarks: many short flows of the protocols a camera network
//! carries beside its video — DNS lookups, TLS sessions, REST calls with ordinary JSON bodies
//! (telemetry, health, configuration), MQTT telemetry, RTSP set-up — and bursts of RTP video,
//! between a few thousand hosts, from a fixed seed (the same file for the same arguments).
//! Nothing in it is banned: it measures the cost of ordinary traffic, which is most traffic.

use super::{dns_query, mqtt_connect, mqtt_publish, rtp_packet, tls_client_hello, udp_frame};
use super::{Host, PcapWriter, TcpSession};
use std::io::{self, Write};
use std::net::Ipv4Addr;

/// xorshift64*: a fixed-seed generator (the capture must be the same on every machine).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len() as u64) as usize]
    }
}

const NAMES: &[&str] = &[
    "time.cloudflare.com",
    "pool.ntp.org",
    "updates.example-nvr.com",
    "telemetry.example-cams.net",
    "api.weather.example.org",
    "cdn.example-video.com",
    "login.example-sso.com",
    "mqtt.example-iot.net",
    "firmware.example-vendor.com",
    "status.example-city.gov",
];

const KEYS: &[&str] = &[
    "temperature",
    "humidity",
    "uptime",
    "cpu",
    "memory",
    "disk",
    "firmware",
    "serial",
    "status",
    "lastReboot",
    "channel",
    "bitrate",
    "fps",
    "resolution",
    "storage",
    "recording",
    "network",
    "rssi",
    "voltage",
    "fan",
];

/// An ordinary JSON document of `n` keys, some nested, some in arrays.
fn json_body(r: &mut Rng, n: usize) -> String {
    let mut s = String::from("{");
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        let k = r.pick(KEYS);
        match r.below(6) {
            0 => s.push_str(&format!(
                "\"{k}\":{{\"value\":{},\"unit\":\"c\",\"ok\":true}}",
                r.below(1000)
            )),
            1 => s.push_str(&format!(
                "\"{k}\":[{{\"id\":{},\"state\":\"idle\"}},{{\"id\":{},\"state\":\"busy\"}}]",
                r.below(64),
                r.below(64)
            )),
            2 => s.push_str(&format!("\"{k}\":\"v{}.{}\"", r.below(9), r.below(99))),
            _ => s.push_str(&format!("\"{k}{i}\":{}", r.below(100_000))),
        }
    }
    s.push('}');
    s
}

/// About `flows` short flows of the mix above, with video between them.
pub fn write_realistic<W: Write>(out: W, flows: u64) -> io::Result<PcapWriter<W>> {
    let mut w = PcapWriter::new(out, 1)?;
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut ts = 1_767_225_600.0f64; // 2026-01-01
    let client = |r: &mut Rng| {
        let n = r.below(4000) as u32;
        Host::new(Ipv4Addr::new(10, 40 + (n >> 8) as u8, (n & 0xff) as u8, 10))
    };
    let server = |r: &mut Rng| Host::new(Ipv4Addr::new(192, 0, 2, 1 + r.below(200) as u8));
    let mut ssrc_seq = 0u16;
    for f in 0..flows {
        ts += 0.0004;
        let c = client(&mut r);
        let s = server(&mut r);
        let cport = 20_000 + (f % 40_000) as u16;
        match r.below(100) {
            // DNS: a query and its answer.
            0..=29 => {
                let name = r.pick(NAMES);
                let q = dns_query(f as u16, name);
                w.packet(ts, &udp_frame(&c, cport, &s, 53, f as u16, &q))?;
                let mut a = q.clone();
                if a.len() > 3 {
                    a[2] |= 0x80; // QR: a response (no answers: enough to be parsed)
                }
                w.packet(ts + 0.0002, &udp_frame(&s, 53, &c, cport, f as u16, &a))?;
            }
            // TLS: a handshake and some encrypted records.
            30..=54 => {
                let mut t = TcpSession::new(c, cport, s, 443, ts);
                t.open(&mut w)?;
                t.client_send(&mut w, &tls_client_hello(r.pick(NAMES)))?;
                let mut rec = vec![0x17, 3, 3, 0x07, 0xd0];
                rec.resize(5 + 2000, 0xab);
                t.server_send(&mut w, &rec)?;
                t.close(&mut w)?;
            }
            // REST: a JSON body each way.
            55..=79 => {
                let n = 8 + r.below(24) as usize;
                let body = json_body(&mut r, n);
                let req = format!(
                    "POST /api/v1/devices/{}/telemetry HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    r.below(5000),
                    r.pick(NAMES),
                    body.len()
                );
                let n = 4 + r.below(8) as usize;
                let resp_body = json_body(&mut r, n);
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{resp_body}",
                    resp_body.len()
                );
                let mut t = TcpSession::new(c, cport, s, 80, ts);
                t.open(&mut w)?;
                t.client_send(&mut w, req.as_bytes())?;
                t.server_send(&mut w, resp.as_bytes())?;
                t.close(&mut w)?;
            }
            // MQTT: telemetry published as JSON.
            80..=89 => {
                let mut t = TcpSession::new(c, cport, s, 1883, ts);
                t.open(&mut w)?;
                t.client_send(&mut w, &mqtt_connect(&format!("sensor-{}", r.below(9999))))?;
                for _ in 0..1 + r.below(3) {
                    let n = 6 + r.below(10) as usize;
                    let body = json_body(&mut r, n);
                    let topic = format!("site/{}/sensor/{}/state", r.below(40), r.below(500));
                    t.client_send(&mut w, &mqtt_publish(&topic, body.as_bytes()))?;
                }
                t.close(&mut w)?;
            }
            // RTSP: OPTIONS and DESCRIBE with an SDP answer.
            90..=94 => {
                let mut t = TcpSession::new(c, cport, s, 554, ts);
                t.open(&mut w)?;
                let url = format!("rtsp://192.0.2.{}/stream1", 1 + r.below(200));
                t.client_send(
                    &mut w,
                    format!(
                        "DESCRIBE {url} RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n"
                    )
                    .as_bytes(),
                )?;
                let sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=Stream\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:track1\r\n";
                t.server_send(
                    &mut w,
                    format!(
                        "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                        sdp.len()
                    )
                    .as_bytes(),
                )?;
                t.close(&mut w)?;
            }
            // Video: a burst of RTP.
            _ => {
                ssrc_seq = ssrc_seq.wrapping_add(1);
                let payload = [0x5c_u8; 1200];
                for i in 0..12u16 {
                    let p = rtp_packet(96, i, u32::from(i) * 3000, u32::from(ssrc_seq), &payload);
                    w.packet(
                        ts + f64::from(i) * 0.001,
                        &udp_frame(&s, 5000, &c, cport, i, &p),
                    )?;
                }
            }
        }
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_arguments_give_the_same_capture() {
        let a = write_realistic(Vec::new(), 300).unwrap().into_inner();
        let b = write_realistic(Vec::new(), 300).unwrap().into_inner();
        assert_eq!(a, b);
        assert!(a.len() > 100_000);
    }
}
