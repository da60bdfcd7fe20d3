-- The one-time code before a subscriber's status page opens (issue #17),
-- postgres dialect. Keep in step with ../sqlite/0060_status_page_codes.sql.
--
-- Opening a status page link (external_links, purpose "status") asks for a
-- 6-digit code emailed to the subscriber. A code is kept as the SHA-256 of
-- the link's token and the code, so neither the table nor a copy of it
-- gives the code without the link; code holds it sealed
-- (keys.StatusPageCode) only until its email is sent or fails, for the
-- outbox to write it, and is emptied then. A code works for 10 minutes,
-- once, for its link only, and is locked after 5 wrong tries (attempts).
-- Superseded when a new one is sent (used_at).
CREATE TABLE status_page_codes (
    id              TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES external_subscriptions (id),
    link_hash       TEXT NOT NULL REFERENCES external_links (token_hash),
    code_hash       TEXT NOT NULL,
    code            TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL,
    used_at         TIMESTAMP
);
CREATE INDEX status_page_codes_link ON status_page_codes (link_hash, created_at);
CREATE INDEX status_page_codes_subscription ON status_page_codes (subscription_id, created_at);

-- A status page opened by the right code: the reader's cookie, kept as its
-- SHA-256, opens that link's page only, for an hour.
CREATE TABLE status_page_sessions (
    token_hash TEXT PRIMARY KEY,
    link_hash  TEXT NOT NULL REFERENCES external_links (token_hash),
    expires_at TIMESTAMP NOT NULL
);

-- The email that carries a code.
ALTER TABLE external_mail ADD COLUMN code_id TEXT REFERENCES status_page_codes (id);
