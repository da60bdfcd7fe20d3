-- An audit chain that does not serialise the cluster (issue #18), postgres
-- dialect. Keep in step with ../sqlite/0034_audit_pending.sql.

-- An audited write inserts its entry here, unchained, in the same
-- transaction as its change, instead of advancing audit_head: no row lock
-- is shared by the writers. One node at a time (audit_sequencer) moves
-- committed entries into audit_log in id order, numbering and hashing them
-- under audit_head's row lock (package audit, docs/AUDIT.md).
CREATE TABLE audit_pending (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    source_ip   TEXT NOT NULL,
    digest      TEXT NOT NULL
);

-- The lease of the node that chains pending entries: it renews
-- lease_until while it is alive; another node takes the row over once the
-- lease has lapsed. Two holders at once (clocks apart) cost only lock
-- waits: every round takes audit_head's row lock.
CREATE TABLE audit_sequencer (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    node        TEXT NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL
);
INSERT INTO audit_sequencer (id, node, lease_until) VALUES (1, '', '1970-01-01 00:00:00+00');

-- A purge's audit entry is numbered only once chained; the tombstone
-- finds it by its object (action retention.purge, object type and id).
ALTER TABLE retention_tombstones DROP COLUMN audit_seq;
