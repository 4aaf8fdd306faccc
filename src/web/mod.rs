//! The web front: one router built by [`app`] (tests call it directly) from the routes of
//! each page area. A page area's module holds its pages and their JSON; the shared parts are
//! the state ([`state`]), errors ([`error`]), the page frame ([`layout`]), who is asking
//! ([`caller`]) and the access table ([`access`]).

pub mod access;
pub mod actions;
pub mod audit;
pub mod auth;
pub mod caller;
pub mod chart;
pub mod departments;
pub mod download;
pub mod error;
pub mod health;
pub mod layout;
pub mod listener;
pub mod lookup;
pub mod overview;
pub mod params;
pub mod posture;
pub mod reasons;
pub mod runs;
pub mod security;
pub mod server;
pub mod sessions;
pub mod state;
pub mod trace;
pub mod trend;
pub mod usage;
pub mod users;

pub use error::{AppError, PageError};
pub use layout::{Layout, thousands};
pub use server::{serve, shutdown_signal};
pub use state::{AppState, RunCache, WebSettings};

use access::{Access, Route};
use axum::Router;
use axum::http::StatusCode;
use std::sync::LazyLock;
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// How long a request may take before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest request body accepted (no endpoint takes uploads).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Every route, each with who may use it.
pub fn routes() -> Vec<Route> {
    [
        health::routes(),
        overview::routes(),
        departments::routes(),
        users::routes(),
        runs::routes(),
        lookup::routes(),
        reasons::routes(),
        audit::routes(),
        auth::routes(),
        sessions::routes(),
        posture::routes(),
        actions::routes(),
        usage::routes(),
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

/// What the route at `path` (as matched) answers; pages for a path that is no route.
pub fn answers_at(path: &str) -> access::Answers {
    static TABLE: LazyLock<Vec<(&'static str, access::Answers)>> =
        LazyLock::new(|| routes().iter().map(|r| (r.path, r.answers)).collect());
    TABLE
        .iter()
        .find(|(p, _)| *p == path)
        .map_or(access::Answers::Page, |(_, a)| *a)
}

/// The whole router: every route behind its access check, every answer with the security
/// headers.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new();
    for route in routes() {
        let guard = axum::middleware::from_fn_with_state(
            (state.clone(), route.access, route.answers),
            access::enforce,
        );
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
