DELETE FROM run_parts WHERE part = 'sign_ins';
ALTER TABLE run_parts DROP CONSTRAINT run_parts_part_check;
ALTER TABLE run_parts ADD CONSTRAINT run_parts_part_check
    CHECK (part IN ('methods_policy', 'strengths', 'conditional_access', 'memberships', 'audit',
                    'roles'));
DROP TABLE sign_ins_seen;
DROP TABLE sign_in_cursor;
DROP TABLE phone_usage;
DROP TABLE mfa_usage;
