DROP TABLE alert_deliveries;
DROP TABLE alerts;
DROP TABLE group_memberships;
DROP TABLE watched_groups;
DROP TABLE policy_changes;
DROP TABLE policy_versions;
DROP TABLE run_parts;
