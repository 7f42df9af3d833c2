//! What a live source delivers ([`SourceEvent`]) and how it reports its health ([`FeedHealth`],
//! read by `/metrics` and the API). Kept free of any runtime so every source and the service
//! agree on it.

use crate::model::Observation;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// Observations a feed produced, with the configured device they are about (when the feed
/// belongs to one device, e.g. a camera's RTSP stream or event stream). Feeds that see many
/// devices (captures, Zeek/EVE logs, an MQTT broker) leave `device` empty and the service
/// attributes by address.
#[derive(Debug, Clone)]
pub struct SourceEvent {
    /// The feed's id.
    pub feed: String,
    /// The configured device it belongs to.
    pub device: Option<String>,
    /// What the message showed.
    pub observations: Vec<Observation>,
    /// Wall-clock seconds when the message arrived (for event-to-alert latency).
    pub received: f64,
}

/// Live health of one feed. Counters only grow; `up` flips.
#[derive(Debug, Default)]
pub struct FeedHealth {
    /// Connected now.
    pub up: AtomicBool,
    /// Messages received.
    pub messages: AtomicU64,
    /// Bytes received.
    pub bytes: AtomicU64,
    /// Broken messages counted and skipped.
    pub decode_errors: AtomicU64,
    /// Reconnections.
    pub reconnects: AtomicU64,
    /// Streams restarted because an announced metadata track stayed silent.
    pub watchdog_restarts: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl FeedHealth {
    /// Mark the feed connected or not.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Relaxed);
    }
    /// Whether it is connected.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }
    /// Count one message of `bytes`.
    pub fn add_message(&self, bytes: usize) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }
    /// Count a broken message and remember why.
    pub fn add_decode_error(&self, why: &str) {
        self.decode_errors.fetch_add(1, Ordering::Relaxed);
        self.set_error(why);
    }
    /// Remember why the feed is down.
    pub fn set_error(&self, why: &str) {
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(why.to_string());
        }
    }
    /// Why it was last down, or the last broken message.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }
}
