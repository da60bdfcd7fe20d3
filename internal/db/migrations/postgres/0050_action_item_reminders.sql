-- Reminders of overdue action items (issue #12), postgres dialect. Keep in step
-- with ../sqlite/0050_action_item_reminders.sql.
--
-- reminded_due_at is the due time for which the owner of an open action
-- item was told it is overdue: once per due time, so that moving the due
-- time later arms the reminder again. NULL: never reminded.
ALTER TABLE incident_action_items ADD COLUMN reminded_due_at TIMESTAMP;
