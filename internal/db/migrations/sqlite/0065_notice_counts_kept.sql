-- A breach case's counts of notices by kind, channel and status, kept as
-- notices change (issue #14), sqlite dialect. Keep in step with
-- ../postgres/0065_notice_counts_kept.sql.
--
-- The notices page (and GET .../notices/summary) counted the case's
-- notices at every view, reading every notice of the case: a million for
-- a large case, though the page lists 100. As for the home page's counts
-- (migration 0051), triggers now append one row per change to a count
-- (+1 when a notice is created or moves into a kind, channel and status,
-- -1 when it moves out or is deleted), so that the counts are exact
-- whatever path changed the notice (generation, sending, returns,
-- re-sends, the retention purge) and no two writers update the same row.
-- The page sums the case's rows, and a periodic task (notice.FoldCounts)
-- folds them into one per case, kind, channel and status.
CREATE TABLE notice_counts (
    id      INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL,
    kind    TEXT NOT NULL,
    channel TEXT NOT NULL,
    status  TEXT NOT NULL,
    n       INTEGER NOT NULL
);
-- Every column the count reads: the case's rows in group order, never the
-- table's rows, never sorted.
CREATE INDEX notice_counts_case ON notice_counts (case_id, kind, channel, status, n);

CREATE TRIGGER notice_counts_insert AFTER INSERT ON notices
BEGIN
    INSERT INTO notice_counts (case_id, kind, channel, status, n) VALUES (NEW.case_id, NEW.kind, NEW.channel, NEW.status, 1);
END;

CREATE TRIGGER notice_counts_delete AFTER DELETE ON notices
BEGIN
    INSERT INTO notice_counts (case_id, kind, channel, status, n) VALUES (OLD.case_id, OLD.kind, OLD.channel, OLD.status, -1);
END;

CREATE TRIGGER notice_counts_update AFTER UPDATE OF case_id, kind, channel, status ON notices
    WHEN OLD.case_id IS NOT NEW.case_id OR OLD.kind IS NOT NEW.kind OR OLD.channel IS NOT NEW.channel
        OR OLD.status IS NOT NEW.status
BEGIN
    INSERT INTO notice_counts (case_id, kind, channel, status, n) VALUES (OLD.case_id, OLD.kind, OLD.channel, OLD.status, -1);
    INSERT INTO notice_counts (case_id, kind, channel, status, n) VALUES (NEW.case_id, NEW.kind, NEW.channel, NEW.status, 1);
END;

INSERT INTO notice_counts (case_id, kind, channel, status, n)
    SELECT case_id, kind, channel, status, count(*) FROM notices GROUP BY case_id, kind, channel, status;

-- The notices page also counts, for the substitute notice, the individuals
-- whose notice came back and none was sent since: for each returned
-- notice, whether its individual has a sent one. SQLite looked for that
-- among every sent notice of the case (notices_case_status_id) once per
-- returned notice, so a case of a million notices never answered. This
-- index finds it by individual and status, and serves every use of the
-- one it replaces.
CREATE INDEX notices_case_individual_status ON notices (case_id, individual_id, status);
DROP INDEX notices_case_individual;
