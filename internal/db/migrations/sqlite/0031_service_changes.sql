-- Change events (issue #16), sqlite dialect. Keep in step with
-- ../sqlite/0031_service_changes.sql.
--
-- What a deploy pipeline or a configuration tool tells Ward changed on a
-- service, through the PagerDuty Change Events API (POST
-- /v2/change/enqueue with the service's Events API v2 routing key). A
-- change opens no incident; an incident's responders see the changes on
-- its services shortly before it was detected, the usual first suspects.
-- summary and source are sealed (keys.Columns): a tool may write anything.
CREATE TABLE service_changes (
    id             TEXT PRIMARY KEY,
    service_id     TEXT NOT NULL REFERENCES services (id),
    integration_id TEXT NOT NULL REFERENCES integration_keys (id),
    summary        TEXT NOT NULL,
    source         TEXT NOT NULL,
    links          INTEGER NOT NULL,
    changed_at     TIMESTAMP NOT NULL,
    received_at    TIMESTAMP NOT NULL
);
CREATE INDEX service_changes_service ON service_changes (service_id, changed_at);
