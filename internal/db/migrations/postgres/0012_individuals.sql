-- Affected individuals of a breach case (issue #5), PostgreSQL dialect. Keep in
-- step with ../sqlite/0012_individuals.sql.

-- The key of each case's dedupe hashes: random, sealed (package keys,
-- breach_cases.individuals_key), made at the case's first import.
ALTER TABLE breach_cases ADD COLUMN individuals_key TEXT NOT NULL DEFAULT '';

-- One row per affected individual. The PHI (name, addresses, email,
-- phone, date of birth, next of kin) is only in record, sealed; dedupe_key
-- is an HMAC-SHA256 of the normalised name, date of birth and postal
-- address under the case's individuals_key, so a re-import updates the
-- row instead of adding one. state and the flags hold no PHI on their own
-- and are kept in clear for counting (45 CFR 164.404(d), 164.406).
CREATE TABLE breach_individuals (
    id                      TEXT PRIMARY KEY,
    case_id                 TEXT NOT NULL REFERENCES breach_cases (id),
    dedupe_key              TEXT NOT NULL,
    state                   TEXT NOT NULL,
    has_address             BOOLEAN NOT NULL,
    has_email               BOOLEAN NOT NULL,
    deceased                BOOLEAN NOT NULL,
    has_next_of_kin_address BOOLEAN NOT NULL,
    consent_electronic      BOOLEAN NOT NULL,
    customer                TEXT NOT NULL,
    record                  TEXT NOT NULL,
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL,
    UNIQUE (case_id, dedupe_key)
);
CREATE INDEX breach_individuals_state ON breach_individuals (case_id, state);

-- Each import of a list, with its progress: every batch of rows commits
-- on its own and moves the counts on.
CREATE TABLE breach_individual_imports (
    id          TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES breach_cases (id),
    imported_by TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    lines_read  INTEGER NOT NULL,
    created     INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    rejected    INTEGER NOT NULL
);
