//! `/sync`: recent sync runs, what went wrong in plain words, and what to fix.

use super::access::{Access, Route};
use super::caller::Caller;
use super::overview::sentence;
use super::params::Params;
use super::{AppError, AppState, Layout, PageError, thousands};
use crate::auth::Role;
use crate::db::operations::{self as ops, Run};
use crate::domain::RunStatus;
use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use serde::Serialize;

/// Runs listed by default by `/api/v1/sync/runs`, and the most one request may ask for.
const DEFAULT_RUNS: i64 = 50;
const MAX_RUNS: i64 = 500;
/// Runs the page lists.
pub const PAGE_RUNS: i64 = 100;

pub fn routes() -> Vec<Route> {
    vec![
        Route::page("/sync", Access::Role(Role::Viewer), get(page)),
        Route::json(
            "/api/v1/sync/runs",
            Access::Role(Role::Viewer),
            get(runs_json),
        ),
    ]
}

#[derive(Serialize)]
struct Runs {
    runs: Vec<Run>,
}

async fn runs_json(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Runs>, AppError> {
    let p = Params::parse(raw.as_deref(), &["limit"])?;
    let limit = p.number("limit", 1..=MAX_RUNS, DEFAULT_RUNS)?;
    let runs = ops::recent_runs(&state.pool, limit).await?;
    Ok(Json(Runs { runs }))
}

/// What to do about a failed run, by the kind of its error.
pub fn remedy(kind: &str) -> &'static str {
    match kind {
        "licence" => {
            "Assign a Microsoft Entra ID P1 or P2 licence (or Microsoft 365 E3/E5, Business \
             Premium) to at least one user; the registration report needs it."
        }
        "permission" => {
            "In the app registration, add the application permission named in the error and \
             have an administrator grant admin consent."
        }
        "sign_in" => {
            "Check PHONELESS_TENANT_ID, PHONELESS_CLIENT_ID and the client secret or certificate \
             (it may have expired)."
        }
        "throttled" => {
            "Microsoft limited the report's request rate. The next sync usually succeeds; if this \
             repeats, lower PHONELESS_REPORT_RATE or sync less often."
        }
        "unavailable" => {
            "Microsoft Graph had an outage (it answered 5xx, not a throttling 429). The next sync \
             usually succeeds; the Microsoft 365 admin center's Service health says when it is over."
        }
        "unreachable" => {
            "Check this server's network path to graph.microsoft.com and login.microsoftonline.com \
             (proxy, firewall, DNS)."
        }
        "graph" => "Microsoft Graph answered with an error; the next sync usually succeeds.",
        "interrupted" => "The process stopped mid-sync; nothing to fix unless it keeps happening.",
        "database" => "Check that PostgreSQL is running and has free disk space.",
        "locked" => "Another sync was running; this one stepped aside.",
        "config" => "Fix the configuration named in the error and restart.",
        _ => "See the error; the next sync may succeed.",
    }
}

/// A run as the page shows it.
pub struct RunRow {
    pub id: i64,
    pub status: RunStatus,
    pub started: String,
    pub duration: String,
    pub users: String,
    pub changes: String,
    pub appeared: String,
    pub gone: String,
    pub pages: String,
    pub retries: String,
    pub error: Option<String>,
    pub remedy: Option<&'static str>,
}

impl From<&Run> for RunRow {
    fn from(r: &Run) -> RunRow {
        let n = |v: i32| thousands(v.into());
        RunRow {
            id: r.id,
            status: r.status,
            started: r.started_at.format("%Y-%m-%d %H:%M").to_string(),
            duration: match r.finished_at {
                Some(f) => format!(
                    "{:.1} s",
                    (f - r.started_at).num_milliseconds() as f64 / 1000.0
                ),
                None if r.status == RunStatus::Running => "running".to_owned(),
                // Interrupted: its process stopped without saying when.
                None => "unknown".to_owned(),
            },
            users: n(r.users),
            changes: n(r.changes),
            appeared: n(r.appeared),
            gone: n(r.gone),
            pages: n(r.pages),
            retries: n(r.retries),
            error: r.error.as_deref().map(sentence),
            remedy: (r.status == RunStatus::Failed || r.status == RunStatus::Skipped)
                .then(|| remedy(r.error_kind.as_deref().unwrap_or(""))),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "sync.html")]
pub struct SyncPage {
    layout: Layout,
    runs: Vec<RunRow>,
}

async fn page(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<SyncPage, PageError> {
    Params::parse(raw.as_deref(), &[])?;
    let runs = ops::recent_runs(&state.pool, PAGE_RUNS).await?;
    Ok(SyncPage {
        layout: Layout::new(&state, Some(&caller), "sync"),
        runs: runs.iter().map(RunRow::from).collect(),
    })
}
