-- Interactive Slack messages (issue #16), sqlite dialect. Keep in step with
-- ../postgres/0056_slack_requests.sql.
--
-- slack_requests holds the SHA-256 of the signature of each button press
-- Slack sent and Ward took, for twice the five minutes Slack's signed
-- timestamp is good for, so that the same request sent again is refused.
CREATE TABLE slack_requests (
    signature_hash TEXT PRIMARY KEY,
    received_at    TIMESTAMP NOT NULL
);
CREATE INDEX slack_requests_received ON slack_requests (received_at);
