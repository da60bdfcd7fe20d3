-- Playbooks (issue #12), postgres dialect. Keep in step with
-- ../sqlite/0053_playbooks.sql.
--
-- playbook_versions holds the versions people made by editing a playbook;
-- the versions Ward ships live in its embedded data (internal/playbook/
-- playbooks). body is the playbook as JSON: configuration about the
-- organisation's response, not patient data.
CREATE TABLE playbook_versions (
    playbook   TEXT NOT NULL,
    version    INTEGER NOT NULL,
    body       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (playbook, version)
);

-- incident_playbooks records a playbook applied to an incident: once per
-- incident and playbook. body is the version applied, kept whole so that
-- later edits leave it as it was. answers is the JSON of the answers to
-- its questions, sealed (they may hold PHI: a device's last known
-- location, a police report number).
CREATE TABLE incident_playbooks (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    playbook    TEXT NOT NULL,
    version     INTEGER NOT NULL,
    body        TEXT NOT NULL,
    answers     TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL,
    applied_by  TEXT NOT NULL,
    answered_at TIMESTAMPTZ,
    UNIQUE (incident_id, playbook)
);

-- A task a playbook made: the role that owns it, the phase it belongs
-- to, and, while that phase has not started, how long after its start it
-- is due (seconds); reminded_due_at is the due time its owner was last
-- reminded of (NULL: never).
ALTER TABLE incident_tasks ADD COLUMN owner_role TEXT NOT NULL DEFAULT '';
ALTER TABLE incident_tasks ADD COLUMN phase TEXT NOT NULL DEFAULT '';
ALTER TABLE incident_tasks ADD COLUMN due_after_phase_start BIGINT;
ALTER TABLE incident_tasks ADD COLUMN playbook_id TEXT;
ALTER TABLE incident_tasks ADD COLUMN reminded_due_at TIMESTAMPTZ;
CREATE INDEX incident_tasks_due ON incident_tasks (done, due_at);
