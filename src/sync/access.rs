//! What each person may use and which retirement date is theirs: the methods policy's rules and
//! the members of the groups it targets, the holders of the Global Administrator role (active,
//! and eligible through PIM), and the out-of-scope rule (docs/design.md §2, graph-api.md §5,
//! §7, §12).
//!
//! Fetched once per run before the users are classified; never fails the run. The roles are
//! their own run part: when they cannot be read, every person's admin standing is "not known"
//! rather than guessed.

use super::facts::UserFacts;
use crate::domain::availability::{Basis, Rules, Targets};
use crate::domain::scope::OutOfScope;
use crate::graph::model::{AuthenticationMethodsPolicy, DirectoryObject, RoleGrant};
use crate::graph::{Client, GraphError};
use futures_util::future::join_all;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeSet;
use std::sync::Arc;
use uuid::Uuid;

const USER: &str = "#microsoft.graph.user";
const GROUP: &str = "#microsoft.graph.group";

/// Holders of the Global Administrator role.
#[derive(Debug, Default)]
pub struct Admins {
    pub active: FxHashSet<Uuid>,
    pub eligible: FxHashSet<Uuid>,
}

/// The roles as read by this run: `Err` is the roles part unavailable, with why.
pub type RolesRead = Result<Admins, GraphError>;

/// Reads the role holders. Groups among the principals are role-assignable groups: their
/// (transitive) members hold the role. A tenant without PIM, or an app not allowed to read
/// eligibilities, has no eligible holders known: not an error.
#[tracing::instrument(name = "fetch_roles", skip_all)]
pub async fn fetch_roles(graph: Arc<Client>) -> RolesRead {
    let (active, eligible) = tokio::join!(
        graph.global_admin_assignments(),
        graph.global_admin_eligibilities()
    );
    let active = holders(&graph, &active?).await?;
    let eligible = match eligible {
        Ok(grants) => holders(&graph, &grants).await.unwrap_or_else(|e| {
            tracing::info!("eligible Global Administrators not known: {e}");
            FxHashSet::default()
        }),
        Err(e) => {
            tracing::info!("eligible Global Administrators not known (no PIM?): {e}");
            FxHashSet::default()
        }
    };
    Ok(Admins {
        // Active wins: an eligible holder who is also active is simply active.
        eligible: eligible.difference(&active).copied().collect(),
        active,
    })
}

/// The users a list of grants gives the role to.
async fn holders(graph: &Client, grants: &[RoleGrant]) -> Result<FxHashSet<Uuid>, GraphError> {
    let mut users = FxHashSet::default();
    for g in grants {
        let kind = g.principal.as_ref().map_or("", |p| p.odata_type.as_str());
        let Ok(id) = Uuid::parse_str(&g.principal_id) else {
            continue;
        };
        if kind.eq_ignore_ascii_case(GROUP) {
            let members = graph.group_transitive_members(&id.to_string()).await?;
            users.extend(user_ids(&members));
        } else if kind.eq_ignore_ascii_case(USER) || kind.is_empty() {
            users.insert(id);
        }
        // Service principals hold roles too; they are not people.
    }
    Ok(users)
}

fn user_ids(members: &[DirectoryObject]) -> impl Iterator<Item = Uuid> + '_ {
    members
        .iter()
        .filter(|m| m.odata_type.is_empty() || m.odata_type.eq_ignore_ascii_case(USER))
        .filter_map(|m| Uuid::parse_str(&m.id).ok())
}

/// Everything the run knows to judge each person.
#[derive(Debug)]
pub struct Access {
    pub rules: Rules,
    pub out_of_scope: OutOfScope,
    /// Each person's targeted and out-of-scope groups (transitive).
    groups_of: FxHashMap<Uuid, BTreeSet<Uuid>>,
    /// `None` when the roles could not be read.
    admins: Option<Admins>,
    /// Out-of-scope groups whose members could not be read, with why.
    pub unread_scope_groups: Vec<(Uuid, String)>,
}

static NO_GROUPS: BTreeSet<Uuid> = BTreeSet::new();

impl Access {
    /// Reads the members of every group the rules or the out-of-scope rule name. When a
    /// targeted group cannot be read, availability falls back to the registered methods.
    #[tracing::instrument(name = "fetch_access", skip_all)]
    pub async fn fetch(
        graph: Arc<Client>,
        policy: Option<&AuthenticationMethodsPolicy>,
        out_of_scope: OutOfScope,
        admins: Option<Admins>,
    ) -> Access {
        let mut rules = Rules::from_policy(policy);
        let targeted = rules.groups();
        let wanted: BTreeSet<Uuid> = targeted
            .iter()
            .chain(&out_of_scope.groups)
            .copied()
            .collect();
        let reads = join_all(wanted.into_iter().map(|id| {
            let graph = graph.clone();
            async move { (id, graph.group_transitive_members(&id.to_string()).await) }
        }))
        .await;
        let mut groups_of: FxHashMap<Uuid, BTreeSet<Uuid>> = FxHashMap::default();
        let mut unread_scope_groups = Vec::new();
        for (group, read) in reads {
            match read {
                Ok(members) => {
                    for user in user_ids(&members) {
                        groups_of.entry(user).or_default().insert(group);
                    }
                }
                Err(e) => {
                    if targeted.contains(&group) {
                        tracing::warn!(%group, "a group the methods policy targets could not be read: {e}");
                        rules = Rules::registered(Basis::GroupsUnread);
                    }
                    if out_of_scope.groups.contains(&group) {
                        unread_scope_groups.push((group, e.to_string()));
                    }
                }
            }
        }
        Access {
            rules,
            out_of_scope,
            groups_of,
            admins,
            unread_scope_groups,
        }
    }

    pub fn basis(&self) -> Basis {
        self.rules.basis
    }

    /// Whether the roles were read this run.
    pub fn admins_known(&self) -> bool {
        self.admins.is_some()
    }

    /// Adds what this run knows of the person to their facts: their admin standing, the
    /// methods the policy hides from them, whether they are blocked, and the out-of-scope rule.
    pub fn judge(&self, id: Uuid, f: &mut UserFacts<'_>) {
        let groups = self.groups_of.get(&id).unwrap_or(&NO_GROUPS);
        let a = self
            .rules
            .availability(&f.methods, &Targets { person: id, groups });
        f.blocked = a.blocked;
        f.unavailable = a.unavailable;
        f.global_admin = self.admins.as_ref().map(|s| s.active.contains(&id));
        f.global_admin_eligible = self
            .admins
            .as_ref()
            .is_some_and(|s| s.eligible.contains(&id));
        if f.in_scope {
            f.out_of_scope_by = self.out_of_scope.matches(f.upn, groups);
            f.in_scope = f.out_of_scope_by.is_none();
        }
    }
}
