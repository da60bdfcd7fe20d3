-- The organisation's public status page (issue #17), postgres dialect. Keep in
-- step with ../sqlite/0061_org_status_page.sql.
--
-- Off until an officer turns it on: the one row (id 'org') says it is on,
-- by whom and since when; turning it off deletes the row. While on, /status
-- lists the incidents whose own public status page is on
-- (incident_public_pages), each with its PHI-checked public updates.
CREATE TABLE org_status_page (
    id         TEXT PRIMARY KEY,
    enabled_by TEXT NOT NULL,
    enabled_at TIMESTAMP NOT NULL
);
