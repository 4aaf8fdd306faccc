//! SQL of the write actions: time-boxed allowlist entries (and the worker's claims on the due
//! ones), and the count behind the pass limit.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// A time-boxed place in an exclusion group, added through phoneless.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    pub id: i64,
    pub group_id: Uuid,
    pub group_name: String,
    pub user_id: Uuid,
    pub upn: String,
    pub display_name: String,
    pub reason: String,
    pub added_by: String,
    pub added_at: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// `expired`, `ended` or `removed_outside`.
    pub end_kind: Option<String>,
    pub ended_by: Option<String>,
    /// The last failed removal, while it is retried.
    pub last_error: Option<String>,
    /// Removals tried so far.
    pub attempts: i32,
}

/// A new entry, after Graph added the member.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub group_id: Uuid,
    pub group_name: &'a str,
    pub user_id: Uuid,
    pub upn: &'a str,
    pub display_name: &'a str,
    pub reason: &'a str,
    pub added_by: &'a str,
    pub added_by_object: Option<Uuid>,
    pub added_at: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

pub async fn insert_entry(db: impl PgExecutor<'_>, e: &NewEntry<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO allowlist_entries (group_id, user_id, upn, display_name, reason, added_by,
                                        added_by_object, added_at, until, group_name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        e.group_id,
        e.user_id,
        e.upn,
        e.display_name,
        e.reason,
        e.added_by,
        e.added_by_object,
        e.added_at,
        e.until,
        e.group_name
    )
    .fetch_one(db)
    .await
}

macro_rules! entries {
    ($where:literal $(, $arg:expr)*) => {
        sqlx::query_as!(
            Entry,
            "SELECT id, group_id, group_name, user_id, upn, display_name, reason, added_by, added_at, until,
                    ended_at, end_kind, ended_by, last_error, attempts
             FROM allowlist_entries " + $where,
            $($arg),*
        )
    };
}

/// One entry by id.
pub async fn entry(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Entry>> {
    entries!("WHERE id = $1", id).fetch_optional(db).await
}

/// The open entry of a person in a group, if any.
pub async fn open_entry(
    db: impl PgExecutor<'_>,
    group_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<Entry>> {
    entries!(
        "WHERE group_id = $1 AND user_id = $2 AND ended_at IS NULL",
        group_id,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// Every open entry, and the entries ended in the last `ended_since`, newest first.
pub async fn recent_entries(
    db: impl PgExecutor<'_>,
    ended_since: DateTime<Utc>,
) -> sqlx::Result<Vec<Entry>> {
    entries!(
        "WHERE ended_at IS NULL OR ended_at >= $1 ORDER BY ended_at IS NOT NULL, until, id DESC",
        ended_since
    )
    .fetch_all(db)
    .await
}

/// A person's entries, newest first.
pub async fn entries_of(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<Entry>> {
    entries!("WHERE user_id = $1 ORDER BY id DESC", user_id)
        .fetch_all(db)
        .await
}

/// The person's current stay in a watched group, as the last sync saw it.
pub async fn current_stay(
    db: impl PgExecutor<'_>,
    group_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<crate::db::posture::Membership>> {
    sqlx::query_as!(
        crate::db::posture::Membership,
        "SELECT id, group_id, user_id, display_name, upn, joined_at, initial, added_by, added_at,
                left_at, removed_by
         FROM group_memberships WHERE group_id = $1 AND user_id = $2 AND left_run IS NULL",
        group_id,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// (group, person) of every open entry.
pub async fn open_pairs(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(Uuid, Uuid)>> {
    let rows =
        sqlx::query!("SELECT group_id, user_id FROM allowlist_entries WHERE ended_at IS NULL")
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().map(|r| (r.group_id, r.user_id)).collect())
}

/// Moves an open entry's end (extend, or shorten).
pub async fn set_until(
    db: impl PgExecutor<'_>,
    id: i64,
    until: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE allowlist_entries SET until = $2, lease_owner = NULL, lease_until = NULL,
                attempts = 0, last_error = NULL
         WHERE id = $1 AND ended_at IS NULL",
        id,
        until
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Closes an open entry; false when it was closed already (by another replica, or the sync).
pub async fn close_entry(
    db: impl PgExecutor<'_>,
    id: i64,
    at: DateTime<Utc>,
    kind: &str,
    by: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE allowlist_entries SET ended_at = $2, end_kind = $3, ended_by = $4,
                lease_owner = NULL, lease_until = NULL
         WHERE id = $1 AND ended_at IS NULL",
        id,
        at,
        kind,
        by
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Claims up to `limit` entries whose end has come and that nobody holds, for `lease`: while a
/// claim lasts no other replica takes them.
pub async fn claim_due(
    db: impl PgExecutor<'_>,
    owner: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: i64,
) -> sqlx::Result<Vec<Entry>> {
    sqlx::query_as!(
        Entry,
        "UPDATE allowlist_entries e SET lease_owner = $1, lease_until = $2 + $3::interval,
                attempts = e.attempts + 1
         FROM (SELECT id FROM allowlist_entries
               WHERE ended_at IS NULL AND until <= $2
                 AND (lease_until IS NULL OR lease_until < $2)
               ORDER BY until LIMIT $4 FOR UPDATE SKIP LOCKED) due
         WHERE e.id = due.id
         RETURNING e.id, e.group_id, e.group_name, e.user_id, e.upn, e.display_name, e.reason, e.added_by,
                   e.added_at, e.until, e.ended_at, e.end_kind, e.ended_by, e.last_error,
                   e.attempts",
        owner,
        now,
        sqlx::postgres::types::PgInterval::try_from(lease).unwrap_or_default(),
        limit
    )
    .fetch_all(db)
    .await
}

/// A removal failed: try again after `retry_at` (the claim is kept until then).
pub async fn removal_failed(
    db: impl PgExecutor<'_>,
    id: i64,
    owner: &str,
    error: &str,
    retry_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE allowlist_entries SET last_error = $3, lease_until = $4
         WHERE id = $1 AND lease_owner = $2 AND ended_at IS NULL",
        id,
        owner,
        error,
        retry_at
    )
    .execute(db)
    .await?;
    Ok(())
}

/// After a sync stored the watched groups' members: closes the open entries of people a sync
/// saw in their group before and no longer does (removed by hand; returned), then marks the
/// entries whose person it now sees. An entry no sync has seen yet is left alone: the sync may
/// have read the members before it was added.
pub async fn close_removed_outside(
    db: &mut sqlx::PgConnection,
    at: DateTime<Utc>,
) -> sqlx::Result<Vec<Entry>> {
    let closed = sqlx::query_as!(
        Entry,
        "UPDATE allowlist_entries e SET ended_at = $1, end_kind = 'removed_outside',
                ended_by = COALESCE(
                    (SELECT m.removed_by FROM group_memberships m
                     WHERE m.group_id = e.group_id AND m.user_id = e.user_id
                       AND m.left_run IS NOT NULL
                     ORDER BY m.id DESC LIMIT 1),
                    'outside phoneless'),
                lease_owner = NULL, lease_until = NULL
         WHERE e.ended_at IS NULL AND e.seen_in_group
           AND NOT EXISTS (SELECT 1 FROM group_memberships m
                           WHERE m.group_id = e.group_id AND m.user_id = e.user_id
                             AND m.left_run IS NULL)
         RETURNING e.id, e.group_id, e.group_name, e.user_id, e.upn, e.display_name, e.reason,
                   e.added_by, e.added_at, e.until, e.ended_at, e.end_kind, e.ended_by,
                   e.last_error, e.attempts",
        at
    )
    .fetch_all(&mut *db)
    .await?;
    sqlx::query!(
        "UPDATE allowlist_entries e SET seen_in_group = true
         WHERE e.ended_at IS NULL AND NOT e.seen_in_group
           AND EXISTS (SELECT 1 FROM group_memberships m
                       WHERE m.group_id = e.group_id AND m.user_id = e.user_id
                         AND m.left_run IS NULL)"
    )
    .execute(&mut *db)
    .await?;
    Ok(closed)
}

/// Passes `actor` issued since `since` (the access log is the record).
pub async fn passes_issued(
    db: impl PgExecutor<'_>,
    actor: &str,
    actor_object: Option<Uuid>,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<DateTime<Utc>>> {
    sqlx::query_scalar!(
        "SELECT at FROM access_log
         WHERE action = 'tap' AND outcome = 'done' AND at >= $3
           AND (actor = $1 OR ($2::uuid IS NOT NULL AND actor_object = $2))
         ORDER BY at",
        actor,
        actor_object,
        since
    )
    .fetch_all(db)
    .await
}
