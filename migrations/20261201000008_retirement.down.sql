DELETE FROM alerts WHERE kind = 'admin_blocked';
ALTER TABLE alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_kind_check
    CHECK (kind IN ('member_joined', 'policy_changed', 'sync_failing'));
DELETE FROM run_parts WHERE part = 'roles';
ALTER TABLE run_parts DROP CONSTRAINT run_parts_part_check;
ALTER TABLE run_parts ADD CONSTRAINT run_parts_part_check
    CHECK (part IN ('methods_policy', 'strengths', 'conditional_access', 'memberships', 'audit'));
ALTER TABLE sync_runs DROP COLUMN availability;
ALTER TABLE run_rollups
    DROP COLUMN people_early, DROP COLUMN blocked_early, DROP COLUMN people_late,
    DROP COLUMN blocked_late, DROP COLUMN admins_blocked_early, DROP COLUMN admins_blocked_late,
    DROP COLUMN external_blocked, DROP COLUMN external_members,
    DROP COLUMN external_guests, DROP COLUMN out_of_scope_rule;
DROP INDEX user_versions_blocked;
ALTER TABLE user_versions
    DROP COLUMN external, DROP COLUMN global_admin, DROP COLUMN global_admin_eligible,
    DROP COLUMN blocked, DROP COLUMN unavailable, DROP COLUMN out_of_scope_by;
