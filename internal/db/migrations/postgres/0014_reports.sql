-- Breach reports (issue #5): the HHS report packet, its filings, deadline
-- reminders and signed proof bundles; PostgreSQL dialect. Keep in step with
-- ../sqlite/0014_reports.sql.

-- The organisation's profile as the HHS breach portal asks for it (the
-- covered entity's name, address, contact and type); one row, id 'org'.
CREATE TABLE report_org_profile (
    id         TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- What the HHS report asks of a case beyond the facts the obligations
-- depend on (type and location of breach, PHI types, safeguards, actions
-- taken, business associate): JSON sealed with the keyring (AAD: this
-- table, column, case_id), since people type its text.
CREATE TABLE report_case_details (
    case_id    TEXT PRIMARY KEY REFERENCES breach_cases (id),
    body       TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Every report filed on the HHS portal, initial or addendum, with the
-- portal's tracking number and the packet as filed; never changed.
CREATE TABLE report_hhs_filings (
    id                    TEXT PRIMARY KEY,
    case_id               TEXT NOT NULL REFERENCES breach_cases (id),
    kind                  TEXT NOT NULL,
    tracking_number       TEXT NOT NULL,
    prior_tracking_number TEXT NOT NULL,
    individuals           INTEGER NOT NULL,
    packet                TEXT NOT NULL,
    filed_at              TIMESTAMPTZ NOT NULL,
    filed_by              TEXT NOT NULL,
    recorded_at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX report_hhs_filings_case ON report_hhs_filings (case_id, recorded_at);

-- Deadline reminders sent, so each is sent once: one per obligation, due
-- date and mark (days before, or 'overdue').
CREATE TABLE report_reminders (
    case_id    TEXT NOT NULL REFERENCES breach_cases (id),
    obligation TEXT NOT NULL,
    due_at     TIMESTAMPTZ NOT NULL,
    mark       TEXT NOT NULL,
    sent_at    TIMESTAMPTZ NOT NULL,
    recipients INTEGER NOT NULL,
    PRIMARY KEY (case_id, obligation, due_at, mark)
);

-- The Ed25519 keys that sign proof bundles: the public key in clear, the
-- private key sealed with the keyring (AAD: this table, column, id).
CREATE TABLE report_signing_keys (
    id          TEXT PRIMARY KEY,
    public_key  TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
