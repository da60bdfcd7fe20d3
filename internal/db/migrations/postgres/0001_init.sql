-- Ward schema, PostgreSQL dialect. Keep in step with ../sqlite/0001_init.sql.

-- The audit trail (45 CFR 164.312(b) audit controls): append-only and
-- hash-chained. audit_head holds the last sequence number and hash; every
-- append updates it in the appending transaction, which serialises writers.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    source_ip   TEXT NOT NULL,
    digest      TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ
);

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE incidents (
    id             TEXT PRIMARY KEY,
    number         TEXT NOT NULL UNIQUE,
    title          TEXT NOT NULL,
    description    TEXT NOT NULL,
    severity       TEXT NOT NULL,
    category       TEXT NOT NULL,
    phi_suspected  BOOLEAN NOT NULL,
    occurred_at    TIMESTAMPTZ,
    detected_at    TIMESTAMPTZ NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    closed_at      TIMESTAMPTZ,
    status         TEXT NOT NULL,
    resolution     TEXT NOT NULL,
    commander      TEXT NOT NULL,
    customers      TEXT NOT NULL,
    not_applicable TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    version        BIGINT NOT NULL,
    -- Lower-cased number and title, folded in Go (Unicode-aware) for the
    -- list's text filter; in the index so that a search reads no table rows.
    search         TEXT NOT NULL
);
CREATE INDEX incidents_created ON incidents (created_at, id, search);
CREATE INDEX incidents_status ON incidents (status, created_at, id);
CREATE INDEX incidents_severity ON incidents (severity, created_at, id);
CREATE INDEX incidents_category ON incidents (category, created_at, id);

-- The timeline: one row per change to an incident; seq is the incident's
-- version after the change.
CREATE TABLE incident_events (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    seq         BIGINT NOT NULL,
    id          TEXT NOT NULL UNIQUE,
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    note        TEXT NOT NULL,
    changes     TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
);
CREATE INDEX incident_events_kind ON incident_events (incident_id, kind, seq);

CREATE TABLE incident_tasks (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    title       TEXT NOT NULL,
    owner       TEXT NOT NULL,
    due_at      TIMESTAMPTZ,
    done        BOOLEAN NOT NULL,
    done_at     TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX incident_tasks_incident ON incident_tasks (incident_id, created_at, id);
