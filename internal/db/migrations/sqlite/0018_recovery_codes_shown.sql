-- Recovery codes for people whose second factor is a security key (issue
-- #3), SQLite dialect. Keep in step with ../postgres/0018_recovery_codes_shown.sql.

-- The recovery codes issued with a person's first security key, sealed
-- with the keyring (keys.RecoveryCodesShown), kept beside the session that
-- added the key until the page that shows them reads them, once, or for 5
-- minutes. The codes themselves are stored only as hashes
-- (user_recovery_codes).
CREATE TABLE recovery_codes_shown (
    session_id TEXT PRIMARY KEY,
    codes      TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
