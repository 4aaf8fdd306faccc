DROP INDEX sync_runs_succeeded;
DROP INDEX run_rollups_by_group;
DROP VIEW daily_runs;
DROP INDEX user_versions_worklist;
DROP FUNCTION phoneless_rank(text);
