//! The helpdesk lookup through the real router, over daily syncs of the simulated tenant:
//! timelines checked against the day-by-day simulated data, search by every key and with
//! hostile input, friendly 404s, and one access-log row per view.

mod common;

use axum::http::StatusCode;
use common::{Sim, TestDb, count, get, get_in, get_json, start_date, sync_ok, web_state};
use phoneless::advice::{default_label, state_label};
use phoneless::domain::DefaultMethod;
use phoneless::domain::classify::{Registration, classify, method_label};
use phoneless::sim::Tenant;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const DAYS: u32 = 30;

/// What the timeline shows of a person on one day, straight from the simulated data.
#[derive(Debug, Clone, PartialEq)]
struct Shown {
    methods: BTreeSet<String>,
    default: String,
    state: String,
    department: Option<String>,
}

fn shown(t: &Tenant, day: u32) -> BTreeMap<String, Shown> {
    let dir: BTreeMap<String, Option<String>> = t
        .directory(day)
        .into_iter()
        .map(|u| {
            let d = u
                .department
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_owned);
            (u.id, d)
        })
        .collect();
    t.report(day)
        .into_iter()
        .map(|r| {
            let c = classify(&Registration::from(&r));
            let s = Shown {
                methods: c.methods.iter().map(|m| (*m).to_owned()).collect(),
                default: c.default_method.as_str().to_owned(),
                state: c.state.as_str().to_owned(),
                department: dir.get(&r.id).cloned().flatten(),
            };
            (r.id, s)
        })
        .collect()
}

/// The changes the timeline must hold for one person: (day, change, detail), in any order.
fn expected_changes(days: &[BTreeMap<String, Shown>], id: &str) -> BTreeSet<(u32, String, String)> {
    let mut out = BTreeSet::new();
    let state = |s: &str| state_label(s.parse::<phoneless::domain::State>().expect("state"));
    let dept = |d: &Option<String>| d.clone().unwrap_or_else(|| "(no department)".into());
    let mut before: Option<&Shown> = None;
    let mut seen = false;
    for (day, facts) in days.iter().enumerate() {
        let day = day as u32;
        let now = facts.get(id);
        match (before, now) {
            (None, Some(_)) => {
                let detail = if seen {
                    "Back in the registration report"
                } else {
                    "First seen in the registration report"
                };
                out.insert((day, "appeared".into(), detail.into()));
                seen = true;
            }
            (Some(_), None) => {
                out.insert((
                    day,
                    "gone".into(),
                    "No longer in the registration report (left, deleted, or the report lags)"
                        .into(),
                ));
            }
            (Some(b), Some(a)) => {
                if b.state != a.state {
                    out.insert((
                        day,
                        "state_changed".into(),
                        format!(
                            "State changed from {} to {}",
                            state(&b.state),
                            state(&a.state)
                        ),
                    ));
                }
                if b.default != a.default {
                    out.insert((
                        day,
                        "default_changed".into(),
                        format!(
                            "Default method changed from {} to {}",
                            default_label(&DefaultMethod::from_stored(&b.default)),
                            default_label(&DefaultMethod::from_stored(&a.default))
                        ),
                    ));
                }
                for m in a.methods.difference(&b.methods) {
                    out.insert((
                        day,
                        "method_added".into(),
                        format!("{} added", method_label(m)),
                    ));
                }
                for m in b.methods.difference(&a.methods) {
                    out.insert((
                        day,
                        "method_removed".into(),
                        format!("{} removed", method_label(m)),
                    ));
                }
                if b.department != a.department {
                    out.insert((
                        day,
                        "department_changed".into(),
                        format!(
                            "Department changed from {} to {}",
                            dept(&b.department),
                            dept(&a.department)
                        ),
                    ));
                }
            }
            (None, None) => {}
        }
        before = now;
    }
    out
}

async fn history() -> (TestDb, Sim) {
    let db = TestDb::new().await;
    let sim = Sim::start(400, 200).await;
    for day in 0..=DAYS {
        sim.fake.set_day(day);
        sync_ok(&db, &sim).await;
    }
    (db, sim)
}

fn day_of(at: &Value) -> u32 {
    let at = chrono::DateTime::parse_from_rfc3339(at.as_str().expect("at")).expect("time");
    (at.date_naive() - start_date()).num_days() as u32
}

#[tokio::test]
async fn the_timeline_lists_exactly_the_changes_between_days() {
    let (db, sim) = history().await;
    let t = sim.fake.tenant();
    let days: Vec<BTreeMap<String, Shown>> = (0..=DAYS).map(|d| shown(t, d)).collect();
    let everyone: BTreeSet<&String> = days.iter().flat_map(|d| d.keys()).collect();
    let (mut changed, mut quiet, mut gone) = (0, 0, 0);
    for id in everyone {
        let (status, person) = get_json(&db, &format!("/api/v1/users/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{id}");
        let entries = person["timeline"].as_array().expect("timeline");
        let got: BTreeSet<(u32, String, String)> = entries
            .iter()
            .map(|e| {
                (
                    day_of(&e["at"]),
                    e["change"].as_str().expect("change").to_owned(),
                    e["detail"].as_str().expect("detail").to_owned(),
                )
            })
            .collect();
        assert_eq!(got.len(), entries.len(), "{id}: no entry twice");
        assert_eq!(got, expected_changes(&days, id), "{id}");
        // Newest first.
        let order: Vec<u32> = entries.iter().map(|e| day_of(&e["at"])).collect();
        assert!(order.windows(2).all(|w| w[0] >= w[1]), "{id}: {order:?}");
        let now = days[DAYS as usize].get(id);
        assert_eq!(person["gone_since"].is_null(), now.is_some(), "{id}");
        if let Some(facts) = now {
            assert_eq!(person["state"], facts.state.as_str());
            let methods: BTreeSet<String> = person["methods"]
                .as_array()
                .expect("methods")
                .iter()
                .map(|m| m.as_str().expect("method").to_owned())
                .collect();
            assert_eq!(methods, facts.methods, "{id}");
        } else {
            gone += 1;
        }
        if got.len() > 1 {
            changed += 1;
        } else {
            quiet += 1;
        }
        for key in [
            "id",
            "upn",
            "display_name",
            "department",
            "default_method",
            "is_admin",
            "voice_capable",
            "phishing_resistant",
        ] {
            assert!(person.get(key).is_some(), "the JSON lacks {key}");
        }
    }
    assert!(
        changed > 20 && quiet > 20 && gone > 0,
        "changed {changed}, quiet {quiet}, gone {gone}"
    );

    // The page of someone who left says so and keeps their history.
    let leaver = days[DAYS as usize - 5]
        .keys()
        .find(|id| !days[DAYS as usize].contains_key(*id))
        .expect("someone left in the last days");
    let (status, page) = get(&db, &format!("/users/{leaver}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Not in the newest sync"));
    assert!(page.contains("No longer in the registration report"));
}

#[tokio::test]
async fn search_finds_by_each_key_and_is_safe_with_any_text() {
    let db = TestDb::new().await;
    let sim = Sim::start(400, 200).await;
    sim.fake.set_day(0);
    sync_ok(&db, &sim).await;
    let report = sim.fake.tenant().report(0);
    let dir: BTreeMap<String, _> = sim
        .fake
        .tenant()
        .directory(0)
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    let name_of = |id: &str, fallback: &str| {
        dir.get(id)
            .and_then(|u| u.display_name.clone())
            .unwrap_or_else(|| fallback.to_owned())
    };
    // Finds `id` among the results, or is sent straight to their page.
    let finds = |page: &(StatusCode, String), id: &str| match page.0 {
        StatusCode::SEE_OTHER => page.1 == format!("/users/{id}"),
        _ => page.1.contains(&format!("/users/{id}\"")),
    };
    let lookup = |q: &str| {
        let q = form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>();
        let db = &db;
        async move { get(db, &format!("/lookup?q={q}")).await }
    };

    // Accents folded: "Björn" by "bjorn", "Chloé" by "CHLOE".
    let accented = report
        .iter()
        .find(|r| name_of(&r.id, &r.user_display_name).starts_with("Björn "))
        .expect("a Björn in the sim");
    assert!(finds(&lookup("bjorn").await, &accented.id));
    assert!(finds(&lookup("BJÖRN").await, &accented.id));
    // A later word of the name, and a UPN prefix.
    let surname = name_of(&accented.id, "")
        .split(' ')
        .nth(1)
        .expect("surname")
        .to_owned();
    assert!(finds(&lookup(&surname.to_lowercase()).await, &accented.id));
    let upn = &accented.user_principal_name;
    assert!(finds(&lookup(&upn[..upn.len() - 3]).await, &accented.id));
    // The exact UPN and the object id go straight to the page.
    for exact in [upn.to_uppercase(), accented.id.clone()] {
        let (status, location) = lookup(&exact).await;
        assert_eq!(
            (status, location),
            (StatusCode::SEE_OTHER, format!("/users/{}", accented.id)),
            "{exact}"
        );
    }

    // Hostile text: no error, no match-everything, nothing unescaped.
    for q in [
        "%",
        "_",
        "'",
        "\"",
        "\\",
        "a%b",
        "' OR 1=1 --",
        "<script>alert(1)</script>",
    ] {
        let (status, page) = lookup(q).await;
        assert_eq!(status, StatusCode::OK, "{q}");
        assert!(
            page.contains("Nobody in the newest sync matches"),
            "{q} matched someone"
        );
        assert!(
            !page.contains("<script>alert"),
            "{q} reached the page unescaped"
        );
    }
    let (status, _) = lookup(&"x".repeat(201)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, page) = get(&db, "/lookup").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Look up a user"));
}

#[tokio::test]
async fn unknown_ids_are_a_friendly_404() {
    let db = TestDb::new().await;
    for uri in [
        "/users/00000000-0000-4000-8000-000000000000",
        "/users/not-an-id",
        "/users/%3Cscript%3E",
    ] {
        let (status, page) = get(&db, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(
            page.contains("No user with the id") && page.contains("/lookup"),
            "{uri}"
        );
        assert!(!page.contains("<script>"), "{uri}");
    }
    let (status, body) = get_json(&db, "/api/v1/users/00000000-0000-4000-8000-000000000000").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("No user"))
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM access_log").await,
        0,
        "no one was looked at"
    );
}

#[tokio::test]
async fn every_view_leaves_one_audit_row() {
    let db = TestDb::new().await;
    let sim = Sim::start(120, 200).await;
    sync_ok(&db, &sim).await;
    let server = web_state(&db);
    let someone = sim.fake.tenant().report(0)[0].clone();
    let rows = || count(&db, "SELECT count(*) FROM access_log");
    assert_eq!(rows().await, 0);
    for (uri, action) in [
        (format!("/users/{}", someone.id), "view"),
        (format!("/api/v1/users/{}", someone.id), "api_view"),
        ("/lookup?q=zzzz".to_owned(), "search"),
    ] {
        let before = rows().await;
        let (status, _) = get_in(&server, &uri).await;
        assert!(status.is_success() || status.is_redirection(), "{uri}");
        assert_eq!(rows().await, before + 1, "{uri}");
        let last = count(
            &db,
            &format!(
                "SELECT count(*) FROM access_log WHERE id = (SELECT max(id) FROM access_log) \
                 AND actor = 'local' AND action = '{action}'"
            ),
        )
        .await;
        assert_eq!(last, 1, "{uri}");
    }
    // The log, filtered by who and by whom, and its export.
    let (status, page) = get_in(&server, &format!("/audit?whom={}", someone.id)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        page.matches("<td>local</td>").count(),
        2,
        "the view and the API read"
    );
    let (_, by_text) = get_in(&server, "/audit?whom=zzzz").await;
    assert_eq!(by_text.matches("<td>local</td>").count(), 1, "the search");
    let (_, nobody) = get_in(&server, "/audit?who=someone-else").await;
    assert!(nobody.contains("Nothing recorded that matches"));
    let (status, csv_text) = get_in(&server, "/audit.csv?who=local").await;
    assert_eq!(status, StatusCode::OK);
    let body = csv_text
        .strip_prefix('\u{feff}')
        .expect("a byte-order mark");
    let records: Vec<csv::StringRecord> = csv::Reader::from_reader(body.as_bytes())
        .records()
        .map(|r| r.expect("row"))
        .collect();
    assert_eq!(records.len(), 3);
    assert_eq!(&records[0][4], "search", "newest first");
    assert_eq!(&records[0][3], "", "no object id while sign-in is off");
    // Reading the log is not itself a lookup of a person.
    assert_eq!(rows().await, 3);
}
