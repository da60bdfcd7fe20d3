-- The post-incident review and its action items (issue #12), postgres dialect.
-- Keep in step with ../sqlite/0045_incident_reviews.sql.
--
-- incident_reviews is the record of an incident's post_incident phase, one
-- row per incident, written when someone first saves it. Its text columns
-- (summary, root_cause, contributing_factors, went_well, lessons,
-- updates_made) are sealed (keys.Review*), as is waive_reason. A review is
-- complete once completed_at is set (by completed_by, as the audit trail
-- names them); waived_at, waived_by and waive_reason record that an officer
-- let the incident close without one. Closing an incident as resolved needs
-- one or the other.
--
-- incident_action_items are the follow-ups the review decides on. They
-- outlive the incident's closing. title and ticket_url are sealed
-- (keys.ActionItemTitle, keys.ActionItemTicketURL); owner is a Ward
-- username; status is open or done.
CREATE TABLE incident_reviews (
    incident_id          TEXT PRIMARY KEY REFERENCES incidents (id),
    summary              TEXT NOT NULL DEFAULT '',
    root_cause           TEXT NOT NULL DEFAULT '',
    contributing_factors TEXT NOT NULL DEFAULT '',
    went_well            TEXT NOT NULL DEFAULT '',
    lessons              TEXT NOT NULL DEFAULT '',
    updates_made         TEXT NOT NULL DEFAULT '',
    completed_at         TIMESTAMPTZ,
    completed_by         TEXT NOT NULL DEFAULT '',
    waived_at            TIMESTAMPTZ,
    waived_by            TEXT NOT NULL DEFAULT '',
    waive_reason         TEXT NOT NULL DEFAULT '',
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);

CREATE TABLE incident_action_items (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    title       TEXT NOT NULL,
    owner       TEXT NOT NULL,
    due_at      TIMESTAMPTZ NOT NULL,
    status      TEXT NOT NULL,
    ticket_url  TEXT NOT NULL DEFAULT '',
    done_at     TIMESTAMPTZ,
    done_by     TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX incident_action_items_incident ON incident_action_items (incident_id, created_at, id);
CREATE INDEX incident_action_items_status ON incident_action_items (status, due_at, id);
