-- Retention and legal hold (issue #13), postgres dialect. Keep in step with
-- ../sqlite/0026_retention.sql.

-- The retention policy an administrator set (package retention, Policy as
-- JSON); no row means the shipped defaults: six years from when a record
-- was last in effect (45 CFR 164.316(b)(2)(i)).
CREATE TABLE retention_policy (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    body       TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version    BIGINT NOT NULL
);

-- Legal holds: while one is in force (released_at IS NULL) nothing of the
-- incident, or of its breach case, is purged. scope is 'incident' or
-- 'breach_case' (a case is its incident's, one to one). reason and
-- release_reason are free text, sealed (keys.LegalHoldReason,
-- keys.LegalHoldReleaseReason).
CREATE TABLE legal_holds (
    id             TEXT PRIMARY KEY,
    incident_id    TEXT NOT NULL REFERENCES incidents (id),
    scope          TEXT NOT NULL,
    reason         TEXT NOT NULL,
    placed_by      TEXT NOT NULL,
    placed_at      TIMESTAMP NOT NULL,
    released_by    TEXT NOT NULL DEFAULT '',
    released_at    TIMESTAMP,
    release_reason TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX legal_holds_active ON legal_holds (incident_id, scope) WHERE released_at IS NULL;
CREATE INDEX legal_holds_incident ON legal_holds (incident_id, placed_at);

-- One row per purge run, and one tombstone per record it removed: what was
-- purged (type, id, and for incidents and cases the incident number), when,
-- by which run, how many rows went with it, and the sequence number of the
-- audit entry that records it. Tombstones hold no PHI; the purged records'
-- own audit entries stay, so the chain still verifies.
CREATE TABLE retention_runs (
    id          TEXT PRIMARY KEY,
    actor       TEXT NOT NULL,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    counts      TEXT NOT NULL
);
CREATE INDEX retention_runs_started ON retention_runs (started_at);

CREATE TABLE retention_tombstones (
    record_type TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    label       TEXT NOT NULL,
    rows_purged BIGINT NOT NULL,
    run_id      TEXT NOT NULL REFERENCES retention_runs (id),
    purged_at   TIMESTAMP NOT NULL,
    audit_seq   BIGINT NOT NULL,
    PRIMARY KEY (record_type, record_id)
);
CREATE INDEX retention_tombstones_run ON retention_tombstones (run_id);
