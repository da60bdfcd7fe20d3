-- The home page's counts of open incidents leave drills out (issue #12),
-- postgres dialect. Keep in step with
-- ../sqlite/0066_open_counts_without_drills.sql.
--
-- A drill (migration 0062) is an exercise, not work the organisation owes
-- anyone: the home page counts it apart ("drills in progress"), so the
-- kept counts of migration 0051 no longer take it in. The trigger function
-- is made again with "NOT drill" beside "NOT restricted", and the counts
-- are made again from the incidents. A drill stays a drill (nothing
-- updates the column), so the update trigger need not watch it.
CREATE OR REPLACE FUNCTION incident_open_counts_track() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status <> 'closed' AND NOT OLD.restricted AND NOT OLD.drill THEN
        INSERT INTO incident_open_counts (severity, status, n) VALUES (OLD.severity, OLD.status, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status <> 'closed' AND NOT NEW.restricted AND NOT NEW.drill THEN
        INSERT INTO incident_open_counts (severity, status, n) VALUES (NEW.severity, NEW.status, 1);
    END IF;
    RETURN NULL;
END
$$;

DELETE FROM incident_open_counts;
INSERT INTO incident_open_counts (severity, status, n)
    SELECT severity, status, count(*) FROM incidents WHERE status <> 'closed' AND NOT restricted AND NOT drill
    GROUP BY severity, status;
