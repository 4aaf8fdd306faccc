-- Policy posture and allowlist oversight: the tenant's security policies and their history,
-- the exclusion groups' members over time, and alerts with their deliveries to webhooks.

-- The optional parts of a run (policies, group membership, audit log): whether each could be
-- read. A part that could not be read leaves the rest of the run intact; its error says why,
-- with the fix.
CREATE TABLE run_parts (
    run_id    BIGINT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    part      TEXT NOT NULL
              CHECK (part IN ('methods_policy', 'strengths', 'conditional_access', 'memberships', 'audit')),
    available BOOLEAN NOT NULL,
    error     TEXT,
    PRIMARY KEY (run_id, part)
);

-- One row per version of a policy object, as with user_versions: valid from `first_run` until
-- `ended_run` (NULL while current). Only changes add rows.
CREATE TABLE policy_versions (
    id            BIGSERIAL PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('methods_policy', 'strength', 'conditional_access')),
    object_id     TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    body          JSONB NOT NULL,
    first_run     BIGINT NOT NULL REFERENCES sync_runs (id),
    first_seen_at TIMESTAMPTZ NOT NULL,
    ended_run     BIGINT REFERENCES sync_runs (id),
    ended_at      TIMESTAMPTZ
);
CREATE UNIQUE INDEX policy_versions_current ON policy_versions (kind, object_id)
    WHERE ended_run IS NULL;

-- A policy change is a dated event: what was added, changed or removed, each difference in words.
CREATE TABLE policy_changes (
    id           BIGSERIAL PRIMARY KEY,
    run_id       BIGINT NOT NULL REFERENCES sync_runs (id),
    seen_at      TIMESTAMPTZ NOT NULL,
    -- When Graph says the object was modified, if it says.
    modified_at  TIMESTAMPTZ,
    kind         TEXT NOT NULL,
    object_id    TEXT NOT NULL,
    display_name TEXT NOT NULL,
    change       TEXT NOT NULL CHECK (change IN ('added', 'changed', 'removed')),
    details      TEXT[] NOT NULL
);
CREATE INDEX policy_changes_by_time ON policy_changes (seen_at DESC, id DESC);

-- The groups the policies name, with their size; among them the exclusion groups whose members
-- are watched (`watched`): the configured ones and those the policies exclude.
CREATE TABLE watched_groups (
    group_id      UUID PRIMARY KEY,
    display_name  TEXT,
    member_count  INTEGER,
    configured    BOOLEAN NOT NULL,
    -- Where the policies exclude it, in words.
    reasons       TEXT[] NOT NULL,
    -- Watched as of the latest run that read memberships.
    watched       BOOLEAN NOT NULL,
    -- The group no longer exists in the directory.
    missing       BOOLEAN NOT NULL DEFAULT false,
    -- Its members were read at least once: later reads see joins, the first one sees members.
    members_read  BOOLEAN NOT NULL DEFAULT false,
    first_run     BIGINT NOT NULL REFERENCES sync_runs (id),
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_run      BIGINT NOT NULL REFERENCES sync_runs (id)
);

-- One row per stay of a person in a watched group: from the sync that first saw them there to
-- the one that no longer did. `initial` stays were already there when the group was first read.
CREATE TABLE group_memberships (
    id           BIGSERIAL PRIMARY KEY,
    group_id     UUID NOT NULL REFERENCES watched_groups (group_id),
    user_id      UUID NOT NULL,
    display_name TEXT,
    upn          TEXT,
    joined_run   BIGINT NOT NULL REFERENCES sync_runs (id),
    joined_at    TIMESTAMPTZ NOT NULL,
    initial      BOOLEAN NOT NULL,
    -- From the directory audit log's `Add member to group`, when it has the entry.
    added_by     TEXT,
    added_at     TIMESTAMPTZ,
    left_run     BIGINT REFERENCES sync_runs (id),
    left_at      TIMESTAMPTZ,
    removed_by   TEXT
);
CREATE UNIQUE INDEX group_memberships_current ON group_memberships (group_id, user_id)
    WHERE left_run IS NULL;
CREATE INDEX group_memberships_by_user ON group_memberships (user_id);

-- Alerts, at most one per event (`event_key`), written in the same transaction as what raised them.
CREATE TABLE alerts (
    id         BIGSERIAL PRIMARY KEY,
    event_key  TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('member_joined', 'policy_changed', 'sync_failing')),
    created_at TIMESTAMPTZ NOT NULL,
    run_id     BIGINT REFERENCES sync_runs (id),
    title      TEXT NOT NULL,
    text       TEXT NOT NULL,
    -- [[name, value], …] shown as a table.
    facts      JSONB NOT NULL
);
CREATE INDEX alerts_by_time ON alerts (created_at DESC, id DESC);

-- Each alert to each webhook configured when it was raised. The webhook is named by a hash of
-- its URL and a label (kind and host): its URL is a secret and stays in the configuration.
CREATE TABLE alert_deliveries (
    alert_id        BIGINT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    webhook_key     TEXT NOT NULL,
    webhook_label   TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    delivered_at    TIMESTAMPTZ,
    PRIMARY KEY (alert_id, webhook_key)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE status = 'pending';
