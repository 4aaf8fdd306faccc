//! The dashboard (pages, JSON API, CSV) through the real router, over a history made by the
//! real syncer from the simulated tenant, checked against counts taken straight from the
//! simulated data.

mod common;

use axum::http::StatusCode;
use common::{Sim, TestDb, get, get_json, start_date, sync_ok};
use phoneless::domain::classify::{Registration, State, classify};
use phoneless::sim::Tenant;
use phoneless::web::thousands;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// One person as the oracle sees them on a day: the scope rules written out here.
#[derive(Debug, Clone)]
struct Who {
    id: String,
    upn: String,
    display_name: String,
    department: Option<String>,
    office: Option<String>,
    country: Option<String>,
    state: State,
    admin: bool,
    guest: bool,
    in_scope: bool,
    voice: bool,
}

fn people(t: &Tenant, day: u32) -> Vec<Who> {
    let dir: HashMap<String, _> = t
        .directory(day)
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    let blank = |s: Option<&str>| {
        s.map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    t.report(day)
        .into_iter()
        .map(|r| {
            let d = dir.get(&r.id);
            let k = classify(&Registration::from(&r));
            let guest = r.user_type.as_deref() == Some("guest");
            Who {
                id: r.id.clone(),
                upn: blank(d.and_then(|d| d.user_principal_name.as_deref()))
                    .unwrap_or_else(|| r.user_principal_name.trim().to_owned()),
                display_name: blank(d.and_then(|d| d.display_name.as_deref()))
                    .unwrap_or_else(|| r.user_display_name.trim().to_owned()),
                department: blank(d.and_then(|d| d.department.as_deref())),
                office: blank(d.and_then(|d| d.office_location.as_deref())),
                country: blank(d.and_then(|d| d.usage_location.as_deref())),
                state: k.state,
                admin: r.is_admin,
                guest,
                in_scope: !guest && d.is_none_or(|d| d.account_enabled != Some(false)),
                voice: k.voice_capable,
            }
        })
        .collect()
}

fn state_counts<'a>(people: impl Iterator<Item = &'a Who>) -> BTreeMap<String, i64> {
    let mut c: BTreeMap<String, i64> = State::ALL.iter().map(|s| (s.to_string(), 0)).collect();
    for p in people {
        *c.entry(p.state.to_string()).or_default() += 1;
    }
    c
}

fn json_states(v: &Value) -> BTreeMap<String, i64> {
    v.as_object()
        .expect("states object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_i64().expect("count")))
        .collect()
}

fn progress(people: &[&Who]) -> f64 {
    let migrated = people
        .iter()
        .filter(|p| matches!(p.state, State::PhoneBackup | State::PhoneFree))
        .count();
    if people.is_empty() {
        0.0
    } else {
        migrated as f64 / people.len() as f64
    }
}

const DAYS: u32 = 45;

/// A test database with one sync per day, days 0 to `DAYS`.
async fn history(users: usize) -> (TestDb, Sim) {
    let db = TestDb::new().await;
    let sim = Sim::start(users, 200).await;
    for day in 0..=DAYS {
        sim.fake.set_day(day);
        sync_ok(&db, &sim).await;
    }
    (db, sim)
}

/// The `<tr>` of a table row holding `label`.
fn row_of<'a>(html: &'a str, label: &str) -> &'a str {
    let at = html
        .find(&format!(">{label}</a>"))
        .unwrap_or_else(|| panic!("no row for {label}"));
    let start = html[..at].rfind("<tr").expect("row start");
    let end = at + html[at..].find("</tr>").expect("row end");
    &html[start..end]
}

/// askama's escaping of text, for finding names in pages.
fn escaped(s: &str) -> String {
    s.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

#[tokio::test]
async fn trend_departments_and_pages_match_an_independent_count() {
    let (db, sim) = history(500).await;
    let t = sim.fake.tenant();

    // The trend: one point per day, each equal to the oracle of that day.
    let (status, trend) = get_json(&db, "/api/v1/trend").await;
    assert_eq!(status, StatusCode::OK);
    let points = trend["points"].as_array().expect("points");
    assert_eq!(points.len(), DAYS as usize + 1);
    for p in points {
        let date = chrono::NaiveDate::parse_from_str(p["date"].as_str().expect("date"), "%Y-%m-%d")
            .expect("date");
        let day = (date - start_date()).num_days() as u32;
        let who = people(t, day);
        let scope: Vec<&Who> = who.iter().filter(|w| w.in_scope).collect();
        assert_eq!(
            json_states(&p["states"]),
            state_counts(scope.iter().copied()),
            "day {day}"
        );
        assert_eq!(p["users"], scope.len());
        assert!(p["run_id"].is_i64());
        assert!(p["phishing_resistant"].is_i64() && p["voice_capable"].is_i64());
    }
    assert_eq!(trend["deadline"], "2027-02-01");
    assert!(trend.get("projected_zero_date").is_some());
    let (_, recent) = get_json(&db, "/api/v1/trend?days=10").await;
    assert_eq!(recent["points"].as_array().map(Vec::len), Some(10));

    // Departments: in-scope users by department, "(no department)" as null.
    let now: Vec<Who> = people(t, DAYS);
    let then: Vec<Who> = people(t, DAYS - 30);
    let (status, deps) = get_json(&db, "/api/v1/departments").await;
    assert_eq!(status, StatusCode::OK);
    let groups = deps["groups"].as_array().expect("groups");
    let mut names: HashSet<Option<String>> = HashSet::new();
    for g in groups {
        let name = g["name"].as_str().map(str::to_owned);
        let members: Vec<&Who> = now
            .iter()
            .filter(|w| w.in_scope && w.department == name)
            .collect();
        let before: Vec<&Who> = then
            .iter()
            .filter(|w| w.in_scope && w.department == name)
            .collect();
        assert_eq!(g["users"], members.len(), "{name:?}");
        assert_eq!(
            json_states(&g["states"]),
            state_counts(members.iter().copied())
        );
        let p = g["progress"].as_f64().expect("progress");
        assert!((p - progress(&members)).abs() < 1e-9, "{name:?}");
        let change = g["change_30d"].as_f64().expect("change");
        assert!((change - (progress(&members) - progress(&before))).abs() < 1e-9);
        names.insert(name);
    }
    let expected: HashSet<Option<String>> = now
        .iter()
        .filter(|w| w.in_scope)
        .map(|w| w.department.clone())
        .collect();
    assert_eq!(names, expected);
    assert!(
        names.contains(&None),
        "the sim has people without a department"
    );
    let (_, countries) = get_json(&db, "/api/v1/departments?by=country").await;
    let total: i64 = countries["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["users"].as_i64())
        .sum();
    assert_eq!(total, now.iter().filter(|w| w.in_scope).count() as i64);
    // Null offices and usage locations (Graph sends them) are the "(no office)" and
    // "(no country)" groups.
    let without = |field: fn(&Who) -> &Option<String>| {
        now.iter()
            .filter(|w| w.in_scope && field(w).is_none())
            .count()
    };
    for (by, expected) in [
        ("office", without(|w| &w.office)),
        ("country", without(|w| &w.country)),
    ] {
        let (_, groups) = get_json(&db, &format!("/api/v1/departments?by={by}")).await;
        let nobody = groups["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .find(|g| g["name"].is_null())
            .cloned()
            .unwrap_or_else(|| panic!("no null {by} group"));
        assert!(expected > 0, "the sim has people with no {by}");
        assert_eq!(nobody["users"], expected, "{by}");
    }

    // The overview: the API's numbers, the charts drawn, the forecast in words.
    let (status, page) = get(&db, "/").await;
    assert_eq!(status, StatusCode::OK);
    let scope_now: Vec<&Who> = now.iter().filter(|w| w.in_scope).collect();
    let phone_only = |w: &[Who]| {
        w.iter()
            .filter(|w| w.in_scope && w.state == State::PhoneOnly)
            .count() as i64
    };
    assert!(page.contains(&format!(
        "<div class=\"value\">{}</div>",
        thousands(phone_only(&now))
    )));
    let week = phone_only(&now) - phone_only(&people(t, DAYS - 7));
    let week_text = match week {
        0 => "±0".to_owned(),
        w if w > 0 => format!("+{w}"),
        w => format!("−{}", -w),
    };
    assert!(
        page.contains(&format!("{week_text} in 7 days")),
        "7-day change {week_text}"
    );
    assert!(page.contains("class=\"area s-phone_only\" d=\"M"));
    assert!(page.contains("class=\"line actual\" d=\"M"));
    assert!(page.contains("Show as table"));
    assert!(page.contains("1 February 2027"));
    assert_eq!(
        scope_now.len() as i64,
        points.last().expect("last")["users"]
            .as_i64()
            .expect("users")
    );

    // The departments table: each row shows the API's numbers; each row opens its page.
    let (status, table) = get(&db, "/departments").await;
    assert_eq!(status, StatusCode::OK);
    for g in groups {
        let label = g["name"]
            .as_str()
            .map_or("(no department)".to_owned(), escaped);
        let row = row_of(&table, &label);
        let users = thousands(g["users"].as_i64().expect("users"));
        let only = thousands(g["states"]["phone_only"].as_i64().expect("n"));
        assert!(row.contains(&format!(">{users}</td>")), "{label}: {row}");
        assert!(row.contains(&format!(">{only}</td>")), "{label}: {row}");
        assert!(
            row.contains("<polyline points=\""),
            "{label} has a trend line"
        );
    }
    let name = groups
        .iter()
        .find_map(|g| g["name"].as_str())
        .expect("a named department");
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("name", name)
        .finish();
    let (status, one) = get(&db, &format!("/departments/view?by=department&{q}")).await;
    assert_eq!(status, StatusCode::OK);
    let on_phone = now
        .iter()
        .filter(|w| {
            w.in_scope
                && w.department.as_deref() == Some(name)
                && matches!(
                    w.state,
                    State::PhoneOnly | State::PhoneDefault | State::PhoneBackup
                )
        })
        .count();
    assert!(one.contains(&format!(
        "Still on the phone: {}",
        thousands(on_phone as i64)
    )));
    assert!(one.contains("class=\"area s-phone_only\" d=\"M"));
    let (status, none) = get(&db, "/departments/view?by=department").await;
    assert_eq!(status, StatusCode::OK);
    assert!(none.contains("<h1>(no department)</h1>"));
    let (status, _) = get(&db, "/departments/view?by=department&name=No+Such+Team").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, offices) = get(&db, "/departments?by=office&sort=users&dir=desc").await;
    assert_eq!(status, StatusCode::OK);
    assert!(offices.contains("aria-sort=\"descending\""));
    assert!(offices.contains("(no office)"));

    // The sync page lists the runs.
    let (status, runs) = get(&db, "/sync").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        runs.matches("<span class=\"status succeeded\">").count(),
        DAYS as usize + 1
    );
}

/// Walks every page of `/api/v1/users?{query}`: the ids in order and the reported total.
async fn walk(db: &TestDb, query: &str) -> (Vec<Value>, i64) {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    let mut total = None;
    loop {
        let cursor = after
            .as_ref()
            .map_or(String::new(), |c| format!("&after={c}"));
        let uri = format!("/api/v1/users?{query}&limit=37{cursor}");
        let (status, page) = get_json(db, &uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {page}");
        let t = page["total"].as_i64().expect("total");
        assert_eq!(
            *total.get_or_insert(t),
            t,
            "the total is the same on every page"
        );
        items.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next"].as_str() {
            Some(c) => after = Some(c.to_owned()),
            None => break,
        }
    }
    (items, total.unwrap_or(0))
}

#[tokio::test]
async fn the_list_pages_filters_and_exports_exactly() {
    let db = TestDb::new().await;
    let sim = Sim::start(700, 200).await;
    sim.fake.set_day(DAYS);
    sync_ok(&db, &sim).await;
    let who = people(sim.fake.tenant(), DAYS);
    let on_phone = |w: &&Who| {
        matches!(
            w.state,
            State::PhoneOnly | State::PhoneDefault | State::PhoneBackup
        )
    };
    let some_dept = who
        .iter()
        .find_map(|w| w.department.clone())
        .expect("a department");
    let needle = who
        .iter()
        .find(|w| w.in_scope && w.state == State::PhoneOnly)
        .map(|w| w.upn[..4].to_uppercase())
        .expect("someone phone-only");
    type Pick = Box<dyn Fn(&&Who) -> bool>;
    let dept = some_dept.clone();
    let needle_lower = needle.to_lowercase();
    let cases: Vec<(String, Pick)> = vec![
        (String::new(), Box::new(move |w| w.in_scope && on_phone(w))),
        (
            format!(
                "department={}",
                form_urlencoded::byte_serialize(dept.as_bytes()).collect::<String>()
            ),
            Box::new(move |w| {
                w.in_scope && on_phone(w) && w.department.as_deref() == Some(dept.as_str())
            }),
        ),
        (
            "department=(none)".into(),
            Box::new(move |w| w.in_scope && on_phone(w) && w.department.is_none()),
        ),
        (
            "admin=true".into(),
            Box::new(move |w| w.in_scope && on_phone(w) && w.admin),
        ),
        (
            "user_type=guest".into(),
            Box::new(move |w| w.guest && on_phone(w)),
        ),
        (
            "voice_capable=true".into(),
            Box::new(move |w| w.in_scope && on_phone(w) && w.voice),
        ),
        (
            "state=no_mfa".into(),
            Box::new(|w| w.in_scope && w.state == State::NoMfa),
        ),
        (
            "state=all&user_type=all".into(),
            Box::new(|w| w.in_scope || w.guest),
        ),
        (
            format!("q={needle}"),
            Box::new(move |w| {
                w.in_scope
                    && on_phone(w)
                    && (w.upn.to_lowercase().contains(&needle_lower)
                        || w.display_name.to_lowercase().contains(&needle_lower))
            }),
        ),
    ];
    let rank = |s: &str| {
        s.parse::<State>()
            .ok()
            .and_then(|s| State::ALL.iter().position(|x| *x == s))
    };
    for (query, pick) in &cases {
        let expected: HashSet<String> = who
            .iter()
            .filter(|w| pick(w))
            .map(|w| w.id.clone())
            .collect();
        let (items, total) = walk(&db, query).await;
        let ids: Vec<String> = items
            .iter()
            .map(|i| i["id"].as_str().expect("id").to_owned())
            .collect();
        assert_eq!(total as usize, expected.len(), "total of {query:?}");
        assert_eq!(ids.len(), expected.len(), "rows of {query:?}");
        assert_eq!(
            ids.iter().cloned().collect::<HashSet<_>>(),
            expected,
            "{query:?}"
        );
        // Priority order, admins first within a priority.
        let keys: Vec<(usize, bool)> = items
            .iter()
            .map(|i| {
                (
                    rank(i["state"].as_str().expect("state")).expect("known state"),
                    !i["is_admin"].as_bool().expect("admin"),
                )
            })
            .collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]), "order of {query:?}");

        // The CSV holds exactly the same rows, in the same order.
        let (status, csv_text) = get(&db, &format!("/users.csv?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        let body = csv_text
            .strip_prefix('\u{feff}')
            .expect("a byte-order mark for Excel");
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("csv row")).collect();
        let csv_ids: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
        assert_eq!(
            csv_ids,
            ids.iter().map(String::as_str).collect::<Vec<_>>(),
            "CSV of {query:?}"
        );
        for r in &rows {
            for cell in r {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "a formula cell in the CSV: {cell:?}"
                );
            }
            let person = who.iter().find(|w| w.id == r[0]).expect("person");
            let name = &r[1];
            if person.display_name.starts_with(['=', '+', '-', '@']) {
                assert_eq!(name, format!("'{}", person.display_name));
            } else {
                assert_eq!(
                    name, person.display_name,
                    "names survive commas, quotes, line breaks"
                );
            }
        }

        // The page says the same total.
        let (status, page) = get(&db, &format!("/users?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert!(
            page.contains(&format!(
                "<strong>{}</strong> users match",
                thousands(total)
            )),
            "{query}"
        );
    }
    // The sim's hostile names were among the rows checked above.
    let hostile = who
        .iter()
        .filter(|w| (w.in_scope || w.guest) && w.display_name.starts_with(['=', '+', '-', '@']))
        .count();
    assert!(hostile >= 2, "only {hostile} formula-like names in the sim");
    assert!(who.iter().any(|w| w.display_name.contains('\n')));

    // Counts that need a scan are kept per run: one server sees a new sync at once.
    let server = common::web_state(&db);
    let total = |body: String| -> i64 {
        serde_json::from_str::<Value>(&body).expect("json")["total"]
            .as_i64()
            .expect("total")
    };
    let before = total(common::get_in(&server, "/api/v1/users?admin=false").await.1);
    assert_eq!(
        total(common::get_in(&server, "/api/v1/users?admin=false").await.1),
        before
    );
    sim.fake.set_day(DAYS + 10);
    sync_ok(&db, &sim).await;
    let later = people(sim.fake.tenant(), DAYS + 10);
    let expected = later
        .iter()
        .filter(|w| w.in_scope && on_phone(w) && !w.admin)
        .count() as i64;
    assert_ne!(before, expected, "the story moved between the two days");
    assert_eq!(
        total(common::get_in(&server, "/api/v1/users?admin=false").await.1),
        expected
    );
    assert!(who.iter().any(|w| w.display_name.contains(',')));
}

#[tokio::test]
async fn before_the_first_sync_every_page_is_helpful() {
    let db = TestDb::new().await;
    for (uri, words) in [
        ("/departments", "No data yet"),
        ("/users", "Nobody matches"),
        ("/sync", "No sync has run yet"),
        ("/?range=all", "No data yet"),
    ] {
        let (status, page) = get(&db, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(page.contains(words), "{uri}");
    }
    let (_, trend) = get_json(&db, "/api/v1/trend").await;
    assert_eq!(trend["points"].as_array().map(Vec::len), Some(0));
    assert!(trend["projected_zero_date"].is_null());
    let (_, groups) = get_json(&db, "/api/v1/departments").await;
    assert_eq!(groups["groups"].as_array().map(Vec::len), Some(0));
    let (_, users) = get_json(&db, "/api/v1/users").await;
    assert_eq!(
        (users["total"].as_i64(), users["next"].is_null()),
        (Some(0), true)
    );
    let (status, csv_text) = get(&db, "/users.csv").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv_text.lines().count(), 1, "just the header");
}

#[tokio::test]
async fn bad_parameters_get_a_400_that_says_why() {
    let db = TestDb::new().await;
    let long = "x".repeat(201);
    let api = [
        "/api/v1/users?state=bogus".to_owned(),
        "/api/v1/users?admin=maybe".into(),
        "/api/v1/users?user_type=robot".into(),
        "/api/v1/users?after=garbage".into(),
        "/api/v1/users?limit=0".into(),
        "/api/v1/users?limit=501".into(),
        "/api/v1/users?limit=10&limit=20".into(),
        format!("/api/v1/users?q={long}"),
        "/api/v1/trend?days=0".into(),
        "/api/v1/trend?days=soon".into(),
        "/api/v1/trend?name=Sales".into(),
        "/api/v1/trend?by=planet".into(),
        "/api/v1/departments?by=planet".into(),
        "/api/v1/departments?color=red".into(),
    ];
    for uri in &api {
        let (status, body) = get_json(&db, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            body["error"].as_str().is_some_and(|m| m.len() > 10),
            "{uri}: {body}"
        );
    }
    for uri in [
        "/?range=5y",
        "/departments?sort=height",
        "/departments?dir=up",
        "/departments/view?by=planet",
        "/users?state=phone",
        "/users?limit=5",
        "/users?after=%FF%FE",
        "/users.csv?after=x",
        "/sync?x=1",
    ] {
        let (status, page) = get(&db, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(page.contains("<h1>400</h1>"), "{uri}: an error page");
    }
    // Bytes that are not UTF-8 are read leniently: no match, not an error.
    let (status, body) = get_json(&db, "/api/v1/users?department=%FF%FE").await;
    assert_eq!((status, body["total"].as_i64()), (StatusCode::OK, Some(0)));
}
