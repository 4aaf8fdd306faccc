//! The client's sign-in log (`Client::sign_ins`) against the simulated tenant over real HTTP:
//! windows, paging, the methods counted, missing permissions and licences, retention, and the
//! reports throttle it shares with the registration report.

mod common;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::Sim;
use phoneless::graph::model::SignIn;
use phoneless::graph::{Client, GraphError, Pages};
use phoneless::sim::{FakeSettings, Faults};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration as StdDuration;

/// 300 people (about 600 sign-ins a day), pages of 100, the story on day 10.
async fn sim() -> Sim {
    let sim = Sim::start_with(
        300,
        FakeSettings {
            sign_in_page_size: 100,
            conditional_access_interval: StdDuration::ZERO,
            ..FakeSettings::default()
        },
    )
    .await;
    sim.fake.set_day(10);
    sim
}

fn midnight(sim: &Sim, day: u32) -> DateTime<Utc> {
    sim.fake
        .tenant()
        .date(day)
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
}

async fn all(mut pages: Pages<'_, SignIn>) -> Result<Vec<SignIn>, GraphError> {
    let mut rows = Vec::new();
    while let Some(page) = pages.next_page().await {
        rows.extend(page?.value);
    }
    Ok(rows)
}

async fn window(client: &Client, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<SignIn> {
    all(client.sign_ins(from, to)).await.expect("sign-ins")
}

/// The successful MFA steps per person, date and method, counted from what the client read.
fn mfa_counts(rows: &[SignIn]) -> BTreeMap<(String, NaiveDate, String), u32> {
    let mut counts = BTreeMap::new();
    for s in rows {
        for d in &s.authentication_details {
            let method = d.authentication_method.clone().unwrap_or_default();
            if d.authentication_step_requirement.as_deref() == Some("MFA")
                && d.succeeded == Some(true)
                && method != "Previously satisfied"
                && method != "Satisfied by token"
            {
                let key = (s.user_id.clone(), s.created_date_time.date_naive(), method);
                *counts.entry(key).or_default() += 1;
            }
        }
    }
    counts
}

#[tokio::test]
async fn adjacent_windows_give_each_sign_in_once_and_the_tenants_counts() {
    let sim = sim().await;
    let client = sim.client();
    let tenant = sim.fake.tenant();
    // Across a midnight, cut at an odd time of day.
    let (from, cut, to) = (
        midnight(&sim, 3),
        midnight(&sim, 4) + Duration::seconds(13 * 3600 + 17 * 60 + 42),
        midnight(&sim, 5),
    );
    let first = window(&client, from, cut).await;
    let second = window(&client, cut, to).await;
    assert!(
        first
            .iter()
            .all(|s| from <= s.created_date_time && s.created_date_time < cut)
    );
    assert!(
        second
            .iter()
            .all(|s| cut <= s.created_date_time && s.created_date_time < to)
    );
    assert!(
        sim.fake.served().sign_in_pages >= 10,
        "{} pages",
        sim.fake.served().sign_in_pages
    );

    let rows: Vec<SignIn> = first.into_iter().chain(second).collect();
    let ids: HashSet<&str> = rows.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), rows.len(), "a sign-in came twice");
    let expected: HashSet<String> = tenant
        .sign_ins(3)
        .into_iter()
        .chain(tenant.sign_ins(4))
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, expected.iter().map(String::as_str).collect());

    // What the client read counts as the tenant does, without HTTP.
    let from_tenant: BTreeMap<(String, NaiveDate, String), u32> = tenant
        .successful_mfa(3)
        .into_iter()
        .chain(tenant.successful_mfa(4))
        .map(|(id, date, method, n)| ((id, date, method), n))
        .collect();
    assert_eq!(mfa_counts(&rows), from_tenant);
    let methods: HashSet<&str> = from_tenant.keys().map(|(_, _, m)| m.as_str()).collect();
    for method in ["Text message", "Mobile app notification"] {
        assert!(methods.contains(method), "{method} in {methods:?}");
    }

    // An empty window asks nothing.
    let before = sim.fake.sign_in_request_times().len();
    assert!(window(&client, cut, cut).await.is_empty());
    assert!(window(&client, to, from).await.is_empty());
    assert_eq!(sim.fake.sign_in_request_times().len(), before);
}

#[tokio::test]
async fn a_missing_permission_or_licence_is_named() {
    let sim = sim().await;
    let client = sim.client();
    let (from, to) = (midnight(&sim, 9), midnight(&sim, 10));
    sim.fake.set_faults(Faults {
        deny_sign_ins: true,
        ..Faults::default()
    });
    match all(client.sign_ins(from, to)).await {
        Err(
            e @ GraphError::PermissionMissing {
                permission: "AuditLog.Read.All",
                ..
            },
        ) => {
            let text = e.to_string();
            assert!(text.contains("sign-in logs"), "{text}");
            assert!(text.contains("AuditLog.Read.All"), "{text}");
            assert_eq!(e.kind(), "permission");
        }
        other => panic!("expected the missing permission, got {other:?}"),
    }
    sim.fake.set_faults(Faults {
        no_licence: true,
        ..Faults::default()
    });
    match all(client.sign_ins(from, to)).await {
        Err(e @ GraphError::LicenceMissing(_)) => {
            assert!(e.to_string().contains("sign-in logs"), "{e}");
        }
        other => panic!("expected the missing licence, got {other:?}"),
    }
}

#[tokio::test]
async fn sign_ins_older_than_thirty_days_are_gone() {
    let sim = sim().await;
    let client = sim.client();
    let tenant = sim.fake.tenant();
    let day0 = (midnight(&sim, 0), midnight(&sim, 1));
    let expected = tenant.sign_ins(0).len();
    assert!(expected > 0);
    assert_eq!(window(&client, day0.0, day0.1).await.len(), expected);
    sim.fake.set_day(30);
    assert_eq!(
        window(&client, day0.0, day0.1).await.len(),
        expected,
        "thirty days back"
    );
    sim.fake.set_day(31);
    assert!(window(&client, day0.0, day0.1).await.is_empty(), "gone");
    assert_eq!(
        window(&client, midnight(&sim, 1), midnight(&sim, 2))
            .await
            .len(),
        tenant.sign_ins(1).len()
    );
}

#[tokio::test]
async fn sign_ins_and_the_report_share_one_pacer_and_retry() {
    let sim = sim().await;
    sim.fake.set_faults(Faults {
        throttle: 2,
        ..Faults::default()
    });
    let mut settings = sim.settings();
    // Scaled down from Graph's 5 per 10 s, so the test takes seconds.
    settings.report_rate = "3/1s".parse().expect("rate");
    let client = Client::new(settings).expect("client");
    let report = async {
        let mut pages = client.registration_details();
        let mut n = 0;
        while let Some(page) = pages.next_page().await {
            page.expect("report page");
            n += 1;
        }
        n
    };
    let sign_ins = window(&client, midnight(&sim, 8), midnight(&sim, 9));
    let (report_pages, rows) = tokio::join!(report, sign_ins);
    assert_eq!(rows.len(), sim.fake.tenant().sign_ins(8).len());
    assert!(report_pages >= 1 && client.retries() >= 2);

    let times = sim.fake.reports_throttle_request_times();
    let sign_in_requests = sim.fake.sign_in_request_times().len();
    assert!(sign_in_requests >= 5, "{sign_in_requests} sign-in requests");
    assert_eq!(
        times.len(),
        sign_in_requests + sim.fake.report_request_times().len()
    );
    // Arrival times jitter by a few milliseconds; unpaced, they would all come at once.
    for (i, t) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .filter(|u| u.duration_since(*t) < StdDuration::from_millis(900))
            .count();
        assert!(
            in_window <= 3,
            "{in_window} requests of the report and the sign-in log within one second"
        );
    }
}
