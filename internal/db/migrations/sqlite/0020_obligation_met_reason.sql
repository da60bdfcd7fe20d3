-- Evidence before "met" (issue #10), SQLite dialect. Keep in step with
-- ../postgres/0020_obligation_met_reason.sql.

-- Why an obligation was marked met: the reason a person wrote when marking
-- it by hand, or the record that met it (the HHS filing, the last notice
-- sent). Cleared when the obligation is reopened.
ALTER TABLE breach_obligations ADD COLUMN met_reason TEXT NOT NULL DEFAULT '';
