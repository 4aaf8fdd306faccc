//! The sign-in usage against the simulated tenant's sign-in log over real HTTP: counts per
//! person, day and method equal an independent count of the log; overlapping reads count each
//! sign-in once; the counts outlive the log's 30 days; a denied log leaves the run intact; the
//! log and the report share one pace; and the pages and JSON show it.

mod common;

use chrono::{NaiveDate, Utc};
use common::{Sim, TestDb, get_json};
use phoneless::domain::RunStatus;
use phoneless::sim::{FakeSettings, Faults};
use phoneless::sync::progress::Silent;
use phoneless::sync::{self, Outcome, SyncOptions};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// One sync dated at the fake's own clock (the log it serves ends there).
async fn sync_now(
    db: &TestDb,
    sim: &Sim,
    settings: phoneless::graph::GraphSettings,
    days: u32,
) -> i64 {
    let options = SyncOptions {
        sign_ins: sync::usage::SignInOptions {
            days,
            ..Default::default()
        },
        ..SyncOptions::default()
    };
    let client = Arc::new(phoneless::graph::Client::new(settings).expect("client"));
    match sync::run(
        &db.pool,
        client,
        sim.fake.now(),
        &options,
        Arc::new(Silent),
        &CancellationToken::new(),
    )
    .await
    {
        Ok(Outcome::Succeeded(r)) => r.run_id,
        other => panic!("expected a successful sync, got {other:?}"),
    }
}

type Counts = BTreeMap<(String, NaiveDate, String), i64>;

/// What the simulated log holds for these days, counted without HTTP.
fn expected(sim: &Sim, days: std::ops::RangeInclusive<u32>) -> Counts {
    let mut out = Counts::new();
    for day in days {
        for (user, date, method, n) in sim.fake.tenant().successful_mfa(day) {
            *out.entry((user, date, method)).or_default() += i64::from(n);
        }
    }
    out
}

/// What phoneless stored for these dates.
async fn stored(db: &TestDb, from: NaiveDate, to: NaiveDate) -> Counts {
    let rows: Vec<(uuid::Uuid, NaiveDate, String, i32)> = sqlx::query_as(
        "SELECT user_id, day, method, count FROM mfa_usage WHERE day BETWEEN $1 AND $2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&db.pool)
    .await
    .expect("usage");
    rows.into_iter()
        .map(|(u, d, m, n)| ((u.to_string(), d, m), i64::from(n)))
        .collect()
}

#[tokio::test]
async fn counts_equal_the_log_once_each_and_outlive_its_retention() {
    let db = TestDb::new().await;
    let sim = Sim::start(200, 1_000).await;
    sim.fake.set_day(10);
    sync_now(&db, &sim, sim.settings(), 7).await;
    // A day later: the read starts a little before where the last one stopped.
    sim.fake.set_day(11);
    sync_now(&db, &sim, sim.settings(), 7).await;

    let tenant = sim.fake.tenant();
    // Days 4 to 10 are whole across the two reads (the first began partway through day 3).
    let want = expected(&sim, 4..=10);
    assert!(
        want.len() > 200,
        "a log with something in it: {}",
        want.len()
    );
    let methods: std::collections::BTreeSet<&str> = want.keys().map(|k| k.2.as_str()).collect();
    for m in ["Text message", "Mobile app notification"] {
        assert!(methods.contains(m), "{m} in {methods:?}");
    }
    let got = stored(&db, tenant.date(4), tenant.date(10)).await;
    assert_eq!(got, want, "per person, day and method, each sign-in once");
    let unknown: i64 =
        common::count(&db, "SELECT count(*) FROM mfa_usage WHERE class = 'other'").await;
    if want.keys().any(|k| !phoneless_known(&k.2)) {
        assert!(unknown > 0, "unknown texts are kept");
    }
    let parts: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT part, error FROM run_parts WHERE part = 'sign_ins'")
            .fetch_all(&db.pool)
            .await
            .expect("parts");
    assert!(
        parts.len() == 2 && parts.iter().all(|p| p.1.is_none()),
        "{parts:?}"
    );

    // Past the log's 30 days, the counts are still there; the newest days come in.
    sim.fake.set_day(45);
    sync_now(&db, &sim, sim.settings(), 7).await;
    assert_eq!(stored(&db, tenant.date(4), tenant.date(10)).await, want);
    assert_eq!(
        stored(&db, tenant.date(40), tenant.date(44)).await,
        expected(&sim, 40..=44)
    );

    // The API: every day of the window, and the people who used a phone in the 30 days up to
    // the last read.
    let today = Utc::now().date_naive();
    let days = (today - tenant.date(0)).num_days() + 1;
    let (status, usage) = get_json(&db, &format!("/api/v1/usage?days={days}")).await;
    assert_eq!(status, 200, "{usage}");
    let points = usage["points"].as_array().expect("points");
    assert_eq!(points.len() as i64, days);
    let day10 = points
        .iter()
        .find(|p| p["date"] == tenant.date(10).to_string())
        .expect("day 10");
    let sms_10: i64 = want
        .iter()
        .filter(|(k, _)| k.1 == tenant.date(10) && k.2 == "Text message")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(day10["sms"], sms_10);
    // Independently: who answered an SMS or a call in the 30 days up to the last read, which
    // reached the fake's clock on day 45.
    let until = sim.fake.now();
    let phone_people: std::collections::BTreeSet<String> = (16..=45)
        .flat_map(|day| tenant.sign_ins(day))
        .filter(|s| s.created_date_time < until)
        .filter(|s| {
            s.authentication_details.iter().any(|d| {
                d.authentication_step_requirement.as_deref() == Some("MFA")
                    && d.succeeded == Some(true)
                    && matches!(
                        d.authentication_method.as_deref(),
                        Some("Text message" | "Voice call" | "Phone call")
                    )
            })
        })
        .map(|s| s.user_id)
        .collect();
    assert!(!phone_people.is_empty());
    assert_eq!(usage["people_phone_30d"], phone_people.len());
    let (_, bad) = get_json(&db, "/api/v1/usage?days=0").await;
    assert!(bad["error"].as_str().is_some_and(|e| e.contains("days")));
}

fn phoneless_known(method: &str) -> bool {
    phoneless::domain::usage::mfa_class(method)
        .is_some_and(|c| c != phoneless::domain::usage::MfaClass::Other)
}

#[tokio::test]
async fn a_denied_log_is_its_part_and_the_run_goes_on() {
    let db = TestDb::new().await;
    let sim = Sim::start(120, 1_000).await;
    sim.fake.set_day(5);
    sim.fake.set_faults(Faults {
        deny_sign_ins: true,
        ..Faults::default()
    });
    let run = sync_now(&db, &sim, sim.settings(), 7).await;
    let status: RunStatus = sqlx::query_scalar("SELECT status FROM sync_runs WHERE id = $1")
        .bind(run)
        .fetch_one(&db.pool)
        .await
        .expect("run");
    assert_eq!(status, RunStatus::Succeeded);
    let error: Option<String> =
        sqlx::query_scalar("SELECT error FROM run_parts WHERE run_id = $1 AND part = 'sign_ins'")
            .bind(run)
            .fetch_one(&db.pool)
            .await
            .expect("part");
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("AuditLog.Read.All")),
        "{error:?}"
    );
    assert!(common::count(&db, "SELECT count(*) FROM user_versions").await > 100);
    assert_eq!(
        common::count(&db, "SELECT count(*) FROM mfa_usage").await,
        0
    );
    // The overview says none was read, rather than showing zeros as if nobody used a phone.
    let (_, page) = common::get(&db, "/").await;
    assert!(
        page.contains("No sign-in has been read yet"),
        "the overview says so"
    );
}

#[tokio::test]
async fn the_log_and_the_report_share_one_pace() {
    let db = TestDb::new().await;
    let sim = Sim::start_with(
        200,
        FakeSettings {
            report_page_size: 40,
            sign_in_page_size: 100,
            conditional_access_interval: Duration::ZERO,
            ..FakeSettings::default()
        },
    )
    .await;
    sim.fake.set_day(3);
    let mut settings = sim.settings();
    // Graph's limit scaled down (5 per 10 s in production), so the test is quick.
    settings.report_rate = "4/1s".parse().expect("rate");
    let started = Instant::now();
    sync_now(&db, &sim, settings, 2).await;
    let times = sim.fake.reports_throttle_request_times();
    let sign_ins = sim.fake.sign_in_request_times();
    assert!(
        sign_ins.len() >= 4 && times.len() > sign_ins.len(),
        "{} {}",
        times.len(),
        sign_ins.len()
    );
    for (i, t) in times.iter().enumerate() {
        let within = times[i..]
            .iter()
            .take_while(|u| u.duration_since(*t) < Duration::from_millis(990))
            .count();
        assert!(within <= 4, "{within} requests within a second");
    }
    assert_eq!(sim.fake.served().throttled, 0);
    assert!(started.elapsed() >= Duration::from_secs(1));
}
