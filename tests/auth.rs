//! Sign-in, sessions, roles and the web's defences, through the real router and the simulated
//! tenant's identity provider over real HTTP: the whole OpenID Connect flow, every kind of bad
//! ID token refused, a replayed `state` refused, a role matrix over every route, CSRF, and the
//! security headers.

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use common::{Sim, TestDb, count, sync_ok};
use phoneless::auth::{Role, RoleMap};
use phoneless::sim::{FakeSettings, Faults, IdTokenFault};
use phoneless::web::WebSettings;
use phoneless::web::access::Access;
use phoneless::web::{self, AppState};
use std::collections::{BTreeMap, BTreeSet};
use tower::ServiceExt as _;

/// The address the app believes it is reached at (the router is driven directly).
const PUBLIC_URL: &str = "http://127.0.0.1:8080";
/// A group mapped to the helpdesk role, next to the default app roles.
const HELPDESK_GROUP: &str = "5b0e3c1a-6a57-4c34-9f0e-2f5a8c1d7e90";

async fn sim() -> Sim {
    Sim::start_with(
        120,
        FakeSettings {
            redirect_uris: vec![format!("{PUBLIC_URL}/auth/callback")],
            ..FakeSettings::default()
        },
    )
    .await
}

/// Sign-in against the simulated tenant; helpdesk also by group.
fn config(sim: &Sim, public_url: &str) -> WebSettings {
    WebSettings {
        roles: RoleMap::parse([
            (Role::SecurityLead, "Phoneless.SecurityLead"),
            (
                Role::Helpdesk,
                &format!("Phoneless.Helpdesk,{HELPDESK_GROUP}"),
            ),
            (Role::Viewer, "Phoneless.Viewer"),
        ])
        .expect("roles"),
        ..common::sign_in_config(sim, public_url)
    }
}

fn state(db: &TestDb, sim: &Sim) -> AppState {
    AppState::new(db.pool.clone(), config(sim, PUBLIC_URL))
}

/// An answer: status, headers, body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
    }
}

/// A browser: a cookie jar in front of the real router.
#[derive(Clone, Default)]
struct Browser {
    cookies: BTreeMap<String, String>,
    /// Extra headers sent with every request.
    extra: Vec<(String, String)>,
}

impl Browser {
    async fn send(
        &mut self,
        state: &AppState,
        method: Method,
        uri: &str,
        form: Option<&str>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        if !self.cookies.is_empty() {
            let jar = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header(header::COOKIE, jar);
        }
        for (k, v) in &self.extra {
            request = request.header(k.as_str(), v.as_str());
        }
        let body = match form {
            Some(f) => {
                request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(f.to_owned())
            }
            None => Body::empty(),
        };
        let response = web::app(state.clone())
            .oneshot(request.body(body).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        for set in headers.get_all(header::SET_COOKIE) {
            let set = set.to_str().expect("ascii cookie");
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .expect("body");
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&mut self, state: &AppState, uri: &str) -> Answer {
        self.send(state, Method::GET, uri, None).await
    }

    async fn post(&mut self, state: &AppState, uri: &str, form: &str) -> Answer {
        self.send(state, Method::POST, uri, Some(form)).await
    }

    /// Starts a sign-in and lets the identity provider sign in `upn` with `roles` and
    /// `groups`: the callback's address (path and query) and the raw redirect from Entra.
    async fn start_sign_in(
        &mut self,
        state: &AppState,
        sim: &Sim,
        next: &str,
        upn: &str,
        roles: &str,
        groups: &str,
    ) -> String {
        let start = self
            .get(state, &format!("/auth/login?next={}", urlencode(next)))
            .await;
        assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
        let authorize = start.location().to_owned();
        assert!(authorize.starts_with(&sim.url), "{authorize}");
        for needed in [
            "code_challenge=",
            "code_challenge_method=S256",
            "nonce=",
            "state=",
            "response_type=code",
            "scope=openid",
        ] {
            assert!(authorize.contains(needed), "{needed} missing: {authorize}");
        }
        let idp = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let answer = idp
            .get(format!(
                "{authorize}&sim_user={}&sim_roles={}&sim_groups={}",
                urlencode(upn),
                urlencode(roles),
                urlencode(groups)
            ))
            .send()
            .await
            .expect("authorize");
        assert_eq!(answer.status(), reqwest::StatusCode::FOUND);
        let back = answer
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .expect("redirect back")
            .to_owned();
        let path = back
            .strip_prefix(PUBLIC_URL)
            .unwrap_or_else(|| panic!("back to the redirect URI: {back}"));
        path.to_owned()
    }

    /// A whole sign-in; the callback's answer.
    async fn sign_in(
        &mut self,
        state: &AppState,
        sim: &Sim,
        upn: &str,
        roles: &str,
        groups: &str,
    ) -> Answer {
        let callback = self
            .start_sign_in(state, sim, "/", upn, roles, groups)
            .await;
        self.get(state, &callback).await
    }

    /// The CSRF token in the last page's sign-out form.
    fn csrf(page: &str) -> String {
        let at = page
            .find("name=\"csrf_token\" value=\"")
            .expect("a form with a CSRF token")
            + "name=\"csrf_token\" value=\"".len();
        page[at..].split('"').next().expect("token").to_owned()
    }
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A person of the simulated tenant who can sign in (a member there from day 0, enabled).
fn someone(sim: &Sim, nth: usize) -> (String, String) {
    let p = sim
        .fake
        .tenant()
        .people
        .iter()
        .filter(|p| p.joins == 0 && p.leaves.is_none() && !p.disabled && !p.guest)
        .nth(nth)
        .expect("enough people");
    (p.upn.clone(), p.id.clone())
}

#[tokio::test]
async fn the_whole_sign_in_flow_and_sign_out() {
    let db = TestDb::new().await;
    let sim = sim().await;
    sync_ok(&db, &sim).await;
    let state = state(&db, &sim);
    let (upn, id) = someone(&sim, 0);
    let mut browser = Browser::default();

    // Not signed in: a page sends the browser to sign in, and back to it afterwards.
    let first = browser.get(&state, "/users?state=phone_only").await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert_eq!(
        first.location(),
        "/auth/login?next=%2Fusers%3Fstate%3Dphone_only"
    );
    let callback = browser
        .start_sign_in(
            &state,
            &sim,
            "/users?state=phone_only",
            &upn,
            "Phoneless.Helpdesk",
            "",
        )
        .await;
    let signed = browser.get(&state, &callback).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    assert_eq!(signed.location(), "/users?state=phone_only");
    let set_cookie: Vec<&str> = signed
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let session = set_cookie
        .iter()
        .find(|c| c.starts_with("phoneless="))
        .expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(session.contains(attribute), "{attribute}: {session}");
    }
    assert!(!session.contains("Secure"), "http: no Secure: {session}");
    assert!(
        !browser.cookies.contains_key("phoneless-signin"),
        "the sign-in cookie is cleared"
    );

    let page = browser.get(&state, "/users?state=phone_only").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(&upn),
        "the header names who is signed in"
    );
    assert!(page.body.contains("Helpdesk"));
    assert!(
        !page.body.contains("Download as CSV"),
        "helpdesk has no bulk export"
    );

    // The access log names the real person, by object id.
    let look = browser.get(&state, &format!("/users/{id}")).await;
    assert_eq!(look.status, StatusCode::OK);
    let (actor, object): (String, Option<uuid::Uuid>) = sqlx::query_as(
        "SELECT actor, actor_object FROM access_log WHERE action = 'view' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .expect("logged");
    assert!(actor.contains(&upn), "{actor}");
    assert_eq!(object.map(|o| o.to_string()), Some(id.clone()));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM access_log WHERE action = 'sign_in'"
        )
        .await,
        1
    );

    // Sign-out takes a POST with the session's CSRF token.
    let confirm = browser.get(&state, "/auth/logout").await;
    assert_eq!(confirm.status, StatusCode::OK);
    let token = Browser::csrf(&confirm.body);
    let forged = browser
        .post(&state, "/auth/logout", "csrf_token=nope")
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let out = browser
        .post(&state, "/auth/logout", &format!("csrf_token={token}"))
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(!browser.cookies.contains_key("phoneless"));
    assert_eq!(
        count(&db, "SELECT count(*) FROM web_sessions").await,
        0,
        "the session is gone from the database"
    );
    let after = browser.get(&state, "/users").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(after.location().starts_with("/auth/login"));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM access_log WHERE action = 'sign_out'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn bad_id_tokens_are_refused() {
    let db = TestDb::new().await;
    let sim = sim().await;
    let state = state(&db, &sim);
    let (upn, _) = someone(&sim, 1);
    for fault in IdTokenFault::ALL {
        sim.fake.set_faults(Faults {
            id_token: Some(fault),
            ..Faults::default()
        });
        let mut browser = Browser::default();
        let answer = browser
            .sign_in(&state, &sim, &upn, "Phoneless.SecurityLead", "")
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{fault:?}: {}",
            answer.body
        );
        assert!(answer.body.contains("could not be verified"), "{fault:?}");
        assert!(!browser.cookies.contains_key("phoneless"), "{fault:?}");
        assert_eq!(
            browser.get(&state, "/").await.status,
            StatusCode::SEE_OTHER,
            "{fault:?}: still not signed in"
        );
    }
    assert_eq!(count(&db, "SELECT count(*) FROM web_sessions").await, 0);
    // The faults were used up: the same person now signs in.
    let mut browser = Browser::default();
    let good = browser
        .sign_in(&state, &sim, &upn, "Phoneless.SecurityLead", "")
        .await;
    assert_eq!(good.status, StatusCode::SEE_OTHER, "{}", good.body);
}

#[tokio::test]
async fn a_state_works_once_and_only_in_its_own_browser() {
    let db = TestDb::new().await;
    let sim = sim().await;
    let state = state(&db, &sim);
    let (upn, _) = someone(&sim, 2);

    let mut browser = Browser::default();
    let callback = browser
        .start_sign_in(&state, &sim, "/", &upn, "Phoneless.Viewer", "")
        .await;
    let jar = browser.cookies.clone();
    assert_eq!(
        browser.get(&state, &callback).await.status,
        StatusCode::SEE_OTHER
    );
    // Replayed, even with the sign-in cookie it had.
    let mut replay = Browser {
        cookies: jar,
        ..Browser::default()
    };
    let again = replay.get(&state, &callback).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.body.contains("already used"), "{}", again.body);
    assert!(!replay.cookies.contains_key("phoneless"));

    // A callback in a browser that did not start the sign-in (login CSRF).
    let mut starter = Browser::default();
    let callback = starter
        .start_sign_in(&state, &sim, "/", &upn, "Phoneless.Viewer", "")
        .await;
    let mut other = Browser::default();
    let refused = other.get(&state, &callback).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("another browser"), "{}", refused.body);
    assert!(!other.cookies.contains_key("phoneless"));

    // Entra's own refusal (the person cancelled) is said in words.
    let mut cancelled = Browser::default();
    let start = cancelled.get(&state, "/auth/login").await;
    let st = start
        .location()
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("state="))
        .expect("state")
        .to_owned();
    let answer = cancelled
        .get(
            &state,
            &format!(
                "/auth/callback?error=access_denied&error_description=AADSTS65004%3A+User+declined&state={st}"
            ),
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.body.contains("User declined"), "{}", answer.body);
    // The same state cannot be used afterwards with a real code either.
    assert_eq!(
        cancelled
            .get(&state, &format!("/auth/callback?code=x&state={st}"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn signing_in_again_rotates_the_session_and_keys_are_refetched() {
    let db = TestDb::new().await;
    let sim = sim().await;
    let state = state(&db, &sim);
    let (upn, _) = someone(&sim, 3);
    let mut browser = Browser::default();
    browser
        .sign_in(&state, &sim, &upn, "Phoneless.Viewer", "")
        .await;
    let first = browser.cookies.get("phoneless").cloned().expect("session");
    let old_browser = browser.clone();

    // Entra rolls its signing key: the next token names a key id the app has not seen.
    sim.fake.rotate_signing_key();
    let answer = browser
        .sign_in(&state, &sim, &upn, "Phoneless.Viewer", "")
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let second = browser.cookies.get("phoneless").cloned().expect("session");
    assert_ne!(first, second, "a new session id at every sign-in");
    let mut old = old_browser;
    assert_eq!(
        old.get(&state, "/").await.status,
        StatusCode::SEE_OTHER,
        "the old session ended"
    );
    assert_eq!(browser.get(&state, "/").await.status, StatusCode::OK);
    assert_eq!(count(&db, "SELECT count(*) FROM web_sessions").await, 1);
}

#[tokio::test]
async fn sessions_expire_and_can_be_revoked() {
    let db = TestDb::new().await;
    let sim = sim().await;
    let state = state(&db, &sim);
    let (lead, _) = someone(&sim, 4);
    let (agent, _) = someone(&sim, 5);
    let mut boss = Browser::default();
    boss.sign_in(&state, &sim, &lead, "Phoneless.SecurityLead", "")
        .await;
    let mut helpdesk = Browser::default();
    helpdesk
        .sign_in(&state, &sim, &agent, "", HELPDESK_GROUP)
        .await;
    assert_eq!(
        helpdesk.get(&state, "/lookup").await.status,
        StatusCode::OK,
        "helpdesk by group"
    );

    // The security lead sees both sessions and ends the agent's.
    let list = boss.get(&state, "/sessions").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains(&agent) && list.body.contains(&lead));
    let handle: uuid::Uuid =
        sqlx::query_scalar("SELECT handle FROM web_sessions WHERE username = $1")
            .bind(&agent)
            .fetch_one(&db.pool)
            .await
            .expect("agent's session");
    let token = Browser::csrf(&list.body);
    let revoke = format!("/sessions/{handle}/revoke");
    assert_eq!(
        boss.post(&state, &revoke, "csrf_token=wrong").await.status,
        StatusCode::FORBIDDEN
    );
    let done = boss
        .post(&state, &revoke, &format!("csrf_token={token}"))
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(
        helpdesk.get(&state, "/lookup").await.status,
        StatusCode::SEE_OTHER,
        "revoked: back to sign-in"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM access_log WHERE action = 'session_revoked'"
        )
        .await,
        1
    );

    // Idle and absolute expiry.
    assert_eq!(boss.get(&state, "/").await.status, StatusCode::OK);
    sqlx::query("UPDATE web_sessions SET last_seen_at = now() - interval '61 minutes'")
        .execute(&db.pool)
        .await
        .expect("idle");
    assert_eq!(boss.get(&state, "/").await.status, StatusCode::SEE_OTHER);
    boss.sign_in(&state, &sim, &lead, "Phoneless.SecurityLead", "")
        .await;
    assert_eq!(boss.get(&state, "/").await.status, StatusCode::OK);
    sqlx::query("UPDATE web_sessions SET expires_at = now() - interval '1 second'")
        .execute(&db.pool)
        .await
        .expect("expire");
    assert_eq!(boss.get(&state, "/").await.status, StatusCode::SEE_OTHER);
}

/// What each caller gets from a route.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Served (2xx, or the route's own answer such as a redirect to the page itself).
    Served,
    /// Sent to sign in (pages) or 401 (API).
    SignIn,
    /// 403.
    Refused,
}

/// Every route with the least role it needs: **add a row here when you add a route**; the test
/// fails until the table and the router agree.
const MATRIX: [(&str, &str, Option<Role>); 41] = [
    ("GET", "/healthz", None),
    ("GET", "/static/style.css", None),
    ("GET", "/auth/login", None),
    ("GET", "/auth/callback", None),
    ("GET", "/auth/logout", None),
    ("GET", "/", Some(Role::Viewer)),
    ("GET", "/departments", Some(Role::Viewer)),
    ("GET", "/departments/view", Some(Role::Viewer)),
    ("GET", "/sync", Some(Role::Viewer)),
    ("GET", "/posture", Some(Role::Viewer)),
    ("GET", "/exclusions", Some(Role::Helpdesk)),
    ("GET", "/alerts", Some(Role::SecurityLead)),
    ("GET", "/users", Some(Role::Helpdesk)),
    ("GET", "/users.csv", Some(Role::SecurityLead)),
    ("GET", "/lookup", Some(Role::Helpdesk)),
    ("GET", "/users/{id}", Some(Role::Helpdesk)),
    ("POST", "/users/{id}/reason", Some(Role::Helpdesk)),
    ("GET", "/audit", Some(Role::SecurityLead)),
    ("GET", "/audit.csv", Some(Role::SecurityLead)),
    ("GET", "/sessions", Some(Role::SecurityLead)),
    (
        "POST",
        "/sessions/{handle}/revoke",
        Some(Role::SecurityLead),
    ),
    ("GET", "/api/v1/summary", Some(Role::Viewer)),
    ("GET", "/api/v1/trend", Some(Role::Viewer)),
    ("GET", "/api/v1/departments", Some(Role::Viewer)),
    ("GET", "/api/v1/sync/runs", Some(Role::Viewer)),
    ("GET", "/api/v1/users", Some(Role::Helpdesk)),
    ("GET", "/api/v1/users/{id}", Some(Role::Helpdesk)),
    ("GET", "/api/v1/users/{id}/reason", Some(Role::Helpdesk)),
    ("GET", "/api/v1/posture", Some(Role::Viewer)),
    ("GET", "/api/v1/exclusions", Some(Role::Helpdesk)),
    ("GET", "/api/v1/alerts", Some(Role::SecurityLead)),
    ("GET", "/api/v1/usage", Some(Role::Viewer)),
    // The write actions (off here: an allowed caller gets 404).
    ("POST", "/users/{id}/tap", Some(Role::Helpdesk)),
    ("POST", "/api/v1/users/{id}/tap", Some(Role::Helpdesk)),
    ("POST", "/users/{id}/allowlist", Some(Role::Helpdesk)),
    ("POST", "/exclusions/entries", Some(Role::Helpdesk)),
    (
        "POST",
        "/api/v1/exclusions/{group_id}/entries",
        Some(Role::Helpdesk),
    ),
    (
        "POST",
        "/exclusions/{group_id}/entries/{entry_id}/end",
        Some(Role::Helpdesk),
    ),
    (
        "POST",
        "/api/v1/exclusions/{group_id}/entries/{entry_id}/end",
        Some(Role::Helpdesk),
    ),
    (
        "POST",
        "/exclusions/{group_id}/entries/{entry_id}/extend",
        Some(Role::Helpdesk),
    ),
    (
        "POST",
        "/api/v1/exclusions/{group_id}/entries/{entry_id}/extend",
        Some(Role::Helpdesk),
    ),
];

#[tokio::test]
async fn every_route_as_every_role() {
    // The matrix covers exactly the router's routes, with the same access.
    let table: BTreeMap<&str, Access> = web::access_table().iter().copied().collect();
    let matrix: BTreeSet<&str> = MATRIX.iter().map(|(_, path, _)| *path).collect();
    assert_eq!(
        table.keys().copied().collect::<BTreeSet<_>>(),
        matrix,
        "a route was added or removed: say who may use it in MATRIX"
    );
    for (_, path, need) in MATRIX {
        let expected = match (path, need) {
            (_, Some(role)) => Access::Role(role),
            ("/healthz" | "/static/style.css", None) => Access::Public,
            (_, None) => Access::SignIn,
        };
        assert_eq!(table[path], expected, "{path}");
    }
    assert_eq!(web::access_table().len(), MATRIX.len(), "one row per route");

    let db = TestDb::new().await;
    let sim = sim().await;
    sync_ok(&db, &sim).await;
    let state = state(&db, &sim);
    let (_, user_id) = someone(&sim, 0);
    let mut callers: Vec<(&str, Option<Role>, Browser, String)> =
        vec![("nobody", None, Browser::default(), String::new())];
    for (i, (name, roles, role)) in [
        ("no role", "", None),
        ("viewer", "Phoneless.Viewer", Some(Role::Viewer)),
        ("helpdesk", "Phoneless.Helpdesk", Some(Role::Helpdesk)),
        (
            "security lead",
            "Phoneless.SecurityLead,Phoneless.Viewer",
            Some(Role::SecurityLead),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (upn, _) = someone(&sim, 10 + i);
        let mut b = Browser::default();
        let answer = b.sign_in(&state, &sim, &upn, roles, "").await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{name}");
        // The session's CSRF token, from the sign-out page's form.
        let token = Browser::csrf(&b.get(&state, "/auth/logout").await.body);
        callers.push((name, role, b, token));
    }
    let mut failures = Vec::new();
    for (method, path, need) in MATRIX {
        let uri = path
            .replace("{id}", &user_id)
            .replace("{handle}", &uuid::Uuid::new_v4().to_string())
            .replace("{group_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{entry_id}", "1");
        for (name, role, browser, token) in &mut callers {
            let signed_in = *name != "nobody";
            let expect = match need {
                None => Expect::Served,
                Some(_) if !signed_in && method == "GET" => Expect::SignIn,
                Some(n) if role.is_some_and(|r| r >= n) => Expect::Served,
                _ => Expect::Refused,
            };
            let answer = if method == "POST" {
                browser
                    .post(&state, &uri, &format!("csrf_token={token}"))
                    .await
            } else {
                browser.get(&state, &uri).await
            };
            let api = uri.starts_with("/api/");
            let got = match answer.status {
                StatusCode::UNAUTHORIZED if api => Expect::SignIn,
                StatusCode::SEE_OTHER if answer.location().starts_with("/auth/login") => {
                    Expect::SignIn
                }
                StatusCode::FORBIDDEN => Expect::Refused,
                s if s.is_success() || s.is_redirection() => Expect::Served,
                // The revoke of a session that does not exist: allowed, then not found; so
                // is a write action that is switched off.
                StatusCode::NOT_FOUND if path.contains("{handle}") || method == "POST" => {
                    Expect::Served
                }
                // The callback without a sign-in: allowed, then refused as a bad request.
                StatusCode::BAD_REQUEST if path == "/auth/callback" => Expect::Served,
                // A reason form without a reason: allowed, then refused as a bad request.
                StatusCode::BAD_REQUEST if path == "/users/{id}/reason" => Expect::Served,
                _ => {
                    failures.push(format!(
                        "{method} {uri} as {name}: unexpected {} {}",
                        answer.status,
                        &answer.body[..answer.body.len().min(200)]
                    ));
                    continue;
                }
            };
            if got != expect {
                failures.push(format!(
                    "{method} {uri} as {name}: expected {expect:?}, got {got:?} ({})",
                    answer.status
                ));
            }
            if api && matches!(got, Expect::SignIn | Expect::Refused) {
                let json: serde_json::Value = serde_json::from_str(&answer.body)
                    .unwrap_or_else(|_| panic!("{uri} as {name}: JSON error, got {}", answer.body));
                assert!(json["error"].is_string(), "{uri}: {json}");
            }
            if *name == "no role" && got == Expect::Refused && !api && method == "GET" {
                assert!(
                    answer.body.contains("Ask for access"),
                    "{uri}: the polite page"
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn the_defences_are_in_every_answer() {
    let db = TestDb::new().await;
    let sim = sim().await;
    let state = state(&db, &sim);
    let mut browser = Browser::default();

    for uri in ["/healthz", "/", "/auth/logout", "/nowhere"] {
        let answer = browser.get(&state, uri).await;
        let h = |name: &str| {
            answer
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let csp = h("content-security-policy");
        for part in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(part), "{uri}: {part} in {csp}");
        }
        assert!(
            !csp.contains("script-src") && !csp.contains("unsafe"),
            "{uri}: {csp}"
        );
        assert_eq!(h("x-content-type-options"), "nosniff", "{uri}");
        assert_eq!(h("referrer-policy"), "same-origin", "{uri}");
        assert_eq!(h("x-frame-options"), "DENY", "{uri}");
        assert_eq!(
            h("strict-transport-security"),
            "",
            "{uri}: no HSTS over http"
        );
        assert_eq!(h("cache-control"), "no-store", "{uri}");
    }

    // Oversized requests are refused before any handler.
    let long = format!("/lookup?q={}", "a".repeat(5000));
    assert_eq!(
        browser.get(&state, &long).await.status,
        StatusCode::URI_TOO_LONG
    );
    let mut big = Browser {
        extra: vec![("x-padding".into(), "b".repeat(20_000))],
        ..Browser::default()
    };
    assert_eq!(
        big.get(&state, "/healthz").await.status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );

    // A state-changing request from another site is refused even with the right token; the
    // token may also come in a header.
    let (upn, _) = someone(&sim, 6);
    browser
        .sign_in(&state, &sim, &upn, "Phoneless.Viewer", "")
        .await;
    let token = Browser::csrf(&browser.get(&state, "/auth/logout").await.body);
    let mut missing = browser.clone();
    assert_eq!(
        missing.post(&state, "/auth/logout", "").await.status,
        StatusCode::FORBIDDEN,
        "no token at all"
    );
    let mut cross = browser.clone();
    cross.extra = vec![("sec-fetch-site".into(), "cross-site".into())];
    assert_eq!(
        cross
            .post(&state, "/auth/logout", &format!("csrf_token={token}"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let mut by_header = browser.clone();
    by_header.extra = vec![("x-csrf-token".into(), token.clone())];
    assert_eq!(
        by_header
            .send(&state, Method::POST, "/auth/logout", None)
            .await
            .status,
        StatusCode::SEE_OTHER
    );

    // Under https: Secure cookies with the __Host- prefix, and HSTS.
    let https = AppState::new(
        db.pool.clone(),
        config(&sim, "https://phoneless.contoso.example"),
    );
    let mut secure = Browser::default();
    let start = secure.get(&https, "/auth/login").await;
    assert_eq!(start.status, StatusCode::SEE_OTHER);
    let cookie = start
        .headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("sign-in cookie");
    assert!(
        cookie.starts_with("__Host-phoneless-signin=") && cookie.contains("; Secure"),
        "{cookie}"
    );
    assert!(
        start
            .headers
            .get("strict-transport-security")
            .is_some_and(|v| v.to_str().is_ok_and(|v| v.starts_with("max-age="))),
    );
}

#[tokio::test]
async fn viewers_see_counts_not_people() {
    let db = TestDb::new().await;
    let sim = sim().await;
    sync_ok(&db, &sim).await;
    let state = state(&db, &sim);
    let (upn, _) = someone(&sim, 7);
    let mut viewer = Browser::default();
    viewer
        .sign_in(&state, &sim, &upn, "Phoneless.Viewer", "")
        .await;
    let overview = viewer.get(&state, "/").await;
    assert_eq!(overview.status, StatusCode::OK);
    for hidden in [
        "href=\"/users\"",
        "href=\"/lookup\"",
        "href=\"/audit\"",
        "role=\"search\"",
    ] {
        assert!(
            !overview.body.contains(hidden),
            "viewer's page has {hidden}"
        );
    }
    let departments = viewer.get(&state, "/departments").await;
    let group = departments
        .body
        .split("href=\"/departments/view?")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a group link")
        .replace("&amp;", "&");
    let page = viewer
        .get(&state, &format!("/departments/view?{group}"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("migrated"));
    assert!(
        !page.body.contains("Still on the phone:"),
        "no people for viewers"
    );
    assert!(!page.body.contains("/users/"), "no links to people");
}
