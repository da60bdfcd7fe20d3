-- A new integration key is shown on a page the form redirects to (issue
-- #14), PostgreSQL dialect. Keep in step with ../sqlite/0032_integration_keys_shown.sql.

-- A new integration key, sealed with the keyring (keys.IntegrationKeyShown),
-- kept beside the web session that created it until the page that shows
-- it reads it, once, or for 5 minutes. The key itself is stored only as a
-- hash (integration_keys.key_hash).
CREATE TABLE integration_keys_shown (
    integration_id TEXT PRIMARY KEY REFERENCES integration_keys (id),
    session_id     TEXT NOT NULL,
    key            TEXT NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL
);
