-- The blind index of incident titles is one b-tree, not two (issue #15),
-- sqlite dialect. Keep in step with ../postgres/0029_title_index_one_tree.sql.
--
-- 0021 keyed the index rows by (incident_id, token) and added an index on
-- (token, incident_created_at, incident_id) for searches. Every incident an
-- alert opens writes a row per word of its title, so each such row went
-- into two b-trees; measured, the second cost about 7% of alert intake
-- when every alert opens an incident. Searches only ever walk a word's
-- rows newest first and check the other words by (token, time, incident),
-- so that order alone is kept. An incident's rows are removed through the
-- words of its title (the incident service knows them), not by incident.
-- The foreign key goes with the incident-first key: checking it on every
-- deleted incident would read the whole index. The retention purge has the
-- incident service remove an incident's rows before deleting it.
CREATE TABLE incident_title_tokens_new (
    token               TEXT NOT NULL,
    incident_id         TEXT NOT NULL,
    incident_created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (token, incident_created_at, incident_id)
) WITHOUT ROWID;
INSERT INTO incident_title_tokens_new (token, incident_id, incident_created_at)
    SELECT token, incident_id, incident_created_at FROM incident_title_tokens;
DROP TABLE incident_title_tokens;
ALTER TABLE incident_title_tokens_new RENAME TO incident_title_tokens;
