//! Roles: what a signed-in person may do, worked out from their ID token's app roles and groups
//! through the mapping in configuration (`PHONELESS_ROLE_*`). Pure: no I/O.

use serde::Serialize;

/// What a person may do, from least to most. Each role includes everything below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Overview, trends, departments and sync runs: counts, no personal data.
    Viewer,
    /// Also the lookup, user pages and people lists (no bulk export).
    Helpdesk,
    /// Everything, including the access log, exports and sessions.
    SecurityLead,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Helpdesk, Role::SecurityLead];

    /// The contract name (`viewer`, `helpdesk`, `security_lead`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Helpdesk => "helpdesk",
            Role::SecurityLead => "security_lead",
        }
    }

    /// In words, for pages.
    pub fn label(self) -> &'static str {
        match self {
            Role::Viewer => "Viewer",
            Role::Helpdesk => "Helpdesk",
            Role::SecurityLead => "Security lead",
        }
    }

    /// The configuration variable that maps app roles or groups to this role.
    pub fn variable(self) -> &'static str {
        match self {
            Role::Viewer => "PHONELESS_ROLE_VIEWER",
            Role::Helpdesk => "PHONELESS_ROLE_HELPDESK",
            Role::SecurityLead => "PHONELESS_ROLE_SECURITY_LEAD",
        }
    }

    /// The app-role value mapped to this role unless configured otherwise.
    pub fn default_app_role(self) -> &'static str {
        match self {
            Role::Viewer => "Phoneless.Viewer",
            Role::Helpdesk => "Phoneless.Helpdesk",
            Role::SecurityLead => "Phoneless.SecurityLead",
        }
    }
}

/// Which app-role values or group object ids give each role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMap {
    /// (role, app-role value or group id), compared without regard to letter case.
    entries: Vec<(Role, String)>,
}

impl Default for RoleMap {
    /// The app roles `Phoneless.SecurityLead`, `Phoneless.Helpdesk` and `Phoneless.Viewer`.
    fn default() -> Self {
        RoleMap {
            entries: Role::ALL
                .iter()
                .map(|r| (*r, r.default_app_role().to_owned()))
                .collect(),
        }
    }
}

impl RoleMap {
    /// From the three comma-separated lists; an error names the variable and the bad value.
    pub fn parse(lists: [(Role, &str); 3]) -> Result<RoleMap, String> {
        let mut entries = Vec::new();
        for (role, list) in lists {
            for value in list.split(',').map(str::trim).filter(|v| !v.is_empty()) {
                if value.chars().any(char::is_whitespace) {
                    return Err(format!(
                        "{}: {value:?} is neither an app-role value (they have no spaces) nor a group object id",
                        role.variable()
                    ));
                }
                entries.push((role, value.to_owned()));
            }
        }
        Ok(RoleMap { entries })
    }

    /// The highest role that any of the person's app roles or groups gives, if any.
    pub fn resolve(&self, roles: &[String], groups: &[String]) -> Option<Role> {
        self.entries
            .iter()
            .filter(|(_, value)| {
                roles
                    .iter()
                    .chain(groups)
                    .any(|claim| claim.eq_ignore_ascii_case(value))
            })
            .map(|(role, _)| *role)
            .max()
    }

    /// The values that give `role`, for the "ask for access" page.
    pub fn values(&self, role: Role) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(move |(r, _)| *r == role)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn the_highest_matching_role_wins() {
        let map = RoleMap::default();
        assert_eq!(map.resolve(&[], &[]), None);
        assert_eq!(
            map.resolve(&s(&["Phoneless.Viewer"]), &[]),
            Some(Role::Viewer)
        );
        assert_eq!(
            map.resolve(&s(&["phoneless.viewer", "Phoneless.SecurityLead"]), &[]),
            Some(Role::SecurityLead)
        );
        assert_eq!(map.resolve(&s(&["Other.App.Role"]), &[]), None);
    }

    #[test]
    fn groups_map_to_roles_too() {
        let group = "6f1c1c8e-5d0b-4f3e-9a52-2b8b1f0c1d2e";
        let map = RoleMap::parse([
            (Role::SecurityLead, "Phoneless.SecurityLead"),
            (Role::Helpdesk, &format!(" {group} , Phoneless.Helpdesk,")),
            (Role::Viewer, ""),
        ])
        .expect("valid");
        assert_eq!(
            map.resolve(&[], &s(&[&group.to_uppercase()])),
            Some(Role::Helpdesk)
        );
        // A group id in the roles claim or an app role in the groups claim still counts: the
        // values are distinct either way.
        assert_eq!(map.resolve(&s(&[group]), &[]), Some(Role::Helpdesk));
        assert_eq!(map.resolve(&s(&["Phoneless.Viewer"]), &[]), None);
        assert_eq!(map.values(Role::Helpdesk).count(), 2);
    }

    #[test]
    fn values_with_spaces_are_refused() {
        let e = RoleMap::parse([
            (Role::SecurityLead, "Security Leads"),
            (Role::Helpdesk, ""),
            (Role::Viewer, ""),
        ])
        .expect_err("refused");
        assert!(e.contains("PHONELESS_ROLE_SECURITY_LEAD"), "{e}");
    }
}
