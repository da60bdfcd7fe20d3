-- The home page's counts of open incidents, kept as incidents change (issue
-- #14), sqlite dialect. Keep in step with ../postgres/0051_open_counts_kept.sql.
--
-- Counting the open incidents at every view read every open row (30 ms for
-- 85,000 open incidents on SQLite, from the index). Triggers now append one
-- row per change to a count (+1 when an incident that is not restricted
-- opens or moves into a severity and phase, -1 when it moves out), so that
-- the counts are exact whatever path changed the incident. The home page
-- sums this table, and a periodic task (incident.FoldOpenCounts) folds its
-- rows into one per severity and phase. Restricted incidents are not counted
-- here: whether a viewer may see one depends on the viewer, so they are
-- still counted at each view, from the partial index below, which replaces
-- migration 0040's index on every incident.
CREATE TABLE incident_open_counts (
    id       INTEGER PRIMARY KEY,
    severity TEXT NOT NULL,
    status   TEXT NOT NULL,
    n        INTEGER NOT NULL
);

CREATE TRIGGER incident_open_counts_insert AFTER INSERT ON incidents
    WHEN NEW.status <> 'closed' AND NOT NEW.restricted
BEGIN
    INSERT INTO incident_open_counts (severity, status, n) VALUES (NEW.severity, NEW.status, 1);
END;

CREATE TRIGGER incident_open_counts_delete AFTER DELETE ON incidents
    WHEN OLD.status <> 'closed' AND NOT OLD.restricted
BEGIN
    INSERT INTO incident_open_counts (severity, status, n) VALUES (OLD.severity, OLD.status, -1);
END;

CREATE TRIGGER incident_open_counts_update AFTER UPDATE OF status, severity, restricted ON incidents
    WHEN OLD.status IS NOT NEW.status OR OLD.severity IS NOT NEW.severity OR OLD.restricted IS NOT NEW.restricted
BEGIN
    INSERT INTO incident_open_counts (severity, status, n)
        SELECT OLD.severity, OLD.status, -1 WHERE OLD.status <> 'closed' AND NOT OLD.restricted;
    INSERT INTO incident_open_counts (severity, status, n)
        SELECT NEW.severity, NEW.status, 1 WHERE NEW.status <> 'closed' AND NOT NEW.restricted;
END;

INSERT INTO incident_open_counts (severity, status, n)
    SELECT severity, status, count(*) FROM incidents WHERE status <> 'closed' AND NOT restricted
    GROUP BY severity, status;

CREATE INDEX incidents_restricted_open ON incidents (status, severity) WHERE restricted;
DROP INDEX incidents_open_counts;
