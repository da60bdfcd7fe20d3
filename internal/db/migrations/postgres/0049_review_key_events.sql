-- The post-incident review's key events (issue #12), postgres dialect.
-- Keep in step with ../sqlite/0049_review_key_events.sql.
--
-- incident_review_events are the entries of a review's key-events timeline:
-- each one an event of the incident's timeline (event_id, once per review)
-- that a responder imported, with the event's place (seq), time, kind and
-- phases, from
-- which Ward writes its plain-language label. text is a sealed copy of the
-- event's note (keys.ReviewEventText) and annotation what the responder
-- wrote about it (keys.ReviewEventAnnotation). They change only while the
-- review may (post_incident, not complete).
CREATE TABLE incident_review_events (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    event_id    TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    kind        TEXT NOT NULL,
    from_status TEXT NOT NULL DEFAULT '',
    to_status   TEXT NOT NULL DEFAULT '',
    text        TEXT NOT NULL DEFAULT '',
    annotation  TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX incident_review_events_event ON incident_review_events (incident_id, event_id);
