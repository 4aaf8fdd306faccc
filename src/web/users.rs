//! `/users`: the working list of people still on the phone (filters, keyset paging, counts),
//! with their use of a phone to sign in as the sign-in log tells, and `/users.csv`, the same
//! list as a spreadsheet that is safe to open in Excel.

use super::access::{Access, Route};
use super::caller::Caller;
use super::download::csv_download;
use super::params::Params;
use super::reasons::{ReasonCell, ReasonJson};
use super::state::{CountsKey, StateCounts};
use super::{AppError, AppState, Layout, PageError, thousands};
use crate::advice::{default_label, state_label};
use crate::auth::Role;
use crate::db::dashboard::{
    self, ListKey, ListOrder, ListedUser, PhoneUsed, ReasonFilter, UserFilter,
};
use crate::domain::classify::{State as MigrationState, method_label};
use crate::domain::phone_use::safe_to_remove;
use crate::domain::retirement::{self, Cohort, Dates};
use crate::domain::{DefaultMethod, Dimension, PhoneReason, UserType};
use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{NaiveDate, Utc};
use futures_util::StreamExt as _;
use serde::Serialize;
use sqlx::PgConnection;
use std::sync::Arc;
use uuid::Uuid;

/// The filter value meaning "no department" (or company, office, country). Stored names are
/// never empty, so this can only collide with a group literally named "(none)".
pub const NO_GROUP: &str = "(none)";
/// Rows per page, by default and at most.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;
/// The states listed when no state is asked for: still on the phone (P1–P3).
const PHONE_STATES: [MigrationState; 3] = crate::domain::reasons::PHONE_STATES;

/// The filter parameters shared by the page, the CSV and the API (with `sort`, the order).
pub const FILTERS: [&str; 15] = [
    "state",
    "deadline",
    "blocked",
    "department",
    "company",
    "office",
    "country",
    "admin",
    "user_type",
    "voice_capable",
    "q",
    "reason",
    "follow_up",
    "phone_used",
    "sort",
];

pub fn routes() -> Vec<Route> {
    vec![
        Route::page("/users", Access::Role(Role::Helpdesk), get(page)),
        // Bulk export of personal data: security leads only.
        Route::page(
            "/users.csv",
            Access::Role(Role::SecurityLead),
            get(csv_export),
        ),
        Route::json(
            "/api/v1/users",
            Access::Role(Role::Helpdesk),
            get(users_json),
        ),
    ]
}

/// Reads the filters; every bad value is a 400 that says what is allowed.
pub fn filter(p: &Params, dates: &Dates) -> Result<UserFilter, AppError> {
    let states: Vec<MigrationState> = match p.get("state") {
        None => PHONE_STATES.to_vec(),
        Some("all") => MigrationState::ALL.to_vec(),
        Some(list) => list
            .split(',')
            .map(|s| {
                s.trim().parse::<MigrationState>().map_err(|_| {
                    AppError::BadRequest(format!(
                        "state must be all, or one or more (comma-separated) of phone_only, \
                             phone_default, phone_backup, phone_free, no_mfa; not {s:?}"
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let group = |key: &str| {
        p.get(key).map(|v| {
            if v == NO_GROUP {
                String::new()
            } else {
                v.to_owned()
            }
        })
    };
    let text = p.get("q").map(str::to_owned);
    if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(AppError::BadRequest(
            "q (the search text) must be at most 200 characters".into(),
        ));
    }
    Ok(UserFilter {
        states,
        department: group("department"),
        company: group("company"),
        office: group("office"),
        country: group("country"),
        admin: p.flag("admin")?,
        // Members (in scope) unless asked otherwise, so the counts match the overview's.
        user_type: match p.choice("user_type", &["member", "guest", "external", "all"])? {
            None | Some("member") => Some(UserType::Member),
            Some("all" | "external") => None,
            Some(_) => Some(UserType::Guest),
        },
        external: (p.get("user_type") == Some("external")).then_some(true),
        voice_capable: p.flag("voice_capable")?,
        blocked: p.flag("blocked")?,
        late: p
            .get("deadline")
            .map(|d| deadline_filter(d, dates))
            .transpose()?,
        text,
        reason: p.get("reason").map(reason_filter).transpose()?,
        follow_up_by: p
            .choice("follow_up", &["due"])?
            .map(|_| Utc::now().date_naive()),
        phone_used: match p.choice("phone_used", &["30d", "none_30d"])? {
            None => None,
            Some("30d") => Some(PhoneUsed::Last30Days),
            Some(_) => Some(PhoneUsed::NoneIn30Days),
        },
    })
}

/// Reads `sort`: `priority` (the default) or `use` (most phone sign-ins first).
pub fn list_order(p: &Params) -> Result<ListOrder, AppError> {
    Ok(match p.choice("sort", &["priority", "use"])? {
        Some("use") => ListOrder::Use,
        _ => ListOrder::Priority,
    })
}

/// `phone_used=` as it is spelled.
fn phone_used_value(p: PhoneUsed) -> &'static str {
    match p {
        PhoneUsed::Last30Days => "30d",
        PhoneUsed::NoneIn30Days => "none_30d",
    }
}

/// `reason=`: `any` (a reason recorded), `none` (no reason), or one or more reason words,
/// comma-separated.
fn reason_filter(value: &str) -> Result<ReasonFilter, AppError> {
    match value {
        "any" => return Ok(ReasonFilter::Any),
        "none" => return Ok(ReasonFilter::None),
        _ => {}
    }
    let mut reasons: Vec<PhoneReason> = value
        .split(',')
        .map(|r| {
            r.trim().parse::<PhoneReason>().map_err(|_| {
                AppError::BadRequest(format!(
                    "reason must be any, none, or one or more (comma-separated) of {}; not {r:?}",
                    PhoneReason::ALL
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    reasons.sort();
    reasons.dedup();
    Ok(ReasonFilter::OneOf(reasons))
}

/// The reason filter as `reason=` spells it.
fn reason_value(f: &ReasonFilter) -> String {
    match f {
        ReasonFilter::Any => "any".to_owned(),
        ReasonFilter::None => "none".to_owned(),
        ReasonFilter::OneOf(r) => r.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(","),
    }
}

/// The people who need a security key, as a list filter value.
pub fn security_keys_filter() -> String {
    reason_value(&ReasonFilter::OneOf(PhoneReason::SECURITY_KEY.to_vec()))
}

/// `deadline=YYYY-MM-DD`: one of the two dates (or `early` / `late`, as the page's links
/// write it); `true` for the late one.
fn deadline_filter(value: &str, dates: &Dates) -> Result<bool, AppError> {
    match value {
        "early" => return Ok(false),
        "late" => return Ok(true),
        _ => {}
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| dates.cohort_on(d))
        .map(|c| c == Cohort::Late)
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "deadline must be {} or {}, not {value:?}",
                dates.early, dates.late
            ))
        })
}

/// The filters and the order as a query string (for links: the CSV, the next page, the state
/// switches).
fn filter_query(f: &UserFilter, order: ListOrder, state: Option<&str>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    match state {
        Some(s) => {
            q.append_pair("state", s);
        }
        None if f.states != PHONE_STATES => {
            let states: Vec<&str> = f.states.iter().map(|s| s.as_str()).collect();
            q.append_pair("state", &states.join(","));
        }
        None => {}
    }
    for (key, v) in [
        ("department", &f.department),
        ("company", &f.company),
        ("office", &f.office),
        ("country", &f.country),
    ] {
        if let Some(v) = v {
            q.append_pair(key, if v.is_empty() { NO_GROUP } else { v });
        }
    }
    let flag = |b: bool| if b { "true" } else { "false" };
    if let Some(a) = f.admin {
        q.append_pair("admin", flag(a));
    }
    match f.user_type {
        _ if f.external == Some(true) => {
            q.append_pair("user_type", "external");
        }
        Some(UserType::Member) => {}
        Some(t) => {
            q.append_pair("user_type", t.as_str());
        }
        None => {
            q.append_pair("user_type", "all");
        }
    }
    if let Some(b) = f.blocked {
        q.append_pair("blocked", flag(b));
    }
    if let Some(late) = f.late {
        q.append_pair("deadline", if late { "late" } else { "early" });
    }
    if let Some(v) = f.voice_capable {
        q.append_pair("voice_capable", flag(v));
    }
    if let Some(t) = &f.text {
        q.append_pair("q", t);
    }
    if let Some(r) = &f.reason {
        q.append_pair("reason", &reason_value(r));
    }
    if f.follow_up_by.is_some() {
        q.append_pair("follow_up", "due");
    }
    if let Some(p) = f.phone_used {
        q.append_pair("phone_used", phone_used_value(p));
    }
    if order == ListOrder::Use {
        q.append_pair("sort", "use");
    }
    q.finish()
}

/// A cursor: the last row's sort key, opaque to clients.
pub fn encode_cursor(k: &ListKey) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(k).unwrap_or_default())
}

/// Reads a cursor of a list in `order`. Its name goes to PostgreSQL as text, which cannot hold
/// a NUL; stored names never have one, so such a cursor was not made here. Nor was one of the
/// other order (only the use order's cursors hold a number of uses).
pub fn decode_cursor(s: &str, order: ListOrder) -> Result<ListKey, AppError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .and_then(|b| serde_json::from_slice::<ListKey>(&b).ok())
        .filter(|k| !k.display_name.contains('\0'))
        .filter(|k| k.uses.is_some() == (order == ListOrder::Use))
        .ok_or_else(|| {
            AppError::BadRequest(
                "after must be the next cursor of an earlier page of this list".into(),
            )
        })
}

/// One page of the list.
pub struct ListPage {
    pub users: Vec<ListedUser>,
    pub next: Option<String>,
    /// Users matching the filters (all pages).
    pub total: i64,
    /// Users matching the other filters, per state.
    pub by_state: Vec<(MigrationState, i64)>,
    /// Whether any sign-in was read (else nobody's phone use is known).
    pub sign_ins_read: bool,
}

/// Loads one page after `after`. The list and its counts are read in one snapshot, so a sync
/// committing in between cannot put one run's list beside another run's counts.
pub async fn load_page(
    state: &AppState,
    f: &UserFilter,
    order: ListOrder,
    after: Option<&ListKey>,
    limit: i64,
) -> Result<ListPage, AppError> {
    let mut tx = state.pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let mut users = dashboard::list_users(&mut *tx, f, order, after, limit + 1).await?;
    let next = if users.len() as i64 > limit {
        users.truncate(limit as usize);
        users.last().map(|u| encode_cursor(&u.key(order)))
    } else {
        None
    };
    let read_until = dashboard::sign_ins_read_until(&mut *tx).await?;
    let counts = state_counts(state, &mut tx, f, read_until).await?;
    tx.commit().await?;
    let by_state: Vec<(MigrationState, i64)> = MigrationState::ALL
        .iter()
        .map(|s| {
            let n = counts.iter().find(|(c, _)| c == s).map_or(0, |c| c.1);
            (*s, n)
        })
        .collect();
    let total = by_state
        .iter()
        .filter(|(s, _)| f.states.contains(s))
        .map(|(_, n)| n)
        .sum();
    Ok(ListPage {
        users,
        next,
        total,
        by_state,
        sign_ins_read: read_until.is_some(),
    })
}

/// The rollup that holds `f`'s counts: in-scope members of the whole tenant or of one group,
/// with no other filter (the default list and the group pages' lists).
fn rollup_group(f: &UserFilter) -> Option<(Dimension, Option<&str>)> {
    if f.user_type != Some(UserType::Member)
        || f.admin.is_some()
        || f.blocked.is_some()
        || f.late.is_some()
        || f.external.is_some()
        || f.voice_capable.is_some()
        || f.text.is_some()
        || f.on_reasons()
        || f.phone_used.is_some()
    {
        return None;
    }
    let groups = [
        (Dimension::Department, &f.department),
        (Dimension::Company, &f.company),
        (Dimension::Office, &f.office),
        (Dimension::Country, &f.country),
    ];
    let mut set = groups.iter().filter(|(_, v)| v.is_some());
    match (set.next(), set.next()) {
        (None, _) => Some((Dimension::Tenant, None)),
        (Some((dimension, v)), None) => {
            let name = v.as_deref().filter(|n| !n.is_empty());
            Some((*dimension, name))
        }
        _ => None,
    }
}

/// Users matching `f` per state: from the run's rollups when they hold the answer, else counted
/// once per run (and, for a filter on phone use, per read of the sign-in log, which read up to
/// `sign_ins_read_until`) and kept in the run cache.
async fn state_counts(
    state: &AppState,
    db: &mut PgConnection,
    f: &UserFilter,
    sign_ins_read_until: Option<chrono::DateTime<Utc>>,
) -> Result<StateCounts, AppError> {
    if let Some((dimension, name)) = rollup_group(f) {
        let counts = match dashboard::group_counts(&mut *db, dimension, name).await? {
            Some((_, c)) => MigrationState::ALL
                .iter()
                .map(|s| (*s, i64::from(c.state(*s))))
                .collect(),
            None => Vec::new(),
        };
        return Ok(Arc::new(counts));
    }
    let key = CountsKey::new(f, sign_ins_read_until);
    if f.on_reasons() {
        return reason_state_counts(state, db, f, key, sign_ins_read_until).await;
    }
    if let Some(run) = dashboard::latest_run_id(&mut *db).await?
        && let Some(hit) = state.cache.get(run, &key)
    {
        return Ok(hit);
    }
    let (run, counts) = dashboard::count_users_by_state(&mut *db, f).await?;
    let counts = Arc::new(counts);
    if let Some(run) = run {
        state.cache.put(run, key, counts.clone());
    }
    Ok(counts)
}

/// Users matching `f`, a filter on recorded reasons, per state: counted from the people with a
/// reason (no reason: everyone less them), and kept until a reason or a sync changes.
async fn reason_state_counts(
    state: &AppState,
    db: &mut PgConnection,
    f: &UserFilter,
    list: CountsKey,
    sign_ins_read_until: Option<chrono::DateTime<Utc>>,
) -> Result<StateCounts, AppError> {
    let key = super::reasons::ReasonCache::key(&mut *db).await?;
    if let Some(hit) = state.reasons.list_counts(key, &list) {
        return Ok(hit);
    }
    let counts = if f.reason == Some(ReasonFilter::None) && f.follow_up_by.is_none() {
        let everyone = UserFilter {
            reason: None,
            ..f.clone()
        };
        let everyone = Box::pin(state_counts(
            state,
            &mut *db,
            &everyone,
            sign_ins_read_until,
        ))
        .await?;
        let any = UserFilter {
            reason: Some(ReasonFilter::Any),
            ..f.clone()
        };
        let with_one = dashboard::count_users_with_reason_by_state(&mut *db, &any).await?;
        everyone
            .iter()
            .map(|(s, n)| {
                let less = with_one.iter().find(|(w, _)| w == s).map_or(0, |w| w.1);
                (*s, n - less)
            })
            .collect()
    } else {
        dashboard::count_users_with_reason_by_state(&mut *db, f).await?
    };
    let counts: StateCounts = Arc::new(counts);
    state.reasons.keep_list_counts(key, list, counts.clone());
    Ok(counts)
}

/// The first page of a group's people still on the phone (for the group pages).
pub async fn first_page(state: &AppState, mut f: UserFilter) -> Result<(Vec<Row>, i64), AppError> {
    f.states = PHONE_STATES.to_vec();
    // In scope, as the group's numbers are.
    f.user_type = Some(UserType::Member);
    let page = load_page(state, &f, ListOrder::Priority, None, DEFAULT_LIMIT).await?;
    Ok((
        page.users
            .iter()
            .map(|u| Row::new(u, &state.config.deadlines))
            .collect(),
        page.total,
    ))
}

/// The JSON contract of `/api/v1/users` items.
#[derive(Debug, Serialize)]
pub struct Item {
    pub id: Uuid,
    pub upn: String,
    pub display_name: String,
    pub department: Option<String>,
    pub state: MigrationState,
    /// As Graph names them (canonical spelling; unknown strings as sent).
    pub methods: Vec<String>,
    /// The same methods in plain words.
    pub method_labels: Vec<String>,
    pub default_method: DefaultMethod,
    pub is_admin: bool,
    pub voice_capable: bool,
    pub phishing_resistant: bool,
    pub user_type: UserType,
    pub company: Option<String>,
    pub office: Option<String>,
    pub country: Option<String>,
    pub job_title: Option<String>,
    /// `P1` (phone-only), `P2` (phone default), `P3` (phone backup), or null.
    pub priority: Option<&'static str>,
    /// Their retirement date.
    pub deadline: NaiveDate,
    /// A phone registered and no stronger method available to them: blocked on their date.
    pub blocked: bool,
    /// An active Global Administrator (false when the roles could not be read).
    pub global_admin: bool,
    pub external: bool,
    /// Why they are still on the phone, as the helpdesk recorded it.
    pub reason: Option<ReasonJson>,
    /// The last day they used SMS or voice for MFA: null if never (or no sign-in was read).
    pub last_phone_mfa: Option<NaiveDate>,
    /// How often they did in the last 30 days (0 if not, or no sign-in was read).
    pub phone_mfa_30d: i32,
    /// A phone kept only as a backup (P3) and not used in 30 days, once sign-ins were read.
    pub safe_to_remove: bool,
}

impl Item {
    fn new(u: ListedUser, dates: &Dates) -> Item {
        Item {
            safe_to_remove: safe_to_remove(u.state, u.phone_use()),
            last_phone_mfa: u.phone_use().and_then(|p| p.last),
            phone_mfa_30d: u.phone_use().map_or(0, |p| p.last_30_days),
            reason: ReasonJson::of_listed(&u),
            deadline: dates.of(cohort(&u)),
            blocked: u.blocked,
            global_admin: u.global_admin == Some(true),
            external: u.external,
            id: u.user_id,
            method_labels: u.methods.iter().map(|m| method_label(m)).collect(),
            priority: priority(u.rank),
            upn: u.upn,
            display_name: u.display_name,
            department: u.department,
            state: u.state,
            methods: u.methods,
            default_method: u.default_method,
            is_admin: u.is_admin,
            voice_capable: u.voice_capable,
            phishing_resistant: u.phishing_resistant,
            user_type: u.user_type,
            company: u.company,
            office: u.office,
            country: u.country,
            job_title: u.job_title,
        }
    }
}

/// A listed person's date: the late one for active Global Administrators and external users.
fn cohort(u: &ListedUser) -> Cohort {
    retirement::Standing {
        external: u.external,
        global_admin: u.global_admin,
        global_admin_eligible: false,
    }
    .cohort()
}

fn priority(rank: i32) -> Option<&'static str> {
    match rank {
        1 => Some("P1"),
        2 => Some("P2"),
        3 => Some("P3"),
        _ => None,
    }
}

/// A list row as the page shows it.
pub struct Row {
    pub href: String,
    pub display_name: String,
    pub upn: String,
    pub department: String,
    pub state: &'static str,
    pub state_label: &'static str,
    pub priority: &'static str,
    pub methods: Vec<String>,
    pub default_method: String,
    pub is_admin: bool,
    pub guest: bool,
    pub voice_capable: bool,
    /// "1 Feb 2027"
    pub deadline: String,
    pub blocked: bool,
    pub external: bool,
    /// Why they are still on the phone (follow-up due flagged).
    pub reason: Option<ReasonCell>,
    /// Their last day with SMS or voice ("3 Dec 2026"), or "—" (never, or nothing read yet).
    pub last_phone: String,
    /// How often in the last 30 days, or "—" before any sign-in was read.
    pub phone_30d: String,
    pub safe_to_remove: bool,
    /// No sign-in was read yet (the two above say nothing).
    pub phone_unknown: bool,
}

impl Row {
    pub fn new(u: &ListedUser, dates: &Dates) -> Row {
        let state = u.state;
        let phone_use = u.phone_use();
        Row {
            last_phone: phone_use
                .and_then(|p| p.last)
                .map_or_else(|| "—".to_owned(), |d| d.format("%-d %b %Y").to_string()),
            phone_30d: phone_use
                .map_or_else(|| "—".to_owned(), |p| thousands(i64::from(p.last_30_days))),
            safe_to_remove: safe_to_remove(state, phone_use),
            phone_unknown: phone_use.is_none(),
            reason: ReasonJson::of_listed(u).map(|r| ReasonCell::new(&r, Utc::now().date_naive())),
            deadline: dates.of(cohort(u)).format("%-d %b %Y").to_string(),
            blocked: u.blocked,
            external: u.external,
            href: format!("/users/{}", u.user_id),
            display_name: u.display_name.clone(),
            upn: u.upn.clone(),
            department: u
                .department
                .clone()
                .unwrap_or_else(|| Dimension::Department.none_label().into()),
            state: state.as_str(),
            state_label: state_label(state),
            priority: priority(u.rank).unwrap_or(""),
            methods: u.methods.iter().map(|m| method_label(m)).collect(),
            default_method: default_label(&u.default_method),
            is_admin: u.is_admin,
            guest: u.user_type == UserType::Guest,
            voice_capable: u.voice_capable,
        }
    }
}

/// A switch that lists one state (with its count under the other filters).
pub struct StateSwitch {
    pub label: &'static str,
    pub count: String,
    pub href: String,
    pub current: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "users.html")]
pub struct UsersPage {
    layout: Layout,
    filter: UserFilter,
    /// The state menu's current value (`""`: still on the phone).
    state_value: String,
    switches: Vec<StateSwitch>,
    departments: Vec<(String, String)>,
    rows: Vec<Row>,
    total: String,
    next_href: Option<String>,
    first_href: Option<String>,
    /// Bulk export is for security leads.
    csv_href: Option<String>,
    /// Group filters that have no menu here (set from a group's page), to show and keep.
    fixed: Vec<(&'static str, String, String)>,
    /// The deadline menu: `early` / `late` and the dates in words.
    deadlines: [(&'static str, String); 2],
    /// The reason menu: value and label.
    reasons: Vec<(String, &'static str)>,
    order: ListOrder,
    /// Whether any sign-in was read (else the phone use columns are empty).
    sign_ins_read: bool,
}

impl UsersPage {
    fn selected(&self, key: &str, value: &str) -> bool {
        let current = match key {
            "state" => Some(self.state_value.clone()),
            "department" => self.filter.department.as_ref().map(|d| {
                if d.is_empty() {
                    NO_GROUP.to_owned()
                } else {
                    d.clone()
                }
            }),
            "admin" => self.filter.admin.map(|b| b.to_string()),
            "user_type" if self.filter.external == Some(true) => Some("external".to_owned()),
            "user_type" => Some(match self.filter.user_type {
                Some(UserType::Member) => String::new(),
                Some(t) => t.as_str().to_owned(),
                None => "all".to_owned(),
            }),
            "voice_capable" => self.filter.voice_capable.map(|b| b.to_string()),
            "blocked" => self.filter.blocked.map(|b| b.to_string()),
            "deadline" => self
                .filter
                .late
                .map(|l| if l { "late" } else { "early" }.to_owned()),
            "reason" => self.filter.reason.as_ref().map(reason_value),
            "follow_up" => self.filter.follow_up_by.map(|_| "due".to_owned()),
            "phone_used" => self
                .filter
                .phone_used
                .map(|p| phone_used_value(p).to_owned()),
            "sort" => (self.order == ListOrder::Use).then(|| "use".to_owned()),
            _ => None,
        };
        current.as_deref().unwrap_or("") == value
    }

    fn text(&self) -> &str {
        self.filter.text.as_deref().unwrap_or("")
    }

    /// The list is sorted, or filtered, by phone use.
    fn on_phone_use(&self) -> bool {
        self.order == ListOrder::Use || self.filter.phone_used.is_some()
    }
}

async fn page(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<UsersPage, PageError> {
    let mut allowed = FILTERS.to_vec();
    allowed.push("after");
    let p = Params::parse(raw.as_deref(), &allowed)?;
    let f = filter(&p, &state.config.deadlines)?;
    let order = list_order(&p)?;
    let after = p
        .get("after")
        .map(|c| decode_cursor(c, order))
        .transpose()?;
    let page = load_page(&state, &f, order, after.as_ref(), DEFAULT_LIMIT).await?;
    let query = filter_query(&f, order, None);
    let state_value = match p.get("state") {
        Some(s) => s.to_owned(),
        None => String::new(),
    };
    let mut switches = vec![StateSwitch {
        label: "Still on the phone",
        count: thousands(
            page.by_state
                .iter()
                .filter(|(s, _)| PHONE_STATES.contains(s))
                .map(|(_, n)| n)
                .sum(),
        ),
        href: format!("/users?{}", filter_query(&f, order, Some(""))),
        current: state_value.is_empty(),
    }];
    switches.extend(page.by_state.iter().map(|(s, n)| StateSwitch {
        label: state_label(*s),
        count: thousands(*n),
        href: format!("/users?{}", filter_query(&f, order, Some(s.as_str()))),
        current: state_value == s.as_str(),
    }));
    let mut departments: Vec<(String, String)> =
        dashboard::group_names(&state.pool, Dimension::Department)
            .await?
            .into_iter()
            .map(|n| match n {
                Some(n) => (n.clone(), n),
                None => (
                    NO_GROUP.to_owned(),
                    Dimension::Department.none_label().to_owned(),
                ),
            })
            .collect();
    // A department filter from a link keeps its place in the menu even if the group is gone.
    if let Some(d) = f.department.as_ref().filter(|d| !d.is_empty())
        && !departments.iter().any(|(v, _)| v == d)
    {
        departments.push((d.clone(), d.clone()));
    }
    let fixed = [
        ("Company", "company", &f.company),
        ("Office", "office", &f.office),
        ("Country", "country", &f.country),
    ]
    .into_iter()
    .filter_map(|(label, key, v)| {
        let value = v.as_ref()?;
        let shown = if value.is_empty() { NO_GROUP } else { value };
        Some((label, key.to_owned(), shown.to_owned()))
    })
    .collect();
    Ok(UsersPage {
        layout: Layout::new(&state, Some(&caller), "users"),
        state_value,
        switches,
        departments,
        rows: page
            .users
            .iter()
            .map(|u| Row::new(u, &state.config.deadlines))
            .collect(),
        total: thousands(page.total),
        next_href: page.next.map(|c| {
            let sep = if query.is_empty() { "" } else { "&" };
            format!("/users?{query}{sep}after={c}")
        }),
        first_href: after.map(|_| format!("/users?{query}")),
        csv_href: caller
            .may(Role::SecurityLead)
            .then(|| format!("/users.csv?{query}")),
        fixed,
        deadlines: [
            (
                "early",
                format!(
                    "{} (most people)",
                    retirement::long_date(state.config.deadlines.early)
                ),
            ),
            (
                "late",
                format!(
                    "{} (Global Administrators, external users)",
                    retirement::long_date(state.config.deadlines.late)
                ),
            ),
        ],
        reasons: reason_menu(f.reason.as_ref()),
        filter: f,
        order,
        sign_ins_read: page.sign_ins_read,
    })
}

/// The reason menu: any or none recorded, security keys needed, each reason; and a value
/// from a link that is none of those (two reasons, say) keeps its place.
fn reason_menu(current: Option<&ReasonFilter>) -> Vec<(String, &'static str)> {
    let mut menu = vec![
        ("any".to_owned(), "Any reason recorded"),
        ("none".to_owned(), "No reason recorded"),
        (security_keys_filter(), "Security keys needed"),
    ];
    menu.extend(
        PhoneReason::ALL
            .iter()
            .map(|r| (r.as_str().to_owned(), r.label())),
    );
    if let Some(value) = current.map(reason_value)
        && !menu.iter().any(|(v, _)| *v == value)
    {
        menu.push((value, "The reasons asked for"));
    }
    menu
}

/// The JSON API's page (`/api/v1/users`).
#[derive(Serialize)]
pub struct ItemsJson {
    pub items: Vec<Item>,
    pub next: Option<String>,
    pub total: i64,
    /// Users matching the other filters, per state.
    pub counts: std::collections::BTreeMap<&'static str, i64>,
    /// Whether any sign-in was read: before, nobody's phone use is known (`last_phone_mfa`
    /// is null, `phone_mfa_30d` 0 and `safe_to_remove` false for everyone).
    pub sign_ins_read: bool,
}

pub async fn api(state: &AppState, raw: Option<&str>) -> Result<ItemsJson, AppError> {
    let mut allowed = FILTERS.to_vec();
    allowed.extend(["after", "limit"]);
    let p = Params::parse(raw, &allowed)?;
    let f = filter(&p, &state.config.deadlines)?;
    let order = list_order(&p)?;
    let limit = p.number("limit", 1..=MAX_LIMIT, DEFAULT_LIMIT)?;
    let after = p
        .get("after")
        .map(|c| decode_cursor(c, order))
        .transpose()?;
    let page = load_page(state, &f, order, after.as_ref(), limit).await?;
    Ok(ItemsJson {
        items: page
            .users
            .into_iter()
            .map(|u| Item::new(u, &state.config.deadlines))
            .collect(),
        next: page.next,
        total: page.total,
        counts: page
            .by_state
            .iter()
            .map(|(s, n)| (s.as_str(), *n))
            .collect(),
        sign_ins_read: page.sign_ins_read,
    })
}

const CSV_HEAD: [&str; 29] = [
    "id",
    "display_name",
    "upn",
    "state",
    "priority",
    "is_admin",
    "user_type",
    "department",
    "company",
    "office",
    "country",
    "job_title",
    "methods",
    "methods_raw",
    "default_method",
    "voice_capable",
    "phishing_resistant",
    "deadline",
    "blocked",
    "global_admin",
    "external",
    "reason",
    "reason_note",
    "follow_up",
    "follow_up_due",
    "reason_by",
    "reason_at",
    "last_phone_mfa",
    "phone_mfa_30d",
];

/// One person's line; the phone use cells are empty before any sign-in was read.
fn csv_record(u: &ListedUser, dates: &Dates, today: NaiveDate) -> [String; 29] {
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        u.user_id.to_string(),
        u.display_name.clone(),
        u.upn.clone(),
        u.state.as_str().to_owned(),
        priority(u.rank).unwrap_or("").to_owned(),
        yes_no(u.is_admin),
        u.user_type.as_str().to_owned(),
        opt(&u.department),
        opt(&u.company),
        opt(&u.office),
        opt(&u.country),
        opt(&u.job_title),
        u.methods
            .iter()
            .map(|m| method_label(m))
            .collect::<Vec<_>>()
            .join("; "),
        u.methods.join(" "),
        default_label(&u.default_method),
        yes_no(u.voice_capable),
        yes_no(u.phishing_resistant),
        dates.of(cohort(u)).to_string(),
        yes_no(u.blocked),
        match u.global_admin {
            Some(g) => yes_no(g),
            None => "unknown".to_owned(),
        },
        yes_no(u.external),
        u.reason.map(|r| r.as_str().to_owned()).unwrap_or_default(),
        opt(&u.reason_note),
        u.follow_up.map(|d| d.to_string()).unwrap_or_default(),
        if u.reason.is_some() {
            yes_no(crate::domain::reasons::follow_up_due(u.follow_up, today))
        } else {
            String::new()
        },
        opt(&u.reason_by),
        u.reason_at
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default(),
        u.phone_use()
            .and_then(|p| p.last)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        u.phone_use()
            .map(|p| p.last_30_days.to_string())
            .unwrap_or_default(),
    ]
}

async fn csv_export(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let p = Params::parse(raw.as_deref(), &FILTERS)?;
    let f = filter(&p, &state.config.deadlines)?;
    let order = list_order(&p)?;
    let pool = state.pool.clone();
    let dates = state.config.deadlines;
    let today = Utc::now().date_naive();
    let filename = format!(
        "phoneless-users-{}.csv",
        chrono::Utc::now().format("%Y-%m-%d")
    );
    Ok(
        csv_download(&filename, &CSV_HEAD, move |mut sink| async move {
            let mut rows = dashboard::stream_users(&pool, &f, order);
            while let Some(row) = rows.next().await {
                match row {
                    Ok(u) => {
                        if !sink.row(csv_record(&u, &dates, today)).await {
                            return; // The client went away.
                        }
                    }
                    Err(e) => return sink.fail(e).await,
                }
            }
            sink.finish().await;
        })
        .await?,
    )
}

async fn users_json(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ItemsJson>, AppError> {
    Ok(Json(api(&state, raw.as_deref()).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_come_from_rollups_only_for_plain_group_filters() {
        let member = UserFilter {
            user_type: Some(UserType::Member),
            ..UserFilter::default()
        };
        assert_eq!(rollup_group(&member), Some((Dimension::Tenant, None)));
        let none = UserFilter {
            department: Some(String::new()),
            ..member.clone()
        };
        assert_eq!(rollup_group(&none), Some((Dimension::Department, None)));
        let sales = UserFilter {
            department: Some("Sales".into()),
            ..member.clone()
        };
        assert_eq!(
            rollup_group(&sales),
            Some((Dimension::Department, Some("Sales")))
        );
        for other in [
            UserFilter {
                admin: Some(true),
                ..member.clone()
            },
            UserFilter {
                user_type: None,
                ..member.clone()
            },
            UserFilter {
                company: Some("Contoso Ltd".into()),
                ..sales.clone()
            },
            UserFilter {
                text: Some("ann".into()),
                ..member.clone()
            },
        ] {
            assert_eq!(rollup_group(&other), None, "{other:?}");
        }
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let k = ListKey {
            rank: 2,
            not_admin: true,
            display_name: "Zoë \"Z\" O'Neil".into(),
            user_id: Uuid::nil(),
            uses: None,
        };
        let c = encode_cursor(&k);
        assert_eq!(decode_cursor(&c, ListOrder::Priority).ok(), Some(k.clone()));
        assert!(
            decode_cursor(&c, ListOrder::Use).is_err(),
            "another order's"
        );
        let by_use = ListKey {
            uses: Some(7),
            ..k.clone()
        };
        let c = encode_cursor(&by_use);
        assert_eq!(decode_cursor(&c, ListOrder::Use).ok(), Some(by_use));
        assert!(decode_cursor(&c, ListOrder::Priority).is_err());
        assert!(decode_cursor("not-a-cursor", ListOrder::Priority).is_err());
        let nul = ListKey {
            rank: 1,
            not_admin: true,
            display_name: "a\0b".into(),
            user_id: Uuid::nil(),
            uses: None,
        };
        assert!(decode_cursor(&encode_cursor(&nul), ListOrder::Priority).is_err());
    }

    const DATES: Dates = Dates {
        early: NaiveDate::from_ymd_opt(2027, 2, 1).unwrap(),
        late: NaiveDate::from_ymd_opt(2027, 7, 1).unwrap(),
    };

    #[test]
    fn filters_parse_and_refuse() {
        let p = Params::parse(
            Some("state=phone_only,no_mfa&department=(none)&admin=yes"),
            &FILTERS,
        )
        .expect("params");
        let f = filter(&p, &DATES).expect("filter");
        assert_eq!(
            f.states,
            vec![MigrationState::PhoneOnly, MigrationState::NoMfa]
        );
        assert_eq!(f.department.as_deref(), Some(""));
        assert_eq!(f.admin, Some(true));
        assert_eq!(
            filter_query(&f, ListOrder::Priority, None),
            "state=phone_only%2Cno_mfa&department=%28none%29&admin=true"
        );
        for bad in [
            "state=phone",
            "admin=maybe",
            "user_type=robot",
            "deadline=2027-03-01",
            "deadline=soon",
            "blocked=perhaps",
            "phone_used=yes",
            "phone_used=30",
        ] {
            let p = Params::parse(Some(bad), &FILTERS).expect("params");
            assert!(filter(&p, &DATES).is_err(), "{bad}");
        }
        let p = Params::parse(
            Some("deadline=2027-07-01&blocked=true&user_type=external"),
            &FILTERS,
        )
        .expect("params");
        let f = filter(&p, &DATES).expect("filter");
        assert_eq!(
            (f.late, f.blocked, f.external, f.user_type),
            (Some(true), Some(true), Some(true), None)
        );
        assert_eq!(
            filter_query(&f, ListOrder::Priority, None),
            "user_type=external&blocked=true&deadline=late"
        );
    }

    #[test]
    fn phone_use_filter_and_order_parse_and_round_trip() {
        let p = Params::parse(Some("phone_used=none_30d&sort=use"), &FILTERS).expect("params");
        let f = filter(&p, &DATES).expect("filter");
        assert_eq!(f.phone_used, Some(PhoneUsed::NoneIn30Days));
        assert_eq!(list_order(&p).ok(), Some(ListOrder::Use));
        assert_eq!(
            filter_query(&f, ListOrder::Use, None),
            "phone_used=none_30d&sort=use"
        );
        let p = Params::parse(Some("phone_used=30d&sort=priority"), &FILTERS).expect("params");
        let f = filter(&p, &DATES).expect("filter");
        assert_eq!(f.phone_used, Some(PhoneUsed::Last30Days));
        assert_eq!(list_order(&p).ok(), Some(ListOrder::Priority));
        assert_eq!(
            filter_query(&f, ListOrder::Priority, None),
            "phone_used=30d"
        );
        let p = Params::parse(Some("phone_used=never"), &FILTERS).expect("params");
        let e = filter(&p, &DATES).expect_err("bad value").to_string();
        assert!(e.contains("30d, none_30d"), "{e}");
        let p = Params::parse(Some("sort=name"), &FILTERS).expect("params");
        let e = list_order(&p).expect_err("bad order").to_string();
        assert!(e.contains("priority, use"), "{e}");
        // The rollups know nothing of phone use: such counts are counted.
        assert!(rollup_group(&f).is_none());
    }
}
