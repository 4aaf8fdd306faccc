DROP TABLE phone_reasons;
ALTER TABLE alerts DROP CONSTRAINT alerts_kind_check;
DELETE FROM alerts WHERE kind IN ('allowlist_added', 'allowlist_removed');
ALTER TABLE alerts ADD CONSTRAINT alerts_kind_check
    CHECK (kind IN ('member_joined', 'policy_changed', 'sync_failing', 'admin_blocked'));
DROP TABLE allowlist_entries;
DROP INDEX access_log_actions;
DELETE FROM access_log WHERE action IN ('tap', 'allowlist_add', 'allowlist_extend',
    'allowlist_end', 'allowlist_expire', 'phone_reason');
ALTER TABLE access_log DROP CONSTRAINT access_log_action_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_action_check
    CHECK (action IN ('search', 'view', 'api_view', 'sign_in', 'sign_out', 'session_revoked'));
ALTER TABLE access_log DROP COLUMN reason, DROP COLUMN outcome;
