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
use crate::domain::availability::Basis;
use crate::domain::classify::State as MigrationState;
use crate::domain::reasons::{ReasonCounts, ReasonCountsJson};
use crate::domain::retirement::{Cohort, Dates, days_until, long_date};
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

/// A sync older than this gets a warning: syncs run every few hours.
pub const STALE_AFTER: Duration = Duration::hours(48);
/// Microsoft's report older than this gets a warning: Microsoft says it can lag up to 36 hours
/// (graph-api.md §12), so anything older means the report itself has stopped refreshing.
pub const REPORT_STALE_AFTER: Duration = Duration::hours(36);

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
            "P1: no stronger method registered",
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
    usage: super::usage::UsageSection,
    dates: Vec<DateCard>,
    early_title: String,
    availability_caveat: Option<&'static str>,
    /// Disabled accounts (out of scope, not by the rule).
    disabled: i32,
    stale: Option<String>,
    /// Why the people still on the phone are (as the helpdesk recorded it).
    reasons: Vec<super::reasons::CountRow>,
    on_phone: String,
    security_keys: String,
    security_keys_href: String,
    follow_ups_due: String,
}

/// One retirement date on the overview: countdown, who, blocked, burn-down.
pub struct DateCard {
    pub title: String,
    pub countdown: String,
    pub who: &'static str,
    pub people: String,
    pub blocked: String,
    pub blocked_href: String,
    /// "unknown" when the roles could not be read.
    pub admins_blocked: String,
    /// The late date only.
    pub external_blocked: Option<String>,
    pub sentence: String,
    pub chart: Chart,
}

/// "62 days left", "today", "passed 3 days ago".
fn countdown(days: i64) -> String {
    match days {
        0 => "today".into(),
        1 => "1 day left".into(),
        d if d > 1 => format!("{} days left", thousands(d)),
        -1 => "passed yesterday".into(),
        d => format!("passed {} days ago", thousands(-d)),
    }
}

fn date_cards(summary: &Summary, trend: &Trend, days: Option<i64>) -> Vec<DateCard> {
    summary
        .deadlines
        .iter()
        .zip(&trend.cohorts)
        .map(|(d, t)| {
            let late = t.cohort == Cohort::Late;
            DateCard {
                title: long_date(d.date),
                countdown: countdown(d.days_left),
                who: if late {
                    "Active Global Administrators and external users (members and guests)"
                } else {
                    "Everyone else in scope (internal guests have this date too)"
                },
                people: thousands(d.people.into()),
                blocked: thousands(d.blocked.into()),
                blocked_href: format!(
                    "/users?deadline={}&state=all&blocked=true{}",
                    if late { "late" } else { "early" },
                    if late { "&user_type=all" } else { "" }
                ),
                admins_blocked: d
                    .admins_blocked
                    .map_or_else(|| "unknown".to_owned(), |n| thousands(n.into())),
                external_blocked: late.then(|| thousands(d.external_blocked.into())),
                sentence: t.sentence(),
                chart: t.chart(days.map(|d| d.max(90)), "the tenant"),
            }
        })
        .collect()
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
    (now - refreshed > REPORT_STALE_AFTER).then(|| {
        format!(
            "Microsoft's registration report was last refreshed {} ago ({}). Microsoft says the \
             report can lag up to 36 hours behind what people register, so this is older than \
             even that: recent registrations and removals are missing from these numbers.",
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
    let trend = Trend::load(&state.pool, Dimension::Tenant, None, state.config.deadlines).await?;
    let on_phone = on_the_phone(&summary.counts);
    Ok(OverviewPage {
        layout: Layout::new(&state, Some(&caller), "overview"),
        tiles: tiles(&summary.counts, &trend),
        ranges: range_links("/?", range_key),
        states_chart: trend.states_chart(days, "the tenant"),
        usage: super::usage::UsageSection::load(&state.pool, days).await?,
        dates: date_cards(&summary, &trend, days),
        early_title: long_date(state.config.deadlines.early),
        availability_caveat: summary.availability.and_then(Basis::caveat),
        disabled: summary.out_of_scope - summary.out_of_scope_rule,
        stale: staleness(&summary, Utc::now()),
        reasons: super::reasons::count_rows(&summary.reason_counts, on_phone, "/users?"),
        on_phone: thousands(on_phone),
        security_keys: thousands(summary.reason_counts.security_keys_needed()),
        security_keys_href: format!("/users?reason={}", super::users::security_keys_filter()),
        follow_ups_due: thousands(summary.reason_counts.follow_up_due),
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
    /// Members taken out of scope by the configured rule (part of `out_of_scope`).
    pub out_of_scope_rule: i32,
    /// The rule in words (null when none is configured).
    pub out_of_scope_rules: Option<String>,
    /// External guests: counted apart from members, but on the late date's list.
    pub external_guests: i32,
    /// External members (in scope, on the late date's list).
    pub external_members: i32,
    /// Phone-backup + phone-free.
    pub migrated: i32,
    /// Migrated ÷ in scope, 0–1.
    pub progress: f64,
    /// The early date (`deadlines` has both).
    pub deadline: NaiveDate,
    /// Each retirement date with who has it and who will be blocked on it, earliest first.
    pub deadlines: Vec<DeadlineJson>,
    /// Whether the Global Administrator role holders were read in this run: when not, the
    /// admin counts are null and every internal member is on the early date.
    pub admins_known: bool,
    /// What "available" was worked out from: `policy`, or a reason the registered methods
    /// stood in (`migration_incomplete`, `policy_unread`, `groups_unread`).
    pub availability: Option<Basis>,
    pub last_sync: Option<LastSync>,
    /// The reasons recorded for the people still on the phone (in scope), by reason word, with
    /// `security_keys_needed` and `follow_up_due`.
    pub reasons: ReasonCountsJson,
    /// All of the above as one value, for the overview's tiles.
    #[serde(skip)]
    pub counts: Counts,
    #[serde(skip)]
    pub reason_counts: ReasonCounts,
}

/// The in-scope people still on the phone (P1–P3) of a group's counts.
pub fn on_the_phone(c: &Counts) -> i64 {
    crate::domain::reasons::PHONE_STATES
        .iter()
        .map(|s| i64::from(c.state(*s)))
        .sum()
}

/// One retirement date in the summary.
#[derive(Debug, Serialize)]
pub struct DeadlineJson {
    pub date: NaiveDate,
    /// Everyone whose date it is: the in-scope members with that date, plus external guests
    /// for the late date.
    pub people: i32,
    /// Of them, those with a phone and no stronger method available.
    pub blocked: i32,
    /// Blocked admins (the report's isAdmin, or Global Administrator); null when the roles
    /// could not be read.
    pub admins_blocked: Option<i32>,
    pub external_blocked: i32,
    /// Whole days from today until the date (negative once passed).
    pub days_left: i64,
}

impl Summary {
    pub fn new(
        run: Option<&Run>,
        counts: Counts,
        dates: Dates,
        rules: Option<String>,
        last: Option<&Run>,
        reasons: ReasonCounts,
    ) -> Summary {
        let admins_known = run.and_then(|r| r.admins_known).unwrap_or(false);
        let today = Utc::now().date_naive();
        let deadlines = dates
            .both()
            .into_iter()
            .map(|(cohort, date)| {
                let c = counts.cohort(cohort);
                DeadlineJson {
                    date,
                    people: c.people,
                    blocked: c.blocked,
                    admins_blocked: admins_known.then_some(c.admins_blocked),
                    // Every external user has the late date.
                    external_blocked: if cohort == Cohort::Late {
                        counts.external_blocked
                    } else {
                        0
                    },
                    days_left: days_until(today, date),
                }
            })
            .collect();
        Summary {
            out_of_scope_rule: counts.out_of_scope_rule,
            out_of_scope_rules: rules,
            external_guests: counts.external_guests,
            external_members: counts.external_members,
            deadlines,
            admins_known,
            availability: run.and_then(|r| r.availability),
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
            deadline: dates.early,
            last_sync: last.map(|r| LastSync {
                id: r.id,
                status: r.status,
                started_at: r.started_at,
                finished_at: r.finished_at,
                error: r.error.clone(),
            }),
            counts,
            reasons: reasons.json(),
            reason_counts: reasons,
        }
    }
}

/// Loads the summary of the newest complete run (shared by the API and the overview page).
pub async fn load_summary(state: &AppState) -> Result<Summary, AppError> {
    let run = ops::latest_succeeded_run(&state.pool).await?;
    let counts = match &run {
        Some(r) => crate::db::dashboard::tenant_counts(&state.pool, r.id)
            .await?
            .unwrap_or_default(),
        None => Counts::default(),
    };
    let reasons = match &run {
        Some(_) => {
            state
                .reasons
                .tenant(&state.pool, Utc::now().date_naive())
                .await?
        }
        None => ReasonCounts::default(),
    };
    let last = ops::recent_runs(&state.pool, 10).await?;
    let last_attempt = last.iter().find(|r| r.status != RunStatus::Skipped);
    Ok(Summary::new(
        run.as_ref(),
        counts,
        state.config.deadlines,
        state.config.out_of_scope.describe(),
        last_attempt,
        reasons,
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
    let t = Trend::load(&state.pool, dimension, name, state.config.deadlines).await?;
    Ok(Json(t.json(days)))
}
