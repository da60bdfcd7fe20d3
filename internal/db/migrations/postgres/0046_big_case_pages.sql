-- The pages of a large breach case (issue #14), postgres dialect. Keep in
-- step with ../sqlite/0046_big_case_pages.sql.
--
-- The affected individuals page lists a case's individuals 50 at a time
-- in id order (keyset: after the last id shown). The only index on
-- case_id led with the State, so each page read and sorted every
-- individual of the case (6-8 s for a case of 1,000,000). This one reads
-- the page's rows in order and stops. The notices page names the people
-- its notices are addressed to by "case_id = $1 AND id IN (...)", which
-- SQLite answered from that same index, reading the whole case (4.5-5 s);
-- this one finds each by both columns.
CREATE INDEX breach_individuals_case_id ON breach_individuals (case_id, id);

-- The notices page lists a case's notices in id order, all of them or
-- those of one status: likewise read in order, never sorted.
CREATE INDEX notices_case_id ON notices (case_id, id);
CREATE INDEX notices_case_status_id ON notices (case_id, status, id);

-- The Retention page's preview (retention.makePlan) looks for closed
-- incidents last changed before the cutoff, oldest first: the index on
-- status led with created_at, so it read every closed incident (two
-- times: those held and those not). This one reads only those changed
-- before the cutoff, in order. Its breach cases are found from the cases
-- last changed before the cutoff (retention.caseDueSQL), not from every
-- closed incident.
CREATE INDEX incidents_status_updated ON incidents (status, updated_at, id);
CREATE INDEX breach_cases_updated ON breach_cases (updated_at, id);
