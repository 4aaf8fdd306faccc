DROP INDEX user_versions_search;
DROP INDEX user_versions_list_counts;
-- pg_trgm stays: other tools in the database may use it.
