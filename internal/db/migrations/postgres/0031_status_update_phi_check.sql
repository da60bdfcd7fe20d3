-- The PHI check of status updates (issue #17), postgres dialect. Keep in step with
-- ../sqlite/0031_status_update_phi_check.sql.
--
-- Ward refuses a status update whose text looks like it holds PHI (a
-- Social Security number, a medical record number, a date of birth); the
-- Privacy Officer may post one all the same (audited, status_update.post
-- with phi_override). phi_checked is true only for an update whose text
-- passed the check: one overridden, or posted before the check existed,
-- is false, and its text must never leave Ward in any message.
ALTER TABLE status_updates ADD COLUMN phi_checked BOOLEAN NOT NULL DEFAULT false;
