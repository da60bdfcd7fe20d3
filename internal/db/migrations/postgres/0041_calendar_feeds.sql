-- Calendar subscription addresses (issue #16), postgres dialect.
-- Keep in step with ../sqlite/0041_calendar_feeds.sql.
--
-- A feed is a secret address a person gives their calendar application
-- (Google Calendar, Outlook) so that it fetches their on-call shifts
-- without signing in: their own shifts in every schedule (schedule_id
-- NULL), or everyone's shifts in one schedule. The address holds a random
-- 256-bit token; token_hash (its SHA-256) finds the feed, and token keeps
-- it sealed (keys.CalendarFeedToken) so that its owner can see the address
-- again on their profile. Revoking sets revoked_at; the address then
-- answers 404, as it does once its owner is disabled.
CREATE TABLE calendar_feeds (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    schedule_id TEXT REFERENCES schedules (id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    token       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX calendar_feeds_user ON calendar_feeds (user_id, created_at);
