-- More actions for workflow rules (issue #16), postgres dialect. Keep in step
-- with ../sqlite/0058_rule_actions.sql.
--
-- webhook_secret is the secret that signs a rule's call_webhook requests,
-- sealed (keys.RuleWebhookSecret); empty for a rule that calls none.
ALTER TABLE rules ADD COLUMN webhook_secret TEXT NOT NULL DEFAULT '';

-- The outbox of call_webhook: one row per call, sent by the jobs task
-- rule_webhooks and tried again with backoff. status: queued, sent,
-- failed (given up). last_error is a class Ward derives ("HTTP 503"),
-- never the receiver's answer. The payload is not stored: it is made,
-- free of PHI, when the call is sent.
CREATE TABLE rule_webhook_deliveries (
    id          TEXT PRIMARY KEY,
    rule_id     TEXT NOT NULL REFERENCES rules (id),
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    url         TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    due_at      TIMESTAMPTZ NOT NULL,
    last_error  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    sent_at     TIMESTAMPTZ
);
CREATE INDEX rule_webhook_deliveries_due ON rule_webhook_deliveries (due_at) WHERE status = 'queued';
CREATE INDEX rule_webhook_deliveries_incident ON rule_webhook_deliveries (incident_id);
