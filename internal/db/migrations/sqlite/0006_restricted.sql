-- Restricted incidents and emergency access (issue #3), SQLite dialect. Keep in
-- step with ../postgres/0006_restricted.sql.

-- A restricted incident is seen only on a need-to-know basis (45 CFR
-- 164.308(a)(4), 164.312(a)(1)): by roles that see every restricted
-- incident, its members, its commander and holders of an unexpired
-- emergency grant. Everyone else is told it does not exist.
ALTER TABLE incidents ADD COLUMN restricted BOOLEAN NOT NULL DEFAULT false;

-- The users named on a restricted incident.
CREATE TABLE incident_members (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    user_id     TEXT NOT NULL REFERENCES users (id),
    added_by    TEXT NOT NULL,
    added_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (incident_id, user_id)
);

-- Emergency ("break-glass") access to a restricted incident (45 CFR
-- 164.312(a)(2)(ii), emergency access procedure): granted at once, for a
-- limited time, to the user or API token user_id (actor is how the audit
-- trail names it). reason is not encrypted: the form says it must hold no PHI.
CREATE TABLE break_glass_grants (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    user_id     TEXT NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    granted_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    revoked_at  TIMESTAMP
);
CREATE INDEX break_glass_grants_holder ON break_glass_grants (incident_id, user_id, expires_at);

-- What the Security Officer must be told at once (kind 'break_glass'),
-- shown to officers until one acknowledges it.
CREATE TABLE officer_alerts (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    incident_id     TEXT NOT NULL REFERENCES incidents (id),
    user_id         TEXT NOT NULL,
    actor           TEXT NOT NULL,
    reason          TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    acknowledged_at TIMESTAMP,
    acknowledged_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX officer_alerts_open ON officer_alerts (acknowledged_at, created_at);
