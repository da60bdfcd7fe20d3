-- An audit chain that does not serialise the cluster (issue #18), sqlite
-- dialect. Keep in step with ../postgres/0034_audit_pending.sql.

-- An audited write inserts its entry here, unchained, in the same
-- transaction as its change. On SQLite the group committer chains the
-- transaction's entries into audit_log just before it commits, so the
-- table is empty between transactions (package audit, docs/AUDIT.md).
CREATE TABLE audit_pending (
    id          INTEGER PRIMARY KEY,
    at          TIMESTAMP NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    source_ip   TEXT NOT NULL,
    digest      TEXT NOT NULL
);

-- The sequencer's lease, as on PostgreSQL; one SQLite process owns the
-- database, so its one node always holds it.
CREATE TABLE audit_sequencer (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    node        TEXT NOT NULL,
    lease_until TIMESTAMP NOT NULL
);
INSERT INTO audit_sequencer (id, node, lease_until) VALUES (1, '', '1970-01-01 00:00:00');

-- A purge's audit entry is numbered only once chained; the tombstone
-- finds it by its object (action retention.purge, object type and id).
ALTER TABLE retention_tombstones DROP COLUMN audit_seq;
