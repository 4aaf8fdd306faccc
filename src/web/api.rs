//! The JSON API under `/api/v1/` (names are a contract: add fields, rename none).

use super::access::{Access, Route};
use super::departments::{self, Group};
use super::params::Params;
use super::trend::{self, Trend, TrendJson};
use super::{AppError, AppState, users};
use crate::auth::Role;
use crate::db::operations::{self as ops, Counts, Run};
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Runs listed by default by `/api/v1/sync/runs`, and the most one request may ask for.
const DEFAULT_RUNS: i64 = 50;
const MAX_RUNS: i64 = 500;
/// The longest trend window one request may ask for (about 30 years of daily points).
const MAX_DAYS: i64 = 11_000;

pub fn routes() -> Vec<Route> {
    let viewer = Access::Role(Role::Viewer);
    vec![
        Route::new("/api/v1/summary", viewer, get(summary)),
        Route::new("/api/v1/trend", viewer, get(trend)),
        Route::new("/api/v1/departments", viewer, get(departments)),
        Route::new("/api/v1/users", Access::Role(Role::Helpdesk), get(users)),
        Route::new("/api/v1/sync/runs", viewer, get(runs)),
        Route::new(
            "/api/v1/users/{id}",
            Access::Role(Role::Helpdesk),
            get(super::lookup::user_json),
        ),
    ]
}

#[derive(Debug, Serialize)]
pub struct RunRef {
    pub id: i64,
    pub finished_at: Option<DateTime<Utc>>,
    pub data_as_of: Option<DateTime<Utc>>,
}

/// The newest attempt, so a failure or a stale sync can be shown beside the numbers.
#[derive(Debug, Serialize)]
pub struct LastSync {
    pub id: i64,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    /// The run the numbers come from (the newest that succeeded); null before the first sync.
    pub run: Option<RunRef>,
    /// In-scope members.
    pub users: i32,
    pub states: BTreeMap<&'static str, i32>,
    pub guests: i32,
    pub admins_phone_only: i32,
    pub admins: i32,
    pub voice_capable: i32,
    pub voice_default: i32,
    pub phishing_resistant: i32,
    /// Members out of scope (disabled accounts).
    pub out_of_scope: i32,
    /// Phone-backup + phone-free.
    pub migrated: i32,
    /// Migrated ÷ in scope, 0–1.
    pub progress: f64,
    pub deadline: NaiveDate,
    pub last_sync: Option<LastSync>,
    /// All of the above as one value, for the overview's tiles.
    #[serde(skip)]
    pub counts: Counts,
}

impl Summary {
    pub fn new(
        run: Option<&Run>,
        counts: Counts,
        deadline: NaiveDate,
        last: Option<&Run>,
    ) -> Summary {
        Summary {
            run: run.map(|r| RunRef {
                id: r.id,
                finished_at: r.finished_at,
                data_as_of: r.data_as_of,
            }),
            users: counts.users,
            states: trend::states(&counts),
            guests: counts.guests,
            admins_phone_only: counts.admins_phone_only,
            admins: counts.admins,
            voice_capable: counts.voice_capable,
            voice_default: counts.voice_default,
            phishing_resistant: counts.phishing_resistant,
            out_of_scope: counts.out_of_scope,
            migrated: counts.phone_backup + counts.phone_free,
            progress: counts.progress(),
            deadline,
            last_sync: last.map(|r| LastSync {
                id: r.id,
                status: r.status.clone(),
                started_at: r.started_at,
                finished_at: r.finished_at,
                error: r.error.clone(),
            }),
            counts,
        }
    }
}

/// Loads the summary of the newest complete run (shared by the API and the overview page).
pub async fn load_summary(state: &AppState) -> Result<Summary, AppError> {
    let run = ops::latest_succeeded_run(&state.pool).await?;
    let counts = match &run {
        Some(r) => ops::tenant_counts(&state.pool, r.id)
            .await?
            .unwrap_or_default(),
        None => Counts::default(),
    };
    let last = ops::recent_runs(&state.pool, 10).await?;
    let last_attempt = last.iter().find(|r| r.status != "skipped");
    Ok(Summary::new(
        run.as_ref(),
        counts,
        state.config.deadline,
        last_attempt,
    ))
}

async fn summary(State(state): State<AppState>) -> Result<Json<Summary>, AppError> {
    Ok(Json(load_summary(&state).await?))
}

#[derive(Serialize)]
struct Runs {
    runs: Vec<Run>,
}

async fn runs(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Runs>, AppError> {
    let p = Params::parse(raw.as_deref(), &["limit"])?;
    let limit = p.number("limit", 1..=MAX_RUNS, DEFAULT_RUNS)?;
    let runs = ops::recent_runs(&state.pool, limit).await?;
    Ok(Json(Runs { runs }))
}

/// `?days=N` (all days when absent) of the tenant, or of one group with `by` and `name` (no
/// `name`: the group without one, such as "(no department)").
async fn trend(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<TrendJson>, AppError> {
    let p = Params::parse(raw.as_deref(), &["days", "by", "name"])?;
    let days = p
        .get("days")
        .map(|_| p.number("days", 1..=MAX_DAYS, 0))
        .transpose()?;
    let (dimension, name) = match p.get("by") {
        None if p.get("name").is_some() => {
            return Err(AppError::BadRequest(
                "name needs by (department, company, office or country)".into(),
            ));
        }
        None => ("tenant", None),
        Some(_) => (departments::dimension(&p)?.0, p.get("name")),
    };
    let t = Trend::load(&state.pool, dimension, name, state.config.deadline).await?;
    Ok(Json(t.json(days)))
}

#[derive(Serialize)]
struct Groups {
    by: &'static str,
    groups: Vec<Group>,
}

async fn departments(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Groups>, AppError> {
    let p = Params::parse(raw.as_deref(), &["by"])?;
    let by = departments::dimension(&p)?.0;
    Ok(Json(Groups {
        by,
        groups: departments::load_groups(&state, by).await?,
    }))
}

async fn users(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<users::ItemsJson>, AppError> {
    Ok(Json(users::api(&state, raw.as_deref()).await?))
}
