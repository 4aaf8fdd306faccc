-- Sign-in with Entra ID: sessions shared by every replica, sign-ins in progress, and the
-- signed-in person's immutable ids in the access log.

-- One row per signed-in browser. The cookie holds a random secret; only its SHA-256 is kept,
-- so a copy of the database does not let anyone in.
CREATE TABLE web_sessions (
    id_hash      BYTEA PRIMARY KEY,
    -- Names the session on the sessions page (to revoke it) without revealing its secret.
    handle       UUID NOT NULL UNIQUE,
    -- The person, keyed by tenant and object id (never by UPN, which can change hands).
    tenant_id    UUID NOT NULL,
    object_id    UUID NOT NULL,
    name         TEXT NOT NULL,
    username     TEXT NOT NULL,
    -- The ID token's app roles and groups; the role is worked out from them and the current
    -- configuration on every request, so a changed mapping applies at once.
    roles        TEXT[] NOT NULL,
    groups       TEXT[] NOT NULL,
    -- The token named more groups than fit in it (Entra's overage), so `groups` is incomplete.
    groups_overage BOOLEAN NOT NULL DEFAULT false,
    -- Sent back with every form (a state-changing request without it is refused).
    csrf_token   TEXT NOT NULL,
    client       TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    -- Absolute expiry; idle expiry is last_seen_at plus the configured idle time.
    expires_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ,
    revoked_by   TEXT
);
CREATE INDEX web_sessions_by_person ON web_sessions (tenant_id, object_id);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);

-- A sign-in sent to Entra and not yet back: its PKCE verifier and nonce, keyed by the SHA-256
-- of its `state`. Taken (deleted) by the callback, so a `state` works once.
CREATE TABLE sign_in_attempts (
    state_hash    BYTEA PRIMARY KEY,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    return_to     TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX sign_in_attempts_by_age ON sign_in_attempts (created_at);

-- Who looked, by immutable ids (NULL while sign-in is off), and sign-ins and sign-outs.
ALTER TABLE access_log ADD COLUMN actor_tenant UUID, ADD COLUMN actor_object UUID;
ALTER TABLE access_log DROP CONSTRAINT access_log_action_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_action_check
    CHECK (action IN ('search', 'view', 'api_view', 'sign_in', 'sign_out', 'session_revoked'));
