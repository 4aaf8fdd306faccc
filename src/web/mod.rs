//! The web front: one router built by [`app`] (tests call it directly), one module per page
//! area, one error type that never shows internals.

pub mod access;
pub mod api;
pub mod audit;
pub mod auth;
pub mod chart;
pub mod departments;
pub mod download;
pub mod health;
pub mod listener;
pub mod lookup;
pub mod overview;
pub mod params;
pub mod posture;
pub mod runs;
pub mod security;
pub mod sessions;
pub mod trace;
pub mod trend;
pub mod users;

use crate::auth::{Oidc, Role};
use crate::config::{AuthMode, WebConfig};
use access::{Access, Caller, Route};
use askama::Template;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use sqlx::PgPool;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// How long a request may take before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest request body accepted (no endpoint takes uploads).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<WebConfig>,
    /// Answers that only change when a sync commits.
    pub cache: Arc<RunCache>,
    /// Sign-in with Entra ID (none while sign-in is off, or when its settings are unusable).
    pub oidc: Option<Arc<Oidc>>,
    /// While sign-in is off, the forms' CSRF token (one per process).
    pub local_csrf: String,
    /// The database was found unreachable (see [`health::fail_fast`]).
    pub database_away: Arc<std::sync::atomic::AtomicBool>,
}

impl AppState {
    pub fn new(pool: PgPool, config: WebConfig) -> AppState {
        let oidc = config.sign_in.clone().and_then(|s| match Oidc::new(s) {
            Ok(o) => Some(Arc::new(o)),
            Err(e) => {
                tracing::error!("{e}");
                None
            }
        });
        AppState {
            pool,
            config: Arc::new(config),
            cache: Arc::default(),
            oidc,
            local_csrf: access::random_secret(),
            database_away: Arc::default(),
        }
    }
}

/// Most answers a [`RunCache`] keeps for one run; it starts afresh when full.
const RUN_CACHE_ENTRIES: usize = 1_000;

/// Answers computed from the newest complete run, keyed by that run: a sync commits a new run
/// id, so an answer is never served for data it was not computed from. Used for the counts of
/// the user list, which scan every current user (tens of milliseconds at 100,000 users) and
/// are asked for again with each page of the same list.
#[derive(Default)]
pub struct RunCache {
    entries: std::sync::Mutex<CacheEntries>,
}

/// Users per state, as the user list counts them.
pub type StateCounts = Arc<Vec<(String, i64)>>;

/// The run the entries were computed from, and the entries.
#[derive(Default)]
struct CacheEntries {
    run_id: i64,
    by_key: std::collections::HashMap<String, StateCounts>,
}

impl RunCache {
    pub fn get(&self, run_id: i64, key: &str) -> Option<StateCounts> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        (entries.run_id == run_id).then(|| entries.by_key.get(key).cloned())?
    }

    pub fn put(&self, run_id: i64, key: String, value: StateCounts) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.run_id != run_id || entries.by_key.len() >= RUN_CACHE_ENTRIES {
            *entries = CacheEntries {
                run_id,
                by_key: std::collections::HashMap::new(),
            };
        }
        entries.by_key.insert(key, value);
    }
}

/// Every route, each with who may use it.
pub fn routes() -> Vec<Route> {
    [
        health::routes(),
        overview::routes(),
        departments::routes(),
        users::routes(),
        runs::routes(),
        lookup::routes(),
        audit::routes(),
        auth::routes(),
        sessions::routes(),
        posture::routes(),
        api::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Each route's path and who may use it (for the navigation and the access tests).
pub fn access_table() -> &'static [(&'static str, Access)] {
    static TABLE: LazyLock<Vec<(&'static str, Access)>> =
        LazyLock::new(|| routes().iter().map(|r| (r.path, r.access)).collect());
    &TABLE
}

/// The whole router: every route behind its access check, every answer with the security
/// headers.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new();
    for route in routes() {
        let guard =
            axum::middleware::from_fn_with_state((state.clone(), route.access), access::enforce);
        router = router.route(route.path, route.handler.route_layer(guard));
    }
    router
        .fallback(not_found)
        .with_state(state.clone())
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            health::fail_fast,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.config.https(),
            security::headers,
        ))
        .layer(axum::middleware::from_fn(trace::request))
}

async fn not_found() -> AppError {
    AppError::NotFound
}

/// Every way a request can fail. Details of database and internal errors are logged once,
/// here, and never shown.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// Not found, with a message that helps.
    #[error("{0}")]
    NotFoundWith(String),
    #[error("{0}")]
    BadRequest(String),
    /// Not signed in (the API; pages redirect to sign-in instead).
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The database is known to be away (see [`health::fail_fast`]); nothing more to log.
    #[error("{0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    fn status_and_message(&self) -> (StatusCode, String) {
        match self {
            AppError::NotFound => (StatusCode::NOT_FOUND, "Not found.".to_owned()),
            AppError::NotFoundWith(m) => (StatusCode::NOT_FOUND, m.clone()),
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            AppError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m.clone()),
            AppError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            AppError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m.clone()),
            AppError::Database(e) => {
                tracing::error!("database error: {e}");
                match e {
                    e if crate::db::unavailable(e) => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        health::DATABASE_AWAY.to_owned(),
                    ),
                    _ => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Something went wrong on our side; it has been logged.".to_owned(),
                    ),
                }
            }
            AppError::Internal(e) => {
                tracing::error!("internal error: {e:#}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side; it has been logged.".to_owned(),
                )
            }
        }
    }

    /// The database could not be reached (the answer is marked for [`health::fail_fast`]).
    fn database_away(&self) -> bool {
        matches!(self, AppError::Database(e) if crate::db::unavailable(e))
    }
}

/// JSON errors for the API: `{"error": "..."}`.
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let away = self.database_away();
        let (status, message) = self.status_and_message();
        let mut response =
            (status, axum::Json(serde_json::json!({ "error": message }))).into_response();
        if away {
            response.extensions_mut().insert(health::DatabaseAway);
        }
        response
    }
}

/// The same errors as an HTML page, for handlers that render pages.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let away = self.0.database_away();
        let (status, message) = self.0.status_and_message();
        let page = ErrorPage {
            layout: Layout::bare(),
            status: status.as_u16(),
            message: message.clone(),
        };
        let mut response = match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, message).into_response(),
        };
        if away {
            response.extensions_mut().insert(health::DatabaseAway);
        }
        response
    }
}

/// What every page's frame needs.
pub struct Layout {
    /// Sign-in is off: every page says so.
    pub auth_off: bool,
    /// A simulated tenant (`phoneless demo`): every page says so.
    pub demo: bool,
    /// Which main section the page belongs to (highlighted in the navigation).
    pub current: &'static str,
    /// The header's search box, filled in on the search page.
    pub search: String,
    /// Who is signed in ("Name (username)") and their role, for the header.
    pub signed_in: Option<(String, &'static str)>,
    /// The sign-out form's CSRF token (empty: no sign-out button).
    pub csrf_token: String,
    /// The main navigation: address, label, current; only what the caller may open.
    pub nav: Vec<(&'static str, &'static str, bool)>,
    /// The header's search box (helpdesk and security leads).
    pub can_search: bool,
}

/// The main navigation: address, label, section key.
const NAV: [(&str, &str, &str); 10] = [
    ("/", "Overview", "overview"),
    ("/departments", "Departments", "departments"),
    ("/users", "Still on the phone", "users"),
    ("/lookup", "Look up", "lookup"),
    ("/posture", "Posture", "posture"),
    ("/exclusions", "Allowlist", "exclusions"),
    ("/alerts", "Alerts", "alerts"),
    ("/sync", "Sync", "sync"),
    ("/audit", "Access log", "audit"),
    ("/sessions", "Sessions", "sessions"),
];

impl Layout {
    /// The frame of a page for `caller` (none: not signed in).
    pub fn new(state: &AppState, caller: Option<&Caller>, current: &'static str) -> Layout {
        let may = |access: Access| match access {
            Access::Public | Access::SignIn => true,
            Access::Role(role) => caller.is_some_and(|c| c.may(role)),
        };
        let signed_in_mode = state.config.auth == AuthMode::Entra;
        Layout {
            auth_off: !signed_in_mode,
            demo: state.config.demo,
            current,
            search: String::new(),
            signed_in: caller
                .filter(|c| c.session.is_some())
                .map(|c| (c.label(), c.role.map(Role::label).unwrap_or("no role yet"))),
            csrf_token: caller
                .filter(|c| c.session.is_some())
                .map(|c| c.csrf_token.clone())
                .unwrap_or_default(),
            nav: NAV
                .iter()
                .filter(|(href, _, _)| *href != "/sessions" || signed_in_mode)
                .filter(|(href, _, _)| {
                    access_table()
                        .iter()
                        .find(|(path, _)| path == href)
                        .is_some_and(|(_, access)| may(*access))
                })
                .map(|(href, label, key)| (*href, *label, *key == current))
                .collect(),
            can_search: caller.is_some_and(|c| c.may(Role::Helpdesk)),
        }
    }

    /// A frame with no navigation (error pages, which know nothing of the caller).
    pub fn bare() -> Layout {
        Layout {
            auth_off: false,
            demo: false,
            current: "",
            search: String::new(),
            signed_in: None,
            csrf_token: String::new(),
            nav: Vec::new(),
            can_search: false,
        }
    }
}

/// 12345 → "12,345".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Serves until Ctrl-C or SIGTERM, then lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The client's address is recorded in the access log. (`tap_io` does nothing to the
    // connections; through it axum hands the client's address to the router, as it does for a
    // plain TCP listener.)
    use axum::serve::ListenerExt as _;
    axum::serve(
        listener::Listener(listener).tap_io(|_| {}),
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_separators() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1000), "1,000");
        assert_eq!(super::thousands(-1234567), "-1,234,567");
    }
}
