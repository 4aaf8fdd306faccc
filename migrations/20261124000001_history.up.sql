-- Sync runs, per-user history (one row per version of a user's facts) and per-run rollups.

CREATE TABLE sync_runs (
    id          BIGSERIAL PRIMARY KEY,
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    status      TEXT NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    -- Users in the registration report (members and guests).
    users       INTEGER NOT NULL DEFAULT 0,
    -- Users whose stored facts changed in this run (appeared and gone included).
    changes     INTEGER NOT NULL DEFAULT 0,
    appeared    INTEGER NOT NULL DEFAULT 0,
    gone        INTEGER NOT NULL DEFAULT 0,
    pages       INTEGER NOT NULL DEFAULT 0,
    retries     INTEGER NOT NULL DEFAULT 0,
    -- Newest lastUpdatedDateTime in the report: when Microsoft's report was refreshed.
    data_as_of  TIMESTAMPTZ,
    -- What happened, in plain words, and a short kind (licence, permission, throttled, ...).
    error       TEXT,
    error_kind  TEXT,
    -- Which process ran it (host name and pid), for multi-replica set-ups.
    runner      TEXT NOT NULL DEFAULT ''
);

-- One row per version of a user's facts: valid from the run in which it was first seen
-- (first_run) until the run in which it stopped being true (ended_run; NULL while current).
-- A user who left the report has no current row. Storage grows with changes, not with runs.
CREATE TABLE user_versions (
    id                 BIGSERIAL PRIMARY KEY,
    -- The Entra object id (always a GUID; Graph's user.id and the ID token's oid).
    user_id            UUID NOT NULL,
    first_run          BIGINT NOT NULL REFERENCES sync_runs (id),
    ended_run          BIGINT REFERENCES sync_runs (id),
    -- Hash of the compared facts below, so a sync finds changed users without loading them.
    fingerprint        BIGINT NOT NULL,
    upn                TEXT NOT NULL,
    display_name       TEXT NOT NULL,
    department         TEXT,
    company            TEXT,
    office             TEXT,
    country            TEXT,
    job_title          TEXT,
    user_type          TEXT NOT NULL CHECK (user_type IN ('member', 'guest', 'unknown')),
    -- NULL when the user is in the report but not in /users.
    account_enabled    BOOLEAN,
    in_scope           BOOLEAN NOT NULL,
    is_admin           BOOLEAN NOT NULL,
    -- Canonical spelling, sorted; unknown strings kept as Graph sent them.
    methods            TEXT[] NOT NULL,
    default_method     TEXT NOT NULL,
    system_preferred   BOOLEAN NOT NULL,
    state              TEXT NOT NULL
                       CHECK (state IN ('phone_only', 'phone_default', 'phone_backup', 'phone_free', 'no_mfa')),
    voice_capable      BOOLEAN NOT NULL,
    voice_default      BOOLEAN NOT NULL,
    phishing_resistant BOOLEAN NOT NULL,
    CHECK (ended_run IS NULL OR ended_run > first_run)
);

CREATE UNIQUE INDEX user_versions_current ON user_versions (user_id) WHERE ended_run IS NULL;
CREATE INDEX user_versions_by_user ON user_versions (user_id, first_run);

-- Counts per run and group, so charts and department tables never scan users.
-- dimension 'tenant' has one row (name NULL); a NULL name elsewhere is "(no department)" etc.
CREATE TABLE run_rollups (
    run_id             BIGINT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    dimension          TEXT NOT NULL CHECK (dimension IN ('tenant', 'department', 'company', 'office', 'country')),
    name               TEXT,
    -- In-scope members.
    users              INTEGER NOT NULL,
    phone_only         INTEGER NOT NULL,
    phone_default      INTEGER NOT NULL,
    phone_backup       INTEGER NOT NULL,
    phone_free         INTEGER NOT NULL,
    no_mfa             INTEGER NOT NULL,
    voice_capable      INTEGER NOT NULL,
    voice_default      INTEGER NOT NULL,
    phishing_resistant INTEGER NOT NULL,
    admins             INTEGER NOT NULL,
    admins_phone_only  INTEGER NOT NULL,
    -- Counted apart: guests, and members out of scope (disabled accounts).
    guests             INTEGER NOT NULL,
    out_of_scope       INTEGER NOT NULL
);

CREATE INDEX run_rollups_by_run ON run_rollups (run_id, dimension);
