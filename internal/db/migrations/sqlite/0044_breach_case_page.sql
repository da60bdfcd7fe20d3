-- The breach case page (issue #14), sqlite dialect. Keep in step with
-- ../postgres/0044_breach_case_page.sql.
--
-- Each case's individuals and individual notice progress by State and
-- customer: "N of M notified" per State asked, for each affected
-- individual, whether a notice was sent or came back (7.5 s for a case of
-- 1,000,000 on every view of the case), and the counts per State read the
-- whole case (breach.counts). These counts are kept instead, moved in the
-- same transaction as every change of an individual or of a notice to one
-- (breach.Tally); the rows below start them from what is on record.
-- individuals, insufficient (living, no address, no email they agreed to
-- be noticed at), deceased, deceased_kin (deceased with a next of kin's
-- address): as breach.Counts; owed: the individuals but the deceased whose
-- next of kin's address is unknown; sent: those of them with a notice
-- recorded as sent; substitutable: those of them without one whom a
-- substitute notice covers (no usable contact information, or a notice
-- that came back).
CREATE TABLE breach_notice_tallies (
    case_id       TEXT NOT NULL REFERENCES breach_cases (id),
    state         TEXT NOT NULL,
    customer      TEXT NOT NULL,
    individuals   INTEGER NOT NULL,
    insufficient  INTEGER NOT NULL,
    deceased      INTEGER NOT NULL,
    deceased_kin  INTEGER NOT NULL,
    owed          INTEGER NOT NULL,
    sent          INTEGER NOT NULL,
    substitutable INTEGER NOT NULL,
    PRIMARY KEY (case_id, state, customer)
);

INSERT INTO breach_notice_tallies (case_id, state, customer, individuals, insufficient, deceased, deceased_kin, owed, sent,
    substitutable)
SELECT b.case_id, b.state, b.customer, count(*),
    SUM(CASE WHEN NOT b.deceased AND NOT b.has_address AND NOT (b.has_email AND b.consent_electronic) THEN 1 ELSE 0 END),
    SUM(CASE WHEN b.deceased THEN 1 ELSE 0 END),
    SUM(CASE WHEN b.deceased AND b.has_next_of_kin_address THEN 1 ELSE 0 END),
    SUM(CASE WHEN NOT (b.deceased AND NOT b.has_next_of_kin_address) THEN 1 ELSE 0 END),
    SUM(CASE WHEN NOT (b.deceased AND NOT b.has_next_of_kin_address)
        AND EXISTS (SELECT 1 FROM notices n WHERE n.case_id = b.case_id AND n.individual_id = b.id AND n.status = 'sent')
        THEN 1 ELSE 0 END),
    SUM(CASE WHEN NOT (b.deceased AND NOT b.has_next_of_kin_address)
        AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.case_id = b.case_id AND n.individual_id = b.id AND n.status = 'sent')
        AND (NOT (((NOT b.deceased AND b.has_address AND NOT (b.has_email AND b.consent_electronic))
                OR (b.deceased AND b.has_next_of_kin_address))
            OR (NOT b.deceased AND b.has_email AND b.consent_electronic))
            OR EXISTS (SELECT 1 FROM notices n WHERE n.case_id = b.case_id AND n.individual_id = b.id AND n.status = 'returned'))
        THEN 1 ELSE 0 END)
FROM breach_individuals b
GROUP BY b.case_id, b.state, b.customer;

-- When each person last asked the Privacy Officers to sign a case's
-- determination (report.AskToSign): once per case and asker every 15
-- minutes, so a button pressed again does not send again. asker is the
-- actor's kind and id (user:..., token:...).
CREATE TABLE breach_signature_requests (
    case_id  TEXT NOT NULL REFERENCES breach_cases (id),
    asker    TEXT NOT NULL,
    asked_at TIMESTAMP NOT NULL,
    PRIMARY KEY (case_id, asker)
);
