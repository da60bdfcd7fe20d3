-- Every free-text field is PHI-capable (issue #15), postgres dialect. Keep in
-- step with ../sqlite/0021_sealed_titles.sql.
--
-- Incident titles, task titles, alert summaries and break-glass reasons are
-- now sealed with the keyring (keys.Columns). This migration cannot seal:
-- the key is not SQL's. Ward seals the values written before it when it
-- starts, before it serves (Service.IndexTitles in package incident, and
-- Keyring.SealPlaintext in package keys; see internal/app/seal.go).

-- The plaintext copy of number and title that the list's text filter
-- matched goes; the search is now a blind index (incident_title_tokens).
DROP INDEX incidents_created;
ALTER TABLE incidents DROP COLUMN search;
CREATE INDEX incidents_created ON incidents (created_at, id);
-- The version of the tokeniser that indexed the row's title; 0 means not
-- indexed yet (rows written before this migration), which start-up fixes.
ALTER TABLE incidents ADD COLUMN search_version INTEGER NOT NULL DEFAULT 0;

-- The blind index of incident titles: one row per distinct normalised word
-- of a title, as a keyed hash (HMAC-SHA-256 under the sealed search key,
-- truncated to 128 bits, base64), never the word itself. The incident's
-- created_at is copied here (it never changes) so that a search walks one
-- word's rows newest first and stops at the end of the page; the primary
-- key serves the other words' checks and an incident's re-indexing. Two
-- b-trees in all, as every incident an alert opens writes a row per word.
CREATE TABLE incident_title_tokens (
    token               TEXT NOT NULL,
    incident_id         TEXT NOT NULL REFERENCES incidents (id),
    incident_created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (incident_id, token)
);
CREATE INDEX incident_title_tokens_newest ON incident_title_tokens (token, incident_created_at, incident_id);

-- Keys of blind indexes, one per purpose, each random and sealed with the
-- keyring (keys.SearchKey): never stored in clear.
CREATE TABLE search_keys (
    id         TEXT PRIMARY KEY,
    key        TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
