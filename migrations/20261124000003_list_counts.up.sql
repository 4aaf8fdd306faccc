-- The user list's counts per state scan every current user when the rollups cannot answer
-- them (admin, voice or text filters). Holding the filtered columns in one index of current
-- rows lets PostgreSQL count from the index alone (measured at 100,000 users: 55 ms to 11 ms).
CREATE INDEX user_versions_list_counts ON user_versions (state, user_type, is_admin, voice_capable)
    INCLUDE (in_scope, department, company, office, country)
    WHERE ended_run IS NULL;
