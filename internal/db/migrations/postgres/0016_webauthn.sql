-- WebAuthn security keys and passkeys as a second factor (issue #3), PostgreSQL
-- dialect. Keep in step with ../sqlite/0016_webauthn.sql.

-- A user's registered authenticators (45 CFR 164.312(d), person or entity
-- authentication). credential_id is the authenticator's id, base64url;
-- public_key is the COSE key, base64url: neither is secret. sign_count is
-- the last signature counter seen, for clone detection (WebAuthn Level 3
-- §6.1.1, §7.2 step 22).
CREATE TABLE user_webauthn (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (id),
    credential_id    TEXT NOT NULL UNIQUE,
    public_key       TEXT NOT NULL,
    attestation_type TEXT NOT NULL,
    aaguid           TEXT NOT NULL,
    sign_count       BIGINT NOT NULL,
    backup_eligible  BOOLEAN NOT NULL,
    transports       TEXT NOT NULL,
    name             TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    last_used_at     TIMESTAMPTZ
);
CREATE INDEX user_webauthn_user ON user_webauthn (user_id);

-- The challenge of a registration or sign-in ceremony in progress, kept on
-- the server beside the session it belongs to (never in a cookie), one per
-- session, deleted when the ceremony finishes or another starts.
CREATE TABLE webauthn_ceremonies (
    session_id TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    data       TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
