-- Incident numbers without a queue (issue #18), postgres dialect. Keep in
-- step with ../sqlite/0055_incident_numbers.sql.
--
-- An incident create took its number from a counters row
-- ('incident:<year>') with an update held until commit, so every create on
-- every node waited for the one before it to commit. Numbers now come from
-- a sequence, whose nextval waits on no transaction: a year's numbers are
-- nextval('incident_numbers') less the year's base, a counters row
-- 'incident_base:<year>' written by the year's first create (one less
-- than the value it takes). A create that
-- rolls back leaves its number unused (docs/ARCHITECTURE.md, "Incident
-- numbers").
CREATE SEQUENCE incident_numbers;

-- Carry on from the old counters: with S the sequence's next value, a
-- year that had reached N gets the base S - 1 - N, so its next number is
-- at least N + 1.
SELECT setval('incident_numbers',
    (SELECT COALESCE(max(value), 0) + 1 FROM counters WHERE name LIKE 'incident:%'), false);
INSERT INTO counters (name, value)
    SELECT 'incident_base:' || substr(name, 10),
           (SELECT COALESCE(max(value), 0) FROM counters WHERE name LIKE 'incident:%') - value
    FROM counters WHERE name LIKE 'incident:%';
DELETE FROM counters WHERE name LIKE 'incident:%';
