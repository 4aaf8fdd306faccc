//! The security configuration part of a run: the authentication methods policy, strengths and
//! Conditional Access policies (their versions and changes), the groups they name, the
//! exclusion groups' members (joins and leaves, who added whom from the audit log), and the
//! alerts these raise.
//!
//! Each part is optional: a part Graph will not give (a missing permission, a throttle that
//! does not ease) is recorded as unavailable with its error, and the rest of the run goes on.
//! Everything is written in the run's transaction, so alerts exist exactly when what raised
//! them was stored.

mod diff;
pub mod plan;

pub use diff::differences;

use crate::db::actions as actions_db;
use crate::db::alerts::{self as alert_db, Target};
use crate::db::posture::{self as db, StoredPolicies};
use crate::graph::model::{
    AuthenticationMethodsPolicy, AuthenticationStrengthPolicy, ConditionalAccessPolicy,
    DirectoryAudit, DirectoryObject, Group,
};
use crate::graph::{Client, GraphError};
use crate::posture::{Policies, excluded_groups};
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use sqlx::PgConnection;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use uuid::Uuid;

/// The audit log is read this far back (Entra keeps 30 days with P1/P2).
const AUDIT_DAYS: i64 = 30;
pub const ADD_MEMBER: &str = "Add member to group";
pub const REMOVE_MEMBER: &str = "Remove member from group";

/// What the security-configuration part of a run needs besides Graph.
#[derive(Debug, Clone, Default)]
pub struct PostureOptions {
    /// Exclusion groups configured by id (`PHONELESS_EXCLUSION_GROUPS`).
    pub exclusion_groups: Vec<Uuid>,
    /// Webhooks each new alert is to be delivered to.
    pub alert_targets: Vec<Target>,
    /// Accounts left out of every count (`PHONELESS_OUT_OF_SCOPE_GROUPS`, `…_UPNS`).
    pub out_of_scope: crate::domain::scope::OutOfScope,
}

/// A group as read by this run.
#[derive(Debug)]
pub struct GroupRead {
    id: Uuid,
    watched: bool,
    configured: bool,
    reasons: Vec<String>,
    /// `Ok(None)`: the group does not exist.
    group: Result<Option<(Group, Vec<DirectoryObject>)>, GraphError>,
}

/// Everything fetched from Graph for this part of a run.
#[derive(Debug)]
pub struct Fetched {
    methods: Result<AuthenticationMethodsPolicy, GraphError>,
    strengths: Result<Vec<AuthenticationStrengthPolicy>, GraphError>,
    conditional_access: Result<Vec<ConditionalAccessPolicy>, GraphError>,
    groups: Vec<GroupRead>,
    audit: Result<Vec<DirectoryAudit>, GraphError>,
}

/// Whether a Conditional Access policy belongs to the checklist: it requires MFA or an
/// authentication strength.
pub fn uses_mfa(p: &ConditionalAccessPolicy) -> bool {
    p.grant_controls.as_ref().is_some_and(|g| {
        g.authentication_strength.is_some()
            || g.built_in_controls
                .iter()
                .any(|c| c.eq_ignore_ascii_case("mfa"))
    })
}

/// Every group id a policy names in a target (include or exclude), lower-case.
fn named_groups(p: Policies<'_>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(m) = p.methods {
        for c in &m.authentication_method_configurations {
            out.extend(
                c.include_targets
                    .iter()
                    .filter(|t| t.target_type.eq_ignore_ascii_case("group"))
                    .map(|t| t.id.to_ascii_lowercase()),
            );
            out.extend(
                c.exclude_targets
                    .iter()
                    .filter(|t| t.target_type.eq_ignore_ascii_case("group"))
                    .map(|t| t.id.to_ascii_lowercase()),
            );
        }
    }
    for ca in p.conditional_access.unwrap_or_default() {
        if let Some(u) = &ca.conditions.users {
            out.extend(
                u.include_groups
                    .iter()
                    .chain(&u.exclude_groups)
                    .map(|g| g.to_ascii_lowercase()),
            );
        }
    }
    // `all_users` and other non-GUIDs are not groups to read.
    out.retain(|id| Uuid::parse_str(id).is_ok());
    out
}

/// The authentication methods policy, with the beta-only opt-out of the passkey
/// auto-enablement carried in from the beta read, or from the stored policy when that read
/// fails (so a failed read is no change). Read first: who may use what depends on it.
pub async fn fetch_methods(
    graph: &Client,
    stored: Option<&AuthenticationMethodsPolicy>,
) -> Result<AuthenticationMethodsPolicy, GraphError> {
    let (mut methods, beta) = tokio::join!(graph.methods_policy(), graph.beta_methods_policy());
    if let Ok(m) = methods.as_mut() {
        m.opt_out_settings = match beta {
            Ok(b) => b.opt_out_settings,
            Err(e) => {
                tracing::info!("the beta methods policy could not be read: {e}");
                stored.and_then(|s| s.opt_out_settings.clone())
            }
        };
    }
    methods
}

/// Fetches the policies, the groups they name (members of the exclusion groups), and the
/// membership entries of the audit log. Never fails: each part carries its own result.
#[tracing::instrument(name = "fetch_security_configuration", skip_all)]
pub async fn fetch(
    graph: Arc<Client>,
    stored: StoredPolicies,
    methods: Result<AuthenticationMethodsPolicy, GraphError>,
    options: PostureOptions,
    now: DateTime<Utc>,
) -> Fetched {
    let (strengths, conditional_access) = tokio::join!(graph.strength_policies(), async {
        graph
            .conditional_access_policies()
            .await
            .map(|all| all.into_iter().filter(uses_mfa).collect::<Vec<_>>())
    });
    // Fall back on the stored policies for what could not be read now.
    let policies = Policies {
        methods: methods.as_ref().ok().or(stored.methods.as_ref()),
        strengths: Some(strengths.as_deref().unwrap_or(&stored.strengths)),
        conditional_access: Some(
            conditional_access
                .as_deref()
                .unwrap_or(&stored.conditional_access),
        ),
    };
    let mut wanted: BTreeMap<Uuid, (bool, bool, Vec<String>)> = BTreeMap::new();
    for id in named_groups(policies) {
        if let Ok(id) = Uuid::parse_str(&id) {
            wanted.entry(id).or_default();
        }
    }
    for (id, reasons) in excluded_groups(policies) {
        if let Ok(id) = Uuid::parse_str(&id) {
            let entry = wanted.entry(id).or_default();
            entry.0 = true;
            entry.2 = reasons;
        }
    }
    for id in &options.exclusion_groups {
        let entry = wanted.entry(*id).or_default();
        entry.0 = true;
        entry.1 = true;
    }
    let groups = join_all(
        wanted
            .into_iter()
            .map(|(id, (watched, configured, reasons))| {
                let graph = graph.clone();
                async move {
                    let group = async {
                        let Some(group) = graph.group(&id.to_string()).await? else {
                            return Ok(None);
                        };
                        let members = graph.group_members(&id.to_string()).await?;
                        Ok(Some((group, members)))
                    }
                    .await;
                    GroupRead {
                        id,
                        watched,
                        configured,
                        reasons,
                        group,
                    }
                }
            }),
    )
    .await;
    let since = now - chrono::Duration::days(AUDIT_DAYS);
    let filter = format!(
        "activityDateTime ge {} and (activityDisplayName eq '{ADD_MEMBER}' or activityDisplayName eq '{REMOVE_MEMBER}')",
        since.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let audit = graph.directory_audits(&filter).await;
    Fetched {
        methods,
        strengths,
        conditional_access,
        groups,
        audit,
    }
}

/// What storing this part of a run did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub policy_changes: u32,
    pub joins: u32,
    pub leaves: u32,
    pub alerts: u32,
}

/// Stores what was fetched in the run's transaction and raises the alerts: reads what the
/// plan needs, plans ([`plan::plan`]), and writes the plan.
pub async fn store(
    tx: &mut PgConnection,
    run_id: i64,
    now: DateTime<Utc>,
    fetched: Fetched,
    current: &[db::PolicyVersion],
    targets: &[Target],
) -> sqlx::Result<Stats> {
    let mut stored = plan::Stored {
        policies: current,
        known: db::known_policy_kinds(&mut *tx).await?,
        ..plan::Stored::default()
    };
    let mut listed = Vec::new();
    for g in fetched.groups.iter().filter(|g| g.watched) {
        let Ok(Some((_, members))) = &g.group else {
            continue;
        };
        if db::members_read(&mut *tx, g.id).await? {
            stored.members_read.push(g.id);
        }
        stored
            .members
            .extend(db::current_members(&mut *tx, g.id).await?);
        listed.extend(plan::people(members).into_keys());
    }
    stored.states = db::states_of(&mut *tx, &listed)
        .await?
        .into_iter()
        .collect();
    stored.announced = actions_db::open_pairs(&mut *tx).await?;

    let plan = plan::plan(&fetched, &stored, run_id, now);
    let mut stats = apply(tx, run_id, now, &plan, targets).await?;
    // Entries whose person left the group before their end (removed by hand) end here.
    for entry in actions_db::close_removed_outside(&mut *tx, now).await? {
        let alert = crate::actions::allowlist::removed_alert(&entry, now);
        if alert_db::insert(&mut *tx, &alert, targets).await?.is_some() {
            stats.alerts += 1;
        }
    }
    Ok(stats)
}

/// Writes a plan, in its order.
async fn apply(
    tx: &mut PgConnection,
    run_id: i64,
    now: DateTime<Utc>,
    plan: &plan::Plan,
    targets: &[Target],
) -> sqlx::Result<Stats> {
    let mut stats = Stats {
        policy_changes: plan.policy_changes() as u32,
        joins: plan.join_alerts.len() as u32,
        leaves: plan.leaves.len() as u32,
        alerts: 0,
    };
    for (part, error) in &plan.parts {
        db::insert_run_part(&mut *tx, run_id, *part, error.as_deref()).await?;
    }
    for step in &plan.policies {
        if let Some(id) = step.close {
            db::close_policy(&mut *tx, id, run_id, now).await?;
        }
        if let Some(p) = &step.insert {
            db::insert_policy(&mut *tx, p, run_id, now).await?;
        }
        if let Some(change) = &step.change {
            let id = db::insert_policy_change(&mut *tx, run_id, now, change).await?;
            let alert = plan::policy_alert(id, run_id, now, change);
            if alert_db::insert(&mut *tx, &alert, targets).await?.is_some() {
                stats.alerts += 1;
            }
        }
    }
    // Groups that could not be read keep their last state; the others are updated.
    db::unwatch_groups(&mut *tx).await?;
    for g in &plan.groups {
        db::upsert_group(&mut *tx, g, run_id, now).await?;
    }
    for id in &plan.first_reads {
        db::mark_members_read(&mut *tx, *id).await?;
    }
    for (id, removed_by) in &plan.leaves {
        db::end_membership(&mut *tx, *id, run_id, now, removed_by.as_deref()).await?;
    }
    for u in &plan.updates {
        db::update_membership(
            &mut *tx,
            u.id,
            u.display_name.as_deref(),
            u.upn.as_deref(),
            u.added.as_ref().map(|a| a.0.as_str()),
            u.added.as_ref().map(|a| a.1),
        )
        .await?;
    }
    for m in &plan.joins {
        db::insert_membership(&mut *tx, m, run_id, now).await?;
    }
    for alert in &plan.join_alerts {
        if alert_db::insert(&mut *tx, alert, targets).await?.is_some() {
            stats.alerts += 1;
        }
    }
    Ok(stats)
}
