//! The guarded write actions through the real router, against the simulated tenant over real
//! HTTP: each guard refusing before any Graph call, a pass issued once and kept nowhere, a
//! security lead's pass to an administrator, allowlist entries added, ended early, removed at
//! their end (by one replica of two), closed by the sync when removed by hand, the alerts,
//! and the access log. The real binary: a pass kept out of the logs and the database dump, and
//! an entry removed by the `serve` that starts after the one that added it.

mod common;

use axum::http::{Method, StatusCode, header};
use chrono::Utc;
use common::{Answer, Killed, Sim, TestDb, count, db_url, sync_ok};
use phoneless::actions::allowlist::Remover;
use phoneless::auth::Identity;
use phoneless::config::ActionConfig;
use phoneless::db::sessions::create_session;
use phoneless::domain::Action;
use phoneless::graph::Client;
use phoneless::graph::pacing::Rate;
use phoneless::sim::server::{SIM_WRITE_CLIENT_ID, SIM_WRITE_CLIENT_SECRET};
use phoneless::sim::{FakeSettings, Faults};
use phoneless::web::access::{random_secret, secret_hash};
use phoneless::web::{self, AppState};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The write registration of the simulated tenant.
fn writer(sim: &Sim) -> Arc<Client> {
    let mut s = sim.settings();
    s.client_id = SIM_WRITE_CLIENT_ID.to_owned();
    s.credential = phoneless::credential::Credential::Secret(SIM_WRITE_CLIENT_SECRET.into());
    Arc::new(Client::new(s).expect("client"))
}

fn actions(on: &[Action], tap_limit: &str) -> ActionConfig {
    ActionConfig {
        enabled: on.to_vec(),
        tap_limit: tap_limit.parse::<Rate>().expect("rate"),
        ..ActionConfig::default()
    }
}

/// Sign-in on (sessions made directly), the given actions on, writing through the write
/// registration.
fn state(db: &TestDb, sim: &Sim, config: ActionConfig) -> AppState {
    let settings = web::WebSettings {
        actions: config,
        sign_in: None,
        ..common::sign_in_config(sim, "http://127.0.0.1:8080")
    };
    AppState::new(db.pool.clone(), settings).with_writer(writer(sim))
}

/// A signed-in person with one app role: their cookie and CSRF token.
struct Agent {
    cookie: String,
    csrf: String,
}

async fn agent(db: &TestDb, name: &str, role: &str) -> Agent {
    let secret = random_secret();
    let csrf = random_secret();
    let now = Utc::now();
    create_session(
        &db.pool,
        &secret_hash(&secret),
        &Identity {
            tenant_id: Uuid::new_v4(),
            object_id: Uuid::new_v4(),
            name: name.to_owned(),
            username: format!("{}@contoso.example", name.to_lowercase()),
            roles: vec![role.to_owned()],
            groups: Vec::new(),
            groups_overage: false,
        },
        &csrf,
        "",
        now,
        now + chrono::Duration::hours(1),
        Uuid::new_v4(),
    )
    .await
    .expect("session");
    Agent {
        cookie: format!("phoneless={secret}"),
        csrf,
    }
}

async fn send(
    state: &AppState,
    who: &Agent,
    method: Method,
    uri: &str,
    body: String,
    kind: &str,
) -> Answer {
    let mut headers = vec![(header::COOKIE.as_str(), who.cookie.as_str())];
    if kind == "application/json" {
        headers.push(("x-csrf-token", &who.csrf));
    }
    let body = (method != Method::GET).then_some((kind, body));
    common::send(state, method, uri, &headers, body).await
}

async fn post_json(state: &AppState, who: &Agent, uri: &str, body: Value) -> Answer {
    send(
        state,
        who,
        Method::POST,
        uri,
        body.to_string(),
        "application/json",
    )
    .await
}

async fn post_form(state: &AppState, who: &Agent, uri: &str, form: &[(&str, &str)]) -> Answer {
    let mut fields: Vec<(&str, &str)> = vec![("csrf_token", &who.csrf)];
    fields.extend_from_slice(form);
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    send(
        state,
        who,
        Method::POST,
        uri,
        body,
        "application/x-www-form-urlencoded",
    )
    .await
}

async fn get(state: &AppState, who: &Agent, uri: &str) -> Answer {
    send(state, who, Method::GET, uri, String::new(), "").await
}

/// A current person matching `condition` (SQL over `user_versions`).
async fn person(db: &TestDb, condition: &str) -> Uuid {
    sqlx::query_scalar(&format!(
        "SELECT user_id FROM user_versions WHERE ended_run IS NULL AND {condition}
         ORDER BY upn LIMIT 1"
    ))
    .fetch_one(&db.pool)
    .await
    .unwrap_or_else(|e| panic!("nobody with {condition}: {e}"))
}

const ORDINARY: &str = "user_type = 'member' AND NOT is_admin AND NOT external \
                        AND global_admin IS DISTINCT FROM true";

/// Everything Graph was asked by the actions so far (reads for the live re-checks and writes).
fn graph_calls(sim: &Sim) -> u32 {
    let s = sim.fake.served();
    s.user_requests + s.member_group_checks + s.tap_lists + s.writes
}

async fn log_rows(db: &TestDb, action: &str, outcome_like: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM access_log WHERE action = $1 AND outcome LIKE $2")
        .bind(action)
        .bind(outcome_like)
        .fetch_one(&db.pool)
        .await
        .expect("count")
}

async fn setup(config: ActionConfig) -> (TestDb, Sim, AppState) {
    let db = TestDb::new().await;
    let sim = Sim::start(300, 1_000).await;
    sync_ok(&db, &sim).await;
    let state = state(&db, &sim, config);
    (db, sim, state)
}

#[tokio::test]
async fn read_only_unless_switched_on() {
    let (db, _sim, state) = setup(ActionConfig::default()).await;
    let lead = agent(&db, "Lena", "Phoneless.SecurityLead").await;
    let id = person(&db, ORDINARY).await;
    let page = get(&state, &lead, &format!("/users/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("Help them now"), "no action offered");
    let tap = post_json(
        &state,
        &lead,
        &format!("/api/v1/users/{id}/tap"),
        json!({"reason": "x"}),
    )
    .await;
    assert_eq!(tap.status, StatusCode::NOT_FOUND, "{}", tap.body);
    let group = Uuid::new_v4();
    let add = post_json(
        &state,
        &lead,
        &format!("/api/v1/exclusions/{group}/entries"),
        json!({"user_id": id, "reason": "x", "until": Utc::now() + chrono::Duration::days(1)}),
    )
    .await;
    assert_eq!(add.status, StatusCode::NOT_FOUND);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM access_log WHERE outcome IS NOT NULL"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn each_pass_guard_refuses_before_any_graph_call_and_is_logged() {
    let (db, sim, state) = setup(actions(&[Action::Tap], "10/1h")).await;
    let helpdesk = agent(&db, "Hugo", "Phoneless.Helpdesk").await;
    let lead = agent(&db, "Lena", "Phoneless.SecurityLead").await;
    let viewer = agent(&db, "Vera", "Phoneless.Viewer").await;
    let ordinary = person(&db, ORDINARY).await;
    let admin = person(&db, "is_admin").await;
    let guest = person(&db, "user_type = 'guest'").await;
    let tap = |id: Uuid| format!("/api/v1/users/{id}/tap");
    let before = graph_calls(&sim);

    let cases: Vec<(&Agent, Uuid, Value, StatusCode, &str)> = vec![
        (
            &helpdesk,
            ordinary,
            json!({"reason": "  "}),
            StatusCode::BAD_REQUEST,
            "Give a reason",
        ),
        (
            &helpdesk,
            guest,
            json!({"reason": "lost phone"}),
            StatusCode::CONFLICT,
            "guest or external",
        ),
        (
            &helpdesk,
            admin,
            json!({"reason": "lost phone"}),
            StatusCode::FORBIDDEN,
            "only a security lead",
        ),
        (
            &lead,
            admin,
            json!({"reason": "lost phone"}),
            StatusCode::CONFLICT,
            "confirm",
        ),
        // The simulated policy allows 60 to 480 minutes.
        (
            &helpdesk,
            ordinary,
            json!({"reason": "lost phone", "lifetime_minutes": 30}),
            StatusCode::BAD_REQUEST,
            "60 to 480 minutes",
        ),
        (
            &helpdesk,
            ordinary,
            json!({"reason": "lost phone", "lifetime_minutes": 481}),
            StatusCode::BAD_REQUEST,
            "60 to 480 minutes",
        ),
    ];
    for (who, id, body, status, words) in &cases {
        let a = post_json(&state, who, &tap(*id), body.clone()).await;
        assert_eq!(a.status, *status, "{body}: {}", a.body);
        assert!(
            a.json()["error"].as_str().unwrap_or("").contains(words),
            "{words}: {}",
            a.body
        );
    }
    let confirm = post_json(&state, &lead, &tap(admin), json!({"reason": "lost phone"})).await;
    assert_eq!(confirm.json()["confirm"], "confirm_admin");
    // A viewer is refused by the access check itself.
    let v = post_json(
        &state,
        &viewer,
        &tap(ordinary),
        json!({"reason": "lost phone"}),
    )
    .await;
    assert_eq!(v.status, StatusCode::FORBIDDEN);
    // Without the CSRF token nothing happens.
    let forged = send(
        &state,
        &helpdesk,
        Method::POST,
        &tap(ordinary),
        json!({"reason": "lost phone"}).to_string(),
        "text/plain",
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // The policy turned off (as the last sync stored it): refused, naming the policy.
    sqlx::query(
        "UPDATE policy_versions SET body = jsonb_set(body, '{authenticationMethodConfigurations}',
            (SELECT jsonb_agg(CASE WHEN c->>'id' = 'TemporaryAccessPass'
                                   THEN jsonb_set(c, '{state}', '\"disabled\"') ELSE c END)
             FROM jsonb_array_elements(body->'authenticationMethodConfigurations') c))
         WHERE kind = 'methods_policy' AND ended_run IS NULL",
    )
    .execute(&db.pool)
    .await
    .expect("turn the pass off");
    let off = post_json(
        &state,
        &helpdesk,
        &tap(ordinary),
        json!({"reason": "lost phone"}),
    )
    .await;
    assert_eq!(off.status, StatusCode::CONFLICT, "{}", off.body);
    assert!(
        off.body.contains("Temporary Access Pass is off"),
        "{}",
        off.body
    );

    assert_eq!(graph_calls(&sim), before, "a guard asked Graph");
    assert!(sim.fake.writes().is_empty());
    // Every refusal is in the access log, with its reason and outcome (the viewer's and the
    // forged request never reached the action).
    assert_eq!(log_rows(&db, "tap", "refused: %").await, cases.len() as i64);
    assert_eq!(log_rows(&db, "tap", "waiting for confirmation: %").await, 2);
    assert_eq!(log_rows(&db, "tap", "done").await, 0);
    let reasons = count(
        &db,
        "SELECT count(*) FROM access_log WHERE action = 'tap' AND reason = 'lost phone'",
    )
    .await;
    assert_eq!(reasons, cases.len() as i64 + 1);
}

/// Finds `text` anywhere in the database's rows.
async fn anywhere_in_database(db: &TestDb, text: &str) -> bool {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(table_name) FROM information_schema.tables
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&db.pool)
    .await
    .expect("tables");
    for t in tables {
        let found: bool = sqlx::query_scalar(&format!(
            "SELECT EXISTS (SELECT 1 FROM {t} x WHERE x::text LIKE '%' || $1 || '%')"
        ))
        .bind(text)
        .fetch_one(&db.pool)
        .await
        .expect("search");
        if found {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn a_pass_is_shown_once_then_replaced_only_when_confirmed_and_limited_per_agent() {
    let (db, sim, state) = setup(actions(&[Action::Tap], "2/1h")).await;
    let helpdesk = agent(&db, "Hugo", "Phoneless.Helpdesk").await;
    let id = person(&db, ORDINARY).await;

    // The page offers the form with the policy's limits.
    let page = get(&state, &helpdesk, &format!("/users/{id}")).await;
    assert!(
        page.body.contains("Help them now") && page.body.contains("Issue a pass"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("min=\"60\" max=\"480\" value=\"60\""),
        "policy limits"
    );

    let issued = post_form(
        &state,
        &helpdesk,
        &format!("/users/{id}/tap"),
        &[
            ("reason", "new phone, verified by call-back"),
            ("lifetime_minutes", "120"),
        ],
    )
    .await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    assert_eq!(issued.cache_control, "no-store");
    assert!(issued.body.contains("the only time it is shown"));
    let at = issued.body.find("<code>").expect("the pass") + "<code>".len();
    let pass = issued.body[at..]
        .split('<')
        .next()
        .expect("pass")
        .to_owned();
    assert!(pass.len() >= 8, "{pass}");
    let writes = sim.fake.writes();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].lifetime_minutes, Some(120));
    assert_eq!(writes[0].usable_once, Some(true));
    assert_eq!(writes[0].client_id.as_deref(), Some(SIM_WRITE_CLIENT_ID));

    // Kept nowhere: not in any table, not on the person's page or JSON.
    assert!(
        !anywhere_in_database(&db, &pass).await,
        "the pass is in the database"
    );
    for uri in [
        format!("/users/{id}"),
        format!("/api/v1/users/{id}"),
        "/audit".into(),
    ] {
        let a = get(&state, &helpdesk, &uri).await;
        assert!(!a.body.contains(&pass), "{uri} shows the pass");
    }
    let logged: (String, String) = sqlx::query_as(
        "SELECT detail, outcome FROM access_log WHERE action = 'tap' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .expect("log row");
    assert!(
        logged.0.contains("120 minutes") && logged.1 == "done",
        "{logged:?}"
    );

    // A second pass replaces the first: the agent must confirm.
    let again = post_json(
        &state,
        &helpdesk,
        &format!("/api/v1/users/{id}/tap"),
        json!({"reason": "still stuck"}),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert_eq!(again.json()["confirm"], "confirm_replace");
    assert!(
        again
            .body
            .contains("already has a usable Temporary Access Pass")
    );
    let replaced = post_json(
        &state,
        &helpdesk,
        &format!("/api/v1/users/{id}/tap"),
        json!({"reason": "still stuck", "confirm_replace": true, "usable_once": false}),
    )
    .await;
    assert_eq!(replaced.status, StatusCode::CREATED, "{}", replaced.body);
    let j = replaced.json();
    assert_eq!(j["lifetime_minutes"], 60, "the policy's default");
    assert_eq!(j["usable_once"], false);
    assert!(
        j["temporary_access_pass"]
            .as_str()
            .is_some_and(|p| p != pass)
    );
    assert_eq!(replaced.cache_control, "no-store");

    // The third within the hour is over PHONELESS_TAP_LIMIT=2/1h, before any Graph call.
    let other = person(&db, &format!("{ORDINARY} AND user_id <> '{id}'")).await;
    let calls = graph_calls(&sim);
    let limited = post_json(
        &state,
        &helpdesk,
        &format!("/api/v1/users/{other}/tap"),
        json!({"reason": "lost phone"}),
    )
    .await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.body
    );
    assert!(limited.body.contains("PHONELESS_TAP_LIMIT"));
    assert_eq!(graph_calls(&sim), calls);
    assert_eq!(log_rows(&db, "tap", "done").await, 2);
}

#[tokio::test]
async fn a_security_lead_issues_a_pass_to_an_administrator_after_confirming() {
    let (db, sim, state) = setup(actions(&[Action::Tap], "10/1h")).await;
    let lead = agent(&db, "Lena", "Phoneless.SecurityLead").await;
    let admin = person(&db, "is_admin").await;
    let first = post_form(
        &state,
        &lead,
        &format!("/users/{admin}/tap"),
        &[("reason", "locked out")],
    )
    .await;
    assert_eq!(first.status, StatusCode::CONFLICT);
    assert!(
        first.body.contains("is an administrator") && first.body.contains("name=\"confirm_admin\"")
    );
    assert!(sim.fake.writes().is_empty());
    let confirmed = post_form(
        &state,
        &lead,
        &format!("/users/{admin}/tap"),
        &[("reason", "locked out"), ("confirm_admin", "yes")],
    )
    .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    assert!(confirmed.body.contains("Temporary Access Pass for"));
    assert_eq!(sim.fake.writes().len(), 1);
}

#[tokio::test]
async fn a_permission_graph_refuses_is_shown_as_what_to_grant() {
    let (db, sim, state) = setup(actions(&[Action::Tap, Action::Allowlist], "10/1h")).await;
    let helpdesk = agent(&db, "Hugo", "Phoneless.Helpdesk").await;
    let id = person(&db, ORDINARY).await;
    sim.fake.set_faults(Faults {
        deny_tap_write: true,
        ..Faults::default()
    });
    let a = post_json(
        &state,
        &helpdesk,
        &format!("/api/v1/users/{id}/tap"),
        json!({"reason": "lost phone"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_GATEWAY, "{}", a.body);
    assert!(
        a.body.contains("UserAuthenticationMethod.ReadWrite.All"),
        "{}",
        a.body
    );
    assert_eq!(log_rows(&db, "tap", "failed: %").await, 1);
    assert_eq!(log_rows(&db, "tap", "done").await, 0);

    sim.fake.set_faults(Faults {
        deny_member_write: true,
        ..Faults::default()
    });
    let group = watched_group(&db).await;
    let add = post_json(
        &state,
        &helpdesk,
        &format!("/api/v1/exclusions/{group}/entries"),
        json!({"user_id": id, "reason": "no phone at work", "until": Utc::now() + chrono::Duration::days(2)}),
    )
    .await;
    assert_eq!(add.status, StatusCode::BAD_GATEWAY, "{}", add.body);
    assert!(
        add.body.contains("GroupMember.ReadWrite.All"),
        "{}",
        add.body
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM allowlist_entries").await,
        0
    );
}

/// A watched exclusion group with nobody of `person(ORDINARY)`'s kind guaranteed in it.
async fn watched_group(db: &TestDb) -> Uuid {
    sqlx::query_scalar("SELECT group_id FROM watched_groups WHERE watched AND NOT missing ORDER BY group_id LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .expect("a watched exclusion group")
}

/// A current person not in `group` (as the last sync saw it).
async fn outsider(db: &TestDb, group: Uuid) -> Uuid {
    person(
        db,
        &format!(
            "{ORDINARY} AND user_id NOT IN (SELECT user_id FROM group_memberships
                                            WHERE group_id = '{group}' AND left_run IS NULL)"
        ),
    )
    .await
}

async fn alerts(db: &TestDb, kind: &str) -> Vec<(String, String)> {
    sqlx::query_as("SELECT title, text FROM alerts WHERE kind = $1 ORDER BY id")
        .bind(kind)
        .fetch_all(&db.pool)
        .await
        .expect("alerts")
}

#[tokio::test]
async fn an_entry_is_added_announced_and_removed_at_its_end_by_one_replica() {
    let (db, sim, state) = setup(actions(&[Action::Allowlist], "10/1h")).await;
    let helpdesk = agent(&db, "Hugo", "Phoneless.Helpdesk").await;
    let group = watched_group(&db).await;
    let id = outsider(&db, group).await;
    let until = Utc::now() + chrono::Duration::days(3);
    let joins_before = alerts(&db, "member_joined").await.len();

    // Longer than PHONELESS_ALLOWLIST_MAX (14 days) is for security leads only.
    let too_long = post_json(
        &state,
        &helpdesk,
        &format!("/api/v1/exclusions/{group}/entries"),
        json!({"user_id": id, "reason": "travelling", "until": Utc::now() + chrono::Duration::days(20)}),
    )
    .await;
    assert_eq!(too_long.status, StatusCode::FORBIDDEN, "{}", too_long.body);
    let unknown_group = post_json(
        &state,
        &helpdesk,
        &format!("/api/v1/exclusions/{}/entries", Uuid::new_v4()),
        json!({"user_id": id, "reason": "travelling", "until": until}),
    )
    .await;
    assert_eq!(unknown_group.status, StatusCode::NOT_FOUND);
    assert!(sim.fake.writes().is_empty(), "refused before Graph");

    let added = post_json(
        &state,
        &helpdesk,
        &format!("/api/v1/exclusions/{group}/entries"),
        json!({"user_id": id, "reason": "security key on order", "until": until}),
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let entry = added.json()["entry"].clone();
    assert_eq!(
        entry["added_by"].as_str().map(|s| s.starts_with("Hugo")),
        Some(true)
    );
    assert_eq!(entry["reason"], "security key on order");
    let writes = sim.fake.writes();
    assert_eq!(writes.len(), 1);
    assert!(writes[0].path.ends_with("/members/$ref") && writes[0].method == "POST");
    let announced = alerts(&db, "allowlist_added").await;
    assert_eq!(announced.len(), 1);
    assert!(
        announced[0].0.contains("Hugo") && announced[0].1.contains("security key on order"),
        "{announced:?}"
    );

    // Not twice.
    let twice = post_json(
        &state,
        &helpdesk,
        &format!("/api/v1/exclusions/{group}/entries"),
        json!({"user_id": id, "reason": "again", "until": until}),
    )
    .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert!(twice.body.contains("extend it instead"));

    // The next sync sees the join: no second, unannounced-join alert; /exclusions shows the entry.
    sync_ok(&db, &sim).await;
    assert_eq!(alerts(&db, "member_joined").await.len(), joins_before);
    let listed = get(&state, &helpdesk, "/api/v1/exclusions").await.json();
    let member = listed["groups"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["id"] == group.to_string()))
        .and_then(|g| g["members"].as_array())
        .and_then(|m| m.iter().find(|m| m["id"] == id.to_string()))
        .cloned()
        .expect("the member is listed");
    assert_eq!(member["entry"]["reason"], "security key on order");
    assert_eq!(member["entry"]["added_by"], entry["added_by"]);

    // Two replicas at its end: exactly one removes the member.
    let remover = |owner: &str| Remover {
        pool: db.pool.clone(),
        graph: writer(&sim),
        targets: Vec::new(),
        owner: owner.to_owned(),
    };
    let (a, b) = (remover("replica-a"), remover("replica-b"));
    let early = a.pass(Utc::now()).await.expect("pass");
    assert!(early.is_empty(), "nothing due before the end");
    let later = until + chrono::Duration::seconds(1);
    let (ra, rb) = tokio::join!(a.pass(later), b.pass(later));
    let closed = ra.expect("a").len() + rb.expect("b").len();
    assert_eq!(closed, 1);
    let deletes: Vec<_> = sim
        .fake
        .writes()
        .into_iter()
        .filter(|w| w.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert!(deletes[0].path.ends_with(&format!("/members/{id}/$ref")));
    assert_eq!(sim.fake.served().dangerous_calls, 0);
    assert_eq!(alerts(&db, "allowlist_removed").await.len(), 1);
    assert_eq!(log_rows(&db, "allowlist_expire", "done").await, 1);
    let end: (String, String) = sqlx::query_as("SELECT end_kind, ended_by FROM allowlist_entries")
        .fetch_one(&db.pool)
        .await
        .expect("entry");
    assert_eq!(end.0, "expired");
    // Nothing more to do at the next pass.
    assert!(a.pass(later).await.expect("pass").is_empty());
}

#[tokio::test]
async fn an_entry_is_extended_ended_early_or_closed_when_removed_by_hand() {
    let (db, sim, state) = setup(actions(&[Action::Allowlist], "10/1h")).await;
    let lead = agent(&db, "Lena", "Phoneless.SecurityLead").await;
    let group = watched_group(&db).await;
    let first = outsider(&db, group).await;
    let second = person(&db, &format!("{ORDINARY} AND user_id <> '{first}' AND user_id NOT IN (SELECT user_id FROM group_memberships WHERE group_id = '{group}' AND left_run IS NULL)")).await;

    // From the person page's form; a security lead may go past 14 days.
    let added = post_form(
        &state,
        &lead,
        &format!("/users/{first}/allowlist"),
        &[
            ("group_id", &group.to_string()),
            ("days", "30"),
            ("reason", "no phone at work"),
        ],
    )
    .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    assert_eq!(added.location, format!("/users/{first}#allowlist"));
    let entry_id: i64 = sqlx::query_scalar("SELECT id FROM allowlist_entries WHERE user_id = $1")
        .bind(first)
        .fetch_one(&db.pool)
        .await
        .expect("entry");
    let page = get(&state, &lead, &format!("/users/{first}")).await;
    assert!(
        page.body.contains("no phone at work") && page.body.contains("End now"),
        "{}",
        page.body
    );

    let extended = post_json(
        &state,
        &lead,
        &format!("/api/v1/exclusions/{group}/entries/{entry_id}/extend"),
        json!({"until": Utc::now() + chrono::Duration::days(40), "reason": "key delayed"}),
    )
    .await;
    assert_eq!(extended.status, StatusCode::OK, "{}", extended.body);
    assert_eq!(log_rows(&db, "allowlist_extend", "done").await, 1);

    let ended = post_json(
        &state,
        &lead,
        &format!("/api/v1/exclusions/{group}/entries/{entry_id}/end"),
        json!({"reason": "key arrived"}),
    )
    .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
    assert_eq!(ended.json()["entry"]["end_kind"], "ended");
    let deletes = sim
        .fake
        .writes()
        .into_iter()
        .filter(|w| w.method == "DELETE")
        .count();
    assert_eq!(deletes, 1);
    assert_eq!(alerts(&db, "allowlist_removed").await.len(), 1);

    // Removed by hand (in the admin center) before its end: the next sync closes it.
    let added = post_json(
        &state,
        &lead,
        &format!("/api/v1/exclusions/{group}/entries"),
        json!({"user_id": second, "reason": "travelling", "until": Utc::now() + chrono::Duration::days(5)}),
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    sync_ok(&db, &sim).await;
    sim.client()
        .remove_group_member(group, second)
        .await
        .expect("removed by hand");
    sync_ok(&db, &sim).await;
    let end: (String, Option<String>) =
        sqlx::query_as("SELECT end_kind, ended_by FROM allowlist_entries WHERE user_id = $1")
            .bind(second)
            .fetch_one(&db.pool)
            .await
            .expect("entry");
    assert_eq!(end.0, "removed_outside");
    assert_eq!(alerts(&db, "allowlist_removed").await.len(), 2);
    // The exclusions page lists the ended entries (the one closed by the sync is dated in the
    // simulated past, as its sync is); the person's page all of theirs.
    let page = get(&state, &lead, "/exclusions").await;
    assert!(page.body.contains("ended early by Lena"), "{}", page.body);
    let page = get(&state, &lead, &format!("/users/{second}")).await;
    assert!(
        page.body.contains("removed outside phoneless"),
        "{}",
        page.body
    );
}

// ---------------------------------------------------------------------------------------------
// The real binary

const BIN: &str = env!("CARGO_BIN_EXE_phoneless");

/// `phoneless serve --no-sync` with the actions on, against the simulated tenant; logs at
/// debug level into `log`.
async fn serve(db: &TestDb, sim: &Sim, log: &std::path::Path) -> (Killed, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut c = std::process::Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("PHONELESS_") || k == "DATABASE_URL" {
            c.env_remove(k);
        }
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log");
    let child = c
        .args(["serve", "--no-sync"])
        .env("DATABASE_URL", db_url(db))
        .env("PHONELESS_AUTH", "none")
        .env("PHONELESS_LISTEN", &listen)
        .env("PHONELESS_LOG", "debug")
        .env("PHONELESS_ACTIONS", "tap,allowlist")
        .env("PHONELESS_GRAPH_URL", &sim.url)
        .env("PHONELESS_LOGIN_URL", &sim.url)
        .env("PHONELESS_TENANT_ID", phoneless::sim::server::SIM_TENANT_ID)
        .env("PHONELESS_CLIENT_ID", phoneless::sim::server::SIM_CLIENT_ID)
        .env(
            "PHONELESS_CLIENT_SECRET",
            phoneless::sim::server::SIM_CLIENT_SECRET,
        )
        .env("PHONELESS_WRITE_CLIENT_ID", SIM_WRITE_CLIENT_ID)
        .env("PHONELESS_WRITE_CLIENT_SECRET", SIM_WRITE_CLIENT_SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("serve");
    let server = Killed(child);
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while http
        .get(format!("http://{listen}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (server, format!("http://{listen}"))
}

/// The forms' CSRF token of a `serve` with sign-in off (one per process).
async fn csrf_of(base: &str, id: Uuid) -> String {
    let page = reqwest::get(format!("{base}/users/{id}"))
        .await
        .expect("page")
        .text()
        .await
        .expect("text");
    let at = page.find("name=\"csrf_token\" value=\"").expect("a form")
        + "name=\"csrf_token\" value=\"".len();
    page[at..].split('"').next().expect("token").to_owned()
}

#[tokio::test]
async fn the_binary_keeps_a_pass_out_of_its_logs_and_removes_an_entry_after_a_restart() {
    let db = TestDb::new().await;
    // Writes only through the write registration: the syncer's stays read-only.
    let sim = Sim::start_with(
        300,
        FakeSettings {
            conditional_access_interval: Duration::ZERO,
            write_clients: Some(vec![SIM_WRITE_CLIENT_ID.to_owned()]),
            ..FakeSettings::default()
        },
    )
    .await;
    sync_ok(&db, &sim).await;
    let log = tempfile::NamedTempFile::new().expect("log");
    let id = person(&db, ORDINARY).await;
    let group = watched_group(&db).await;
    let outsider = outsider(&db, group).await;
    let http = reqwest::Client::new();

    let (first, base) = serve(&db, &sim, log.path()).await;
    let csrf = csrf_of(&base, id).await;
    let issued = http
        .post(format!("{base}/api/v1/users/{id}/tap"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"reason": "lost phone, verified"}))
        .send()
        .await
        .expect("tap");
    assert_eq!(issued.status(), 201);
    assert_eq!(issued.headers()["cache-control"], "no-store");
    let pass = issued.json::<Value>().await.expect("json")["temporary_access_pass"]
        .as_str()
        .expect("pass")
        .to_owned();
    let until = Utc::now() + chrono::Duration::seconds(2);
    let added = http
        .post(format!("{base}/api/v1/exclusions/{group}/entries"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"user_id": outsider, "reason": "no phone at work", "until": until}))
        .send()
        .await
        .expect("add");
    assert_eq!(
        added.status(),
        201,
        "{}",
        added.text().await.unwrap_or_default()
    );
    drop(first);

    // A new process after the end: it removes the member at once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_second, _) = serve(&db, &sim, log.path()).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ended = count(
            &db,
            "SELECT count(*) FROM allowlist_entries WHERE end_kind = 'expired'",
        )
        .await;
        if ended == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the entry was not removed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deletes: Vec<_> = sim
        .fake
        .writes()
        .into_iter()
        .filter(|w| w.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1);
    assert!(
        sim.fake
            .writes()
            .iter()
            .all(|w| w.client_id.as_deref() == Some(SIM_WRITE_CLIENT_ID))
    );

    // The pass is in no log line and nowhere in the database dump.
    let text = std::fs::read_to_string(log.path()).expect("log");
    assert!(text.contains("route=/api/v1/users/{id}/tap"), "{text}");
    assert!(!text.contains(&pass), "the pass is in the log");
    let dump = std::process::Command::new("pg_dump")
        .args(["--data-only", &db_url(&db)])
        .output()
        .expect("pg_dump");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.contains("allowlist_entries"), "a real dump");
    assert!(!dump.contains(&pass), "the pass is in the database");
}
