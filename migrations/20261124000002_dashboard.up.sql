-- Indexes for the dashboard's reads.

-- The "still on the phone" list walks current users in priority order (P1 phone-only, P2, P3,
-- then phone-free and no-MFA), admins first, then by name; keyset paging continues from the
-- last row of a page. The expressions must match those in db/operations.rs exactly.
CREATE INDEX user_versions_worklist ON user_versions (
    (CASE state WHEN 'phone_only' THEN 1 WHEN 'phone_default' THEN 2 WHEN 'phone_backup' THEN 3
                WHEN 'phone_free' THEN 4 ELSE 5 END),
    (NOT is_admin), display_name, user_id)
    WHERE ended_run IS NULL;

-- Trend lines of one group (a department, a company, ...) across runs.
CREATE INDEX run_rollups_by_group ON run_rollups (dimension, name, run_id);

-- The daily trend picks the last succeeded run of each day.
CREATE INDEX sync_runs_succeeded ON sync_runs (started_at) WHERE status = 'succeeded';
