-- The data-encryption keyset (45 CFR 164.312(a)(2)(iv)), SQLite dialect.
-- Keep in step with ../postgres/0003_keys.sql.
--
-- One row: a Tink AEAD keyset (AES-256-GCM keys), serialised and encrypted
-- by the master key, which is never stored here (see docs/ENCRYPTION.md).
-- rotation_started_at is set while `ward keys rotate` re-encrypts the
-- sealed columns under a new primary key, and cleared when it finishes; a
-- rotation interrupted in between is resumed by the next `ward keys rotate`.
CREATE TABLE keysets (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    keyset              TEXT NOT NULL,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    rotation_started_at TIMESTAMP
);
