//! The write actions' routes (docs/design.md §6a): a Temporary Access Pass from the person
//! page, and time-boxed allowlist entries from the person page and `/exclusions`, each as a
//! form and as JSON. The guards are in `crate::actions`; this maps their refusals to answers.
//!
//! An action that is not switched on (`PHONELESS_ACTIONS`) has no routes: they answer 404.
//! The pass is answered once, never cached (`Cache-Control: no-store`), and logged nowhere.

use super::access::{Access, Route};
use super::caller::Caller;
use super::params::Params;
use super::{AppError, AppState, Layout, PageError};
use crate::actions::allowlist::{self, AddInput, Limits};
use crate::actions::tap::{self, TapInput};
use crate::actions::{Actor, Confirm, Refused};
use crate::auth::Role;
use crate::config::ALLOWLIST_HARD_MAX;
use crate::db::actions::Entry;
use crate::domain::Action;
use crate::graph::Client;
use askama::Template;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub fn routes() -> Vec<Route> {
    let helpdesk = Access::Role(Role::Helpdesk);
    vec![
        Route::page("/users/{id}/tap", helpdesk, post(tap_form)),
        Route::json("/api/v1/users/{id}/tap", helpdesk, post(tap_json)),
        Route::page("/users/{id}/allowlist", helpdesk, post(add_form)),
        Route::page("/exclusions/entries", helpdesk, post(add_form_any)),
        Route::json(
            "/api/v1/exclusions/{group_id}/entries",
            helpdesk,
            post(add_json),
        ),
        Route::page(
            "/exclusions/{group_id}/entries/{entry_id}/end",
            helpdesk,
            post(end_form),
        ),
        Route::json(
            "/api/v1/exclusions/{group_id}/entries/{entry_id}/end",
            helpdesk,
            post(end_json),
        ),
        Route::page(
            "/exclusions/{group_id}/entries/{entry_id}/extend",
            helpdesk,
            post(extend_form),
        ),
        Route::json(
            "/api/v1/exclusions/{group_id}/entries/{entry_id}/extend",
            helpdesk,
            post(extend_json),
        ),
    ]
}

/// The writer of a switched-on action; 404 when it is off.
fn writer(state: &AppState, action: Action) -> Result<&Client, AppError> {
    state.action(action).ok_or(AppError::NotFound)
}

fn actor<'a>(caller: &'a Caller, label: &'a str) -> Actor<'a> {
    Actor {
        who: caller.accessor(label),
        role: caller.role.unwrap_or(Role::Viewer),
    }
}

fn limits(state: &AppState) -> Limits {
    Limits {
        helpdesk_max: state.config.actions.allowlist_max,
        hard_max: ALLOWLIST_HARD_MAX,
    }
}

/// A refusal as the API answers it: 400, 403, 404, 409 (a guard, or a confirmation to give:
/// `"confirm"` names the field), 429, 502 (Graph refused; the message names the permission).
fn refusal_json(r: Refused) -> Response {
    let r = match r {
        Refused::Database(e) => return AppError::Database(e).into_response(),
        r => r,
    };
    let status = match &r {
        Refused::Invalid(_) => StatusCode::BAD_REQUEST,
        Refused::Role(_) => StatusCode::FORBIDDEN,
        Refused::NotFound(_) => StatusCode::NOT_FOUND,
        Refused::Guard(_) | Refused::Confirm { .. } => StatusCode::CONFLICT,
        Refused::Limit(_) => StatusCode::TOO_MANY_REQUESTS,
        Refused::Graph(_) => StatusCode::BAD_GATEWAY,
        Refused::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let confirm = match &r {
        Refused::Confirm { confirm, .. } => Some(confirm.field()),
        _ => None,
    };
    let body = match confirm {
        Some(field) => serde_json::json!({ "error": r.to_string(), "confirm": field }),
        None => serde_json::json!({ "error": r.to_string() }),
    };
    (status, Json(body)).into_response()
}

/// A refusal as a page: what happened, and the way back.
#[derive(Template)]
#[template(path = "action_refused.html")]
struct RefusedPage {
    layout: Layout,
    status: u16,
    title: &'static str,
    message: String,
    back: String,
}

fn refusal_page(state: &AppState, caller: &Caller, r: Refused, back: String) -> Response {
    let r = match r {
        Refused::Database(e) => return PageError(AppError::Database(e)).into_response(),
        r => r,
    };
    let (status, title) = match &r {
        Refused::Invalid(_) => (StatusCode::BAD_REQUEST, "Not done: check the form"),
        Refused::Role(_) => (StatusCode::FORBIDDEN, "Not allowed for your role"),
        Refused::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
        Refused::Guard(_) | Refused::Confirm { .. } => (StatusCode::CONFLICT, "Not done"),
        Refused::Limit(_) => (StatusCode::TOO_MANY_REQUESTS, "Limit reached"),
        Refused::Graph(_) => (StatusCode::BAD_GATEWAY, "Microsoft Graph refused"),
        Refused::Database(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Not done"),
    };
    page(
        status,
        RefusedPage {
            layout: Layout::new(state, Some(caller), "lookup"),
            status: status.as_u16(),
            title,
            message: r.to_string(),
            back,
        },
    )
}

/// A page that must not be kept by the browser or anything in between.
fn page(status: StatusCode, t: impl Template) -> Response {
    match t.render() {
        Ok(html) => {
            let mut r = (status, Html(html)).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => PageError(AppError::Internal(e.into())).into_response(),
    }
}

fn user_id(id: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id.trim())
        .map_err(|_| AppError::NotFoundWith(format!("{id:?} is not a user's object id.")))
}

// ---------------------------------------------------------------------------------------------
// Temporary Access Pass

/// `POST /api/v1/users/{id}/tap`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TapBody {
    #[serde(default)]
    pub reason: String,
    pub lifetime_minutes: Option<i32>,
    pub usable_once: Option<bool>,
    #[serde(default)]
    pub confirm_admin: bool,
    #[serde(default)]
    pub confirm_replace: bool,
}

/// The 201 answer: the pass, once.
#[derive(Serialize)]
pub struct TapIssued {
    pub temporary_access_pass: String,
    pub starts_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub lifetime_minutes: i32,
    pub usable_once: bool,
}

async fn tap_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<TapBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AppError> {
    let graph = writer(&state, Action::Tap)?;
    let Json(body) = body.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let user = user_id(&id)?;
    let label = caller.label();
    let input = TapInput {
        reason: body.reason,
        lifetime_minutes: body.lifetime_minutes,
        usable_once: body.usable_once,
        confirm_admin: body.confirm_admin,
        confirm_replace: body.confirm_replace,
    };
    let limit = state.config.actions.tap_limit;
    match tap::issue(
        &state.pool,
        graph,
        &actor(&caller, &label),
        limit,
        user,
        &input,
    )
    .await
    {
        Ok(pass) => {
            let c = &pass.created;
            let mut r = (
                StatusCode::CREATED,
                Json(TapIssued {
                    temporary_access_pass: secrecy::ExposeSecret::expose_secret(&c.pass).to_owned(),
                    starts_at: c.starts_at,
                    expires_at: c.expires_at(),
                    lifetime_minutes: c.lifetime_minutes,
                    usable_once: c.usable_once,
                }),
            )
                .into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(r)
        }
        Err(e) => Ok(refusal_json(e)),
    }
}

/// The pass, shown once.
#[derive(Template)]
#[template(path = "tap_issued.html")]
struct TapIssuedPage {
    layout: Layout,
    user_id: Uuid,
    display_name: String,
    upn: String,
    pass: String,
    starts_at: String,
    expires_at: String,
    lifetime_minutes: i32,
    usable_once: bool,
}

/// The form again, with what needs confirming.
#[derive(Template)]
#[template(path = "tap_confirm.html")]
struct TapConfirmPage {
    layout: Layout,
    csrf_token: String,
    user_id: Uuid,
    message: String,
    reason: String,
    lifetime_minutes: Option<i32>,
    usable_once: bool,
    confirm_admin: bool,
    confirm_replace: bool,
    /// The confirmation this page asks for (`confirm_admin` or `confirm_replace`).
    asks: &'static str,
}

fn form_bool(p: &Params, name: &str) -> bool {
    p.get(name).is_some_and(|v| v == "yes" || v == "on")
}

async fn tap_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: String,
) -> Result<Response, PageError> {
    let graph = writer(&state, Action::Tap)?;
    let user = user_id(&id)?;
    let p = Params::parse(
        Some(&body),
        &[
            "csrf_token",
            "reason",
            "lifetime_minutes",
            "usable_once",
            "confirm_admin",
            "confirm_replace",
        ],
    )?;
    let lifetime_minutes = match p.get("lifetime_minutes") {
        None | Some("") => None,
        Some(v) => Some(v.parse::<i32>().map_err(|_| {
            AppError::BadRequest(format!("the lifetime {v:?} is not a number of minutes"))
        })?),
    };
    let input = TapInput {
        reason: p.get("reason").unwrap_or("").to_owned(),
        lifetime_minutes,
        usable_once: Some(p.get("usable_once").is_none_or(|v| v != "no")),
        confirm_admin: form_bool(&p, "confirm_admin"),
        confirm_replace: form_bool(&p, "confirm_replace"),
    };
    let label = caller.label();
    let limit = state.config.actions.tap_limit;
    let back = format!("/users/{user}");
    match tap::issue(
        &state.pool,
        graph,
        &actor(&caller, &label),
        limit,
        user,
        &input,
    )
    .await
    {
        Ok(pass) => {
            let c = &pass.created;
            Ok(page(
                StatusCode::OK,
                TapIssuedPage {
                    layout: Layout::new(&state, Some(&caller), "lookup"),
                    user_id: user,
                    display_name: pass.display_name.clone(),
                    upn: pass.upn.clone(),
                    pass: secrecy::ExposeSecret::expose_secret(&c.pass).to_owned(),
                    starts_at: when(&c.starts_at),
                    expires_at: when(&c.expires_at()),
                    lifetime_minutes: c.lifetime_minutes,
                    usable_once: c.usable_once,
                },
            ))
        }
        Err(Refused::Confirm { confirm, message }) => Ok(page(
            StatusCode::CONFLICT,
            TapConfirmPage {
                layout: Layout::new(&state, Some(&caller), "lookup"),
                csrf_token: caller.csrf_token.clone(),
                user_id: user,
                message,
                reason: input.reason.clone(),
                lifetime_minutes: input.lifetime_minutes,
                usable_once: input.usable_once.unwrap_or(true),
                confirm_admin: input.confirm_admin || confirm == Confirm::Admin,
                confirm_replace: input.confirm_replace || confirm == Confirm::Replace,
                asks: confirm.field(),
            },
        )),
        Err(e) => Ok(refusal_page(&state, &caller, e, back)),
    }
}

// ---------------------------------------------------------------------------------------------
// Allowlist entries

/// `POST /api/v1/exclusions/{group_id}/entries`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddBody {
    pub user_id: Uuid,
    #[serde(default)]
    pub reason: String,
    pub until: DateTime<Utc>,
}

/// An entry as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EntryJson {
    pub id: i64,
    pub group_id: Uuid,
    pub group_name: String,
    pub user_id: Uuid,
    pub upn: String,
    pub display_name: String,
    pub reason: String,
    pub until: DateTime<Utc>,
    pub added_by: String,
    pub added_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_kind: Option<String>,
    pub ended_by: Option<String>,
}

impl From<Entry> for EntryJson {
    fn from(e: Entry) -> Self {
        EntryJson {
            id: e.id,
            group_id: e.group_id,
            group_name: e.group_name,
            user_id: e.user_id,
            upn: e.upn,
            display_name: e.display_name,
            reason: e.reason,
            until: e.until,
            added_by: e.added_by,
            added_at: e.added_at,
            ended_at: e.ended_at,
            end_kind: e.end_kind,
            ended_by: e.ended_by,
        }
    }
}

/// `{"entry": …}` with `status`.
fn entry_json(status: StatusCode, e: Entry) -> Response {
    (
        status,
        Json(serde_json::json!({ "entry": EntryJson::from(e) })),
    )
        .into_response()
}

fn group_id(id: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id.trim())
        .map_err(|_| AppError::NotFoundWith(format!("{id:?} is not a group's object id.")))
}

async fn add_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(group): Path<String>,
    body: Result<Json<AddBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AppError> {
    let graph = writer(&state, Action::Allowlist)?;
    let Json(body) = body.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let input = AddInput {
        group_id: group_id(&group)?,
        user_id: body.user_id,
        reason: body.reason,
        until: body.until,
    };
    let label = caller.label();
    let targets = &state.config.alert_targets;
    Ok(allowlist::add(
        &state.pool,
        graph,
        &actor(&caller, &label),
        limits(&state),
        targets,
        &input,
    )
    .await
    .map_or_else(refusal_json, |e| entry_json(StatusCode::CREATED, e)))
}

/// The form's end: a number of days from now.
fn days_until(p: &Params) -> Result<DateTime<Utc>, AppError> {
    let days = p.get("days").unwrap_or("");
    let n: i64 = days.parse().map_err(|_| {
        AppError::BadRequest(format!("the number of days {days:?} is not a whole number"))
    })?;
    if !(1..=366).contains(&n) {
        return Err(AppError::BadRequest(
            "the number of days must be between 1 and 366".into(),
        ));
    }
    Ok(Utc::now() + chrono::Duration::days(n))
}

/// The fields of the allowlist forms (`user` only on `/exclusions`).
const ADD_FIELDS: [&str; 5] = ["csrf_token", "user", "group_id", "reason", "days"];

/// From the person page: `group_id`, `reason`, `days`.
async fn add_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: String,
) -> Result<Response, PageError> {
    let graph = writer(&state, Action::Allowlist)?;
    let user = user_id(&id)?;
    let p = Params::parse(Some(&body), &ADD_FIELDS)?;
    add_from_form(&state, graph, &caller, user, &p, format!("/users/{user}")).await
}

/// From `/exclusions`: also `user` (a UPN or an object id).
async fn add_form_any(
    State(state): State<AppState>,
    caller: Caller,
    body: String,
) -> Result<Response, PageError> {
    let graph = writer(&state, Action::Allowlist)?;
    let p = Params::parse(Some(&body), &ADD_FIELDS)?;
    let who = p.get("user").unwrap_or("").trim();
    let found = crate::db::lookup::search(&state.pool, who, 2).await?;
    let user = found
        .iter()
        .find(|u| {
            u.user_id.to_string().eq_ignore_ascii_case(who) || u.upn.eq_ignore_ascii_case(who)
        })
        .map(|u| u.user_id)
        .ok_or_else(|| {
            AppError::NotFoundWith(format!(
                "No current user has the sign-in name or object id {who:?}."
            ))
        })?;
    add_from_form(&state, graph, &caller, user, &p, "/exclusions".to_owned()).await
}

async fn add_from_form(
    state: &AppState,
    graph: &Client,
    caller: &Caller,
    user: Uuid,
    p: &Params,
    back: String,
) -> Result<Response, PageError> {
    let input = AddInput {
        group_id: group_id(p.get("group_id").unwrap_or(""))?,
        user_id: user,
        reason: p.get("reason").unwrap_or("").to_owned(),
        until: days_until(p)?,
    };
    let label = caller.label();
    Ok(allowlist::add(
        &state.pool,
        graph,
        &actor(caller, &label),
        limits(state),
        &state.config.alert_targets,
        &input,
    )
    .await
    .map_or_else(
        |e| refusal_page(state, caller, e, back.clone()),
        |_| Redirect::to(&format!("{back}#allowlist")).into_response(),
    ))
}

/// The entry at `/exclusions/{group_id}/entries/{entry_id}`, checked to be in that group.
async fn entry_at(state: &AppState, group: &str, entry: &str) -> Result<Entry, AppError> {
    let group = group_id(group)?;
    let missing = || AppError::NotFoundWith(format!("There is no entry {entry:?} in this group."));
    let id: i64 = entry.parse().map_err(|_| missing())?;
    crate::db::actions::entry(&state.pool, id)
        .await?
        .filter(|e| e.group_id == group)
        .ok_or_else(missing)
}

/// `{"reason"}` to end an entry early, `{"until", "reason"}` to move its end.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ChangeBody {
    #[serde(default)]
    pub reason: String,
    pub until: Option<DateTime<Utc>>,
}

async fn end_json(
    State(state): State<AppState>,
    caller: Caller,
    Path((group, entry)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let graph = writer(&state, Action::Allowlist)?;
    // The body is optional: `{"reason"}`.
    let body: ChangeBody = if body.iter().all(u8::is_ascii_whitespace) {
        ChangeBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AppError::BadRequest(format!("the body is not the JSON expected: {e}")))?
    };
    let e = entry_at(&state, &group, &entry).await?;
    let reason = body.reason;
    let reason = if reason.trim().is_empty() {
        "ended early".to_owned()
    } else {
        reason
    };
    let label = caller.label();
    let targets = &state.config.alert_targets;
    Ok(allowlist::end(
        &state.pool,
        graph,
        &actor(&caller, &label),
        targets,
        e.id,
        &reason,
    )
    .await
    .map_or_else(refusal_json, |e| entry_json(StatusCode::OK, e)))
}

async fn end_form(
    State(state): State<AppState>,
    caller: Caller,
    Path((group, entry)): Path<(String, String)>,
    body: String,
) -> Result<Response, PageError> {
    let graph = writer(&state, Action::Allowlist)?;
    let e = entry_at(&state, &group, &entry).await?;
    let p = Params::parse(Some(&body), &["csrf_token", "reason", "back"])?;
    let reason = p
        .get("reason")
        .filter(|r| !r.is_empty())
        .unwrap_or("ended early");
    let back = back_to(&p, e.user_id);
    let label = caller.label();
    let targets = &state.config.alert_targets;
    Ok(allowlist::end(
        &state.pool,
        graph,
        &actor(&caller, &label),
        targets,
        e.id,
        reason,
    )
    .await
    .map_or_else(
        |e| refusal_page(&state, &caller, e, back.clone()),
        |_| Redirect::to(&format!("{back}#allowlist")).into_response(),
    ))
}

/// Where a form goes back to: `/exclusions`, or the person's page.
fn back_to(p: &Params, user: Uuid) -> String {
    if p.get("back") == Some("exclusions") {
        "/exclusions".to_owned()
    } else {
        format!("/users/{user}")
    }
}

async fn extend_json(
    State(state): State<AppState>,
    caller: Caller,
    Path((group, entry)): Path<(String, String)>,
    body: Result<Json<ChangeBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AppError> {
    writer(&state, Action::Allowlist)?;
    let Json(body) = body.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let until = body
        .until
        .ok_or_else(|| AppError::BadRequest("give the new end as \"until\" (RFC 3339)".into()))?;
    let e = entry_at(&state, &group, &entry).await?;
    let label = caller.label();
    Ok(allowlist::extend(
        &state.pool,
        &actor(&caller, &label),
        limits(&state),
        e.id,
        until,
        &body.reason,
    )
    .await
    .map_or_else(refusal_json, |e| entry_json(StatusCode::OK, e)))
}

async fn extend_form(
    State(state): State<AppState>,
    caller: Caller,
    Path((group, entry)): Path<(String, String)>,
    body: String,
) -> Result<Response, PageError> {
    writer(&state, Action::Allowlist)?;
    let e = entry_at(&state, &group, &entry).await?;
    let p = Params::parse(Some(&body), &["csrf_token", "reason", "days", "back"])?;
    let until = days_until(&p)?;
    let back = back_to(&p, e.user_id);
    let label = caller.label();
    Ok(allowlist::extend(
        &state.pool,
        &actor(&caller, &label),
        limits(&state),
        e.id,
        until,
        p.get("reason").unwrap_or(""),
    )
    .await
    .map_or_else(
        |e| refusal_page(&state, &caller, e, back.clone()),
        |_| Redirect::to(&format!("{back}#allowlist")).into_response(),
    ))
}

// ---------------------------------------------------------------------------------------------
// What the person page offers

/// The actions the person page offers the caller (empty when none is switched on).
pub struct PersonActions {
    pub csrf_token: String,
    pub tap: Option<TapOffer>,
    pub allowlist: Option<AllowlistOffer>,
}

/// The pass form, or why there is none for this person.
pub struct TapOffer {
    pub policy: tap::TapPolicy,
    /// Why no pass can be issued to them (the form is not shown).
    pub refused: Option<String>,
    /// An administrator: the form says a confirmation follows.
    pub admin: bool,
}

/// The allowlist form and the person's entries.
pub struct AllowlistOffer {
    /// The watched exclusion groups: id and name.
    pub groups: Vec<(Uuid, String)>,
    /// The longest entry the caller may give, in days.
    pub max_days: i64,
    pub entries: Vec<Entry>,
}

impl AllowlistOffer {
    pub fn open(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.ended_at.is_none())
    }

    pub fn ended(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.ended_at.is_some())
    }
}

/// The longest entry `role` may give, in whole days.
pub fn max_days(state: &AppState, role: Option<Role>) -> i64 {
    let max = if role.is_some_and(|r| r >= Role::SecurityLead) {
        ALLOWLIST_HARD_MAX
    } else {
        state.config.actions.allowlist_max
    };
    (max.as_secs() / 86_400).max(1) as i64
}

/// The watched exclusion groups: those set in `PHONELESS_EXCLUSION_GROUPS` first, then by
/// name. (None is chosen for the agent: the policies also exclude break-glass groups.)
pub async fn exclusion_groups(state: &AppState) -> sqlx::Result<Vec<(Uuid, String)>> {
    let mut groups: Vec<_> = crate::db::posture::watched_groups(&state.pool)
        .await?
        .into_iter()
        .filter(|g| g.watched && !g.missing)
        .collect();
    groups.sort_by_key(|g| !g.configured);
    Ok(groups
        .into_iter()
        .map(|g| {
            let name = g.display_name.unwrap_or_else(|| g.group_id.to_string());
            (g.group_id, name)
        })
        .collect())
}

/// What the person page offers for the person whose newest version is `person`.
pub async fn person_actions(
    state: &AppState,
    caller: &Caller,
    user_id: Uuid,
    person: &crate::domain::UserVersion,
) -> Result<PersonActions, AppError> {
    let tap = match state.action(Action::Tap) {
        None => None,
        Some(_) => {
            let policy = tap::policy(&state.pool).await?;
            let target = tap::Target::of(person);
            // The stored guards as a preview: a refusal here would refuse the form too.
            let preview = TapInput {
                reason: "preview".into(),
                confirm_admin: true,
                ..TapInput::default()
            };
            let refused = tap::check(
                target,
                &policy,
                &preview,
                caller.role.unwrap_or(Role::Viewer),
                tap::Issued {
                    at: &[],
                    limit: crate::graph::pacing::Rate::UNLIMITED,
                },
            )
            .err()
            .map(|e| e.to_string());
            Some(TapOffer {
                policy,
                refused,
                admin: target.admin,
            })
        }
    };
    let allowlist = match state.action(Action::Allowlist) {
        None => None,
        Some(_) => Some(AllowlistOffer {
            groups: exclusion_groups(state).await?,
            max_days: max_days(state, caller.role),
            entries: crate::db::actions::entries_of(&state.pool, user_id).await?,
        }),
    };
    Ok(PersonActions {
        csrf_token: caller.csrf_token.clone(),
        tap,
        allowlist,
    })
}

/// "2026-12-08 14:00 UTC"
pub fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// How an entry ended, in words.
pub fn ended_words(e: &Entry) -> String {
    allowlist::ended_words(e.end_kind.as_deref(), e.ended_by.as_deref())
}
