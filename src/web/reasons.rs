//! Why a person is still on the phone, as the helpdesk records it on their page: the form
//! (`POST /users/{id}/reason`, back to the page with 303) and its JSON
//! (`GET`/`PUT`/`DELETE /api/v1/users/{id}/reason`). Every recording and removal is written
//! to the access log in the same transaction. This writes only to phoneless's own database,
//! so it needs no `PHONELESS_ACTIONS`.

use super::access::{Access, Route};
use super::caller::Caller;
use super::params::Params;
use super::state::{CountsKey, StateCounts};
use super::{AppError, AppState, PageError, thousands};
use crate::auth::Role;
use crate::db::dashboard::ListedUser;
use crate::db::lookup::{ActionRecord, record_access, record_action};
use crate::db::reasons::{self as db, NewReason, Stamp, Subject};
use crate::domain::PhoneReason;
use crate::domain::reasons::{ReasonCounts, ReasonRecord, follow_up_due, on_the_phone};
use crate::domain::retirement::long_date;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use uuid::Uuid;

/// The longest note taken, in characters.
pub const MAX_NOTE_CHARS: usize = 500;
/// A follow-up may be this far ahead at most (further is a typo, or no follow-up at all).
const MAX_FOLLOW_UP_AHEAD: Duration = Duration::days(3 * 366);
/// A follow-up may be this far behind today (UTC): someone west of UTC is still on
/// yesterday's date.
const FOLLOW_UP_GRACE: Duration = Duration::days(1);

pub fn routes() -> Vec<Route> {
    vec![
        Route::page(
            "/users/{id}/reason",
            Access::Role(Role::Helpdesk),
            post(form),
        ),
        Route::json(
            "/api/v1/users/{id}/reason",
            Access::Role(Role::Helpdesk),
            get(get_json).put(put_json).delete(delete_json),
        ),
    ]
}

/// Most list counts a [`ReasonCache`] keeps; it starts afresh when full.
const REASON_CACHE_ENTRIES: usize = 1_000;

/// Answers about the recorded reasons, kept while nothing they depend on changed (the
/// reasons' [`db::Stamp`] and the day): the per-department counts, whose sum is the tenant's,
/// and the user list's counts under reason filters. Counting them joins every current reason
/// with its person (tens of milliseconds at 100,000 users), on every overview.
#[derive(Default)]
pub struct ReasonCache {
    entries: Mutex<ReasonEntries>,
}

/// Each department's reasons (`None`: no department).
pub type DepartmentReasons = Arc<Vec<(Option<String>, ReasonCounts)>>;

#[derive(Default)]
struct ReasonEntries {
    key: Option<(Stamp, NaiveDate)>,
    departments: Option<DepartmentReasons>,
    /// The user list's counts under reason filters.
    lists: HashMap<CountsKey, StateCounts>,
}

impl ReasonCache {
    /// The entries for `key`, emptied first if they were for another.
    fn entries(&self, key: (Stamp, NaiveDate)) -> MutexGuard<'_, ReasonEntries> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.key != Some(key) {
            *entries = ReasonEntries {
                key: Some(key),
                ..ReasonEntries::default()
            };
        }
        entries
    }

    /// The reasons per department, on `today`.
    pub async fn departments(
        &self,
        pool: &PgPool,
        today: NaiveDate,
    ) -> Result<DepartmentReasons, AppError> {
        // The stamp first: a change after it is seen by the next request, never hidden.
        let key = (db::stamp(pool).await?, today);
        if let Some(hit) = self.entries(key).departments.clone() {
            return Ok(hit);
        }
        let counted = Arc::new(db::counts_by_department(pool, today).await?);
        self.entries(key).departments = Some(counted.clone());
        Ok(counted)
    }

    /// The tenant's reasons, on `today`.
    pub async fn tenant(&self, pool: &PgPool, today: NaiveDate) -> Result<ReasonCounts, AppError> {
        let mut total = ReasonCounts::default();
        for (_, c) in self.departments(pool, today).await?.iter() {
            total.add(c);
        }
        Ok(total)
    }

    /// What the list's counts under reason filters are kept for now: read on `db`, the
    /// list's snapshot, before counting.
    pub async fn key(db: &mut PgConnection) -> Result<ReasonKey, AppError> {
        Ok(ReasonKey((db::stamp(db).await?, Utc::now().date_naive())))
    }

    /// The list's counts for `list` (a filter on reasons), if kept for `key`.
    pub fn list_counts(&self, key: ReasonKey, list: &CountsKey) -> Option<StateCounts> {
        self.entries(key.0).lists.get(list).cloned()
    }

    /// Keeps the list's counts for `list` under `key`.
    pub fn keep_list_counts(&self, key: ReasonKey, list: CountsKey, counts: StateCounts) {
        let mut entries = self.entries(key.0);
        if entries.lists.len() >= REASON_CACHE_ENTRIES {
            entries.lists.clear();
        }
        entries.lists.insert(list, counts);
    }
}

/// When list counts were kept: the reasons' stamp and the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReasonKey((Stamp, NaiveDate));

/// A person's current reason (the JSON contract: `/api/v1/users/{id}/reason`, and `reason`
/// in `/api/v1/users` items and `/api/v1/users/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonJson {
    pub reason: PhoneReason,
    /// Empty when none was written.
    pub note: String,
    pub follow_up: Option<NaiveDate>,
    /// Who recorded it, as the access log names them.
    pub by: String,
    pub at: DateTime<Utc>,
}

impl From<&ReasonRecord> for ReasonJson {
    fn from(r: &ReasonRecord) -> Self {
        ReasonJson {
            reason: r.reason,
            note: r.note.clone(),
            follow_up: r.follow_up,
            by: r.set_by.clone(),
            at: r.set_at,
        }
    }
}

impl ReasonJson {
    /// The reason of a listed person, if they have one.
    pub fn of_listed(u: &ListedUser) -> Option<ReasonJson> {
        Some(ReasonJson {
            reason: u.reason?,
            note: u.reason_note.clone().unwrap_or_default(),
            follow_up: u.follow_up,
            by: u.reason_by.clone().unwrap_or_default(),
            at: u.reason_at?,
        })
    }
}

/// A reason as a list row or the person page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonCell {
    pub word: &'static str,
    pub label: &'static str,
    /// For a list's narrow column ("No smartphone").
    pub short_label: &'static str,
    pub note: String,
    /// "10 January 2027"
    pub follow_up: Option<String>,
    /// "10 Jan 2027"
    pub follow_up_short: Option<String>,
    /// The follow-up date has come.
    pub due: bool,
    pub by: String,
    /// "3 December 2026"
    pub at: String,
}

impl ReasonCell {
    pub fn new(r: &ReasonJson, today: NaiveDate) -> ReasonCell {
        ReasonCell {
            word: r.reason.as_str(),
            label: r.reason.label(),
            short_label: r.reason.short_label(),
            note: r.note.clone(),
            follow_up: r.follow_up.map(long_date),
            follow_up_short: r.follow_up.map(|d| d.format("%-d %b %Y").to_string()),
            due: follow_up_due(r.follow_up, today),
            by: r.by.clone(),
            at: long_date(r.at.date_naive()),
        }
    }
}

/// One line of a "why still on the phone" table: a reason (or none) with its number of
/// people and the list of them.
pub struct CountRow {
    pub label: &'static str,
    pub count: String,
    pub href: String,
    /// `none` (no reason recorded) or empty.
    pub class: &'static str,
}

/// The lines of the overview's table: each reason, then no reason recorded (of `on_phone`
/// people still on the phone). `list` is the people list's address with any group filter,
/// ending in `?` or `&`.
pub fn count_rows(c: &ReasonCounts, on_phone: i64, list: &str) -> Vec<CountRow> {
    let mut rows: Vec<CountRow> = PhoneReason::ALL
        .iter()
        .map(|r| CountRow {
            label: r.label(),
            count: thousands(c.of(*r)),
            href: format!("{list}reason={r}"),
            class: "",
        })
        .collect();
    rows.push(CountRow {
        label: "No reason recorded",
        count: thousands((on_phone - c.with_reason()).max(0)),
        href: format!("{list}reason=none"),
        class: "none",
    });
    rows
}

/// What the person page's reason panel needs (`templates/person_reason.html`).
pub struct ReasonPanel {
    pub current: Option<ReasonCell>,
    /// They are still on the phone, so a reason can be recorded.
    pub can_record: bool,
    /// Where the form goes.
    pub action: String,
    /// The form's CSRF token (the caller's, also while sign-in is off).
    pub csrf_token: String,
    /// The menu: word, label, selected.
    pub options: Vec<(&'static str, &'static str, bool)>,
    pub note: String,
    /// `YYYY-MM-DD` (the date field's value and bounds). A follow-up that has come is not
    /// offered again: the form asks for a new one.
    pub follow_up: String,
    pub min_date: String,
    pub max_date: String,
    pub max_note: usize,
}

impl ReasonPanel {
    pub fn new(
        id: Uuid,
        current: Option<&ReasonJson>,
        on_phone: bool,
        caller: &Caller,
        today: NaiveDate,
    ) -> ReasonPanel {
        ReasonPanel {
            current: current.map(|r| ReasonCell::new(r, today)),
            can_record: on_phone,
            action: format!("/users/{id}/reason"),
            csrf_token: caller.csrf_token.clone(),
            options: PhoneReason::ALL
                .iter()
                .map(|r| {
                    (
                        r.as_str(),
                        r.label(),
                        current.is_some_and(|c| c.reason == *r),
                    )
                })
                .collect(),
            note: current.map(|c| c.note.clone()).unwrap_or_default(),
            follow_up: current
                .and_then(|c| c.follow_up)
                .filter(|d| !follow_up_due(Some(*d), today))
                .map(|d| d.to_string())
                .unwrap_or_default(),
            min_date: (today - FOLLOW_UP_GRACE).to_string(),
            max_date: (today + MAX_FOLLOW_UP_AHEAD).to_string(),
            max_note: MAX_NOTE_CHARS,
        }
    }
}

/// Reads what was sent: a known reason word, a note (trimmed; line breaks kept, other
/// control characters refused; at most [`MAX_NOTE_CHARS`]), a follow-up date (`YYYY-MM-DD`,
/// from yesterday to three years ahead) or none. Every mistake is a 400 that says what is
/// allowed.
pub fn read_new(
    reason: Option<&str>,
    note: Option<&str>,
    follow_up: Option<&str>,
    today: NaiveDate,
) -> Result<NewReason, AppError> {
    let known = || {
        PhoneReason::ALL
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let reason = match reason.map(str::trim).filter(|r| !r.is_empty()) {
        None => {
            return Err(AppError::BadRequest(format!(
                "reason is required: one of {}",
                known()
            )));
        }
        Some(r) => r.parse::<PhoneReason>()?,
    };
    let note = note.unwrap_or("").replace("\r\n", "\n");
    let note = note.trim();
    if let Some(c) = note.chars().find(|c| c.is_control() && *c != '\n') {
        return Err(AppError::BadRequest(format!(
            "the note contains the control character U+{:04X}; remove it",
            u32::from(c)
        )));
    }
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(AppError::BadRequest(format!(
            "the note must be at most {MAX_NOTE_CHARS} characters"
        )));
    }
    let follow_up = match follow_up.map(str::trim).filter(|f| !f.is_empty()) {
        None => None,
        Some(f) => {
            let (earliest, latest) = (today - FOLLOW_UP_GRACE, today + MAX_FOLLOW_UP_AHEAD);
            let d = NaiveDate::parse_from_str(f, "%Y-%m-%d").map_err(|_| {
                AppError::BadRequest(format!(
                    "follow_up must be a date (YYYY-MM-DD) or null, not {f:?}"
                ))
            })?;
            if d < earliest || d > latest {
                return Err(AppError::BadRequest(format!(
                    "follow_up must be between {earliest} and {latest}, not {d}"
                )));
            }
            Some(d)
        }
    };
    Ok(NewReason {
        reason,
        note: note.to_owned(),
        follow_up,
    })
}

/// The person a recording is about: known to phoneless, and last seen on the phone.
async fn subject(state: &AppState, id: &str) -> Result<(Uuid, Subject), AppError> {
    let not_found = || {
        AppError::NotFoundWith(format!(
            "No user with the id {id:?} is in phoneless's history."
        ))
    };
    let user_id = Uuid::parse_str(id.trim()).map_err(|_| not_found())?;
    let s = db::subject(&state.pool, user_id)
        .await?
        .ok_or_else(not_found)?;
    Ok((user_id, s))
}

/// Records `new` for the person and writes the access log's row, in one transaction.
async fn record(
    state: &AppState,
    caller: &Caller,
    id: &str,
    new: &NewReason,
    now: DateTime<Utc>,
) -> Result<ReasonRecord, AppError> {
    let (user_id, s) = subject(state, id).await?;
    if !on_the_phone(s.state) {
        return Err(AppError::BadRequest(format!(
            "{} is not on the phone (their state is {}), so there is no reason to record",
            s.upn, s.state
        )));
    }
    let label = caller.label();
    let mut tx = state.pool.begin().await?;
    let stored = db::set(&mut tx, user_id, new, &label, now).await?;
    let mut detail = format!("{}: {}", s.upn, new.reason);
    if let Some(d) = new.follow_up {
        detail.push_str(&format!("; follow up on {d}"));
    }
    if !new.note.is_empty() {
        detail.push_str(&format!("; note: {}", new.note));
    }
    record_action(
        &mut *tx,
        caller.accessor(&label),
        ActionRecord {
            action: "phone_reason",
            subject: Some(user_id),
            detail: &detail,
            reason: new.reason.as_str(),
            outcome: "done",
        },
    )
    .await?;
    tx.commit().await?;
    Ok(stored)
}

/// Removes the person's current reason and writes the access log's row, in one transaction:
/// the reason removed (`None`: there was none, and nothing is written).
async fn unrecord(
    state: &AppState,
    caller: &Caller,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<ReasonRecord>, AppError> {
    let (user_id, s) = subject(state, id).await?;
    let label = caller.label();
    let mut tx = state.pool.begin().await?;
    let Some(removed) = db::remove(&mut tx, user_id, now).await? else {
        return Ok(None);
    };
    record_action(
        &mut *tx,
        caller.accessor(&label),
        ActionRecord {
            action: "phone_reason",
            subject: Some(user_id),
            detail: &format!("{}: removed {}", s.upn, removed.reason),
            reason: removed.reason.as_str(),
            outcome: "done",
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Some(removed))
}

/// What `PUT /api/v1/users/{id}/reason` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: Option<String>,
    note: Option<String>,
    follow_up: Option<String>,
}

/// Reads a JSON body; every mistake is a 400 in words.
fn json_body(body: &[u8]) -> Result<ReasonBody, AppError> {
    serde_json::from_slice(body).map_err(|e| {
        AppError::BadRequest(format!(
            "the body must be JSON: {{\"reason\": one of {}, \"note\": text (optional), \
             \"follow_up\": \"YYYY-MM-DD\" or null}} ({e})",
            PhoneReason::ALL
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// The current reason, or `null` (the read is recorded, as any read of a person's data).
async fn get_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Option<ReasonJson>>, AppError> {
    Params::parse(raw.as_deref(), &[])?;
    let (user_id, s) = subject(&state, &id).await?;
    record_access(
        &state.pool,
        caller.accessor(&caller.label()),
        "api_view",
        Some(user_id),
        &s.upn,
    )
    .await?;
    let current = db::current(&state.pool, user_id).await?;
    Ok(Json(current.as_ref().map(ReasonJson::from)))
}

/// Records the reason sent; answers with it as stored.
async fn put_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Json<ReasonJson>, AppError> {
    Params::parse(raw.as_deref(), &[])?;
    let b = json_body(&body)?;
    let now = Utc::now();
    let new = read_new(
        b.reason.as_deref(),
        b.note.as_deref(),
        b.follow_up.as_deref(),
        now.date_naive(),
    )?;
    let stored = record(&state, &caller, &id, &new, now).await?;
    Ok(Json(ReasonJson::from(&stored)))
}

/// Removes the current reason: 204, or 404 when there is none.
async fn delete_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<StatusCode, AppError> {
    Params::parse(raw.as_deref(), &[])?;
    match unrecord(&state, &caller, &id, Utc::now()).await? {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(AppError::NotFoundWith(
            "No reason is recorded for this person.".into(),
        )),
    }
}

/// The form's fields (the access check has read `csrf_token` already).
const FORM_FIELDS: [&str; 5] = ["csrf_token", "action", "reason", "note", "follow_up"];

/// The person page's form: `action=save` records (reason, note, follow_up), `action=remove`
/// removes; back to the page either way.
async fn form(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(&body) {
        if !FORM_FIELDS.contains(&k.as_ref()) {
            return Err(AppError::BadRequest(format!(
                "unknown form field {k:?}; the form sends {}",
                FORM_FIELDS.join(", ")
            ))
            .into());
        }
        if fields.iter().any(|(seen, _)| *seen == k) {
            return Err(AppError::BadRequest(format!("form field {k:?} is sent twice")).into());
        }
        fields.push((k.into_owned(), v.into_owned()));
    }
    let field = |k: &str| {
        fields
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
    };
    let now = Utc::now();
    match field("action").unwrap_or("save") {
        "save" => {
            let new = read_new(
                field("reason"),
                field("note"),
                field("follow_up"),
                now.date_naive(),
            )?;
            record(&state, &caller, &id, &new, now).await?;
        }
        "remove" => {
            unrecord(&state, &caller, &id, now).await?;
        }
        other => {
            return Err(AppError::BadRequest(format!(
                "action must be save or remove, not {other:?}"
            ))
            .into());
        }
    }
    // Recorded, so the id is a known one.
    let user_id = Uuid::parse_str(id.trim()).map_err(|_| AppError::NotFound)?;
    Ok(Redirect::to(&format!("/users/{user_id}#reason-h")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 3).expect("date")
    }

    #[test]
    fn a_reason_with_a_note_and_a_follow_up_is_read() {
        let r = read_new(
            Some("waiting_for_security_key"),
            Some("  key ordered\r\nfrom IT  "),
            Some("2027-01-10"),
            today(),
        )
        .expect("valid");
        assert_eq!(r.reason, PhoneReason::WaitingForSecurityKey);
        assert_eq!(r.note, "key ordered\nfrom IT");
        assert_eq!(r.follow_up, NaiveDate::from_ymd_opt(2027, 1, 10));
        let bare = read_new(Some("other"), None, Some(""), today()).expect("valid");
        assert_eq!((bare.note.as_str(), bare.follow_up), ("", None));
    }

    #[test]
    fn mistakes_are_refused_in_words() {
        let message = |r: Result<NewReason, AppError>| match r {
            Err(AppError::BadRequest(m)) => m,
            other => panic!("expected a 400, got {other:?}"),
        };
        let m = message(read_new(Some("lost_phone"), None, None, today()));
        assert!(
            m.contains("lost_phone") && m.contains("no_phone_at_work"),
            "names the known ones: {m}"
        );
        let m = message(read_new(None, None, None, today()));
        assert!(m.contains("travelling"), "{m}");
        let long = "x".repeat(MAX_NOTE_CHARS + 1);
        assert!(message(read_new(Some("other"), Some(&long), None, today())).contains("500"));
        assert!(
            read_new(
                Some("other"),
                Some(&"é".repeat(MAX_NOTE_CHARS)),
                None,
                today()
            )
            .is_ok(),
            "characters, not bytes"
        );
        assert!(message(read_new(Some("other"), Some("a\0b"), None, today())).contains("U+0000"));
        for bad in ["10/01/2027", "2027-02-30", "soon"] {
            assert!(
                message(read_new(Some("other"), None, Some(bad), today())).contains("YYYY-MM-DD"),
                "{bad}"
            );
        }
        assert!(read_new(Some("other"), None, Some("2026-12-02"), today()).is_ok());
        for out in ["2026-12-01", "2030-01-01"] {
            assert!(
                message(read_new(Some("other"), None, Some(out), today())).contains("between"),
                "{out}"
            );
        }
    }

    #[test]
    fn json_bodies_are_exact() {
        let b = json_body(br#"{"reason": "travelling", "note": "back in May", "follow_up": null}"#)
            .expect("valid");
        assert_eq!(b.reason.as_deref(), Some("travelling"));
        assert_eq!(b.follow_up, None);
        for bad in [
            &br#"{"reason": "travelling", "extra": 1}"#[..],
            b"not json",
            b"[]",
        ] {
            assert!(json_body(bad).is_err());
        }
    }

    #[test]
    fn a_past_follow_up_is_flagged() {
        let r = ReasonJson {
            reason: PhoneReason::NoSmartphone,
            note: String::new(),
            follow_up: NaiveDate::from_ymd_opt(2026, 12, 1),
            by: "Sam".into(),
            at: DateTime::from_timestamp(1_764_547_200, 0).expect("time"),
        };
        let cell = ReasonCell::new(&r, today());
        assert!(cell.due);
        assert_eq!(cell.follow_up.as_deref(), Some("1 December 2026"));
        assert_eq!(cell.label, "No smartphone for the Authenticator app");
        assert!(!ReasonCell::new(&r, NaiveDate::from_ymd_opt(2026, 11, 30).expect("d")).due);
    }
}
