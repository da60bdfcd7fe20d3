-- External subscribers of an incident and their email outbox (issue #17), sqlite dialect. Keep in step with
-- ../postgres/0038_external_subscribers.sql.
--
-- An external contact (external_contacts) is subscribed to an incident by
-- a responder; the contact is sent a confirmation email (double opt-in)
-- and hears nothing more until they confirm. status is pending,
-- confirmed or unsubscribed; a contact unsubscribed and subscribed again
-- must confirm again. The rows are kept after an unsubscribe: they are
-- the proof of who was told what.
CREATE TABLE external_subscriptions (
    id              TEXT PRIMARY KEY,
    incident_id     TEXT NOT NULL REFERENCES incidents (id),
    contact_id      TEXT NOT NULL REFERENCES external_contacts (id),
    status          TEXT NOT NULL,
    subscribed_by   TEXT NOT NULL,
    subscribed_at   TIMESTAMP NOT NULL,
    confirmed_at    TIMESTAMP,
    unsubscribed_at TIMESTAMP,
    UNIQUE (incident_id, contact_id)
);

-- The links the emails carry: a random token kept only as its SHA-256.
-- A confirm link works once, until expires_at; an unsubscribe link works
-- without signing in for as long as the subscription exists.
CREATE TABLE external_links (
    token_hash      TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES external_subscriptions (id),
    purpose         TEXT NOT NULL,
    expires_at      TIMESTAMP,
    used_at         TIMESTAMP
);

-- The outbox of email to external subscribers: one row per recipient and
-- message (a confirmation, or one status update). A row is written in the
-- same transaction as what caused it, so an accepted update is durable;
-- a sender claims due rows under a lease (lease_until), sends, and records
-- sent or the error (sealed: a mail server's reply may quote the
-- address), with retries and backoff for a temporary failure. message_id
-- is the same on every attempt, so a receiver can tell a re-send.
CREATE TABLE external_mail (
    id               TEXT PRIMARY KEY,
    subscription_id  TEXT NOT NULL REFERENCES external_subscriptions (id),
    kind             TEXT NOT NULL,
    status_update_id TEXT REFERENCES status_updates (id),
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    due_at           TIMESTAMP NOT NULL,
    lease_until      TIMESTAMP,
    error            TEXT NOT NULL DEFAULT '',
    message_id       TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    sent_at          TIMESTAMP
);
CREATE INDEX external_mail_due ON external_mail (status, due_at);
CREATE INDEX external_mail_update ON external_mail (status_update_id);
