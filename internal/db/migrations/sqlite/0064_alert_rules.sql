-- Rules on alerts at intake (issue #16), sqlite dialect. Keep in step with
-- ../postgres/0064_alert_rules.sql.
--
-- An alert rule is a CEL expression over an alert as it arrives and what
-- to do with it before it is grouped: route it to another service,
-- suppress it (recorded, but no incident and no page), set its severity,
-- add tags. Enabled rules are run in name order. route_service_id is the
-- service a route action sends alerts to, so that a service a rule routes
-- to cannot be deleted. Saving a rule writes a new rules:generation
-- (counters), as workflow rules do.
CREATE TABLE alert_rules (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    description      TEXT NOT NULL,
    expression       TEXT NOT NULL,
    actions          TEXT NOT NULL,
    route_service_id TEXT REFERENCES services (id),
    enabled          BOOLEAN NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    version          INTEGER NOT NULL
);

-- The alert rule that suppressed an alert (alerts.suppressed is true and
-- it opened no incident), and the tags alert rules gave it when it
-- opened (a JSON list; rule configuration, not what the tool sent).
ALTER TABLE alerts ADD COLUMN suppressed_by TEXT REFERENCES alert_rules (id);
ALTER TABLE alerts ADD COLUMN tags TEXT NOT NULL DEFAULT '';
