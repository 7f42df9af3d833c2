-- banwatch's shared store, version 1: the alert store and outbox (as SQLite's), plus the
-- replicas' leases and who taps which feed. Times the service compares are PostgreSQL's own
-- (now()), so replicas' clocks need not agree; the alerts' RFC 3339 texts are banwatch's.
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    technique TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at TEXT NOT NULL,
    resolved_at TEXT,
    body TEXT NOT NULL,
    -- sinks that have not taken the latest state change, comma-separated
    undelivered TEXT NOT NULL DEFAULT '',
    -- the replica that owes those deliveries and resolves the alert when it goes quiet
    replica TEXT NOT NULL
);
-- One firing alert per device and technique across the cluster: a second replica's insert
-- fails here and that replica carries on with the stored alert.
CREATE UNIQUE INDEX alerts_one_firing ON alerts (device, technique) WHERE state = 'firing';
CREATE INDEX alerts_resolved_at ON alerts (resolved_at);
CREATE INDEX alerts_started_at ON alerts (started_at);

CREATE TABLE acks (
    id TEXT PRIMARY KEY REFERENCES alerts (id),
    at TEXT NOT NULL,
    note TEXT NOT NULL
);

CREATE TABLE audits (
    device TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    body TEXT NOT NULL
);

CREATE TABLE heartbeat (
    replica TEXT PRIMARY KEY,
    at TEXT NOT NULL
);

-- A replica is live while expires_at is in the future; it renews its row well before.
CREATE TABLE replicas (
    replica TEXT PRIMARY KEY,
    config_hash TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    renewed_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

-- Which replica taps each feed (written by the owner; for people and dashboards).
CREATE TABLE feed_owners (
    feed TEXT PRIMARY KEY,
    replica TEXT NOT NULL,
    since TIMESTAMPTZ NOT NULL
);
