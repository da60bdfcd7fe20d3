-- Incident numbers without a queue (issue #18), sqlite dialect. Keep in
-- step with ../postgres/0055_incident_numbers.sql.
--
-- Nothing changes here: SQLite has one writer, so the counters row
-- 'incident:<year>' that numbers incidents keeps no other writer waiting,
-- and its numbers stay gapless. PostgreSQL numbers incidents from a
-- sequence instead (docs/ARCHITECTURE.md, "Incident numbers").
SELECT 1;
