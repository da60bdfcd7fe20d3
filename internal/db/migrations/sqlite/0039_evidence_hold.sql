-- A legal hold on one evidence item (issue #13), sqlite dialect.
-- Keep in step with ../postgres/0039_evidence_hold.sql.
--
-- While held_at is set the item is on legal hold: it cannot be destroyed
-- through its chain of custody, and the retention purge keeps it, and so
-- its incident. held_by is who placed the hold (as the audit trail names
-- them); hold_reason (sealed, keys.EvidenceHoldReason) is why. Releasing
-- the hold empties the three. Each placing and release is also an entry of
-- the item's chain of custody (legal_hold_placed, legal_hold_released)
-- with its reason, and an audit entry.
ALTER TABLE evidence_items ADD COLUMN held_at TIMESTAMP;
ALTER TABLE evidence_items ADD COLUMN held_by TEXT NOT NULL DEFAULT '';
ALTER TABLE evidence_items ADD COLUMN hold_reason TEXT NOT NULL DEFAULT '';
