//! Generated requests against every route of the access table (a new route is fuzzed without
//! anyone listing it): random, oversized, unicode, NUL and other control characters,
//! percent-garbage and repeated parameters, huge path segments, odd methods, headers and
//! bodies. Every answer must be below 500, carry the security headers, and come (body and
//! all) within [`LATENCY_BOUND`].
//!
//! Most requests go through the router in-process: signed in as the highest role (sign-in
//! off), so the handlers are really reached, and some with sign-in on and no session (or a
//! made-up one). A few hundred more go over real TCP to a served instance, as raw bytes, so
//! that the HTTP parser's own answers are checked too.
//!
//! Seeded: the seed is printed, and `PHONELESS_FUZZ_SEED=<n>` runs the same requests again
//! (`PHONELESS_FUZZ_SEED=random` picks a new one); `PHONELESS_FUZZ_CASES` sets the requests per
//! route. Each request has its own stream derived from the seed, the route and its number, so
//! a failure names the one request to look at.

mod common;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, Response};
use common::{Sim, TestDb, sync_ok};
use futures_util::StreamExt as _;
use phoneless::web::access::Access;
use phoneless::web::{self, AppState};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use tower::ServiceExt as _;

/// The seed when none is given: CI runs the same requests each time.
const DEFAULT_SEED: u64 = 0x5eed_f00d;
/// Requests per route through the router.
const DEFAULT_CASES: usize = 300;
/// Raw requests over TCP.
const RAW_CASES: usize = 300;
/// No request may take longer, body included (generous: two cores, a debug build, requests
/// in parallel).
const LATENCY_BOUND: Duration = Duration::from_secs(2);
/// Requests in flight at once.
const PARALLEL: usize = 4;
/// Failures listed before the test gives up describing more.
const MAX_REPORTED: usize = 25;

/// Parameter names the routes take, so that generated requests get past "unknown parameter".
const KEYS: [&str; 31] = [
    "state",
    "department",
    "company",
    "office",
    "country",
    "admin",
    "user_type",
    "voice_capable",
    "q",
    "after",
    "limit",
    "days",
    "by",
    "name",
    "range",
    "sort",
    "dir",
    "who",
    "whom",
    "before",
    "next",
    "code",
    "error",
    "error_description",
    "csrf_token",
    "session_state",
    "reason",
    "follow_up",
    "note",
    "action",
    "phone_used",
];

/// Values that mean something somewhere, to mix with the garbage.
const WORDS: [&str; 39] = [
    "phone_only",
    "phone_default,no_mfa",
    "all",
    "true",
    "false",
    "yes",
    "member",
    "guest",
    "department",
    "company",
    "office",
    "country",
    "(none)",
    "30d",
    "90d",
    "1y",
    "users",
    "progress",
    "asc",
    "desc",
    "1",
    "50",
    "500",
    "0",
    "-1",
    "365",
    "11000",
    "/users?state=phone_only",
    "access_denied",
    "local",
    "waiting_for_security_key",
    "no_phone_at_work,travelling",
    "any",
    "due",
    "save",
    "remove",
    "none_30d",
    "use",
    "phone_30d",
];

/// Characters that break naive code: NUL and other controls, quotes, LIKE and SQL syntax,
/// right-to-left, combining marks, emoji, a lone surrogate's stand-in, separators.
const NASTY: [&str; 28] = [
    "\0", "\u{1}", "\u{1f}", "\u{7f}", "\u{85}", "\n", "\r\n", "\t", "'", "\"", "\\", "%", "_",
    "';--", "\u{202e}", "e\u{301}", "😀", "\u{fffd}", "\u{feff}", "\u{2028}", "ß", "İ", "東京",
    "ﷺ", "١٢٣", "&", "=", "+",
];

/// What the generator draws on besides randomness: real ids, names and a cursor.
struct Vocab {
    user_ids: Vec<String>,
    upns: Vec<String>,
    departments: Vec<String>,
    cursors: Vec<String>,
    csrf: String,
}

/// One generated request.
#[derive(Clone)]
struct Case {
    label: String,
    signed_in: bool,
    method: Method,
    uri: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Vec<u8>,
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cut = |s: &str| -> String {
            if s.len() > 300 {
                let mut end = 300;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{}… ({} bytes)", &s[..end], s.len())
            } else {
                s.to_owned()
            }
        };
        write!(
            f,
            "[{}] {} {} {}",
            self.label,
            if self.signed_in {
                "signed in"
            } else {
                "sign-in on, no session"
            },
            self.method,
            cut(&self.uri)
        )?;
        for (k, v) in &self.headers {
            write!(
                f,
                "\n    {k}: {}",
                cut(&String::from_utf8_lossy(v.as_bytes()))
            )?;
        }
        if !self.body.is_empty() {
            write!(
                f,
                "\n    body: {}",
                cut(&String::from_utf8_lossy(&self.body))
            )?;
        }
        Ok(())
    }
}

fn seed() -> u64 {
    match std::env::var("PHONELESS_FUZZ_SEED").ok().as_deref() {
        None | Some("") => DEFAULT_SEED,
        Some("random") => rand::random(),
        Some(n) => n
            .parse()
            .expect("PHONELESS_FUZZ_SEED is a whole number or \"random\""),
    }
}

/// The stream of request `n` of route `route` (a different seed gives different requests).
fn stream(seed: u64, route: usize, n: usize) -> ChaCha8Rng {
    let mut x = seed ^ ((route as u64) << 32) ^ (n as u64);
    // splitmix64: nearby inputs give unrelated seeds.
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ChaCha8Rng::seed_from_u64(x ^ (x >> 31))
}

fn pick<T: Clone>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())].clone()
}

/// Text of `len` random characters from a mix of ASCII, the nasty ones and any code point.
fn text(rng: &mut ChaCha8Rng, len: usize) -> String {
    let mut s = String::new();
    for _ in 0..len {
        match rng.random_range(0..10) {
            0..=5 => s.push(rng.random_range(b' '..=b'~') as char),
            6..=7 => s.push_str(pick(rng, &NASTY)),
            _ => s.push(rng.random::<char>()),
        }
    }
    s
}

/// A value as it goes into the query string (already encoded, or deliberately not).
fn value(rng: &mut ChaCha8Rng, v: &Vocab) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    match rng.random_range(0..20) {
        0..=4 => enc(pick(rng, &WORDS)),
        5 => enc(&pick(rng, &v.departments)),
        6 => enc(&pick(rng, &v.user_ids)),
        7 => enc(&pick(rng, &v.upns)),
        8 => pick(rng, &v.cursors),
        9..=11 => {
            let n = rng.random_range(1..30);
            enc(&text(rng, n))
        }
        12 => {
            // A real value with something nasty in it.
            let base = pick(rng, &WORDS).to_string();
            let at = rng.random_range(0..=base.len());
            let mut s = base.clone();
            s.insert_str(at, pick(rng, &NASTY));
            enc(&s)
        }
        13 => pick(
            rng,
            &[
                "%", "%Z", "%ZZ", "%C3", "%FF%FE", "%%%", "%0", "%E2%82", "%C0%AF",
            ],
        )
        .to_string(),
        14 => {
            let n = rng.random_range(200..6000);
            enc(&"a".repeat(n))
        }
        15 => {
            let n = rng.random_range(50..400);
            enc(&text(rng, n))
        }
        16 => pick(
            rng,
            &[
                "9223372036854775808",
                "-9223372036854775809",
                "1e309",
                "NaN",
                "0x10",
                "+5",
                "05",
                "1.5",
                "-0",
                "4294967296",
            ],
        )
        .to_string(),
        17 => String::new(),
        18 => {
            // A cursor of our own making: base64 of JSON that may not be one.
            use base64::Engine as _;
            let json = match rng.random_range(0..4) {
                0 => format!(
                    r#"{{"rank":{},"not_admin":true,"display_name":{:?},"user_id":"{}"}}"#,
                    rng.random::<i32>(),
                    text(rng, 12),
                    uuid::Uuid::from_u128(rng.random())
                ),
                1 => r#"{"rank":1}"#.to_owned(),
                2 => "[]".to_owned(),
                _ => text(rng, 20),
            };
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
        }
        _ => enc(pick(rng, &NASTY)),
    }
}

/// A value that `key` would accept, so that the other parameters of a request get past the
/// parser and the garbage in one of them reaches the handler and the database.
fn plausible(rng: &mut ChaCha8Rng, key: &str, v: &Vocab) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let name_part = |rng: &mut ChaCha8Rng, v: &Vocab| {
        let upn = pick(rng, &v.upns);
        let end = rng.random_range(1..=upn.len().min(8));
        upn[..end].to_owned()
    };
    match key {
        "state" => pick(
            rng,
            &[
                "phone_only",
                "all",
                "phone_default,no_mfa",
                "phone_free",
                "phone_backup",
            ],
        )
        .to_owned(),
        "department" | "name" | "company" | "office" | "country" => {
            if rng.random_bool(0.8) {
                enc(&pick(rng, &v.departments))
            } else {
                enc("(none)")
            }
        }
        "admin" | "voice_capable" => pick(rng, &["true", "false", "yes", "0"]).to_owned(),
        "user_type" => pick(rng, &["member", "guest", "all"]).to_owned(),
        "q" => enc(&name_part(rng, v)),
        "who" | "whom" => {
            if rng.random_bool(0.5) {
                pick(rng, &v.user_ids)
            } else {
                enc(&name_part(rng, v))
            }
        }
        "after" => pick(rng, &v.cursors),
        "limit" => rng.random_range(1..=500).to_string(),
        "days" => rng.random_range(1..=11_000).to_string(),
        "before" => rng.random_range(-5..100_000).to_string(),
        "by" => pick(rng, &["department", "company", "office", "country"]).to_owned(),
        "range" => pick(rng, &["30d", "90d", "1y", "all"]).to_owned(),
        "sort" => pick(
            rng,
            &[
                "name",
                "users",
                "progress",
                "phone_only",
                "change",
                "phone_30d",
                "use",
            ],
        )
        .to_owned(),
        "phone_used" => pick(rng, &["30d", "none_30d"]).to_owned(),
        "dir" => pick(rng, &["asc", "desc"]).to_owned(),
        "next" => enc(pick(
            rng,
            &["/", "/users?state=all", "//evil.example", "/\\x"],
        )),
        _ => value(rng, v),
    }
}

/// A path segment in place of `{id}` or `{handle}`.
fn segment(rng: &mut ChaCha8Rng, v: &Vocab) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    match rng.random_range(0..12) {
        0..=3 => pick(rng, &v.user_ids),
        4 => pick(rng, &v.user_ids).to_uppercase(),
        5 => uuid::Uuid::from_u128(rng.random()).to_string(),
        6 => "%00".to_owned(),
        7 => pick(rng, &["%ZZ", "%", "%C3%28", "..", "%2F", "%2e%2e"]).to_string(),
        8 => {
            let n = rng.random_range(300..6000);
            "x".repeat(n)
        }
        9 => format!("{}%00", pick(rng, &v.user_ids)),
        10 => pick(rng, &v.upns),
        _ => {
            let n = rng.random_range(1..40);
            enc(&text(rng, n))
        }
    }
}

fn case(rng: &mut ChaCha8Rng, label: String, path: &str, takes: &[String], v: &Vocab) -> Case {
    let mut uri: String = path
        .split('/')
        .map(|part| {
            if part.starts_with('{') {
                segment(rng, v)
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    match rng.random_range(0..30) {
        0 => uri.push('/'),
        1 => uri = uri.replacen('/', "//", 1),
        2 => uri = uri.to_uppercase(),
        3 => uri.push_str("/extra"),
        4 => uri.push_str("%00"),
        _ => {}
    }
    if rng.random_bool(0.85) {
        let mut pairs: Vec<String> = Vec::new();
        for _ in 0..rng.random_range(1..5) {
            let key = if !takes.is_empty() && rng.random_bool(0.9) {
                pick(rng, takes)
            } else if rng.random_bool(0.7) {
                pick(rng, &KEYS).to_string()
            } else {
                let n = rng.random_range(1..12);
                form_urlencoded::byte_serialize(text(rng, n).as_bytes()).collect()
            };
            let val = match rng.random_range(0..10) {
                0..=5 => plausible(rng, &key, v),
                // A value that would be accepted, with something nasty inside.
                6 => {
                    let good = plausible(rng, &key, v);
                    let mut at = rng.random_range(0..=good.len());
                    while !good.is_char_boundary(at) {
                        at -= 1;
                    }
                    let nasty: String =
                        form_urlencoded::byte_serialize(pick(rng, &NASTY).as_bytes()).collect();
                    format!("{}{nasty}{}", &good[..at], &good[at..])
                }
                _ => value(rng, v),
            };
            if rng.random_bool(0.1) {
                pairs.push(format!("{key}={}", value(rng, v)));
            }
            pairs.push(match rng.random_range(0..20) {
                0 => key,
                1 => format!("{key}="),
                _ => format!("{key}={val}"),
            });
        }
        let mut query = pairs.join("&");
        match rng.random_range(0..20) {
            0 => query.push_str("&&"),
            1 => query = format!("&{query}"),
            2 => query.push_str("&=x"),
            _ => {}
        }
        uri = format!("{uri}?{query}");
    }
    let method = match rng.random_range(0..100) {
        0..=79 => Method::GET,
        80..=87 => Method::POST,
        88..=90 => Method::HEAD,
        91 => Method::PUT,
        92 => Method::DELETE,
        93 => Method::PATCH,
        94..=95 => Method::OPTIONS,
        _ => Method::from_bytes(pick(rng, &[&b"BREW"[..], b"PROPFIND", b"X", b"TRACE"]))
            .expect("method"),
    };
    let mut headers = Vec::new();
    let mut header = |name: &'static str, value: Vec<u8>| {
        if let Ok(v) = HeaderValue::from_bytes(&value) {
            headers.push((HeaderName::from_static(name), v));
        }
    };
    if rng.random_bool(0.2) {
        let cookie = match rng.random_range(0..4) {
            0 => format!("phoneless={}", phoneless::web::access::random_secret()),
            1 => "phoneless=; ; =; a".to_owned(),
            2 => format!("phoneless={}", "c".repeat(rng.random_range(100..3000))),
            _ => format!(
                "phoneless-signin={}",
                text(rng, 20).replace(['\r', '\n'], "")
            ),
        };
        header("cookie", cookie.into_bytes());
    }
    let unsafe_method = !method.is_safe();
    let token = match rng.random_range(0..4) {
        0 | 1 => v.csrf.clone(),
        2 => phoneless::web::access::random_secret(),
        _ => String::new(),
    };
    if unsafe_method && rng.random_bool(0.3) && !token.is_empty() {
        header("x-csrf-token", token.clone().into_bytes());
    }
    if rng.random_bool(0.05) {
        header("sec-fetch-site", b"cross-site".to_vec());
    }
    if rng.random_bool(0.1) {
        let raw: Vec<u8> = (0..rng.random_range(1..60))
            .map(|_| rng.random_range(0x20u8..=0xff))
            .filter(|b| *b != 0x7f)
            .collect();
        header("x-fuzz", raw);
    }
    if rng.random_bool(0.02) {
        header("x-padding", vec![b'p'; 20_000]);
    }
    let body = if unsafe_method || rng.random_bool(0.05) {
        match rng.random_range(0..5) {
            0 | 1 => {
                header(
                    "content-type",
                    b"application/x-www-form-urlencoded".to_vec(),
                );
                let mut form = format!("csrf_token={token}");
                if rng.random_bool(0.5) {
                    let _ = write!(form, "&{}={}", pick(rng, &KEYS), value(rng, v));
                }
                form.into_bytes()
            }
            2 => {
                header("content-type", b"application/json".to_vec());
                br#"{"csrf_token": 1, "x": [null]}"#.to_vec()
            }
            3 => vec![b'z'; rng.random_range(60_000..80_000)],
            _ => (0..rng.random_range(0..2000))
                .map(|_| rng.random::<u8>())
                .collect(),
        }
    } else {
        Vec::new()
    };
    Case {
        label,
        signed_in: rng.random_bool(0.8),
        method,
        uri,
        headers,
        body,
    }
}

/// What is wrong with an answer (none: all is well).
fn check(status: u16, headers: &axum::http::HeaderMap, took: Duration) -> Vec<String> {
    let mut wrong = Vec::new();
    if status >= 500 {
        wrong.push(format!("status {status}"));
    }
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    if !h("content-security-policy").contains("default-src 'none'") {
        wrong.push("no Content-Security-Policy".into());
    }
    for (name, want) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
    ] {
        if h(name) != want {
            wrong.push(format!("{name} is {:?}", h(name)));
        }
    }
    if h("cache-control").is_empty() {
        wrong.push("no Cache-Control".into());
    }
    if took > LATENCY_BOUND {
        wrong.push(format!("took {took:?}"));
    }
    wrong
}

async fn send(state: &AppState, c: &Case) -> Result<u16, String> {
    let mut request = Request::builder().method(c.method.clone()).uri(&c.uri);
    for (k, v) in &c.headers {
        request = request.header(k, v);
    }
    // An address the http crate cannot represent never reaches a server as such; the raw
    // requests below send bytes like these to the real parser.
    let Ok(request) = request.body(Body::from(c.body.clone())) else {
        return Ok(0);
    };
    let started = Instant::now();
    let answer = tokio::time::timeout(LATENCY_BOUND * 2, async {
        let response: Response<Body> = web::app(state.clone())
            .oneshot(request)
            .await
            .map_err(|e| format!("router error: {e}"))?;
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, 64 << 20)
            .await
            .map_err(|e| format!("the body broke off after a {}: {e}", parts.status))?;
        Ok::<_, String>((parts, body))
    })
    .await
    .map_err(|_| format!("no complete answer within {:?}", LATENCY_BOUND * 2))??;
    let (parts, _) = answer;
    let wrong = check(parts.status.as_u16(), &parts.headers, started.elapsed());
    if wrong.is_empty() {
        Ok(parts.status.as_u16())
    } else {
        Err(format!("{} ({})", wrong.join(", "), parts.status))
    }
}

/// The parameters `path` takes, as its answer to an unknown one says ("this address takes a,
/// b"); none for a route that takes none or ignores its query.
async fn parameters(state: &AppState, path: &str, v: &Vocab) -> Vec<String> {
    let uri = format!(
        "{}?no_such_parameter=1",
        path.replace("{id}", &v.user_ids[0])
            .replace("{handle}", &uuid::Uuid::nil().to_string())
    );
    let (_, body) = common::get_in(state, &uri).await;
    body.split_once("this address takes ")
        .map(|(_, rest)| {
            rest.split(['"', '<', '\n'])
                .next()
                .unwrap_or_default()
                .split(", ")
                .map(str::to_owned)
                .filter(|k| !k.is_empty() && !k.contains(' '))
                .collect()
        })
        .unwrap_or_default()
}

/// Real ids, UPNs, departments and a cursor from the synced tenant.
async fn vocab(state: &AppState) -> Vocab {
    let (_, body) = common::get_in(state, "/api/v1/users?state=all&user_type=all&limit=500").await;
    let users: serde_json::Value = serde_json::from_str(&body).expect("users JSON");
    let items = users["items"].as_array().expect("items");
    let field = |k: &str| -> Vec<String> {
        items
            .iter()
            .filter_map(|u| u[k].as_str().map(str::to_owned))
            .collect()
    };
    let mut departments = field("department");
    departments.sort();
    departments.dedup();
    let mut cursors = Vec::new();
    for list in ["/api/v1/users?limit=3", "/api/v1/users?limit=3&sort=use"] {
        let (_, page) = common::get_in(state, list).await;
        let page: serde_json::Value = serde_json::from_str(&page).expect("page JSON");
        cursors.extend(page["next"].as_str().map(str::to_owned));
    }
    Vocab {
        user_ids: field("id"),
        upns: field("upn"),
        departments,
        cursors,
        csrf: state.local_csrf.clone(),
    }
}

/// Collects what is logged at ERROR: bad input must not be logged as a failure either.
#[derive(Clone, Default)]
struct Errors(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Errors {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Text<'a>(&'a mut String);
        impl tracing::field::Visit for Text<'_> {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                let _ = write!(self.0, "{}={value:?} ", field.name());
            }
        }
        if *event.metadata().level() == tracing::Level::ERROR {
            let mut text = format!("{}: ", event.metadata().target());
            event.record(&mut Text(&mut text));
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push(text);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_survives_generated_requests() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let errors = Errors::default();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(errors.clone()))
        .expect("the only subscriber");
    let seed = seed();
    let cases: usize = std::env::var("PHONELESS_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    eprintln!("fuzz seed {seed} (PHONELESS_FUZZ_SEED={seed} repeats these requests)");
    let started = Instant::now();
    let db = TestDb::new().await;
    let sim = Sim::start(150, 60).await;
    sync_ok(&db, &sim).await;
    sim.fake.set_day(10);
    sync_ok(&db, &sim).await;
    let open = common::web_state(&db);
    let guarded = AppState::new(
        db.pool.clone(),
        common::sign_in_config(&sim, "http://127.0.0.1:8080"),
    );
    let v = vocab(&open).await;
    assert!(!v.user_ids.is_empty() && !v.cursors.is_empty());

    let table = web::access_table();
    let mut all = Vec::new();
    for (r, (path, access)) in table.iter().enumerate() {
        let takes = parameters(&open, path, &v).await;
        for n in 0..cases {
            let mut rng = stream(seed, r, n);
            let mut c = case(&mut rng, format!("route {r} case {n}"), path, &takes, &v);
            if *access == Access::Public {
                c.signed_in = true;
            }
            all.push(c);
        }
    }
    let total = all.len();
    let results: Vec<Result<u16, String>> = futures_util::stream::iter(all)
        .map(|c| {
            let state = if c.signed_in { &open } else { &guarded };
            async move { send(state, &c).await.map_err(|e| format!("{c}\n  → {e}")) }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    // How far the requests got (0: an address the http crate refuses, not sent).
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for s in results.iter().flatten() {
        *statuses.entry(*s).or_default() += 1;
    }
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    eprintln!(
        "fuzz: {total} requests over {} routes in {:.1} s; answers by status: {statuses:?}",
        table.len(),
        started.elapsed().as_secs_f64()
    );

    let raw_started = Instant::now();
    let raw_failures = raw_requests(seed, &open, &v).await;
    eprintln!(
        "fuzz: {RAW_CASES} raw requests over TCP in {:.1} s",
        raw_started.elapsed().as_secs_f64()
    );
    let logged = errors.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    eprintln!(
        "fuzz: failed {} through the router, {} raw; {} logged at ERROR",
        failures.len(),
        raw_failures.len(),
        logged.len()
    );
    let all_failures: Vec<String> = failures
        .into_iter()
        .chain(raw_failures)
        .chain(logged.into_iter().map(|e| format!("logged at ERROR: {e}")))
        .collect();
    assert!(
        all_failures.is_empty(),
        "{} of the generated requests failed or logged an error (seed {seed}); the first \
         ones:\n{}",
        all_failures.len(),
        all_failures
            .iter()
            .take(MAX_REPORTED)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Raw bytes to a served instance: bad request lines, versions, header names and values,
/// framing, huge targets and many headers, besides ordinary requests with odd parts.
async fn raw_requests(seed: u64, state: &AppState, v: &Vocab) -> Vec<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(web::serve(
        listener,
        web::app(state.clone()),
        std::future::pending(),
    ));
    let paths: Vec<&str> = web::access_table().iter().map(|(p, _)| *p).collect();
    let requests: Vec<(usize, Vec<u8>)> = (0..RAW_CASES)
        .map(|n| {
            let mut rng = stream(seed, usize::MAX >> 33, n);
            (n, raw_request(&mut rng, &paths, v))
        })
        .collect();
    let failures: Vec<String> = futures_util::stream::iter(requests)
        .map(|(n, bytes)| async move {
            let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
            let started = Instant::now();
            let mut tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
            // The server may answer and close before reading all of a huge request.
            let _ = tcp.write_all(&bytes).await;
            let mut answer = Vec::new();
            let read = tokio::time::timeout(LATENCY_BOUND * 2, tcp.read_to_end(&mut answer)).await;
            let took = started.elapsed();
            let wrong = match (read, parse_answer(&answer)) {
                (Err(_), _) => vec![format!("no answer within {:?}", LATENCY_BOUND * 2)],
                (_, None) if answer.is_empty() => vec!["closed without an answer".to_owned()],
                (_, None) => vec![format!(
                    "not an HTTP answer: {:?}",
                    String::from_utf8_lossy(&answer[..answer.len().min(200)])
                )],
                (Ok(_), Some((status, headers))) => check(status, &headers, took),
            };
            (!wrong.is_empty()).then(|| format!("[raw {n}] {shown:?}\n  → {}", wrong.join(", ")))
        })
        .buffer_unordered(PARALLEL)
        .filter_map(|f| async move { f })
        .collect()
        .await;
    server.abort();
    failures
}

/// Status and headers of an HTTP/1 answer.
fn parse_answer(bytes: &[u8]) -> Option<(u16, axum::http::HeaderMap)> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    response.parse(bytes).ok()?;
    let mut map = axum::http::HeaderMap::new();
    for h in response.headers.iter() {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) {
            map.append(k, v);
        }
    }
    Some((response.code?, map))
}

fn raw_request(rng: &mut ChaCha8Rng, paths: &[&str], v: &Vocab) -> Vec<u8> {
    let method: Vec<u8> = match rng.random_range(0..10) {
        0..=5 => b"GET".to_vec(),
        6 => b"POST".to_vec(),
        7 => pick(
            rng,
            &[&b"get"[..], b"G\x00T", b"GE T", b"", b"\xffGET", b"CONNECT"],
        )
        .to_vec(),
        8 => (0..rng.random_range(1..20))
            .map(|_| rng.random::<u8>())
            .filter(|b| !b" \r\n".contains(b))
            .collect(),
        _ => b"OPTIONS".to_vec(),
    };
    let template = pick(rng, paths);
    let mut target: Vec<u8> = template
        .replace("{id}", &pick(rng, &v.user_ids))
        .replace("{handle}", &uuid::Uuid::from_u128(rng.random()).to_string())
        .into_bytes();
    match rng.random_range(0..10) {
        0 => target.extend_from_slice(b"?q=a\x00b"),
        1 => target.extend_from_slice(b"?q=\xc3\x28&q=\xff"),
        2 => target.extend(std::iter::repeat_n(b'a', rng.random_range(3_000..80_000))),
        3 => target = b"*".to_vec(),
        4 => target = b"http://evil.example/".to_vec(),
        5 => target.extend_from_slice(b"?%%%=%%%&&=&"),
        6 => target.extend_from_slice(b" extra words"),
        7 => target.extend((0..20).map(|_| rng.random_range(0x01u8..0x20))),
        _ => {}
    }
    let version: &[u8] = pick(
        rng,
        &[
            &b"HTTP/1.1"[..],
            b"HTTP/1.1",
            b"HTTP/1.1",
            b"HTTP/1.0",
            b"HTTP/2.0",
            b"HTTP/9.9",
            b"HTTP/1.1 ",
            b"",
            b"http/1.1",
        ],
    );
    let mut out = Vec::new();
    out.extend_from_slice(&method);
    out.push(b' ');
    out.extend_from_slice(&target);
    if !version.is_empty() {
        out.push(b' ');
        out.extend_from_slice(version);
    }
    out.extend_from_slice(b"\r\nhost: 127.0.0.1\r\nconnection: close\r\n");
    let mut body = Vec::new();
    for _ in 0..rng.random_range(0..4) {
        match rng.random_range(0..10) {
            0 => out.extend_from_slice(b"bad header line\r\n"),
            1 => out.extend_from_slice(b"x-nul: a\x00b\r\n"),
            2 => out.extend_from_slice(b"x-high: \xff\xfe\r\n"),
            3 => out.extend_from_slice(b"content-length: abc\r\n"),
            4 => {
                out.extend_from_slice(b"transfer-encoding: chunked\r\n");
                body.extend_from_slice(b"zz\r\nnot a chunk\r\n");
            }
            5 => {
                for i in 0..rng.random_range(90..160) {
                    out.extend_from_slice(format!("x-many-{i}: v\r\n").as_bytes());
                }
            }
            6 => {
                out.extend_from_slice(b"x-long: ");
                out.extend(std::iter::repeat_n(b'v', rng.random_range(10_000..100_000)));
                out.extend_from_slice(b"\r\n");
            }
            7 => out.extend_from_slice(b" folded: continuation\r\n"),
            8 => out.extend_from_slice(b"cookie: phoneless=\x01\x02; =;;\r\n"),
            _ => {
                let n = rng.random_range(0..500);
                body = (0..n).map(|_| rng.random::<u8>()).collect();
                out.extend_from_slice(format!("content-length: {n}\r\n").as_bytes());
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    out
}
