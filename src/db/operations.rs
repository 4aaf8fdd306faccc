//! Every query phoneless runs, checked at compile time against the migrations.

use crate::domain::availability::Basis;
use crate::domain::{Counts, DefaultMethod, Dimension, RunStatus, State, UserType};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

/// Advisory lock key held by the one syncer allowed at a time (any fixed number will do;
/// this one is "phoneless" in ASCII, truncated).
pub const SYNC_LOCK_KEY: i64 = 0x7068_6f6e_656c_6573;

/// Separator joining a user's methods into one text for bulk inserts (a control character
/// that Graph method names never contain; the sync strips control characters when joining).
pub const METHOD_SEPARATOR: char = '\u{1f}';

/// Takes the sync lock on this connection if nobody holds it.
pub async fn try_lock_sync(conn: &mut PgConnection) -> sqlx::Result<bool> {
    let r = sqlx::query_scalar!(
        "SELECT pg_try_advisory_lock($1) AS \"locked!\"",
        SYNC_LOCK_KEY
    )
    .fetch_one(conn)
    .await?;
    Ok(r)
}

/// Waits for the sync lock on this connection.
pub async fn lock_sync(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query!("SELECT pg_advisory_lock($1)", SYNC_LOCK_KEY)
        .execute(conn)
        .await?;
    Ok(())
}

/// Releases the sync lock held on this connection. Closing the connection releases it too,
/// but only once the server has noticed, which can be after the next sync looks.
pub async fn unlock_sync(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query_scalar!(
        "SELECT pg_advisory_unlock($1) AS \"unlocked!\"",
        SYNC_LOCK_KEY
    )
    .fetch_one(conn)
    .await?;
    Ok(())
}

/// What a run left `running` by a process that died says (the same words as
/// [`fail_abandoned_runs`] stores).
pub const INTERRUPTED_ERROR: &str =
    "the process running this sync stopped before it finished; nothing from it was stored";

/// Whether a live session holds the sync lock in this database. Read from `pg_locks`, which
/// takes no lock itself: trying the lock instead could turn away a syncer starting just then.
/// (A bigint advisory key shows there as its high and low 32 bits, with `objsubid` 1.)
pub async fn sync_lock_held(db: impl PgExecutor<'_>) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (
             SELECT 1 FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND objsubid = 1
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND classid = $1::bigint::oid AND objid = $2::bigint::oid)",
    )
    .bind(SYNC_LOCK_KEY >> 32)
    .bind(SYNC_LOCK_KEY & 0xffff_ffff)
    .fetch_one(db)
    .await
}

/// Marks runs left `running` by a process that died as failed. Only call with the lock held:
/// then no other run can really be running.
pub async fn fail_abandoned_runs(db: impl PgExecutor<'_>, now: DateTime<Utc>) -> sqlx::Result<u64> {
    let r = sqlx::query!(
        "UPDATE sync_runs SET status = 'failed', finished_at = $1, error_kind = 'interrupted',
                error = 'the process running this sync stopped before it finished; nothing from it was stored'
         WHERE status = 'running'",
        now
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

pub async fn insert_run(
    db: impl PgExecutor<'_>,
    started_at: DateTime<Utc>,
    runner: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO sync_runs (started_at, runner) VALUES ($1, $2) RETURNING id",
        started_at,
        runner
    )
    .fetch_one(db)
    .await
}

pub async fn insert_skipped_run(
    db: impl PgExecutor<'_>,
    at: DateTime<Utc>,
    runner: &str,
    reason: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO sync_runs (started_at, finished_at, status, runner, error, error_kind)
         VALUES ($1, $1, 'skipped', $2, $3, 'locked') RETURNING id",
        at,
        runner,
        reason
    )
    .fetch_one(db)
    .await
}

/// What a finished run records.
#[derive(Debug, Clone, Default)]
pub struct RunCounts {
    pub users: i32,
    pub changes: i32,
    pub appeared: i32,
    pub gone: i32,
    pub pages: i32,
    pub retries: i32,
    pub data_as_of: Option<DateTime<Utc>>,
}

pub async fn finish_run(
    db: impl PgExecutor<'_>,
    run_id: i64,
    finished_at: DateTime<Utc>,
    c: &RunCounts,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE sync_runs SET status = 'succeeded', finished_at = $2, users = $3, changes = $4,
                appeared = $5, gone = $6, pages = $7, retries = $8, data_as_of = $9
         WHERE id = $1",
        run_id,
        finished_at,
        c.users,
        c.changes,
        c.appeared,
        c.gone,
        c.pages,
        c.retries,
        c.data_as_of
    )
    .execute(db)
    .await?;
    Ok(())
}

/// What this run's "available" was worked out from.
pub async fn set_availability(
    db: impl PgExecutor<'_>,
    run_id: i64,
    basis: Basis,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE sync_runs SET availability = $2 WHERE id = $1",
        run_id,
        basis as Basis
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The people stored as active Global Administrators; `None` when no stored version knows
/// (the roles were never read), so that a first read raises no alerts.
pub async fn current_global_admins(db: impl PgExecutor<'_>) -> sqlx::Result<Option<Vec<Uuid>>> {
    let row = sqlx::query!(
        r#"SELECT bool_or(global_admin IS NOT NULL) AS known,
                  array_agg(user_id) FILTER (WHERE global_admin) AS admins
           FROM user_versions WHERE ended_run IS NULL"#
    )
    .fetch_one(db)
    .await?;
    Ok(row
        .known
        .unwrap_or(false)
        .then(|| row.admins.unwrap_or_default()))
}

pub async fn fail_run(
    db: impl PgExecutor<'_>,
    run_id: i64,
    finished_at: DateTime<Utc>,
    error: &str,
    kind: &str,
    pages: i32,
    retries: i32,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE sync_runs SET status = 'failed', finished_at = $2, error = $3, error_kind = $4,
                pages = $5, retries = $6
         WHERE id = $1",
        run_id,
        finished_at,
        error,
        kind,
        pages,
        retries
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The current version of every user: id, fingerprint and version row id.
pub async fn current_fingerprints(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(Uuid, i64, i64)>> {
    let rows =
        sqlx::query!("SELECT user_id, fingerprint, id FROM user_versions WHERE ended_run IS NULL")
            .fetch_all(db)
            .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.user_id, r.fingerprint, r.id))
        .collect())
}

/// Ends these versions in `run_id` (the user changed or is gone).
pub async fn close_versions(
    db: impl PgExecutor<'_>,
    run_id: i64,
    version_ids: &[i64],
) -> sqlx::Result<u64> {
    let r = sqlx::query!(
        "UPDATE user_versions SET ended_run = $1 WHERE id = ANY($2) AND ended_run IS NULL",
        run_id,
        version_ids
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// New user versions, column by column, for one bulk insert.
#[derive(Debug, Default)]
pub struct VersionBatch {
    pub user_id: Vec<Uuid>,
    pub fingerprint: Vec<i64>,
    pub upn: Vec<String>,
    pub display_name: Vec<String>,
    pub department: Vec<Option<String>>,
    pub company: Vec<Option<String>>,
    pub office: Vec<Option<String>>,
    pub country: Vec<Option<String>>,
    pub job_title: Vec<Option<String>>,
    pub user_type: Vec<UserType>,
    pub account_enabled: Vec<Option<bool>>,
    pub in_scope: Vec<bool>,
    pub is_admin: Vec<bool>,
    /// Methods joined with [`METHOD_SEPARATOR`].
    pub methods: Vec<String>,
    pub default_method: Vec<DefaultMethod>,
    pub system_preferred: Vec<bool>,
    pub state: Vec<State>,
    pub voice_capable: Vec<bool>,
    pub voice_default: Vec<bool>,
    pub phishing_resistant: Vec<bool>,
    pub external: Vec<bool>,
    pub global_admin: Vec<Option<bool>>,
    pub global_admin_eligible: Vec<bool>,
    pub blocked: Vec<bool>,
    /// Encoded [`crate::domain::availability::Unavailable`]s joined with [`METHOD_SEPARATOR`].
    pub unavailable: Vec<String>,
    pub out_of_scope_by: Vec<Option<String>>,
}

impl VersionBatch {
    pub fn len(&self) -> usize {
        self.user_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.user_id.is_empty()
    }
}

/// Inserts the batch as versions beginning in `run_id`.
pub async fn insert_versions(
    db: impl PgExecutor<'_>,
    run_id: i64,
    b: &VersionBatch,
) -> sqlx::Result<u64> {
    let r = sqlx::query!(
        r#"INSERT INTO user_versions (user_id, first_run, fingerprint, upn, display_name, department,
                company, office, country, job_title, user_type, account_enabled, in_scope, is_admin,
                methods, default_method, system_preferred, state, voice_capable, voice_default,
                phishing_resistant, external, global_admin, global_admin_eligible, blocked,
                unavailable, out_of_scope_by)
           SELECT u.user_id, $1, u.fingerprint, u.upn, u.display_name, u.department, u.company,
                  u.office, u.country, u.job_title, u.user_type, u.account_enabled, u.in_scope,
                  u.is_admin, string_to_array(u.methods, chr(31)), u.default_method,
                  u.system_preferred, u.state, u.voice_capable, u.voice_default, u.phishing_resistant,
                  u.external, u.global_admin, u.global_admin_eligible, u.blocked,
                  string_to_array(u.unavailable, chr(31)), u.out_of_scope_by
           FROM UNNEST($2::uuid[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::text[], $10::text[], $11::text[], $12::bool[], $13::bool[],
                       $14::bool[], $15::text[], $16::text[], $17::bool[], $18::text[], $19::bool[],
                       $20::bool[], $21::bool[], $22::bool[], $23::bool[], $24::bool[], $25::bool[],
                       $26::text[], $27::text[])
             AS u(user_id, fingerprint, upn, display_name, department, company, office, country,
                  job_title, user_type, account_enabled, in_scope, is_admin, methods,
                  default_method, system_preferred, state, voice_capable, voice_default,
                  phishing_resistant, external, global_admin, global_admin_eligible, blocked,
                  unavailable, out_of_scope_by)"#,
        run_id,
        &b.user_id,
        &b.fingerprint,
        &b.upn,
        &b.display_name,
        &b.department as &[Option<String>],
        &b.company as &[Option<String>],
        &b.office as &[Option<String>],
        &b.country as &[Option<String>],
        &b.job_title as &[Option<String>],
        &b.user_type as &[UserType],
        &b.account_enabled as &[Option<bool>],
        &b.in_scope,
        &b.is_admin,
        &b.methods,
        &b.default_method as &[DefaultMethod],
        &b.system_preferred,
        &b.state as &[State],
        &b.voice_capable,
        &b.voice_default,
        &b.phishing_resistant,
        &b.external,
        &b.global_admin as &[Option<bool>],
        &b.global_admin_eligible,
        &b.blocked,
        &b.unavailable,
        &b.out_of_scope_by as &[Option<String>],
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// Rollup rows of one run, column by column.
#[derive(Debug, Default)]
pub struct RollupBatch {
    pub dimension: Vec<Dimension>,
    pub name: Vec<Option<String>>,
    pub counts: Vec<Counts>,
}

pub async fn insert_rollups(
    db: impl PgExecutor<'_>,
    run_id: i64,
    b: &RollupBatch,
) -> sqlx::Result<u64> {
    let col = |f: fn(&Counts) -> i32| -> Vec<i32> { b.counts.iter().map(f).collect() };
    let r = sqlx::query!(
        r#"INSERT INTO run_rollups (run_id, dimension, name, users, phone_only, phone_default,
                phone_backup, phone_free, no_mfa, voice_capable, voice_default, phishing_resistant,
                admins, admins_phone_only, guests, out_of_scope, out_of_scope_rule, people_early,
                blocked_early, people_late, blocked_late, admins_blocked_early, admins_blocked_late,
                external_blocked, external_members, external_guests)
           SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::int[], $5::int[], $6::int[],
                $7::int[], $8::int[], $9::int[], $10::int[], $11::int[], $12::int[], $13::int[],
                $14::int[], $15::int[], $16::int[], $17::int[], $18::int[], $19::int[], $20::int[],
                $21::int[], $22::int[], $23::int[], $24::int[], $25::int[], $26::int[])"#,
        run_id,
        &b.dimension as &[Dimension],
        &b.name as &[Option<String>],
        &col(|c| c.users),
        &col(|c| c.phone_only),
        &col(|c| c.phone_default),
        &col(|c| c.phone_backup),
        &col(|c| c.phone_free),
        &col(|c| c.no_mfa),
        &col(|c| c.voice_capable),
        &col(|c| c.voice_default),
        &col(|c| c.phishing_resistant),
        &col(|c| c.admins),
        &col(|c| c.admins_phone_only),
        &col(|c| c.guests),
        &col(|c| c.out_of_scope),
        &col(|c| c.out_of_scope_rule),
        &col(|c| c.people_early),
        &col(|c| c.blocked_early),
        &col(|c| c.people_late),
        &col(|c| c.blocked_late),
        &col(|c| c.admins_blocked_early),
        &col(|c| c.admins_blocked_late),
        &col(|c| c.external_blocked),
        &col(|c| c.external_members),
        &col(|c| c.external_guests),
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// A sync run as the API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Run {
    pub id: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub users: i32,
    pub changes: i32,
    pub appeared: i32,
    pub gone: i32,
    pub pages: i32,
    pub retries: i32,
    pub data_as_of: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub error_kind: Option<String>,
    /// What "available" was worked out from (null for runs before it was recorded).
    pub availability: Option<Basis>,
    /// Whether the Global Administrator role holders were read (null: the run did not try).
    pub admins_known: Option<bool>,
}

/// The newest runs first. A run still `running` whose syncer is gone (nobody holds the sync
/// lock) reads as failed and interrupted at once, not only after the next sync has marked it.
pub async fn recent_runs(db: &PgPool, limit: i64) -> sqlx::Result<Vec<Run>> {
    let mut runs = sqlx::query_as!(
        Run,
        r#"SELECT id, started_at, finished_at, status AS "status: RunStatus", users, changes,
                appeared, gone, pages, retries,
                data_as_of, error, error_kind, availability AS "availability: Basis",
                (SELECT p.available FROM run_parts p WHERE p.run_id = id AND p.part = 'roles')
                    AS admins_known
         FROM sync_runs ORDER BY id DESC LIMIT $1"#,
        limit
    )
    .fetch_all(db)
    .await?;
    let running: Vec<i64> = runs
        .iter()
        .filter(|r| r.status == RunStatus::Running)
        .map(|r| r.id)
        .collect();
    if running.is_empty() || sync_lock_held(db).await? {
        return Ok(runs);
    }
    // Asked again after the lock was seen free: a syncer records its outcome before it lets go
    // of the lock, so a run still running now has lost its process.
    let orphans: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM sync_runs WHERE id = ANY($1) AND status = 'running'")
            .bind(&running)
            .fetch_all(db)
            .await?;
    for r in runs.iter_mut().filter(|r| orphans.contains(&r.id)) {
        r.status = RunStatus::Failed;
        r.error_kind = Some("interrupted".to_owned());
        r.error = Some(INTERRUPTED_ERROR.to_owned());
    }
    Ok(runs)
}

/// The newest run that succeeded: what readers see.
pub async fn latest_succeeded_run(db: impl PgExecutor<'_>) -> sqlx::Result<Option<Run>> {
    sqlx::query_as!(
        Run,
        r#"SELECT id, started_at, finished_at, status AS "status: RunStatus", users, changes,
                appeared, gone, pages, retries,
                data_as_of, error, error_kind, availability AS "availability: Basis",
                (SELECT p.available FROM run_parts p WHERE p.run_id = id AND p.part = 'roles')
                    AS admins_known
         FROM sync_runs WHERE status = 'succeeded' ORDER BY id DESC LIMIT 1"#
    )
    .fetch_optional(db)
    .await
}

/// The simulated tenant a demo database was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoTenant {
    pub seed: i64,
    pub users: i32,
    /// Length of the simulated story in days.
    pub story_days: i32,
    /// The story's first day.
    pub start_date: chrono::NaiveDate,
}

/// The demo's tenant, if this database is a demo's.
pub async fn demo_tenant(db: impl PgExecutor<'_>) -> sqlx::Result<Option<DemoTenant>> {
    sqlx::query_as!(
        DemoTenant,
        "SELECT seed, users, story_days, start_date FROM demo_tenant"
    )
    .fetch_optional(db)
    .await
}

/// Records the tenant a new demo database is made for.
pub async fn save_demo_tenant(db: impl PgExecutor<'_>, t: &DemoTenant) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO demo_tenant (seed, users, story_days, start_date) VALUES ($1, $2, $3, $4)",
        t.seed,
        t.users,
        t.story_days,
        t.start_date
    )
    .execute(db)
    .await?;
    Ok(())
}

/// When the first run started (where a history begins).
pub async fn first_run_at(db: impl PgExecutor<'_>) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar!("SELECT started_at FROM sync_runs ORDER BY id LIMIT 1")
        .fetch_optional(db)
        .await
}

/// Whether any sync ever ran against this database.
pub async fn any_run(db: impl PgExecutor<'_>) -> sqlx::Result<bool> {
    sqlx::query_scalar!("SELECT EXISTS (SELECT 1 FROM sync_runs) AS \"any!\"")
        .fetch_one(db)
        .await
}

/// Health: the database answers.
pub async fn ping(db: impl PgExecutor<'_>) -> sqlx::Result<()> {
    sqlx::query!("SELECT 1 AS one").fetch_one(db).await?;
    Ok(())
}
