-- Status update templates, the status page of external subscribers and the
-- public status page of an incident (issue #17), postgres dialect. Keep in step
-- with ../sqlite/0052_status_pages.sql.
--
-- A template is a saved text for one audience, offered when an update for
-- that audience is written. Its body is sealed like an update's
-- (keys.StatusUpdateTemplateBody) and passed the PHI check when saved.
CREATE TABLE status_update_templates (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    audience   TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1,
    UNIQUE (audience, name)
);

-- An incident's public status page, while it is turned on: found by the
-- hash of its random token; the token itself is kept sealed
-- (keys.PublicPageToken) so that officers can see the address again.
-- Turning the page off deletes the row, and the address stops working.
CREATE TABLE incident_public_pages (
    incident_id TEXT PRIMARY KEY REFERENCES incidents (id),
    token_hash  TEXT NOT NULL UNIQUE,
    token       TEXT NOT NULL,
    enabled_by  TEXT NOT NULL,
    enabled_at  TIMESTAMP NOT NULL
);
