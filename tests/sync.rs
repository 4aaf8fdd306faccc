//! The syncer against a real PostgreSQL and the simulated tenant over real HTTP.

mod common;

use common::{Sim, TestDb, count, spawn_sync, sync_ok, sync_with};
use phoneless::db::operations as ops;
use phoneless::domain::Counts;
use phoneless::domain::classify::{Registration, State, classify, effective_default};
use phoneless::sim::server::FakeSettings;
use phoneless::sim::{Faults, PolicyOverride, Tenant};
use phoneless::sync::progress::Silent;
use phoneless::sync::{self, Outcome, SyncError, SyncOptions};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Tenant counts computed straight from the simulated data, with the scope rules written out
/// here rather than taken from the code under test.
fn expected_counts(t: &Tenant, day: u32) -> Counts {
    let directory: HashMap<String, _> = t
        .directory(day)
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    let mut c = Counts::default();
    for r in t.report(day) {
        if r.user_type.as_deref() == Some("guest") {
            c.guests += 1;
            continue;
        }
        if directory
            .get(&r.id)
            .is_some_and(|d| d.account_enabled == Some(false))
        {
            c.out_of_scope += 1;
            continue;
        }
        let k = classify(&Registration::from(&r));
        c.users += 1;
        match k.state {
            State::PhoneOnly => c.phone_only += 1,
            State::PhoneDefault => c.phone_default += 1,
            State::PhoneBackup => c.phone_backup += 1,
            State::PhoneFree => c.phone_free += 1,
            State::NoMfa => c.no_mfa += 1,
        }
        c.voice_capable += i32::from(k.voice_capable);
        c.voice_default += i32::from(k.voice_default);
        c.phishing_resistant += i32::from(k.phishing_resistant);
        c.admins += i32::from(r.is_admin);
        c.admins_phone_only += i32::from(r.is_admin && k.state == State::PhoneOnly);
    }
    c
}

/// The registered-method counts of `c`, without the retirement cohorts (which
/// tests/retirement.rs checks against the served roles and policy).
fn without_cohorts(c: Counts) -> Counts {
    Counts {
        out_of_scope_rule: 0,
        people_early: 0,
        blocked_early: 0,
        people_late: 0,
        blocked_late: 0,
        admins_blocked_early: 0,
        admins_blocked_late: 0,
        external_blocked: 0,
        external_members: 0,
        external_guests: 0,
        ..c
    }
}

/// Users whose stored facts differ between two days, compared field by field on the raw data
/// (methods as case-insensitive sets, so reordering and re-casing do not count).
fn changed_between(t: &Tenant, a: u32, b: u32) -> (usize, usize, usize) {
    type Key = (
        Vec<String>,
        String,
        bool,
        Option<String>,
        Option<bool>,
        bool,
        bool,
    );
    let facts = |day: u32| -> HashMap<String, Key> {
        let dir: HashMap<String, _> = t
            .directory(day)
            .into_iter()
            .map(|u| (u.id.clone(), u))
            .collect();
        t.report(day)
            .into_iter()
            .map(|r| {
                let mut methods: Vec<String> = r
                    .methods_registered
                    .iter()
                    .map(|m| m.to_ascii_lowercase())
                    .collect();
                methods.sort();
                methods.dedup();
                let d = dir.get(&r.id);
                let department = d
                    .and_then(|d| d.department.clone())
                    .filter(|s| !s.trim().is_empty());
                // What the user signs in with by default, not a preference system-preferred MFA overrides.
                let default = effective_default(
                    r.user_preferred_method_for_secondary_authentication
                        .as_deref(),
                    r.is_system_preferred_authentication_method_enabled,
                    &r.system_preferred_authentication_methods,
                );
                let key = (
                    methods,
                    default.as_str().to_owned(),
                    r.is_system_preferred_authentication_method_enabled,
                    department,
                    d.and_then(|d| d.account_enabled),
                    d.is_some(),
                    // The report's isAdmin follows admin roles, which the story grants and
                    // takes away.
                    r.is_admin,
                );
                (r.id, key)
            })
            .collect()
    };
    let (before, after) = (facts(a), facts(b));
    let appeared = after.keys().filter(|k| !before.contains_key(*k)).count();
    let gone = before.keys().filter(|k| !after.contains_key(*k)).count();
    let changed = after
        .iter()
        .filter(|(k, v)| before.get(*k).is_some_and(|old| old != *v))
        .count();
    (changed, appeared, gone)
}

#[tokio::test]
async fn a_full_sync_stores_every_user_and_counts_match_the_data() {
    let db = TestDb::new().await;
    let sim = Sim::start(1_500, 200).await;
    let report = sync_ok(&db, &sim).await;

    let tenant = sim.fake.tenant();
    let rows = tenant.report(0);
    assert_eq!(report.counts.users as usize, rows.len());
    assert_eq!(report.counts.appeared as usize, rows.len());
    assert_eq!(
        report.counts.pages as usize,
        rows.len().div_ceil(200).max(1) + tenant.directory(0).len().div_ceil(250)
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM user_versions WHERE ended_run IS NULL"
        )
        .await as usize,
        rows.len()
    );
    let expected = expected_counts(tenant, 0);
    assert_eq!(without_cohorts(report.tenant), expected);
    let stored = phoneless::db::dashboard::tenant_counts(&db.pool, report.run_id)
        .await
        .expect("query")
        .expect("tenant rollup");
    assert_eq!(stored, report.tenant);
    for &st in State::ALL {
        assert!(
            expected.state(st) > 0,
            "the test data should hold {st} users"
        );
    }
    // Department rollups add up to the tenant, "(no department)" included.
    let by_department: i64 = sqlx::query_scalar(
        "SELECT sum(users)::bigint FROM run_rollups WHERE run_id = $1 AND dimension = 'department'",
    )
    .bind(report.run_id)
    .fetch_one(&db.pool)
    .await
    .expect("sum");
    assert_eq!(by_department, i64::from(expected.users));
    let no_department: i64 = count(
        &db,
        "SELECT count(*) FROM run_rollups WHERE dimension = 'department' AND name IS NULL",
    )
    .await;
    assert_eq!(
        no_department, 1,
        "null, empty and blank departments are one group"
    );
    // The report's refresh time is "data as of".
    let newest = rows.iter().filter_map(|r| r.last_updated_date_time).max();
    assert_eq!(report.counts.data_as_of, newest);
    // Unknown method strings are kept as sent.
    let unknown: i64 = count(&db, "SELECT count(*) FROM user_versions WHERE 'qrCodePin' = ANY(methods) OR 'externalAuthMethod' = ANY(methods) OR 'platformCredential' = ANY(methods)").await;
    assert!(unknown > 0);
    let run = &ops::recent_runs(&db.pool, 1).await.expect("runs")[0];
    assert_eq!(
        (run.status.as_str(), run.users, run.changes),
        ("succeeded", rows.len() as i32, rows.len() as i32)
    );
}

#[tokio::test]
async fn a_resync_writes_only_what_changed() {
    let db = TestDb::new().await;
    let sim = Sim::start(2_000, 500).await;
    sim.fake.set_day(10);
    // The methods policy held at day 10's (its migration not complete, so the registered
    // methods count) and the roles unread: only the registrations and the directory change,
    // which the test counts on its own (policy-driven changes are tests/retirement.rs's).
    sim.fake.set_policy_override(PolicyOverride {
        methods: Some(sim.fake.policy_story().methods_policy(10)),
        ..PolicyOverride::default()
    });
    sim.fake.set_faults(Faults {
        deny_roles: true,
        ..Faults::default()
    });
    let first = sync_ok(&db, &sim).await;

    // Same day again: nothing changed (the sim reorders and re-cases some users' methods daily).
    let again = sync_ok(&db, &sim).await;
    assert_eq!(
        (
            again.counts.changes,
            again.counts.appeared,
            again.counts.gone
        ),
        (0, 0, 0)
    );
    let versions = count(&db, "SELECT count(*) FROM user_versions").await;
    assert_eq!(versions, i64::from(first.counts.users));

    for day in [11, 12, 20, 45] {
        let before = count(&db, "SELECT count(*) FROM user_versions").await;
        let prev = sim.fake.day();
        sim.fake.set_day(day);
        let r = sync_ok(&db, &sim).await;
        let (changed, appeared, gone) = changed_between(sim.fake.tenant(), prev, day);
        assert_eq!(
            (
                r.counts.changes as usize,
                r.counts.appeared as usize,
                r.counts.gone as usize
            ),
            (changed + appeared + gone, appeared, gone),
            "day {prev} -> {day}"
        );
        assert!(
            r.counts.changes > 0,
            "the story moves between day {prev} and {day}"
        );
        // One new version per changed or new user, none for the gone; nothing else.
        let after = count(&db, "SELECT count(*) FROM user_versions").await;
        assert_eq!((after - before) as usize, changed + appeared);
        let closed: i64 =
            sqlx::query_scalar("SELECT count(*) FROM user_versions WHERE ended_run = $1")
                .bind(r.run_id)
                .fetch_one(&db.pool)
                .await
                .expect("closed");
        assert_eq!(closed as usize, changed + gone);
        assert_eq!(
            without_cohorts(r.tenant),
            expected_counts(sim.fake.tenant(), day)
        );
    }
    // Users who left are recorded as gone, their history kept.
    let gone_users: i64 = count(
        &db,
        "SELECT count(DISTINCT user_id) FROM user_versions v WHERE NOT EXISTS
           (SELECT 1 FROM user_versions c WHERE c.user_id = v.user_id AND c.ended_run IS NULL)",
    )
    .await;
    assert!(gone_users > 0);
}

#[tokio::test]
async fn throttling_and_outages_are_retried() {
    let db = TestDb::new().await;
    let sim = Sim::start(600, 100).await;
    for (faults, retries) in [
        (
            Faults {
                throttle: 2,
                ..Faults::default()
            },
            2,
        ),
        (
            Faults {
                throttle_without_retry_after: 3,
                ..Faults::default()
            },
            3,
        ),
        (
            Faults {
                unavailable: 2,
                ..Faults::default()
            },
            2,
        ),
    ] {
        sim.fake.set_faults(faults.clone());
        let r = sync_ok(&db, &sim).await;
        assert_eq!(r.counts.retries, retries, "{faults:?}");
        let run = &ops::recent_runs(&db.pool, 1).await.expect("runs")[0];
        assert_eq!((run.status.as_str(), run.retries), ("succeeded", retries));
    }
    assert_eq!(sim.fake.served().throttled, 5);
}

/// Runs a sync that must fail; returns the error and checks that it wrote nothing.
async fn failing_sync(
    db: &TestDb,
    sim: &Sim,
    client: Arc<phoneless::graph::Client>,
) -> (SyncError, ops::Run) {
    let versions = count(db, "SELECT count(*) FROM user_versions").await;
    let rollups = count(db, "SELECT count(*) FROM run_rollups").await;
    let err = match sync_with(db, sim, client).await {
        Err(e) => e,
        Ok(o) => panic!("expected a failure, got {o:?}"),
    };
    assert_eq!(
        count(db, "SELECT count(*) FROM user_versions").await,
        versions,
        "versions written by a failed run"
    );
    assert_eq!(
        count(db, "SELECT count(*) FROM run_rollups").await,
        rollups,
        "rollups written by a failed run"
    );
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM user_versions WHERE ended_run = (SELECT max(id) FROM sync_runs)"
        )
        .await,
        0
    );
    let run = ops::recent_runs(&db.pool, 1).await.expect("runs").remove(0);
    assert_eq!(run.status.as_str(), "failed");
    assert_eq!(run.error.as_deref(), Some(err.to_string().as_str()));
    (err, run)
}

#[tokio::test]
async fn failures_are_recorded_in_plain_words_and_write_nothing() {
    let db = TestDb::new().await;
    let sim = Sim::start(800, 100).await;
    let first = sync_ok(&db, &sim).await;
    sim.fake.set_day(30);

    // Each fault: what the error must say, and its kind.
    let cases = [
        // A page cut off mid-JSON, after several pages were already stored.
        (
            Faults {
                malformed_page: Some(5),
                ..Faults::default()
            },
            &["could not be read"][..],
            "graph",
        ),
        // No Entra ID P1/P2 licence.
        (
            Faults {
                no_licence: true,
                ..Faults::default()
            },
            &["P1 or P2"][..],
            "licence",
        ),
        // Missing permissions name the permission to grant.
        (
            Faults {
                deny_report: true,
                ..Faults::default()
            },
            &["AuditLog.Read.All", "admin consent"][..],
            "permission",
        ),
        (
            Faults {
                deny_users: true,
                ..Faults::default()
            },
            &["User.Read.All", "admin consent"][..],
            "permission",
        ),
    ];
    for (faults, needles, kind) in cases {
        sim.fake.set_faults(faults.clone());
        let (err, run) = failing_sync(&db, &sim, sim.client()).await;
        for needle in needles {
            assert!(err.to_string().contains(needle), "{faults:?}: {err}");
        }
        assert_eq!(run.error_kind.as_deref(), Some(kind), "{faults:?}");
    }

    // Throttled for longer than the retry budget: gives up and says so.
    sim.fake.set_faults(Faults {
        throttle_without_retry_after: 1_000,
        ..Faults::default()
    });
    let mut settings = sim.settings();
    settings.retry_budget = Duration::from_millis(300);
    let client = Arc::new(phoneless::graph::Client::new(settings).expect("client"));
    let (err, run) = failing_sync(&db, &sim, client).await;
    assert!(
        err.to_string().contains("kept throttling") && err.to_string().contains("gave up"),
        "{err}"
    );
    assert_eq!(run.error_kind.as_deref(), Some("throttled"));
    assert!(run.retries > 0);

    // A run of 503s is an outage on Graph's side, not throttling, and says so.
    sim.fake.set_faults(Faults {
        unavailable: 1_000,
        ..Faults::default()
    });
    let mut settings = sim.settings();
    settings.retry_budget = Duration::from_millis(1_500);
    let client = Arc::new(phoneless::graph::Client::new(settings).expect("client"));
    let (err, run) = failing_sync(&db, &sim, client).await;
    let text = err.to_string();
    assert!(
        text.contains("unavailable") && text.contains("503") && !text.contains("kept throttling"),
        "{text}"
    );
    assert_eq!(run.error_kind.as_deref(), Some("unavailable"));
    assert!(run.retries > 0);

    // Pages slower than the request timeout.
    sim.fake.set_faults(Faults {
        slow_ms: 400,
        ..Faults::default()
    });
    let mut settings = sim.settings();
    settings.request_timeout = Duration::from_millis(100);
    settings.retry_budget = Duration::from_millis(500);
    let client = Arc::new(phoneless::graph::Client::new(settings).expect("client"));
    let (err, run) = failing_sync(&db, &sim, client).await;
    assert!(err.to_string().contains("could not reach Graph"), "{err}");
    assert_eq!(run.error_kind.as_deref(), Some("unreachable"));

    // Slow but within the timeout: fine.
    sim.fake.set_faults(Faults {
        slow_ms: 20,
        ..Faults::default()
    });
    let r = sync_ok(&db, &sim).await;
    assert!(r.counts.changes > 0);

    // Readers still saw the first run until a run succeeded.
    let runs = ops::recent_runs(&db.pool, 20).await.expect("runs");
    assert_eq!(
        runs.iter()
            .filter(|r| r.status.as_str() == "succeeded")
            .count(),
        2
    );
    assert!(runs.iter().any(|r| r.id == first.run_id));
}

#[tokio::test]
async fn tokens_are_renewed_when_graph_rejects_them() {
    let db = TestDb::new().await;
    let sim = Sim::start(300, 100).await;
    let client = sim.client();
    assert!(matches!(
        sync_with(&db, &sim, client.clone()).await,
        Ok(Outcome::Succeeded(_))
    ));
    assert_eq!(
        sim.fake.served().tokens_issued,
        1,
        "the token is cached across pages and runs"
    );
    sim.fake.set_faults(Faults {
        expire_tokens: true,
        ..Faults::default()
    });
    assert!(matches!(
        sync_with(&db, &sim, client).await,
        Ok(Outcome::Succeeded(_))
    ));
    assert_eq!(sim.fake.served().tokens_issued, 2);
    assert!(sim.fake.served().unauthorized >= 1);

    // Short-lived tokens are renewed before they expire, without a 401.
    let sim = Sim::start_with(
        300,
        FakeSettings {
            token_lifetime: Duration::from_secs(2),
            report_page_size: 100,
            ..FakeSettings::default()
        },
    )
    .await;
    let client = sim.client();
    for _ in 0..2 {
        assert!(matches!(
            sync_with(&db, &sim, client.clone()).await,
            Ok(Outcome::Succeeded(_))
        ));
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    assert_eq!(sim.fake.served().unauthorized, 0);
    assert_eq!(sim.fake.served().tokens_issued, 2);
}

#[tokio::test]
async fn certificate_credentials_and_wrong_secrets() {
    let db = TestDb::new().await;
    let fixture = |f: &str| {
        std::fs::read_to_string(format!("{}/tests/fixtures/{f}", env!("CARGO_MANIFEST_DIR")))
            .expect("fixture")
    };
    let sim = Sim::start_with(
        200,
        FakeSettings {
            certificate_pem: Some(fixture("sim-app.crt")),
            ..FakeSettings::default()
        },
    )
    .await;

    let mut settings = sim.settings();
    settings.credential = phoneless::credential::Credential::Certificate {
        certificate_pem: fixture("sim-app.crt"),
        private_key_pem: fixture("sim-app.key").into(),
    };
    let client = Arc::new(phoneless::graph::Client::new(settings.clone()).expect("client"));
    assert!(matches!(
        sync_with(&db, &sim, client).await,
        Ok(Outcome::Succeeded(_))
    ));

    // A certificate the app does not know.
    settings.credential = phoneless::credential::Credential::Certificate {
        certificate_pem: fixture("sim-other.crt"),
        private_key_pem: fixture("sim-other.key").into(),
    };
    let client = Arc::new(phoneless::graph::Client::new(settings.clone()).expect("client"));
    let (err, run) = failing_sync(&db, &sim, client).await;
    assert!(err.to_string().contains("AADSTS700027"), "{err}");
    assert_eq!(run.error_kind.as_deref(), Some("sign_in"));

    // The right certificate with another key: the signature does not verify.
    settings.credential = phoneless::credential::Credential::Certificate {
        certificate_pem: fixture("sim-app.crt"),
        private_key_pem: fixture("sim-other.key").into(),
    };
    let client = Arc::new(phoneless::graph::Client::new(settings.clone()).expect("client"));
    let (err, _) = failing_sync(&db, &sim, client).await;
    assert!(err.to_string().contains("signature"), "{err}");

    // A wrong secret: plain words, and the secret itself appears nowhere.
    settings.credential =
        phoneless::credential::Credential::Secret("not-the-secret-4711".to_owned().into());
    let client = Arc::new(phoneless::graph::Client::new(settings).expect("client"));
    let (err, run) = failing_sync(&db, &sim, client).await;
    assert!(
        err.to_string()
            .contains("client secret is wrong or has expired"),
        "{err}"
    );
    assert!(!run.error.unwrap_or_default().contains("4711"));
}

#[tokio::test]
async fn report_requests_are_paced_under_the_limit() {
    let db = TestDb::new().await;
    let sim = Sim::start(700, 100).await;
    let mut settings = sim.settings();
    settings.report_rate = "3/1s".parse().expect("rate");
    let client = Arc::new(phoneless::graph::Client::new(settings).expect("client"));
    assert!(matches!(
        sync_with(&db, &sim, client).await,
        Ok(Outcome::Succeeded(_))
    ));
    let times = sim.fake.report_request_times();
    assert!(times.len() >= 7, "{} report pages", times.len());
    // The pacer spaces sending; these are arrival times, which may jitter under load by a few
    // tens of milliseconds. Unpaced, all seven would arrive within milliseconds.
    for (i, t) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .filter(|u| u.duration_since(*t) < Duration::from_millis(900))
            .count();
        assert!(
            in_window <= 3,
            "{in_window} report requests within one second"
        );
    }
}

#[tokio::test]
async fn only_one_syncer_runs_at_a_time() {
    let db = TestDb::new().await;
    let sim = Sim::start(400, 50).await;
    sim.fake.set_faults(Faults {
        slow_ms: 30,
        ..Faults::default()
    });
    let run = |wait: bool| {
        let pool = db.pool.clone();
        let client = sim.client();
        async move {
            let options = SyncOptions {
                wait_for_lock: wait,
                runner: "test".into(),
                ..SyncOptions::default()
            };
            sync::run(
                &pool,
                client,
                chrono::Utc::now(),
                &options,
                Arc::new(Silent),
                &CancellationToken::new(),
            )
            .await
        }
    };
    let (a, b) = tokio::join!(run(false), run(false));
    let outcomes = [a.expect("sync a"), b.expect("sync b")];
    let succeeded = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Succeeded(_)))
        .count();
    let skipped = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Skipped { .. }))
        .count();
    assert_eq!((succeeded, skipped), (1, 1));
    let statuses: HashSet<String> = ops::recent_runs(&db.pool, 10)
        .await
        .expect("runs")
        .into_iter()
        .map(|r| r.status.to_string())
        .collect();
    assert_eq!(
        statuses,
        HashSet::from(["succeeded".to_owned(), "skipped".to_owned()])
    );

    // With --wait the second one waits its turn and then runs.
    let (a, b) = tokio::join!(run(true), run(true));
    assert!(matches!(a, Ok(Outcome::Succeeded(_))) && matches!(b, Ok(Outcome::Succeeded(_))));
}

#[tokio::test]
async fn a_database_that_goes_away_mid_sync_leaves_nothing_half_written() {
    let db = TestDb::new().await;
    let sim = Sim::start(1_000, 100).await;
    let first = sync_ok(&db, &sim).await;
    sim.fake.set_day(40);
    sim.fake.set_faults(Faults {
        slow_ms: 60,
        ..Faults::default()
    });

    let syncing = spawn_sync(&db, &sim, CancellationToken::new());
    // Let it store a few pages, then drop every connection to the database.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(db.kill_connections().await > 0);
    let err = match syncing.await.expect("task") {
        Err(e) => e,
        Ok(o) => panic!("expected the sync to fail, got {o:?}"),
    };
    assert_eq!(err.kind(), "database", "{err}");

    let runs = ops::recent_runs(&db.pool, 5).await.expect("runs");
    assert_eq!(runs[0].status.as_str(), "failed");
    assert!(
        runs[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("nothing from this run was stored")
    );
    let newer: i64 = sqlx::query_scalar("SELECT count(*) FROM user_versions WHERE first_run > $1")
        .bind(first.run_id)
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(newer, 0);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM user_versions WHERE ended_run IS NOT NULL"
        )
        .await,
        0
    );
    // The next sync picks up cleanly.
    sim.fake.set_faults(Faults::default());
    let r = sync_ok(&db, &sim).await;
    assert!(r.counts.changes > 0);
}

#[tokio::test]
async fn runs_left_running_by_a_dead_process_are_marked_failed() {
    let db = TestDb::new().await;
    let sim = Sim::start(100, 100).await;
    let orphan = ops::insert_run(&db.pool, chrono::Utc::now(), "dead:1")
        .await
        .expect("insert");
    sync_ok(&db, &sim).await;
    let run = ops::recent_runs(&db.pool, 10)
        .await
        .expect("runs")
        .into_iter()
        .find(|r| r.id == orphan)
        .expect("orphan");
    assert_eq!(
        (run.status.as_str(), run.error_kind.as_deref()),
        ("failed", Some("interrupted"))
    );
}

#[tokio::test]
async fn a_shutdown_mid_sync_rolls_back_and_says_so() {
    let db = TestDb::new().await;
    let sim = Sim::start(1_000, 100).await;
    sim.fake.set_faults(Faults {
        slow_ms: 50,
        ..Faults::default()
    });
    let cancel = CancellationToken::new();
    let syncing = spawn_sync(&db, &sim, cancel.clone());
    tokio::time::sleep(Duration::from_millis(400)).await;
    cancel.cancel();
    let err = syncing
        .await
        .expect("task")
        .expect_err("a cancelled sync fails");
    assert_eq!(err.kind(), "interrupted");
    let run = ops::recent_runs(&db.pool, 1).await.expect("runs").remove(0);
    assert_eq!(
        (run.status.as_str(), run.error_kind.as_deref()),
        ("failed", Some("interrupted"))
    );
    assert_eq!(count(&db, "SELECT count(*) FROM user_versions").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM run_rollups").await, 0);
    // The lock was released: the next sync runs.
    sim.fake.set_faults(Faults::default());
    sync_ok(&db, &sim).await;
}

#[tokio::test]
async fn rows_without_a_guid_id_are_left_out_and_counted() {
    let db = TestDb::new().await;
    let sim = Sim::start(300, 100).await;
    sim.fake.set_faults(Faults {
        bad_ids: 3,
        ..Faults::default()
    });
    let r = sync_ok(&db, &sim).await;
    assert_eq!(r.invalid_ids, 3);
    assert_eq!(
        r.counts.users as usize,
        sim.fake.tenant().report(0).len() - 3
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM user_versions").await,
        i64::from(r.counts.users)
    );
}

#[tokio::test]
async fn the_sync_lock_is_released_when_a_run_fails_early() {
    use sqlx::{ConnectOptions, Connection};
    let db = TestDb::new().await;
    let sim = Sim::start(100, 100).await;
    // Fail right after the lock is taken: the run table is not there.
    sqlx::query("ALTER TABLE sync_runs RENAME TO sync_runs_away")
        .execute(&db.pool)
        .await
        .expect("rename");
    let err = sync_with(&db, &sim, sim.client())
        .await
        .expect_err("no run table");
    assert_eq!(err.kind(), "database");
    sqlx::query("ALTER TABLE sync_runs_away RENAME TO sync_runs")
        .execute(&db.pool)
        .await
        .expect("rename back");
    // Another session can take the lock: nobody kept it.
    let mut other = db.options.clone().connect().await.expect("connect");
    let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(ops::SYNC_LOCK_KEY)
        .fetch_one(&mut other)
        .await
        .expect("try lock");
    assert!(free, "the failed sync left the lock held");
    // Release it before the next sync: close() returns before the server has let go of it.
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(ops::SYNC_LOCK_KEY)
        .execute(&mut other)
        .await
        .expect("unlock");
    other.close().await.expect("close");
    sync_ok(&db, &sim).await;
}
