-- Breach cases (issue #5), SQLite dialect. Keep in step with
-- ../postgres/0010_breach.sql.

-- One breach case per incident: the facts its notice obligations depend
-- on (JSON, package breach/rules Facts without the determination's
-- result), and the outcome of its latest signed determination.
CREATE TABLE breach_cases (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL UNIQUE REFERENCES incidents (id),
    facts       TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    opened_by   TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    version     BIGINT NOT NULL
);

-- Every determination, in versions: a signed one is never changed; new
-- facts make a new version with the reason (164.402, 164.530(j)).
CREATE TABLE breach_determinations (
    case_id    TEXT NOT NULL REFERENCES breach_cases (id),
    version    INTEGER NOT NULL,
    body       TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    citation   TEXT NOT NULL,
    why        TEXT NOT NULL,
    reason     TEXT NOT NULL,
    signed_by  TEXT NOT NULL,
    signed_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (case_id, version)
);

-- The notice obligations the rules compute from the facts, replaced on
-- every recomputation; met_at records that the notice was made.
CREATE TABLE breach_obligations (
    case_id     TEXT NOT NULL REFERENCES breach_cases (id),
    obligation  TEXT NOT NULL,
    body        TEXT NOT NULL,
    due_at      TIMESTAMP NOT NULL,
    met_at      TIMESTAMP,
    met_by      TEXT NOT NULL,
    computed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (case_id, obligation)
);
CREATE INDEX breach_obligations_due ON breach_obligations (due_at) WHERE met_at IS NULL;
