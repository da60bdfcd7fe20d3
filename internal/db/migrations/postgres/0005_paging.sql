-- Paging (issue #4), PostgreSQL dialect. Keep in step with
-- ../sqlite/0005_paging.sql.

-- An escalation policy: ordered steps, each with a delay before the next
-- and targets (users, schedules), as JSON
-- [{"delay_minutes":5,"targets":[{"type":"user","id":"…"}]}]; the policy
-- runs repeat more times after its last step. ack_timeout_minutes (0: none)
-- re-pages an acknowledged page that is not resolved in time.
CREATE TABLE escalation_policies (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    description         TEXT NOT NULL,
    steps               TEXT NOT NULL,
    repeat              INTEGER NOT NULL,
    ack_timeout_minutes INTEGER NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    version             BIGINT NOT NULL
);

ALTER TABLE services ADD COLUMN escalation_policy_id TEXT REFERENCES escalation_policies (id);

-- An on-call schedule: its rotations (JSON, see internal/oncall) hand off
-- at wall-clock times in time_zone (an IANA name).
CREATE TABLE schedules (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    time_zone   TEXT NOT NULL,
    rotations   TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    version     BIGINT NOT NULL
);

-- Overrides and temporary shifts: user_id is on call from starts_at to
-- ends_at, instead of replaces (a user id) or, when replaces is empty,
-- beside whoever is on call.
CREATE TABLE schedule_overrides (
    id          TEXT PRIMARY KEY,
    schedule_id TEXT NOT NULL REFERENCES schedules (id),
    user_id     TEXT NOT NULL REFERENCES users (id),
    replaces    TEXT NOT NULL,
    starts_at   TIMESTAMPTZ NOT NULL,
    ends_at     TIMESTAMPTZ NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX schedule_overrides_time ON schedule_overrides (schedule_id, ends_at);

-- A user's ways of being reached. address is sealed: a webhook or chat URL
-- is a secret, and a phone number is personal. A method is used only once
-- verified: Ward sends a code there and the user enters it
-- (verify_hash is the SHA-256 of that code).
CREATE TABLE contact_methods (
    id                TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL REFERENCES users (id),
    kind              TEXT NOT NULL,
    label             TEXT NOT NULL,
    address           TEXT NOT NULL,
    hint              TEXT NOT NULL,
    verified_at       TIMESTAMPTZ,
    verify_hash       TEXT NOT NULL,
    verify_expires_at TIMESTAMPTZ,
    verify_attempts   INTEGER NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    disabled_at       TIMESTAMPTZ
);
CREATE INDEX contact_methods_user ON contact_methods (user_id, created_at);

-- "Email at once, SMS after 5 minutes": when a user is paged, each rule
-- sends to its contact method delay_minutes later, unless the page was
-- acknowledged or resolved by then.
CREATE TABLE notification_rules (
    id                TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL REFERENCES users (id),
    contact_method_id TEXT NOT NULL REFERENCES contact_methods (id),
    delay_minutes     INTEGER NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX notification_rules_user ON notification_rules (user_id);

-- One page per incident: where its escalation policy has got to.
-- status is triggered, acknowledged or resolved; step and round say which
-- step of which repeat was notified last; next_at is when the escalator
-- must act next (the next step, or the acknowledgement timeout), NULL when
-- nothing is due.
CREATE TABLE pages (
    id              TEXT PRIMARY KEY,
    incident_id     TEXT NOT NULL UNIQUE REFERENCES incidents (id),
    service_id      TEXT NOT NULL REFERENCES services (id),
    policy_id       TEXT NOT NULL REFERENCES escalation_policies (id),
    status          TEXT NOT NULL,
    step            INTEGER NOT NULL,
    round           INTEGER NOT NULL,
    next_at         TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    acknowledged_at TIMESTAMPTZ,
    acknowledged_by TEXT NOT NULL,
    resolved_at     TIMESTAMPTZ,
    resolved_by     TEXT NOT NULL,
    version         BIGINT NOT NULL
);
CREATE INDEX pages_due ON pages (next_at) WHERE next_at IS NOT NULL;

-- One row per message to one contact method, and the outbox Ward delivers
-- from. status: scheduled (due_at not reached), queued (ready to send),
-- sending (a node holds it until lease_until), sent, failed (gave up),
-- cancelled (the page was acknowledged or resolved first), rate_limited. The message
-- itself is never stored: it is rendered, PHI-free, when sent.
CREATE TABLE notifications (
    id                TEXT PRIMARY KEY,
    page_id           TEXT REFERENCES pages (id),
    incident_id       TEXT REFERENCES incidents (id),
    user_id           TEXT NOT NULL REFERENCES users (id),
    contact_method_id TEXT NOT NULL REFERENCES contact_methods (id),
    kind              TEXT NOT NULL,
    channel           TEXT NOT NULL,
    status            TEXT NOT NULL,
    due_at            TIMESTAMPTZ NOT NULL,
    attempts          INTEGER NOT NULL,
    last_error        TEXT NOT NULL,
    provider_id       TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    sent_at           TIMESTAMPTZ,
    lease_until       TIMESTAMPTZ
);
CREATE INDEX notifications_due ON notifications (due_at) WHERE status = 'scheduled';
-- The outbox's queue (claims take the oldest queued) and abandoned leases.
CREATE INDEX notifications_queue ON notifications (status, due_at);
-- The per-contact rate limit counts what was sent lately.
CREATE INDEX notifications_sent ON notifications (contact_method_id, status, sent_at);
CREATE INDEX notifications_incident ON notifications (incident_id, created_at);
CREATE INDEX notifications_method ON notifications (contact_method_id, created_at);

-- Acknowledge and resolve links sent in pages: a random token, kept only
-- as its SHA-256, for one page, one action and one user; single use and
-- expiring.
CREATE TABLE action_links (
    token_hash TEXT PRIMARY KEY,
    page_id    TEXT NOT NULL REFERENCES pages (id),
    action     TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
