//! Sync benchmark (docs/design.md §6): `cargo bench --bench sync`.
//!
//! For a simulated tenant (default 100,000 users) served with no latency over loopback HTTP:
//! - full-sync time against the time merely to fetch and parse the same pages (both
//!   collections, fetched concurrently as the sync does), medians of interleaved repetitions,
//!   and their ratio (goal ≤ 1.3);
//! - peak memory of a `phoneless sync` process doing the full sync (goal < 200 MB);
//! - rows written by daily re-syncs and by one where about 1% of users changed;
//! - database size after 30 daily syncs against the size after one.
//!
//! Settings: PHONELESS_BENCH_USERS (100000), PHONELESS_BENCH_REPS (5), PHONELESS_BENCH_DAYS (30).
//! Uses DATABASE_URL's server when set, otherwise a private PostgreSQL with fsync on.

mod common;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use common::{env_num, median, status_kb};
use phoneless::credential::Credential;
use phoneless::db::embedded::EmbeddedPostgres;
use phoneless::graph::pacing::Rate;
use phoneless::graph::{Client, GraphSettings};
use phoneless::sim::server::{SIM_CLIENT_ID, SIM_CLIENT_SECRET, SIM_TENANT_ID};
use phoneless::sim::{FakeGraph, FakeSettings, Tenant};
use phoneless::sync::progress::Silent;
use phoneless::sync::{self, Outcome, RunReport, SyncOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The day of the story the full sync reads; later days are the daily re-syncs.
const BASE_DAY: u32 = 250;

struct Bench {
    server: PgConnectOptions,
    _embedded: Option<EmbeddedPostgres>,
    fake: FakeGraph,
    graph_url: String,
    next_db: u32,
}

impl Bench {
    fn settings(&self) -> GraphSettings {
        GraphSettings {
            graph_url: self.graph_url.clone(),
            login_url: self.graph_url.clone(),
            tenant_id: SIM_TENANT_ID.to_owned(),
            client_id: SIM_CLIENT_ID.to_owned(),
            credential: Credential::Secret(SIM_CLIENT_SECRET.to_owned().into()),
            report_rate: Rate::UNLIMITED,
            conditional_access_rate: phoneless::graph::DEFAULT_CONDITIONAL_ACCESS_RATE,
            request_timeout: Duration::from_secs(60),
            retry_budget: Duration::from_secs(60),
            backoff_base: Duration::from_millis(100),
            users_page_size: phoneless::graph::USERS_PAGE_SIZE,
        }
    }

    /// A fresh, migrated database; its URL and pool.
    async fn fresh_db(&mut self) -> Result<(String, PgPool)> {
        self.next_db += 1;
        let name = format!("phoneless_bench_{}_{}", std::process::id(), self.next_db);
        let mut admin = self.server.clone().database("postgres").connect().await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\""))
            .execute(&mut admin)
            .await?;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await?;
        let options = self.server.clone().database(&name);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await?;
        phoneless::db::migrate(&pool).await?;
        let url = format!(
            "postgres://{}@{}:{}/{name}",
            options.get_username(),
            options.get_host(),
            options.get_port()
        );
        Ok((url, pool))
    }

    async fn drop_db(&self, pool: PgPool) -> Result<()> {
        let name: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(&pool)
            .await?;
        pool.close().await;
        let mut admin = self.server.clone().database("postgres").connect().await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut admin)
            .await?;
        Ok(())
    }

    /// Fetches and parses every page of both collections, concurrently, storing nothing.
    async fn fetch_only(&self) -> Result<(Duration, usize)> {
        let client = Arc::new(Client::new(self.settings())?);
        let start = Instant::now();
        let c = client.clone();
        let users = tokio::spawn(async move {
            let mut pages = c.users();
            let mut n = 0usize;
            while let Some(p) = pages.next_page().await {
                n += p?.value.len();
            }
            Ok::<_, phoneless::graph::GraphError>(n)
        });
        let mut pages = client.registration_details();
        let mut rows = 0usize;
        while let Some(p) = pages.next_page().await {
            rows += p?.value.len();
        }
        let users = users.await??;
        std::hint::black_box(users);
        Ok((start.elapsed(), rows))
    }

    async fn sync(&self, pool: &PgPool, day: u32) -> Result<RunReport> {
        self.fake.set_day(day);
        let client = Arc::new(Client::new(self.settings())?);
        let now = self.fake.tenant().report_refreshed(day) + chrono::Duration::hours(1);
        match sync::run(
            pool,
            client,
            now,
            &SyncOptions::default(),
            Arc::new(Silent),
            &CancellationToken::new(),
        )
        .await?
        {
            Outcome::Succeeded(r) => Ok(r),
            Outcome::Skipped { reason, .. } => bail!("sync skipped: {reason}"),
        }
    }

    async fn table_bytes(pool: &PgPool) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT (pg_total_relation_size('user_versions') + pg_total_relation_size('run_rollups')
                     + pg_total_relation_size('sync_runs'))::bigint",
        )
        .fetch_one(pool)
        .await?)
    }
}

/// Runs `phoneless sync` as a child process; its wall time and peak resident memory (KiB).
///
/// The peak is the child's own `VmHWM`, polled until it exits: after `exec` it covers only the
/// child's address space. (`getrusage`/`wait4` would not do: Rust spawns with `vfork`, and Linux
/// carries the parent's high-water mark into the child's `ru_maxrss` across `exec`.)
fn sync_process(graph_url: &str, database_url: &str) -> Result<(Duration, u64)> {
    let start = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_phoneless"))
        .arg("sync")
        .env("DATABASE_URL", database_url)
        .env("PHONELESS_GRAPH_URL", graph_url)
        .env("PHONELESS_LOGIN_URL", graph_url)
        .env("PHONELESS_TENANT_ID", SIM_TENANT_ID)
        .env("PHONELESS_CLIENT_ID", SIM_CLIENT_ID)
        .env("PHONELESS_CLIENT_SECRET", SIM_CLIENT_SECRET)
        .env("PHONELESS_REPORT_RATE", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("start phoneless sync")?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kb) = status_kb(&text, "VmHWM")
        {
            peak_kb = peak_kb.max(kb);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if !status.success() {
        bail!("phoneless sync exited with {status}");
    }
    Ok((start.elapsed(), peak_kb))
}

#[tokio::main]
async fn main() -> Result<()> {
    // `cargo bench` passes --bench; nothing else is taken from the command line.
    if let Ok(filter) = std::env::var("PHONELESS_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    let users = env_num("PHONELESS_BENCH_USERS", 100_000);
    let reps = env_num("PHONELESS_BENCH_REPS", 5).max(1);
    let days = env_num("PHONELESS_BENCH_DAYS", 30).max(2) as u32;

    let (server, embedded) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => (PgConnectOptions::from_str(&url)?, None),
        _ => {
            let pg = EmbeddedPostgres::start_temporary(true)?;
            (PgConnectOptions::from_str(&pg.url("postgres"))?, Some(pg))
        }
    };
    let server = server.disable_statement_logging();
    let started = Instant::now();
    let tenant = Tenant::generate(
        1,
        users,
        BASE_DAY + days + 30,
        NaiveDate::from_ymd_opt(2026, 1, 1).context("date")?,
    );
    let generated = started.elapsed();
    let fake = FakeGraph::new(tenant, FakeSettings::default());
    let graph_url = fake.spawn().await?;
    fake.set_day(BASE_DAY);
    let mut b = Bench {
        server,
        _embedded: embedded,
        fake,
        graph_url,
        next_db: 0,
    };
    println!(
        "phoneless sync benchmark: {users} simulated users (generated in {:.1} s), {reps} repetitions, {} CPUs",
        generated.as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // 1. Full sync against fetch-and-parse, interleaved so drift hits both alike.
    let mut fetch_times = Vec::new();
    let mut sync_times = Vec::new();
    let mut rows = 0;
    for i in 0..=reps {
        let (fetch, n) = b.fetch_only().await?;
        let (_, pool) = b.fresh_db().await?;
        let r = b.sync(&pool, BASE_DAY).await?;
        b.drop_db(pool).await?;
        if i == 0 {
            continue; // warm-up: caches, connections, the fake's first pages
        }
        rows = n;
        fetch_times.push(fetch.as_secs_f64());
        sync_times.push(r.elapsed.as_secs_f64());
        println!(
            "  rep {i}: fetch+parse {:.2} s, full sync {:.2} s ({} users)",
            fetch.as_secs_f64(),
            r.elapsed.as_secs_f64(),
            r.counts.users
        );
    }
    let (fetch_med, sync_med) = (median(fetch_times), median(sync_times));

    // 2. Peak memory of a real `phoneless sync` process doing the full sync.
    let (url, pool) = b.fresh_db().await?;
    b.fake.set_day(BASE_DAY);
    let (process_time, peak_kb) = sync_process(&b.graph_url, &url)?;
    b.drop_db(pool).await?;

    // 3. Daily re-syncs: rows written and storage growth.
    let (_, pool) = b.fresh_db().await?;
    let first = b.sync(&pool, BASE_DAY).await?;
    let size_one = Bench::table_bytes(&pool).await?;
    let mut daily = Vec::new();
    for day in BASE_DAY + 1..BASE_DAY + days {
        daily.push(b.sync(&pool, day).await?);
    }
    let size_all = Bench::table_bytes(&pool).await?;
    let changed_pct: Vec<f64> = daily
        .iter()
        .map(|r| 100.0 * f64::from(r.counts.changes) / f64::from(r.counts.users))
        .collect();
    let daily_pct = median(changed_pct);
    // A re-sync where about 1% changed: enough days apart for the story to move that far.
    let gap = ((1.0 / daily_pct.max(0.01)).round() as u32).max(1);
    let last_day = BASE_DAY + days - 1;
    let one_pct = b.sync(&pool, last_day + gap).await?;
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM user_versions")
        .fetch_one(&pool)
        .await?;
    b.drop_db(pool).await?;

    let median_daily_rows = median(daily.iter().map(|r| r.rows_written as f64).collect());
    let median_daily_time = median(daily.iter().map(|r| r.elapsed.as_secs_f64()).collect());
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!("| users in the report | {rows} |");
    println!("| fetch + parse, median of {reps} | {fetch_med:.2} s |");
    println!("| full sync (first, empty database), median of {reps} | {sync_med:.2} s |");
    println!(
        "| ratio full sync ÷ fetch + parse (goal ≤ 1.3) | {:.2} |",
        sync_med / fetch_med
    );
    println!(
        "| `phoneless sync` process: full sync, wall time | {:.2} s |",
        process_time.as_secs_f64()
    );
    println!(
        "| `phoneless sync` process: peak memory (goal < 200 MB) | {:.0} MB |",
        peak_kb as f64 / 1024.0
    );
    println!("| daily re-sync: median users changed | {daily_pct:.2}% |");
    println!(
        "| ratio daily re-sync ÷ fetch + parse | {:.2} |",
        median_daily_time / fetch_med
    );
    println!(
        "| daily re-sync: median rows written / median time | {median_daily_rows:.0} / {median_daily_time:.2} s |"
    );
    println!(
        "| re-sync {gap} days apart: users changed, rows written | {} ({:.2}%), {} |",
        one_pct.counts.changes,
        100.0 * f64::from(one_pct.counts.changes) / f64::from(one_pct.counts.users),
        one_pct.rows_written
    );
    println!("| first sync: rows written | {} |", first.rows_written);
    println!(
        "| tables after 1 sync / after {days} daily syncs | {:.1} MB / {:.1} MB ({:.2}×; {versions} versions for {} users) |",
        size_one as f64 / 1e6,
        size_all as f64 / 1e6,
        size_all as f64 / size_one as f64,
        first.counts.users
    );
    Ok(())
}
