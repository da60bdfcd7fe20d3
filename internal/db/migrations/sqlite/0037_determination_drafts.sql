-- The determination wizard's drafts (issue #14), sqlite dialect. Keep in step with
-- ../postgres/0037_determination_drafts.sql.
--
-- The wizard asks the questions of 45 CFR 164.402 one at a time; each
-- step's answers are kept here, per case and officer, until the officer
-- signs (the draft is then deleted in the same transaction). The body is
-- the answers (JSON), sealed: it holds the officer's rationale.
CREATE TABLE breach_determination_drafts (
    case_id    TEXT NOT NULL REFERENCES breach_cases (id),
    user_id    TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (case_id, user_id)
);
