-- Alert intake (issue #4), PostgreSQL dialect. Keep in step with
-- ../sqlite/0004_alerting.sql.

-- A service is something monitored; its alerts open incidents.
-- group_by says how alerts group into incidents: source (the monitoring
-- tool's own grouping: Alertmanager's group, else the dedup key), alert
-- (one incident per dedup key) or service (one open incident per service).
CREATE TABLE services (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    description      TEXT NOT NULL,
    handles_phi      BOOLEAN NOT NULL,
    group_by         TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    version          BIGINT NOT NULL
);

-- An integration key lets one monitoring tool send alerts to one service.
-- Only the SHA-256 of the key is kept; hint is its last four characters.
-- mapping is the generic webhook's field mapping (JSON), empty otherwise.
CREATE TABLE integration_keys (
    id          TEXT PRIMARY KEY,
    service_id  TEXT NOT NULL REFERENCES services (id),
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    hint        TEXT NOT NULL,
    mapping     TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT NOT NULL,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX integration_keys_service ON integration_keys (service_id, created_at);

-- One row per alert: repeated triggers with the same dedup key while it is
-- open increment count. details is sealed (it may hold PHI).
CREATE TABLE alerts (
    id              TEXT PRIMARY KEY,
    service_id      TEXT NOT NULL REFERENCES services (id),
    integration_id  TEXT NOT NULL REFERENCES integration_keys (id),
    dedup_key       TEXT NOT NULL,
    group_key       TEXT NOT NULL,
    incident_id     TEXT REFERENCES incidents (id),
    status          TEXT NOT NULL,
    suppressed      BOOLEAN NOT NULL,
    summary         TEXT NOT NULL,
    source          TEXT NOT NULL,
    severity        TEXT NOT NULL,
    component       TEXT NOT NULL,
    grp             TEXT NOT NULL,
    class           TEXT NOT NULL,
    details         TEXT NOT NULL,
    count           BIGINT NOT NULL,
    first_at        TIMESTAMPTZ NOT NULL,
    last_at         TIMESTAMPTZ NOT NULL,
    acknowledged_at TIMESTAMPTZ,
    resolved_at     TIMESTAMPTZ
);
-- At most one open alert per service and dedup key.
CREATE UNIQUE INDEX alerts_open ON alerts (service_id, dedup_key) WHERE resolved_at IS NULL;
CREATE INDEX alerts_first ON alerts (first_at, id);
CREATE INDEX alerts_service ON alerts (service_id, first_at, id);
CREATE INDEX alerts_incident ON alerts (incident_id, first_at, id);

-- The incident each service's alert group feeds while that incident is open.
CREATE TABLE alert_groups (
    service_id  TEXT NOT NULL REFERENCES services (id),
    group_key   TEXT NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    PRIMARY KEY (service_id, group_key)
);

-- While a maintenance window is on, a service's alerts are recorded but
-- open no incident and page nobody.
CREATE TABLE maintenance_windows (
    id          TEXT PRIMARY KEY,
    service_id  TEXT NOT NULL REFERENCES services (id),
    starts_at   TIMESTAMPTZ NOT NULL,
    ends_at     TIMESTAMPTZ NOT NULL,
    reason      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX maintenance_windows_service ON maintenance_windows (service_id, ends_at);
