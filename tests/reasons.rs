//! Why people are still on the phone, end to end: the helpdesk records, replaces and removes a
//! reason through the JSON API and the person page's form (with the session's CSRF token, and
//! only from the helpdesk role up); the list filters and shows it; the summary and the
//! departments count it; the next sync clears it when the person leaves the phone states,
//! which the history and the timeline keep. The expectations are worked out here, from what
//! was recorded and from the simulated tenant's own data.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::{Duration, NaiveDate, Utc};
use common::{Answer, Sim, TestDb, count, get_in, send, sync_ok, web_state};
use phoneless::domain::classify::{Registration, classify};
use phoneless::sim::FakeSettings;
use phoneless::web::{self, AppState};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use tower::ServiceExt as _;

/// The address the app believes it is reached at (for sign-in; the router is driven directly).
const PUBLIC_URL: &str = "http://127.0.0.1:8080";
const PHONE_STATES: [&str; 3] = ["phone_only", "phone_default", "phone_backup"];

/// An access log row of a reason: actor, subject, detail, reason, outcome.
type LogRow = (
    String,
    Option<uuid::Uuid>,
    String,
    Option<String>,
    Option<String>,
);

/// `PUT /api/v1/users/{id}/reason` with the local caller's CSRF token (sign-in off).
async fn put_reason(state: &AppState, id: &str, body: Value) -> Answer {
    send(
        state,
        Method::PUT,
        &format!("/api/v1/users/{id}/reason"),
        &[("x-csrf-token", &state.local_csrf)],
        Some(("application/json", body.to_string())),
    )
    .await
}

async fn get_json(state: &AppState, uri: &str) -> Value {
    let (status, body) = get_in(state, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{uri} ({e}): {body}"))
}

/// Every item of a list query (all pages).
async fn all_items(state: &AppState, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut uri = format!("/api/v1/users?{query}&limit=500");
    loop {
        let page = get_json(state, &uri).await;
        out.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next"].as_str() {
            Some(next) => uri = format!("/api/v1/users?{query}&limit=500&after={next}"),
            None => return out,
        }
    }
}

fn ids(items: &[Value]) -> BTreeSet<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

async fn synced(users: usize) -> (TestDb, Sim) {
    let db = TestDb::new().await;
    let sim = Sim::start(users, 50).await;
    sync_ok(&db, &sim).await;
    (db, sim)
}

#[tokio::test]
async fn recorded_replaced_and_removed_through_the_json_api() {
    let (db, _sim) = synced(120).await;
    let state = web_state(&db);
    let on_phone = all_items(&state, "").await;
    let id = on_phone[0]["id"]
        .as_str()
        .expect("someone on the phone")
        .to_owned();
    let upn = on_phone[0]["upn"].as_str().expect("upn").to_owned();
    assert_eq!(
        on_phone[0]["reason"],
        Value::Null,
        "nobody has a reason yet"
    );
    let uri = format!("/api/v1/users/{id}/reason");
    let follow_up = (today() + Duration::days(10)).to_string();
    let body = json!({"reason": "waiting_for_security_key", "note": "Key ordered", "follow_up": follow_up});

    // Without the session's token, nothing is written.
    for headers in [vec![], vec![("x-csrf-token", "wrong")]] {
        let refused = send(
            &state,
            Method::PUT,
            &uri,
            &headers,
            Some(("application/json", body.to_string())),
        )
        .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
        assert!(refused.json()["error"].is_string());
    }
    // A reason phoneless does not know, a note too long, a bad date: 400, nothing stored.
    let bad = put_reason(&state, &id, json!({"reason": "lost_phone"})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let message = bad.json()["error"].as_str().expect("error").to_owned();
    for word in [
        "lost_phone",
        "no_smartphone",
        "refuses_personal_phone",
        "no_phone_at_work",
        "waiting_for_security_key",
        "travelling",
        "other",
    ] {
        assert!(message.contains(word), "names {word}: {message}");
    }
    for body in [
        json!({"reason": "other", "note": "x".repeat(501)}),
        json!({"reason": "other", "follow_up": "next week"}),
        json!({"reason": "other", "follow_up": "2019-01-01"}),
        json!({"note": "no reason"}),
        json!({"reason": "other", "by": "someone else"}),
    ] {
        let a = put_reason(&state, &id, body.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}: {}", a.body);
    }
    let garbled = send(
        &state,
        Method::PUT,
        &uri,
        &[("x-csrf-token", &state.local_csrf)],
        Some(("application/json", "{\"reason\": ".into())),
    )
    .await;
    assert_eq!(garbled.status, StatusCode::BAD_REQUEST);
    assert_eq!(count(&db, "SELECT count(*) FROM phone_reasons").await, 0);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM access_log WHERE action = 'phone_reason'"
        )
        .await,
        0
    );

    // Recorded: answered as stored, and read back the same way everywhere.
    let before = Utc::now();
    let set = put_reason(&state, &id, body).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let stored = set.json();
    assert_eq!(stored["reason"], "waiting_for_security_key");
    assert_eq!(stored["note"], "Key ordered");
    assert_eq!(stored["follow_up"], follow_up.as_str());
    assert_eq!(stored["by"], "local");
    let at: chrono::DateTime<Utc> = stored["at"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("a time");
    assert!(at >= before && at <= Utc::now(), "{at}");
    assert_eq!(
        stored
            .as_object()
            .map(|o| o.keys().cloned().collect::<BTreeSet<_>>()),
        Some(
            ["reason", "note", "follow_up", "by", "at"]
                .map(str::to_owned)
                .into()
        )
    );
    assert_eq!(get_json(&state, &uri).await, stored);
    let person = get_json(&state, &format!("/api/v1/users/{id}")).await;
    assert_eq!(person["reason"], stored);
    assert!(
        person["state_reason"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "the state's explanation keeps its place: {person}"
    );
    let listed = all_items(&state, "reason=any").await;
    assert_eq!(ids(&listed), BTreeSet::from([id.clone()]));
    assert_eq!(listed[0]["reason"], stored);

    // Replaced: one current reason, the old one kept as replaced.
    let replaced = put_reason(
        &state,
        &id,
        json!({"reason": "no_phone_at_work", "follow_up": null}),
    )
    .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert_eq!(replaced.json()["note"], "");
    assert_eq!(replaced.json()["follow_up"], Value::Null);
    assert_eq!(get_json(&state, &uri).await["reason"], "no_phone_at_work");

    // Removed: nothing current; a second removal finds nothing.
    let removed = send(
        &state,
        Method::DELETE,
        &uri,
        &[("x-csrf-token", &state.local_csrf)],
        None,
    )
    .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    assert_eq!(get_json(&state, &uri).await, Value::Null);
    let again = send(
        &state,
        Method::DELETE,
        &uri,
        &[("x-csrf-token", &state.local_csrf)],
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let forged = send(&state, Method::DELETE, &uri, &[], None).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let rows: Vec<(String, Option<String>, bool)> = sqlx::query_as(
        "SELECT reason, cleared_by, cleared_at IS NOT NULL FROM phone_reasons ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .expect("rows");
    assert_eq!(
        rows,
        vec![
            (
                "waiting_for_security_key".into(),
                Some("replaced".into()),
                true
            ),
            ("no_phone_at_work".into(), Some("removed".into()), true),
        ]
    );

    // Each change is in the access log: who, whom, what, done.
    let log: Vec<LogRow> = sqlx::query_as(
        "SELECT actor, subject, detail, reason, outcome FROM access_log
             WHERE action = 'phone_reason' ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .expect("log");
    assert_eq!(log.len(), 3, "{log:?}");
    for (actor, subject, detail, _, outcome) in &log {
        assert_eq!(actor, "local");
        assert_eq!(subject.map(|s| s.to_string()).as_deref(), Some(id.as_str()));
        assert!(detail.contains(&upn), "{detail}");
        assert_eq!(outcome.as_deref(), Some("done"));
    }
    assert!(
        log[0].2.contains("waiting_for_security_key")
            && log[0].2.contains("Key ordered")
            && log[0].2.contains(&follow_up),
        "{}",
        log[0].2
    );
    assert_eq!(log[0].3.as_deref(), Some("waiting_for_security_key"));
    assert!(log[1].2.contains("no_phone_at_work"), "{}", log[1].2);
    assert!(
        log[2].2.contains("removed no_phone_at_work"),
        "{}",
        log[2].2
    );

    // The timeline: recorded, changed, removed, newest first.
    let person = get_json(&state, &format!("/api/v1/users/{id}")).await;
    let kinds: Vec<&str> = person["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["change"].as_str())
        .filter(|c| c.starts_with("reason_"))
        .collect();
    assert_eq!(kinds, ["reason_cleared", "reason_changed", "reason_set"]);

    // Someone not on the phone has no reason to record; an unknown id is not found.
    let free = all_items(&state, "state=phone_free").await;
    let free_id = free[0]["id"].as_str().expect("someone phone-free");
    let refused = put_reason(&state, free_id, json!({"reason": "other"})).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("not on the phone"))
    );
    let unknown = put_reason(
        &state,
        &uuid::Uuid::new_v4().to_string(),
        json!({"reason": "other"}),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(count(&db, "SELECT count(*) FROM phone_reasons").await, 2);
}

#[tokio::test]
async fn two_recordings_at_once_leave_one_current_reason() {
    let (db, _sim) = synced(60).await;
    let state = web_state(&db);
    let id = all_items(&state, "").await[0]["id"]
        .as_str()
        .expect("someone")
        .to_owned();
    let answers = futures_util::future::join_all(
        ["no_smartphone", "travelling", "other", "no_phone_at_work"]
            .map(|r| put_reason(&state, &id, json!({ "reason": r }))),
    )
    .await;
    for a in &answers {
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM phone_reasons WHERE cleared_at IS NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM phone_reasons WHERE cleared_by = 'replaced'"
        )
        .await,
        3
    );
}

#[tokio::test]
async fn the_person_page_shows_and_its_form_records_and_removes() {
    let (db, _sim) = synced(120).await;
    let state = web_state(&db);
    let item = &all_items(&state, "").await[0];
    let id = item["id"].as_str().expect("id").to_owned();
    let page = |state: AppState, id: String| async move {
        let (status, body) = get_in(&state, &format!("/users/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        body
    };
    let before = page(state.clone(), id.clone()).await;
    assert!(
        before.contains("Why they are still on the phone"),
        "the panel is there"
    );
    assert!(before.contains("No reason recorded"));
    assert!(
        before.contains(&format!(
            "name=\"csrf_token\" value=\"{}\"",
            state.local_csrf
        )),
        "the form carries the token"
    );

    let form = |fields: &str| format!("csrf_token={}&{fields}", state.local_csrf);
    let uri = format!("/users/{id}/reason");
    let yesterday = (today() - Duration::days(1)).to_string();
    let saved = send(
        &state,
        Method::POST,
        &uri,
        &[],
        Some((
            "application/x-www-form-urlencoded",
            form(&format!(
                "action=save&reason=travelling&note=Back+in+May%0D%0Asee+Lena&follow_up={yesterday}"
            )),
        )),
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location, format!("/users/{id}#reason-h"));
    let shown = page(state.clone(), id.clone()).await;
    for text in [
        "Travelling: cannot set up a new method now",
        "Back in May\nsee Lena",
        "Recorded by local",
        "follow-up due",
        "Save the change",
        "Remove the reason",
    ] {
        assert!(shown.contains(text), "{text:?} on the page");
    }
    assert!(
        shown.contains("<option value=\"travelling\" selected>"),
        "the form starts from the current reason"
    );
    // In the list, with the follow-up flagged.
    let (_, list) = get_in(&state, "/users?reason=travelling").await;
    assert!(list.contains(item["display_name"].as_str().expect("name")));
    assert!(
        list.contains(
            "<span title=\"Travelling: cannot set up a new method now\">Travelling</span>"
        )
    );
    assert!(
        list.contains("<span class=\"tag due\">due</span>"),
        "{list}"
    );

    // Without the token the form is refused; a bad reason is a 400 page; nothing changes.
    let forged = send(
        &state,
        Method::POST,
        &uri,
        &[],
        Some((
            "application/x-www-form-urlencoded",
            "action=remove".to_owned(),
        )),
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let bad = send(
        &state,
        Method::POST,
        &uri,
        &[],
        Some((
            "application/x-www-form-urlencoded",
            form("action=save&reason=lost_phone"),
        )),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body.contains("waiting_for_security_key"),
        "names the known reasons"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM phone_reasons WHERE cleared_at IS NULL"
        )
        .await,
        1
    );

    let removed = send(
        &state,
        Method::POST,
        &uri,
        &[],
        Some(("application/x-www-form-urlencoded", form("action=remove"))),
    )
    .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    let after = page(state.clone(), id.clone()).await;
    assert!(after.contains("No reason recorded"));
    assert!(
        after.contains("Reason for staying on the phone removed"),
        "on the timeline"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM access_log WHERE action = 'phone_reason'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn the_list_summary_and_departments_count_the_reasons() {
    let (db, _sim) = synced(200).await;
    let state = web_state(&db);
    let members = all_items(&state, "").await;
    assert!(
        members.len() >= 8,
        "enough people on the phone: {}",
        members.len()
    );
    let yesterday = (today() - Duration::days(1)).to_string();
    let later = (today() + Duration::days(30)).to_string();
    let today_s = today().to_string();
    // (reason, follow-up): two due (yesterday, today), one not yet.
    let plan: [(&str, Option<&str>); 7] = [
        ("no_smartphone", None),
        ("no_phone_at_work", Some(&yesterday)),
        ("waiting_for_security_key", Some(&today_s)),
        ("waiting_for_security_key", Some(&later)),
        ("travelling", None),
        ("other", None),
        ("no_phone_at_work", None),
    ];
    let mut expected: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut due = BTreeSet::new();
    let mut by_department: BTreeMap<Option<String>, BTreeMap<&str, i64>> = BTreeMap::new();
    for (person, (reason, follow_up)) in members.iter().zip(plan) {
        let id = person["id"].as_str().expect("id").to_owned();
        let a = put_reason(
            &state,
            &id,
            json!({"reason": reason, "follow_up": follow_up}),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        expected.entry(reason).or_default().insert(id.clone());
        if follow_up.is_some_and(|f| f <= today_s.as_str()) {
            due.insert(id);
        }
        let department = person["department"].as_str().map(str::to_owned);
        *by_department
            .entry(department)
            .or_default()
            .entry(reason)
            .or_default() += 1;
    }
    // A guest's reason is listed with the guests, but counted nowhere (guests are not in scope).
    let guests = all_items(&state, "user_type=guest").await;
    let guest = guests[0]["id"]
        .as_str()
        .expect("a guest on the phone")
        .to_owned();
    assert_eq!(
        put_reason(&state, &guest, json!({"reason": "no_smartphone"}))
            .await
            .status,
        StatusCode::OK
    );

    for (reason, people) in &expected {
        let listed = all_items(&state, &format!("reason={reason}")).await;
        assert_eq!(&ids(&listed), people, "reason={reason}");
        assert!(listed.iter().all(|i| i["reason"]["reason"] == *reason));
        let page = get_json(&state, &format!("/api/v1/users?reason={reason}")).await;
        assert_eq!(page["total"], people.len(), "the total counts them too");
    }
    let keys = all_items(&state, "reason=waiting_for_security_key,no_phone_at_work").await;
    assert_eq!(ids(&keys).len(), 4);
    let any = all_items(&state, "reason=any").await;
    assert_eq!(ids(&any).len(), 7, "members only by default");
    let none = all_items(&state, "reason=none").await;
    assert_eq!(none.len(), members.len() - 7);
    assert!(ids(&none).is_disjoint(&ids(&any)));
    assert_eq!(
        ids(&all_items(&state, "user_type=guest&reason=any").await),
        BTreeSet::from([guest.clone()])
    );
    assert_eq!(ids(&all_items(&state, "follow_up=due").await), due);
    assert_eq!(
        ids(&all_items(&state, "follow_up=due&reason=no_phone_at_work").await).len(),
        1
    );
    for bad in ["reason=lost_phone", "reason=any,none", "follow_up=soon"] {
        let (status, body) = get_in(&state, &format!("/api/v1/users?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (_, body) = get_in(&state, "/api/v1/users?reason=lost_phone").await;
    assert!(body.contains("no_phone_at_work"), "{body}");

    // The spreadsheet has the reason's columns.
    let (status, csv) = get_in(&state, "/users.csv?reason=any").await;
    assert_eq!(status, StatusCode::OK);
    let head = csv.lines().next().expect("a header");
    assert!(
        head.contains(",reason,reason_note,follow_up,follow_up_due,reason_by,reason_at,"),
        "{head}"
    );
    assert_eq!(csv.lines().count(), 1 + 7);
    assert_eq!(
        csv.matches(",yes,local,").count(),
        2,
        "the due follow-ups: {csv}"
    );

    // The summary counts the members' reasons, and security keys needed.
    let summary = get_json(&state, "/api/v1/summary").await;
    let reasons = &summary["reasons"];
    assert_eq!(
        reasons,
        &json!({
            "no_smartphone": 1,
            "refuses_personal_phone": 0,
            "no_phone_at_work": 2,
            "waiting_for_security_key": 2,
            "travelling": 1,
            "other": 1,
            "security_keys_needed": 4,
            "follow_up_due": 2,
        })
    );

    // The departments: each one's reasons, as recorded for its people.
    let departments = get_json(&state, "/api/v1/departments").await;
    let mut seen = 0;
    for g in departments["groups"].as_array().expect("groups") {
        let name = g["name"].as_str().map(str::to_owned);
        let want = by_department.get(&name).cloned().unwrap_or_default();
        for r in [
            "no_smartphone",
            "refuses_personal_phone",
            "no_phone_at_work",
            "waiting_for_security_key",
            "travelling",
            "other",
        ] {
            assert_eq!(
                g["reasons"][r],
                want.get(r).copied().unwrap_or(0),
                "{name:?} {r}: {g}"
            );
            seen += want.get(r).copied().unwrap_or(0);
        }
        let keys = want.get("no_phone_at_work").unwrap_or(&0)
            + want.get("waiting_for_security_key").unwrap_or(&0);
        assert_eq!(g["reasons"]["security_keys_needed"], keys, "{name:?}");
    }
    assert_eq!(seen, 7, "every member's reason is in a department's row");
    let by_company = get_json(&state, "/api/v1/departments?by=company").await;
    assert!(
        by_company["groups"][0]["reasons"].is_null(),
        "counted per department only"
    );

    // The pages show them.
    let (_, overview) = get_in(&state, "/").await;
    assert!(overview.contains("Why they are still on the phone"));
    assert!(
        overview.contains(
            "<a href=\"/users?reason=no_phone_at_work,waiting_for_security_key\"><strong>4</strong> security keys needed</a>"
        ),
        "{overview}"
    );
    assert!(
        overview.contains(&format!(
            "No reason recorded</a></th><td class=\"num\">{}</td>",
            members.len() - 7
        )),
        "the members on the phone without a reason"
    );
    assert!(overview.contains("<strong>2</strong> follow-ups due"));
    let (_, departments) = get_in(&state, "/departments").await;
    assert!(departments.contains("Security keys needed"));
    assert!(departments.contains("reason=no_phone_at_work,waiting_for_security_key"));
}

#[tokio::test]
async fn cleared_at_the_next_sync_when_they_leave_the_phone_and_kept_in_the_history() {
    let (db, sim) = synced(200).await;
    let state = web_state(&db);
    // Everyone on the phone today (members and guests) gets a reason.
    let people = all_items(&state, "user_type=all").await;
    for p in &people {
        let id = p["id"].as_str().expect("id");
        let a = put_reason(
            &state,
            id,
            json!({"reason": "no_smartphone", "note": "day 0"}),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
    // The counts as they stand, kept by the web front until something changes.
    let before = get_json(&state, "/api/v1/summary").await;
    assert_eq!(
        before["reasons"]["no_smartphone"],
        all_items(&state, "reason=no_smartphone").await.len()
    );
    let total = |page: Value| page["total"].as_i64().expect("total");
    let listed_before = total(get_json(&state, "/api/v1/users?reason=any&user_type=all").await);
    assert_eq!(listed_before, people.len() as i64);
    let day = 40;
    sim.fake.set_day(day);
    let run = sync_ok(&db, &sim).await;

    // Where each of them stands on that day, read from the simulated tenant itself.
    let report: BTreeMap<String, String> = sim
        .fake
        .tenant()
        .report(day)
        .iter()
        .map(|r| {
            (
                r.id.clone(),
                classify(&Registration::from(r)).state.as_str().to_owned(),
            )
        })
        .collect();
    let (mut left, mut stayed, mut gone) = (0i64, 0, 0i64);
    for p in &people {
        let id = p["id"].as_str().expect("id");
        let person = get_json(&state, &format!("/api/v1/users/{id}")).await;
        let reasons: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT reason, cleared_by FROM phone_reasons WHERE user_id = $1::uuid ORDER BY id",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await
        .expect("history");
        let timeline: Vec<(String, String)> = person["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .map(|e| {
                (
                    e["change"].as_str().unwrap_or_default().to_owned(),
                    e["detail"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        match report.get(id) {
            Some(state) if !PHONE_STATES.contains(&state.as_str()) => {
                left += 1;
                assert_eq!(person["reason"], Value::Null, "{id} is {state}");
                assert_eq!(
                    reasons,
                    vec![("no_smartphone".into(), Some("left_phone".into()))]
                );
                let cleared = timeline
                    .iter()
                    .position(|(c, _)| c == "reason_cleared")
                    .expect("the clearing is on the timeline");
                assert!(timeline[cleared].1.contains("no longer on the phone"));
                let recorded = timeline.iter().position(|(c, _)| c == "reason_set");
                assert!(recorded > Some(cleared), "recorded before it was cleared");
                let entry = &person["timeline"][cleared];
                assert_eq!(entry["run_id"], run.run_id, "cleared by that sync");
            }
            Some(_) => {
                stayed += 1;
                assert_eq!(
                    person["reason"]["note"], "day 0",
                    "{id} is still on the phone"
                );
                assert_eq!(reasons, vec![("no_smartphone".into(), None)]);
            }
            // Gone from the tenant: the reason stays until they come back and move on.
            None => {
                gone += 1;
                assert!(person["gone_since"].is_string(), "{person}");
                assert_eq!(person["reason"]["reason"], "no_smartphone");
            }
        }
    }
    assert!(
        left > 0 && stayed > 0,
        "left {left}, stayed {stayed}, gone {gone}"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM phone_reasons WHERE cleared_by = 'left_phone'"
        )
        .await,
        left
    );
    // The counts are of the members still on the phone with their reason.
    let still = all_items(&state, "reason=no_smartphone").await.len();
    let summary = get_json(&state, "/api/v1/summary").await;
    assert_eq!(summary["reasons"]["no_smartphone"], still);

    assert_eq!(
        total(get_json(&state, "/api/v1/users?reason=any&user_type=all").await),
        listed_before - left - gone,
        "the list counts those still on the phone with their reason"
    );

    // A sync that changes nothing clears nothing more.
    let cleared = count(
        &db,
        "SELECT count(*) FROM phone_reasons WHERE cleared_at IS NOT NULL",
    )
    .await;
    sync_ok(&db, &sim).await;
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM phone_reasons WHERE cleared_at IS NOT NULL"
        )
        .await,
        cleared
    );
}

/// A browser with a cookie jar, signed in through the simulated identity provider.
struct Browser {
    cookie: String,
    csrf: String,
}

impl Browser {
    async fn sign_in(state: &AppState, upn: &str, roles: &str) -> Browser {
        // The sign-in cookie ties the callback to this browser.
        let start = web::app(state.clone())
            .oneshot(
                Request::get("/auth/login?next=%2F")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(start.status(), StatusCode::SEE_OTHER);
        let signin_cookie = start
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .collect::<Vec<_>>()
            .join("; ");
        let authorize = start
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .expect("to the identity provider")
            .to_owned();
        let idp = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let back = idp
            .get(format!(
                "{authorize}&sim_user={}&sim_roles={}&sim_groups=",
                enc(upn),
                enc(roles)
            ))
            .send()
            .await
            .expect("authorize");
        let back = back
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.strip_prefix(PUBLIC_URL))
            .expect("back to the app")
            .to_owned();
        let callback = web::app(state.clone())
            .oneshot(
                Request::get(back)
                    .header(header::COOKIE, signin_cookie)
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(callback.status(), StatusCode::SEE_OTHER);
        let cookie = callback
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter(|v| v.starts_with("phoneless="))
            .filter_map(|v| v.split(';').next())
            .next()
            .expect("a session")
            .to_owned();
        let logout = send(
            state,
            Method::GET,
            "/auth/logout",
            &[("cookie", &cookie)],
            None,
        )
        .await;
        let at = logout
            .body
            .find("name=\"csrf_token\" value=\"")
            .expect("a token")
            + "name=\"csrf_token\" value=\"".len();
        let csrf = logout.body[at..]
            .split('"')
            .next()
            .expect("token")
            .to_owned();
        Browser { cookie, csrf }
    }

    async fn put(&self, state: &AppState, id: &str, token: &str) -> Answer {
        send(
            state,
            Method::PUT,
            &format!("/api/v1/users/{id}/reason"),
            &[("cookie", &self.cookie), ("x-csrf-token", token)],
            Some(("application/json", json!({"reason": "other"}).to_string())),
        )
        .await
    }
}

#[tokio::test]
async fn the_helpdesk_records_and_a_viewer_may_not() {
    let db = TestDb::new().await;
    let sim = Sim::start_with(
        120,
        FakeSettings {
            redirect_uris: vec![format!("{PUBLIC_URL}/auth/callback")],
            conditional_access_interval: std::time::Duration::ZERO,
            ..FakeSettings::default()
        },
    )
    .await;
    sync_ok(&db, &sim).await;
    let state = AppState::new(db.pool.clone(), common::sign_in_config(&sim, PUBLIC_URL));
    let open = web_state(&db);
    let id = all_items(&open, "").await[0]["id"]
        .as_str()
        .expect("someone")
        .to_owned();
    let mut staff = sim
        .fake
        .tenant()
        .people
        .iter()
        .filter(|p| p.joins == 0 && p.leaves.is_none() && !p.disabled && !p.guest)
        .map(|p| p.upn.clone());
    let (viewer_upn, helpdesk_upn) = (staff.next().expect("one"), staff.next().expect("two"));

    let viewer = Browser::sign_in(&state, &viewer_upn, "Phoneless.Viewer").await;
    let refused = viewer.put(&state, &id, &viewer.csrf).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.json()["error"].is_string());
    let page = send(
        &state,
        Method::POST,
        &format!("/users/{id}/reason"),
        &[("cookie", &viewer.cookie)],
        Some((
            "application/x-www-form-urlencoded",
            format!("csrf_token={}&reason=other", viewer.csrf),
        )),
    )
    .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    let helpdesk = Browser::sign_in(&state, &helpdesk_upn, "Phoneless.Helpdesk").await;
    assert_eq!(
        helpdesk.put(&state, &id, &viewer.csrf).await.status,
        StatusCode::FORBIDDEN,
        "another session's token is no good"
    );
    let set = helpdesk.put(&state, &id, &helpdesk.csrf).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert!(
        set.json()["by"]
            .as_str()
            .is_some_and(|b| b.contains(&helpdesk_upn)),
        "{}",
        set.body
    );
    let (actor, object): (String, Option<uuid::Uuid>) =
        sqlx::query_as("SELECT actor, actor_object FROM access_log WHERE action = 'phone_reason'")
            .fetch_one(&db.pool)
            .await
            .expect("one row: the viewer's attempts wrote nothing");
    assert!(actor.contains(&helpdesk_upn), "{actor}");
    assert!(object.is_some(), "the signed-in person's object id");
    assert_eq!(count(&db, "SELECT count(*) FROM phone_reasons").await, 1);
}

#[tokio::test]
async fn the_counts_follow_every_change_between_syncs() {
    let (db, _sim) = synced(120).await;
    let state = web_state(&db);
    let members = all_items(&state, "").await;
    let reasons_now = |state: AppState| async move {
        let summary = get_json(&state, "/api/v1/summary").await;
        let any = get_json(&state, "/api/v1/users?reason=any").await;
        let none = get_json(&state, "/api/v1/users?reason=none").await;
        let departments = get_json(&state, "/api/v1/departments").await;
        let in_departments: i64 = departments["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .map(|g| g["reasons"]["no_smartphone"].as_i64().unwrap_or(0))
            .sum();
        (
            summary["reasons"]["no_smartphone"].as_i64().expect("count"),
            summary["reasons"]["travelling"].as_i64().expect("count"),
            any["total"].as_i64().expect("total"),
            none["total"].as_i64().expect("total"),
            in_departments,
        )
    };
    let n = members.len() as i64;
    assert_eq!(reasons_now(state.clone()).await, (0, 0, 0, n, 0));
    for (i, person) in members.iter().take(3).enumerate() {
        let id = person["id"].as_str().expect("id");
        assert_eq!(
            put_reason(&state, id, json!({"reason": "no_smartphone"}))
                .await
                .status,
            StatusCode::OK
        );
        let i = i as i64 + 1;
        assert_eq!(
            reasons_now(state.clone()).await,
            (i, 0, i, n - i, i),
            "after {i}"
        );
    }
    let first = members[0]["id"].as_str().expect("id");
    assert_eq!(
        put_reason(&state, first, json!({"reason": "travelling"}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        reasons_now(state.clone()).await,
        (2, 1, 3, n - 3, 2),
        "replaced"
    );
    let removed = send(
        &state,
        Method::DELETE,
        &format!("/api/v1/users/{first}/reason"),
        &[("x-csrf-token", &state.local_csrf)],
        None,
    )
    .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(
        reasons_now(state.clone()).await,
        (2, 0, 2, n - 2, 2),
        "removed"
    );
}
