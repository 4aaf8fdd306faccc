//! SQL of the policy posture and the exclusion groups: what a run could read, policy versions
//! and their changes, watched groups and their members over time.

use crate::graph::model::{
    AuthenticationMethodsPolicy, AuthenticationStrengthPolicy, ConditionalAccessPolicy,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

/// Records whether an optional part of a run could be read.
pub async fn insert_run_part(
    db: impl PgExecutor<'_>,
    run_id: i64,
    part: &str,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO run_parts (run_id, part, available, error) VALUES ($1, $2, $3, $4)",
        run_id,
        part,
        error.is_none(),
        error
    )
    .execute(db)
    .await?;
    Ok(())
}

/// One optional part of a run and whether it could be read.
#[derive(Debug, Clone, Serialize)]
pub struct RunPart {
    pub part: String,
    pub available: bool,
    pub error: Option<String>,
}

/// The parts of the newest run that recorded any (a run that failed recorded none).
pub async fn latest_run_parts(
    db: impl PgExecutor<'_>,
) -> sqlx::Result<(Option<i64>, Vec<RunPart>)> {
    let rows = sqlx::query!(
        "SELECT run_id, part, available, error FROM run_parts
         WHERE run_id = (SELECT max(run_id) FROM run_parts) ORDER BY part"
    )
    .fetch_all(db)
    .await?;
    let run = rows.first().map(|r| r.run_id);
    Ok((
        run,
        rows.into_iter()
            .map(|r| RunPart {
                part: r.part,
                available: r.available,
                error: r.error,
            })
            .collect(),
    ))
}

/// Policy kinds as stored.
pub const METHODS_POLICY: &str = "methods_policy";
pub const STRENGTH: &str = "strength";
pub const CONDITIONAL_ACCESS: &str = "conditional_access";

/// The current policies, parsed back into Graph's types.
#[derive(Debug, Default, Clone)]
pub struct StoredPolicies {
    pub methods: Option<AuthenticationMethodsPolicy>,
    pub strengths: Vec<AuthenticationStrengthPolicy>,
    pub conditional_access: Vec<ConditionalAccessPolicy>,
}

impl StoredPolicies {
    pub fn from_versions(versions: &[PolicyVersion]) -> StoredPolicies {
        let mut s = StoredPolicies::default();
        for v in versions {
            match v.kind.as_str() {
                METHODS_POLICY => s.methods = serde_json::from_value(v.body.clone()).ok(),
                STRENGTH => s
                    .strengths
                    .extend(serde_json::from_value(v.body.clone()).ok()),
                CONDITIONAL_ACCESS => s
                    .conditional_access
                    .extend(serde_json::from_value(v.body.clone()).ok()),
                _ => {}
            }
        }
        s
    }
}

/// The current version of a policy object.
#[derive(Debug, Clone)]
pub struct PolicyVersion {
    pub id: i64,
    pub kind: String,
    pub object_id: String,
    pub display_name: String,
    pub body: Value,
}

/// Every current policy version.
pub async fn current_policies(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<PolicyVersion>> {
    sqlx::query_as!(
        PolicyVersion,
        "SELECT id, kind, object_id, display_name, body FROM policy_versions
         WHERE ended_run IS NULL ORDER BY kind, display_name, object_id"
    )
    .fetch_all(db)
    .await
}

/// Whether any version of `kind` was ever stored (the first read of a kind is not a change).
pub async fn policies_known(db: impl PgExecutor<'_>, kind: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        "SELECT EXISTS (SELECT 1 FROM policy_versions WHERE kind = $1) AS \"known!\"",
        kind
    )
    .fetch_one(db)
    .await
}

pub async fn close_policy(
    db: impl PgExecutor<'_>,
    id: i64,
    run_id: i64,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE policy_versions SET ended_run = $2, ended_at = $3 WHERE id = $1",
        id,
        run_id,
        at
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn insert_policy(
    db: impl PgExecutor<'_>,
    kind: &str,
    object_id: &str,
    display_name: &str,
    body: &Value,
    run_id: i64,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO policy_versions (kind, object_id, display_name, body, first_run, first_seen_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        kind,
        object_id,
        display_name,
        body,
        run_id,
        at
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A dated change of a policy object.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyChange {
    pub id: i64,
    pub run_id: i64,
    pub seen_at: DateTime<Utc>,
    pub modified_at: Option<DateTime<Utc>>,
    pub kind: String,
    pub object_id: String,
    pub display_name: String,
    pub change: String,
    pub details: Vec<String>,
}

#[expect(clippy::too_many_arguments, reason = "one column each")]
pub async fn insert_policy_change(
    db: impl PgExecutor<'_>,
    run_id: i64,
    seen_at: DateTime<Utc>,
    modified_at: Option<DateTime<Utc>>,
    kind: &str,
    object_id: &str,
    display_name: &str,
    change: &str,
    details: &[String],
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO policy_changes (run_id, seen_at, modified_at, kind, object_id, display_name, change, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        run_id,
        seen_at,
        modified_at,
        kind,
        object_id,
        display_name,
        change,
        details
    )
    .fetch_one(db)
    .await
}

/// The newest policy changes first.
pub async fn policy_changes(
    db: impl PgExecutor<'_>,
    limit: i64,
) -> sqlx::Result<Vec<PolicyChange>> {
    sqlx::query_as!(
        PolicyChange,
        "SELECT id, run_id, seen_at, modified_at, kind, object_id, display_name, change, details
         FROM policy_changes ORDER BY seen_at DESC, id DESC LIMIT $1",
        limit
    )
    .fetch_all(db)
    .await
}

/// A watched group as stored.
#[derive(Debug, Clone, Serialize)]
pub struct WatchedGroup {
    pub group_id: Uuid,
    pub display_name: Option<String>,
    pub member_count: Option<i32>,
    pub configured: bool,
    pub reasons: Vec<String>,
    pub watched: bool,
    pub missing: bool,
    pub first_seen_at: DateTime<Utc>,
    pub last_run: i64,
}

/// Every group the policies ever named, the watched ones first.
pub async fn watched_groups(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<WatchedGroup>> {
    sqlx::query_as!(
        WatchedGroup,
        "SELECT group_id, display_name, member_count, configured, reasons, watched, missing,
                first_seen_at, last_run
         FROM watched_groups ORDER BY watched DESC, display_name, group_id"
    )
    .fetch_all(db)
    .await
}

/// Marks every group unwatched before a run records the ones it watches.
pub async fn unwatch_groups(db: impl PgExecutor<'_>) -> sqlx::Result<()> {
    sqlx::query!("UPDATE watched_groups SET watched = false WHERE watched")
        .execute(db)
        .await?;
    Ok(())
}

/// Records a group the policies name, as read by this run: watched (an exclusion group) or
/// only named (for its name and size).
#[expect(clippy::too_many_arguments, reason = "one column each")]
pub async fn upsert_group(
    db: impl PgExecutor<'_>,
    group_id: Uuid,
    display_name: Option<&str>,
    member_count: Option<i32>,
    watched: bool,
    configured: bool,
    reasons: &[String],
    missing: bool,
    run_id: i64,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO watched_groups (group_id, display_name, member_count, configured, reasons,
                                     watched, missing, first_run, first_seen_at, last_run)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8)
         ON CONFLICT (group_id) DO UPDATE SET
             display_name = COALESCE(EXCLUDED.display_name, watched_groups.display_name),
             member_count = COALESCE(EXCLUDED.member_count, watched_groups.member_count),
             configured = EXCLUDED.configured, reasons = EXCLUDED.reasons,
             watched = EXCLUDED.watched, missing = EXCLUDED.missing, last_run = EXCLUDED.last_run",
        group_id,
        display_name,
        member_count,
        configured,
        reasons,
        watched,
        missing,
        run_id,
        at
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Whether a group's members were read before (then new members are joins, not the
/// members it already had); marks them read from now on.
pub async fn mark_members_read(db: impl PgExecutor<'_>, group_id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        "UPDATE watched_groups g SET members_read = true FROM watched_groups old
         WHERE g.group_id = $1 AND old.group_id = g.group_id
         RETURNING old.members_read AS \"was_read!\"",
        group_id
    )
    .fetch_one(db)
    .await
}

/// A stay of a person in a watched group.
#[derive(Debug, Clone, Serialize)]
pub struct Membership {
    pub id: i64,
    pub group_id: Uuid,
    pub user_id: Uuid,
    pub display_name: Option<String>,
    pub upn: Option<String>,
    pub joined_at: DateTime<Utc>,
    pub initial: bool,
    pub added_by: Option<String>,
    pub added_at: Option<DateTime<Utc>>,
    pub left_at: Option<DateTime<Utc>>,
    pub removed_by: Option<String>,
}

/// A group's current members.
pub async fn current_members(
    db: impl PgExecutor<'_>,
    group_id: Uuid,
) -> sqlx::Result<Vec<Membership>> {
    sqlx::query_as!(
        Membership,
        "SELECT id, group_id, user_id, display_name, upn, joined_at, initial, added_by, added_at,
                left_at, removed_by
         FROM group_memberships WHERE group_id = $1 AND left_run IS NULL",
        group_id
    )
    .fetch_all(db)
    .await
}

#[expect(clippy::too_many_arguments, reason = "one column each")]
pub async fn insert_membership(
    db: impl PgExecutor<'_>,
    group_id: Uuid,
    user_id: Uuid,
    display_name: Option<&str>,
    upn: Option<&str>,
    run_id: i64,
    at: DateTime<Utc>,
    initial: bool,
    added_by: Option<&str>,
    added_at: Option<DateTime<Utc>>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO group_memberships
             (group_id, user_id, display_name, upn, joined_run, joined_at, initial, added_by, added_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        group_id,
        user_id,
        display_name,
        upn,
        run_id,
        at,
        initial,
        added_by,
        added_at
    )
    .fetch_one(db)
    .await
}

/// Fills in who added a member when the audit entry arrives after the join was seen (the
/// audit log lags by minutes), and refreshes the name.
pub async fn update_membership(
    db: impl PgExecutor<'_>,
    id: i64,
    display_name: Option<&str>,
    upn: Option<&str>,
    added_by: Option<&str>,
    added_at: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE group_memberships SET display_name = COALESCE($2, display_name),
                upn = COALESCE($3, upn), added_by = COALESCE(added_by, $4),
                added_at = COALESCE(added_at, $5)
         WHERE id = $1",
        id,
        display_name,
        upn,
        added_by,
        added_at
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn end_membership(
    db: impl PgExecutor<'_>,
    id: i64,
    run_id: i64,
    at: DateTime<Utc>,
    removed_by: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE group_memberships SET left_run = $2, left_at = $3, removed_by = $4 WHERE id = $1",
        id,
        run_id,
        at,
        removed_by
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A stay in a group with the person's state as of the newest run.
#[derive(Debug, Clone, Serialize)]
pub struct MemberRow {
    pub id: i64,
    pub group_id: Uuid,
    pub user_id: Uuid,
    pub display_name: Option<String>,
    pub upn: Option<String>,
    pub joined_at: DateTime<Utc>,
    pub initial: bool,
    pub added_by: Option<String>,
    pub added_at: Option<DateTime<Utc>>,
    pub left_at: Option<DateTime<Utc>>,
    pub removed_by: Option<String>,
    /// The migration state now (None when the person is not in the report).
    pub state: Option<String>,
    pub department: Option<String>,
}

/// Every stay in the watched groups (current and past), with each person's current state.
pub async fn memberships(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<MemberRow>> {
    sqlx::query_as!(
        MemberRow,
        "SELECT m.id, m.group_id, m.user_id, m.display_name, m.upn, m.joined_at, m.initial,
                m.added_by, m.added_at, m.left_at, m.removed_by,
                v.state AS \"state?\", v.department AS \"department?\"
         FROM group_memberships m
         LEFT JOIN user_versions v ON v.user_id = m.user_id AND v.ended_run IS NULL
         ORDER BY m.group_id, (m.left_at IS NULL) DESC, COALESCE(m.left_at, m.joined_at) DESC, m.id DESC"
    )
    .fetch_all(db)
    .await
}

/// The current migration state of these people (those in the report).
pub async fn states_of(db: impl PgExecutor<'_>, ids: &[Uuid]) -> sqlx::Result<Vec<(Uuid, String)>> {
    let rows = sqlx::query!(
        "SELECT user_id, state FROM user_versions WHERE ended_run IS NULL AND user_id = ANY($1)",
        ids
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.user_id, r.state)).collect())
}
