-- The State breach-notification table as administrators edited it
-- (docs/BREACH_RULES.md), PostgreSQL dialect. Keep in step with ../sqlite/0017_state_rules.sql.
-- Every version is kept; the latest is in use, and with none Ward uses the
-- table it ships (states.json).
CREATE TABLE breach_state_tables (
    id         TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX breach_state_tables_created ON breach_state_tables (created_at);
