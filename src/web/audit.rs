//! `/audit`: who looked at whom (every search and user view), filterable by who and whom,
//! newest first, paged; `/audit.csv` exports the filtered log.

use super::access::{Access, Route};
use super::caller::Caller;
use super::download::csv_download;
use super::params::Params;
use super::{AppError, AppState, Layout, PageError};
use crate::auth::Role;
use crate::db::lookup::{self as db, AccessEntry, AccessFilter};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use futures_util::StreamExt as _;
use uuid::Uuid;

/// Entries per page.
pub const PAGE_SIZE: i64 = 100;

pub fn routes() -> Vec<Route> {
    vec![
        Route::page("/audit", Access::Role(Role::SecurityLead), get(page)),
        Route::page("/audit.csv", Access::Role(Role::SecurityLead), get(export)),
    ]
}

/// `who` (a signed-in person's object id, or the exact name) and `whom` (an object id, or
/// part of a UPN or search text).
fn filter(p: &Params) -> AccessFilter {
    let who = p.get("who");
    let whom = p.get("whom");
    AccessFilter {
        actor: who
            .filter(|w| Uuid::parse_str(w).is_err())
            .map(str::to_owned),
        actor_object: who.and_then(|w| Uuid::parse_str(w).ok()),
        subject: whom.and_then(|w| Uuid::parse_str(w).ok()),
        text: whom
            .filter(|w| Uuid::parse_str(w).is_err())
            .map(str::to_owned),
    }
}

fn query(p: &Params) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for key in ["who", "whom"] {
        if let Some(v) = p.get(key) {
            q.append_pair(key, v);
        }
    }
    q.finish()
}

/// An entry as shown.
pub struct Row {
    pub at: String,
    pub actor: String,
    /// All of this person's entries, when they were signed in.
    pub actor_href: Option<String>,
    pub action: &'static str,
    pub subject_href: Option<String>,
    pub detail: String,
    /// What was typed (searches), shown in quotes.
    pub quoted: bool,
    pub client: String,
    /// For actions: why, and what came of it.
    pub reason: Option<String>,
    pub outcome: Option<String>,
}

impl From<&AccessEntry> for Row {
    fn from(a: &AccessEntry) -> Row {
        Row {
            at: a.at.format("%Y-%m-%d %H:%M:%S").to_string(),
            actor: a.actor.clone(),
            actor_href: a.actor_object.map(|o| format!("/audit?who={o}")),
            action: match a.action.as_str() {
                "search" => "searched for",
                "view" => "viewed",
                "api_view" => "read the JSON of",
                "sign_in" => "signed in",
                "sign_out" => "signed out",
                "session_revoked" => "ended the session of",
                "tap" => "Temporary Access Pass for",
                "allowlist_add" => "allowlist entry for",
                "allowlist_extend" => "moved the allowlist end of",
                "allowlist_end" => "ended the allowlist entry of",
                "allowlist_expire" => "removed at the end of the entry",
                "phone_reason" => "recorded why on the phone:",
                _ => "did",
            },
            reason: a.reason.clone(),
            outcome: a.outcome.clone(),
            subject_href: a.subject.map(|s| format!("/users/{s}")),
            detail: a.detail.clone(),
            quoted: a.action == "search",
            client: a.client.clone(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
pub struct AuditPage {
    layout: Layout,
    who: String,
    whom: String,
    rows: Vec<Row>,
    older_href: Option<String>,
    csv_href: String,
}

async fn page(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<AuditPage, PageError> {
    let p = Params::parse(raw.as_deref(), &["who", "whom", "before"])?;
    let before = p
        .get("before")
        .map(|b| {
            b.parse::<i64>().map_err(|_| {
                AppError::BadRequest(format!("before must be an entry number, not {b:?}"))
            })
        })
        .transpose()?;
    let f = filter(&p);
    let mut entries = db::accesses(&state.pool, &f, before, PAGE_SIZE + 1).await?;
    let more = entries.len() as i64 > PAGE_SIZE;
    entries.truncate(PAGE_SIZE as usize);
    let q = query(&p);
    let sep = if q.is_empty() { "" } else { "&" };
    Ok(AuditPage {
        layout: Layout::new(&state, Some(&caller), "audit"),
        who: p.get("who").unwrap_or("").to_owned(),
        whom: p.get("whom").unwrap_or("").to_owned(),
        older_href: more
            .then(|| {
                entries
                    .last()
                    .map(|e| format!("/audit?{q}{sep}before={}", e.id))
            })
            .flatten(),
        rows: entries.iter().map(Row::from).collect(),
        csv_href: format!("/audit.csv?{q}"),
    })
}

async fn export(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let p = Params::parse(raw.as_deref(), &["who", "whom"])?;
    let f = filter(&p);
    let pool = state.pool.clone();
    let filename = format!(
        "phoneless-access-log-{}.csv",
        chrono::Utc::now().format("%Y-%m-%d")
    );
    let head = [
        "id", "at", "who", "who_id", "action", "whom", "detail", "from", "reason", "outcome",
    ];
    Ok(csv_download(&filename, &head, move |mut sink| async move {
        let mut rows = db::stream_accesses(&pool, &f);
        while let Some(row) = rows.next().await {
            match row {
                Ok(a) => {
                    let cells = [
                        a.id.to_string(),
                        a.at.to_rfc3339(),
                        a.actor,
                        a.actor_object.map(|o| o.to_string()).unwrap_or_default(),
                        a.action,
                        a.subject.map(|s| s.to_string()).unwrap_or_default(),
                        a.detail,
                        a.client,
                        a.reason.unwrap_or_default(),
                        a.outcome.unwrap_or_default(),
                    ];
                    if !sink.row(cells).await {
                        return;
                    }
                }
                Err(e) => return sink.fail(e).await,
            }
        }
        sink.finish().await;
    })
    .await?)
}
