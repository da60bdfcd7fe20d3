-- The home page's counts of open incidents leave drills out (issue #12),
-- sqlite dialect. Keep in step with
-- ../postgres/0066_open_counts_without_drills.sql.
--
-- A drill (migration 0062) is an exercise, not work the organisation owes
-- anyone: the home page counts it apart ("drills in progress"), so the
-- kept counts of migration 0051 no longer take it in. The triggers are made
-- again with "NOT drill" beside "NOT restricted", and the counts are made
-- again from the incidents. A drill stays a drill (nothing updates the
-- column), so the update trigger need not watch it.
DROP TRIGGER incident_open_counts_insert;
DROP TRIGGER incident_open_counts_delete;
DROP TRIGGER incident_open_counts_update;

CREATE TRIGGER incident_open_counts_insert AFTER INSERT ON incidents
    WHEN NEW.status <> 'closed' AND NOT NEW.restricted AND NOT NEW.drill
BEGIN
    INSERT INTO incident_open_counts (severity, status, n) VALUES (NEW.severity, NEW.status, 1);
END;

CREATE TRIGGER incident_open_counts_delete AFTER DELETE ON incidents
    WHEN OLD.status <> 'closed' AND NOT OLD.restricted AND NOT OLD.drill
BEGIN
    INSERT INTO incident_open_counts (severity, status, n) VALUES (OLD.severity, OLD.status, -1);
END;

CREATE TRIGGER incident_open_counts_update AFTER UPDATE OF status, severity, restricted ON incidents
    WHEN OLD.status IS NOT NEW.status OR OLD.severity IS NOT NEW.severity OR OLD.restricted IS NOT NEW.restricted
BEGIN
    INSERT INTO incident_open_counts (severity, status, n)
        SELECT OLD.severity, OLD.status, -1 WHERE OLD.status <> 'closed' AND NOT OLD.restricted AND NOT OLD.drill;
    INSERT INTO incident_open_counts (severity, status, n)
        SELECT NEW.severity, NEW.status, 1 WHERE NEW.status <> 'closed' AND NOT NEW.restricted AND NOT NEW.drill;
END;

DELETE FROM incident_open_counts;
INSERT INTO incident_open_counts (severity, status, n)
    SELECT severity, status, count(*) FROM incidents WHERE status <> 'closed' AND NOT restricted AND NOT drill
    GROUP BY severity, status;
