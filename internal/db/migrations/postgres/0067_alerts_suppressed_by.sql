-- The alerts an alert rule suppressed, found by the rule (issue #16),
-- postgres dialect. Keep in step with
-- ../sqlite/0067_alerts_suppressed_by.sql.
--
-- Deleting an alert rule counts the alerts it suppressed (alerts keep the
-- name of the rule that suppressed them, so such a rule is kept and can be
-- disabled instead). Without an index that count reads every alert. Only
-- suppressed alerts name a rule, so the index holds only them.
CREATE INDEX alerts_suppressed_by ON alerts (suppressed_by) WHERE suppressed_by IS NOT NULL;
