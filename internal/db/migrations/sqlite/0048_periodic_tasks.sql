-- One background mechanism: Ward's leased loops, River removed (issue #11),
-- sqlite dialect. Keep in step with ../postgres/0048_periodic_tasks.sql.
--
-- periodic_tasks holds Ward's periodic housekeeping tasks (package jobs):
-- one row per task name. next_run_at is when the task is next due, by
-- Ward's clock. A node runs a task by claiming it: setting lease_holder to
-- its own name and lease_until to a time it keeps renewing while the task
-- runs, with a conditional UPDATE that succeeds only while the task is due
-- and nobody else's lease holds; a node that dies stops renewing, and
-- another claims the task once lease_until has passed. A finished run
-- clears lease_until and leaves lease_holder naming the node that ran it. attempts counts the
-- failed runs since the last success (the retry backoff grows with it).
CREATE TABLE periodic_tasks (
    name         TEXT PRIMARY KEY,
    next_run_at  TIMESTAMP NOT NULL,
    lease_holder TEXT,
    lease_until  TIMESTAMP,
    attempts     INTEGER NOT NULL DEFAULT 0
);

-- periodic_task_nodes are the nodes running periodic tasks on PostgreSQL,
-- each renewing lease_until while it runs: a node that starts while
-- another's lease holds is not the first of its cluster, and does not make
-- the start tasks due again.
CREATE TABLE periodic_task_nodes (
    node        TEXT PRIMARY KEY,
    lease_until TIMESTAMP NOT NULL
);

-- River's tables, which earlier versions created beside Ward's.
DROP TABLE IF EXISTS river_client_queue;
DROP TABLE IF EXISTS river_client;
DROP TABLE IF EXISTS river_notification;
DROP TABLE IF EXISTS river_job;
DROP TABLE IF EXISTS river_leader;
DROP TABLE IF EXISTS river_queue;
DROP TABLE IF EXISTS river_migration;
