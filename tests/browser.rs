//! What a person sees: `phoneless demo` started as a newcomer would, its pages loaded in a real
//! headless Chromium, the DOM and the painted pixels checked, and screenshots kept in
//! `target/screenshots/` to look at. Then sign-in, in the same browser, through the simulated
//! tenant's identity provider. The helpdesk's actions are used as a person uses them (forms
//! filled in and sent, over the DevTools protocol), against the demo's simulated tenant.

#[path = "browser/cdp.rs"]
mod cdp;
mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The phone-only colour of the stylesheet, light and dark.
const PHONE_ONLY_LIGHT: [u8; 3] = [0xb3, 0x26, 0x1e];
const PHONE_ONLY_DARK: [u8; 3] = [0xf2, 0x8b, 0x82];

fn chromium() -> PathBuf {
    let candidates = ["chromium", "chromium-browser", "google-chrome"];
    std::env::var_os("PHONELESS_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .flat_map(|d| candidates.iter().map(move |c| d.join(c)))
                .find(|p| p.is_file())
        })
        .expect(
            "this test needs Chromium: apt-get install chromium (or set PHONELESS_CHROMIUM); \
             .ci/run installs it",
        )
}

/// The demo, killed (with its private PostgreSQL, by its watchdog) when dropped.
struct Demo {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_demo() -> Demo {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_phoneless"))
        .args(["demo", "--users", "800", "--days", "60", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.path().join("demo"))
        // As a newcomer: no database set up, the demo starts its own.
        .env_remove("DATABASE_URL")
        .env("PHONELESS_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start phoneless demo");
    let stdout = child.stdout.take().expect("stdout");
    let started = Instant::now();
    let mut url = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("demo output");
        if let Some(rest) = line.strip_prefix("phoneless demo is ready: ") {
            url = Some(rest.trim().trim_end_matches('/').to_owned());
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the demo took too long"
        );
    }
    Demo {
        child,
        url: url.expect("the demo printed its URL"),
        _dir: dir,
    }
}

/// How every test runs Chromium: headless, sandbox off (as root here), nothing fetched by
/// itself.
const HEADLESS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
];

fn browser(args: &[&str], url: &str) -> std::process::Output {
    let profile = tempfile::tempdir().expect("profile dir");
    Command::new(chromium())
        .args(HEADLESS)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("run chromium")
}

/// Counts pixels of exactly `colour` in a PNG.
fn pixels_of(png_path: &Path, colour: [u8; 3]) -> usize {
    let decoder = png::Decoder::new(std::fs::File::open(png_path).expect("screenshot"));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let step = info.color_type.samples();
    assert!(step >= 3, "a colour screenshot");
    buf[..info.buffer_size()]
        .chunks(step)
        .filter(|p| p[..3] == colour)
        .count()
}

fn screenshot(url: &str, name: &str, size: &str, dark: bool) -> PathBuf {
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let file = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&file);
    let mut args = vec![
        format!("--window-size={size}"),
        format!("--screenshot={}", file.display()),
    ];
    if dark {
        args.push("--force-dark-mode".into());
        args.push("--blink-settings=preferredColorScheme=0".into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = browser(&args, url);
    assert!(
        file.is_file(),
        "no screenshot of {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    file
}

#[test]
fn the_demo_in_a_real_browser() {
    let demo = start_demo();
    let base = &demo.url;

    // The DOM as Chromium built it: charts with real paths, tables with rows.
    for (path, must) in [
        (
            "/",
            vec![
                "class=\"area s-phone_only\" d=\"M",
                "class=\"line actual\" d=\"M",
                "Demo: a simulated tenant",
                "Who will be blocked, and when",
                "1 February 2027",
                "1 July 2027",
                "used SMS or a voice call for MFA in the last 30 days",
                "class=\"area u-sms\" d=\"M",
            ],
        ),
        ("/?range=30d", vec!["class=\"area s-phone_free\" d=\"M"]),
        (
            "/departments",
            vec!["<polyline points=\"0.0,", "(no department)"],
        ),
        (
            "/departments/view?by=department&name=Engineering",
            vec!["class=\"area s-phone_only\" d=\"M", "Still on the phone: "],
        ),
        (
            "/users",
            vec!["<table class=\"people\">", "Download as CSV"],
        ),
        ("/sync", vec!["status succeeded"]),
        (
            "/posture",
            vec![
                "class=\"check-item green\"",
                "Voice calls",
                "Policy changes",
            ],
        ),
        (
            "/exclusions",
            vec![
                "Phone MFA exceptions",
                "Joins and leaves",
                "class=\"phone-only\"",
            ],
        ),
        ("/alerts", vec!["was added to Phone MFA exceptions"]),
    ] {
        let out = browser(&["--dump-dom"], &format!("{base}{path}"));
        let dom = String::from_utf8_lossy(&out.stdout);
        for m in must {
            assert!(dom.contains(m), "{path}: the page lacks {m:?}");
        }
        // The chart's path data is long: it has points, not just a move.
        if let Some(at) = dom.find("class=\"area s-phone_only\" d=\"") {
            let d = &dom[at + 30..];
            let d = &d[..d.find('"').expect("end of path")];
            assert!(
                d.matches('L').count() > 10,
                "{path}: a chart with few points: {d}"
            );
        }
    }

    // The pixels: the phone-only band is painted, in light and in dark mode, wide and narrow.
    let wide = screenshot(&format!("{base}/"), "overview-1280", "1280,3400", false);
    assert!(
        pixels_of(&wide, PHONE_ONLY_LIGHT) > 5_000,
        "the overview's chart is painted"
    );
    let dark = screenshot(&format!("{base}/"), "overview-dark", "1280,3400", true);
    assert!(
        pixels_of(&dark, PHONE_ONLY_DARK) > 5_000,
        "the dark overview's chart is painted"
    );
    let phone = screenshot(&format!("{base}/"), "overview-390", "390,5600", false);
    assert!(
        pixels_of(&phone, PHONE_ONLY_LIGHT) > 500,
        "the chart is painted on a phone"
    );
    screenshot(
        &format!("{base}/departments"),
        "departments-1280",
        "1280,1200",
        false,
    );
    screenshot(
        &format!("{base}/departments"),
        "departments-390",
        "390,1600",
        false,
    );
    screenshot(&format!("{base}/users"), "users-1280", "1280,1400", false);
    screenshot(&format!("{base}/users"), "users-390", "390,1600", true);
    screenshot(
        &format!("{base}/departments/view?by=department&name=Engineering"),
        "department-1280",
        "1280,3400",
        false,
    );
    screenshot(&format!("{base}/sync"), "sync-1280", "1280,900", false);
    screenshot(
        &format!("{base}/posture"),
        "posture-1280",
        "1280,3400",
        false,
    );
    screenshot(&format!("{base}/posture"), "posture-390", "390,3000", true);
    screenshot(
        &format!("{base}/exclusions"),
        "exclusions-1280",
        "1280,1800",
        false,
    );
    screenshot(&format!("{base}/alerts"), "alerts-1280", "1280,1400", false);

    // The helpdesk: a search for a person of the demo reaches their page.
    let list = browser(&["--dump-dom"], &format!("{base}/users"));
    let dom = String::from_utf8_lossy(&list.stdout);
    let at = dom.find("<div class=\"upn\">").expect("a UPN in the list") + 17;
    let upn = &dom[at..at + dom[at..].find('<').expect("end of the UPN")];
    let url = format!("{base}/lookup?q={upn}");
    let page = browser(&["--dump-dom"], &url);
    let dom = String::from_utf8_lossy(&page.stdout);
    assert!(dom.contains(upn), "the lookup reached {upn}'s page");
    for part in [
        "What to do next",
        "Registered methods",
        "What changed",
        "How they sign in",
        "aka.ms/mysecurityinfo",
    ] {
        assert!(dom.contains(part), "the person's page lacks {part:?}");
    }
    screenshot(&url, "person-1280", "1280,1600", false);
    screenshot(&url, "person-390", "390,2000", true);
    screenshot(
        &format!("{base}/lookup?q=an"),
        "lookup-1280",
        "1280,1000",
        false,
    );
    screenshot(&format!("{base}/audit"), "audit-1280", "1280,900", false);

    // Someone the policy hides a stronger method from: their page says why, method by method.
    let list = browser(
        &["--dump-dom"],
        &format!("{base}/users?state=phone_default,phone_backup&blocked=true&user_type=all"),
    );
    let dom = String::from_utf8_lossy(&list.stdout);
    let at = dom
        .find("<a href=\"/users/")
        .expect("a blocked person with a stronger method")
        + 9;
    let href = &dom[at..at + dom[at..].find('"').expect("end of the link")];
    let url = format!("{base}{href}");
    let page = browser(&["--dump-dom"], &url);
    let dom = String::from_utf8_lossy(&page.stdout);
    for part in [
        "Retirement date:",
        "registered, but",
        "class=\"unavailable\"",
    ] {
        assert!(
            dom.contains(part),
            "the blocked person's page lacks {part:?}"
        );
    }
    screenshot(&url, "person-unavailable-1280", "1280,1600", false);
    screenshot(&url, "person-unavailable-390", "390,2000", true);

    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(helpdesk_actions(base));
}

fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("screenshots")
}

/// A helpdesk agent issues a Temporary Access Pass and adds someone to the allowlist for a
/// few days, from the person page of the demo (which has the actions on).
async fn helpdesk_actions(base: &str) {
    let people: serde_json::Value = reqwest::get(format!(
        "{base}/api/v1/users?state=phone_only&admin=false&user_type=member&limit=20"
    ))
    .await
    .expect("people")
    .json()
    .await
    .expect("people JSON");
    let id = people["items"]
        .as_array()
        .and_then(|items| items.iter().find(|p| p["external"] == false))
        .and_then(|p| p["id"].as_str())
        .expect("a phone-only member")
        .to_owned();
    let dir = screenshot_dir();
    let person = format!("{base}/users/{id}");
    let mut page = cdp::Page::open(&chromium()).await;
    page.goto(&person).await;
    let text = page.text().await;
    for part in [
        "Help them now",
        "Temporary Access Pass",
        "A few days on the allowlist",
    ] {
        assert!(
            text.contains(part),
            "the person page lacks {part:?}:\n{text}"
        );
    }
    page.shots(&dir, "person-actions").await;

    // The pass: shown once, with what to do with it.
    page.submit(
        "#tap form",
        &[("reason", "New phone; caller verified by call-back")],
    )
    .await;
    let text = page.text().await;
    assert!(text.contains("This is the only time it is shown"), "{text}");
    let pass = page
        .eval("document.querySelector('.pass code').textContent")
        .await
        .as_str()
        .expect("the pass")
        .to_owned();
    assert!(pass.len() >= 8, "{pass:?}");
    page.shots(&dir, "tap-issued").await;

    // A few days on the allowlist, from the same page.
    page.goto(&person).await;
    page.submit(
        "#allowlist form.action-form:not(.inline)",
        &[
            ("group_id", "Phone MFA exceptions"),
            ("days", "3"),
            ("reason", "Security key ordered, arrives Friday"),
        ],
    )
    .await;
    let text = page.text().await;
    assert!(
        text.contains("Security key ordered, arrives Friday") && text.contains("End now"),
        "{text}"
    );
    page.shots(&dir, "person-allowlist").await;
    page.goto(&format!("{base}/exclusions")).await;
    let text = page.text().await;
    assert!(
        text.contains("by local: “Security key ordered, arrives Friday” — open"),
        "{text}"
    );
    page.shots(&dir, "exclusions-actions").await;

    // The access log has both, with their reasons; the pass is nowhere on it.
    page.goto(&format!("{base}/audit")).await;
    let text = page.text().await;
    for part in [
        "Temporary Access Pass for",
        "allowlist entry for",
        "New phone; caller verified by call-back",
    ] {
        assert!(text.contains(part), "the access log lacks {part:?}");
    }
    assert!(!text.contains(&pass), "the pass is in the access log");
    page.shots(&dir, "audit-actions").await;

    // Who signs in with a phone: the overview's chart, the list by use, a person's weeks.
    page.goto(&format!("{base}/")).await;
    assert!(page.text().await.contains("Who signs in with a phone"));
    page.shots(&dir, "overview-usage").await;
    page.goto(&format!("{base}/users?phone_used=30d&state=all&sort=use"))
        .await;
    page.shots(&dir, "users-by-use").await;
    page.goto(&person).await;
    assert!(page.text().await.contains("How they sign in"));
    page.shots(&dir, "person-usage").await;
}

/// A server with sign-in on, over a synced simulated tenant, for Chromium to sign in to.
struct SignedInServer {
    url: String,
    sim: common::Sim,
    _db: common::TestDb,
}

async fn start_signed_in() -> SignedInServer {
    let db = common::TestDb::new().await;
    let sim = common::Sim::start(300, 100).await;
    common::sync_ok(&db, &sim).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let config = common::sign_in_config(&sim, &url);
    let router = phoneless::web::app(phoneless::web::AppState::new(db.pool.clone(), config));
    tokio::spawn(phoneless::web::serve(
        listener,
        router,
        std::future::pending(),
    ));
    SignedInServer { url, sim, _db: db }
}

/// Chromium run off the async runtime (the server keeps answering meanwhile).
async fn dom(url: String) -> String {
    tokio::task::spawn_blocking(move || {
        String::from_utf8_lossy(&browser(&["--dump-dom"], &url).stdout).into_owned()
    })
    .await
    .expect("chromium")
}

async fn shot(url: String, name: &'static str, size: &'static str) {
    tokio::task::spawn_blocking(move || screenshot(&url, name, size, false))
        .await
        .expect("chromium");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_in_a_real_browser() {
    use phoneless::sim::SimSignIn;
    let server = start_signed_in().await;
    let base = &server.url;
    let people: Vec<_> = server
        .sim
        .fake
        .tenant()
        .people
        .iter()
        .filter(|p| p.joins == 0 && p.leaves.is_none() && !p.disabled && !p.guest)
        .take(3)
        .collect();
    let sign_in_as = |nth: usize, roles: &[&str]| {
        server.sim.fake.set_signed_in(Some(SimSignIn {
            user: people[nth].upn.clone(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            groups: Vec::new(),
        }));
    };

    // Nobody signed in at Entra: the identity provider asks who, and phoneless shows nothing.
    let picker = dom(format!("{base}/users")).await;
    assert!(
        picker.contains("Sign in to the simulated tenant"),
        "the sign-in page: {picker}"
    );
    assert!(!picker.contains("Still on the phone"));
    shot(format!("{base}/"), "sign-in-picker", "1280,900").await;

    // A security lead: the page asked for, after the whole round trip, with their name.
    sign_in_as(0, &["Phoneless.SecurityLead"]);
    let sessions = dom(format!("{base}/sessions")).await;
    for part in [
        "<h1>Sessions</h1>",
        people[0].upn.as_str(),
        "Security lead",
        "Sign out",
    ] {
        assert!(sessions.contains(part), "/sessions lacks {part:?}");
    }
    shot(format!("{base}/sessions"), "sessions-1280", "1280,900").await;
    shot(format!("{base}/users"), "users-signed-in-1280", "1280,1000").await;

    // Someone with no role: asked, politely, to request access.
    sign_in_as(1, &[]);
    let refused = dom(format!("{base}/")).await;
    assert!(refused.contains("Ask for access"), "{refused}");
    assert!(refused.contains("Phoneless.Helpdesk"));
    shot(format!("{base}/"), "no-role-1280", "1280,900").await;

    // A viewer: counts, and no way to people.
    sign_in_as(2, &["Phoneless.Viewer"]);
    let overview = dom(format!("{base}/")).await;
    assert!(overview.contains("Viewer") && !overview.contains("href=\"/users\""));
    shot(format!("{base}/"), "viewer-overview-390", "390,1400").await;
    let not_theirs = dom(format!("{base}/lookup")).await;
    assert!(not_theirs.contains("Not part of your role"), "{not_theirs}");
    shot(format!("{base}/auth/logout"), "sign-out-1280", "1280,600").await;
}
