//! The JSON API under `/api/v1/` (names are a contract: add fields, rename none).

use super::{AppError, AppState};
use crate::classify::State as MigrationState;
use crate::db::operations::{self as ops, Counts, Run};
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Runs listed by default by `/api/v1/sync/runs`, and the most one request may ask for.
const DEFAULT_RUNS: i64 = 50;
const MAX_RUNS: i64 = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/summary", get(summary))
        .route("/sync/runs", get(runs))
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
            states: MigrationState::ALL
                .iter()
                .map(|s| (s.as_str(), counts.state(*s)))
                .collect(),
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

/// Reads `limit` (1–500) from the query string; anything else is a 400 that says why.
fn limit(q: &HashMap<String, String>) -> Result<i64, AppError> {
    for key in q.keys() {
        if key != "limit" {
            return Err(AppError::BadRequest(format!(
                "unknown parameter {key:?}; this endpoint takes limit"
            )));
        }
    }
    match q.get("limit") {
        None => Ok(DEFAULT_RUNS),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=MAX_RUNS).contains(&n) => Ok(n),
            _ => Err(AppError::BadRequest(format!(
                "limit must be a whole number from 1 to {MAX_RUNS}, not {v:?}"
            ))),
        },
    }
}

async fn runs(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Runs>, AppError> {
    let runs = ops::recent_runs(&state.pool, limit(&q)?).await?;
    Ok(Json(Runs { runs }))
}
