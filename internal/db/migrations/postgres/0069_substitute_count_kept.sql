-- The substitute notice's count of a breach case's individuals whose
-- notice came back and none was sent since, kept as notices change (issue
-- #14), postgres dialect. Keep in step with
-- ../sqlite/0069_substitute_count_kept.sql.
--
-- The notices page counted them at every view, reading every returned
-- notice of the case and looking up its individual's sent ones: 125,000
-- lookups for a case of a million notices. Triggers now keep, per case and
-- individual, how many of the individual's notices are returned and how
-- many sent (notice_individual_counts, a row while either is above zero),
-- and append +1 to notice_returned_counts when an individual comes to have
-- a returned notice and no sent one, -1 when it no longer does. The page
-- sums the case's rows; the periodic fold of the notice counts
-- (notice.FoldCounts) folds them into one per case. Notices to no
-- individual (documents) are never returned and are not counted.
CREATE TABLE notice_individual_counts (
    case_id       TEXT NOT NULL,
    individual_id TEXT NOT NULL,
    returned      BIGINT NOT NULL,
    sent          BIGINT NOT NULL,
    PRIMARY KEY (case_id, individual_id)
);

CREATE TABLE notice_returned_counts (
    id      BIGSERIAL PRIMARY KEY,
    case_id TEXT NOT NULL,
    n       BIGINT NOT NULL
);
-- Every column the count reads: the case's rows, never the table's.
CREATE INDEX notice_returned_counts_case ON notice_returned_counts (case_id, n);

-- notice_individual_move moves one individual's counts by dr returned and
-- ds sent notices. The upsert locks the individual's row, so two writers
-- changing the same individual's notices at once take turns, and the
-- second reads the counts the first committed: whether the individual was
-- counted before is computed from the counts it returns, never from a
-- snapshot another writer may have changed. search_path is pinned to the
-- schema the migration ran in, so that the trigger finds its tables
-- whatever the writing session's path.
CREATE FUNCTION notice_individual_move(c TEXT, i TEXT, dr BIGINT, ds BIGINT) RETURNS void LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
    r BIGINT;
    s BIGINT;
    was_counted BOOLEAN;
    is_counted BOOLEAN;
BEGIN
    IF i = '' OR (dr = 0 AND ds = 0) THEN
        RETURN;
    END IF;
    INSERT INTO notice_individual_counts AS x (case_id, individual_id, returned, sent) VALUES (c, i, dr, ds)
        ON CONFLICT (case_id, individual_id) DO UPDATE SET returned = x.returned + excluded.returned, sent = x.sent + excluded.sent
        RETURNING x.returned, x.sent INTO r, s;
    was_counted := r - dr > 0 AND s - ds = 0;
    is_counted := r > 0 AND s = 0;
    IF was_counted <> is_counted THEN
        INSERT INTO notice_returned_counts (case_id, n) VALUES (c, CASE WHEN is_counted THEN 1 ELSE -1 END);
    END IF;
    IF r = 0 AND s = 0 THEN
        DELETE FROM notice_individual_counts WHERE case_id = c AND individual_id = i;
    END IF;
END
$$;

CREATE FUNCTION notice_individual_counts_track() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.case_id = NEW.case_id AND OLD.individual_id = NEW.individual_id THEN
        PERFORM notice_individual_move(NEW.case_id, NEW.individual_id,
            (NEW.status = 'returned')::int - (OLD.status = 'returned')::int, (NEW.status = 'sent')::int - (OLD.status = 'sent')::int);
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM notice_individual_move(OLD.case_id, OLD.individual_id, -(OLD.status = 'returned')::int, -(OLD.status = 'sent')::int);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM notice_individual_move(NEW.case_id, NEW.individual_id, (NEW.status = 'returned')::int, (NEW.status = 'sent')::int);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER notice_individual_counts_insert AFTER INSERT ON notices
    FOR EACH ROW WHEN (NEW.individual_id <> '' AND NEW.status IN ('returned', 'sent'))
    EXECUTE FUNCTION notice_individual_counts_track();
CREATE TRIGGER notice_individual_counts_delete AFTER DELETE ON notices
    FOR EACH ROW WHEN (OLD.individual_id <> '' AND OLD.status IN ('returned', 'sent'))
    EXECUTE FUNCTION notice_individual_counts_track();
CREATE TRIGGER notice_individual_counts_update AFTER UPDATE OF case_id, individual_id, status ON notices
    FOR EACH ROW WHEN ((OLD.case_id IS DISTINCT FROM NEW.case_id OR OLD.individual_id IS DISTINCT FROM NEW.individual_id
        OR OLD.status IS DISTINCT FROM NEW.status)
        AND ((OLD.individual_id <> '' AND OLD.status IN ('returned', 'sent')) OR (NEW.individual_id <> '' AND NEW.status IN ('returned', 'sent'))))
    EXECUTE FUNCTION notice_individual_counts_track();

INSERT INTO notice_individual_counts (case_id, individual_id, returned, sent)
    SELECT case_id, individual_id, count(*) FILTER (WHERE status = 'returned'), count(*) FILTER (WHERE status = 'sent') FROM notices
    WHERE individual_id <> '' AND status IN ('returned', 'sent') GROUP BY case_id, individual_id;
INSERT INTO notice_returned_counts (case_id, n)
    SELECT case_id, count(*) FROM notice_individual_counts WHERE returned > 0 AND sent = 0 GROUP BY case_id;
