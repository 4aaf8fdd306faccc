DROP INDEX user_versions_list_counts;
