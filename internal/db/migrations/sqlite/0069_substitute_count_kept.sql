-- The substitute notice's count of a breach case's individuals whose
-- notice came back and none was sent since, kept as notices change (issue
-- #14), sqlite dialect. Keep in step with
-- ../postgres/0069_substitute_count_kept.sql.
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
    returned      INTEGER NOT NULL,
    sent          INTEGER NOT NULL,
    PRIMARY KEY (case_id, individual_id)
);

CREATE TABLE notice_returned_counts (
    id      INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL,
    n       INTEGER NOT NULL
);
-- Every column the count reads: the case's rows, never the table's.
CREATE INDEX notice_returned_counts_case ON notice_returned_counts (case_id, n);

-- Each side of a change (the notice as it was, as it is) moves its
-- individual's counts by its status, in four steps: the individual's row
-- is made if missing, the case's count moves by whether the individual is
-- counted after the step less whether it was before, the row moves, and a
-- row with nothing returned or sent goes. SQLite has one writer: nothing
-- changes between the steps.
CREATE TRIGGER notice_individual_counts_insert AFTER INSERT ON notices
    WHEN NEW.individual_id <> '' AND NEW.status IN ('returned', 'sent')
BEGIN
    INSERT OR IGNORE INTO notice_individual_counts (case_id, individual_id, returned, sent) VALUES (NEW.case_id, NEW.individual_id, 0, 0);
    INSERT INTO notice_returned_counts (case_id, n)
        SELECT case_id, (returned + (NEW.status = 'returned') > 0 AND sent + (NEW.status = 'sent') = 0) - (returned > 0 AND sent = 0)
        FROM notice_individual_counts WHERE case_id = NEW.case_id AND individual_id = NEW.individual_id
            AND (returned + (NEW.status = 'returned') > 0 AND sent + (NEW.status = 'sent') = 0) <> (returned > 0 AND sent = 0);
    UPDATE notice_individual_counts SET returned = returned + (NEW.status = 'returned'), sent = sent + (NEW.status = 'sent')
        WHERE case_id = NEW.case_id AND individual_id = NEW.individual_id;
END;

CREATE TRIGGER notice_individual_counts_delete AFTER DELETE ON notices
    WHEN OLD.individual_id <> '' AND OLD.status IN ('returned', 'sent')
BEGIN
    INSERT INTO notice_returned_counts (case_id, n)
        SELECT case_id, (returned - (OLD.status = 'returned') > 0 AND sent - (OLD.status = 'sent') = 0) - (returned > 0 AND sent = 0)
        FROM notice_individual_counts WHERE case_id = OLD.case_id AND individual_id = OLD.individual_id
            AND (returned - (OLD.status = 'returned') > 0 AND sent - (OLD.status = 'sent') = 0) <> (returned > 0 AND sent = 0);
    UPDATE notice_individual_counts SET returned = returned - (OLD.status = 'returned'), sent = sent - (OLD.status = 'sent')
        WHERE case_id = OLD.case_id AND individual_id = OLD.individual_id;
    DELETE FROM notice_individual_counts WHERE case_id = OLD.case_id AND individual_id = OLD.individual_id AND returned = 0 AND sent = 0;
END;

CREATE TRIGGER notice_individual_counts_update AFTER UPDATE OF case_id, individual_id, status ON notices
    WHEN (OLD.case_id IS NOT NEW.case_id OR OLD.individual_id IS NOT NEW.individual_id OR OLD.status IS NOT NEW.status)
        AND ((OLD.individual_id <> '' AND OLD.status IN ('returned', 'sent')) OR (NEW.individual_id <> '' AND NEW.status IN ('returned', 'sent')))
BEGIN
    -- The notice as it was.
    INSERT INTO notice_returned_counts (case_id, n)
        SELECT case_id, (returned - (OLD.status = 'returned') > 0 AND sent - (OLD.status = 'sent') = 0) - (returned > 0 AND sent = 0)
        FROM notice_individual_counts WHERE OLD.individual_id <> '' AND case_id = OLD.case_id AND individual_id = OLD.individual_id
            AND (returned - (OLD.status = 'returned') > 0 AND sent - (OLD.status = 'sent') = 0) <> (returned > 0 AND sent = 0);
    UPDATE notice_individual_counts SET returned = returned - (OLD.status = 'returned'), sent = sent - (OLD.status = 'sent')
        WHERE OLD.individual_id <> '' AND case_id = OLD.case_id AND individual_id = OLD.individual_id;
    DELETE FROM notice_individual_counts WHERE case_id = OLD.case_id AND individual_id = OLD.individual_id AND returned = 0 AND sent = 0;
    -- The notice as it is.
    INSERT OR IGNORE INTO notice_individual_counts (case_id, individual_id, returned, sent)
        SELECT NEW.case_id, NEW.individual_id, 0, 0 WHERE NEW.individual_id <> '' AND NEW.status IN ('returned', 'sent');
    INSERT INTO notice_returned_counts (case_id, n)
        SELECT case_id, (returned + (NEW.status = 'returned') > 0 AND sent + (NEW.status = 'sent') = 0) - (returned > 0 AND sent = 0)
        FROM notice_individual_counts WHERE case_id = NEW.case_id AND individual_id = NEW.individual_id
            AND (returned + (NEW.status = 'returned') > 0 AND sent + (NEW.status = 'sent') = 0) <> (returned > 0 AND sent = 0);
    UPDATE notice_individual_counts SET returned = returned + (NEW.status = 'returned'), sent = sent + (NEW.status = 'sent')
        WHERE case_id = NEW.case_id AND individual_id = NEW.individual_id;
    DELETE FROM notice_individual_counts WHERE case_id = NEW.case_id AND individual_id = NEW.individual_id AND returned = 0 AND sent = 0;
END;

INSERT INTO notice_individual_counts (case_id, individual_id, returned, sent)
    SELECT case_id, individual_id, sum(status = 'returned'), sum(status = 'sent') FROM notices
    WHERE individual_id <> '' AND status IN ('returned', 'sent') GROUP BY case_id, individual_id;
INSERT INTO notice_returned_counts (case_id, n)
    SELECT case_id, count(*) FROM notice_individual_counts WHERE returned > 0 AND sent = 0 GROUP BY case_id;
