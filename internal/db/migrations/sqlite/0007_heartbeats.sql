-- Heartbeat monitors (issue #4), SQLite dialect. Keep in step with
-- ../postgres/0007_heartbeats.sql.

-- A heartbeat is an integration key of kind heartbeat that a job pings at
-- /heartbeat/{key} at least every interval_seconds. When due_at passes
-- without a ping, Ward raises an alert on the key's service (state down);
-- the next ping resolves it (state up). state is waiting until the first
-- ping.
CREATE TABLE heartbeats (
    integration_id   TEXT PRIMARY KEY REFERENCES integration_keys (id),
    interval_seconds INTEGER NOT NULL,
    state            TEXT NOT NULL,
    last_ping_at     TIMESTAMP,
    due_at           TIMESTAMP NOT NULL
);
CREATE INDEX heartbeats_due ON heartbeats (due_at) WHERE state <> 'down';
