//! `/posture` (is the tenant set up to finish the migration?), `/exclusions` (who was let out,
//! by whom, for how long) and `/alerts` (what was raised and where it was delivered), with
//! their JSON under `/api/v1/`.

use super::access::{Access, Route};
use super::actions::{EntryJson, max_days};
use super::caller::Caller;
use super::{AppError, AppState, Layout, PageError, thousands};
use crate::advice::state_label;
use crate::auth::Role;
use crate::db::actions as entries_db;
use crate::db::alerts::{self as alert_db, Alert, Delivery};
use crate::db::operations as ops;
use crate::db::posture::{self as db, MemberRow, PolicyChange, RunPartRow, StoredPolicies};
use crate::domain::Action;
use crate::domain::RunPart;
use crate::domain::classify::State as MigrationState;
use crate::posture::{Context, ExclusionFacts, GroupFacts, Item, Policies, Status, checklist};
use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::extract::State;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// Policy changes shown and returned.
const CHANGES_SHOWN: i64 = 200;
/// Alerts shown and returned.
const ALERTS_SHOWN: i64 = 200;

pub fn routes() -> Vec<Route> {
    let viewer = Access::Role(Role::Viewer);
    let helpdesk = Access::Role(Role::Helpdesk);
    let lead = Access::Role(Role::SecurityLead);
    vec![
        Route::page("/posture", viewer, get(posture_page)),
        Route::page("/exclusions", helpdesk, get(exclusions_page)),
        Route::page("/alerts", lead, get(alerts_page)),
        Route::json("/api/v1/posture", viewer, get(posture_json)),
        Route::json("/api/v1/exclusions", helpdesk, get(exclusions_json)),
        Route::json("/api/v1/alerts", lead, get(alerts_json)),
    ]
}

/// What each optional part of a run is, in words.
fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// The checklist and its evidence, as of the newest run.
#[derive(Debug, Serialize)]
pub struct PostureJson {
    /// The run the policies were read by (null before the first).
    pub run: Option<i64>,
    pub items: Vec<Item>,
    /// Parts of that run that could not be read, with the error and the fix.
    pub unavailable: Vec<RunPartRow>,
    /// Policy changes, newest first.
    pub changes: Vec<PolicyChange>,
}

async fn posture(state: &AppState) -> Result<PostureJson, AppError> {
    let pool = &state.pool;
    let (run, parts) = db::latest_run_parts(pool).await?;
    let stored = StoredPolicies::from_versions(&db::current_policies(pool).await?);
    let read = |p: RunPart| parts.iter().any(|x| x.part == p && x.available);
    let policies = Policies {
        methods: stored
            .methods
            .as_ref()
            .filter(|_| read(RunPart::MethodsPolicy)),
        strengths: read(RunPart::Strengths).then_some(&stored.strengths[..]),
        conditional_access: read(RunPart::ConditionalAccess)
            .then_some(&stored.conditional_access[..]),
    };
    let groups = db::watched_groups(pool).await?;
    let members = db::memberships(pool).await?;
    let counts = match ops::latest_succeeded_run(pool).await? {
        Some(r) => crate::db::dashboard::tenant_counts(pool, r.id)
            .await?
            .unwrap_or_default(),
        None => Default::default(),
    };
    let users_in_scope = i64::from(counts.users);
    let exclusions = read(RunPart::Memberships).then(|| {
        groups
            .iter()
            .filter(|g| g.watched && !g.missing)
            .map(|g| {
                let current = members
                    .iter()
                    .filter(|m| m.group_id == g.group_id && m.left_at.is_none());
                ExclusionFacts {
                    id: g.group_id.to_string(),
                    name: group_name(g),
                    members: current.clone().count() as i64,
                    phone_only: current
                        .filter(|m| m.state == Some(MigrationState::PhoneOnly))
                        .count() as i64,
                }
            })
            .collect()
    });
    let ctx = Context {
        users_in_scope,
        groups: groups
            .iter()
            .map(|g| {
                (
                    g.group_id.to_string(),
                    GroupFacts {
                        name: g.display_name.clone(),
                        members: g.member_count.map(i64::from),
                    },
                )
            })
            .collect(),
        exclusions,
        webhooks: state.config.alert_targets.len(),
        blocked: i64::from(counts.blocked_early) + i64::from(counts.blocked_late),
    };
    Ok(PostureJson {
        run,
        items: checklist(policies, &ctx),
        unavailable: parts.into_iter().filter(|p| !p.available).collect(),
        changes: db::policy_changes(pool, CHANGES_SHOWN).await?,
    })
}

fn group_name(g: &db::WatchedGroup) -> String {
    g.display_name
        .clone()
        .unwrap_or_else(|| format!("Group {}", g.group_id))
}

#[derive(Template, WebTemplate)]
#[template(path = "posture.html")]
pub struct PosturePage {
    layout: Layout,
    p: PostureJson,
    may_see_people: bool,
}

impl PosturePage {
    fn count(&self, status: Status) -> usize {
        self.p.items.iter().filter(|i| i.status == status).count()
    }
    fn part(&self, part: &RunPart) -> &'static str {
        part.label()
    }
    fn when(&self, t: &DateTime<Utc>) -> String {
        when(t)
    }
}

async fn posture_page(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<PosturePage, PageError> {
    Ok(PosturePage {
        layout: Layout::new(&state, Some(&caller), "posture"),
        p: posture(&state).await?,
        may_see_people: caller.may(Role::Helpdesk),
    })
}

async fn posture_json(State(state): State<AppState>) -> Result<Json<PostureJson>, AppError> {
    Ok(Json(posture(&state).await?))
}

/// A current member of an exclusion group.
#[derive(Debug, Serialize)]
pub struct MemberJson {
    pub id: Uuid,
    pub name: Option<String>,
    pub upn: Option<String>,
    /// The migration state now; null when the person is not in the registration report.
    pub state: Option<MigrationState>,
    pub department: Option<String>,
    /// When a sync first saw them in the group.
    pub first_seen: DateTime<Utc>,
    /// Already in the group when phoneless first read it (they joined earlier).
    pub there_at_first_read: bool,
    /// Who added them, from the directory audit log, and when.
    pub added_by: Option<String>,
    pub added_at: Option<DateTime<Utc>>,
    /// Days in the group, from when they were added (or first seen) until now.
    pub days_in_group: i64,
    /// Their open time-boxed entry, when phoneless added them.
    pub entry: Option<MemberEntryJson>,
}

/// An open allowlist entry, as a member row shows it.
#[derive(Debug, Serialize)]
pub struct MemberEntryJson {
    pub id: i64,
    pub reason: String,
    pub until: DateTime<Utc>,
    pub added_by: String,
}

/// A join or a leave.
#[derive(Debug, Serialize)]
pub struct EventJson {
    pub at: DateTime<Utc>,
    /// `joined` or `left`.
    pub change: &'static str,
    pub id: Uuid,
    pub name: Option<String>,
    pub by: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ExclusionGroupJson {
    pub id: Uuid,
    pub name: String,
    /// Configured in PHONELESS_EXCLUSION_GROUPS.
    pub configured: bool,
    /// Where the policies exclude it, in words.
    pub excluded_by: Vec<String>,
    /// Watched by the newest run (false: it was watched before).
    pub watched: bool,
    /// The group no longer exists in the directory.
    pub missing: bool,
    pub members: Vec<MemberJson>,
    pub phone_only: usize,
    /// Joins and leaves, newest first.
    pub history: Vec<EventJson>,
    /// Entries added through phoneless: the open ones (a member the sync has not seen yet
    /// included) and those ended in the last [`ENDED_ENTRIES_DAYS`] days.
    pub entries: Vec<EntryJson>,
}

/// How far back `/exclusions` lists ended entries.
pub const ENDED_ENTRIES_DAYS: i64 = 30;

#[derive(Debug, Serialize)]
pub struct ExclusionsJson {
    pub groups: Vec<ExclusionGroupJson>,
    /// Whether membership could be read by the newest run (the error says why not).
    pub memberships: Option<RunPartRow>,
    pub audit: Option<RunPartRow>,
}

async fn exclusions(state: &AppState) -> Result<ExclusionsJson, AppError> {
    let pool = &state.pool;
    let now = Utc::now();
    let (_, parts) = db::latest_run_parts(pool).await?;
    let groups = db::watched_groups(pool).await?;
    let rows = db::memberships(pool).await?;
    let entries =
        entries_db::recent_entries(pool, now - chrono::Duration::days(ENDED_ENTRIES_DAYS)).await?;
    let mut by_group: HashMap<Uuid, Vec<&MemberRow>> = HashMap::new();
    for r in &rows {
        by_group.entry(r.group_id).or_default().push(r);
    }
    let out = groups
        .iter()
        .filter(|g| g.watched || by_group.contains_key(&g.group_id))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|g| {
            let stays = by_group.remove(&g.group_id).unwrap_or_default();
            let members: Vec<MemberJson> = stays
                .iter()
                .filter(|m| m.left_at.is_none())
                .map(|m| {
                    let since = m.added_at.map_or(m.joined_at, |a| a.min(m.joined_at));
                    MemberJson {
                        id: m.user_id,
                        name: m.display_name.clone(),
                        upn: m.upn.clone(),
                        state: m.state,
                        department: m.department.clone(),
                        first_seen: m.joined_at,
                        there_at_first_read: m.initial,
                        added_by: m.added_by.clone(),
                        added_at: m.added_at,
                        days_in_group: (now - since).num_days().max(0),
                        entry: entries
                            .iter()
                            .find(|e| {
                                e.ended_at.is_none()
                                    && e.group_id == m.group_id
                                    && e.user_id == m.user_id
                            })
                            .map(|e| MemberEntryJson {
                                id: e.id,
                                reason: e.reason.clone(),
                                until: e.until,
                                added_by: e.added_by.clone(),
                            }),
                    }
                })
                .collect();
            let mut history: Vec<EventJson> = Vec::new();
            for m in &stays {
                history.push(EventJson {
                    at: m.added_at.unwrap_or(m.joined_at),
                    change: "joined",
                    id: m.user_id,
                    name: m.display_name.clone(),
                    by: m.added_by.clone(),
                });
                if let Some(left) = m.left_at {
                    history.push(EventJson {
                        at: left,
                        change: "left",
                        id: m.user_id,
                        name: m.display_name.clone(),
                        by: m.removed_by.clone(),
                    });
                }
            }
            history.sort_by_key(|e| std::cmp::Reverse(e.at));
            ExclusionGroupJson {
                id: g.group_id,
                name: group_name(g),
                configured: g.configured,
                excluded_by: g.reasons.clone(),
                watched: g.watched,
                missing: g.missing,
                phone_only: members
                    .iter()
                    .filter(|m| m.state == Some(MigrationState::PhoneOnly))
                    .count(),
                members,
                history,
                entries: entries
                    .iter()
                    .filter(|e| e.group_id == g.group_id)
                    .cloned()
                    .map(EntryJson::from)
                    .collect(),
            }
        })
        .collect();
    let part = |name: RunPart| parts.iter().find(|p| p.part == name).cloned();
    Ok(ExclusionsJson {
        groups: out,
        memberships: part(RunPart::Memberships),
        audit: part(RunPart::Audit),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "exclusions.html")]
pub struct ExclusionsPage {
    layout: Layout,
    e: ExclusionsJson,
    /// The allowlist action is on: the CSRF token and the longest entry the caller may give,
    /// in days.
    actions: Option<(String, i64)>,
}

impl ExclusionsPage {
    fn when(&self, t: &DateTime<Utc>) -> String {
        when(t)
    }
    fn state(&self, s: &Option<MigrationState>) -> &'static str {
        s.map_or("not in the report", state_label)
    }
    fn ended(&self, e: &EntryJson) -> String {
        crate::actions::allowlist::ended_words(e.end_kind.as_deref(), e.ended_by.as_deref())
    }
    fn days(&self, d: &i64) -> String {
        match *d {
            0 => "less than a day".to_owned(),
            1 => "1 day".to_owned(),
            n => format!("{} days", thousands(n)),
        }
    }
}

async fn exclusions_page(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<ExclusionsPage, PageError> {
    let e = exclusions(&state).await?;
    Ok(ExclusionsPage {
        layout: Layout::new(&state, Some(&caller), "exclusions"),
        e,
        actions: state
            .action(Action::Allowlist)
            .map(|_| (caller.csrf_token.clone(), max_days(&state, caller.role))),
    })
}

async fn exclusions_json(State(state): State<AppState>) -> Result<Json<ExclusionsJson>, AppError> {
    Ok(Json(exclusions(&state).await?))
}

#[derive(Debug, Serialize)]
pub struct FactJson {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct AlertJson {
    #[serde(flatten)]
    pub alert: Alert,
    pub facts: Vec<FactJson>,
    pub deliveries: Vec<Delivery>,
}

#[derive(Debug, Serialize)]
pub struct AlertsJson {
    /// The configured webhooks (kind and host; the URLs are secrets).
    pub webhooks: Vec<String>,
    /// Newest first.
    pub alerts: Vec<AlertJson>,
}

async fn alerts(state: &AppState) -> Result<AlertsJson, AppError> {
    let recent = alert_db::recent(&state.pool, ALERTS_SHOWN).await?;
    let ids: Vec<i64> = recent.iter().map(|a| a.id).collect();
    let mut deliveries: HashMap<i64, Vec<Delivery>> = HashMap::new();
    for d in alert_db::deliveries(&state.pool, &ids).await? {
        deliveries.entry(d.alert_id).or_default().push(d);
    }
    Ok(AlertsJson {
        webhooks: state
            .config
            .alert_targets
            .iter()
            .map(|t| t.label.clone())
            .collect(),
        alerts: recent
            .into_iter()
            .map(|a| AlertJson {
                facts: a
                    .facts()
                    .into_iter()
                    .map(|(name, value)| FactJson { name, value })
                    .collect(),
                deliveries: deliveries.remove(&a.id).unwrap_or_default(),
                alert: a,
            })
            .collect(),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "alerts.html")]
pub struct AlertsPage {
    layout: Layout,
    a: AlertsJson,
}

impl AlertsPage {
    fn when(&self, t: &DateTime<Utc>) -> String {
        when(t)
    }
    fn kind(&self, k: &str) -> &'static str {
        match k {
            "member_joined" => "Joined an exclusion group",
            "policy_changed" => "Policy changed",
            "sync_failing" => "Sync failing",
            _ => "Alert",
        }
    }
}

async fn alerts_page(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<AlertsPage, PageError> {
    Ok(AlertsPage {
        layout: Layout::new(&state, Some(&caller), "alerts"),
        a: alerts(&state).await?,
    })
}

async fn alerts_json(State(state): State<AppState>) -> Result<Json<AlertsJson>, AppError> {
    Ok(Json(alerts(&state).await?))
}
