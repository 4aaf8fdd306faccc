//! `/healthz`: public, for load balancers. 200 when the database answers, 503 otherwise.

use super::AppState;
use super::access::{Access, Route};
use crate::db::operations as ops;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

pub fn routes() -> Vec<Route> {
    vec![Route::json("/healthz", Access::Public, get(healthz))]
}

async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match ops::ping(&state.pool).await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok" }))),
        Err(e) => {
            tracing::warn!("health check: database unreachable: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "database unreachable" })),
            )
        }
    }
}
