-- A page that reached nobody or that nobody acknowledged (issue #11), sqlite
-- dialect. Keep in step with ../postgres/0043_paging_alarm.sql.
--
-- alarm is '' while paging goes as it should, 'unacknowledged' once the
-- escalation policy ran every step and repeat with nobody acknowledging,
-- 'unreachable' while no message of the page's current step reached
-- anyone (nobody with a verified contact method, or every message failed
-- for good). alarm_reason is Ward's own sentence for it (the policy's
-- name, counts; never PHI) and alarm_at when it was raised. The incident
-- page shows it at its top and the Security Officers are told once, when
-- it is raised; acknowledging, resolving, a page that gets through or a
-- new trigger clears it. step_at is when the current step ran: its
-- messages are those created since.
ALTER TABLE pages ADD COLUMN alarm TEXT NOT NULL DEFAULT '';
ALTER TABLE pages ADD COLUMN alarm_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE pages ADD COLUMN alarm_at TIMESTAMP;
ALTER TABLE pages ADD COLUMN step_at TIMESTAMP;
