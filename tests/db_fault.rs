//! The database goes away under a running `phoneless serve` and comes back: a private
//! PostgreSQL of this test's own, stopped (`pg_ctl stop -m fast`) and started again on the same
//! data and port while the real binary serves.
//!
//! While it is away: `/healthz` answers 503 within a second, every time; pages answer 503 with
//! an HTML page, the API with its JSON error, the first within the pool's wait and the next ones
//! at once; every answer keeps the security headers. Once it is back: the same process answers
//! 200 again within seconds, with everything it showed before.

mod common;

use common::Sim;
use phoneless::db::embedded::EmbeddedPostgres;
use phoneless::sync::progress::Silent;
use phoneless::sync::{self, Outcome, SyncOptions};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const BIN: &str = env!("CARGO_BIN_EXE_phoneless");

/// `/healthz` answers within this, whatever the database does.
const HEALTH_BOUND: Duration = Duration::from_secs(1);
/// A page or the API, once the database is known to be away.
const FAST_BOUND: Duration = Duration::from_secs(1);
/// The first request to find it away waits for the pool, no longer.
const FIRST_BOUND: Duration = Duration::from_millis(2_800);
/// Back to normal after the database is, without a restart.
const RECOVERY_BOUND: Duration = Duration::from_secs(5);

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An answer: status, content type, whether it has the security headers, body, time taken.
struct Answer {
    status: u16,
    content_type: String,
    secure: bool,
    body: String,
    took: Duration,
}

async fn fetch(http: &reqwest::Client, base: &str, path: &str) -> Answer {
    let started = Instant::now();
    let r = http
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: no answer: {e}"));
    let status = r.status().as_u16();
    let h = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let content_type = h("content-type");
    let secure = h("content-security-policy").contains("default-src 'none'")
        && h("x-content-type-options") == "nosniff"
        && h("cache-control") == "no-store";
    let body = r.text().await.unwrap_or_default();
    Answer {
        status,
        content_type,
        secure,
        body,
        took: started.elapsed(),
    }
}

/// A sync of the fake's `day`, in this process; its run id.
async fn sync_day(url: &str, sim: &Sim, day: u32) -> i64 {
    let pool = phoneless::db::connect(url).await.expect("connect");
    phoneless::db::migrate(&pool).await.expect("migrate");
    sim.fake.set_day(day);
    let now = sim.fake.tenant().report_refreshed(day) + chrono::Duration::hours(1);
    let outcome = sync::run(
        &pool,
        sim.client(),
        now,
        &SyncOptions::default(),
        Arc::new(Silent),
        &CancellationToken::new(),
    )
    .await;
    pool.close().await;
    match outcome {
        Ok(Outcome::Succeeded(r)) => r.run_id,
        other => panic!("expected a successful sync, got {other:?}"),
    }
}

#[tokio::test]
async fn the_database_stops_and_starts_under_serve() {
    let pg = EmbeddedPostgres::start_temporary(false).expect("a private PostgreSQL");
    phoneless::db::create_database(&pg.url("postgres"), "phoneless")
        .await
        .expect("create the database");
    let url = pg.url("phoneless");

    // Some history: two syncs of the simulated tenant.
    let sim = Sim::start(300, 100).await;
    for day in [0, 15] {
        sync_day(&url, &sim, day).await;
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let log = tempfile::NamedTempFile::new().expect("log file");
    let mut command = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("PHONELESS_") || k == "DATABASE_URL" {
            command.env_remove(k);
        }
    }
    let mut serve = Killed(
        command
            .args(["serve", "--no-sync"])
            .env("DATABASE_URL", &url)
            .env("PHONELESS_AUTH", "none")
            .env("PHONELESS_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("log"))
            .spawn()
            .expect("serve"),
    );
    let serve_log = || std::fs::read_to_string(log.path()).unwrap_or_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let up = Instant::now();
    while !http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            up.elapsed() < Duration::from_secs(20),
            "serve did not come up:\n{}",
            serve_log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let paths = [
        "/api/v1/summary",
        "/api/v1/sync/runs",
        "/api/v1/users?state=all&user_type=all&limit=500",
        "/api/v1/departments",
    ];
    let mut before = Vec::new();
    for path in paths {
        let a = fetch(&http, &base, path).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        before.push(a.body);
    }
    let page = fetch(&http, &base, "/users").await;
    assert_eq!(page.status, 200);

    // Away.
    pg.stop();
    let mut health = Vec::new();
    for _ in 0..3 {
        let a = fetch(&http, &base, "/healthz").await;
        assert_eq!(a.status, 503, "/healthz: {}", a.body);
        assert!(a.took < HEALTH_BOUND, "/healthz took {:?}", a.took);
        assert!(a.secure, "/healthz without the security headers");
        health.push(a.took);
    }
    let first = fetch(&http, &base, "/").await;
    assert_eq!(first.status, 503, "{}", first.body);
    assert!(
        first.took < FIRST_BOUND,
        "the first page took {:?}",
        first.took
    );
    let mut fast = Vec::new();
    for path in ["/users", "/departments", "/api/v1/summary", "/sync", "/"] {
        let a = fetch(&http, &base, path).await;
        assert_eq!(a.status, 503, "{path}: {}", a.body);
        assert!(a.took < FAST_BOUND, "{path} took {:?}", a.took);
        assert!(a.secure, "{path} without the security headers");
        if path.starts_with("/api/") {
            assert!(a.content_type.starts_with("application/json"), "{path}");
            assert!(a.body.contains("\"error\""), "{path}: {}", a.body);
        } else {
            assert!(a.content_type.starts_with("text/html"), "{path}");
            assert!(
                a.body.contains("<html") && a.body.contains("not answering"),
                "{path}: {}",
                a.body
            );
        }
        fast.push(a.took);
    }
    eprintln!(
        "database away: /healthz in {health:?}; the first page in {:?}; then {fast:?}",
        first.took
    );

    // Back, with the same process.
    pg.start().expect("start PostgreSQL again");
    let back = Instant::now();
    loop {
        let a = fetch(&http, &base, "/api/v1/summary").await;
        if a.status == 200 {
            break;
        }
        assert!(
            back.elapsed() < RECOVERY_BOUND,
            "not recovered after {:?}: {} {}\n{}",
            back.elapsed(),
            a.status,
            a.body,
            serve_log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("recovered {:?} after the database", back.elapsed());
    assert!(
        serve.0.try_wait().expect("wait").is_none(),
        "serve exited:\n{}",
        serve_log()
    );
    assert_eq!(fetch(&http, &base, "/healthz").await.status, 200);
    for (path, earlier) in paths.iter().zip(&before) {
        let a = fetch(&http, &base, path).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        assert_eq!(&a.body, earlier, "{path} changed across the outage");
    }
    for path in ["/", "/users", "/departments", "/sync"] {
        let a = fetch(&http, &base, path).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
    }
    // And it goes on: a new sync is served at once.
    let id = sync_day(&url, &sim, 30).await;
    let summary: serde_json::Value =
        serde_json::from_str(&fetch(&http, &base, "/api/v1/summary").await.body).expect("JSON");
    assert_eq!(summary["run"]["id"], id);
    // The outage's start and end are logged once each, in plain words, and nothing crashed.
    let text = serve_log();
    assert!(
        text.contains("the database is away") && text.contains("the database answers again"),
        "{text}"
    );
    assert!(!text.contains("panicked"), "{text}");
}
