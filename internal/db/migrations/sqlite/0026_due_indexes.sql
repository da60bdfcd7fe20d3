-- Background work found by its due time (issue
-- #18), sqlite dialect. Keep in step with ../postgres/0026_due_indexes.sql.

-- When the SLA checker next looks at the incident: the earliest moment a
-- target may turn at risk or missed, or a status update may fall due; NULL
-- when nothing more can fall due. Any change to the incident sets it to
-- the change's time, so the checker reads again only what may have moved.
ALTER TABLE incidents ADD COLUMN sla_check_at TIMESTAMP;
CREATE INDEX incidents_sla_check ON incidents (sla_check_at) WHERE sla_check_at IS NOT NULL;
-- Every incident the checker looked at before: open ones, and closed ones
-- whose breach case still owes a notice.
UPDATE incidents SET sla_check_at = created_at WHERE status <> 'closed'
    OR EXISTS (SELECT 1 FROM breach_cases c JOIN breach_obligations o ON o.case_id = c.id
        WHERE c.incident_id = incidents.id AND o.met_at IS NULL);
