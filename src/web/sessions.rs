//! `/sessions`: who is signed in now, from where and since when; a security lead can end any
//! session at once (`POST /sessions/{handle}/revoke`).

use super::access::{Access, Route};
use super::caller::Caller;
use super::{AppError, AppState, Layout, PageError};
use crate::auth::Role;
use crate::config::AuthMode;
use crate::db::lookup::record_access;
use crate::db::sessions::{self, SessionSummary};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::Redirect;
use axum::routing::{get, post};
use chrono::Utc;
use uuid::Uuid;

pub fn routes() -> Vec<Route> {
    vec![
        Route::page("/sessions", Access::Role(Role::SecurityLead), get(page)),
        Route::page(
            "/sessions/{handle}/revoke",
            Access::Role(Role::SecurityLead),
            post(revoke),
        ),
    ]
}

/// A session as listed.
pub struct Row {
    pub s: SessionSummary,
    pub role: &'static str,
    pub yours: bool,
}

impl Row {
    pub fn when(t: &chrono::DateTime<Utc>) -> String {
        t.format("%Y-%m-%d %H:%M").to_string()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "sessions.html")]
pub struct SessionsPage {
    layout: Layout,
    auth_off: bool,
    rows: Vec<Row>,
    idle: String,
    max: String,
}

async fn page(State(state): State<AppState>, caller: Caller) -> Result<SessionsPage, PageError> {
    let now = Utc::now();
    let live = sessions::live_sessions(&state.pool, now, now - state.config.session_idle).await?;
    Ok(SessionsPage {
        layout: Layout::new(&state, Some(&caller), "sessions"),
        auth_off: state.config.auth == AuthMode::None,
        rows: live
            .into_iter()
            .map(|s| Row {
                role: state
                    .config
                    .roles
                    .resolve(&s.roles, &s.groups)
                    .map(Role::label)
                    .unwrap_or("no role"),
                yours: caller.session == Some(s.handle),
                s,
            })
            .collect(),
        idle: humantime::format_duration(state.config.session_idle).to_string(),
        max: humantime::format_duration(state.config.session_max).to_string(),
    })
}

/// Ends a session now; its browser is sent to sign in again on its next request.
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(handle): Path<String>,
) -> Result<Redirect, PageError> {
    let handle =
        Uuid::parse_str(&handle).map_err(|_| AppError::NotFoundWith("No such session.".into()))?;
    let label = caller.label();
    let mut tx = state.pool.begin().await.map_err(AppError::from)?;
    let revoked = sessions::revoke_session(&mut *tx, handle, &label, Utc::now())
        .await?
        .ok_or_else(|| {
            AppError::NotFoundWith("No such session, or it has already ended.".into())
        })?;
    record_access(
        &mut *tx,
        caller.accessor(&label),
        "session_revoked",
        Some(revoked.object_id),
        &revoked.username,
    )
    .await?;
    tx.commit().await.map_err(AppError::from)?;
    Ok(Redirect::to("/sessions"))
}
