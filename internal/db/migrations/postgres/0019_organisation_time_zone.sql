-- The organisation's time zone (issue #10), PostgreSQL dialect. Keep in step
-- with ../sqlite/0019_organisation_time_zone.sql.

-- time_zone is the IANA zone breach deadlines are counted in (calendar
-- days, business days, end of day); '' follows the server's --time-zone.
-- zone_applied is the zone the stored obligations were last computed in,
-- so that a server started with another --time-zone recomputes them.
-- Obligations computed before this migration were counted in UTC.
ALTER TABLE breach_organisation ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
ALTER TABLE breach_organisation ADD COLUMN zone_applied TEXT NOT NULL DEFAULT 'UTC';
