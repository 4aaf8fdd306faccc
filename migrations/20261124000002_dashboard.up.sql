-- The dashboard's reads: a priority order for states, the daily runs of trends, and indexes.

-- A state's place in the "still on the phone" list: P1 phone-only, P2, P3, then phone-free
-- and no-MFA. One definition for the list's order, its cursor and its index. Not STRICT, so
-- that PostgreSQL inlines it (a CASE is not strict) rather than calling it row by row.
CREATE FUNCTION phoneless_rank(state text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE state WHEN 'phone_only' THEN 1 WHEN 'phone_default' THEN 2
                      WHEN 'phone_backup' THEN 3 WHEN 'phone_free' THEN 4 ELSE 5 END;

-- The list walks current users in priority order, admins first, then by name; keyset paging
-- continues from the last row of a page. The expressions match the list query in
-- src/db/dashboard.rs.
CREATE INDEX user_versions_worklist ON user_versions (
    phoneless_rank(state), (NOT is_admin), display_name, user_id)
    WHERE ended_run IS NULL;

-- Trends have one point a day: the last run that succeeded that day (UTC).
CREATE VIEW daily_runs AS
    SELECT DISTINCT ON ((started_at AT TIME ZONE 'UTC')::date)
           id, (started_at AT TIME ZONE 'UTC')::date AS day
    FROM sync_runs WHERE status = 'succeeded'
    ORDER BY (started_at AT TIME ZONE 'UTC')::date, started_at DESC, id DESC;

-- Trend lines of one group (a department, a company, ...) across runs.
CREATE INDEX run_rollups_by_group ON run_rollups (dimension, name, run_id);

-- The daily runs are read from the succeeded ones.
CREATE INDEX sync_runs_succeeded ON sync_runs (started_at) WHERE status = 'succeeded';
