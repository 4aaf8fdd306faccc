//! Per-run counts by group, accumulated while the users stream past (so a run never has to
//! read users back to count them). Pure: no I/O.

use super::facts::UserFacts;
use crate::db::operations::RollupBatch;
use crate::domain::{Counts, Dimension, Standing};
use std::collections::HashMap;

/// The groups of one dimension: counts per name, and the group with no name.
#[derive(Debug, Default)]
struct Groups {
    named: HashMap<String, Counts>,
    none: Counts,
}

impl Groups {
    fn add(&mut self, name: Option<&str>, u: &Standing) {
        let Some(name) = name else {
            self.none.add(u);
            return;
        };
        // Look up by &str; allocate the name only for a group seen for the first time.
        if !self.named.contains_key(name) {
            self.named.insert(name.to_owned(), Counts::default());
        }
        if let Some(c) = self.named.get_mut(name) {
            c.add(u);
        }
    }
}

/// Counts for the tenant and per department, company, office and country.
#[derive(Debug, Default)]
pub struct Rollup {
    tenant: Counts,
    /// In the order of [`Dimension::GROUPS`].
    groups: [Groups; 4],
}

impl Rollup {
    pub fn add(&mut self, f: &UserFacts<'_>) {
        let u = f.standing();
        self.tenant.add(&u);
        let names = [f.department, f.company, f.office, f.country.as_deref()];
        for (groups, name) in self.groups.iter_mut().zip(names) {
            groups.add(name, &u);
        }
    }

    pub fn tenant(&self) -> Counts {
        self.tenant
    }

    /// Rows for storage: the tenant row always, then each group that has anyone in it.
    pub fn into_batch(self) -> RollupBatch {
        let mut batch = RollupBatch::default();
        let mut push = |dimension: Dimension, name: Option<String>, counts: Counts| {
            batch.dimension.push(dimension);
            batch.name.push(name);
            batch.counts.push(counts);
        };
        push(Dimension::Tenant, None, self.tenant);
        for (dimension, groups) in Dimension::GROUPS.into_iter().zip(self.groups) {
            let mut named: Vec<_> = groups.named.into_iter().collect();
            named.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, counts) in named {
                push(dimension, Some(name), counts);
            }
            if groups.none != Counts::default() {
                push(dimension, None, groups.none);
            }
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::model::UserRegistrationDetails;

    fn row(methods: &[&str], user_type: &str, admin: bool) -> UserRegistrationDetails {
        UserRegistrationDetails {
            id: "x".into(),
            user_type: Some(user_type.into()),
            is_admin: admin,
            user_preferred_method_for_secondary_authentication: Some("push".into()),
            methods_registered: methods.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn counts_members_in_scope_and_guests_apart() {
        let rows = [
            row(&["mobilePhone"], "member", true),
            row(&["mobilePhone"], "member", false),
            row(
                &["mobilePhone", "microsoftAuthenticatorPush"],
                "member",
                false,
            ),
            row(&["fido2SecurityKey"], "member", false),
            row(&["mobilePhone"], "guest", false),
        ];
        let mut r = Rollup::default();
        for x in &rows {
            r.add(&UserFacts::from_graph(x, None));
        }
        let t = r.tenant();
        assert_eq!(
            (
                t.users,
                t.phone_only,
                t.phone_backup,
                t.phone_free,
                t.guests
            ),
            (4, 2, 1, 1, 1)
        );
        assert_eq!(
            (t.admins, t.admins_phone_only, t.phishing_resistant),
            (1, 1, 1)
        );
        assert!((t.progress() - 0.5).abs() < 1e-9);
        let batch = r.into_batch();
        // tenant + one "no department"/company/office/country group each.
        assert_eq!(batch.dimension.len(), 5);
        assert_eq!(Counts::default().progress(), 0.0);
    }
}
