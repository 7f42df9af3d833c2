//! An inspector's live spot check: record an interface for a while into a capture file
//! (libpcap's savefile), which `scan` then reads like any other capture — the same decoders,
//! report and exit codes.

use super::{open, wait_readable};
use crate::sources::live::context::SourceError;
use std::path::Path;
use std::time::{Duration, Instant};

/// Record `interface` for `duration` into the pcap file `out`. `tick` is called with the time
/// elapsed and the packets recorded so far, at least every [`super::TIMEOUT_MS`]. Returns the packets
/// recorded. Errors name the interface (no such device, no permission: CAP_NET_RAW).
pub fn record(
    interface: &str,
    duration: Duration,
    out: &Path,
    tick: &mut dyn FnMut(Duration, u64),
) -> Result<u64, SourceError> {
    let err = |e: ::pcap::Error| SourceError::Connect(format!("{interface}: {e}"));
    let mut cap = open(interface)?;
    let mut save = cap.savefile(out).map_err(err)?;
    let start = Instant::now();
    let mut packets = 0u64;
    while start.elapsed() < duration {
        match cap.next_packet() {
            Ok(p) => {
                save.write(&p);
                packets += 1;
            }
            Err(::pcap::Error::TimeoutExpired) => wait_readable(&cap),
            Err(e) => return Err(err(e)),
        }
        tick(start.elapsed(), packets);
    }
    save.flush().map_err(err)?;
    Ok(packets)
}

/// A duration as an inspector types it: `90s`, `10m`, `1h`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("duration {text:?}: a number with s, m or h (e.g. 10m)"))?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("duration {text:?}: the unit is s, m or h")),
    };
    if secs == 0 {
        return Err(format!("duration {text:?} is zero"));
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("10d").is_err());
        assert!(parse_duration("m").is_err());
    }
}
