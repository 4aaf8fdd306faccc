//! The `phoneless` binary as an operator runs it: configuration errors, and `fake-graph`,
//! `sync` and `serve` as separate processes talking over HTTP and PostgreSQL.

mod common;

use common::{Killed, TestDb, db_url};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_phoneless");

/// A command with none of the developer's phoneless settings leaking in.
fn phoneless(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("PHONELESS_") || k == "DATABASE_URL" {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn missing_configuration_is_listed_at_once_and_secrets_are_never_shown() {
    let out = phoneless(&["sync"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "DATABASE_URL",
        "PHONELESS_TENANT_ID",
        "PHONELESS_CLIENT_ID",
        "PHONELESS_CLIENT_SECRET",
    ] {
        assert!(err.contains(needle), "{needle} not in: {err}");
    }
    let out = phoneless(&["sync"])
        .env("PHONELESS_CLIENT_SECRET", "s3cr3t-value-never-printed")
        .env("PHONELESS_REPORT_RATE", "fast")
        .output()
        .expect("run");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("PHONELESS_REPORT_RATE"));
    assert!(!all.contains("s3cr3t"), "{all}");
    let help = phoneless(&["sync", "--help"])
        .env("PHONELESS_CLIENT_SECRET", "s3cr3t-value-never-printed")
        .output()
        .expect("run");
    assert!(!String::from_utf8_lossy(&help.stdout).contains("s3cr3t"));

    let out = phoneless(&[
        "serve",
        "--no-sync",
        "--auth",
        "none",
        "--listen",
        "0.0.0.0:8080",
    ])
    .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/x")
    .output()
    .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));

    let help = phoneless(&["--help"]).output().expect("run");
    let text = String::from_utf8_lossy(&help.stdout);
    for cmd in ["serve", "sync", "migrate", "fake-graph"] {
        assert!(text.contains(cmd), "--help lacks {cmd}");
    }
}

#[tokio::test]
async fn fake_graph_sync_and_serve_work_together() {
    let db = TestDb::new().await;
    let url = db_url(&db);

    // The fake prints where it listens.
    let mut fake = phoneless(&[
        "fake-graph",
        "--listen",
        "127.0.0.1:0",
        "--users",
        "700",
        "--days",
        "30",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("start fake-graph");
    let stdout = fake.stdout.take().expect("stdout");
    let fake = Killed(fake);
    let mut lines = BufReader::new(stdout).lines();
    let graph_url = lines
        .by_ref()
        .map_while(Result::ok)
        // "Listening on http://127.0.0.1:PORT. Point phoneless at it with:"
        .find_map(|l| {
            l.split("Listening on ")
                .nth(1)?
                .split(". ")
                .next()
                .map(str::to_owned)
        })
        .expect("fake-graph prints its address");
    // Keep reading, so the fake never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));

    let env = [
        ("DATABASE_URL", url.as_str()),
        ("PHONELESS_GRAPH_URL", graph_url.as_str()),
        ("PHONELESS_LOGIN_URL", graph_url.as_str()),
        ("PHONELESS_TENANT_ID", phoneless::sim::server::SIM_TENANT_ID),
        ("PHONELESS_CLIENT_ID", phoneless::sim::server::SIM_CLIENT_ID),
        (
            "PHONELESS_CLIENT_SECRET",
            phoneless::sim::server::SIM_CLIENT_SECRET,
        ),
        ("PHONELESS_REPORT_RATE", "0"),
    ];
    let out = phoneless(&["sync"]).envs(env).output().expect("sync");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sync failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Sync run 1 succeeded"), "{stdout}");
    // Not a terminal: progress as plain lines.
    assert!(String::from_utf8_lossy(&out.stderr).contains("registration details:"));

    // A wrong secret fails with a non-zero exit and a plain message.
    let out = phoneless(&["sync"])
        .envs(env)
        .env("PHONELESS_CLIENT_SECRET", "wrong")
        .output()
        .expect("sync");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("client secret is wrong"));

    // serve (with its syncer) answers the API and stops cleanly on SIGTERM.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let server = phoneless(&["serve"])
        .envs(env)
        .env("PHONELESS_AUTH", "none")
        .env("PHONELESS_LISTEN", &listen)
        .env("PHONELESS_SYNC_INTERVAL", "1m")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let mut server = Killed(server);
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let summary = loop {
        if let Ok(r) = http
            .get(format!("http://{listen}/api/v1/summary"))
            .send()
            .await
            && r.status().is_success()
        {
            break r.json::<serde_json::Value>().await.expect("json");
        }
        assert!(Instant::now() < deadline, "serve did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(summary["run"]["id"], 1);
    assert!(summary["users"].as_i64().unwrap_or(0) > 0);
    let status = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(s) = server.0.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "serve exited with {exit}");
    drop(fake);
}

/// At `PHONELESS_LOG=debug`, each request is logged by its route, never with a search text,
/// a sign-in code or state.
#[tokio::test]
async fn request_logs_name_the_route_and_keep_searches_and_secrets_out() {
    let db = TestDb::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let log = tempfile::NamedTempFile::new().expect("log file");
    let server = phoneless(&["serve", "--no-sync"])
        .env("DATABASE_URL", db_url(&db))
        .env("PHONELESS_AUTH", "none")
        .env("PHONELESS_LISTEN", &listen)
        .env("PHONELESS_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(log.reopen().expect("log"))
        .spawn()
        .expect("serve");
    let mut server = Killed(server);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(20);
    while http
        .get(format!("http://{listen}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "serve did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for path in [
        "/users?q=Quentin.Searched&state=phone_only",
        "/lookup?q=Zelda.Looked-Up",
        "/auth/callback?code=AUTH-CODE-SECRET&state=STATE-SECRET",
        "/users/6a1d1a55-0000-4000-8000-000000000001",
        "/no/such/page?who=Nobody.Special",
    ] {
        let r = http
            .get(format!("http://{listen}{path}"))
            .send()
            .await
            .expect("request");
        assert!(r.status().as_u16() < 500, "{path}: {}", r.status());
    }
    Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("kill");
    let _ = server.0.wait();
    let text = std::fs::read_to_string(log.path()).expect("read log");
    for secret in [
        "Quentin",
        "Zelda",
        "AUTH-CODE-SECRET",
        "STATE-SECRET",
        "Nobody.Special",
    ] {
        assert!(!text.contains(secret), "{secret} is in the log:\n{text}");
    }
    for route in [
        "route=/users ",
        "route=/lookup",
        "route=/auth/callback",
        "route=/users/{id}",
    ] {
        assert!(text.contains(route), "{route} not in the log:\n{text}");
    }
    assert!(text.contains("state=phone_only"), "{text}");
    assert!(text.contains("status=") && text.contains("ms="), "{text}");
}
