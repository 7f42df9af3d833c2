//! The one clock: wall time as Unix seconds (`f64`, the unit of every `ts` in banwatch), and RFC
//! 3339 text both ways, through the `time` crate.
//!
//! Reports and stores write instants as `2023-11-14T22:13:20.000000Z` (UTC, always six fractional
//! digits, DESIGN.md §4). Logs from other tools are read with any offset: Suricata EVE writes
//! `2026-11-02T09:00:01.123456+0000`, Alertmanager and RFC 3339 proper `…+00:00` or `…Z`.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Wall-clock seconds since the Unix epoch (0.0 if the system clock is before 1970).
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Format Unix seconds as RFC 3339 UTC with microseconds. Instants that are not finite, before
/// 1970 or past year 9999 are written as the epoch.
pub fn rfc3339(ts: f64) -> String {
    const EPOCH: &str = "1970-01-01T00:00:00.000000Z";
    if !ts.is_finite() || !(0.0..253_402_300_800.0).contains(&ts) {
        return EPOCH.to_string();
    }
    let micros = (ts * 1_000_000.0).round() as i128;
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    OffsetDateTime::from_unix_timestamp_nanos(micros * 1000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| EPOCH.to_string())
}

/// Parse an RFC 3339 instant (`Z`, `+hh:mm`) or the `+hhmm` offset form of Suricata EVE, into
/// Unix seconds. `None` if the text is not such an instant.
pub fn parse_rfc3339(text: &str) -> Option<f64> {
    let t = text.trim();
    let parsed = OffsetDateTime::parse(t, &Rfc3339).ok().or_else(|| {
        // EVE: fractional seconds optional, offset without a colon.
        let (local, offset) = t.split_at_checked(t.len().checked_sub(5)?)?;
        let sign = match offset.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let hh: i8 = offset.get(1..3)?.parse().ok()?;
        let mm: i8 = offset.get(3..5)?.parse().ok()?;
        let off = UtcOffset::from_hms(sign * hh, sign * mm, 0).ok()?;
        let with_frac =
            format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]");
        let without = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
        let dt = PrimitiveDateTime::parse(local, &with_frac)
            .or_else(|_| PrimitiveDateTime::parse(local, &without))
            .ok()?;
        Some(dt.assume_offset(off))
    })?;
    Some(parsed.unix_timestamp() as f64 + f64::from(parsed.nanosecond()) / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(951_782_400.5), "2000-02-29T00:00:00.500000Z");
        assert_eq!(rfc3339(1_700_000_000.0), "2023-11-14T22:13:20.000000Z");
        assert_eq!(rfc3339(f64::NAN), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(-5.0), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn parses_what_it_writes_and_what_others_write() {
        for ts in [0.0, 951_782_400.5, 1_700_000_000.25] {
            assert_eq!(parse_rfc3339(&rfc3339(ts)), Some(ts));
        }
        assert_eq!(
            parse_rfc3339("2023-11-14T23:13:20.5+0100"),
            Some(1_700_000_000.5)
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T17:13:20-05:00"),
            Some(1_700_000_000.0)
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20+0000"),
            Some(1_700_000_000.0)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2023-13-14T22:13:20Z"), None);
        // The offset is cut by byte position: a multi-byte character there is not an instant,
        // and not a panic.
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20€1234"), None);
        assert_eq!(parse_rfc3339("€"), None);
    }
}
