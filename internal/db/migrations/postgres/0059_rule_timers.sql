-- Timed workflow rules (issue #16), postgres dialect. Keep in step with
-- ../sqlite/0059_rule_timers.sql.
--
-- A rule with after_seconds > 0 is checked by the jobs task rule_timers
-- once that long has passed since the incident's after_from time
-- (detected, created or acknowledged), not when the incident changes;
-- rule_firings still records that it acted, once per incident.
ALTER TABLE rules ADD COLUMN after_seconds BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rules ADD COLUMN after_from TEXT NOT NULL DEFAULT '';
CREATE INDEX incidents_detected ON incidents (detected_at) WHERE status <> 'closed';
