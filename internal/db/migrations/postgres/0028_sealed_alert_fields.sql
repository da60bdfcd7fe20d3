-- What monitoring tools send beside the summary is sealed too (issue #15),
-- postgres dialect. Keep in step with ../sqlite/0028_sealed_alert_fields.sql.
--
-- alerts.dedup_key, source, component, grp and class,
-- notifications.last_error and status_line, and maintenance_windows.reason
-- are now sealed with the keyring (keys.Columns). Alerts are found by a
-- keyed hash of their dedup key, and alert groups by one of their group
-- key (keys.LookupHash: HMAC-SHA-256 under a random key stored sealed in
-- search_keys), never by the text. This migration cannot seal or hash:
-- the key is not SQL's. Ward does both for the rows written before it
-- when it starts, before it serves (Intake.SealOldAlerts in package alert,
-- and Keyring.SealPlaintext; see internal/app/seal.go).

-- An alert's copy of its group's key is never read: it goes, rather than
-- being sealed on every alert for nothing (alert_groups keeps the group).
ALTER TABLE alerts DROP COLUMN group_key;

-- The keyed hash of an alert's dedup key, scoped to its service; NULL
-- until start-up hashes a row written before this migration.
ALTER TABLE alerts ADD COLUMN dedup_hash TEXT;
DROP INDEX alerts_open;
-- At most one open alert per service and dedup key (NULLs never clash).
CREATE UNIQUE INDEX alerts_open ON alerts (service_id, dedup_hash) WHERE resolved_at IS NULL;
-- The rows start-up has still to seal and hash (none, once it has run).
CREATE INDEX alerts_unhashed ON alerts (id) WHERE dedup_hash IS NULL;

-- An alert group is found by the keyed hash of its key. The rows written
-- before keep their key, marked 'unhashed:', until start-up replaces it by
-- its hash (a hash is base64 and never holds a colon).
CREATE TABLE alert_groups_hashed (
    service_id  TEXT NOT NULL REFERENCES services (id),
    group_hash  TEXT NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    PRIMARY KEY (service_id, group_hash)
);
INSERT INTO alert_groups_hashed (service_id, group_hash, incident_id)
    SELECT service_id, 'unhashed:' || group_key, incident_id FROM alert_groups;
DROP TABLE alert_groups;
ALTER TABLE alert_groups_hashed RENAME TO alert_groups;
CREATE INDEX alert_groups_unhashed ON alert_groups (service_id, group_hash) WHERE substr(group_hash, 1, 9) = 'unhashed:';
