-- Drills (issue #12), PostgreSQL dialect. Keep in step with
-- ../sqlite/0062_drills.sql.
--
-- A drill is an exercise (tabletop or simulation) recorded as an incident:
-- it runs a playbook's tasks and closes with its review like any incident,
-- and is kept as proof that the response plan is tested (45 CFR
-- 164.308(a)(7)(ii)(D)), but it never has a breach case and is left out of
-- the register, the SLA report and every count of real incidents
-- (docs/DRILLS.md).
ALTER TABLE incidents ADD COLUMN drill BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX incidents_drills ON incidents (created_at) WHERE drill;
