//! Plumbing shared by the live taps of `banwatch serve`: what a tap delivers ([`TapEvent`]), how
//! it reports its health ([`FeedHealth`], read by /metrics and the API), and how it waits before
//! reconnecting ([`Backoff`]). Kept free of any runtime so every tap and the service agree on it.

use crate::model::Observation;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Observations a feed produced, with the configured device they are about (when the feed
/// belongs to one device, e.g. a camera's RTSP stream or event stream). Feeds that see many
/// devices (captures, Zeek/EVE logs, an MQTT broker) leave `device` empty and the service
/// attributes by address.
#[derive(Debug, Clone)]
pub struct TapEvent {
    pub feed: String,
    pub device: Option<String>,
    pub observations: Vec<Observation>,
    /// Wall-clock seconds when the message arrived (for event-to-alert latency).
    pub received: f64,
}

/// Live health of one feed. Counters only grow; `up` flips.
#[derive(Debug, Default)]
pub struct FeedHealth {
    pub up: AtomicBool,
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    pub decode_errors: AtomicU64,
    pub reconnects: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl FeedHealth {
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Relaxed);
    }
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }
    pub fn add_message(&self, bytes: usize) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }
    pub fn add_decode_error(&self, why: &str) {
        self.decode_errors.fetch_add(1, Ordering::Relaxed);
        self.set_error(why);
    }
    pub fn set_error(&self, why: &str) {
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(why.to_string());
        }
    }
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }
}

/// Capped exponential backoff with full jitter, reset after a connection that stayed up.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    attempt: u32,
    seed: u64,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15)
            | 1;
        Backoff {
            initial,
            max,
            attempt: 0,
            seed,
        }
    }

    /// The next wait: uniformly random in [cap/2, cap], cap = min(max, initial * 2^attempt).
    pub fn next_delay(&mut self) -> Duration {
        let exp = self.initial.saturating_mul(1u32 << self.attempt.min(20));
        let cap = exp.min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        // xorshift64: jitter needs no cryptographic quality.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let frac = (self.seed % 1000) as f64 / 1000.0;
        cap.mul_f64(0.5 + 0.5 * frac)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut last_cap = Duration::ZERO;
        for i in 0..12 {
            let d = b.next_delay();
            let cap = Duration::from_millis(100)
                .saturating_mul(1 << i)
                .min(Duration::from_secs(5));
            assert!(d <= cap && d >= cap / 2, "{i}: {d:?} vs {cap:?}");
            last_cap = cap;
        }
        assert_eq!(last_cap, Duration::from_secs(5));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
