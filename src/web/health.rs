//! `/healthz`: public, for load balancers. 200 when the database answers within
//! [`HEALTH_TIMEOUT`], 503 otherwise, so a health check with a short timeout of its own gets an
//! answer, not a timeout.
//!
//! And [`fail_fast`]: once a request has found the database unreachable, the next ones do not
//! each wait for a connection. Each first pings it with a short bound and answers 503 at once
//! while it is away; the first ping that succeeds lets requests through again, with no restart.

use super::access::{Access, Answers, Route};
use super::{AppError, AppState, PageError, access_table};
use crate::db::operations as ops;
use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// `/healthz` answers within this, whatever the database does (well inside the second a
/// load balancer's check may allow, on a busy machine too).
pub const HEALTH_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a request waits for the database while it is known to be away.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(300);
/// What a request is told while the database cannot be reached.
pub const DATABASE_AWAY: &str = "The database is not answering; try again shortly.";

/// Marks an answer that found the database unreachable.
#[derive(Debug, Clone, Copy)]
pub struct DatabaseAway;

pub fn routes() -> Vec<Route> {
    vec![Route::json("/healthz", Access::Public, get(healthz))]
}

async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match tokio::time::timeout(HEALTH_TIMEOUT, ops::ping(&state.pool)).await {
        Ok(Ok(())) => (StatusCode::OK, Json(json!({ "status": "ok" }))),
        failed => {
            match failed {
                Ok(Err(e)) => tracing::warn!("health check: database unreachable: {e}"),
                _ => tracing::warn!(
                    "health check: the database did not answer within {} ms",
                    HEALTH_TIMEOUT.as_millis()
                ),
            }
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "database unreachable" })),
            )
        }
    }
}

/// In front of every route but the public ones (which need no database, or bound their own
/// wait): see the module comment.
pub async fn fail_fast(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let guarded = route.as_deref().is_some_and(|r| {
        access_table()
            .iter()
            .any(|(path, access)| *path == r && *access != Access::Public)
    });
    if guarded && state.database_away.load(Ordering::Relaxed) {
        match tokio::time::timeout(PROBE_TIMEOUT, ops::ping(&state.pool)).await {
            Ok(Ok(())) => {
                if state.database_away.swap(false, Ordering::Relaxed) {
                    tracing::info!("the database answers again");
                }
            }
            _ => {
                let away = AppError::Unavailable(DATABASE_AWAY.to_owned());
                let answers = route.as_deref().map(super::answers_at);
                return if answers == Some(Answers::Json) {
                    away.into_response()
                } else {
                    PageError(away).into_response()
                };
            }
        }
    }
    let response = next.run(request).await;
    if guarded
        && response.extensions().get::<DatabaseAway>().is_some()
        && !state.database_away.swap(true, Ordering::Relaxed)
    {
        tracing::warn!("the database is away: requests are answered 503 until it is back");
    }
    response
}
