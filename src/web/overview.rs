//! `/`: the headline numbers of the newest complete run with their change over 7 and 30 days,
//! the states over time and the burn-down to the deadline.

use super::access::{Access, Route};
use super::caller::Caller;
use super::chart::Chart;
use super::params::Params;
use super::trend::{self, DEFAULT_RANGE, RANGES, Trend};
use super::{AppError, AppState, Layout, PageError, departments, thousands};
use crate::auth::Role;
use crate::db::operations::{self as ops, Run};
use crate::domain::classify::State as MigrationState;
use crate::domain::{Counts, Dimension, RunStatus};
use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The stylesheet, built into the binary so it works from any directory.
const STYLE_CSS: &str = include_str!("../../static/style.css");

/// The start of the stylesheet's SHA-256, in hex: its version.
static STYLE_VERSION: LazyLock<String> = LazyLock::new(|| {
    Sha256::digest(STYLE_CSS.as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
});

/// The address pages link the stylesheet at: it names the version, so a browser may keep it
/// for a year and still gets a new one with each change.
pub static STYLE_URL: LazyLock<String> =
    LazyLock::new(|| format!("/static/style.css?v={}", *STYLE_VERSION));

/// Data older than this gets a warning: syncs run every few hours, and the report refreshes
/// a few times a day.
pub const STALE_AFTER: Duration = Duration::hours(48);

pub fn routes() -> Vec<Route> {
    vec![
        Route::page("/", Access::Role(Role::Viewer), get(overview)),
        Route::page("/static/style.css", Access::Public, get(style)),
        Route::json("/api/v1/summary", Access::Role(Role::Viewer), get(summary)),
        Route::json("/api/v1/trend", Access::Role(Role::Viewer), get(trend_json)),
    ]
}

/// The stylesheet: kept for a year when asked for by its current version, revalidated
/// otherwise (an old page, a typed address).
async fn style(RawQuery(raw): RawQuery) -> impl IntoResponse {
    let current = raw.is_some_and(|q| q.strip_prefix("v=") == Some(STYLE_VERSION.as_str()));
    let cache = if current {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, cache),
        ],
        STYLE_CSS,
    )
}

/// One headline number with its recent change.
pub struct Tile {
    pub label: &'static str,
    pub value: String,
    pub note: &'static str,
    pub class: &'static str,
    pub change_7d: String,
    pub change_30d: String,
}

/// The headline tiles of a group's newest counts, with changes from its trend.
pub fn tiles(counts: &Counts, trend: &Trend) -> Vec<Tile> {
    let tile = |label, note, class, value: fn(&Counts) -> i32| Tile {
        label,
        value: thousands(value(counts).into()),
        note,
        class,
        change_7d: trend::signed(trend.change(7, |c| value(c).into())),
        change_30d: trend::signed(trend.change(30, |c| value(c).into())),
    };
    vec![
        tile("In scope", "members with an enabled account", "", |c| {
            c.users
        }),
        tile(
            "Phone only",
            "P1: blocked at sign-in after the deadline",
            "p1",
            |c| c.state(MigrationState::PhoneOnly),
        ),
        tile(
            "Phone default",
            "P2: stronger method, phone as default",
            "p2",
            |c| c.state(MigrationState::PhoneDefault),
        ),
        tile("Phone backup", "P3: phone can be removed", "p3", |c| {
            c.state(MigrationState::PhoneBackup)
        }),
        tile("Phone free", "done", "done", |c| {
            c.state(MigrationState::PhoneFree)
        }),
        tile("No MFA", "a separate problem", "nomfa", |c| {
            c.state(MigrationState::NoMfa)
        }),
        tile("Voice capable", "can receive voice calls", "", |c| {
            c.voice_capable
        }),
        tile(
            "Phishing resistant",
            "passkey, FIDO2, Windows Hello or certificate",
            "",
            |c| c.phishing_resistant,
        ),
        tile("Admins phone only", "privileged and weakest", "p1", |c| {
            c.admins_phone_only
        }),
    ]
}

/// The range switch of a trend chart.
pub struct RangeLink {
    pub href: String,
    pub label: &'static str,
    pub current: bool,
}

/// Reads `range` (30d, 90d, 1y, all): the key and its number of days.
pub fn range(p: &Params) -> Result<(&'static str, Option<i64>), PageError> {
    let keys: Vec<&str> = RANGES.iter().map(|r| r.0).collect();
    let key = p.choice("range", &keys)?.unwrap_or(DEFAULT_RANGE);
    let days = RANGES.iter().find(|r| r.0 == key).and_then(|r| r.2);
    Ok((key, days))
}

/// The range switch's links: `page` followed by `range=…` (`page` ends in `?` or `&`).
pub fn range_links(page: &str, current: &str) -> Vec<RangeLink> {
    RANGES
        .iter()
        .map(|(key, label, _)| RangeLink {
            href: format!("{page}range={key}"),
            label,
            current: *key == current,
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    layout: Layout,
    summary: Summary,
    tiles: Vec<Tile>,
    ranges: Vec<RangeLink>,
    states_chart: Chart,
    burn_down: Chart,
    forecast: String,
    stale: Option<String>,
}

/// A warning when the newest data is old: the syncer stopped, or Microsoft's report did.
pub fn staleness(summary: &Summary, now: DateTime<Utc>) -> Option<String> {
    let run = summary.run.as_ref()?;
    let synced = run.finished_at?;
    if now - synced > STALE_AFTER {
        return Some(format!(
            "The newest complete sync finished {} ago ({}). Check that the syncer is running; \
             the Sync page lists recent attempts.",
            age(now - synced),
            synced.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    let refreshed = run.data_as_of?;
    (now - refreshed > STALE_AFTER).then(|| {
        format!(
            "Microsoft's registration report was last refreshed {} ago ({}); the numbers may \
             lag behind recent registrations.",
            age(now - refreshed),
            refreshed.format("%Y-%m-%d %H:%M UTC")
        )
    })
}

fn age(d: Duration) -> String {
    if d.num_days() >= 2 {
        format!("{} days", d.num_days())
    } else {
        format!("{} hours", d.num_hours())
    }
}

impl OverviewPage {
    fn progress_percent(&self) -> String {
        format!("{:.1}%", self.summary.progress * 100.0)
    }

    fn data_as_of(&self) -> String {
        self.summary
            .run
            .as_ref()
            .and_then(|r| r.data_as_of)
            .map_or_else(
                || "unknown".to_owned(),
                |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
            )
    }

    /// "last sync succeeded at 2026-11-24 04:37 UTC" (the newest attempt, whatever its outcome).
    fn last_sync(&self) -> String {
        match &self.summary.last_sync {
            Some(l) => format!(
                "last sync {} at {}",
                l.status,
                l.finished_at
                    .unwrap_or(l.started_at)
                    .format("%Y-%m-%d %H:%M UTC")
            ),
            None => "no sync yet".to_owned(),
        }
    }

    fn last_sync_failed(&self) -> Option<String> {
        let last = self.summary.last_sync.as_ref()?;
        (last.status == RunStatus::Failed)
            .then(|| sentence(last.error.as_deref().unwrap_or("no reason was recorded")))
    }

    fn number(n: &i32) -> String {
        thousands((*n).into())
    }
}

/// A stored error (written to follow a colon) as a sentence: capital first letter.
pub fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

async fn overview(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<OverviewPage, PageError> {
    let p = Params::parse(raw.as_deref(), &["range"])?;
    let (range_key, days) = range(&p)?;
    let summary = load_summary(&state).await?;
    let trend = Trend::load(&state.pool, Dimension::Tenant, None, state.config.deadline).await?;
    Ok(OverviewPage {
        layout: Layout::new(&state, Some(&caller), "overview"),
        tiles: tiles(&summary.counts, &trend),
        ranges: range_links("/?", range_key),
        states_chart: trend.states_chart(days, "the tenant"),
        burn_down: trend.burn_down_chart(days.map(|d| d.max(90)), "the tenant"),
        forecast: trend.forecast_sentence(),
        stale: staleness(&summary, Utc::now()),
        summary,
    })
}

/// The longest trend window one request may ask for (about 30 years of daily points).
const MAX_DAYS: i64 = 11_000;

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
    pub status: RunStatus,
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
            states: counts.states(),
            guests: counts.guests,
            admins_phone_only: counts.admins_phone_only,
            admins: counts.admins,
            voice_capable: counts.voice_capable,
            voice_default: counts.voice_default,
            phishing_resistant: counts.phishing_resistant,
            out_of_scope: counts.out_of_scope,
            migrated: counts.migrated(),
            progress: counts.progress(),
            deadline,
            last_sync: last.map(|r| LastSync {
                id: r.id,
                status: r.status,
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
    let last_attempt = last.iter().find(|r| r.status != RunStatus::Skipped);
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

/// `?days=N` (all days when absent) of the tenant, or of one group with `by` and `name` (no
/// `name`: the group without one, such as "(no department)").
async fn trend_json(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<trend::TrendJson>, AppError> {
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
        None => (Dimension::Tenant, None),
        Some(_) => (departments::dimension(&p)?, p.get("name")),
    };
    let t = Trend::load(&state.pool, dimension, name, state.config.deadline).await?;
    Ok(Json(t.json(days)))
}
