-- External contacts subscribed to incidents by rule (issue #17), sqlite dialect.
-- Keep in step with ../postgres/0068_external_contact_rules.sql.
--
-- rule is the contact's subscription rule, JSON as stakeholder_groups.rule
-- (services, severities, categories, phi_suspected, customers): 'null'
-- for a contact subscribed only by hand, as every contact was before.
-- Configuration, in clear: ids and labels, never free text.
ALTER TABLE external_contacts ADD COLUMN rule TEXT NOT NULL DEFAULT 'null';
