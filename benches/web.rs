//! Dashboard load benchmark: `cargo bench --bench web`.
//!
//! A simulated tenant (default 100,000 users) with a year of daily sync runs (default 365),
//! made the real way (`demo::sync_days`: the simulated Graph over loopback HTTP, the real
//! syncer once per simulated day, each run dated on its day), kept in a private PostgreSQL
//! whose data stays in `target/bench-web/<users>x<days>/` so the next run reuses it. The web
//! front is served in-process on 127.0.0.1 with sign-in on, as in production: every request
//! carries the cookie of a security lead's session (made directly in the database), so each one
//! pays for the session check. Each dashboard page and API endpoint is loaded with `wrk`
//! (`apt-get install wrk`), one after the other. Reports a
//! markdown table of p50 and p99 latency, requests per second and errors per path. Any non-2xx
//! response or socket error makes the run fail after the table is printed.
//!
//! Settings (environment):
//! - PHONELESS_BENCH_USERS (100000): simulated users.
//! - PHONELESS_BENCH_DAYS (365): days of history, one sync per day (days + 1 runs, the last
//!   one today).
//! - PHONELESS_BENCH_SECONDS (10): how long wrk loads each path.
//! - PHONELESS_BENCH_CONNECTIONS (8): wrk's open connections (2 threads, fewer if fewer
//!   connections).
//! - PHONELESS_BENCH_SIGN_IN (1): 0 serves with sign-in off and no cookie, to see what the
//!   session check costs.
//! - PHONELESS_LOG: a log filter for the server's logs on standard error (none when unset).
//!
//! Bounded: the history is made once, every wrk run stops after its duration, the server and
//! PostgreSQL listen on loopback only and stop when the bench ends. Delete
//! `target/bench-web/` to make the history again.

use anyhow::{Context, Result, bail};
use chrono::{Duration, NaiveDate, Utc};
use phoneless::auth::{Identity, Role, RoleMap, SignInSettings};
use phoneless::config::AuthMode;
use phoneless::credential::Credential;
use phoneless::db::embedded::EmbeddedPostgres;
use phoneless::db::operations as ops;
use phoneless::db::sessions;
use phoneless::sim::Tenant;
use phoneless::sim::server::{SIM_CLIENT_ID, SIM_CLIENT_SECRET, SIM_TENANT_ID};
use phoneless::web::WebSettings;
use phoneless::web::access;
use phoneless::web::{self, AppState};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The simulated tenant's seed.
const SEED: u64 = 1;
/// The database the embedded server keeps the history in.
const DATABASE: &str = "phoneless";
/// The runner name of the bench's sync runs.
const RUNNER: &str = "bench";
/// Requests per path before wrk runs (each must answer 200).
const WARM_UP_REQUESTS: usize = 3;
/// wrk's worker threads (at most one per connection).
const WRK_THREADS: usize = 2;
/// wrk's per-request timeout: the server's own (a slower answer is a 408), so a slow request
/// is measured rather than dropped from the latency figures as a wrk timeout (default 2 s).
const WRK_TIMEOUT: std::time::Duration = web::REQUEST_TIMEOUT;

/// The paths loaded, in this order.
const PATHS: [&str; 10] = [
    "/",
    "/departments",
    "/users",
    "/api/v1/summary",
    "/api/v1/trend?days=365",
    "/api/v1/departments",
    "/api/v1/users",
    "/users?q=garcia",
    "/departments/view?by=department&name=Engineering",
    "/users?department=Sales&admin=false",
];

/// Paths whose every request is a new search (three random letters), so no answer is reused:
/// the cost of a search the server has not seen this run. Label, and the path the letters
/// follow.
const NEW_SEARCHES: [(&str, &str); 2] = [
    ("/users?q=<3 random letters>", "/users?q="),
    ("/lookup?q=<3 random letters>", "/lookup?q="),
];

/// A wrk script that requests `prefix` followed by three random letters.
fn new_searches_script(prefix: &str) -> String {
    format!(
        r#"
local letters = "abcdefghiklmnoprstuvwyz"
local function pick()
  local i = math.random(1, #letters)
  return letters:sub(i, i)
end
request = function()
  return wrk.format("GET", "{prefix}" .. pick() .. pick() .. pick())
end
"#
    )
}

fn env_num(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .with_context(|| format!("{name}={v:?} is not a whole number")),
        _ => Ok(default),
    }
}

/// `wrk` on PATH, or a clear message saying how to install it.
fn find_wrk() -> Result<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("wrk"))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => Ok(p),
        None => bail!(
            "this benchmark loads the server with the HTTP load tool wrk, which is not on PATH; \
             install it (Debian/Ubuntu: apt-get install wrk) and run it again"
        ),
    }
}

/// `target/bench-web/<users>x<days>`, under the target directory the bench was built in.
fn data_dir(users: usize, days: u32) -> PathBuf {
    let target = option_env!("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    let target = if target.is_absolute() {
        target
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(target)
    };
    target.join("bench-web").join(format!("{users}x{days}"))
}

/// One path's wrk results.
#[derive(Debug, Default)]
struct WrkResult {
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    requests_per_sec: Option<f64>,
    requests: Option<u64>,
    non_2xx: u64,
    /// connect, read, write, timeout.
    socket_errors: [u64; 4],
}

impl WrkResult {
    fn errors(&self) -> u64 {
        self.non_2xx + self.socket_errors.iter().sum::<u64>()
    }

    fn errors_text(&self) -> String {
        let mut parts = Vec::new();
        if self.non_2xx > 0 {
            parts.push(format!("**{} non-2xx**", self.non_2xx));
        }
        for (n, kind) in self
            .socket_errors
            .iter()
            .zip(["connect", "read", "write", "timeout"])
        {
            if *n > 0 {
                parts.push(format!("**{n} socket {kind}**"));
            }
        }
        if parts.is_empty() {
            "0".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// A wrk duration such as `812.00us`, `1.23ms`, `2.01s` or `1.50m`, in milliseconds.
fn parse_wrk_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = s.split_at(split);
    let n: f64 = number.parse().ok()?;
    let factor = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    Some(n * factor)
}

/// Reads wrk's `--latency` report.
fn parse_wrk(output: &str) -> WrkResult {
    let mut r = WrkResult::default();
    let mut in_distribution = false;
    for line in output.lines() {
        let t = line.trim();
        if t.starts_with("Latency Distribution") {
            in_distribution = true;
            continue;
        }
        if in_distribution {
            if let Some((pct, value)) = t.split_once('%') {
                match pct.trim() {
                    "50" => r.p50_ms = parse_wrk_duration(value),
                    "99" => r.p99_ms = parse_wrk_duration(value),
                    _ => {}
                }
                continue;
            }
            in_distribution = false;
        }
        if let Some(v) = t.strip_prefix("Requests/sec:") {
            r.requests_per_sec = v.trim().parse().ok();
        } else if let Some(v) = t.strip_prefix("Non-2xx or 3xx responses:") {
            r.non_2xx = v.trim().parse().unwrap_or(u64::MAX);
        } else if let Some(v) = t.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            for part in v.split(',') {
                let mut words = part.split_whitespace();
                let (Some(kind), Some(n)) = (words.next(), words.next()) else {
                    continue;
                };
                let n = n.parse().unwrap_or(u64::MAX);
                match kind {
                    "connect" => r.socket_errors[0] = n,
                    "read" => r.socket_errors[1] = n,
                    "write" => r.socket_errors[2] = n,
                    "timeout" => r.socket_errors[3] = n,
                    _ => {}
                }
            }
        } else if t.contains(" requests in ") {
            r.requests = t.split_whitespace().next().and_then(|n| n.parse().ok());
        }
    }
    r
}

/// Runs wrk against `url`; its parsed results and raw output.
async fn run_wrk(
    wrk: &Path,
    url: &str,
    threads: usize,
    connections: usize,
    seconds: u64,
    script: Option<&Path>,
    cookie: &str,
) -> Result<(WrkResult, String)> {
    let mut command = tokio::process::Command::new(wrk);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    if !cookie.is_empty() {
        command.arg("-H").arg(format!("Cookie: {cookie}"));
    }
    let out = command
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("--timeout")
        .arg(format!("{}s", WRK_TIMEOUT.as_secs()))
        .arg("--latency")
        .arg(url)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("could not run {}", wrk.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "wrk failed ({}) on {url}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            stdout.trim()
        );
    }
    let r = parse_wrk(&stdout);
    if r.p50_ms.is_none() || r.p99_ms.is_none() || r.requests_per_sec.is_none() {
        bail!("could not read wrk's report for {url}:\n{stdout}");
    }
    Ok((r, stdout))
}

/// Fetches `url` a few times; each answer must be 200. The body size and the fastest time.
async fn warm_up(client: &reqwest::Client, url: &str, cookie: &str) -> Result<(usize, f64)> {
    let mut size = 0;
    let mut best = f64::INFINITY;
    for _ in 0..WARM_UP_REQUESTS {
        let started = Instant::now();
        let response = client
            .get(url)
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .with_context(|| format!("warm-up request to {url} failed"))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .with_context(|| format!("warm-up request to {url}: reading the body failed"))?;
        best = best.min(started.elapsed().as_secs_f64() * 1000.0);
        if status != reqwest::StatusCode::OK {
            let text = String::from_utf8_lossy(&body);
            let excerpt: String = text.chars().take(500).collect();
            bail!("WARM-UP FAILED: {url} answered {status}, not 200:\n{excerpt}");
        }
        size = body.len();
    }
    Ok((size, best))
}

/// Makes the missing days of history: all of them into an empty database, or the rest after
/// an interrupted first run (the tenant is deterministic, and its day 0 is the first run's
/// date). Returns how long it took, if anything was made.
async fn make_history(
    pool: &sqlx::PgPool,
    users: usize,
    days: u32,
) -> Result<Option<std::time::Duration>> {
    let latest = ops::latest_succeeded_run(pool)
        .await
        .context("reading the latest run")?;
    let today = Utc::now().date_naive();
    let start: NaiveDate = match (&latest, ops::first_run_at(pool).await?) {
        (Some(_), Some(first)) => first.date_naive(),
        _ => today - Duration::days(i64::from(days)),
    };
    let first_day = match &latest {
        None => 0,
        Some(run) => {
            let day = (run.started_at.date_naive() - start).num_days() + 1;
            u32::try_from(day.max(0)).context("day out of range")?
        }
    };
    if first_day > days {
        return Ok(None);
    }
    if first_day > 0 {
        println!(
            "The history stopped after day {}; making the rest.",
            first_day - 1
        );
    }
    println!(
        "Making {} days of history for {users} simulated users (one sync per day, from {})…",
        days - first_day + 1,
        start + Duration::days(i64::from(first_day)),
    );
    let started = Instant::now();
    let tenant = Tenant::generate(SEED, users, days, start);
    println!(
        "  tenant generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut last = Instant::now();
    phoneless::demo::sync_days(
        pool,
        tenant,
        first_day..=days,
        RUNNER.into(),
        |date, day| {
            if day % 30 == 0 || day == days {
                println!(
                    "  {date} done (day {day} of {days}; {:.0} s since the last line, {:.0} s in all)",
                    last.elapsed().as_secs_f64(),
                    started.elapsed().as_secs_f64()
                );
                last = Instant::now();
                let _ = std::io::stdout().flush();
            }
        },
    )
    .await?;
    let took = started.elapsed();
    // A year of syncs leaves whatever autovacuum has not reached yet; a year-old production
    // database has been vacuumed and analysed, so measure that state.
    sqlx::query("VACUUM (ANALYZE) sync_runs, user_versions, run_rollups")
        .execute(pool)
        .await
        .context("VACUUM ANALYZE after making the history")?;
    Ok(Some(took))
}

async fn count(pool: &sqlx::PgPool, table: &str) -> Result<i64> {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(pool)
        .await
        .with_context(|| format!("counting {table}"))
}

#[tokio::main]
async fn main() -> Result<()> {
    // `cargo bench` passes --bench; nothing else is taken from the command line.
    if let Ok(filter) = std::env::var("PHONELESS_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    let wrk = find_wrk()?;
    let users = env_num("PHONELESS_BENCH_USERS", 100_000)?.max(1);
    let days = u32::try_from(env_num("PHONELESS_BENCH_DAYS", 365)?.max(1))
        .context("PHONELESS_BENCH_DAYS is too large")?;
    let seconds = env_num("PHONELESS_BENCH_SECONDS", 10)?.max(1) as u64;
    let signed_in = env_num("PHONELESS_BENCH_SIGN_IN", 1)? != 0;
    let connections = env_num("PHONELESS_BENCH_CONNECTIONS", 8)?.max(1);
    let threads = WRK_THREADS.min(connections);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());

    // 1. The history, in a private PostgreSQL that keeps it between runs.
    let dir = data_dir(users, days);
    println!("PostgreSQL data: {}", dir.display());
    let pg = EmbeddedPostgres::start_in(&dir, false)?;
    phoneless::db::create_database(&pg.url("postgres"), DATABASE).await?;
    let url = pg.url(DATABASE);
    println!("PostgreSQL: {url} (psql \"{url}\")");
    let pool = phoneless::db::connect(&url).await?;
    phoneless::db::migrate(&pool).await?;
    let history = make_history(&pool, users, days).await?;
    match history {
        Some(took) => println!(
            "History made in {:.1} s ({:.1} min)",
            took.as_secs_f64(),
            took.as_secs_f64() / 60.0
        ),
        None => println!("Reusing the history in {}", dir.display()),
    }
    let runs = count(&pool, "sync_runs").await?;
    let versions = count(&pool, "user_versions").await?;
    let rollups = count(&pool, "run_rollups").await?;

    // 2. The web front, in-process on loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("could not listen on 127.0.0.1")?;
    let addr: SocketAddr = listener.local_addr()?;
    let base = format!("http://{addr}");
    // Sign-in is configured (nothing is fetched until someone signs in), and a security lead's
    // session is made directly, as the callback would.
    let sign_in = SignInSettings {
        login_url: "http://127.0.0.1:9".into(),
        tenant_id: SIM_TENANT_ID.into(),
        client_id: SIM_CLIENT_ID.into(),
        credential: Credential::Secret(SIM_CLIENT_SECRET.to_owned().into()),
        redirect_url: format!("{base}/auth/callback"),
    };
    let secret = access::random_secret();
    let lead = Identity {
        tenant_id: uuid::Uuid::parse_str(SIM_TENANT_ID)?,
        object_id: uuid::Uuid::new_v4(),
        name: "Benchmark".into(),
        username: "benchmark@phoneless.invalid".into(),
        roles: vec![Role::SecurityLead.default_app_role().into()],
        groups: Vec::new(),
        groups_overage: false,
    };
    let now = Utc::now();
    sessions::create_session(
        &pool,
        &access::secret_hash(&secret),
        &lead,
        &access::random_secret(),
        "127.0.0.1",
        now,
        now + Duration::hours(12),
        uuid::Uuid::new_v4(),
    )
    .await
    .context("a session for the benchmark")?;
    let cookie = if signed_in {
        format!("phoneless={secret}")
    } else {
        String::new()
    };
    let router = web::app(AppState::new(
        pool.clone(),
        WebSettings {
            listen: addr,
            public_url: Some(base.clone()),
            auth: if signed_in {
                AuthMode::Entra
            } else {
                AuthMode::None
            },
            deadlines: phoneless::domain::retirement::Dates {
                early: NaiveDate::from_ymd_opt(2027, 2, 1).context("deadline")?,
                late: NaiveDate::from_ymd_opt(2027, 7, 1).context("deadline")?,
            },
            demo: false,
            roles: RoleMap::default(),
            session_idle: std::time::Duration::from_secs(3600),
            session_max: std::time::Duration::from_secs(12 * 3600),
            alert_targets: Vec::new(),
            sign_in: signed_in.then_some(sign_in),
            out_of_scope: Default::default(),
            actions: Default::default(),
        },
    ));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::serve(listener, router, async {
        let _ = stopped.await;
    }));
    println!(
        "Serving on {base}, {}",
        if signed_in {
            "signed in as a security lead"
        } else {
            "sign-in off"
        }
    );

    // 3. Warm-up (every path must answer 200), then wrk on each path in turn.
    let client = reqwest::Client::builder()
        .timeout(WRK_TIMEOUT)
        .build()
        .context("HTTP client")?;
    // The helpdesk's pages: the person with the longest history, and searches by a later word
    // of a name and by the start of a UPN.
    let person: uuid::Uuid = sqlx::query_scalar(
        "SELECT user_id FROM user_versions GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .context("a user to look up")?;
    let mut paths: Vec<String> = PATHS.iter().map(|p| (*p).to_owned()).collect();
    paths.extend([
        format!("/users/{person}"),
        format!("/api/v1/users/{person}"),
        "/lookup?q=yamamoto".to_owned(),
        "/lookup?q=chloe.p".to_owned(),
    ]);
    println!("\nWarm-up ({WARM_UP_REQUESTS} requests each, one at a time):");
    for path in &paths {
        let (size, best_ms) = warm_up(&client, &format!("{base}{path}"), &cookie).await?;
        println!("  {path}: 200, {size} bytes, fastest {best_ms:.1} ms");
    }
    println!(
        "\nLoading each path for {seconds} s: wrk -t{threads} -c{connections} -d{seconds}s \
         --timeout {}s --latency",
        WRK_TIMEOUT.as_secs()
    );
    let mut scripts = Vec::new();
    for (label, prefix) in NEW_SEARCHES {
        let script = tempfile::NamedTempFile::new().context("temporary wrk script")?;
        std::fs::write(script.path(), new_searches_script(prefix))
            .context("write the wrk script")?;
        scripts.push((label.to_owned(), script));
    }
    let loads = paths
        .iter()
        .map(|path| (path.clone(), format!("{base}{path}"), None))
        .chain(
            scripts
                .iter()
                .map(|(label, script)| (label.clone(), base.clone(), Some(script.path()))),
        );
    let mut results = Vec::new();
    for (path, url, script) in loads {
        let (r, raw) = run_wrk(&wrk, &url, threads, connections, seconds, script, &cookie).await?;
        println!(
            "  {path}: {} requests, p50 {:.2} ms, p99 {:.2} ms, errors {}",
            r.requests.unwrap_or(0),
            r.p50_ms.unwrap_or(f64::NAN),
            r.p99_ms.unwrap_or(f64::NAN),
            r.errors_text()
        );
        if r.errors() > 0 {
            eprintln!("!!! {path}: wrk reported errors; its output:\n{raw}");
        }
        let _ = std::io::stdout().flush();
        results.push((path, r));
    }
    let _ = stop.send(());
    server
        .await
        .context("the server task panicked")?
        .context("the server failed")?;

    // 4. The report.
    println!();
    println!(
        "phoneless web benchmark: {users} users × {days} days ({runs} sync runs), {cores} CPU cores \
         (server, PostgreSQL and wrk share them), {}",
        if signed_in {
            "signed in (session checked on every request)"
        } else {
            "sign-in off"
        }
    );
    println!("rows: user_versions {versions}, run_rollups {rollups}");
    println!(
        "wrk {threads} threads, {connections} connections, {seconds} s per path, --timeout {}s, \
         after {WARM_UP_REQUESTS} warm-up requests per path",
        WRK_TIMEOUT.as_secs()
    );
    println!();
    println!("| path | p50 ms | p99 ms | req/s | errors |");
    println!("|---|---:|---:|---:|---|");
    for (path, r) in &results {
        println!(
            "| `{path}` | {:.2} | {:.2} | {:.1} | {} |",
            r.p50_ms.unwrap_or(f64::NAN),
            r.p99_ms.unwrap_or(f64::NAN),
            r.requests_per_sec.unwrap_or(f64::NAN),
            r.errors_text()
        );
    }
    let failed: Vec<String> = results
        .iter()
        .filter(|(_, r)| r.errors() > 0)
        .map(|(path, r)| format!("{path} ({})", r.errors_text().replace("**", "")))
        .collect();
    drop(pool);
    drop(pg);
    if !failed.is_empty() {
        eprintln!("\n!!! ERRORS UNDER LOAD: {}", failed.join("; "));
        bail!(
            "{} of {} paths had non-2xx responses or socket errors under load: {}",
            failed.len(),
            results.len(),
            failed.join("; ")
        );
    }
    Ok(())
}
