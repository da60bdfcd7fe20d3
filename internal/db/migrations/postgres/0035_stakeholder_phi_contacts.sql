-- The PHI check of status updates and external stakeholder contacts (issue #17), postgres dialect. Keep in step with
-- ../sqlite/0035_stakeholder_phi_contacts.sql.
--
-- Ward refuses a status update whose text looks like it holds PHI (a
-- Social Security number, a medical record number, a date of birth); the
-- Privacy Officer may post one all the same (audited, status_update.post
-- with phi_override). phi_checked is true only for an update whose text
-- passed the check: one overridden, or posted before the check existed,
-- is false, and its text must never leave Ward in any message.
ALTER TABLE status_updates ADD COLUMN phi_checked BOOLEAN NOT NULL DEFAULT false;

-- External stakeholder contacts: people outside Ward (a customer's
-- security contact, outside counsel, the insurer) who must hear about
-- incidents without an account. name, organisation, title and email are
-- sealed (keys.ExternalContact*); they are read only by roles that may see
-- PHI, and each read is audited. party_id links the contact to the party of
-- the breach registry it speaks for (a customer, a business associate),
-- when there is one.
CREATE TABLE external_contacts (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    organisation TEXT NOT NULL,
    title        TEXT NOT NULL,
    email        TEXT NOT NULL,
    party_id     TEXT REFERENCES breach_parties (id),
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    version      BIGINT NOT NULL
);
