//! The PostgreSQL store: what the replicas of a cluster share — alerts and their outbox,
//! acknowledgements, audits, and the replicas' leases ([`PgStore::renew`]).
//!
//! The schema is versioned: refinery applies `src/sinks/store/migrations/V<n>__*.sql` in
//! order at the first connection, under an advisory lock so that replicas starting together
//! migrate once. The driver is tokio-postgres through its blocking client (`postgres`), on a
//! thread of the store's own: the service's state machine calls the store synchronously, as
//! it calls SQLite, and a PostgreSQL that does not answer costs a caller at most
//! [`CALL_TIMEOUT`], then fails fast while reconnection backs off, so the event loop never
//! waits on a dead database.
//!
//! TLS: with `tls` settings (or `sslmode=require` in the URL) the connection is encrypted with
//! rustls, trusting the system roots, a CA file or a pinned certificate, as every other client
//! of banwatch does; `sslmode=require` without TLS settings trusts the system roots.

use super::{AlertStore, Saved, StoreError};
use crate::model::{Alert, AlertState, DeviceAudit};
use postgres::error::SqlState;
use postgres::{Client, NoTls};
use std::collections::BTreeMap;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

refinery::embed_migrations!("src/sinks/store/migrations");

/// The longest a caller waits for one store call (connect, or a statement).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Waits between reconnection attempts while PostgreSQL is unreachable: from this …
const RETRY_MIN: Duration = Duration::from_millis(500);
/// … doubling up to this.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// The advisory lock key replicas take while migrating (any constant of banwatch's own).
const MIGRATION_LOCK: i64 = 0x6261_6e77_6174_6368; // "banwatch"

type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// A connection to the shared store, as replica `replica`. Cheap to clone: every clone
/// talks through the same store thread and connection.
#[derive(Clone)]
pub struct PgStore {
    jobs: mpsc::Sender<Job>,
    /// When the store thread started the call it is on, if any.
    busy_since: Arc<Mutex<Option<Instant>>>,
    name: String,
    replica: String,
}

/// One live replica as its lease row says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    /// Its identity (`[cluster] replica`, else `HOSTNAME`).
    pub id: String,
    /// The hash of its configuration.
    pub config_hash: String,
}

/// The store thread's side: the connection, made (and the schema migrated) on demand.
struct Session {
    config: postgres::Config,
    /// `None`: plain TCP.
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    client: Option<Client>,
    retry_at: Option<Instant>,
    backoff: Duration,
    migrated: bool,
    /// Why the last connection attempt failed (said again while reconnection backs off).
    last_error: String,
}

/// An error with its causes ("error performing TLS handshake: invalid peer certificate: …"):
/// the driver's own message leaves the cause out.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

impl Session {
    fn client(&mut self) -> Result<&mut Client, String> {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        if self.client.is_none() {
            if let Some(at) = self.retry_at {
                if Instant::now() < at {
                    return Err(format!("unreachable (reconnecting): {}", self.last_error));
                }
            }
            match self.connect() {
                Ok(c) => {
                    self.client = Some(c);
                    self.retry_at = None;
                    self.backoff = RETRY_MIN;
                }
                Err(e) => {
                    self.last_error = e.clone();
                    self.retry_at = Some(Instant::now() + self.backoff);
                    self.backoff = (self.backoff * 2).min(RETRY_MAX);
                    return Err(e);
                }
            }
        }
        self.client.as_mut().ok_or_else(|| "not connected".into())
    }

    fn connect(&mut self) -> Result<Client, String> {
        let mut c = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        }
        .map_err(|e| with_causes(&e))?;
        if !self.migrated {
            c.query("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
                .map_err(|e| e.to_string())?;
            let r = migrations::runner().run(&mut c);
            let _ = c.query("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
            let report = r.map_err(|e| format!("schema migration: {e}"))?;
            for m in report.applied_migrations() {
                tracing::info!(
                    version = m.version(),
                    name = m.name(),
                    "store schema migrated"
                );
            }
            self.migrated = true;
        }
        Ok(c)
    }
}

/// `postgres://user@host:port/db` without the password, for messages.
fn display_name(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "postgresql (connection string)".into(),
    }
}

impl PgStore {
    /// Start the store thread for `url` (a libpq URL or key=value string) as replica
    /// `replica`, over TLS when `tls` is given or the URL says `sslmode=require`. Connecting
    /// and migrating happen at the first call, so a database that is down at start delays only
    /// the calls. Errors: a URL that does not parse, TLS settings that cannot be used.
    pub fn open(
        url: &str,
        replica: &str,
        tls: Option<&crate::net::tls::TlsSettings>,
    ) -> Result<PgStore, StoreError> {
        let name = display_name(url);
        let err = |message: String| StoreError::Db {
            store: name.clone(),
            message,
        };
        let mut config: postgres::Config = url.parse().map_err(|e| err(format!("{e}")))?;
        let require = config.get_ssl_mode() == postgres::config::SslMode::Require;
        let tls = match (tls, require) {
            (None, false) => None,
            (settings, _) => {
                let settings = settings.cloned().unwrap_or_default();
                if !require {
                    // TLS was asked for in the settings: never fall back to plain text.
                    config.ssl_mode(postgres::config::SslMode::Require);
                }
                let c = crate::net::tls::client_config(&settings)
                    .map_err(|e| err(format!("tls: {e}")))?;
                Some(tokio_postgres_rustls::MakeRustlsConnect::new(c))
            }
        };
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(3));
        }
        config.application_name(&format!("banwatch {replica}"));
        config.keepalives_idle(Duration::from_secs(10));
        // A database that stops acknowledging breaks the connection instead of hanging it.
        config.tcp_user_timeout(CALL_TIMEOUT);
        // A statement never holds the service longer than a caller waits.
        config.options(&format!(
            "-c statement_timeout={}",
            CALL_TIMEOUT.as_millis().saturating_sub(500)
        ));
        let (jobs, rx) = mpsc::channel::<Job>();
        let busy_since: Arc<Mutex<Option<Instant>>> = Arc::default();
        let busy = busy_since.clone();
        let mut session = Session {
            config,
            tls,
            client: None,
            retry_at: None,
            backoff: RETRY_MIN,
            migrated: false,
            last_error: String::new(),
        };
        std::thread::Builder::new()
            .name("banwatch-store".into())
            .spawn(move || {
                let mark = |v| *busy.lock().unwrap_or_else(|p| p.into_inner()) = v;
                for job in rx {
                    mark(Some(Instant::now()));
                    job(&mut session);
                    mark(None);
                }
            })
            .map_err(|e| err(format!("store thread: {e}")))?;
        Ok(PgStore {
            jobs,
            busy_since,
            name,
            replica: replica.to_string(),
        })
    }

    /// The replica this store writes as.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    fn err(&self, message: impl std::fmt::Display) -> StoreError {
        StoreError::Db {
            store: self.name.clone(),
            message: message.to_string(),
        }
    }

    /// Run `f` on the store thread's connection and wait for it (at most [`CALL_TIMEOUT`]).
    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.call_raw(move |c| f(c).map_err(Failure::Db))
            .map_err(|f| self.err(f))
    }

    fn call_raw<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        // A call stuck on a database that does not answer: fail at once rather than queue
        // behind it (the event loop must not wait on a dead database call after call).
        let stuck = self
            .busy_since
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|t| t.elapsed() > CALL_TIMEOUT);
        if stuck {
            return Err(Failure::Unreachable(format!(
                "a call has waited over {CALL_TIMEOUT:?} for the database"
            )));
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |s: &mut Session| {
            let r = match s.client() {
                Ok(c) => f(c),
                Err(m) => Err(Failure::Unreachable(m)),
            };
            let _ = tx.send(r);
        });
        self.jobs
            .send(job)
            .map_err(|_| Failure::Unreachable("the store thread has stopped".into()))?;
        rx.recv_timeout(CALL_TIMEOUT)
            .map_err(|_| Failure::Unreachable(format!("no answer within {CALL_TIMEOUT:?}")))?
    }

    /// Rows of (text, JSON body) read by `sql` with `args`; a body that does not parse is
    /// logged as an unreadable `what` row and skipped.
    fn keyed_rows<T: serde::de::DeserializeOwned>(
        &self,
        sql: &'static str,
        args: Vec<String>,
        what: &str,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let rows = self.call(move |c| {
            let params: Vec<&(dyn postgres::types::ToSql + Sync)> = args
                .iter()
                .map(|a| a as &(dyn postgres::types::ToSql + Sync))
                .collect();
            Ok(c.query(sql, &params)?
                .iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
                .collect::<Vec<_>>())
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(key, body)| match serde_json::from_str(&body) {
                Ok(v) => Some((key, v)),
                Err(e) => {
                    tracing::warn!("{}: unreadable {what} row: {e}", self.name);
                    None
                }
            })
            .collect())
    }

    /// Alerts read by `sql` (selecting id and body) with `args`.
    fn alerts(&self, sql: &'static str, args: Vec<String>) -> Result<Vec<Alert>, StoreError> {
        Ok(self
            .keyed_rows::<Alert>(sql, args, "alert")?
            .into_iter()
            .map(|(_, a)| a)
            .collect())
    }

    /// Renew this replica's lease for `lease_secs` (by the database's clock) with its
    /// configuration's hash, and return every replica whose lease has not expired, this one
    /// included, ordered by id.
    pub fn renew(&self, lease_secs: f64, config_hash: &str) -> Result<Vec<Replica>, StoreError> {
        let (me, hash) = (self.replica.clone(), config_hash.to_string());
        self.call(move |c| {
            c.execute(
                "INSERT INTO replicas (replica, config_hash, started_at, renewed_at, expires_at)
                 VALUES ($1, $2, now(), now(), now() + make_interval(secs => $3))
                 ON CONFLICT (replica) DO UPDATE SET config_hash = $2, renewed_at = now(),
                     expires_at = now() + make_interval(secs => $3)",
                &[&me, &hash, &lease_secs],
            )?;
            let rows = c.query(
                "SELECT replica, config_hash FROM replicas WHERE expires_at > now() ORDER BY replica",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| Replica {
                    id: r.get(0),
                    config_hash: r.get(1),
                })
                .collect())
        })
    }

    /// Give the lease up (a clean stop): the others take this replica's feeds at once.
    pub fn release(&self) -> Result<(), StoreError> {
        let me = self.replica.clone();
        self.call(move |c| {
            c.execute("DELETE FROM replicas WHERE replica = $1", &[&me])?;
            c.execute("DELETE FROM feed_owners WHERE replica = $1", &[&me])?;
            Ok(())
        })
    }

    /// Record that this replica taps exactly `feeds` now.
    pub fn record_feeds(&self, feeds: Vec<String>) -> Result<(), StoreError> {
        let me = self.replica.clone();
        self.call(move |c| {
            let mut t = c.transaction()?;
            t.execute(
                "DELETE FROM feed_owners WHERE replica = $1 AND NOT (feed = ANY($2))",
                &[&me, &feeds],
            )?;
            t.execute(
                "INSERT INTO feed_owners (feed, replica, since) SELECT f, $1, now() FROM unnest($2::text[]) AS f
                 ON CONFLICT (feed) DO UPDATE SET replica = $1, since = now()
                 WHERE feed_owners.replica <> $1",
                &[&me, &feeds],
            )?;
            t.commit()
        })
    }

    /// Firing alerts with the replica that owns each.
    pub fn firing_owners(&self) -> Result<Vec<(Alert, String)>, StoreError> {
        Ok(self
            .keyed_rows::<Alert>(
                "SELECT replica, body FROM alerts WHERE state = 'firing' ORDER BY started_at",
                vec![],
                "alert",
            )?
            .into_iter()
            .map(|(owner, a)| (a, owner))
            .collect())
    }

    /// Take alert `id` over from replica `from` (no-op if someone else already did).
    /// Returns whether this replica owns it now.
    pub fn claim(&self, id: &str, from: &str) -> Result<bool, StoreError> {
        let (id, from, me) = (id.to_string(), from.to_string(), self.replica.clone());
        self.call(move |c| {
            let n = c.execute(
                "UPDATE alerts SET replica = $1 WHERE id = $2 AND replica = $3 AND state = 'firing'",
                &[&me, &id, &from],
            )?;
            Ok(n == 1)
        })
    }
}

/// Why a call failed.
enum Failure {
    Db(postgres::Error),
    Unreachable(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Db(e) => match e.as_db_error() {
                Some(d) => write!(f, "{}: {}", d.code().code(), d.message()),
                None => write!(f, "{e}"),
            },
            Failure::Unreachable(m) => write!(f, "{m}"),
        }
    }
}

fn state_text(s: AlertState) -> &'static str {
    match s {
        AlertState::Firing => "firing",
        AlertState::Resolved => "resolved",
    }
}

impl AlertStore for PgStore {
    fn save(&self, alert: &Alert, announce: Option<&[&str]>) -> Result<Saved, StoreError> {
        let body = serde_json::to_string(alert).map_err(|e| self.err(e))?;
        let owed = announce.map(|names| names.join(","));
        let a = alert.clone();
        let me = self.replica.clone();
        let r = self.call_raw(move |c| {
            let state = state_text(a.state);
            let r = c.execute(
                "INSERT INTO alerts (id, device, technique, state, started_at, resolved_at, body, undelivered, replica)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8, ''), $9)
                 ON CONFLICT (id) DO UPDATE SET state = $4, resolved_at = $6, body = $7,
                     undelivered = coalesce($8, alerts.undelivered),
                     replica = CASE WHEN $8 IS NULL THEN alerts.replica ELSE $9 END",
                &[&a.id, &a.device.0, &a.technique.as_str(), &state, &a.started_at, &a.resolved_at, &body, &owed, &me],
            );
            match r {
                Ok(_) => Ok(None),
                Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                    // Another replica's alert fires for this device and technique.
                    let row = c
                        .query_opt(
                            "SELECT body FROM alerts WHERE device = $1 AND technique = $2 AND state = 'firing'",
                            &[&a.device.0, &a.technique.as_str()],
                        )
                        .map_err(Failure::Db)?;
                    Ok(row.map(|r| r.get::<_, String>(0)))
                }
                Err(e) => Err(Failure::Db(e)),
            }
        });
        match r.map_err(|f| self.err(f))? {
            None => Ok(Saved::Stored),
            Some(body) => serde_json::from_str(&body)
                .map(Saved::Existing)
                .map_err(|e| self.err(format!("unreadable alert row: {e}"))),
        }
    }

    fn delivered(&self, id: &str, sink: &str) -> Result<(), StoreError> {
        let (id, sink) = (id.to_string(), sink.to_string());
        self.call(move |c| {
            // Strike `sink` off the comma-separated list, in one statement.
            c.execute(
                "UPDATE alerts SET undelivered = array_to_string(array_remove(string_to_array(undelivered, ','), $2), ',')
                 WHERE id = $1",
                &[&id, &sink],
            )?;
            Ok(())
        })
    }

    fn undelivered(&self) -> Result<Vec<(Alert, Vec<String>)>, StoreError> {
        Ok(self
            .keyed_rows::<Alert>(
                "SELECT undelivered, body FROM alerts WHERE undelivered <> '' AND replica = $1 ORDER BY started_at",
                vec![self.replica.clone()],
                "alert",
            )?
            .into_iter()
            .map(|(owed, a)| (a, owed.split(',').map(str::to_string).collect()))
            .collect())
    }

    fn acknowledge(&self, id: &str, at: &str, note: &str) -> Result<bool, StoreError> {
        let (id, at, note) = (id.to_string(), at.to_string(), note.to_string());
        self.call(move |c| {
            let n = c.execute(
                "INSERT INTO acks (id, at, note) SELECT id, $2, $3 FROM alerts WHERE id = $1
                 ON CONFLICT (id) DO UPDATE SET at = $2, note = $3",
                &[&id, &at, &note],
            )?;
            Ok(n == 1)
        })
    }

    fn acks(&self) -> Result<BTreeMap<String, (String, String)>, StoreError> {
        self.call(|c| {
            let rows = c.query(
                "SELECT id, at, note FROM acks ORDER BY at DESC LIMIT 100000",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), (r.get(1), r.get(2))))
                .collect())
        })
    }

    fn save_audit(&self, audit: &DeviceAudit, at: &str) -> Result<(), StoreError> {
        let body = serde_json::to_string(audit).map_err(|e| self.err(e))?;
        let (device, at) = (audit.device.0.clone(), at.to_string());
        self.call(move |c| {
            c.execute(
                "INSERT INTO audits (device, at, body) VALUES ($1, $2, $3)
                 ON CONFLICT (device) DO UPDATE SET at = $2, body = $3",
                &[&device, &at, &body],
            )?;
            Ok(())
        })
    }

    fn audits(&self) -> Result<Vec<(String, DeviceAudit)>, StoreError> {
        self.keyed_rows(
            "SELECT at, body FROM audits ORDER BY device",
            vec![],
            "audit",
        )
    }

    fn heartbeat(&self, at: &str) -> Result<(), StoreError> {
        let (me, at) = (self.replica.clone(), at.to_string());
        self.call(move |c| {
            c.execute(
                "INSERT INTO heartbeat (replica, at) VALUES ($1, $2)
                 ON CONFLICT (replica) DO UPDATE SET at = $2",
                &[&me, &at],
            )?;
            Ok(())
        })
    }

    fn firing(&self) -> Result<Vec<Alert>, StoreError> {
        self.alerts(
            "SELECT id, body FROM alerts WHERE state = 'firing' ORDER BY started_at",
            vec![],
        )
    }

    fn since(&self, since: &str) -> Result<Vec<Alert>, StoreError> {
        self.alerts(
            "SELECT id, body FROM alerts WHERE resolved_at IS NULL OR resolved_at >= $1 ORDER BY started_at",
            vec![since.to_string()],
        )
    }

    fn recent(&self) -> Result<Vec<Alert>, StoreError> {
        self.alerts(
            "SELECT id, body FROM alerts ORDER BY started_at DESC LIMIT 1000",
            vec![],
        )
    }
}
