-- The data-encryption keyset (45 CFR 164.312(a)(2)(iv)): a Tink AEAD
-- keyset, itself encrypted by the master key, which is never stored here.
CREATE TABLE keysets (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    keyset     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
