-- Breach notices (issue #5, docs/NOTICES.md), PostgreSQL dialect. Keep in step
-- with ../sqlite/0013_notices.sql.

-- Notice templates: every version of each (template_id), in Markdown with
-- merge fields. A version is a draft until approved; editing an approved
-- one adds a new draft version, and approving it supersedes the last.
CREATE TABLE notice_templates (
    id          TEXT PRIMARY KEY,
    template_id TEXT NOT NULL,
    version     INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    status      TEXT NOT NULL, -- draft, approved, superseded
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    approved_by TEXT NOT NULL DEFAULT '',
    approved_at TIMESTAMPTZ,
    UNIQUE (template_id, version)
);
CREATE INDEX notice_templates_kind ON notice_templates (kind, status);

-- What a case's notices say and who gives them (the merge values): no PHI
-- of any individual.
CREATE TABLE notice_settings (
    case_id    TEXT PRIMARY KEY REFERENCES breach_cases (id),
    body       TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Each generation of notices: the template version and the settings it
-- used, so what was sent can be shown later.
CREATE TABLE notice_runs (
    id           TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES breach_cases (id),
    kind         TEXT NOT NULL,
    template_ref TEXT NOT NULL REFERENCES notice_templates (id),
    settings     TEXT NOT NULL,
    generated_by TEXT NOT NULL,
    generated_at TIMESTAMPTZ NOT NULL,
    notices      INTEGER NOT NULL
);
CREATE INDEX notice_runs_case ON notice_runs (case_id, generated_at);

-- Generated files (letter batches as PDF, mailing lists, notices): they
-- hold PHI, so content is sealed (keys.NoticeFileContent).
CREATE TABLE notice_files (
    id           TEXT PRIMARY KEY,
    run_id       TEXT NOT NULL REFERENCES notice_runs (id),
    case_id      TEXT NOT NULL REFERENCES breach_cases (id),
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    content      TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX notice_files_case ON notice_files (case_id, created_at);

-- Every notice: to one individual (individual_id) or to one other
-- recipient (media:CA, covered_entity:acme, state_regulator:NY-ag), its channel,
-- delivery and return. No PHI: individuals are named by id.
CREATE TABLE notices (
    id            TEXT PRIMARY KEY,
    case_id       TEXT NOT NULL REFERENCES breach_cases (id),
    run_id        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    channel       TEXT NOT NULL, -- mail, email, document
    individual_id TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    status        TEXT NOT NULL, -- pending, generated, sent, failed, returned
    batch         INTEGER NOT NULL,
    page          INTEGER NOT NULL,
    pages         INTEGER NOT NULL,
    attempts      INTEGER NOT NULL,
    error         TEXT NOT NULL,
    sent_at       TIMESTAMPTZ,
    sent_by       TEXT NOT NULL,
    receipt       TEXT NOT NULL,
    returned_at   TIMESTAMPTZ,
    return_reason TEXT NOT NULL,
    resent_of     TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX notices_case_status ON notices (case_id, channel, status);
CREATE INDEX notices_case_individual ON notices (case_id, individual_id);

-- The substitute notice of a case (164.404(d)(2)(ii)): when the web
-- posting and the toll-free number started, and the 90 days they run.
CREATE TABLE notice_substitutes (
    case_id              TEXT PRIMARY KEY REFERENCES breach_cases (id),
    posting_started_at   TIMESTAMPTZ,
    posting_ends_at      TIMESTAMPTZ,
    toll_free_started_at TIMESTAMPTZ,
    toll_free_ends_at    TIMESTAMPTZ,
    toll_free_number     TEXT NOT NULL,
    posting_url          TEXT NOT NULL,
    updated_by           TEXT NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);
