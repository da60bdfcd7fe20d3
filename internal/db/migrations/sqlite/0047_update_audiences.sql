-- Per-audience status updates and the proof of their delivery (issue #17), sqlite dialect. Keep in step with
-- ../postgres/0047_update_audiences.sql.
--
-- An update is written for one audience: internal (the responders),
-- executives, counsel, public, or customer:<party id> (a customer of the
-- breach registry). Each stakeholder group and each external subscriber
-- belongs to one audience and hears only of the updates meant for it; the
-- SLA checker reminds the commander per audience.
--
-- What was there before: every update went to every group and every
-- confirmed subscriber. The updates become internal, and so do the groups
-- (people with a Ward sign-in, who read every update in Ward anyway): the
-- incident's cadence so far is kept as the internal audience's, whose
-- reminders are the ones of before. An external subscriber whose contact
-- speaks for a customer of the registry hears that customer's updates;
-- any other, the public ones. Neither is sent an update written before
-- audiences existed again: those were emailed already.
ALTER TABLE status_updates ADD COLUMN audience TEXT NOT NULL DEFAULT 'internal';
ALTER TABLE stakeholder_groups ADD COLUMN audience TEXT NOT NULL DEFAULT 'internal';
ALTER TABLE external_subscriptions ADD COLUMN audience TEXT NOT NULL DEFAULT 'public';
UPDATE external_subscriptions SET audience = 'customer:' || (SELECT c.party_id FROM external_contacts c
    JOIN breach_parties p ON p.id = c.party_id WHERE c.id = external_subscriptions.contact_id AND p.kind = 'customer')
    WHERE EXISTS (SELECT 1 FROM external_contacts c JOIN breach_parties p ON p.id = c.party_id
    WHERE c.id = external_subscriptions.contact_id AND p.kind = 'customer');
-- The proof of delivery: which messages to Ward users announced which
-- update (null for every other message, and for those of before).
ALTER TABLE notifications ADD COLUMN status_update_id TEXT REFERENCES status_updates (id);
CREATE INDEX notifications_status_update ON notifications (status_update_id) WHERE status_update_id IS NOT NULL;
CREATE INDEX status_updates_audience ON status_updates (incident_id, audience, posted_at);
