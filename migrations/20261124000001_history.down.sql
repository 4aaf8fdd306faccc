DROP TABLE run_rollups;
DROP TABLE user_versions;
DROP TABLE sync_runs;
