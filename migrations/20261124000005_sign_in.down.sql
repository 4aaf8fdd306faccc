DELETE FROM access_log WHERE action IN ('sign_in', 'sign_out', 'session_revoked');
ALTER TABLE access_log DROP CONSTRAINT access_log_action_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_action_check
    CHECK (action IN ('search', 'view', 'api_view'));
ALTER TABLE access_log DROP COLUMN actor_object, DROP COLUMN actor_tenant;
DROP TABLE sign_in_attempts;
DROP TABLE web_sessions;
