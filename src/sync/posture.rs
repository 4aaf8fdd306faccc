//! The security configuration part of a run: the authentication methods policy, strengths and
//! Conditional Access policies (their versions and changes), the groups they name, the
//! exclusion groups' members (joins and leaves, who added whom from the audit log), and the
//! alerts these raise.
//!
//! Each part is optional: a part Graph will not give (a missing permission, a throttle that
//! does not ease) is recorded as unavailable with its error, and the rest of the run goes on.
//! Everything is written in the run's transaction, so alerts exist exactly when what raised
//! them was stored.

use crate::db::alerts::{self as alert_db, NewAlert, Target};
use crate::db::posture::{
    self as db, CONDITIONAL_ACCESS, METHODS_POLICY, STRENGTH, StoredPolicies as Stored,
};
use crate::graph::model::{
    AuthenticationMethodsPolicy, AuthenticationStrengthPolicy, ConditionalAccessPolicy,
    DirectoryAudit, DirectoryObject, Group,
};
use crate::graph::{Client, GraphError};
use crate::posture::{Policies, excluded_groups};
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::{BTreeMap, BTreeSet, HashMap};
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
}

/// A group as read by this run.
#[derive(Debug)]
struct GroupRead {
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

/// Whether a group member is a person. A nested group (or a device, a service principal) is
/// not: it is neither listed nor counted as someone in the group, and its own members are not
/// read (`/members` lists direct members only).
fn is_person(m: &DirectoryObject) -> bool {
    m.odata_type.is_empty() || m.odata_type.eq_ignore_ascii_case("#microsoft.graph.user")
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

/// Fetches the policies, the groups they name (members of the exclusion groups), and the
/// membership entries of the audit log. Never fails: each part carries its own result.
pub async fn fetch(
    graph: Arc<Client>,
    stored: Stored,
    options: PostureOptions,
    now: DateTime<Utc>,
) -> Fetched {
    let (methods, strengths, conditional_access) =
        tokio::join!(graph.methods_policy(), graph.strength_policies(), async {
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
                        let mut members = graph.group_members(&id.to_string()).await?;
                        members.retain(is_person);
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

/// A policy object as stored: its id, name and body.
type PolicyObject = (String, String, Value);
/// A policy part as read: its objects, or why it could not be read.
type PolicyRead = Result<Vec<PolicyObject>, GraphError>;

/// What storing this part of a run did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub policy_changes: u32,
    pub joins: u32,
    pub leaves: u32,
    pub alerts: u32,
}

/// Stores what was fetched in the run's transaction and raises the alerts.
pub async fn store(
    tx: &mut PgConnection,
    run_id: i64,
    now: DateTime<Utc>,
    fetched: Fetched,
    current: &[db::PolicyVersion],
    targets: &[Target],
) -> sqlx::Result<Stats> {
    let mut stats = Stats::default();
    let Fetched {
        methods,
        strengths,
        conditional_access,
        groups,
        audit,
    } = fetched;

    // Names of the groups read now, to word policy changes.
    let mut names: HashMap<String, String> = HashMap::new();
    names.insert("all_users".to_owned(), "all users".to_owned());
    for g in &groups {
        if let Ok(Some((group, _))) = &g.group {
            names.insert(g.id.to_string(), group.display_name.clone());
        }
    }

    let parts: [(&str, &str, PolicyRead); 3] = [
        (
            METHODS_POLICY,
            "methods_policy",
            methods.map(|m| {
                vec![(
                    m.id.clone(),
                    "Authentication methods policy".to_owned(),
                    serde_json::to_value(&m).unwrap_or(Value::Null),
                )]
            }),
        ),
        (
            STRENGTH,
            "strengths",
            strengths.map(|all| {
                all.iter()
                    .map(|s| {
                        (
                            s.id.clone(),
                            s.display_name.clone(),
                            serde_json::to_value(s).unwrap_or(Value::Null),
                        )
                    })
                    .collect()
            }),
        ),
        (
            CONDITIONAL_ACCESS,
            "conditional_access",
            conditional_access.map(|all| {
                all.iter()
                    .map(|p| {
                        (
                            p.id.clone(),
                            p.display_name.clone(),
                            serde_json::to_value(p).unwrap_or(Value::Null),
                        )
                    })
                    .collect()
            }),
        ),
    ];
    for (kind, part, result) in parts {
        match result {
            Err(e) => db::insert_run_part(&mut *tx, run_id, part, Some(&e.to_string())).await?,
            Ok(objects) => {
                db::insert_run_part(&mut *tx, run_id, part, None).await?;
                let known = db::policies_known(&mut *tx, kind).await?;
                let before: Vec<&db::PolicyVersion> =
                    current.iter().filter(|v| v.kind == kind).collect();
                for (object_id, name, body) in &objects {
                    let old = before.iter().find(|v| &v.object_id == object_id);
                    let (change, details) = match old {
                        Some(old) if normalized(&old.body) == normalized(body) => continue,
                        Some(old) => ("changed", differences(&old.body, body, &names)),
                        None => ("added", vec![format!("{} appeared", kind_label(kind))]),
                    };
                    if let Some(old) = old {
                        db::close_policy(&mut *tx, old.id, run_id, now).await?;
                    }
                    db::insert_policy(&mut *tx, kind, object_id, name, body, run_id, now).await?;
                    if known && !details.is_empty() {
                        let modified = modified_at(body);
                        let id = db::insert_policy_change(
                            &mut *tx, run_id, now, modified, kind, object_id, name, change,
                            &details,
                        )
                        .await?;
                        stats.policy_changes += 1;
                        let alert = policy_alert(id, run_id, now, kind, name, change, &details);
                        if alert_db::insert(&mut *tx, &alert, targets).await?.is_some() {
                            stats.alerts += 1;
                        }
                    }
                }
                for old in before
                    .iter()
                    .filter(|v| !objects.iter().any(|(id, _, _)| *id == v.object_id))
                {
                    db::close_policy(&mut *tx, old.id, run_id, now).await?;
                    let details = vec![format!("{} no longer listed", kind_label(kind))];
                    let id = db::insert_policy_change(
                        &mut *tx,
                        run_id,
                        now,
                        None,
                        kind,
                        &old.object_id,
                        &old.display_name,
                        "removed",
                        &details,
                    )
                    .await?;
                    stats.policy_changes += 1;
                    let alert = policy_alert(
                        id,
                        run_id,
                        now,
                        kind,
                        &old.display_name,
                        "removed",
                        &details,
                    );
                    if alert_db::insert(&mut *tx, &alert, targets).await?.is_some() {
                        stats.alerts += 1;
                    }
                }
            }
        }
    }

    // Memberships: recorded as unavailable when any group could not be read.
    let member_error = groups
        .iter()
        .find_map(|g| g.group.as_ref().err())
        .map(|e| e.to_string());
    db::insert_run_part(&mut *tx, run_id, "memberships", member_error.as_deref()).await?;
    let audit_error = audit.as_ref().err().map(|e| e.to_string());
    db::insert_run_part(&mut *tx, run_id, "audit", audit_error.as_deref()).await?;
    let audit = audit.unwrap_or_default();

    // Groups that could not be read keep their last state; the others are updated.
    db::unwatch_groups(&mut *tx).await?;
    for g in &groups {
        let (name, count, missing) = match &g.group {
            Ok(Some((group, members))) => (
                Some(group.display_name.as_str()),
                Some(i32::try_from(members.len()).unwrap_or(i32::MAX)),
                false,
            ),
            Ok(None) => (None, None, true),
            Err(_) => (None, None, false),
        };
        db::upsert_group(
            &mut *tx,
            g.id,
            name,
            count,
            g.watched,
            g.configured,
            &g.reasons,
            missing,
            run_id,
            now,
        )
        .await?;
        let (true, Ok(Some((group, members)))) = (g.watched, &g.group) else {
            continue;
        };
        let was_read = db::mark_members_read(&mut *tx, g.id).await?;
        let current = db::current_members(&mut *tx, g.id).await?;
        let now_ids: HashMap<Uuid, &DirectoryObject> = members
            .iter()
            .filter_map(|m| Some((Uuid::parse_str(&m.id).ok()?, m)))
            .collect();
        for m in &current {
            match now_ids.get(&m.user_id) {
                None => {
                    let removed_by = who(&audit, REMOVE_MEMBER, g.id, m.user_id);
                    db::end_membership(
                        &mut *tx,
                        m.id,
                        run_id,
                        now,
                        removed_by.as_ref().map(|w| w.0.as_str()),
                    )
                    .await?;
                    stats.leaves += 1;
                }
                Some(now_member) if m.added_by.is_none() || m.display_name.is_none() => {
                    let added = if m.initial {
                        None
                    } else {
                        who(&audit, ADD_MEMBER, g.id, m.user_id)
                    };
                    db::update_membership(
                        &mut *tx,
                        m.id,
                        now_member.display_name.as_deref(),
                        now_member.user_principal_name.as_deref(),
                        added.as_ref().map(|w| w.0.as_str()),
                        added.as_ref().map(|w| w.1),
                    )
                    .await?;
                }
                Some(_) => {}
            }
        }
        let mut joined = Vec::new();
        for (id, m) in &now_ids {
            if current.iter().any(|c| c.user_id == *id) {
                continue;
            }
            // The first read of a group finds who is in it, not who joined; the audit log
            // still tells who added them when it reaches back far enough.
            let initial = !was_read;
            let added = who(&audit, ADD_MEMBER, g.id, *id);
            db::insert_membership(
                &mut *tx,
                g.id,
                *id,
                m.display_name.as_deref(),
                m.user_principal_name.as_deref(),
                run_id,
                now,
                initial,
                added.as_ref().map(|w| w.0.as_str()),
                added.as_ref().map(|w| w.1),
            )
            .await?;
            if !initial {
                stats.joins += 1;
                joined.push((*id, *m, added));
            }
        }
        if joined.is_empty() {
            continue;
        }
        let ids: Vec<Uuid> = joined.iter().map(|j| j.0).collect();
        let states: HashMap<Uuid, String> =
            db::states_of(&mut *tx, &ids).await?.into_iter().collect();
        for (id, m, added) in joined {
            let alert = join_alert(
                run_id,
                now,
                g.id,
                &group.display_name,
                id,
                m,
                added,
                states.get(&id).map(String::as_str),
            );
            if alert_db::insert(&mut *tx, &alert, targets).await?.is_some() {
                stats.alerts += 1;
            }
        }
    }
    Ok(stats)
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        METHODS_POLICY => "The authentication methods policy",
        STRENGTH => "The authentication strength",
        _ => "The Conditional Access policy",
    }
}

/// When Graph says the object was last modified.
fn modified_at(body: &Value) -> Option<DateTime<Utc>> {
    ["lastModifiedDateTime", "modifiedDateTime"]
        .iter()
        .find_map(|k| body.get(k)?.as_str()?.parse().ok())
}

/// A policy's body without what changes when nothing does (modification times).
fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !is_volatile(k))
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

fn is_volatile(key: &str) -> bool {
    key.eq_ignore_ascii_case("lastModifiedDateTime")
        || key.eq_ignore_ascii_case("modifiedDateTime")
        || key.starts_with("@odata.context")
}

/// Flattens a policy into `path → value` lines. Arrays of objects with an `id` (method
/// configurations, targets) are keyed by that id, so a reordered list is no change, and each
/// keyed element also has a line of its own (its presence).
fn flatten(v: &Value, path: &str, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if !is_volatile(k) && !k.starts_with("@odata") {
                    flatten(x, &join(path, k), out);
                }
            }
        }
        Value::Array(items)
            if !items.is_empty()
                && items
                    .iter()
                    .all(|i| i.get("id").and_then(Value::as_str).is_some()) =>
        {
            for item in items {
                let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
                let keyed = format!("{path}[{id}]");
                out.insert(keyed.clone(), String::new());
                if let Value::Object(m) = item {
                    for (k, x) in m {
                        if k != "id" && !is_volatile(k) && !k.starts_with("@odata") {
                            flatten(x, &join(&keyed, k), out);
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            let text: Vec<String> = items.iter().map(scalar).collect();
            out.insert(
                path.to_owned(),
                if text.is_empty() {
                    "(none)".to_owned()
                } else {
                    text.join(", ")
                },
            );
        }
        Value::Null => {}
        other => {
            out.insert(path.to_owned(), scalar(other));
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A path in words: method configurations by their id, groups by their name.
fn pretty(path: &str, names: &HashMap<String, String>) -> String {
    let path = path
        .strip_prefix("authenticationMethodConfigurations")
        .map(|p| p.trim_start_matches('['))
        .unwrap_or(path);
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']') else {
            break;
        };
        let id = &rest[open + 1..open + close];
        out.push_str(&rest[..open]);
        out.push_str(" › ");
        out.push_str(
            names
                .get(&id.to_ascii_lowercase())
                .map_or(id, String::as_str),
        );
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out.replace("].", " › ")
        .replace(']', "")
        .replace('.', " › ")
        .trim_start_matches(" › ")
        .to_owned()
}

/// Each difference between two versions of a policy, in words: "Voice › state: enabled →
/// disabled", "Sms › includeTargets › Phone MFA exceptions added".
pub fn differences(old: &Value, new: &Value, names: &HashMap<String, String>) -> Vec<String> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten(old, "", &mut a);
    flatten(new, "", &mut b);
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut out = Vec::new();
    // Keyed elements added or removed whole: their fields are not listed one by one.
    let mut whole: Vec<String> = Vec::new();
    for key in keys {
        if whole.iter().any(|w| key.starts_with(&format!("{w}."))) {
            continue;
        }
        let keyed = key.ends_with(']');
        match (a.get(key), b.get(key)) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => out.push(format!("{}: {x} → {y}", pretty(key, names))),
            (None, Some(y)) if keyed || y.is_empty() => {
                whole.push(key.clone());
                out.push(format!("{} added", pretty(key, names)));
            }
            (Some(_), None) if keyed => {
                whole.push(key.clone());
                out.push(format!("{} removed", pretty(key, names)));
            }
            (None, Some(y)) => out.push(format!("{}: (none) → {y}", pretty(key, names))),
            (Some(x), None) => out.push(format!("{}: {x} → (none)", pretty(key, names))),
            (None, None) => {}
        }
    }
    out
}

/// Who made a membership change, from the newest matching audit entry: "Name (upn)" or the
/// app's name, and when.
fn who(
    audit: &[DirectoryAudit],
    activity: &str,
    group: Uuid,
    user: Uuid,
) -> Option<(String, DateTime<Utc>)> {
    let group = group.to_string();
    let user = user.to_string();
    audit
        .iter()
        .filter(|a| {
            a.activity_display_name.eq_ignore_ascii_case(activity)
                && a.result.eq_ignore_ascii_case("success")
        })
        .filter(|a| {
            let mut on_user = false;
            let mut on_group = false;
            for t in &a.target_resources {
                if t.id.eq_ignore_ascii_case(&user) {
                    on_user = true;
                }
                if t.id.eq_ignore_ascii_case(&group) {
                    on_group = true;
                }
                // Entra names the group in the user target's modified properties.
                on_group |= t.modified_properties.iter().any(|p| {
                    p.display_name == "Group.ObjectID"
                        && [&p.new_value, &p.old_value].iter().any(|v| {
                            v.as_deref()
                                .is_some_and(|v| v.trim_matches('"').eq_ignore_ascii_case(&group))
                        })
                });
            }
            on_user && on_group
        })
        .max_by_key(|a| a.activity_date_time)
        .map(|a| {
            let by = match (&a.initiated_by.user, &a.initiated_by.app) {
                (Some(u), _) => match (&u.display_name, &u.user_principal_name) {
                    (Some(n), Some(upn)) => format!("{n} ({upn})"),
                    (Some(n), None) => n.clone(),
                    (None, Some(upn)) => upn.clone(),
                    (None, None) => u.id.clone(),
                },
                (None, Some(app)) => format!(
                    "{} (an application)",
                    app.display_name.as_deref().unwrap_or("an app")
                ),
                (None, None) => "unknown".to_owned(),
            };
            (by, a.activity_date_time)
        })
}

fn policy_alert<'a>(
    change_id: i64,
    run_id: i64,
    now: DateTime<Utc>,
    kind: &str,
    name: &str,
    change: &str,
    details: &[String],
) -> NewAlert<'a> {
    let what = match kind {
        METHODS_POLICY => "authentication methods policy",
        STRENGTH => "authentication strength",
        _ => "Conditional Access policy",
    };
    let mut facts = vec![
        ("Policy".to_owned(), name.to_owned()),
        ("Kind".to_owned(), what.to_owned()),
        ("Change".to_owned(), change.to_owned()),
        (
            "Seen".to_owned(),
            now.format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
    ];
    facts.extend(
        details
            .iter()
            .take(8)
            .map(|d| ("Difference".to_owned(), d.clone())),
    );
    NewAlert {
        event_key: format!("policy_change:{change_id}"),
        kind: "policy_changed",
        created_at: now,
        run_id: Some(run_id),
        title: format!("Policy {change}: {name}"),
        text: format!(
            "The {what} “{name}” was {change}. It is part of the phone-MFA checklist: check that the change was intended."
        ),
        facts,
    }
}

#[expect(clippy::too_many_arguments, reason = "the facts of one alert")]
fn join_alert<'a>(
    run_id: i64,
    now: DateTime<Utc>,
    group_id: Uuid,
    group: &str,
    user_id: Uuid,
    m: &DirectoryObject,
    added: Option<(String, DateTime<Utc>)>,
    state: Option<&str>,
) -> NewAlert<'a> {
    let name = m.display_name.as_deref().unwrap_or("Someone");
    let upn = m.user_principal_name.as_deref().unwrap_or("");
    let state = state
        .and_then(crate::classify::State::parse)
        .map_or("not in the registration report", crate::advice::state_label);
    let by = match &added {
        Some((by, at)) => format!("{by}, at {}", at.format("%Y-%m-%d %H:%M UTC")),
        None => "not in the audit log yet".to_owned(),
    };
    NewAlert {
        event_key: format!("member_joined:{group_id}:{user_id}:{run_id}"),
        kind: "member_joined",
        created_at: now,
        run_id: Some(run_id),
        title: format!("{name} was added to {group}"),
        text: format!(
            "{name} joined the exclusion group “{group}”, so the policies that exclude it no longer apply to them."
        ),
        facts: vec![
            ("Person".to_owned(), format!("{name} ({upn})")),
            ("Group".to_owned(), group.to_owned()),
            ("Migration state".to_owned(), state.to_owned()),
            ("Added by".to_owned(), by),
            (
                "Seen".to_owned(),
                now.format("%Y-%m-%d %H:%M UTC").to_string(),
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_users_are_people_in_a_group() {
        let member = |odata_type: &str| DirectoryObject {
            odata_type: odata_type.to_owned(),
            id: "4d2e8a17-6b3c-4f95-9e01-c7a5b3d9f2e6".to_owned(),
            ..DirectoryObject::default()
        };
        assert!(is_person(&member("#microsoft.graph.user")));
        assert!(is_person(&member("#Microsoft.Graph.User")));
        assert!(
            is_person(&member("")),
            "a member without a type is taken as a user"
        );
        assert!(!is_person(&member("#microsoft.graph.group")));
        assert!(!is_person(&member("#microsoft.graph.servicePrincipal")));
        assert!(!is_person(&member("#microsoft.graph.device")));
    }

    #[test]
    fn differences_in_words() {
        let names = HashMap::from([
            ("all_users".to_owned(), "all users".to_owned()),
            ("g1".to_owned(), "Phone MFA exceptions".to_owned()),
        ]);
        let old = json!({
            "policyMigrationState": "migrationInProgress",
            "lastModifiedDateTime": "2026-01-01T00:00:00Z",
            "authenticationMethodConfigurations": [
                {"id": "Voice", "state": "enabled", "isOfficePhoneAllowed": true,
                 "includeTargets": [{"id": "all_users", "targetType": "group"}]},
                {"id": "Sms", "state": "enabled",
                 "includeTargets": [{"id": "all_users", "targetType": "group", "isUsableForSignIn": true}]},
            ]
        });
        let new = json!({
            "policyMigrationState": "migrationInProgress",
            "lastModifiedDateTime": "2026-03-01T00:00:00Z",
            "authenticationMethodConfigurations": [
                {"id": "Sms", "state": "enabled",
                 "includeTargets": [{"id": "g1", "targetType": "group", "isUsableForSignIn": false}]},
                {"id": "Voice", "state": "disabled", "isOfficePhoneAllowed": true,
                 "includeTargets": [{"id": "all_users", "targetType": "group"}]},
            ]
        });
        let d = differences(&old, &new, &names);
        assert_eq!(
            d,
            vec![
                "Sms › includeTargets › all users removed",
                "Sms › includeTargets › Phone MFA exceptions added",
                "Voice › state: enabled → disabled",
            ],
            "{d:?}"
        );
        // Reordered lists and a new modification time are no change.
        assert!(differences(&old, &old, &names).is_empty());
        assert_eq!(
            normalized(&old),
            normalized(&{
                let mut o = old.clone();
                o["lastModifiedDateTime"] = json!("2027-01-01T00:00:00Z");
                o
            })
        );
    }

    #[test]
    fn who_reads_the_audit_entry_of_the_group_and_person() {
        let group = Uuid::new_v4();
        let user = Uuid::new_v4();
        let entry: DirectoryAudit = serde_json::from_value(json!({
            "id": "a1", "category": "GroupManagement", "result": "success",
            "activityDisplayName": "Add member to group",
            "activityDateTime": "2026-02-01T10:00:00Z",
            "loggedByService": "Core Directory", "operationType": "Assign",
            "initiatedBy": {"user": {"id": "u9", "displayName": "Ada Admin", "userPrincipalName": "ada@contoso.com"}},
            "targetResources": [{"id": user.to_string(), "type": "User",
                "modifiedProperties": [{"displayName": "Group.ObjectID", "oldValue": null,
                                         "newValue": format!("\"{group}\"")}]}],
            "additionalDetails": []
        }))
        .expect("audit entry");
        let found = who(std::slice::from_ref(&entry), ADD_MEMBER, group, user);
        assert_eq!(
            found.map(|f| f.0).as_deref(),
            Some("Ada Admin (ada@contoso.com)")
        );
        assert!(
            who(
                std::slice::from_ref(&entry),
                ADD_MEMBER,
                Uuid::new_v4(),
                user
            )
            .is_none()
        );
        assert!(who(&[entry], REMOVE_MEMBER, group, user).is_none());
    }
}
