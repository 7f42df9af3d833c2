//! The alert store. Every alert state change is written here before it is acted on, so a
//! restart — even after SIGKILL — neither loses nor duplicates an alert: firing alerts are
//! reloaded and keep their ids.
//!
//! It is also the sinks' outbox: a state change the sinks must hear of (an alert fired or
//! resolved) is stored together with the names of the sinks that have not taken it yet, in
//! the same row and transaction. Each sink that takes it (queues it in its spool, writes its
//! line) is struck off; whatever is left at start is handed over again, so a crash between
//! the store and a sink loses nothing.
//!
//! Two backends keep the same promises: [`sqlite::SqliteStore`], the embedded default of one
//! machine, and [`postgres::PgStore`], shared by the replicas of a cluster (which also keeps
//! their leases, see [`crate::service::cluster`]).

pub mod postgres;
pub mod sqlite;

use crate::model::{Alert, DeviceAudit};
use std::collections::BTreeMap;

pub use sqlite::SqliteStore;

/// A store that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed; `store` names it (a file, or a PostgreSQL URL without
    /// its password).
    #[error("{store}: {message}")]
    Db {
        /// Which store.
        store: String,
        /// What went wrong.
        message: String,
    },
}

/// What [`AlertStore::save`] did with a new alert.
#[derive(Debug, Clone, PartialEq)]
pub enum Saved {
    /// Stored as given.
    Stored,
    /// Another replica already stores a firing alert for the same device and technique: this
    /// one was not stored; the caller carries on with the stored one (its id and start), so
    /// an alert has one id across the cluster.
    Existing(Alert),
}

/// The operations the service needs of a store. Calls block (a local fsync, or a round trip
/// to PostgreSQL bounded by its timeouts); errors name the store.
pub trait AlertStore: Send {
    /// Insert or update an alert by id. `announce` names the sinks that must hear of this
    /// state change (stored with it, see [`AlertStore::delivered`]); `None` for a change the
    /// sinks are not told of (evidence or confidence moved), which keeps any still owed.
    fn save(&self, alert: &Alert, announce: Option<&[&str]>) -> Result<Saved, StoreError>;

    /// The sink `sink` took the latest state change of alert `id`: strike it off.
    fn delivered(&self, id: &str, sink: &str) -> Result<(), StoreError>;

    /// Alerts whose latest state change some sinks have not taken, with those sinks' names
    /// (in a cluster: the alerts this replica owns).
    fn undelivered(&self) -> Result<Vec<(Alert, Vec<String>)>, StoreError>;

    /// Record that someone took an alert in hand (the API's acknowledge). `Ok(false)` when
    /// no such alert exists.
    fn acknowledge(&self, id: &str, at: &str, note: &str) -> Result<bool, StoreError>;

    /// Acknowledgements by alert id: when, and the note.
    fn acks(&self) -> Result<BTreeMap<String, (String, String)>, StoreError>;

    /// Keep the latest audit of a device (what `/api/v1/audits` and the contractor report
    /// show; counts and switches only), as of `at` (RFC 3339).
    fn save_audit(&self, audit: &DeviceAudit, at: &str) -> Result<(), StoreError>;

    /// The latest audit of every audited device, with when it ran.
    fn audits(&self) -> Result<Vec<(String, DeviceAudit)>, StoreError>;

    /// Write one small row: whether the store takes writes now (readiness).
    fn heartbeat(&self, at: &str) -> Result<(), StoreError>;

    /// Every firing alert (in a cluster: of every replica), oldest first.
    fn firing(&self) -> Result<Vec<Alert>, StoreError>;

    /// Every alert that was firing at some time at or after `since` (RFC 3339): still
    /// firing, or resolved at or after it; oldest first.
    fn since(&self, since: &str) -> Result<Vec<Alert>, StoreError>;

    /// The most recent alerts (up to 1,000), firing or resolved, newest first.
    fn recent(&self) -> Result<Vec<Alert>, StoreError>;

    /// Start a group of writes made durable together by [`AlertStore::commit`] (one fsync
    /// for a burst of alerts instead of one each). `Ok(false)`: this store writes each change
    /// durably on its own and has no groups (the default).
    fn begin(&self) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Make the group's writes durable. On an error none of them is stored (rolled back).
    fn commit(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
