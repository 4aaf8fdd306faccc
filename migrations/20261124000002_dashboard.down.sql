DROP INDEX sync_runs_succeeded;
DROP INDEX run_rollups_by_group;
DROP INDEX user_versions_worklist;
