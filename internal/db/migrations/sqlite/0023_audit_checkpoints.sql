-- Anchored audit checkpoints (issue #13), sqlite dialect. Keep in step with
-- ../postgres/0023_audit_checkpoints.sql.
--
-- A checkpoint is the audit chain's head (seq, hash) signed with an Ed25519
-- key kept outside the database (docs/AUDIT.md). This table is only Ward's
-- own copy, for the API and for delivery: what proves the trail is the copy
-- published outside the database (a file, a webhook), which rewriting this
-- table cannot reach.
CREATE TABLE audit_checkpoints (
    seq       BIGINT PRIMARY KEY,
    hash      TEXT NOT NULL,
    at        TIMESTAMP NOT NULL,
    node      TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    signature TEXT NOT NULL
);

-- How far each publication destination (a file, a webhook) has received
-- the checkpoints, by sequence number, so that one that was down catches up.
CREATE TABLE audit_checkpoint_deliveries (
    destination TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL
);
