//! `/departments`: progress per department (or company, office, country), and one group's
//! page with the overview's charts and its people still on the phone.

use super::access::{Access, Route};
use super::caller::Caller;
use super::chart::{Chart, Sparkline};
use super::overview::{RangeLink, Tile, range, range_links, tiles};
use super::params::Params;
use super::trend::{self, Trend};
use super::users::{NO_GROUP, Row as UserRow, first_page};
use super::{AppError, AppState, Layout, PageError, thousands};
use crate::auth::Role;
use crate::db::dashboard::{self, UserFilter};
use crate::db::operations as ops;
use crate::domain::Dimension;
use crate::domain::classify::State as MigrationState;
use crate::domain::reasons::{PhoneReason, ReasonCounts, ReasonCountsJson};
use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use chrono::{Duration, NaiveDate};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How far back the small trend lines reach.
pub const SPARK_DAYS: i64 = 90;
/// The window of `change_30d`.
pub const CHANGE_DAYS: i64 = 30;

pub fn routes() -> Vec<Route> {
    vec![
        Route::page("/departments", Access::Role(Role::Viewer), get(table)),
        Route::page(
            "/departments/view",
            Access::Role(Role::Viewer),
            get(group_page),
        ),
        Route::json(
            "/api/v1/departments",
            Access::Role(Role::Viewer),
            get(departments_json),
        ),
    ]
}

/// One group's row (the JSON contract of `/api/v1/departments`).
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// `null` for "(no department)" and the like.
    pub name: Option<String>,
    /// In-scope users.
    pub users: i32,
    pub states: BTreeMap<&'static str, i32>,
    /// Migrated ÷ in scope, 0–1.
    pub progress: f64,
    /// Change of `progress` over the last 30 days (null when the group is newer than that, or
    /// the history is shorter).
    pub change_30d: Option<f64>,
    pub migrated: i32,
    pub admins_phone_only: i32,
    pub voice_capable: i32,
    pub phishing_resistant: i32,
    /// Each retirement date: the group's people with that date and how many will be blocked
    /// (earliest first).
    pub deadlines: Vec<GroupDeadline>,
    /// Progress on each of the last 90 days (for the small trend line).
    #[serde(skip)]
    pub spark: Vec<f64>,
    /// The reasons recorded for the group's people still on the phone, as in the summary
    /// (departments only: null when grouped otherwise).
    pub reasons: Option<ReasonCountsJson>,
    #[serde(skip)]
    pub reason_counts: ReasonCounts,
    /// In-scope users who used SMS or voice for MFA in the last 30 days, as the sign-in log
    /// tells (0 before any sign-in was read: see `sign_ins_read`).
    pub people_phone_30d: i64,
}

/// One retirement date of a group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupDeadline {
    pub date: NaiveDate,
    pub people: i32,
    pub blocked: i32,
}

/// Reads `by`: one of [`Dimension::GROUPS`] (department when absent).
pub fn dimension(p: &Params) -> Result<Dimension, AppError> {
    let keys: Vec<&str> = Dimension::GROUPS.iter().map(|d| d.as_str()).collect();
    Ok(match p.choice("by", &keys)? {
        None => Dimension::Department,
        Some(by) => by.parse()?,
    })
}

#[derive(Serialize)]
struct Groups {
    by: Dimension,
    /// Whether any sign-in was read (else `people_phone_30d` knows nothing).
    sign_ins_read: bool,
    groups: Vec<Group>,
}

async fn departments_json(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Groups>, AppError> {
    let p = Params::parse(raw.as_deref(), &["by"])?;
    let by = dimension(&p)?;
    let (groups, sign_ins_read) = load_groups(&state, by).await?;
    Ok(Json(Groups {
        by,
        sign_ins_read,
        groups,
    }))
}

/// Every group of `by` in the newest succeeded run, ordered by name ("(no …)" last), and
/// whether any sign-in was read (for their phone use).
pub async fn load_groups(state: &AppState, by: Dimension) -> Result<(Vec<Group>, bool), AppError> {
    // What the phone use is kept for, read before it is counted: a change after it is seen
    // by the next request, never hidden.
    let read_until = dashboard::sign_ins_read_until(&state.pool).await?;
    let sign_ins_read = read_until.is_some();
    let Some(run) = ops::latest_succeeded_run(&state.pool).await? else {
        return Ok((Vec::new(), sign_ins_read));
    };
    let last_day = run.started_at.date_naive();
    let since = last_day - Duration::days(SPARK_DAYS.max(CHANGE_DAYS));
    let rows = dashboard::dimension_trend(&state.pool, by, since).await?;
    // The newest day at or before 30 days ago that has rows: the change's baseline.
    let baseline_day: Option<NaiveDate> = rows
        .iter()
        .map(|r| r.day)
        .filter(|d| *d <= last_day - Duration::days(CHANGE_DAYS))
        .max();
    let mut by_name: BTreeMap<Option<String>, Vec<&dashboard::DayCounts>> = BTreeMap::new();
    for r in &rows {
        by_name.entry(r.name.clone()).or_default().push(r);
    }
    let spark_from = last_day - Duration::days(SPARK_DAYS);
    let reasons: Option<BTreeMap<Option<String>, ReasonCounts>> = match by {
        Dimension::Department => Some(
            state
                .reasons
                .departments(&state.pool, chrono::Utc::now().date_naive())
                .await?
                .iter()
                .cloned()
                .collect(),
        ),
        _ => None,
    };
    let phone_30d: BTreeMap<Option<String>, i64> = if sign_ins_read {
        let counted = match state.cache.phone_use(run.id, read_until, by) {
            Some(hit) => hit,
            None => {
                let counted = Arc::new(dashboard::phone_use_by_group(&state.pool, by).await?);
                state
                    .cache
                    .put_phone_use(run.id, read_until, by, counted.clone());
                counted
            }
        };
        counted.iter().cloned().collect()
    } else {
        BTreeMap::new()
    };
    let mut groups: Vec<Group> = by_name
        .into_iter()
        .filter_map(|(name, days)| {
            let latest = days.last().filter(|d| d.run_id == run.id)?;
            let c = latest.counts;
            let baseline = days.iter().find(|d| Some(d.day) == baseline_day);
            let reason_counts = reasons
                .as_ref()
                .and_then(|r| r.get(&name).cloned())
                .unwrap_or_default();
            Some(Group {
                people_phone_30d: phone_30d.get(&name).copied().unwrap_or(0),
                reasons: reasons.as_ref().map(|_| reason_counts.json()),
                reason_counts,
                name,
                users: c.users,
                states: c.states(),
                progress: c.progress(),
                change_30d: baseline.map(|b| c.progress() - b.counts.progress()),
                migrated: c.phone_backup + c.phone_free,
                admins_phone_only: c.admins_phone_only,
                voice_capable: c.voice_capable,
                phishing_resistant: c.phishing_resistant,
                deadlines: state
                    .config
                    .deadlines
                    .both()
                    .into_iter()
                    .map(|(cohort, date)| {
                        let k = c.cohort(cohort);
                        GroupDeadline {
                            date,
                            people: k.people,
                            blocked: k.blocked,
                        }
                    })
                    .collect(),
                spark: days
                    .iter()
                    .filter(|d| d.day >= spark_from)
                    .map(|d| d.counts.progress())
                    .collect(),
            })
        })
        .collect();
    // BTreeMap puts None first; "(no department)" reads best last.
    groups.sort_by(|a, b| match (&a.name, &b.name) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(x), Some(y)) => x.cmp(y),
    });
    Ok((groups, sign_ins_read))
}

/// Sortable columns of the table: key, heading.
const COLUMNS: [(&str, &str); 12] = [
    ("name", "Name"),
    ("users", "Users"),
    ("phone_only", "Phone only"),
    ("phone_default", "Phone default"),
    ("phone_backup", "Phone backup"),
    ("phone_free", "Phone free"),
    ("no_mfa", "No MFA"),
    ("progress", "Progress"),
    ("change", "30 days"),
    ("blocked_early", "Blocked"),
    ("blocked_late", "Blocked"),
    ("phone_30d", "Used a phone, 30 days"),
];

fn sort_groups(groups: &mut [Group], key: &str, descending: bool) {
    let state = |g: &Group, s: &str| g.states.get(s).copied().unwrap_or(0);
    groups.sort_by(|a, b| {
        let o = match key {
            "name" => a.name.cmp(&b.name),
            "users" => a.users.cmp(&b.users),
            "progress" => a.progress.total_cmp(&b.progress),
            "blocked_early" => a.deadlines[0].blocked.cmp(&b.deadlines[0].blocked),
            "blocked_late" => a.deadlines[1].blocked.cmp(&b.deadlines[1].blocked),
            "phone_30d" => a.people_phone_30d.cmp(&b.people_phone_30d),
            "change" => a
                .change_30d
                .unwrap_or(f64::NEG_INFINITY)
                .total_cmp(&b.change_30d.unwrap_or(f64::NEG_INFINITY)),
            s => state(a, s).cmp(&state(b, s)),
        };
        if descending { o.reverse() } else { o }
    });
}

/// A column heading that sorts by it (and flips the direction when it already does).
pub struct SortLink {
    pub label: String,
    pub href: String,
    /// `ascending`, `descending` or `none` (for `aria-sort`).
    pub aria: &'static str,
    pub numeric: bool,
}

/// One table row as shown.
pub struct GroupRow {
    pub label: String,
    pub href: String,
    pub users: String,
    pub states: Vec<(&'static str, String)>,
    pub progress: f64,
    pub progress_text: String,
    pub change: String,
    /// Blocked on each date, of the group's people with that date.
    pub blocked: Vec<String>,
    /// Who used a phone to sign in in the last 30 days ("—" before any sign-in was read),
    /// and the list of them.
    pub phone_30d: String,
    pub phone_30d_href: String,
    pub spark: Sparkline,
}

#[derive(Template, WebTemplate)]
#[template(path = "departments.html")]
pub struct DepartmentsPage {
    layout: Layout,
    by: Dimension,
    heading: &'static str,
    switches: Vec<(&'static str, &'static str, bool)>,
    columns: Vec<SortLink>,
    rows: Vec<GroupRow>,
    /// Whether any sign-in was read (else the phone use column is empty).
    sign_ins_read: bool,
    /// Why people are still on the phone, per department (by department only).
    reason_heads: Vec<&'static str>,
    reason_rows: Vec<ReasonRow>,
}

/// One department's line of the reasons table.
pub struct ReasonRow {
    pub label: String,
    /// The people list of the department, ending in `&`.
    pub list: String,
    pub on_phone: String,
    pub none: String,
    pub keys: String,
    /// Per reason: word and count.
    pub reasons: Vec<(&'static str, String)>,
    pub due: String,
}

/// The reasons table's lines: the departments with people still on the phone, in the table's
/// order.
fn reason_rows(groups: &[Group]) -> Vec<ReasonRow> {
    groups
        .iter()
        .filter_map(|g| {
            let on_phone: i64 = crate::domain::reasons::PHONE_STATES
                .iter()
                .map(|s| i64::from(g.states.get(s.as_str()).copied().unwrap_or(0)))
                .sum();
            if on_phone == 0 {
                return None;
            }
            let c = &g.reason_counts;
            let mut list = form_urlencoded::Serializer::new(String::new());
            list.append_pair("department", g.name.as_deref().unwrap_or(NO_GROUP));
            Some(ReasonRow {
                label: g
                    .name
                    .clone()
                    .unwrap_or_else(|| Dimension::Department.none_label().to_owned()),
                list: format!("/users?{}&", list.finish()),
                on_phone: thousands(on_phone),
                none: thousands((on_phone - c.with_reason()).max(0)),
                keys: thousands(c.security_keys_needed()),
                reasons: PhoneReason::ALL
                    .iter()
                    .map(|r| (r.as_str(), thousands(c.of(*r))))
                    .collect(),
                due: thousands(c.follow_up_due),
            })
        })
        .collect()
}

impl DepartmentsPage {
    fn keys_filter(&self) -> String {
        super::users::security_keys_filter()
    }
}

impl DepartmentsPage {
    fn bar_width(p: &f64) -> String {
        format!("{:.1}", p * 100.0)
    }
}

/// The people list of a group's in-scope members who used a phone to sign in in the last 30
/// days, whatever their state (the column counts them all).
fn phone_list(by: Dimension, name: Option<&str>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair(by.as_str(), name.unwrap_or(NO_GROUP));
    q.append_pair("phone_used", "30d");
    q.append_pair("state", "all");
    format!("/users?{}", q.finish())
}

/// The query string that opens one group's page.
pub fn group_query(by: Dimension, name: Option<&str>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("by", by.as_str());
    if let Some(n) = name {
        q.append_pair("name", n);
    }
    q.finish()
}

async fn table(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<DepartmentsPage, PageError> {
    let p = Params::parse(raw.as_deref(), &["by", "sort", "dir"])?;
    let by = dimension(&p)?;
    let heading = by.heading();
    let keys: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
    let sort = p.choice("sort", &keys)?.unwrap_or("progress");
    let descending = p.choice("dir", &["asc", "desc"])? == Some("desc");
    let (mut groups, sign_ins_read) = load_groups(&state, by).await?;
    sort_groups(&mut groups, sort, descending);
    let columns = COLUMNS
        .iter()
        .map(|(key, label)| {
            let here = *key == sort;
            let dir = if here && !descending { "desc" } else { "asc" };
            let short = |d: NaiveDate| d.format("%-d %b %Y").to_string();
            SortLink {
                label: match *key {
                    "name" => heading.to_owned(),
                    "blocked_early" => format!("{label} {}", short(state.config.deadlines.early)),
                    "blocked_late" => format!("{label} {}", short(state.config.deadlines.late)),
                    _ => (*label).to_owned(),
                },
                href: format!("/departments?by={by}&sort={key}&dir={dir}"),
                aria: match (here, descending) {
                    (false, _) => "none",
                    (true, false) => "ascending",
                    (true, true) => "descending",
                },
                numeric: *key != "name",
            }
        })
        .collect();
    let rows = groups
        .iter()
        .map(|g| {
            let label = g.name.clone().unwrap_or_else(|| by.none_label().to_owned());
            GroupRow {
                href: format!("/departments/view?{}", group_query(by, g.name.as_deref())),
                users: thousands(g.users.into()),
                states: MigrationState::ALL
                    .iter()
                    .map(|s| {
                        (
                            trend::state_class(*s),
                            thousands(g.states.get(s.as_str()).copied().unwrap_or(0).into()),
                        )
                    })
                    .collect(),
                progress: g.progress,
                progress_text: format!("{:.1}%", g.progress * 100.0),
                change: trend::signed_points(g.change_30d),
                blocked: g
                    .deadlines
                    .iter()
                    .map(|d| {
                        format!(
                            "{} of {}",
                            thousands(d.blocked.into()),
                            thousands(d.people.into())
                        )
                    })
                    .collect(),
                phone_30d: if sign_ins_read {
                    thousands(g.people_phone_30d)
                } else {
                    "—".to_owned()
                },
                phone_30d_href: phone_list(by, g.name.as_deref()),
                spark: Sparkline::new(
                    &g.spark,
                    format!(
                        "Progress of {label} over the last {SPARK_DAYS} days: {:.1}% to {:.1}%",
                        g.spark.first().copied().unwrap_or(0.0) * 100.0,
                        g.progress * 100.0
                    ),
                ),
                label,
            }
        })
        .collect();
    Ok(DepartmentsPage {
        layout: Layout::new(&state, Some(&caller), "departments"),
        by,
        heading,
        switches: Dimension::GROUPS
            .iter()
            .map(|d| (d.as_str(), d.heading(), *d == by))
            .collect(),
        columns,
        rows,
        sign_ins_read,
        reason_heads: PhoneReason::ALL.iter().map(|r| r.short_label()).collect(),
        reason_rows: if by == Dimension::Department {
            reason_rows(&groups)
        } else {
            Vec::new()
        },
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "group.html")]
pub struct GroupPage {
    layout: Layout,
    heading: &'static str,
    label: String,
    query: String,
    tiles: Vec<Tile>,
    progress: String,
    ranges: Vec<RangeLink>,
    states_chart: Chart,
    burn_down: Chart,
    forecast: String,
    /// The people still on the phone (helpdesk and security leads; viewers see counts only).
    show_people: bool,
    users: Vec<UserRow>,
    users_total: i64,
    list_href: String,
}

impl GroupPage {
    fn number(n: &i64) -> String {
        thousands(*n)
    }
}

async fn group_page(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<GroupPage, PageError> {
    let p = Params::parse(raw.as_deref(), &["by", "name", "range"])?;
    let by = dimension(&p)?;
    let (heading, none_label) = (by.heading(), by.none_label());
    let name = p.get("name");
    let (range_key, days) = range(&p)?;
    let trend = Trend::load(&state.pool, by, name, state.config.deadlines).await?;
    // Days without the group count as zeros: a group that was never there is not found.
    let ever_seen = trend
        .days
        .iter()
        .any(|d| d.counts.users + d.counts.guests + d.counts.out_of_scope > 0);
    let Some(last) = trend.days.last().filter(|_| ever_seen) else {
        return Err(AppError::NotFound.into());
    };
    let label = name.map_or_else(|| none_label.to_owned(), str::to_owned);
    let what = label.clone();
    let filter_value = name.unwrap_or(NO_GROUP).to_owned();
    let mut filter = UserFilter::default();
    *filter.group_mut(by) = Some(name.unwrap_or("").to_owned());
    let show_people = caller.may(Role::Helpdesk);
    let (users, users_total) = if show_people {
        first_page(&state, filter).await?
    } else {
        (Vec::new(), 0)
    };
    let mut list = form_urlencoded::Serializer::new(String::new());
    list.append_pair(by.as_str(), &filter_value);
    Ok(GroupPage {
        layout: Layout::new(&state, Some(&caller), "departments"),
        show_people,
        heading,
        query: group_query(by, name),
        tiles: tiles(&last.counts, &trend),
        progress: format!("{:.1}%", last.counts.progress() * 100.0),
        ranges: range_links(
            &format!("/departments/view?{}&", group_query(by, name)),
            range_key,
        ),
        states_chart: trend.states_chart(days, &what),
        burn_down: trend.burn_down_chart(days.map(|d| d.max(90)), &what),
        forecast: trend.forecast_sentence(),
        users,
        users_total,
        list_href: format!("/users?{}", list.finish()),
        label,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: Option<&str>, progress: f64, change: Option<f64>) -> Group {
        Group {
            name: name.map(str::to_owned),
            users: 1,
            states: BTreeMap::new(),
            progress,
            change_30d: change,
            migrated: 0,
            admins_phone_only: 0,
            voice_capable: 0,
            phishing_resistant: 0,
            deadlines: Vec::new(),
            spark: Vec::new(),
            reasons: None,
            reason_counts: ReasonCounts::default(),
            people_phone_30d: 0,
        }
    }

    #[test]
    fn sorting_by_progress_and_change() {
        let mut g = vec![
            group(Some("b"), 0.5, Some(0.1)),
            group(Some("a"), 0.2, None),
            group(None, 0.9, Some(-0.1)),
        ];
        sort_groups(&mut g, "progress", false);
        assert_eq!(g[0].name.as_deref(), Some("a"));
        sort_groups(&mut g, "change", true);
        assert_eq!(g[0].name.as_deref(), Some("b"));
        assert_eq!(g[2].name.as_deref(), Some("a"));
    }

    #[test]
    fn group_links_encode_names() {
        assert_eq!(
            group_query(Dimension::Department, Some("R&D / Ops")),
            "by=department&name=R%26D+%2F+Ops"
        );
        assert_eq!(group_query(Dimension::Office, None), "by=office");
        assert_eq!(
            phone_list(Dimension::Department, Some("R&D")),
            "/users?department=R%26D&phone_used=30d&state=all"
        );
        assert_eq!(
            phone_list(Dimension::Country, None),
            "/users?country=%28none%29&phone_used=30d&state=all"
        );
    }
}
