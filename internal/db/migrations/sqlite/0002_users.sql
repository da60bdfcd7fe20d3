-- Users, sessions and MFA (issue #3), SQLite dialect. Keep in step with
-- ../postgres/0002_users.sql.

-- One row per person (45 CFR 164.312(a)(2)(i), unique user identification).
-- password_hash is an argon2id PHC string; a password is never stored.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    email         TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled      BOOLEAN NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP
);

-- A user's TOTP second factor (45 CFR 164.312(d), person authentication).
-- secret is sealed with the keys package, bound to this table, column and
-- user id; confirmed is false while enrolment waits for the first code.
-- last_step is the newest accepted time step: a code is never accepted twice.
CREATE TABLE user_totp (
    user_id      TEXT PRIMARY KEY REFERENCES users (id),
    secret       TEXT NOT NULL,
    confirmed    BOOLEAN NOT NULL,
    last_step    BIGINT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    confirmed_at TIMESTAMP
);

-- One-time recovery codes: SHA-256 of the code (80 random bits), never the code.
CREATE TABLE user_recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id),
    hash       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP,
    PRIMARY KEY (user_id, hash)
);

-- Server-side sessions, keyed by the SHA-256 of the cookie's secret; id is
-- the public name shown in lists and used to revoke. An ended session keeps
-- its row (ended_at, end_reason) so the sign-in page can say why it ended.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users (id),
    stage        TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    ended_at     TIMESTAMP,
    end_reason   TEXT NOT NULL,
    ip           TEXT NOT NULL,
    user_agent   TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id, ended_at);

-- One-time links that create the first administrator; only hashes are kept.
CREATE TABLE setup_tokens (
    id         TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);

-- Failed sign-in counters, in the database so that limits hold across nodes
-- and restarts. scope is 'account' (subject: SHA-256 of the username tried,
-- known or not) or 'ip' (subject: SHA-256 of the source address). Rows
-- untouched for a day are pruned.
CREATE TABLE login_throttle (
    scope        TEXT NOT NULL,
    subject      TEXT NOT NULL,
    failures     BIGINT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, subject)
);
CREATE INDEX login_throttle_updated ON login_throttle (updated_at);
