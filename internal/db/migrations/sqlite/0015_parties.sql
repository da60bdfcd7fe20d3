-- Parties and contracts of breach cases, and affected individuals at scale
-- (issue #5), SQLite dialect. Keep in step with ../postgres/0015_parties.sql.

-- Counting a case's individuals per State and customer (45 CFR
-- 164.404(d), 164.406, 164.410) reads only this index, never the rows
-- with their sealed records.
DROP INDEX breach_individuals_state;
CREATE INDEX breach_individuals_counts ON breach_individuals (case_id, state, customer, deceased, has_address, has_email,
    consent_electronic, has_next_of_kin_address);

-- An interrupted import resumes after its last committed line when the
-- same file (by SHA-256) is imported into the same case again.
ALTER TABLE breach_individual_imports ADD COLUMN file_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE breach_individual_imports ADD COLUMN last_line INTEGER NOT NULL DEFAULT 0;
CREATE INDEX breach_individual_imports_file ON breach_individual_imports (case_id, file_sha256);

-- What the organisation running Ward is under HIPAA: covered_entity,
-- business_associate or both (45 CFR 160.103). One row.
CREATE TABLE breach_organisation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    role       TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- The parties of our contracts: customers that are covered entities (we
-- are their business associate, 164.410) and our business associates
-- (vendors, 164.504(e)), each with the notice terms of its BAA or MSA.
CREATE TABLE breach_parties (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,           -- customer | business_associate
    name             TEXT NOT NULL,
    agreement        TEXT NOT NULL,           -- the BAA / MSA it is bound by, e.g. "BAA 2024-03"
    notice_amount    INTEGER NOT NULL,        -- 0: the agreement sets no term
    notice_unit      TEXT NOT NULL,           -- hours | days | ''
    notice_business  BOOLEAN NOT NULL,        -- business days, not calendar days
    contact_name     TEXT NOT NULL,
    contact_email    TEXT NOT NULL,
    contact_address  TEXT NOT NULL,
    notice_channel   TEXT NOT NULL,           -- how to notify: email, mail, phone, portal
    notice_contents  TEXT NOT NULL,           -- what the notice must contain, as the agreement says
    notice_checklist TEXT NOT NULL,           -- JSON array of the elements to tick off
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    archived_at      TIMESTAMP,
    UNIQUE (kind, name)
);
