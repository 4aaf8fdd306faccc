//! Who uses a phone to sign in, on the people list and the departments page: a simulated
//! tenant synced for real, then phone use written straight into `phone_usage` and
//! `sign_in_cursor` (as a read of the sign-in log leaves them), and every answer checked
//! against what was written: the columns, the JSON fields, both filters and their counts, the
//! use order across pages, "safe to remove", the departments' column, the CSV, bad values.

mod common;

use axum::http::StatusCode;
use chrono::{Duration, NaiveDate, Utc};
use common::{Sim, TestDb, get_in, web_state};
use phoneless::web::AppState;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

const PHONE_STATES: [&str; 3] = ["phone_only", "phone_default", "phone_backup"];
const ALL_STATES: [&str; 5] = [
    "phone_only",
    "phone_default",
    "phone_backup",
    "phone_free",
    "no_mfa",
];

/// A current user as stored, with the phone use this test gives them.
#[derive(Debug, Clone)]
struct Person {
    id: Uuid,
    upn: String,
    name: String,
    state: String,
    department: Option<String>,
    office: Option<String>,
    member: bool,
    in_scope: bool,
    guest: bool,
    /// Place in the database's order of names (its collation decides), ties by id.
    name_rank: usize,
    /// Their `phone_usage` row: last day and uses in 30 days.
    usage: Option<(NaiveDate, i32)>,
    reason: bool,
}

impl Person {
    fn uses(&self) -> i32 {
        self.usage.map_or(0, |u| u.1)
    }
    fn used(&self) -> bool {
        self.uses() > 0
    }
    /// Shown by the list with its default account filter (in-scope members).
    fn listed_member(&self) -> bool {
        self.member && self.in_scope
    }
    /// Shown by the list at all (`user_type=all`).
    fn listed(&self) -> bool {
        self.in_scope || self.guest
    }
    fn on_phone(&self) -> bool {
        PHONE_STATES.contains(&self.state.as_str())
    }
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// A current version: id, UPN, name, state, department, office, user type, in scope.
type VersionRow = (
    Uuid,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    bool,
);

/// Everyone current, in the database's order of names.
async fn people(db: &TestDb) -> Vec<Person> {
    let rows: Vec<VersionRow> = sqlx::query_as(
        "SELECT user_id, upn, display_name, state, department, office, user_type, in_scope
             FROM user_versions WHERE ended_run IS NULL ORDER BY display_name, user_id",
    )
    .fetch_all(&db.pool)
    .await
    .expect("current versions");
    rows.into_iter()
        .enumerate()
        .map(
            |(name_rank, (id, upn, name, state, department, office, user_type, in_scope))| Person {
                id,
                upn,
                name,
                state,
                department,
                office,
                member: user_type == "member",
                in_scope,
                guest: user_type == "guest",
                name_rank,
                usage: None,
                reason: false,
            },
        )
        .collect()
}

/// Gives every fifth person recent phone use (1 to 9 times: many ties), every fifth a use
/// more than 30 days ago, the rest none; a few reasons; and someone gone (no current version)
/// a lot of use. Written as a read of the sign-in log would leave it, but for its cursor
/// ([`read_sign_ins`]).
async fn write_phone_use(db: &TestDb, who: &mut [Person]) {
    let today = today();
    let mut by_id: Vec<usize> = (0..who.len()).collect();
    by_id.sort_by_key(|i| who[*i].id);
    for (n, i) in by_id.into_iter().enumerate() {
        let p = &mut who[i];
        p.usage = match n % 5 {
            0 => Some((today - Duration::days((n % 20) as i64), 1 + (n % 9) as i32)),
            1 => Some((today - Duration::days(40 + (n % 30) as i64), 0)),
            _ => None,
        };
        p.reason = p.on_phone() && n % 3 == 0;
        if let Some((last, uses)) = p.usage {
            sqlx::query(
                "INSERT INTO phone_usage (user_id, last_phone_mfa, phone_mfa_30d, as_of)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(p.id)
            .bind(last)
            .bind(uses)
            .bind(today)
            .execute(&db.pool)
            .await
            .expect("phone use");
        }
        if p.reason {
            sqlx::query(
                "INSERT INTO phone_reasons (user_id, reason, set_by, set_at)
                 VALUES ($1, 'travelling', 'test', now())",
            )
            .bind(p.id)
            .execute(&db.pool)
            .await
            .expect("a reason");
        }
    }
    sqlx::query(
        "INSERT INTO phone_usage (user_id, last_phone_mfa, phone_mfa_30d, as_of)
         VALUES ($1, $2, 999, $2)",
    )
    .bind(Uuid::from_u128(7))
    .bind(today)
    .execute(&db.pool)
    .await
    .expect("someone gone");
}

/// The sign-in log's cursor: a read happened (the phone use written is now what it tells).
async fn read_sign_ins(db: &TestDb) {
    sqlx::query(
        "INSERT INTO sign_in_cursor (read_until, read_from)
         VALUES (now(), now() - interval '30 days')",
    )
    .execute(&db.pool)
    .await
    .expect("the cursor");
}

async fn json(state: &AppState, uri: &str) -> Value {
    let (status, body) = get_in(state, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{uri} ({e}): {body}"))
}

/// Every item of `/api/v1/users?{query}`, `limit` a page, checking that each page says the
/// same total and counts; with the total, the counts and the number of pages.
async fn walk(
    state: &AppState,
    query: &str,
    limit: usize,
) -> (Vec<Value>, i64, BTreeMap<String, i64>, usize) {
    let mut items = Vec::new();
    let mut after = String::new();
    let mut seen: Option<(i64, BTreeMap<String, i64>)> = None;
    let mut pages = 0;
    loop {
        let page = json(
            state,
            &format!("/api/v1/users?{query}&limit={limit}{after}"),
        )
        .await;
        pages += 1;
        let total = page["total"].as_i64().expect("total");
        let counts: BTreeMap<String, i64> = page["counts"]
            .as_object()
            .expect("counts")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_i64().expect("count")))
            .collect();
        let first = seen.get_or_insert((total, counts.clone()));
        assert_eq!(*first, (total, counts), "every page of {query:?} agrees");
        let got = page["items"].as_array().expect("items");
        assert!(got.len() <= limit);
        items.extend(got.iter().cloned());
        match page["next"].as_str() {
            Some(c) => {
                assert_eq!(got.len(), limit, "only a full page has a next one");
                after = format!("&after={c}");
            }
            None => break,
        }
    }
    let (total, counts) = seen.expect("a page");
    (items, total, counts, pages)
}

fn id_of(item: &Value) -> Uuid {
    item["id"].as_str().expect("id").parse().expect("uuid")
}

/// The `<tr>` of the row whose link goes to `href`.
fn row_of<'a>(html: &'a str, href: &str) -> &'a str {
    let at = html
        .find(&format!("href=\"{href}\""))
        .unwrap_or_else(|| panic!("no row for {href}"));
    let start = html[..at].rfind("<tr").expect("row start");
    let end = at + html[at..].find("</tr>").expect("row end");
    &html[start..end]
}

/// An `href` as the page writes it, as a request sends it.
fn unescape(href: &str) -> String {
    href.replace("&#38;", "&").replace("&amp;", "&")
}

fn dept_param(name: Option<&str>) -> String {
    form_urlencoded::byte_serialize(name.unwrap_or("(none)").as_bytes()).collect()
}

/// A sync of the fake's day that leaves the accounts whose UPN starts with "b" out of scope
/// (their use of a phone counts nowhere).
async fn sync_with_a_rule(db: &TestDb, sim: &Sim) {
    use phoneless::domain::scope::OutOfScope;
    use phoneless::sync::{Outcome, SyncOptions, posture::PostureOptions};
    let mut problems = Vec::new();
    let rule = OutOfScope::parse("", "b*@*", &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    let options = SyncOptions {
        posture: PostureOptions {
            out_of_scope: rule,
            ..PostureOptions::default()
        },
        ..SyncOptions::default()
    };
    let now = sim.fake.tenant().report_refreshed(sim.fake.day()) + Duration::hours(1);
    match phoneless::sync::run(
        &db.pool,
        sim.client(),
        now,
        &options,
        std::sync::Arc::new(phoneless::sync::progress::Silent),
        &tokio_util::sync::CancellationToken::new(),
    )
    .await
    {
        Ok(Outcome::Succeeded(_)) => {}
        other => panic!("the sync failed: {other:?}"),
    }
    // The sync read the simulated sign-in log too: this test writes the phone use itself.
    sqlx::query("TRUNCATE phone_usage, mfa_usage, mfa_usage_daily, sign_in_cursor, sign_ins_seen")
        .execute(&db.pool)
        .await
        .expect("no sign-in read");
}

#[tokio::test]
async fn the_list_and_the_departments_show_who_uses_a_phone() {
    let db = TestDb::new().await;
    let sim = Sim::start(400, 200).await;
    sim.fake.set_day(40);
    sync_with_a_rule(&db, &sim).await;
    let state = web_state(&db);
    let mut who = people(&db).await;
    write_phone_use(&db, &mut who).await;

    // Before any sign-in was read: nobody's use is known (whatever `phone_usage` holds: the
    // cursor says whether it tells anything), and nobody is safe to remove.
    let (items, ..) = walk(&state, "state=all&user_type=all", 500).await;
    assert_eq!(
        items.len(),
        who.iter().filter(|p| p.listed()).count(),
        "everyone listed"
    );
    for i in &items {
        assert!(i["last_phone_mfa"].is_null(), "{i}");
        assert_eq!(i["phone_mfa_30d"], 0, "{i}");
        assert_eq!(i["safe_to_remove"], false, "{i}");
    }
    for used in ["30d", "none_30d"] {
        let page = json(
            &state,
            &format!("/api/v1/users?phone_used={used}&state=all"),
        )
        .await;
        assert_eq!(
            (page["total"].as_i64(), page["sign_ins_read"].as_bool()),
            (Some(0), Some(false)),
            "nobody is known to use a phone, or not: {page}"
        );
        let counts = page["counts"].as_object().expect("counts");
        assert!(counts.values().all(|n| n == 0), "{page}");
    }
    let (status, html) = get_in(&state, "/users?state=phone_backup").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<th scope=\"col\">Last phone sign-in</th>"));
    assert!(html.contains("Phone sign-ins, 30 days</th>"));
    assert!(html.contains("title=\"No sign-in has been read yet\">—</span>"));
    assert!(!html.contains("safe to remove"));
    let (_, html) = get_in(&state, "/users?phone_used=30d").await;
    assert!(html.contains("No sign-in has been read yet, so nobody"));
    let groups = json(&state, "/api/v1/departments").await;
    assert_eq!(groups["sign_ins_read"], false);
    for g in groups["groups"].as_array().expect("groups") {
        assert_eq!(g["people_phone_30d"], 0, "{g}");
    }
    let (_, html) = get_in(&state, "/departments").await;
    assert!(html.contains("Used a phone, 30 days</a></th>"));
    assert!(!html.contains("phone_used=30d"), "no links to nobody");
    let (_, csv_text) = get_in(&state, "/users.csv?state=all").await;
    let mut reader = csv::Reader::from_reader(csv_text.trim_start_matches('\u{feff}').as_bytes());
    let head = reader.headers().expect("header").clone();
    let column = |name: &str| {
        head.iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} column: {head:?}"))
    };
    let (last_col, uses_col) = (column("last_phone_mfa"), column("phone_mfa_30d"));
    for r in reader.records() {
        let r = r.expect("row");
        assert_eq!((&r[last_col], &r[uses_col]), ("", ""), "unknown, not 0");
    }

    read_sign_ins(&db).await;
    let by_id: HashMap<Uuid, &Person> = who.iter().map(|p| (p.id, p)).collect();
    let safe = |p: &Person| p.state == "phone_backup" && !p.used();
    // The story has what the checks need.
    let members = || who.iter().filter(|p| p.listed_member());
    assert!(members().any(|p| p.state == "phone_backup" && p.used()));
    assert!(members().any(|p| p.state == "phone_backup" && !p.used() && p.usage.is_some()));
    assert!(members().any(|p| p.state == "phone_backup" && p.usage.is_none()));
    assert!(members().any(|p| p.used() && p.reason));
    assert!(who.iter().any(|p| p.guest && p.used()));
    assert!(
        who.iter().any(|p| !p.listed() && p.used()),
        "someone out of scope used one"
    );

    // Every listed person's fields.
    let (items, ..) = walk(&state, "state=all&user_type=all", 500).await;
    assert_eq!(items.len(), who.iter().filter(|p| p.listed()).count());
    for i in &items {
        let p = by_id[&id_of(i)];
        let last = p.usage.map(|u| u.0.to_string());
        assert_eq!(i["last_phone_mfa"].as_str(), last.as_deref(), "{i}");
        assert_eq!(
            i["phone_mfa_30d"].as_i64(),
            Some(i64::from(p.uses())),
            "{i}"
        );
        assert_eq!(i["safe_to_remove"].as_bool(), Some(safe(p)), "{i}");
    }

    // Both filters, alone and with others, with their counts per state.
    let dept = who
        .iter()
        .filter(|p| p.listed_member() && p.used())
        .find_map(|p| p.department.clone())
        .expect("a department with phone use");
    type Pick = Box<dyn Fn(&Person) -> bool>;
    let d = dept.clone();
    let cases: Vec<(String, &[&str], Pick)> = vec![
        (
            "phone_used=30d".into(),
            &PHONE_STATES,
            Box::new(|p| p.listed_member() && p.used()),
        ),
        (
            "phone_used=30d&state=all".into(),
            &ALL_STATES,
            Box::new(|p| p.listed_member() && p.used()),
        ),
        (
            "phone_used=none_30d".into(),
            &PHONE_STATES,
            Box::new(|p| p.listed_member() && !p.used()),
        ),
        (
            "phone_used=none_30d&state=phone_backup".into(),
            &["phone_backup"],
            Box::new(|p| p.listed_member() && !p.used()),
        ),
        (
            "phone_used=30d&user_type=all&state=all".into(),
            &ALL_STATES,
            Box::new(|p| p.listed() && p.used()),
        ),
        (
            "phone_used=30d&reason=any".into(),
            &PHONE_STATES,
            Box::new(|p| p.listed_member() && p.used() && p.reason),
        ),
        (
            "phone_used=none_30d&reason=none".into(),
            &PHONE_STATES,
            Box::new(|p| p.listed_member() && !p.used() && !p.reason),
        ),
        (
            format!(
                "phone_used=30d&state=all&department={}",
                dept_param(Some(&dept))
            ),
            &ALL_STATES,
            Box::new(move |p| {
                p.listed_member() && p.used() && p.department.as_deref() == Some(d.as_str())
            }),
        ),
    ];
    for (query, states, pick) in &cases {
        let expected: BTreeSet<Uuid> = who
            .iter()
            .filter(|p| pick(p) && states.contains(&p.state.as_str()))
            .map(|p| p.id)
            .collect();
        assert!(!expected.is_empty(), "{query}: a case that shows someone");
        let (items, total, counts, _) = walk(&state, query, 37).await;
        let got: BTreeSet<Uuid> = items.iter().map(id_of).collect();
        assert_eq!(got, expected, "{query}");
        assert_eq!(total as usize, expected.len(), "total of {query}");
        for s in ALL_STATES {
            let n = who.iter().filter(|p| pick(p) && p.state == s).count() as i64;
            assert_eq!(counts.get(s), Some(&n), "{query}: count of {s}");
        }
        if query.contains("none_30d&state=phone_backup") {
            assert!(items.iter().all(|i| i["safe_to_remove"] == true), "{query}");
        }
        let (status, html) = get_in(&state, &format!("/users?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert!(
            html.contains(&format!("<strong>{}</strong> users match", total)),
            "{query}"
        );
    }

    // Most phone sign-ins first, then by name, across pages.
    for (query, pick) in [
        (
            "sort=use",
            Box::new(|p: &Person| p.listed_member() && p.on_phone()) as Pick,
        ),
        (
            "sort=use&state=all&user_type=all",
            Box::new(|p: &Person| p.listed()),
        ),
        (
            "sort=use&phone_used=30d&state=all",
            Box::new(|p: &Person| p.listed_member() && p.used()),
        ),
    ] {
        let mut expected: Vec<&Person> = who.iter().filter(|p| pick(p)).collect();
        expected.sort_by_key(|p| (-p.uses(), p.name_rank));
        let (items, total, _, pages) = walk(&state, query, 7).await;
        assert!(pages > 2, "{query}: several pages");
        assert_eq!(total as usize, expected.len(), "{query}");
        let got: Vec<Uuid> = items.iter().map(id_of).collect();
        assert_eq!(
            got,
            expected.iter().map(|p| p.id).collect::<Vec<_>>(),
            "{query}: the order"
        );
        // The CSV in the same order.
        let (status, csv_text) = get_in(&state, &format!("/users.csv?{query}")).await;
        assert_eq!(status, StatusCode::OK);
        let mut reader =
            csv::Reader::from_reader(csv_text.trim_start_matches('\u{feff}').as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        let csv_ids: Vec<Uuid> = rows.iter().map(|r| r[0].parse().expect("id")).collect();
        assert_eq!(csv_ids, got, "{query}: the CSV");
        for r in &rows {
            let p = by_id[&r[0].parse::<Uuid>().expect("id")];
            let last = p.usage.map(|u| u.0.to_string()).unwrap_or_default();
            assert_eq!(
                (&r[last_col], &r[uses_col]),
                (last.as_str(), p.uses().to_string().as_str())
            );
        }
    }
    // The page's next link keeps the order, and its cursor is for that order only.
    let (_, html) = get_in(&state, "/users?sort=use").await;
    assert!(html.contains("most phone sign-ins in the last 30 days first"));
    assert!(html.contains("<option value=\"use\" selected>"));
    let next = html
        .split("href=\"")
        .find_map(|h| {
            h.split('"')
                .next()
                .filter(|h| h.contains("after="))
                .map(unescape)
        })
        .expect("a next page");
    assert!(next.contains("sort=use"), "{next}");
    let (status, _) = get_in(&state, &next).await;
    assert_eq!(status, StatusCode::OK, "{next}");
    let cursor = next.split("after=").nth(1).expect("cursor");
    let (status, body) = get_in(&state, &format!("/api/v1/users?after={cursor}")).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "another order's cursor: {body}"
    );
    let plain = json(&state, "/api/v1/users?limit=3").await;
    let plain = plain["next"].as_str().expect("a next page");
    let (status, _) = get_in(&state, &format!("/api/v1/users?sort=use&after={plain}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The rows: a date and a number, and the tag on an unused backup only.
    let mut backups = Vec::new();
    let mut after = String::new();
    loop {
        let (status, html) = get_in(&state, &format!("/users?state=phone_backup{after}")).await;
        assert_eq!(status, StatusCode::OK);
        let next = html.split("href=\"").find_map(|h| {
            h.split('"')
                .next()
                .filter(|h| h.contains("after="))
                .map(unescape)
        });
        backups.push(html);
        match next.and_then(|n| n.split("after=").nth(1).map(str::to_owned)) {
            Some(c) => after = format!("&after={c}"),
            None => break,
        }
    }
    let html = backups.concat();
    let mut tagged = 0;
    for p in members().filter(|p| p.state == "phone_backup") {
        let row = row_of(&html, &format!("/users/{}", p.id));
        let last = p
            .usage
            .map_or("—".to_owned(), |u| u.0.format("%-d %b %Y").to_string());
        assert!(
            row.contains(&format!("Last phone sign-in </span>{last}</td>")),
            "{}: {row}",
            p.name
        );
        assert!(
            row.contains(&format!("Phone sign-ins, 30 days </span>{}", p.uses())),
            "{row}"
        );
        assert_eq!(row.contains("safe to remove"), safe(p), "{row}");
        tagged += usize::from(safe(p));
    }
    assert!(tagged > 0);
    assert_eq!(
        html.matches("safe to remove</span>").count(),
        tagged,
        "on backups only"
    );

    // The departments: in-scope members who used a phone, linked to the list of them.
    let groups = json(&state, "/api/v1/departments").await;
    assert_eq!(groups["sign_ins_read"], true);
    let (_, html) = get_in(&state, "/departments").await;
    let mut some = 0;
    for g in groups["groups"].as_array().expect("groups") {
        let name = g["name"].as_str();
        let n = who
            .iter()
            .filter(|p| p.in_scope && p.used() && p.department.as_deref() == name)
            .count() as i64;
        assert_eq!(g["people_phone_30d"].as_i64(), Some(n), "{g}");
        let link = format!(
            "/users?department={}&#38;phone_used=30d&#38;state=all",
            dept_param(name)
        );
        assert!(
            html.contains(&format!("<a href=\"{link}\">{n}</a>")),
            "{name:?}: {n}"
        );
        let listed = json(&state, &format!("/api/v1{}", unescape(&link))).await;
        assert_eq!(listed["total"].as_i64(), Some(n), "{link}");
        some += n;
    }
    assert!(some > 0);
    let by_office = json(&state, "/api/v1/departments?by=office").await;
    for g in by_office["groups"].as_array().expect("groups") {
        let n = who
            .iter()
            .filter(|p| p.in_scope && p.used() && p.office.as_deref() == g["name"].as_str())
            .count() as i64;
        assert_eq!(g["people_phone_30d"].as_i64(), Some(n), "{g}");
    }
    let (status, html) = get_in(&state, "/departments?sort=phone_30d&dir=desc").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("aria-sort=\"descending\" class=\"num\"><a href=\"/departments?by=department&#38;sort=phone_30d&#38;dir=asc\">Used a phone, 30 days</a>"));

    // A new read of the log is seen at once by the kept counts, on both pages.
    let gone_user = who
        .iter()
        .find(|p| p.listed_member() && p.used() && p.department.as_deref() == Some(&dept))
        .expect("someone to stop");
    let before = json(&state, "/api/v1/users?phone_used=30d&state=all").await;
    let dept_count = |v: &Value| {
        v["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .find(|g| g["name"].as_str() == Some(&dept))
            .and_then(|g| g["people_phone_30d"].as_i64())
            .expect("the department")
    };
    let dept_before = dept_count(&json(&state, "/api/v1/departments").await);
    sqlx::query("UPDATE phone_usage SET phone_mfa_30d = 0 WHERE user_id = $1")
        .bind(gone_user.id)
        .execute(&db.pool)
        .await
        .expect("stopped");
    sqlx::query("UPDATE sign_in_cursor SET read_until = read_until + interval '1 hour'")
        .execute(&db.pool)
        .await
        .expect("read on");
    let after_read = json(&state, "/api/v1/users?phone_used=30d&state=all").await;
    assert_eq!(
        after_read["total"].as_i64(),
        before["total"].as_i64().map(|n| n - 1)
    );
    assert_eq!(
        dept_count(&json(&state, "/api/v1/departments").await),
        dept_before - 1
    );

    // The lookup's results share the table.
    let prefix = &who.iter().find(|p| p.listed()).expect("someone").upn[..1];
    let matching = who
        .iter()
        .filter(|p| p.upn.to_lowercase().starts_with(&prefix.to_lowercase()))
        .count();
    assert!(matching > 1, "a prefix with several matches");
    let q: String = form_urlencoded::byte_serialize(prefix.as_bytes()).collect();
    let (status, html) = get_in(&state, &format!("/lookup?q={q}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Phone sign-ins, 30 days</th>"));
}

#[tokio::test]
async fn bad_phone_use_values_get_a_400_that_says_what_is_allowed() {
    let db = TestDb::new().await;
    let state = web_state(&db);
    for path in ["/users", "/users.csv", "/api/v1/users"] {
        for (query, words) in [
            (
                "phone_used=sometimes",
                "phone_used must be one of 30d, none_30d",
            ),
            ("phone_used=30", "phone_used must be one of 30d, none_30d"),
            ("sort=name", "sort must be one of priority, use"),
            ("sort=use&after=garbage", "after must be the next cursor"),
        ] {
            if path == "/users.csv" && query.contains("after") {
                continue;
            }
            let uri = format!("{path}?{query}");
            let (status, body) = get_in(&state, &uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert!(body.contains(words), "{uri}: {body}");
        }
    }
    let (status, _) = get_in(&state, "/departments?sort=phone_30d").await;
    assert_eq!(status, StatusCode::OK);
}
