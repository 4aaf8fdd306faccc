//! Sign-in usage benchmark: `cargo bench --bench signins`.
//!
//! A 7-day backfill of the simulated tenant's interactive sign-in log (default 100,000 people,
//! about 1.4 million sign-ins), served with no latency and no throttle over loopback HTTP:
//! - the backfill's time against the time merely to fetch and parse the same windows, medians
//!   of interleaved repetitions, and their ratio (goal ≤ 1.2);
//! - the peak resident memory of this process during a backfill, the fake serving it included
//!   (goal < 150 MB above what it held before);
//! - the rows written.
//!
//! Settings: PHONELESS_BENCH_USERS (100000), PHONELESS_BENCH_REPS (3). Uses DATABASE_URL's
//! server when set, otherwise a private PostgreSQL with fsync on.

mod common;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use common::{env_num, median, status_kb};
use phoneless::credential::Credential;
use phoneless::db::embedded::EmbeddedPostgres;
use phoneless::graph::pacing::Rate;
use phoneless::graph::{Client, GraphSettings};
use phoneless::sim::server::{SIM_CLIENT_ID, SIM_CLIENT_SECRET, SIM_TENANT_ID};
use phoneless::sim::{FakeGraph, FakeSettings, Tenant};
use phoneless::sync::usage::{self, SignInOptions, WINDOW};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The story's day the backfill reads up to.
const DAY: u32 = 40;
/// Days the backfill reads.
const DAYS: u32 = 7;

/// This process's resident memory now and its high-water mark (KiB).
fn resident_kb() -> u64 {
    status_kb(
        &std::fs::read_to_string("/proc/self/status").unwrap_or_default(),
        "VmRSS",
    )
    .unwrap_or(0)
}

fn peak_kb() -> u64 {
    status_kb(
        &std::fs::read_to_string("/proc/self/status").unwrap_or_default(),
        "VmHWM",
    )
    .unwrap_or(0)
}

/// Resets the high-water mark to the present.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn settings(url: &str) -> GraphSettings {
    GraphSettings {
        graph_url: url.to_owned(),
        login_url: url.to_owned(),
        tenant_id: SIM_TENANT_ID.to_owned(),
        client_id: SIM_CLIENT_ID.to_owned(),
        credential: Credential::Secret(SIM_CLIENT_SECRET.to_owned().into()),
        report_rate: Rate::UNLIMITED,
        conditional_access_rate: Rate::UNLIMITED,
        request_timeout: Duration::from_secs(120),
        retry_budget: Duration::from_secs(120),
        backoff_base: Duration::from_millis(100),
        users_page_size: phoneless::graph::USERS_PAGE_SIZE,
    }
}

/// Fetches and parses the backfill's windows, storing nothing: the sign-ins read.
async fn fetch_only(client: &Client, now: DateTime<Utc>) -> Result<u64> {
    let mut start = now - chrono::Duration::days(DAYS.into());
    let mut n = 0u64;
    while start < now {
        let end = (start + WINDOW).min(now);
        let mut pages = client.sign_ins(start, end);
        while let Some(p) = pages.next_page().await {
            n += p?.value.len() as u64;
        }
        start = end;
    }
    Ok(n)
}

async fn fresh_db(server: &PgConnectOptions, n: u32) -> Result<PgPool> {
    let name = format!("phoneless_signins_{}_{n}", std::process::id());
    let mut admin = server.clone().database("postgres").connect().await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\""))
        .execute(&mut admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await?;
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(server.clone().database(&name))
        .await?;
    phoneless::db::migrate(&pool).await?;
    Ok(pool)
}

#[tokio::main]
async fn main() -> Result<()> {
    let users = env_num("PHONELESS_BENCH_USERS", 100_000);
    let reps = env_num("PHONELESS_BENCH_REPS", 3).max(1);
    let (server, _embedded) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => (PgConnectOptions::from_str(&url)?, None),
        _ => {
            let pg = EmbeddedPostgres::start_temporary(true)?;
            (PgConnectOptions::from_str(&pg.url("postgres"))?, Some(pg))
        }
    };
    let server = server.disable_statement_logging();
    let tenant = Tenant::generate(
        1,
        users,
        DAY + 10,
        NaiveDate::from_ymd_opt(2026, 1, 1).context("date")?,
    );
    let fake = FakeGraph::new(tenant, FakeSettings::default());
    let url = fake.spawn().await?;
    fake.set_day(DAY);
    let now = fake.now();
    let client = std::sync::Arc::new(Client::new(settings(&url))?);
    println!(
        "phoneless sign-in benchmark: {users} simulated people, a {DAYS}-day backfill, {reps} repetitions, {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let mut fetch_times = Vec::new();
    let mut backfill_times = Vec::new();
    let mut peaks = Vec::new();
    let (mut sign_ins, mut rows) = (0, 0);
    for i in 0..=reps {
        let t = Instant::now();
        sign_ins = fetch_only(&client, now).await?;
        let fetch = t.elapsed();
        let pool = fresh_db(&server, i as u32).await?;
        let run_id = phoneless::db::operations::insert_run(&pool, now, "bench").await?;
        let before = resident_kb();
        reset_peak();
        let t = Instant::now();
        let report = usage::read(
            &pool,
            client.clone(),
            run_id,
            now,
            SignInOptions {
                days: DAYS,
                pages_per_run: u32::MAX,
            },
        )
        .await?
        .context("the backfill read the log")?;
        let backfill = t.elapsed();
        let peak = peak_kb();
        rows = report.rows;
        assert_eq!(
            report.sign_ins, sign_ins,
            "the backfill read what the fetch read"
        );
        pool.close().await;
        // The first round warms the fake's and PostgreSQL's caches.
        if i > 0 {
            println!(
                "  round {i}: fetch and parse {:.2} s, backfill {:.2} s, peak {} MB (from {} MB)",
                fetch.as_secs_f64(),
                backfill.as_secs_f64(),
                peak / 1024,
                before / 1024
            );
            fetch_times.push(fetch.as_secs_f64());
            backfill_times.push(backfill.as_secs_f64());
            peaks.push(peak.saturating_sub(before) as f64 / 1024.0);
        }
    }
    let (fetch, backfill) = (median(fetch_times), median(backfill_times));
    println!("\n| measure | value |");
    println!("|---|---|");
    println!("| sign-ins in the {DAYS}-day backfill | {sign_ins} |");
    println!("| fetch and parse, median | {fetch:.2} s |");
    println!("| backfill (fetch, count, write), median | {backfill:.2} s |");
    println!(
        "| backfill ÷ fetch and parse (goal ≤ 1.2) | {:.2}× |",
        backfill / fetch
    );
    println!(
        "| peak memory above the process's before the backfill, median (goal < 150 MB) | {:.0} MB |",
        median(peaks)
    );
    println!("| person-day-method rows written | {rows} |");
    Ok(())
}
