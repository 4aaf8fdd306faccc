//! Test harness: a real PostgreSQL (the server in `DATABASE_URL`, or a private one started from
//! the machine's binaries), a fresh migrated database per test, and the simulated tenant served
//! over real HTTP.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use chrono::NaiveDate;
use phoneless::credential::Credential;
use phoneless::db::embedded::EmbeddedPostgres;
use phoneless::graph::pacing::Rate;
use phoneless::graph::{Client, GraphSettings};
use phoneless::sim::server::{SIM_CLIENT_ID, SIM_CLIENT_SECRET, SIM_TENANT_ID};
use phoneless::sim::{FakeGraph, FakeSettings, Tenant};
use phoneless::sync::progress::Silent;
use phoneless::sync::{self, Outcome, RunReport, SyncError, SyncOptions};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgPool};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

enum Server {
    External(Box<PgConnectOptions>),
    Embedded(EmbeddedPostgres),
}

static SERVER: OnceLock<Server> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);
/// CREATE DATABASE copies template1; one at a time avoids "template1 is being accessed".
static CREATE_LOCK: tokio::sync::Mutex<bool> = tokio::sync::Mutex::const_new(false);

fn server_options() -> PgConnectOptions {
    let server = SERVER.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Server::External(Box::new(
            PgConnectOptions::from_str(&url).expect("DATABASE_URL is a valid PostgreSQL URL"),
        )),
        _ => Server::Embedded(
            EmbeddedPostgres::start_temporary(false).expect("start a private PostgreSQL"),
        ),
    });
    match server {
        Server::External(o) => (**o).clone(),
        Server::Embedded(pg) => {
            PgConnectOptions::from_str(&pg.url("postgres")).expect("embedded URL")
        }
    }
}

/// A fresh, migrated database of its own.
pub struct TestDb {
    pub pool: PgPool,
    pub options: PgConnectOptions,
    pub name: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let admin_options = server_options()
            .database("postgres")
            .disable_statement_logging();
        let name = format!(
            "phoneless_test_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::SeqCst)
        );
        {
            let mut cleaned = CREATE_LOCK.lock().await;
            let mut admin = admin_options
                .connect()
                .await
                .expect("connect to the test server");
            if !*cleaned {
                drop_stale_databases(&mut admin).await;
                *cleaned = true;
            }
            sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                .execute(&mut admin)
                .await
                .expect("create test database");
            let _ = admin.close().await;
        }
        let options = admin_options.database(&name);
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await
            .expect("connect to the test database");
        phoneless::db::migrate(&pool).await.expect("migrate");
        TestDb {
            pool,
            options,
            name,
        }
    }

    /// Closes every connection to this database from outside, as a restarting server would.
    pub async fn kill_connections(&self) -> u64 {
        let mut admin = self
            .options
            .clone()
            .database("postgres")
            .connect()
            .await
            .expect("admin connection");
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&self.name)
        .fetch_all(&mut admin)
        .await
        .expect("terminate backends");
        killed.len() as u64
    }
}

/// Databases left by test processes that are gone.
async fn drop_stale_databases(admin: &mut sqlx::PgConnection) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'phoneless\\_test\\_%'",
    )
    .fetch_all(&mut *admin)
    .await
    .unwrap_or_default();
    for name in names {
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()) {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut *admin)
                .await;
        }
    }
}

/// The URL of a test database, for a child process.
pub fn db_url(db: &TestDb) -> String {
    let o = &db.options;
    format!(
        "postgres://{}@{}:{}/{}",
        o.get_username(),
        o.get_host(),
        o.get_port(),
        db.name
    )
}

/// A child process, killed when dropped.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn start_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).expect("date")
}

/// A simulated tenant served over HTTP on a free port.
pub struct Sim {
    pub fake: FakeGraph,
    pub url: String,
}

impl Sim {
    pub async fn start(users: usize, report_page_size: usize) -> Sim {
        Sim::start_with(
            users,
            FakeSettings {
                report_page_size,
                // Tests sync many times a second; one test checks the real limit and pacing.
                conditional_access_interval: Duration::ZERO,
                ..FakeSettings::default()
            },
        )
        .await
    }

    pub async fn start_with(users: usize, settings: FakeSettings) -> Sim {
        let tenant = Tenant::generate(42, users, 60, start_date());
        let fake = FakeGraph::new(tenant, settings);
        fake.set_day(0);
        let url = fake.spawn().await.expect("start the fake Graph");
        Sim { fake, url }
    }

    /// Client settings for this fake: no pacing, fast backoff, short budgets.
    pub fn settings(&self) -> GraphSettings {
        GraphSettings {
            graph_url: self.url.clone(),
            login_url: self.url.clone(),
            tenant_id: SIM_TENANT_ID.to_owned(),
            client_id: SIM_CLIENT_ID.to_owned(),
            credential: Credential::Secret(SIM_CLIENT_SECRET.to_owned().into()),
            report_rate: Rate::UNLIMITED,
            conditional_access_rate: Rate::UNLIMITED,
            request_timeout: Duration::from_secs(5),
            retry_budget: Duration::from_secs(20),
            backoff_base: Duration::from_millis(10),
            users_page_size: 250,
        }
    }

    pub fn client(&self) -> Arc<Client> {
        Arc::new(Client::new(self.settings()).expect("client"))
    }
}

/// One sync of the fake's current day, dated at that day.
pub async fn sync_with(db: &TestDb, sim: &Sim, client: Arc<Client>) -> Result<Outcome, SyncError> {
    let now = sim.fake.tenant().report_refreshed(sim.fake.day()) + chrono::Duration::hours(1);
    sync::run(
        &db.pool,
        client,
        now,
        &SyncOptions::default(),
        Arc::new(Silent),
        &CancellationToken::new(),
    )
    .await
}

/// A sync running in the background (as the scheduler runs it); `cancel` stops it.
pub fn spawn_sync(
    db: &TestDb,
    sim: &Sim,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<Result<Outcome, SyncError>> {
    let pool = db.pool.clone();
    let client = sim.client();
    tokio::spawn(async move {
        sync::run(
            &pool,
            client,
            chrono::Utc::now(),
            &SyncOptions::default(),
            Arc::new(Silent),
            &cancel,
        )
        .await
    })
}

/// A sync that must succeed.
pub async fn sync_ok(db: &TestDb, sim: &Sim) -> RunReport {
    match sync_with(db, sim, sim.client()).await {
        Ok(Outcome::Succeeded(r)) => r,
        other => panic!("expected a successful sync, got {other:?}"),
    }
}

/// Row count of a table (all versions, rollups, runs).
pub async fn count(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&db.pool)
        .await
        .expect("count query")
}

/// The default retirement dates.
pub const DATES: phoneless::domain::retirement::Dates = phoneless::domain::retirement::Dates {
    early: NaiveDate::from_ymd_opt(2027, 2, 1).expect("date"),
    late: NaiveDate::from_ymd_opt(2027, 7, 1).expect("date"),
};

/// The web front's state over a test database (sign-in off, the default deadline).
pub fn web_state(db: &TestDb) -> phoneless::web::AppState {
    phoneless::web::AppState::new(
        db.pool.clone(),
        phoneless::web::WebSettings {
            listen: "127.0.0.1:0".parse().expect("addr"),
            public_url: None,
            auth: phoneless::config::AuthMode::None,
            deadlines: DATES,
            demo: false,
            roles: phoneless::auth::RoleMap::default(),
            session_idle: std::time::Duration::from_secs(3600),
            session_max: std::time::Duration::from_secs(12 * 3600),
            alert_targets: Vec::new(),
            sign_in: None,
            out_of_scope: Default::default(),
            actions: Default::default(),
        },
    )
}

/// One request through the real router: status and body.
pub async fn get(db: &TestDb, uri: &str) -> (axum::http::StatusCode, String) {
    get_in(&web_state(db), uri).await
}

/// One request through the router of `state` (whose caches live as long as it does). The body
/// of a redirect is its `Location`.
pub async fn get_in(
    state: &phoneless::web::AppState,
    uri: &str,
) -> (axum::http::StatusCode, String) {
    use tower::ServiceExt as _;
    let resp = phoneless::web::app(state.clone())
        .oneshot(
            axum::http::Request::get(uri)
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    let status = resp.status();
    if status.is_redirection() {
        let location = resp
            .headers()
            .get(axum::http::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        return (status, location);
    }
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .expect("body");
    (status, String::from_utf8(bytes.to_vec()).expect("utf-8"))
}

pub async fn get_json(db: &TestDb, uri: &str) -> (axum::http::StatusCode, serde_json::Value) {
    let (status, body) = get(db, uri).await;
    (
        status,
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{uri} answered non-JSON ({e}): {body}")),
    )
}

/// Web settings with sign-in on, against this fake's identity provider, for an app reached at
/// `public_url` (default roles, one-hour idle and twelve-hour sessions).
pub fn sign_in_config(sim: &Sim, public_url: &str) -> phoneless::web::WebSettings {
    phoneless::web::WebSettings {
        listen: "127.0.0.1:0".parse().expect("addr"),
        public_url: Some(public_url.to_owned()),
        auth: phoneless::config::AuthMode::Entra,
        deadlines: DATES,
        demo: false,
        roles: phoneless::auth::RoleMap::default(),
        session_idle: Duration::from_secs(3600),
        session_max: Duration::from_secs(12 * 3600),
        alert_targets: Vec::new(),
        out_of_scope: Default::default(),
        actions: Default::default(),
        sign_in: Some(phoneless::auth::SignInSettings {
            login_url: sim.url.clone(),
            tenant_id: SIM_TENANT_ID.to_owned(),
            client_id: SIM_CLIENT_ID.to_owned(),
            credential: Credential::Secret(SIM_CLIENT_SECRET.to_owned().into()),
            redirect_url: format!("{public_url}/auth/callback"),
        }),
    }
}

/// An answer of the real router: status, the headers tests read, body.
pub struct Answer {
    pub status: axum::http::StatusCode,
    /// `Location` (redirects), empty when none.
    pub location: String,
    pub cache_control: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One request through the router of `state`, with these headers and a body of a content
/// type (`(kind, body)`).
pub async fn send(
    state: &phoneless::web::AppState,
    method: axum::http::Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, String)>,
) -> Answer {
    use axum::http::header;
    use tower::ServiceExt as _;
    let mut request = axum::http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let body = match body {
        Some((kind, b)) => {
            request = request.header(header::CONTENT_TYPE, kind);
            axum::body::Body::from(b)
        }
        None => axum::body::Body::empty(),
    };
    let response = phoneless::web::app(state.clone())
        .oneshot(request.body(body).expect("request"))
        .await
        .expect("response");
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (status, location, cache_control) = (
        response.status(),
        header(header::LOCATION),
        header(header::CACHE_CONTROL),
    );
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .expect("body");
    Answer {
        status,
        location,
        cache_control,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}
