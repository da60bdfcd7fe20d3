-- The evidence vault and its chain of custody (issue #12), postgres dialect.
-- Keep in step with ../sqlite/0033_evidence.sql.

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
    collected_at  TIMESTAMPTZ,
    related_asset TEXT NOT NULL DEFAULT '',
    file_name     TEXT NOT NULL DEFAULT '',
    content_type  TEXT NOT NULL,
    size          BIGINT NOT NULL DEFAULT 0,
    sha256        TEXT NOT NULL DEFAULT '',
    data_key      TEXT NOT NULL,
    custodian     TEXT NOT NULL DEFAULT '',
    uploaded_by   TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    integrity     TEXT NOT NULL DEFAULT '',
    verified_at   TIMESTAMPTZ,
    checked_at    TIMESTAMPTZ
);
CREATE INDEX evidence_items_incident ON evidence_items (incident_id, created_at);
CREATE INDEX evidence_items_status ON evidence_items (status, updated_at);

-- An item's ciphertext, in order: the Tink stream cut into chunks of a few
-- MiB, so that neither an upload nor a download holds a whole file.
CREATE TABLE evidence_chunks (
    item_id TEXT NOT NULL REFERENCES evidence_items (id),
    seq     BIGINT NOT NULL,
    data    BYTEA NOT NULL,
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
    at        TIMESTAMPTZ NOT NULL,
    custodian TEXT NOT NULL DEFAULT '',
    reason    TEXT NOT NULL DEFAULT '',
    UNIQUE (item_id, seq)
);
CREATE FUNCTION evidence_custody_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND (SELECT status FROM evidence_items WHERE id = OLD.item_id) = 'destroyed' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'evidence_custody is append-only';
END;
$$;
CREATE TRIGGER evidence_custody_no_update BEFORE UPDATE OF id, item_id, seq, action, actor, at ON evidence_custody
FOR EACH ROW EXECUTE FUNCTION evidence_custody_append_only();
CREATE TRIGGER evidence_custody_no_delete BEFORE DELETE ON evidence_custody
FOR EACH ROW EXECUTE FUNCTION evidence_custody_append_only();
CREATE TRIGGER evidence_custody_no_truncate BEFORE TRUNCATE ON evidence_custody
FOR EACH STATEMENT EXECUTE FUNCTION evidence_custody_append_only();
