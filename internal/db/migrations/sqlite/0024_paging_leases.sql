-- Paging leases held by node identity (issue #11), sqlite dialect. Keep in
-- step with ../postgres/0030_paging_leases.sql.

-- Every Ward node that delivers messages has a row here while it is
-- alive: it renews lease_until every few seconds. A message a node claims
-- is "sending" only while its claimer's lease holds; once a node's lease
-- lapses, another node takes its messages over (package paging).
CREATE TABLE paging_nodes (
    id          TEXT PRIMARY KEY,
    started_at  TIMESTAMP NOT NULL,
    lease_until TIMESTAMP NOT NULL
);

-- claimed_by is the node that claimed the message last (paging_nodes.id).
-- links holds the acknowledge and resolve tokens and the SMS reply code a
-- page message carries, sealed (keys.NotificationLinks), so that a re-send
-- carries the same ones and a receiver can tell it for the same message.
ALTER TABLE notifications ADD COLUMN claimed_by TEXT;
ALTER TABLE notifications ADD COLUMN links TEXT NOT NULL DEFAULT '';
