-- The simulated tenant a demo database was made for (seed, size, story length, first day), so
-- `phoneless demo` can go on with the same tenant. It used to be packed into the first run's
-- `runner`, which names the process that ran a sync.
CREATE TABLE demo_tenant (
    only_row    BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
    seed        BIGINT NOT NULL,
    users       INTEGER NOT NULL CHECK (users > 0),
    story_days  INTEGER NOT NULL CHECK (story_days > 0),
    start_date  DATE NOT NULL
);

-- Demo databases made before keep their tenant.
INSERT INTO demo_tenant (seed, users, story_days, start_date)
SELECT substring(runner FROM 'seed=(\d+)')::bigint,
       substring(runner FROM 'users=(\d+)')::integer,
       substring(runner FROM 'story=(\d+)')::integer,
       (started_at AT TIME ZONE 'UTC')::date
FROM sync_runs
WHERE id = (SELECT min(id) FROM sync_runs)
  AND runner ~ '^demo seed=\d+ users=\d+ story=\d+$';
