-- Privileged marking (issue #12), postgres dialect. Keep in step with
-- ../sqlite/0054_privileged_marks.sql.
--
-- A row marks one record of an incident "privileged & confidential —
-- attorney work product": a note (kind 'note', object_id the timeline
-- entry's id), an evidence item ('evidence', the item's id) or the
-- post-incident review ('review', the incident's id). Only roles with
-- privileged:read see its content; everyone else sees that it exists and
-- who holds the privilege. held_by is the username of the Ward user who
-- holds it and marked_by the actor who marked it (usernames, never free
-- text). Unmarking deletes the row; both are on the timeline and in the
-- audit trail.
CREATE TABLE privileged_marks (
    kind        TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    held_by     TEXT NOT NULL,
    marked_by   TEXT NOT NULL,
    marked_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, object_id)
);
CREATE INDEX privileged_marks_incident ON privileged_marks (incident_id);
