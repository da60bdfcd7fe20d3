-- Reviews of audit chain breaks (issue #13), postgres dialect. Keep in step with
-- ../postgres/0030_audit_break_reviews.sql.
--
-- When Ward finds its audit trail altered it starts a new chain segment
-- that records the break (audit.StartSegment). A Security or Privacy
-- Officer then reviews the break, naming the security incident that
-- investigates it (45 CFR 164.308(a)(6)(ii)); until every recorded break
-- is reviewed, the retention purge refuses to run, as it does while the
-- chain fails verification. One row per reviewed segment; the review is
-- also in the audit trail (audit.break_review).
CREATE TABLE audit_break_reviews (
    segment     BIGINT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    reviewed_by TEXT NOT NULL,
    reviewed_at TIMESTAMPTZ NOT NULL
);
