//! One sync run: fetch the registration report and `/users` from Graph, join them on id,
//! classify every user, and store what changed as one atomic run.
//!
//! - **One syncer at a time**: a Postgres advisory lock, held on the connection that writes.
//!   A second syncer waits for it or records a `skipped` run and says so.
//! - **History, not copies**: a user's facts are stored as versions; a run closes the versions
//!   that changed and opens new ones, so storage grows with changes. Unchanged users are found
//!   by fingerprint, without reading them back.
//! - **Atomic**: everything a run writes is one transaction; readers see the previous run until
//!   it commits, and a failed run leaves its record and error, nothing else.
//! - **Streamed**: report pages are classified and written while the next ones are fetched.

pub mod access;
pub mod facts;
pub mod posture;
pub mod progress;
pub mod rollup;
pub mod schedule;
pub mod usage;

use crate::db::operations::{self as ops, METHOD_SEPARATOR, RunCounts, VersionBatch};
use crate::domain::availability::Unavailable;
use crate::domain::{Counts, RunPart};
use crate::graph::model::{DirectoryUser, Page, UserRegistrationDetails};
use crate::graph::{Client, GraphError};
use chrono::{DateTime, Utc};
use facts::UserFacts;
use progress::Progress;
use rollup::Rollup;
use rustc_hash::{FxHashMap, FxHashSet};
use sqlx::{Connection as _, PgConnection, PgPool};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use uuid::Uuid;

/// Report pages fetched and parsed ahead of the one being stored. The join cannot start until
/// the whole directory is in, so the report runs ahead meanwhile; this bounds the memory it may
/// hold (about 0.6 MB per 1,000-row page).
const REPORT_PAGES_AHEAD: usize = 128;
/// Changed users written per bulk insert.
const WRITE_BATCH: usize = 2_000;

/// What a sync run is for and how it behaves when another one holds the lock.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Wait for a running sync to finish instead of skipping.
    pub wait_for_lock: bool,
    /// Which process runs it, stored with the run.
    pub runner: String,
    /// Exclusion groups and alert webhooks.
    pub posture: posture::PostureOptions,
    /// How the sign-in log is read.
    pub sign_ins: usage::SignInOptions,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            wait_for_lock: false,
            runner: runner_name(),
            posture: posture::PostureOptions::default(),
            sign_ins: usage::SignInOptions::default(),
        }
    }
}

/// Host name and process id, to tell replicas apart in the run list.
pub fn runner_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}:{}", host.trim(), std::process::id())
}

/// A finished, committed run.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub run_id: i64,
    pub counts: RunCounts,
    /// Tenant-wide counts of this run.
    pub tenant: Counts,
    /// Rows inserted or updated in the database by this run (all tables).
    pub rows_written: u64,
    /// Report rows that repeated an id already seen in this run (ignored).
    pub duplicates: u32,
    /// Report rows whose id is not a GUID (left out).
    pub invalid_ids: u32,
    pub elapsed: Duration,
    /// Policy changes, exclusion-group joins and leaves, and alerts raised.
    pub posture: posture::Stats,
}

#[derive(Debug)]
pub enum Outcome {
    Succeeded(RunReport),
    /// Another syncer held the lock; a `skipped` run was recorded.
    Skipped {
        run_id: i64,
        reason: &'static str,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Graph(#[from] GraphError),
    #[error("the database failed during the sync ({0}); nothing from this run was stored")]
    Database(#[from] sqlx::Error),
    #[error("the sync was stopped because {0}; nothing from it was stored")]
    Stopped(&'static str),
    #[error("internal error: {0}")]
    Internal(String),
}

impl SyncError {
    pub fn kind(&self) -> &'static str {
        match self {
            SyncError::Graph(g) => g.kind(),
            SyncError::Database(_) => "database",
            SyncError::Stopped(_) => "interrupted",
            SyncError::Internal(_) => "internal",
        }
    }
}

const SKIPPED_REASON: &str =
    "another sync was already running (one syncer at a time across all replicas)";

/// Runs one sync. `now` dates the run (the wall clock in production; a simulated day when
/// back-filling history). The run is recorded whatever happens, with its error if it fails.
#[tracing::instrument(name = "sync", skip_all, fields(run_id = tracing::field::Empty))]
pub async fn run(
    pool: &PgPool,
    graph: Arc<Client>,
    now: DateTime<Utc>,
    options: &SyncOptions,
    progress: Arc<dyn Progress>,
    cancel: &CancellationToken,
) -> Result<Outcome, SyncError> {
    let started = Instant::now();
    // The lock lives as long as this connection, which is taken out of the pool: on every way
    // out of this function it is dropped or closed, never handed back still holding the lock.
    let mut conn = pool.acquire().await?.detach();
    let locked = if options.wait_for_lock {
        tokio::select! {
            r = ops::lock_sync(&mut conn) => { r?; true }
            _ = cancel.cancelled() => return Err(SyncError::Stopped("the service is shutting down")),
        }
    } else {
        ops::try_lock_sync(&mut conn).await?
    };
    if !locked {
        let run_id =
            ops::insert_skipped_run(&mut conn, now, &options.runner, SKIPPED_REASON).await?;
        let _ = conn.close().await;
        return Ok(Outcome::Skipped {
            run_id,
            reason: SKIPPED_REASON,
        });
    }
    let abandoned = ops::fail_abandoned_runs(&mut conn, now).await?;
    if abandoned > 0 {
        tracing::warn!(
            abandoned,
            "marked runs left unfinished by a stopped process as failed"
        );
    }
    let run_id = ops::insert_run(&mut conn, now, &options.runner).await?;
    tracing::Span::current().record("run_id", run_id);
    let (pages0, retries0) = (graph.pages(), graph.retries());

    let result = tokio::select! {
        r = store_run(&mut conn, run_id, graph.clone(), (pages0, retries0), now, started, progress, &options.posture) => r,
        _ = cancel.cancelled() => Err(SyncError::Stopped("the service is shutting down")),
    };
    // A failure is recorded while the lock is still held, on the same connection (after any
    // rollback the dropped transaction left queued): readers take a running run whose lock is
    // free for an interrupted one. When that connection is gone, the pool is tried below.
    let failure = result.as_ref().err().map(|e| {
        let finished = now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
        let pages = graph.pages().saturating_sub(pages0) as i32;
        let retries = graph.retries().saturating_sub(retries0) as i32;
        (finished, e.to_string(), e.kind(), pages, retries)
    });
    // The sign-in log, once the run's data is in: a long read never holds the report up, and
    // its failure is its part's, not the run's.
    if let Ok(report) = &result
        && let Err(e) = usage::read(pool, graph.clone(), report.run_id, now, options.sign_ins).await
    {
        tracing::warn!("the sign-in usage could not be stored: {e}");
    }
    let mut recorded = false;
    if let Some((finished, error, kind, pages, retries)) = &failure {
        recorded = ops::fail_run(&mut conn, run_id, *finished, error, kind, *pages, *retries)
            .await
            .is_ok();
    }
    // Release the lock at once, then close. When the database dropped the connection under
    // us, closing is all there is, and the server releases the lock as it notices.
    if let Err(e) = ops::unlock_sync(&mut conn).await {
        tracing::debug!("could not release the sync lock explicitly: {e}");
    }
    let _ = conn.close().await;
    match (result, failure) {
        (Ok(report), _) => Ok(Outcome::Succeeded(report)),
        (Err(e), failure) => {
            // `failure` is always there for an error; the default only satisfies the types.
            let (finished, error, kind, pages, retries) = failure.unwrap_or_default();
            let stored = if recorded {
                Ok(())
            } else {
                ops::fail_run(pool, run_id, finished, &error, kind, pages, retries).await
            };
            if let Err(db) = stored {
                tracing::error!(run_id, "could not record the failure of the sync run: {db}");
            } else if let Err(db) =
                alert_repeated_failure(pool, run_id, finished, &e, &options.posture).await
            {
                tracing::error!(
                    run_id,
                    "could not record the alert for repeated failures: {db}"
                );
            }
            Err(e)
        }
    }
}

/// Raises the "sync failing" alert when this failure is the second in a row (not at the third
/// and later: one alert per spell of failures).
async fn alert_repeated_failure(
    pool: &PgPool,
    run_id: i64,
    at: DateTime<Utc>,
    error: &SyncError,
    options: &posture::PostureOptions,
) -> sqlx::Result<()> {
    if crate::db::alerts::failures_in_a_row(pool).await? != 2 {
        return Ok(());
    }
    let alert = crate::db::alerts::NewAlert {
        event_key: format!("sync_failing:{run_id}"),
        kind: "sync_failing",
        created_at: at,
        run_id: Some(run_id),
        title: "The sync failed twice in a row".to_owned(),
        text: format!(
            "The last two syncs failed, so phoneless shows data that is getting old. The last error: {error}"
        ),
        facts: vec![
            ("Run".to_owned(), run_id.to_string()),
            ("Kind of error".to_owned(), error.kind().to_owned()),
            (
                "When".to_owned(),
                at.format("%Y-%m-%d %H:%M UTC").to_string(),
            ),
        ],
    };
    let mut conn = pool.acquire().await?;
    crate::db::alerts::insert(&mut conn, &alert, &options.alert_targets).await?;
    Ok(())
}

/// Fetches, classifies and writes one run inside one transaction.
#[expect(clippy::too_many_arguments, reason = "the run's context")]
#[tracing::instrument(skip_all)]
async fn store_run(
    conn: &mut PgConnection,
    run_id: i64,
    graph: Arc<Client>,
    (pages0, retries0): (u32, u32),
    now: DateTime<Utc>,
    started: Instant,
    progress: Arc<dyn Progress>,
    options: &posture::PostureOptions,
) -> Result<RunReport, SyncError> {
    // The security configuration is fetched alongside; it never fails the run. The stored
    // policies are read once: the lock keeps them as they are until this run writes them.
    let current_policies = crate::db::posture::current_policies(&mut *conn).await?;
    let stored = crate::db::posture::StoredPolicies::from_versions(&current_policies);
    // The methods policy comes first and is handed over as soon as it is in: the users are
    // judged by it, while Conditional Access (one request a second) and the audit log go on.
    let (policy_tx, policy_rx) = tokio::sync::oneshot::channel();
    let security = AbortOnDropHandle::new(tokio::spawn({
        let (graph, options) = (graph.clone(), options.clone());
        async move {
            let methods = posture::fetch_methods(&graph, stored.methods.as_ref()).await;
            let _ = policy_tx.send(methods.as_ref().ok().cloned());
            posture::fetch(graph, stored, methods, options, now).await
        }
    }));
    // Both collections are fetched at once; the join needs the whole directory first, so the
    // report runs ahead (up to REPORT_PAGES_AHEAD pages) while the fingerprints load.
    let roles = AbortOnDropHandle::new(tokio::spawn(access::fetch_roles(graph.clone())));
    let directory = AbortOnDropHandle::new(tokio::spawn(fetch_directory(
        graph.clone(),
        progress.clone(),
    )));
    let (page_tx, mut pages) = mpsc::channel(REPORT_PAGES_AHEAD);
    let _report = AbortOnDropHandle::new(tokio::spawn(fetch_report(
        graph.clone(),
        page_tx,
        progress.clone(),
    )));

    let loading = Instant::now();
    let mut current: FxHashMap<Uuid, (i64, i64)> = ops::current_fingerprints(&mut *conn)
        .await?
        .into_iter()
        .map(|(id, fp, vid)| (id, (fp, vid)))
        .collect();
    let admins_before: Option<FxHashSet<Uuid>> = ops::current_global_admins(&mut *conn)
        .await?
        .map(|ids| ids.into_iter().collect());
    let loaded_current = loading.elapsed();
    let directory = directory
        .await
        .map_err(|e| SyncError::Internal(format!("directory fetch: {e}")))??;
    let directory_done = started.elapsed();
    // Who may use what, and whose date is which, is known before anyone is classified.
    let policy = policy_rx.await.ok().flatten();
    let roles = roles
        .await
        .map_err(|e| SyncError::Internal(format!("roles fetch: {e}")))?;
    let roles_error = roles.as_ref().err().map(ToString::to_string);
    let access = access::Access::fetch(
        graph.clone(),
        policy.as_ref(),
        options.out_of_scope.clone(),
        roles.ok(),
    )
    .await;
    for (group, error) in &access.unread_scope_groups {
        tracing::warn!(%group, "the members of an out-of-scope group could not be read; they count as in scope this run: {error}");
    }
    progress.storing();

    let mut tx = conn.begin().await?;
    let mut seen: FxHashSet<Uuid> =
        FxHashSet::with_capacity_and_hasher(current.len() + 1024, Default::default());
    let mut invalid_ids = 0u32;
    let mut rollup = Rollup::default();
    let mut batch = VersionBatch::default();
    let mut closing: Vec<i64> = Vec::new();
    let mut counts = RunCounts::default();
    let mut rows_written = 0u64;
    let mut duplicates = 0u32;
    let mut scratch = Vec::with_capacity(512);
    let mut new_blocked_admins = Vec::new();

    let mut writing = Duration::ZERO;
    while let Some(page) = pages.recv().await {
        for row in page?.value {
            // Entra object ids are GUIDs; a row without one cannot be tracked over time.
            let Ok(id) = Uuid::parse_str(&row.id) else {
                invalid_ids += 1;
                continue;
            };
            if !seen.insert(id) {
                duplicates += 1;
                continue;
            }
            let mut facts = UserFacts::from_graph(&row, directory.get(&id));
            access.judge(id, &mut facts);
            if facts.global_admin == Some(true)
                && facts.blocked
                && admins_before.as_ref().is_some_and(|a| !a.contains(&id))
            {
                new_blocked_admins.push((id, facts.upn.to_owned(), facts.display_name.to_owned()));
            }
            rollup.add(&facts);
            counts.users += 1;
            if let Some(at) = row.last_updated_date_time {
                counts.data_as_of = counts.data_as_of.max(Some(at));
            }
            let fingerprint = facts.fingerprint(&mut scratch);
            let changed = match current.remove(&id) {
                Some((old, _)) if old == fingerprint => false,
                Some((_, version)) => {
                    closing.push(version);
                    true
                }
                None => {
                    counts.appeared += 1;
                    true
                }
            };
            if changed {
                counts.changes += 1;
                push_version(&mut batch, id, &facts, fingerprint);
            }
        }
        if batch.len() >= WRITE_BATCH {
            rows_written += flush(&mut tx, run_id, &mut closing, &mut batch, &mut writing).await?;
        }
    }
    let fetched = started.elapsed();
    // Whoever was stored but is not in the report any more is gone as of this run.
    counts.gone = current.len() as i32;
    counts.changes += counts.gone;
    closing.extend(current.into_values().map(|(_, version)| version));
    rows_written += flush(&mut tx, run_id, &mut closing, &mut batch, &mut writing).await?;
    // With every version written: the helpdesk's reasons of people who left the phone states.
    let reasons_cleared = crate::db::reasons::clear_left_phone(&mut *tx, now).await?;
    rows_written += reasons_cleared;

    let tenant = rollup.tenant();
    rows_written += ops::insert_rollups(&mut *tx, run_id, &rollup.into_batch()).await?;
    let security = security
        .await
        .map_err(|e| SyncError::Internal(format!("security configuration fetch: {e}")))?;
    crate::db::posture::insert_run_part(&mut *tx, run_id, RunPart::Roles, roles_error.as_deref())
        .await?;
    ops::set_availability(&mut *tx, run_id, access.basis()).await?;
    let mut posture = posture::store(
        &mut tx,
        run_id,
        now,
        security,
        &current_policies,
        &options.alert_targets,
    )
    .await?;
    for (id, upn, name) in &new_blocked_admins {
        let alert = blocked_admin_alert(run_id, now, *id, upn, name);
        if crate::db::alerts::insert(&mut tx, &alert, &options.alert_targets)
            .await?
            .is_some()
        {
            posture.alerts += 1;
        }
    }
    counts.pages = graph.pages().saturating_sub(pages0) as i32;
    counts.retries = graph.retries().saturating_sub(retries0) as i32;
    let elapsed = started.elapsed();
    let finished = now + chrono::Duration::from_std(elapsed).unwrap_or_default();
    ops::finish_run(&mut *tx, run_id, finished, &counts).await?;
    rows_written += 1;
    let t = Instant::now();
    tx.commit().await?;
    tracing::debug!(
        run_id,
        current_ms = loaded_current.as_millis() as u64,
        directory_ms = directory_done.as_millis() as u64,
        report_done_ms = fetched.as_millis() as u64,
        writing_ms = writing.as_millis() as u64,
        reasons_cleared,
        commit_ms = t.elapsed().as_millis() as u64,
        "sync run stored"
    );
    if invalid_ids > 0 {
        tracing::warn!(
            run_id,
            invalid_ids,
            "the report listed users whose id is not a GUID; they were left out"
        );
    }
    if duplicates > 0 {
        tracing::warn!(
            run_id,
            duplicates,
            "the report listed some users twice; the repeats were ignored"
        );
    }
    Ok(RunReport {
        run_id,
        counts,
        tenant,
        rows_written,
        duplicates,
        invalid_ids,
        elapsed,
        posture,
    })
}

/// "Someone became an active Global Administrator while blocked": they keep phone sign-in only
/// until the late date, and an admin who can only use a phone is the riskiest account there is.
fn blocked_admin_alert(
    run_id: i64,
    at: DateTime<Utc>,
    id: Uuid,
    upn: &str,
    name: &str,
) -> crate::db::alerts::NewAlert<'static> {
    crate::db::alerts::NewAlert {
        event_key: format!("admin_blocked:{run_id}:{id}"),
        kind: "admin_blocked",
        created_at: at,
        run_id: Some(run_id),
        title: format!("{name} became a Global Administrator with only a phone for MFA"),
        text: format!(
            "{name} ({upn}) holds the Global Administrator role and has no app or \
             phishing-resistant method they are allowed to use. Phone sign-in ends for them on \
             the late retirement date, and until then their admin account rests on SMS or voice. \
             Have them register a passkey now."
        ),
        facts: vec![
            ("Person".to_owned(), upn.to_owned()),
            ("Run".to_owned(), run_id.to_string()),
            (
                "When".to_owned(),
                at.format("%Y-%m-%d %H:%M UTC").to_string(),
            ),
        ],
    }
}

/// Texts joined with [`METHOD_SEPARATOR`] for a bulk insert. Control characters (never sent by
/// Graph) are dropped: they could collide with the separator.
fn joined(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let mut out = String::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(METHOD_SEPARATOR);
        }
        out.extend(item.as_ref().chars().filter(|c| !c.is_control()));
    }
    out
}

/// Adds a changed user to the batch (the one place facts are copied out of the Graph rows).
fn push_version(b: &mut VersionBatch, id: Uuid, f: &UserFacts<'_>, fingerprint: i64) {
    let owned = |s: Option<&str>| s.map(str::to_owned);
    b.user_id.push(id);
    b.fingerprint.push(fingerprint);
    b.upn.push(f.upn.to_owned());
    b.display_name.push(f.display_name.to_owned());
    b.department.push(owned(f.department));
    b.company.push(owned(f.company));
    b.office.push(owned(f.office));
    b.country.push(owned(f.country.as_deref()));
    b.job_title.push(owned(f.job_title));
    b.user_type.push(f.user_type);
    b.account_enabled.push(f.account_enabled);
    b.in_scope.push(f.in_scope);
    b.is_admin.push(f.is_admin);
    b.methods.push(joined(&f.methods));
    b.default_method.push(f.default_method.clone());
    b.system_preferred.push(f.system_preferred);
    b.state.push(f.state);
    b.voice_capable.push(f.voice_capable);
    b.voice_default.push(f.voice_default);
    b.phishing_resistant.push(f.phishing_resistant);
    b.external.push(f.external);
    b.global_admin.push(f.global_admin);
    b.global_admin_eligible.push(f.global_admin_eligible);
    b.blocked.push(f.blocked);
    b.unavailable
        .push(joined(f.unavailable.iter().map(Unavailable::encode)));
    b.out_of_scope_by.push(f.out_of_scope_by.clone());
}

/// Closes replaced versions, then inserts their successors (the current-version index allows
/// one open version per user, so the order matters); adds the time taken to `writing`.
#[tracing::instrument(level = "debug", skip_all, fields(closing = closing.len(), new = batch.len()))]
async fn flush(
    tx: &mut PgConnection,
    run_id: i64,
    closing: &mut Vec<i64>,
    batch: &mut VersionBatch,
    writing: &mut Duration,
) -> Result<u64, SyncError> {
    let started = Instant::now();
    let mut written = 0;
    if !closing.is_empty() {
        written += ops::close_versions(&mut *tx, run_id, closing).await?;
        closing.clear();
    }
    if !batch.is_empty() {
        written += ops::insert_versions(&mut *tx, run_id, batch).await?;
        *batch = VersionBatch::default();
    }
    *writing += started.elapsed();
    Ok(written)
}

#[tracing::instrument(skip_all)]
async fn fetch_directory(
    graph: Arc<Client>,
    progress: Arc<dyn Progress>,
) -> Result<FxHashMap<Uuid, DirectoryUser>, SyncError> {
    let mut pages = graph.users();
    let mut users = FxHashMap::default();
    let mut total = None;
    let mut count = 0;
    while let Some(page) = pages.next_page().await {
        let page: Page<DirectoryUser> = page?;
        count += 1;
        total = total.or(page.count);
        // A directory object without a GUID id cannot match a report row; leave it out.
        users.extend(
            page.value
                .into_iter()
                .filter_map(|u| Some((Uuid::parse_str(&u.id).ok()?, u))),
        );
        progress.directory_page(count, users.len(), total);
    }
    Ok(users)
}

#[tracing::instrument(skip_all)]
async fn fetch_report(
    graph: Arc<Client>,
    out: mpsc::Sender<Result<Page<UserRegistrationDetails>, GraphError>>,
    progress: Arc<dyn Progress>,
) {
    let mut pages = graph.registration_details();
    let (mut count, mut rows) = (0, 0);
    while let Some(page) = pages.next_page().await {
        let failed = page.is_err();
        if let Ok(p) = &page {
            count += 1;
            rows += p.value.len();
            progress.report_page(count, rows);
        }
        if out.send(page).await.is_err() || failed {
            return;
        }
    }
}

/// The one-paragraph summary `phoneless sync` ends with.
pub fn summary(r: &RunReport) -> String {
    let c = &r.counts;
    let t = &r.tenant;
    let as_of = c
        .data_as_of
        .map(|d| {
            format!(
                " Microsoft's report data is as of {}.",
                d.format("%Y-%m-%d %H:%M UTC")
            )
        })
        .unwrap_or_default();
    let retries = match c.retries {
        0 => String::new(),
        1 => ", after 1 retry".to_owned(),
        n => format!(", after {n} retries"),
    };
    let p = &r.posture;
    let security = if p.policy_changes + p.joins + p.leaves + p.alerts == 0 {
        String::new()
    } else {
        format!(
            " Security configuration: {} policy changes; exclusion groups: {} joined, {} left; {} alerts raised.",
            p.policy_changes, p.joins, p.leaves, p.alerts
        )
    };
    format!(
        "Sync run {} succeeded in {:.1} s: {} users read in {} pages{retries}; {} changed ({} appeared, {} gone). \
         In scope: {} members — {} phone-only, {} phone-default, {} phone-backup, {} phone-free, {} without MFA; \
         {:.1}% migrated; {} admins still phone-only. Blocked on their retirement date: {} of {} on the early one, \
         {} of {} on the late one (Global Administrators and external users). {} guests counted apart, \
         {} accounts out of scope.{as_of}{security}",
        r.run_id,
        r.elapsed.as_secs_f64(),
        c.users,
        c.pages,
        c.changes,
        c.appeared,
        c.gone,
        t.users,
        t.phone_only,
        t.phone_default,
        t.phone_backup,
        t.phone_free,
        t.no_mfa,
        t.progress() * 100.0,
        t.admins_phone_only,
        t.blocked_early,
        t.people_early,
        t.blocked_late,
        t.people_late,
        t.guests,
        t.out_of_scope,
    )
}
