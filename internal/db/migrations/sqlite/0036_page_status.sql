-- Page status notifications and first-page latency (issue #11), sqlite dialect. Keep in step with
-- ../postgres/0036_page_status.sql.
--
-- status_updates: when a page is acknowledged, escalated or resolved, Ward
-- tells each contact method with it on of the people paged for it (kind
-- page_status in the outbox). On by default for webhooks, Slack and
-- Teams, which reach bridges and channels that must learn the page ended;
-- off for email, SMS and voice unless the person chooses it.
ALTER TABLE contact_methods ADD COLUMN status_updates BOOLEAN NOT NULL DEFAULT false;
UPDATE contact_methods SET status_updates = true WHERE kind IN ('webhook', 'slack', 'teams');

-- triggered_at is when the page last started (a trigger, or a new alert
-- after it was resolved); first_sent_at when its first page message since
-- then was sent. Their difference is ward_first_page_latency_seconds.
ALTER TABLE pages ADD COLUMN triggered_at TIMESTAMP;
ALTER TABLE pages ADD COLUMN first_sent_at TIMESTAMP;
