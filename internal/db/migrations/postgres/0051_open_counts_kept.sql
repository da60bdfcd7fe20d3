-- The home page's counts of open incidents, kept as incidents change (issue
-- #14), postgres dialect. Keep in step with ../sqlite/0051_open_counts_kept.sql.
--
-- Counting the open incidents at every view read every open row: 84 ms for
-- 85,000 open incidents on PostgreSQL, which without vacuum cannot count from
-- the index alone. Triggers now append one row per change to a count
-- (+1 when an incident that is not restricted opens or moves into a severity
-- and phase, -1 when it moves out), so that the counts are exact whatever
-- path changed the incident, and no two writers update the same row: every
-- change is an insert. The home page sums this table, and a periodic task
-- (incident.FoldOpenCounts) folds its rows into one per severity and phase.
-- Restricted incidents are not counted here: whether a viewer may see one
-- depends on the viewer, so they are still counted at each view, from the
-- partial index below, which replaces migration 0040's index on every
-- incident.
CREATE TABLE incident_open_counts (
    id       BIGSERIAL PRIMARY KEY,
    severity TEXT NOT NULL,
    status   TEXT NOT NULL,
    n        BIGINT NOT NULL
);

-- search_path is pinned to the schema the migration ran in, so that the
-- trigger finds its table whatever the writing session's path.
CREATE FUNCTION incident_open_counts_track() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status <> 'closed' AND NOT OLD.restricted THEN
        INSERT INTO incident_open_counts (severity, status, n) VALUES (OLD.severity, OLD.status, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status <> 'closed' AND NOT NEW.restricted THEN
        INSERT INTO incident_open_counts (severity, status, n) VALUES (NEW.severity, NEW.status, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER incident_open_counts_insert_delete AFTER INSERT OR DELETE ON incidents
    FOR EACH ROW EXECUTE FUNCTION incident_open_counts_track();
CREATE TRIGGER incident_open_counts_update AFTER UPDATE OF status, severity, restricted ON incidents
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.severity IS DISTINCT FROM NEW.severity
        OR OLD.restricted IS DISTINCT FROM NEW.restricted)
    EXECUTE FUNCTION incident_open_counts_track();

INSERT INTO incident_open_counts (severity, status, n)
    SELECT severity, status, count(*) FROM incidents WHERE status <> 'closed' AND NOT restricted
    GROUP BY severity, status;

CREATE INDEX incidents_restricted_open ON incidents (status, severity) WHERE restricted;
DROP INDEX incidents_open_counts;
