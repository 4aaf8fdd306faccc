//! SQL of the policy posture and the exclusion groups: what a run could read, policy versions
//! and their changes, watched groups and their members over time.

use crate::domain::{PolicyKind, RunPart, State};
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
    part: RunPart,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO run_parts (run_id, part, available, error) VALUES ($1, $2, $3, $4)",
        run_id,
        part.as_str(),
        error.is_none(),
        error
    )
    .execute(db)
    .await?;
    Ok(())
}

/// One optional part of a run and whether it could be read.
#[derive(Debug, Clone, Serialize)]
pub struct RunPartRow {
    pub part: RunPart,
    pub available: bool,
    pub error: Option<String>,
}

/// The parts of the newest run that recorded any (a run that failed recorded none).
pub async fn latest_run_parts(
    db: impl PgExecutor<'_>,
) -> sqlx::Result<(Option<i64>, Vec<RunPartRow>)> {
    let rows = sqlx::query!(
        r#"SELECT run_id, part AS "part: RunPart", available, error FROM run_parts
           WHERE run_id = (SELECT max(run_id) FROM run_parts) ORDER BY part"#
    )
    .fetch_all(db)
    .await?;
    let run = rows.first().map(|r| r.run_id);
    Ok((
        run,
        rows.into_iter()
            .map(|r| RunPartRow {
                part: r.part,
                available: r.available,
                error: r.error,
            })
            .collect(),
    ))
}

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
            match v.kind {
                PolicyKind::MethodsPolicy => {
                    s.methods = serde_json::from_value(v.body.clone()).ok()
                }
                PolicyKind::Strength => s
                    .strengths
                    .extend(serde_json::from_value(v.body.clone()).ok()),
                PolicyKind::ConditionalAccess => s
                    .conditional_access
                    .extend(serde_json::from_value(v.body.clone()).ok()),
            }
        }
        s
    }
}

/// The current version of a policy object.
#[derive(Debug, Clone)]
pub struct PolicyVersion {
    pub id: i64,
    pub kind: PolicyKind,
    pub object_id: String,
    pub display_name: String,
    pub body: Value,
}

/// Every current policy version.
pub async fn current_policies(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<PolicyVersion>> {
    sqlx::query_as!(
        PolicyVersion,
        r#"SELECT id, kind AS "kind: PolicyKind", object_id, display_name, body FROM policy_versions
           WHERE ended_run IS NULL ORDER BY kind, display_name, object_id"#
    )
    .fetch_all(db)
    .await
}

/// The kinds of which a version was ever stored (the first read of a kind is not a change).
pub async fn known_policy_kinds(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<PolicyKind>> {
    sqlx::query_scalar!(r#"SELECT DISTINCT kind AS "kind!: PolicyKind" FROM policy_versions"#)
        .fetch_all(db)
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

/// A policy object as read now.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyObject {
    pub kind: PolicyKind,
    pub object_id: String,
    pub display_name: String,
    pub body: Value,
}

/// Stores `p` as a new version beginning in `run_id`.
pub async fn insert_policy(
    db: impl PgExecutor<'_>,
    p: &PolicyObject,
    run_id: i64,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO policy_versions (kind, object_id, display_name, body, first_run, first_seen_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        p.kind.as_str(),
        p.object_id,
        p.display_name,
        p.body,
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
    pub kind: PolicyKind,
    pub object_id: String,
    pub display_name: String,
    pub change: String,
    pub details: Vec<String>,
}

/// A policy change to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPolicyChange {
    /// When Graph says the object was modified, if it says.
    pub modified_at: Option<DateTime<Utc>>,
    pub kind: PolicyKind,
    pub object_id: String,
    pub display_name: String,
    /// `added`, `changed` or `removed`.
    pub change: &'static str,
    /// Each difference in words.
    pub details: Vec<String>,
}

/// Records a change seen by `run_id` at `seen_at`; its id.
pub async fn insert_policy_change(
    db: impl PgExecutor<'_>,
    run_id: i64,
    seen_at: DateTime<Utc>,
    c: &NewPolicyChange,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO policy_changes (run_id, seen_at, modified_at, kind, object_id, display_name, change, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        run_id,
        seen_at,
        c.modified_at,
        c.kind.as_str(),
        c.object_id,
        c.display_name,
        c.change,
        &c.details
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
        r#"SELECT id, run_id, seen_at, modified_at, kind AS "kind: PolicyKind", object_id,
                  display_name, change, details
           FROM policy_changes ORDER BY seen_at DESC, id DESC LIMIT $1"#,
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

/// A group the policies name, as read by a run.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRead {
    pub group_id: Uuid,
    /// `None` when it could not be read (the stored name is kept).
    pub display_name: Option<String>,
    pub member_count: Option<i32>,
    /// An exclusion group, whose members are watched.
    pub watched: bool,
    /// Named in `PHONELESS_EXCLUSION_GROUPS`.
    pub configured: bool,
    /// Why it is watched or named, in words.
    pub reasons: Vec<String>,
    /// Graph says it does not exist.
    pub missing: bool,
}

/// Records a group the policies name, as read by this run: watched (an exclusion group) or
/// only named (for its name and size).
pub async fn upsert_group(
    db: impl PgExecutor<'_>,
    g: &GroupRead,
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
        g.group_id,
        g.display_name,
        g.member_count,
        g.configured,
        &g.reasons,
        g.watched,
        g.missing,
        run_id,
        at
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Whether a group's members were read before (then new members are joins, not the
/// members it already had).
pub async fn members_read(db: impl PgExecutor<'_>, group_id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        "SELECT EXISTS (SELECT 1 FROM watched_groups WHERE group_id = $1 AND members_read)
         AS \"was_read!\"",
        group_id
    )
    .fetch_one(db)
    .await
}

/// Marks a group's members read from now on.
pub async fn mark_members_read(db: impl PgExecutor<'_>, group_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE watched_groups SET members_read = true WHERE group_id = $1",
        group_id
    )
    .execute(db)
    .await?;
    Ok(())
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

/// A person found in a watched group who was not in it before.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMembership {
    pub group_id: Uuid,
    pub user_id: Uuid,
    pub display_name: Option<String>,
    pub upn: Option<String>,
    /// Found by the group's first read: there already, not a join.
    pub initial: bool,
    /// Who added them and when, from the audit log.
    pub added: Option<(String, DateTime<Utc>)>,
}

/// Records a stay beginning in `run_id`; its id.
pub async fn insert_membership(
    db: impl PgExecutor<'_>,
    m: &NewMembership,
    run_id: i64,
    at: DateTime<Utc>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO group_memberships
             (group_id, user_id, display_name, upn, joined_run, joined_at, initial, added_by, added_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        m.group_id,
        m.user_id,
        m.display_name,
        m.upn,
        run_id,
        at,
        m.initial,
        m.added.as_ref().map(|a| a.0.as_str()),
        m.added.as_ref().map(|a| a.1)
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
    pub state: Option<State>,
    pub department: Option<String>,
}

/// Every stay in the watched groups (current and past), with each person's current state.
pub async fn memberships(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<MemberRow>> {
    sqlx::query_as!(
        MemberRow,
        "SELECT m.id, m.group_id, m.user_id, m.display_name, m.upn, m.joined_at, m.initial,
                m.added_by, m.added_at, m.left_at, m.removed_by,
                v.state AS \"state?: State\", v.department AS \"department?\"
         FROM group_memberships m
         LEFT JOIN user_versions v ON v.user_id = m.user_id AND v.ended_run IS NULL
         ORDER BY m.group_id, (m.left_at IS NULL) DESC, COALESCE(m.left_at, m.joined_at) DESC, m.id DESC"
    )
    .fetch_all(db)
    .await
}

/// The current migration state of these people (those in the report).
pub async fn states_of(db: impl PgExecutor<'_>, ids: &[Uuid]) -> sqlx::Result<Vec<(Uuid, State)>> {
    let rows = sqlx::query!(
        r#"SELECT user_id, state AS "state: State" FROM user_versions
           WHERE ended_run IS NULL AND user_id = ANY($1)"#,
        ids
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.user_id, r.state)).collect())
}
