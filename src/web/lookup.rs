//! The helpdesk: `/lookup` (one search box), `/users/{id}` (one page per user: what they can
//! sign in with, what changed, what to do next) and its JSON, `/api/v1/users/{id}`. Every
//! search and view is written to the access log.

use super::access::{Access, Route};
use super::actions::PersonActions;
use super::caller::Caller;
use super::params::Params;
use super::users::Row;
use super::{AppError, AppState, Layout, PageError};
use crate::advice::{self, class_label, default_label, priority_label, state_label};
use crate::auth::Role;
use crate::db::lookup as db;
use crate::db::operations as ops;
use crate::domain::availability::Unavailable;
use crate::domain::classify::{MethodClass, State as MigrationState, method_class, method_label};
use crate::domain::retirement::{self, long_date};
use crate::domain::scope::reason_words;
use crate::domain::{Action, DefaultMethod, UserType, UserVersion as Version};
use crate::timeline::{Entry, lost_strong_methods, timeline_with_reasons};
use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

/// Results a search shows.
pub const SEARCH_RESULTS: i64 = 20;
/// Days of sign-in use a person's page and JSON show.
const USAGE_DAYS: i64 = 90;
/// The longest search text taken.
const MAX_SEARCH_CHARS: usize = 200;

pub fn routes() -> Vec<Route> {
    vec![
        Route::page("/lookup", Access::Role(Role::Helpdesk), get(search_page)),
        Route::page("/users/{id}", Access::Role(Role::Helpdesk), get(user_page)),
        Route::json(
            "/api/v1/users/{id}",
            Access::Role(Role::Helpdesk),
            get(user_json),
        ),
    ]
}

#[derive(Template, WebTemplate)]
#[template(path = "lookup.html")]
pub struct LookupPage {
    layout: Layout,
    query: String,
    /// The results (named for the shared people table).
    users: Vec<Row>,
}

async fn search_page(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let p = Params::parse(raw.as_deref(), &["q"])?;
    let query = p.get("q").unwrap_or("").to_owned();
    if query.chars().count() > MAX_SEARCH_CHARS {
        return Err(AppError::BadRequest(format!(
            "the search text must be at most {MAX_SEARCH_CHARS} characters"
        ))
        .into());
    }
    let mut layout = Layout::new(&state, Some(&caller), "lookup");
    layout.search = query.clone();
    if query.is_empty() {
        return Ok(LookupPage {
            layout,
            query,
            users: Vec::new(),
        }
        .into_response());
    }
    db::record_access(
        &state.pool,
        caller.accessor(&caller.label()),
        "search",
        None,
        &query,
    )
    .await?;
    let found = db::search(&state.pool, &query, SEARCH_RESULTS).await?;
    // One match, or an exact id or UPN, goes straight to the page.
    let exact = found.iter().find(|f| {
        f.user_id.to_string().eq_ignore_ascii_case(&query) || f.upn.eq_ignore_ascii_case(&query)
    });
    if let Some(one) = exact.or(found.first().filter(|_| found.len() == 1)) {
        return Ok(Redirect::to(&format!("/users/{}", one.user_id)).into_response());
    }
    Ok(LookupPage {
        layout,
        query,
        users: found
            .iter()
            .map(|u| Row::new(u, &state.config.deadlines))
            .collect(),
    }
    .into_response())
}

/// Everything known about one user (the JSON contract of `/api/v1/users/{id}`).
#[derive(Debug, Serialize)]
pub struct Person {
    pub id: Uuid,
    pub upn: String,
    pub display_name: String,
    pub department: Option<String>,
    pub state: MigrationState,
    /// As Graph names them (canonical spelling; unknown strings as sent).
    pub methods: Vec<String>,
    pub default_method: DefaultMethod,
    pub is_admin: bool,
    pub voice_capable: bool,
    pub phishing_resistant: bool,
    pub timeline: Vec<Entry>,
    pub job_title: Option<String>,
    pub company: Option<String>,
    pub office: Option<String>,
    pub country: Option<String>,
    pub user_type: UserType,
    pub in_scope: bool,
    /// Whether the effective default comes from system-preferred MFA.
    pub system_preferred: bool,
    pub voice_default: bool,
    /// The state in words, and why.
    pub state_label: &'static str,
    pub priority: &'static str,
    #[serde(rename = "state_reason")]
    pub reason: String,
    /// Why they are still on the phone, as the helpdesk recorded it (JSON `reason`).
    #[serde(rename = "reason")]
    pub phone_reason: Option<super::reasons::ReasonJson>,
    pub next_steps: Vec<String>,
    /// Not in the newest sync: since when (the start of the sync that no longer saw them).
    pub gone_since: Option<DateTime<Utc>>,
    /// The newest sync (the facts are as it saw them; someone gone was not in it), when it
    /// ran, and Microsoft's report time of it.
    pub run_id: Option<i64>,
    pub synced_at: Option<DateTime<Utc>>,
    pub data_as_of: Option<DateTime<Utc>>,
    /// Their retirement date, and why it is theirs ("Global Administrator").
    pub deadline: NaiveDate,
    pub deadline_reason: &'static str,
    /// A phone registered and no app or phishing-resistant method available to them.
    pub blocked: bool,
    /// An active Global Administrator (false when the roles could not be read: see
    /// `global_admin_known`).
    pub global_admin: bool,
    pub global_admin_known: bool,
    /// Eligible for the role through PIM, not active.
    pub global_admin_eligible: bool,
    pub external: bool,
    /// Registered methods the authentication methods policy lets them use.
    pub available_methods: Vec<String>,
    /// Registered methods it does not, each with why.
    pub unavailable_methods: Vec<UnavailableJson>,
    /// Why they are out of scope, when a configured rule took them out.
    pub out_of_scope_reason: Option<String>,
    /// Their successful MFA steps by day and method, from the sign-in log (last 90 days).
    pub usage: Vec<crate::db::usage::PersonUse>,
    /// The last day they used SMS or voice for MFA (ever, as far as the log was read).
    pub last_phone_mfa: Option<NaiveDate>,
}

/// A registered method the person may not use.
#[derive(Debug, Serialize)]
pub struct UnavailableJson {
    pub method: String,
    /// "registered, but the Microsoft Authenticator policy does not include them"
    pub reason: String,
}

/// Loads one user and records the access; a friendly 404 for an id phoneless never saw.
async fn load_person(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: &str,
) -> Result<(Person, Version), AppError> {
    let not_found = || {
        AppError::NotFoundWith(format!(
            "No user with the id {id:?} is in phoneless's history. Search by name or UPN \
             instead: /lookup."
        ))
    };
    let user_id = Uuid::parse_str(id.trim()).map_err(|_| not_found())?;
    let mut versions = db::history(&state.pool, user_id).await?;
    let last: Version = versions.pop().ok_or_else(not_found)?;
    // The timeline and the lost methods read every version.
    versions.push(last.clone());
    db::record_access(
        &state.pool,
        caller.accessor(&caller.label()),
        action,
        Some(user_id),
        &last.upn,
    )
    .await?;
    let latest = ops::latest_succeeded_run(&state.pool).await?;
    let reasons = crate::db::reasons::history(&state.pool, user_id).await?;
    let usage_since = Utc::now().date_naive() - chrono::Duration::days(USAGE_DAYS - 1);
    let usage = crate::db::usage::person_usage(&state.pool, user_id, usage_since).await?;
    let last_phone_mfa = crate::db::usage::last_phone_mfa(&state.pool, user_id).await?;
    let st = last.state;
    let lost = lost_strong_methods(&versions);
    let lost_ref = lost.as_ref().map(|(m, at)| (m.as_slice(), at.date_naive()));
    let standing = retirement::Standing {
        external: last.external,
        global_admin: last.global_admin,
        global_admin_eligible: last.global_admin_eligible,
    };
    let deadline = state.config.deadlines.of(standing.cohort());
    let hidden: Vec<Unavailable> = last
        .unavailable
        .iter()
        .filter_map(|u| Unavailable::decode(u))
        .collect();
    let available_methods = last
        .methods
        .iter()
        .filter(|m| !hidden.iter().any(|h| &h.method == *m))
        .cloned()
        .collect();
    let unavailable_methods = hidden
        .iter()
        .map(|h| UnavailableJson {
            method: h.method.clone(),
            reason: format!("registered, but {}", h.reason.words(&h.config)),
        })
        .collect();
    let person = Person {
        usage,
        last_phone_mfa,
        deadline,
        deadline_reason: standing.why(),
        blocked: last.blocked,
        global_admin: last.global_admin == Some(true),
        global_admin_known: last.global_admin.is_some(),
        global_admin_eligible: last.global_admin_eligible,
        external: last.external,
        available_methods,
        unavailable_methods,
        out_of_scope_reason: last.out_of_scope_by.as_deref().map(reason_words),
        id: user_id,
        upn: last.upn.clone(),
        display_name: last.display_name.clone(),
        department: last.department.clone(),
        state: last.state,
        methods: last.methods.clone(),
        default_method: last.default_method.clone(),
        is_admin: last.is_admin,
        voice_capable: last.voice_capable,
        phishing_resistant: last.phishing_resistant,
        timeline: timeline_with_reasons(&versions, &reasons),
        phone_reason: reasons
            .last()
            .filter(|h| h.record.cleared_at.is_none())
            .map(|h| (&h.record).into()),
        job_title: last.job_title.clone(),
        company: last.company.clone(),
        office: last.office.clone(),
        country: last.country.clone(),
        user_type: last.user_type,
        in_scope: last.in_scope,
        system_preferred: last.system_preferred,
        voice_default: last.voice_default,
        state_label: state_label(st),
        priority: priority_label(st),
        reason: advice::reason(st, &last.methods, &last.default_method),
        next_steps: if st == MigrationState::PhoneOnly
            && !hidden.is_empty()
            && last.methods.iter().all(|m| {
                method_class(m) != MethodClass::Phone || hidden.iter().any(|h| &h.method == m)
            }) {
            let words: Vec<String> = hidden
                .iter()
                .map(|h| format!("{}: {}", method_label(&h.method), h.reason.words(&h.config)))
                .collect();
            advice::phone_refused_steps(&words, deadline)
        } else if last.blocked && st != MigrationState::PhoneOnly && !hidden.is_empty() {
            let words: Vec<String> = hidden
                .iter()
                .filter(|h| method_class(&h.method) != MethodClass::Phone)
                .map(|h| format!("{}: {}", method_label(&h.method), h.reason.words(&h.config)))
                .collect();
            let phone_usable = last.methods.iter().any(|m| {
                method_class(m) == MethodClass::Phone && !hidden.iter().any(|h| &h.method == m)
            });
            advice::blocked_steps(&words, phone_usable, deadline)
        } else {
            advice::next_steps(st, &last.methods, &last.default_method, lost_ref, deadline)
        },
        gone_since: last.ended_at,
        run_id: latest.as_ref().map(|r| r.id),
        synced_at: latest.as_ref().map(|r| r.started_at),
        data_as_of: latest.as_ref().and_then(|r| r.data_as_of),
    };
    Ok((person, last))
}

pub(super) async fn user_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Person>, AppError> {
    Params::parse(raw.as_deref(), &[])?;
    Ok(Json(load_person(&state, &caller, &id, "api_view").await?.0))
}

/// A method as the page shows it.
pub struct MethodRow {
    pub label: String,
    pub class: &'static str,
    pub raw: String,
    /// Why the policy does not let them use it (`None`: available).
    pub unavailable: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "person.html")]
pub struct PersonPage {
    layout: Layout,
    p: Person,
    methods: Vec<MethodRow>,
    default_label: String,
    quiet_since: Option<String>,
    actions: PersonActions,
    reason_panel: super::reasons::ReasonPanel,
}

impl PersonPage {
    fn when(t: &DateTime<Utc>) -> String {
        t.format("%Y-%m-%d").to_string()
    }

    /// "1 July 2027 (Global Administrator)"
    fn deadline_words(&self) -> String {
        format!(
            "{} ({})",
            long_date(self.p.deadline),
            self.p.deadline_reason
        )
    }

    /// The action a next step suggests, when it is on and possible for this person: the
    /// form's anchor and the button's words.
    fn offer(&self, step: &str) -> Option<(&'static str, &'static str)> {
        match advice::offers(step)? {
            Action::Tap => self
                .actions
                .tap
                .as_ref()
                .filter(|t| t.refused.is_none())
                .map(|_| ("#tap", "Issue a Temporary Access Pass")),
            Action::Allowlist => self
                .actions
                .allowlist
                .as_ref()
                .filter(|a| !a.groups.is_empty())
                .map(|_| ("#allowlist", "Add to the allowlist")),
        }
    }

    /// Their sign-in method use by week, newest first.
    fn usage_weeks(&self) -> Vec<super::usage::WeekUse> {
        super::usage::by_week(&self.p.usage)
    }

    fn data_as_of(&self) -> String {
        self.p.data_as_of.map_or_else(
            || "unknown".into(),
            |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
        )
    }
}

async fn user_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<PersonPage, PageError> {
    Params::parse(raw.as_deref(), &[])?;
    let (p, last) = load_person(&state, &caller, &id, "view").await?;
    let actions = super::actions::person_actions(&state, &caller, p.id, &last).await?;
    let methods = p
        .methods
        .iter()
        .map(|m| MethodRow {
            label: method_label(m),
            class: class_label(m),
            raw: m.clone(),
            unavailable: p
                .unavailable_methods
                .iter()
                .find(|u| &u.method == m)
                .map(|u| u.reason.clone()),
        })
        .collect();
    // "No change since …": the newest entry is the last thing that happened.
    let quiet_since = p
        .timeline
        .first()
        .map(|e| e.at.format("%-d %B %Y").to_string());
    let reason_panel = super::reasons::ReasonPanel::new(
        p.id,
        p.phone_reason.as_ref(),
        crate::domain::reasons::on_the_phone(p.state),
        &caller,
        Utc::now().date_naive(),
    );
    Ok(PersonPage {
        actions,
        layout: Layout::new(&state, Some(&caller), "lookup"),
        reason_panel,
        default_label: default_label(&p.default_method),
        methods,
        quiet_since,
        p,
    })
}
