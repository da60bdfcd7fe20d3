-- Workflow rules (issue #4), SQLite dialect. Keep in step with
-- ../postgres/0009_rules.sql.

-- A rule is a CEL expression over an incident (package rules) and the
-- actions to take when it first matches, as JSON
-- [{"type":"set_severity","severity":"sev1"},{"type":"add_task","title":"…"},
--  {"type":"notify_group","group":"<stakeholder group id>"}].
CREATE TABLE rules (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    expression  TEXT NOT NULL,
    actions     TEXT NOT NULL,
    enabled     BOOLEAN NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    version     BIGINT NOT NULL
);

-- A rule acts on an incident once: the first time it matches.
CREATE TABLE rule_firings (
    rule_id     TEXT NOT NULL REFERENCES rules (id),
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    fired_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (rule_id, incident_id)
);
