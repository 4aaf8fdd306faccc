//! Sign-in state in PostgreSQL, so every replica behind a load balancer shares it: sign-ins in
//! progress (taken once by the callback) and sessions (idle and absolute expiry, revocable).
//! Secrets are looked up by their SHA-256; the secrets themselves are never stored.

use crate::auth::Identity;
use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// Remembers a sign-in sent to Entra ID until its callback.
pub async fn record_attempt(
    db: impl PgExecutor<'_>,
    state_hash: &[u8],
    nonce: &str,
    pkce_verifier: &str,
    return_to: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO sign_in_attempts (state_hash, nonce, pkce_verifier, return_to, created_at)
         VALUES ($1, $2, $3, $4, $5)",
        state_hash,
        nonce,
        pkce_verifier,
        return_to,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A sign-in in progress, as recorded.
#[derive(Debug)]
pub struct Attempt {
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
}

/// Takes (deletes) the sign-in with this `state` if it began after `not_before`: a `state`
/// works once.
pub async fn take_attempt(
    db: impl PgExecutor<'_>,
    state_hash: &[u8],
    not_before: DateTime<Utc>,
) -> sqlx::Result<Option<Attempt>> {
    sqlx::query_as!(
        Attempt,
        "DELETE FROM sign_in_attempts WHERE state_hash = $1 AND created_at > $2
         RETURNING nonce, pkce_verifier, return_to",
        state_hash,
        not_before
    )
    .fetch_optional(db)
    .await
}

/// Forgets sign-ins that began before `before` and never came back.
pub async fn purge_attempts(db: impl PgExecutor<'_>, before: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM sign_in_attempts WHERE created_at < $1", before)
        .execute(db)
        .await?;
    Ok(())
}

/// Forgets sessions past their absolute expiry at `now` or idle since before `idle_cutoff`.
pub async fn purge_sessions(
    db: impl PgExecutor<'_>,
    now: DateTime<Utc>,
    idle_cutoff: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM web_sessions WHERE expires_at < $1 OR last_seen_at < $2",
        now,
        idle_cutoff
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Starts a session for `who`, named by `handle` on the sessions page.
#[expect(clippy::too_many_arguments, reason = "one column each")]
pub async fn create_session(
    db: impl PgExecutor<'_>,
    id_hash: &[u8],
    who: &Identity,
    csrf_token: &str,
    client: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    handle: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO web_sessions (id_hash, handle, tenant_id, object_id, name, username, roles,
                                   groups, groups_overage, csrf_token, client, created_at,
                                   last_seen_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13)",
        id_hash,
        handle,
        who.tenant_id,
        who.object_id,
        who.name,
        who.username,
        &who.roles,
        &who.groups,
        who.groups_overage,
        csrf_token,
        client,
        now,
        expires_at
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    pub handle: Uuid,
    pub tenant_id: Uuid,
    pub object_id: Uuid,
    pub name: String,
    pub username: String,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub groups_overage: bool,
    pub csrf_token: String,
    pub last_seen_at: DateTime<Utc>,
}

/// The session with this secret, unless it is revoked, past `expires_at`, or idle since before
/// `idle_cutoff`.
pub async fn live_session(
    db: impl PgExecutor<'_>,
    id_hash: &[u8],
    now: DateTime<Utc>,
    idle_cutoff: DateTime<Utc>,
) -> sqlx::Result<Option<Session>> {
    sqlx::query_as!(
        Session,
        "SELECT handle, tenant_id, object_id, name, username, roles, groups, groups_overage,
                csrf_token, last_seen_at
         FROM web_sessions
         WHERE id_hash = $1 AND revoked_at IS NULL AND expires_at > $2 AND last_seen_at > $3",
        id_hash,
        now,
        idle_cutoff
    )
    .fetch_optional(db)
    .await
}

/// Marks the session as used at `now` (keeps it from idling out).
pub async fn touch(db: impl PgExecutor<'_>, handle: Uuid, now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE web_sessions SET last_seen_at = $2 WHERE handle = $1 AND last_seen_at < $2",
        handle,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Ends a session (sign-out): it is deleted.
pub async fn end_session(db: impl PgExecutor<'_>, handle: Uuid) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM web_sessions WHERE handle = $1", handle)
        .execute(db)
        .await?;
    Ok(())
}

/// Ends the session with this secret (an older session of a browser signing in again).
pub async fn end_session_by_secret(db: impl PgExecutor<'_>, id_hash: &[u8]) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM web_sessions WHERE id_hash = $1", id_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Whose session was revoked.
#[derive(Debug)]
pub struct Revoked {
    pub object_id: Uuid,
    pub username: String,
}

/// Revokes a session (a security lead ended it); whose it was, if it was not already revoked.
pub async fn revoke_session(
    db: impl PgExecutor<'_>,
    handle: Uuid,
    by: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<Revoked>> {
    sqlx::query_as!(
        Revoked,
        "UPDATE web_sessions SET revoked_at = $3, revoked_by = $2
         WHERE handle = $1 AND revoked_at IS NULL
         RETURNING object_id, username",
        handle,
        by,
        now
    )
    .fetch_optional(db)
    .await
}

/// A session as the sessions page lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionSummary {
    pub handle: Uuid,
    pub object_id: Uuid,
    pub name: String,
    pub username: String,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub client: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Live sessions, most recently used first.
pub async fn live_sessions(
    db: impl PgExecutor<'_>,
    now: DateTime<Utc>,
    idle_cutoff: DateTime<Utc>,
) -> sqlx::Result<Vec<SessionSummary>> {
    sqlx::query_as!(
        SessionSummary,
        "SELECT handle, object_id, name, username, roles, groups, client, created_at,
                last_seen_at, expires_at
         FROM web_sessions
         WHERE revoked_at IS NULL AND expires_at > $1 AND last_seen_at > $2
         ORDER BY last_seen_at DESC, handle",
        now,
        idle_cutoff
    )
    .fetch_all(db)
    .await
}
