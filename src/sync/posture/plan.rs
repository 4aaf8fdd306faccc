//! What the security-configuration part of a run writes, worked out from what was fetched
//! and what is stored: which policy versions end and begin, the changes in words, the groups
//! and their joins and leaves with who made them, and the alerts they raise. Pure: the
//! writing is [`super::store`]'s.

use super::diff::{differences, modified_at, normalized};
use super::{ADD_MEMBER, Fetched, REMOVE_MEMBER};
use crate::advice::state_label;
use crate::db::alerts::NewAlert;
use crate::db::posture::{
    GroupRead, Membership, NewMembership, NewPolicyChange, PolicyObject, PolicyVersion,
};
use crate::domain::{PolicyKind, RunPart, State};
use crate::graph::model::{DirectoryAudit, DirectoryObject};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashMap;
use uuid::Uuid;

/// What the plan needs of the database, read in the run's transaction.
#[derive(Debug, Default)]
pub struct Stored<'a> {
    /// The current policy versions.
    pub policies: &'a [PolicyVersion],
    /// The kinds of which a version was ever stored (the first read of a kind is no change).
    pub known: Vec<PolicyKind>,
    /// Watched groups whose members were read before.
    pub members_read: Vec<Uuid>,
    /// The current stays in the watched groups.
    pub members: Vec<Membership>,
    /// The current migration state of the people in the groups' member lists.
    pub states: HashMap<Uuid, State>,
    /// (group, person) of the open allowlist entries added through phoneless: their joins
    /// were announced when the entry was added, so they raise no second alert.
    pub announced: Vec<(Uuid, Uuid)>,
}

/// One policy object's step: end its current version, store the new one, record the change.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyStep {
    /// The version that ends (changed or removed).
    pub close: Option<i64>,
    /// The version that begins (added or changed).
    pub insert: Option<PolicyObject>,
    /// The change to record and alert on (none on the first read of a kind).
    pub change: Option<NewPolicyChange>,
}

/// Everything this part of a run writes, in the order it is written.
#[derive(Debug, Default)]
pub struct Plan {
    /// Whether each part could be read, with the error when not.
    pub parts: Vec<(RunPart, Option<String>)>,
    pub policies: Vec<PolicyStep>,
    /// The groups read now; groups that could not be read keep their stored name and size.
    pub groups: Vec<GroupRead>,
    /// Watched groups whose members are read for the first time now.
    pub first_reads: Vec<Uuid>,
    /// Stays that ended: the stay, and who removed the person.
    pub leaves: Vec<(i64, Option<String>)>,
    /// Stays whose name or "added by" is filled in now: the stay, name, UPN, added by and when.
    pub updates: Vec<MembershipUpdate>,
    /// New stays (joins, and the members a first read finds).
    pub joins: Vec<NewMembership>,
    /// One alert per join (not for members a first read finds).
    pub join_alerts: Vec<NewAlert<'static>>,
}

/// What is filled in on a current stay.
#[derive(Debug, Clone, PartialEq)]
pub struct MembershipUpdate {
    pub id: i64,
    pub display_name: Option<String>,
    pub upn: Option<String>,
    pub added: Option<(String, DateTime<Utc>)>,
}

impl Plan {
    /// The changes recorded (each raises an alert).
    pub fn policy_changes(&self) -> usize {
        self.policies.iter().filter(|p| p.change.is_some()).count()
    }
}

/// A policy part as read: its objects, or why it could not be read.
type PolicyRead = Result<Vec<PolicyObject>, String>;

fn objects<T: serde::Serialize>(
    kind: PolicyKind,
    read: Result<&[T], &crate::graph::GraphError>,
    id_and_name: impl Fn(&T) -> (String, String),
) -> PolicyRead {
    read.map(|all| {
        all.iter()
            .map(|o| {
                let (object_id, display_name) = id_and_name(o);
                PolicyObject {
                    kind,
                    object_id,
                    display_name,
                    body: serde_json::to_value(o).unwrap_or(Value::Null),
                }
            })
            .collect()
    })
    .map_err(|e| e.to_string())
}

/// The steps of one policy kind read now against its stored versions.
fn policy_steps(
    kind: PolicyKind,
    objects: Vec<PolicyObject>,
    stored: &Stored<'_>,
    names: &HashMap<String, String>,
) -> Vec<PolicyStep> {
    let known = stored.known.contains(&kind);
    let before: Vec<&PolicyVersion> = stored.policies.iter().filter(|v| v.kind == kind).collect();
    let mut steps = Vec::new();
    for o in &objects {
        let old = before.iter().find(|v| v.object_id == o.object_id);
        let (change, details) = match old {
            Some(old) if normalized(&old.body) == normalized(&o.body) => continue,
            Some(old) => ("changed", differences(&old.body, &o.body, names)),
            None => ("added", vec![format!("{} appeared", kind_label(kind))]),
        };
        steps.push(PolicyStep {
            close: old.map(|v| v.id),
            insert: Some(o.clone()),
            change: (known && !details.is_empty()).then(|| NewPolicyChange {
                modified_at: modified_at(&o.body),
                kind,
                object_id: o.object_id.clone(),
                display_name: o.display_name.clone(),
                change,
                details,
            }),
        });
    }
    for old in before
        .iter()
        .filter(|v| !objects.iter().any(|o| o.object_id == v.object_id))
    {
        steps.push(PolicyStep {
            close: Some(old.id),
            insert: None,
            change: Some(NewPolicyChange {
                modified_at: None,
                kind,
                object_id: old.object_id.clone(),
                display_name: old.display_name.clone(),
                change: "removed",
                details: vec![format!("{} no longer listed", kind_label(kind))],
            }),
        });
    }
    steps
}

/// The people among a group's members: nested groups, devices and service principals are
/// not people (their own members are not read: `/members` lists direct members only), and
/// ids that are not GUIDs cannot be.
pub fn people(members: &[DirectoryObject]) -> HashMap<Uuid, &DirectoryObject> {
    members
        .iter()
        .filter(|m| {
            m.odata_type.is_empty() || m.odata_type.eq_ignore_ascii_case("#microsoft.graph.user")
        })
        .filter_map(|m| Some((Uuid::parse_str(&m.id).ok()?, m)))
        .collect()
}

/// What to write for `fetched` given what is `stored`, as of `run_id` at `now`.
pub fn plan(fetched: &Fetched, stored: &Stored<'_>, run_id: i64, now: DateTime<Utc>) -> Plan {
    let mut plan = Plan::default();

    // Names of the groups read now, to word policy changes.
    let mut names: HashMap<String, String> = HashMap::new();
    names.insert("all_users".to_owned(), "all users".to_owned());
    for g in &fetched.groups {
        if let Ok(Some((group, _))) = &g.group {
            names.insert(g.id.to_string(), group.display_name.clone());
        }
    }

    let reads: [(PolicyKind, RunPart, PolicyRead); 3] = [
        (
            PolicyKind::MethodsPolicy,
            RunPart::MethodsPolicy,
            objects(
                PolicyKind::MethodsPolicy,
                fetched.methods.as_ref().map(std::slice::from_ref),
                |m| (m.id.clone(), "Authentication methods policy".to_owned()),
            ),
        ),
        (
            PolicyKind::Strength,
            RunPart::Strengths,
            objects(PolicyKind::Strength, fetched.strengths.as_deref(), |s| {
                (s.id.clone(), s.display_name.clone())
            }),
        ),
        (
            PolicyKind::ConditionalAccess,
            RunPart::ConditionalAccess,
            objects(
                PolicyKind::ConditionalAccess,
                fetched.conditional_access.as_deref(),
                |p| (p.id.clone(), p.display_name.clone()),
            ),
        ),
    ];
    for (kind, part, read) in reads {
        match read {
            Err(e) => plan.parts.push((part, Some(e))),
            Ok(objects) => {
                plan.parts.push((part, None));
                plan.policies
                    .extend(policy_steps(kind, objects, stored, &names));
            }
        }
    }

    // Memberships: recorded as unavailable when any group could not be read.
    let member_error = fetched
        .groups
        .iter()
        .find_map(|g| g.group.as_ref().err())
        .map(|e| e.to_string());
    plan.parts.push((RunPart::Memberships, member_error));
    let audit: &[DirectoryAudit] = match &fetched.audit {
        Ok(a) => a,
        Err(e) => {
            plan.parts.push((RunPart::Audit, Some(e.to_string())));
            &[]
        }
    };
    if fetched.audit.is_ok() {
        plan.parts.push((RunPart::Audit, None));
    }

    for g in &fetched.groups {
        let (display_name, member_count, missing) = match &g.group {
            Ok(Some((group, members))) => (
                Some(group.display_name.clone()),
                Some(i32::try_from(people(members).len()).unwrap_or(i32::MAX)),
                false,
            ),
            Ok(None) => (None, None, true),
            Err(_) => (None, None, false),
        };
        plan.groups.push(GroupRead {
            group_id: g.id,
            display_name,
            member_count,
            watched: g.watched,
            configured: g.configured,
            reasons: g.reasons.clone(),
            missing,
        });
        let (true, Ok(Some((group, members)))) = (g.watched, &g.group) else {
            continue;
        };
        let was_read = stored.members_read.contains(&g.id);
        if !was_read {
            plan.first_reads.push(g.id);
        }
        let current: Vec<&Membership> = stored
            .members
            .iter()
            .filter(|m| m.group_id == g.id)
            .collect();
        let now_ids = people(members);
        for m in &current {
            match now_ids.get(&m.user_id) {
                None => plan.leaves.push((
                    m.id,
                    who(audit, REMOVE_MEMBER, g.id, m.user_id).map(|w| w.0),
                )),
                Some(now_member) => {
                    // Only what would change: a new name, or who added them once the audit
                    // log tells (a no-op update per member and run costs a round trip each).
                    let added = if m.initial || m.added_by.is_some() {
                        None
                    } else {
                        who(audit, ADD_MEMBER, g.id, m.user_id)
                    };
                    let differs = |now: &Option<String>, stored: &Option<String>| {
                        now.is_some() && now != stored
                    };
                    if added.is_some()
                        || differs(&now_member.display_name, &m.display_name)
                        || differs(&now_member.user_principal_name, &m.upn)
                    {
                        plan.updates.push(MembershipUpdate {
                            id: m.id,
                            display_name: now_member.display_name.clone(),
                            upn: now_member.user_principal_name.clone(),
                            added,
                        });
                    }
                }
            }
        }
        let mut joined: Vec<(&Uuid, &&DirectoryObject)> = now_ids
            .iter()
            .filter(|(id, _)| !current.iter().any(|c| c.user_id == **id))
            .collect();
        joined.sort_by_key(|(id, _)| **id);
        for (id, m) in joined {
            // The first read of a group finds who is in it, not who joined; the audit log
            // still tells who added them when it reaches back far enough.
            let join = NewMembership {
                group_id: g.id,
                user_id: *id,
                display_name: m.display_name.clone(),
                upn: m.user_principal_name.clone(),
                initial: !was_read,
                added: who(audit, ADD_MEMBER, g.id, *id),
            };
            if was_read && !stored.announced.contains(&(g.id, *id)) {
                plan.join_alerts.push(join_alert(
                    run_id,
                    now,
                    &group.display_name,
                    &join,
                    stored.states.get(id).copied(),
                ));
            }
            plan.joins.push(join);
        }
    }
    plan
}

fn kind_label(kind: PolicyKind) -> &'static str {
    match kind {
        PolicyKind::MethodsPolicy => "The authentication methods policy",
        PolicyKind::Strength => "The authentication strength",
        PolicyKind::ConditionalAccess => "The Conditional Access policy",
    }
}

/// Who made a membership change, from the newest matching audit entry: "Name (upn)" or the
/// app's name, and when.
pub fn who(
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

/// The alert for a recorded policy change (its id makes the event key).
pub fn policy_alert(
    change_id: i64,
    run_id: i64,
    now: DateTime<Utc>,
    c: &NewPolicyChange,
) -> NewAlert<'static> {
    let (name, change, details) = (&c.display_name, c.change, &c.details);
    let what = match c.kind {
        PolicyKind::MethodsPolicy => "authentication methods policy",
        PolicyKind::Strength => "authentication strength",
        PolicyKind::ConditionalAccess => "Conditional Access policy",
    };
    let mut facts = vec![
        ("Policy".to_owned(), name.clone()),
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

/// The alert for a person who joined an exclusion group (`state`: theirs now, if they are in
/// the report).
fn join_alert(
    run_id: i64,
    now: DateTime<Utc>,
    group: &str,
    m: &NewMembership,
    state: Option<State>,
) -> NewAlert<'static> {
    let (group_id, user_id) = (m.group_id, m.user_id);
    let name = m.display_name.as_deref().unwrap_or("Someone");
    let upn = m.upn.as_deref().unwrap_or("");
    let state = state.map_or("not in the registration report", state_label);
    let by = match &m.added {
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
    use super::super::GroupRead;
    use super::*;
    use crate::graph::GraphError;
    use crate::graph::model::{AuthenticationMethodsPolicy, Group};
    use serde_json::json;

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

    fn user(id: Uuid, name: &str) -> DirectoryObject {
        DirectoryObject {
            odata_type: "#microsoft.graph.user".into(),
            id: id.to_string(),
            display_name: Some(name.into()),
            user_principal_name: Some(format!("{}@contoso.com", name.to_lowercase())),
        }
    }

    fn at(day: u32) -> DateTime<Utc> {
        format!("2026-02-{day:02}T10:00:00Z").parse().expect("time")
    }

    fn stay(id: i64, group: Uuid, user: Uuid) -> Membership {
        Membership {
            id,
            group_id: group,
            user_id: user,
            display_name: Some("Old".into()),
            upn: None,
            joined_at: at(1),
            initial: true,
            added_by: None,
            added_at: None,
            left_at: None,
            removed_by: None,
        }
    }

    fn audit(activity: &str, group: Uuid, user: Uuid, by: &str) -> DirectoryAudit {
        serde_json::from_value(json!({
            "id": format!("{activity}-{user}"), "category": "GroupManagement", "result": "success",
            "activityDisplayName": activity, "activityDateTime": "2026-02-03T09:00:00Z",
            "loggedByService": "Core Directory", "operationType": "Assign",
            "initiatedBy": {"user": {"id": "u9", "displayName": by, "userPrincipalName": "ada@contoso.com"}},
            "targetResources": [{"id": user.to_string(), "type": "User",
                "modifiedProperties": [{"displayName": "Group.ObjectID", "oldValue": null,
                                         "newValue": format!("\"{group}\"")}]}],
            "additionalDetails": []
        }))
        .expect("audit entry")
    }

    fn methods_policy(voice: &str) -> AuthenticationMethodsPolicy {
        serde_json::from_value(json!({
            "id": "authenticationMethodsPolicy",
            "authenticationMethodConfigurations": [{"id": "Voice", "state": voice}]
        }))
        .expect("policy")
    }

    /// One watched group: Bea stays, Cal left (removed by an admin), Dan joined (added by an
    /// admin), and a nested group is listed among the members.
    fn fetched(group: Uuid, [bea, cal, dan]: [Uuid; 3], methods_state: &str) -> Fetched {
        let nested = DirectoryObject {
            odata_type: "#microsoft.graph.group".into(),
            id: Uuid::new_v4().to_string(),
            display_name: Some("Nested helpdesk group".into()),
            user_principal_name: None,
        };
        Fetched {
            methods: Ok(methods_policy(methods_state)),
            strengths: Ok(Vec::new()),
            conditional_access: Err(GraphError::Token("refused".into())),
            groups: vec![GroupRead {
                id: group,
                watched: true,
                configured: true,
                reasons: Vec::new(),
                group: Ok(Some((
                    Group {
                        id: group.to_string(),
                        display_name: "Phone MFA exceptions".into(),
                        ..Group::default()
                    },
                    vec![user(bea, "Bea"), user(dan, "Dan"), nested],
                ))),
            }],
            audit: Ok(vec![
                audit(ADD_MEMBER, group, dan, "Ada Admin"),
                audit(REMOVE_MEMBER, group, cal, "Ada Admin"),
            ]),
        }
    }

    #[test]
    fn only_users_are_people_in_a_group() {
        let member = |odata_type: &str| DirectoryObject {
            odata_type: odata_type.to_owned(),
            id: "4d2e8a17-6b3c-4f95-9e01-c7a5b3d9f2e6".to_owned(),
            ..DirectoryObject::default()
        };
        let is_person = |t: &str| people(&[member(t)]).len() == 1;
        assert!(is_person("#microsoft.graph.user"));
        assert!(is_person("#Microsoft.Graph.User"));
        assert!(is_person(""), "a member without a type is taken as a user");
        assert!(!is_person("#microsoft.graph.group"));
        assert!(!is_person("#microsoft.graph.servicePrincipal"));
        assert!(!is_person("#microsoft.graph.device"));
    }

    #[test]
    fn a_plan_says_what_changed_in_words_and_who_made_each_change() {
        let group = Uuid::new_v4();
        let people = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
        let [bea, cal, dan] = people;
        let old = PolicyVersion {
            id: 7,
            kind: PolicyKind::MethodsPolicy,
            object_id: "authenticationMethodsPolicy".into(),
            display_name: "Authentication methods policy".into(),
            body: serde_json::to_value(methods_policy("enabled")).expect("json"),
        };
        let stored = Stored {
            policies: std::slice::from_ref(&old),
            known: vec![PolicyKind::MethodsPolicy],
            members_read: vec![group],
            members: vec![stay(1, group, bea), stay(2, group, cal)],
            states: HashMap::from([(dan, State::PhoneOnly)]),
            announced: Vec::new(),
        };
        // A join phoneless made itself (an open allowlist entry) was announced then: no alert.
        let announced = Stored {
            policies: std::slice::from_ref(&old),
            known: vec![PolicyKind::MethodsPolicy],
            members_read: vec![group],
            members: vec![stay(1, group, bea), stay(2, group, cal)],
            states: HashMap::new(),
            announced: vec![(group, dan)],
        };
        let quiet = plan(&fetched(group, people, "disabled"), &announced, 9, at(4));
        assert_eq!(quiet.joins.len(), 1);
        assert!(quiet.join_alerts.is_empty());
        let plan = plan(&fetched(group, people, "disabled"), &stored, 9, at(4));

        assert_eq!(
            plan.parts,
            vec![
                (RunPart::MethodsPolicy, None),
                (RunPart::Strengths, None),
                (
                    RunPart::ConditionalAccess,
                    Some("could not get a token: refused".into())
                ),
                (RunPart::Memberships, None),
                (RunPart::Audit, None),
            ]
        );
        // The changed policy: its version ends, the new one begins, the change is in words.
        assert_eq!(plan.policies.len(), 1);
        let step = &plan.policies[0];
        assert_eq!(step.close, Some(7));
        assert!(step.insert.is_some());
        let change = step.change.as_ref().expect("a change");
        assert_eq!(change.change, "changed");
        assert_eq!(change.details, vec!["Voice › state: enabled → disabled"]);
        assert_eq!(plan.policy_changes(), 1);

        // Cal left, removed by the admin; Bea's name is filled in; Dan joined, added by the
        // admin, with one alert naming him and his state; the nested group is nobody.
        assert_eq!(
            plan.leaves,
            vec![(2, Some("Ada Admin (ada@contoso.com)".into()))]
        );
        assert_eq!(plan.updates.len(), 1);
        assert_eq!(plan.updates[0].display_name.as_deref(), Some("Bea"));
        assert_eq!(plan.joins.len(), 1);
        let join = &plan.joins[0];
        assert_eq!((join.user_id, join.initial), (dan, false));
        assert_eq!(
            join.added.as_ref().map(|a| a.0.as_str()),
            Some("Ada Admin (ada@contoso.com)")
        );
        assert_eq!(plan.join_alerts.len(), 1);
        let alert = &plan.join_alerts[0];
        assert_eq!(alert.title, "Dan was added to Phone MFA exceptions");
        assert!(
            alert
                .facts
                .contains(&("Migration state".into(), "Phone only".into())),
            "{:?}",
            alert.facts
        );
        assert_eq!(plan.groups.len(), 1);
        assert!(plan.first_reads.is_empty());
    }

    #[test]
    fn a_first_read_finds_members_and_records_no_change() {
        let group = Uuid::new_v4();
        let people = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
        // Nothing stored yet: the first read of a kind is no change, the first read of a group
        // finds who is in it without raising alerts.
        let first = plan(
            &fetched(group, people, "enabled"),
            &Stored::default(),
            1,
            at(4),
        );
        assert_eq!(first.policies.len(), 1);
        assert!(first.policies[0].insert.is_some());
        assert_eq!(first.policies[0].change, None);
        assert_eq!(first.first_reads, vec![group]);
        assert_eq!(first.joins.len(), 2);
        assert!(first.joins.iter().all(|j| j.initial));
        assert!(first.join_alerts.is_empty() && first.leaves.is_empty());

        // A policy no longer listed is a removal.
        let gone = PolicyVersion {
            id: 3,
            kind: PolicyKind::Strength,
            object_id: "s1".into(),
            display_name: "No phone".into(),
            body: json!({"id": "s1"}),
        };
        let stored = Stored {
            policies: std::slice::from_ref(&gone),
            known: PolicyKind::ALL.to_vec(),
            ..Stored::default()
        };
        let later = plan(&fetched(group, people, "enabled"), &stored, 2, at(5));
        let removed: Vec<&PolicyStep> = later
            .policies
            .iter()
            .filter(|p| p.insert.is_none())
            .collect();
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].close, Some(3));
        assert_eq!(
            removed[0]
                .change
                .as_ref()
                .map(|c| (c.change, c.details.clone())),
            Some((
                "removed",
                vec!["The authentication strength no longer listed".to_owned()]
            ))
        );
    }
}
