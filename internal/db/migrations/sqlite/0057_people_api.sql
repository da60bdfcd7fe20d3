-- People API and SCIM provisioning (issue #16), SQLite dialect. Keep in
-- step with ../postgres/0057_people_api.sql.

-- An API token may expire, and may belong to a person: disabling that
-- person revokes it in the same transaction.
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMP;
ALTER TABLE api_tokens ADD COLUMN user_id TEXT REFERENCES users (id);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- What an identity provider calls the person (SCIM userName and
-- externalId, RFC 7643 4.1); NULL for people it did not provision.
ALTER TABLE users ADD COLUMN scim_user_name TEXT;
ALTER TABLE users ADD COLUMN scim_external_id TEXT;
CREATE UNIQUE INDEX users_scim_user_name ON users (scim_user_name);

-- One-time sign-up links: an administrator invites someone into a role;
-- the link's token is shown once and only its SHA-256 is kept. A link
-- works once (used_at, user_id) and until expires_at.
CREATE TABLE user_invites (
    id         TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    email      TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP,
    user_id    TEXT REFERENCES users (id)
);
