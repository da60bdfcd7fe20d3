-- Stakeholders, status updates and SLAs (issue #4), SQLite dialect. Keep in
-- step with ../postgres/0008_stakeholders.sql.

-- The short line a message carries beside the incident number (Ward's own
-- words, such as "status update overdue"; never text people typed).
ALTER TABLE notifications ADD COLUMN status_line TEXT NOT NULL DEFAULT '';

-- A stakeholder group (executives, counsel, the privacy office, a
-- customer's contacts) hears of incidents it is subscribed to: by its rule
-- (JSON {"services":[…],"severities":[…],"categories":[…],"phi_suspected":true},
-- every present condition must hold; {} matches every incident) or by hand.
CREATE TABLE stakeholder_groups (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    rule        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    version     BIGINT NOT NULL
);

CREATE TABLE stakeholder_members (
    group_id TEXT NOT NULL REFERENCES stakeholder_groups (id),
    user_id  TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (group_id, user_id)
);

-- Groups subscribed to an incident by hand, beside those its rule matches.
CREATE TABLE incident_stakeholders (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    group_id    TEXT NOT NULL REFERENCES stakeholder_groups (id),
    added_by    TEXT NOT NULL,
    added_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (incident_id, group_id)
);

-- Status updates responders post for stakeholders. body is sealed; it is
-- written for stakeholders, so it is shown to every reader of the
-- incident, and must hold no PHI.
CREATE TABLE status_updates (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    body        TEXT NOT NULL,
    posted_by   TEXT NOT NULL,
    posted_at   TIMESTAMP NOT NULL
);
CREATE INDEX status_updates_incident ON status_updates (incident_id, posted_at);

-- SLA targets per severity, in minutes; 0 means no target.
CREATE TABLE sla_policies (
    severity                TEXT PRIMARY KEY,
    ack_minutes             INTEGER NOT NULL,
    first_update_minutes    INTEGER NOT NULL,
    update_interval_minutes INTEGER NOT NULL,
    contain_minutes         INTEGER NOT NULL,
    resolve_minutes         INTEGER NOT NULL,
    updated_at              TIMESTAMP NOT NULL,
    version                 BIGINT NOT NULL
);
INSERT INTO sla_policies VALUES ('sev1', 5, 30, 60, 240, 1440, '2026-01-01 00:00:00', 1);
INSERT INTO sla_policies VALUES ('sev2', 15, 60, 240, 1440, 4320, '2026-01-01 00:00:00', 1);
INSERT INTO sla_policies VALUES ('sev3', 60, 240, 1440, 4320, 10080, '2026-01-01 00:00:00', 1);
INSERT INTO sla_policies VALUES ('sev4', 240, 0, 0, 0, 20160, '2026-01-01 00:00:00', 1);

-- What the SLA checker has already said about an incident, so it says it
-- once: "warned:ack", "missed:resolve", "update_overdue:<due time>".
CREATE TABLE sla_events (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    event       TEXT NOT NULL,
    at          TIMESTAMP NOT NULL,
    PRIMARY KEY (incident_id, event)
);

-- When a page was first acknowledged, for the time-to-acknowledge SLA
-- (acknowledged_at is cleared when the page starts again).
ALTER TABLE pages ADD COLUMN first_acknowledged_at TIMESTAMP;
