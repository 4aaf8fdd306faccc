//! The web front through the real router and a real database.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Sim, TestDb, get, get_json, sync_ok, web_state as state};
use phoneless::sim::Faults;
use phoneless::web::app;
use serde_json::Value;
use tower::ServiceExt as _;

#[tokio::test]
async fn before_the_first_sync_everything_answers_helpfully() {
    let db = TestDb::new().await;
    let (status, health) = get_json(&db, "/healthz").await;
    assert_eq!(
        (status, health["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, summary) = get_json(&db, "/api/v1/summary").await;
    assert_eq!(status, StatusCode::OK);
    assert!(summary["run"].is_null());
    assert_eq!(summary["users"], 0);
    let (status, runs) = get_json(&db, "/api/v1/sync/runs").await;
    assert_eq!(
        (status, runs["runs"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );
    let (status, page) = get(&db, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("No data yet") && page.contains("phoneless sync"));
    assert!(page.contains("Sign-in is off"));
}

#[tokio::test]
async fn summary_and_runs_follow_the_syncs() {
    let db = TestDb::new().await;
    let sim = Sim::start(900, 150).await;
    let first = sync_ok(&db, &sim).await;
    sim.fake.set_day(20);
    let second = sync_ok(&db, &sim).await;
    sim.fake.set_faults(Faults {
        no_licence: true,
        ..Faults::default()
    });
    assert!(common::sync_with(&db, &sim, sim.client()).await.is_err());

    let (status, s) = get_json(&db, "/api/v1/summary").await;
    assert_eq!(status, StatusCode::OK);
    // The numbers come from the newest complete run, not the failed one.
    assert_eq!(s["run"]["id"], second.run_id);
    let t = &second.tenant;
    assert_eq!(s["users"], t.users);
    for (name, n) in [
        ("phone_only", t.phone_only),
        ("phone_default", t.phone_default),
        ("phone_backup", t.phone_backup),
        ("phone_free", t.phone_free),
        ("no_mfa", t.no_mfa),
    ] {
        assert_eq!(s["states"][name], n, "{name}");
    }
    let states_sum: i64 = s["states"]
        .as_object()
        .expect("states")
        .values()
        .filter_map(Value::as_i64)
        .sum();
    assert_eq!(
        states_sum,
        i64::from(t.users),
        "every in-scope user is in exactly one state"
    );
    assert_eq!(s["guests"], t.guests);
    assert_eq!(s["admins_phone_only"], t.admins_phone_only);
    assert_eq!(
        s["run"]["data_as_of"]
            .as_str()
            .map(|d| d.starts_with("2026-01-21")),
        Some(true),
        "{}",
        s["run"]
    );
    // …and the failure is visible beside them.
    assert_eq!(s["last_sync"]["status"], "failed");
    assert!(
        s["last_sync"]["error"]
            .as_str()
            .unwrap_or("")
            .contains("P1 or P2")
    );

    let (_, r) = get_json(&db, "/api/v1/sync/runs").await;
    let runs = r["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 3);
    let ids: Vec<i64> = runs.iter().filter_map(|r| r["id"].as_i64()).collect();
    assert_eq!(
        ids,
        vec![second.run_id + 1, second.run_id, first.run_id],
        "newest first"
    );
    assert_eq!(runs[0]["status"], "failed");
    for key in [
        "id",
        "started_at",
        "finished_at",
        "status",
        "users",
        "changes",
        "pages",
        "retries",
        "error",
    ] {
        assert!(runs[1].get(key).is_some(), "run JSON lacks {key}");
    }
    assert_eq!(runs[1]["changes"], second.counts.changes);
    let (_, limited) = get_json(&db, "/api/v1/sync/runs?limit=1").await;
    assert_eq!(limited["runs"].as_array().map(Vec::len), Some(1));

    // The overview shows the same numbers and the failure.
    let (status, page) = get(&db, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("The last sync failed"));
    assert!(page.contains(&phoneless::web::thousands(t.phone_only.into())));
}

#[tokio::test]
async fn bad_input_gets_a_clear_400_or_404_never_a_500() {
    let db = TestDb::new().await;
    for uri in [
        "/api/v1/sync/runs?limit=0",
        "/api/v1/sync/runs?limit=abc",
        "/api/v1/sync/runs?limit=100000",
        "/api/v1/sync/runs?color=red",
    ] {
        let (status, body) = get_json(&db, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            body["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{uri}: {body}"
        );
    }
    let (status, body) = get_json(&db, "/api/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string());
}

#[tokio::test]
async fn health_says_so_when_the_database_is_gone() {
    let db = TestDb::new().await;
    let state = state(&db);
    db.pool.close().await;
    let resp = app(state)
        .oneshot(
            Request::get("/healthz")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn the_stylesheet_is_linked_by_its_version_and_kept_only_then() {
    let db = TestDb::new().await;
    let (_, page) = get(&db, "/").await;
    let start = page
        .find("/static/style.css?v=")
        .expect("a versioned stylesheet link");
    let href: String = page[start..].chars().take_while(|c| *c != '"').collect();
    let cache_of = |uri: String| {
        let router = app(state(&db));
        async move {
            let resp = router
                .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
                .await
                .expect("response");
            assert_eq!(resp.status(), StatusCode::OK);
            resp.headers()["cache-control"]
                .to_str()
                .expect("text")
                .to_owned()
        }
    };
    assert!(cache_of(href.clone()).await.contains("immutable"), "{href}");
    assert_eq!(cache_of("/static/style.css".into()).await, "no-cache");
    assert_eq!(
        cache_of("/static/style.css?v=000000000000".into()).await,
        "no-cache"
    );
}

/// Every text that reaches PostgreSQL refuses a NUL (which PostgreSQL cannot store) with a 400
/// naming the parameter, before any query runs; a CSV never starts and then breaks off.
#[tokio::test]
async fn a_nul_in_any_text_input_is_a_400_that_names_it() {
    use phoneless::db::dashboard::ListKey;
    let db = TestDb::new().await;
    let sim = Sim::start(200, 100).await;
    sync_ok(&db, &sim).await;
    let cursor = phoneless::web::users::encode_cursor(&ListKey {
        rank: 1,
        not_admin: true,
        display_name: "Ann\u{0}Smith".into(),
        user_id: uuid::Uuid::nil(),
        uses: None,
    });
    let mut cases: Vec<(String, &str)> = Vec::new();
    for path in ["/users", "/users.csv", "/api/v1/users"] {
        for key in ["q", "department", "company", "office", "country"] {
            cases.push((format!("{path}?{key}=a%00b"), key));
        }
        cases.push((format!("{path}?state=phone_only%00"), "state"));
    }
    cases.extend([
        ("/lookup?q=a%00b".to_owned(), "q"),
        ("/audit?who=a%00b".to_owned(), "who"),
        ("/audit?whom=a%00b".to_owned(), "whom"),
        ("/audit.csv?whom=a%00b".to_owned(), "whom"),
        ("/departments/view?name=a%00b".to_owned(), "name"),
        ("/api/v1/trend?by=department&name=a%00b".to_owned(), "name"),
        ("/users?q=a%01b".to_owned(), "q"),
        ("/users?q=a%0Ab".to_owned(), "q"),
        (format!("/users?after={cursor}"), "after"),
        (format!("/api/v1/users?after={cursor}"), "after"),
    ]);
    for (uri, key) in &cases {
        let (status, body) = get(&db, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert!(body.contains(key), "{uri}: the answer names {key}: {body}");
    }
    // A search with a tab pasted at its end is trimmed, not refused.
    let (status, _) = get(&db, "/users?q=a%09").await;
    assert_eq!(status, StatusCode::OK);
}

/// A run whose process died reads as failed and interrupted at once; a run whose syncer
/// holds the lock still reads as running.
#[tokio::test]
async fn a_run_whose_process_is_gone_reads_as_interrupted() {
    use phoneless::db::operations as ops;
    let db = TestDb::new().await;
    let orphan = ops::insert_run(&db.pool, chrono::Utc::now(), "dead:1")
        .await
        .expect("insert");
    let (_, runs) = get_json(&db, "/api/v1/sync/runs").await;
    let run = &runs["runs"][0];
    assert_eq!(run["id"], orphan);
    assert_eq!(
        (run["status"].as_str(), run["error_kind"].as_str()),
        (Some("failed"), Some("interrupted")),
        "{run}"
    );
    assert!(run["error"].as_str().is_some_and(|e| e.contains("stopped")));
    let (_, summary) = get_json(&db, "/api/v1/summary").await;
    assert_eq!(summary["last_sync"]["status"], "failed");
    let (_, page) = get(&db, "/sync").await;
    assert!(
        page.contains("The process stopped mid-sync") && !page.contains(">running<"),
        "{page}"
    );
    let (_, page) = get(&db, "/").await;
    assert!(page.contains("The last sync failed"), "{page}");
    // Nothing was written by reading.
    let stored: String = sqlx::query_scalar("SELECT status FROM sync_runs WHERE id = $1")
        .bind(orphan)
        .fetch_one(&db.pool)
        .await
        .expect("status");
    assert_eq!(stored, "running");

    // A syncer alive elsewhere (its lock held on its own connection): still running.
    let mut syncer = db.pool.acquire().await.expect("connection").detach();
    assert!(
        ops::try_lock_sync(&mut syncer).await.expect("lock"),
        "nobody else holds the lock"
    );
    let (_, runs) = get_json(&db, "/api/v1/sync/runs").await;
    assert_eq!(runs["runs"][0]["status"], "running");
    let (_, page) = get(&db, "/sync").await;
    assert!(page.contains(">running<"), "{page}");
    ops::unlock_sync(&mut syncer).await.expect("unlock");
}

/// With the database away, `/healthz` answers 503 within a second and pages and the API fail
/// within the pool's wait, then at once while it stays away.
#[tokio::test]
async fn an_unreachable_database_is_a_prompt_503() {
    use std::time::{Duration, Instant};
    let db = TestDb::new().await;
    // A port nobody listens on: every connection is refused, as when the server is stopped.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = nobody.local_addr().expect("addr").port();
    drop(nobody);
    let pool = phoneless::db::pool_options().connect_lazy_with(db.options.clone().port(port));
    let state = phoneless::web::AppState::new(pool, state(&db).config.as_ref().clone());

    let t = Instant::now();
    let (status, body) = common::get_in(&state, "/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());

    let t = Instant::now();
    let (status, body) = common::get_in(&state, "/api/v1/summary").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("\"error\""), "{body}");
    assert!(
        t.elapsed() <= phoneless::db::ACQUIRE_TIMEOUT + Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    // Now known to be away: the next ones do not wait for the pool again.
    for uri in ["/", "/users", "/api/v1/summary"] {
        let t = Instant::now();
        let (status, body) = common::get_in(&state, uri).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {body}");
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "{uri}: {:?}",
            t.elapsed()
        );
        if !uri.starts_with("/api/") {
            assert!(
                body.contains("<html") && body.contains("not answering"),
                "{body}"
            );
        }
    }
}

/// Answers hyper writes by itself, to requests it cannot parse, carry the security headers
/// like every other answer.
#[tokio::test]
async fn the_http_parsers_own_answers_carry_the_security_headers() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let db = TestDb::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(phoneless::web::serve(
        listener,
        app(state(&db)),
        std::future::pending(),
    ));
    let many_headers: String = (0..120).map(|i| format!("x-h{i}: v\r\n")).collect();
    for (request, status) in [
        ("GET /\x01 HTTP/1.1\r\nhost: x\r\n\r\n".to_owned(), "400"),
        ("GET / HTTP/1.1\r\nbad header\r\n\r\n".to_owned(), "400"),
        (
            "\x16\x03\x01\x02\x00\x01\x00\x01\x7f\x03\x03\r\n\r\n".to_owned(),
            "400",
        ),
        (
            format!("GET / HTTP/1.1\r\nhost: x\r\n{many_headers}\r\n"),
            "431",
        ),
        (
            format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(70_000)),
            "414",
        ),
        // And one the router answers, for comparison.
        (
            "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".to_owned(),
            "200",
        ),
    ] {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        tcp.write_all(request.as_bytes()).await.expect("send");
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            tcp.read_to_end(&mut answer),
        )
        .await;
        let answer = String::from_utf8_lossy(&answer).to_lowercase();
        let shown = &request[..request.len().min(40)];
        assert!(
            answer.starts_with(&format!("http/1.1 {status}")),
            "{shown:?}: {answer}"
        );
        for header in [
            "content-security-policy: default-src 'none'",
            "x-content-type-options: nosniff",
            "x-frame-options: deny",
            "referrer-policy: same-origin",
            "cache-control: no-store",
        ] {
            assert!(answer.contains(header), "{shown:?}: {header} in {answer}");
        }
    }
}

/// A download whose query fails at once is an error page with its status, not a 200 that
/// breaks off after the header row.
#[tokio::test]
async fn a_csv_download_fails_before_it_starts() {
    let db = TestDb::new().await;
    let state = state(&db);
    db.pool.close().await;
    for uri in ["/users.csv", "/audit.csv"] {
        let resp = app(state.clone())
            .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("a whole body");
        assert!(
            String::from_utf8_lossy(&body).contains("not answering"),
            "{uri}"
        );
    }
}
