-- The evidence vault and its chain of custody (issue #12), sqlite dialect.
-- Keep in step with ../postgres/0033_evidence.sql.

-- An evidence item of an incident. Its content is encrypted with a
-- streaming AEAD key of its own (AES-256-GCM-HKDF, bound to the item's id),
-- held sealed in data_key (keys.EvidenceDataKey), and stored in
-- evidence_chunks. status is 'uploading' while the content arrives (such a
-- row is no record yet: it is shown nowhere and removed if the upload
-- fails or is abandoned) and 'stored' once it is whole and its SHA-256
-- (of the plaintext, hex) is known. The free text is sealed: description,
-- source, collected_by, related_asset, file_name and custodian (the
-- current holder, a person or an organisation). integrity is '' until
-- checked, then 'ok' or 'failed'; verified_at is the last check that
-- found it whole, checked_at the last check whatever it found.
CREATE TABLE evidence_items (
    id            TEXT PRIMARY KEY,
    incident_id   TEXT NOT NULL REFERENCES incidents (id),
    status        TEXT NOT NULL,
    description   TEXT NOT NULL,
    source        TEXT NOT NULL DEFAULT '',
    collected_by  TEXT NOT NULL DEFAULT '',
    collected_at  TIMESTAMP,
    related_asset TEXT NOT NULL DEFAULT '',
    file_name     TEXT NOT NULL DEFAULT '',
    content_type  TEXT NOT NULL,
    size          BIGINT NOT NULL DEFAULT 0,
    sha256        TEXT NOT NULL DEFAULT '',
    data_key      TEXT NOT NULL,
    custodian     TEXT NOT NULL DEFAULT '',
    uploaded_by   TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    integrity     TEXT NOT NULL DEFAULT '',
    verified_at   TIMESTAMP,
    checked_at    TIMESTAMP
);
CREATE INDEX evidence_items_incident ON evidence_items (incident_id, created_at);
CREATE INDEX evidence_items_status ON evidence_items (status, updated_at);

-- An item's ciphertext, in order: the Tink stream cut into chunks of a few
-- MiB, so that neither an upload nor a download holds a whole file.
CREATE TABLE evidence_chunks (
    item_id TEXT NOT NULL REFERENCES evidence_items (id),
    seq     BIGINT NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (item_id, seq)
);

-- The chain of custody: one row per event, numbered per item, appended
-- with its audit entry and never changed: Ward has no statement that
-- changes one, and the triggers below refuse a change of what an entry
-- records (its item, number, action, actor, time) and the deletion of an
-- entry of an item not destroyed (the retention purge removes a destroyed
-- item's entries with its incident). The sealed columns stay writable so
-- that a key rotation can re-encrypt them; each is bound to its row. action is collected, transferred, accessed,
-- copied, returned, released or destroyed; actor is the member of staff
-- as the audit trail names them; custodian (sealed) is who holds the item
-- after the event; reason (sealed) is why.
CREATE TABLE evidence_custody (
    id        TEXT PRIMARY KEY,
    item_id   TEXT NOT NULL REFERENCES evidence_items (id),
    seq       BIGINT NOT NULL,
    action    TEXT NOT NULL,
    actor     TEXT NOT NULL,
    at        TIMESTAMP NOT NULL,
    custodian TEXT NOT NULL DEFAULT '',
    reason    TEXT NOT NULL DEFAULT '',
    UNIQUE (item_id, seq)
);
CREATE TRIGGER evidence_custody_no_update BEFORE UPDATE OF id, item_id, seq, action, actor, at ON evidence_custody
BEGIN SELECT RAISE(ABORT, 'evidence_custody is append-only'); END;
CREATE TRIGGER evidence_custody_no_delete BEFORE DELETE ON evidence_custody
WHEN (SELECT status FROM evidence_items WHERE id = OLD.item_id) IS NOT 'destroyed'
BEGIN SELECT RAISE(ABORT, 'evidence_custody is append-only'); END;
