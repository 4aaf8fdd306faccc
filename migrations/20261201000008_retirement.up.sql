-- Two retirement dates and who will be blocked on each (docs/design.md §2): the facts that
-- decide a person's date and whether the methods policy leaves them only a phone, the rule
-- that took an account out of scope, and per-run counts of both cohorts.

ALTER TABLE user_versions
    -- An external (B2B) account: externalUserState set or #EXT# in the UPN. Late date.
    ADD COLUMN external              BOOLEAN NOT NULL DEFAULT false,
    -- An active Global Administrator (late date); NULL when the roles could not be read.
    ADD COLUMN global_admin          BOOLEAN,
    -- Eligible for the role through PIM, not active (early date, flagged).
    ADD COLUMN global_admin_eligible BOOLEAN NOT NULL DEFAULT false,
    -- A phone registered and no app or phishing-resistant method available to them.
    ADD COLUMN blocked               BOOLEAN NOT NULL DEFAULT false,
    -- Registered methods the methods policy does not let them use: `method=config=reason`.
    ADD COLUMN unavailable           TEXT[] NOT NULL DEFAULT '{}',
    -- Which out-of-scope rule matched: `group:<id>` or `upn:<pattern>`.
    ADD COLUMN out_of_scope_by       TEXT;

-- Before this, only registered methods were known: the phone-only were the blocked.
UPDATE user_versions SET blocked = (state = 'phone_only');

CREATE INDEX user_versions_blocked ON user_versions (blocked, external, global_admin)
    WHERE ended_run IS NULL;

-- Cohorts per group: the early date's (in-scope members other than active Global
-- Administrators and external members) and the late date's (those two, plus external guests).
-- NULL for runs made before the dates were known.
ALTER TABLE run_rollups
    ADD COLUMN people_early     INTEGER,
    ADD COLUMN blocked_early    INTEGER,
    ADD COLUMN people_late      INTEGER,
    ADD COLUMN blocked_late     INTEGER,
    -- Blocked admins (the report's isAdmin, or a Global Administrator) of each date.
    ADD COLUMN admins_blocked_early INTEGER,
    ADD COLUMN admins_blocked_late  INTEGER,
    -- Blocked external users (members and guests; all have the late date).
    ADD COLUMN external_blocked INTEGER,
    ADD COLUMN external_members INTEGER,
    ADD COLUMN external_guests  INTEGER,
    -- Members taken out of scope by the configured rule (the rest of out_of_scope: disabled).
    ADD COLUMN out_of_scope_rule INTEGER;

-- What "available" was worked out from (docs/design.md §2): the policy, or registered methods
-- and why.
ALTER TABLE sync_runs ADD COLUMN availability TEXT
    CHECK (availability IN ('policy', 'migration_incomplete', 'policy_unread', 'groups_unread'));

ALTER TABLE run_parts DROP CONSTRAINT run_parts_part_check;
ALTER TABLE run_parts ADD CONSTRAINT run_parts_part_check
    CHECK (part IN ('methods_policy', 'strengths', 'conditional_access', 'memberships', 'audit', 'roles'));

ALTER TABLE alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_kind_check
    CHECK (kind IN ('member_joined', 'policy_changed', 'sync_failing', 'admin_blocked'));
