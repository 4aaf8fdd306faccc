//! Per-run counts by group, accumulated while the users stream past (so a run never has to
//! read users back to count them). Pure: no I/O.

use super::facts::UserFacts;
use crate::classify::State;
use crate::db::operations::{Counts, RollupBatch};
use std::collections::HashMap;

/// The groupings stored per run; `tenant` is the whole tenant.
pub const DIMENSIONS: [&str; 5] = ["tenant", "department", "company", "office", "country"];

impl Counts {
    /// Counts one user into this group.
    pub fn add(&mut self, f: &UserFacts<'_>) {
        if f.user_type == "guest" {
            self.guests += 1;
            return;
        }
        if !f.in_scope {
            self.out_of_scope += 1;
            return;
        }
        self.users += 1;
        match f.state {
            State::PhoneOnly => self.phone_only += 1,
            State::PhoneDefault => self.phone_default += 1,
            State::PhoneBackup => self.phone_backup += 1,
            State::PhoneFree => self.phone_free += 1,
            State::NoMfa => self.no_mfa += 1,
        }
        self.voice_capable += i32::from(f.voice_capable);
        self.voice_default += i32::from(f.voice_default);
        self.phishing_resistant += i32::from(f.phishing_resistant);
        self.admins += i32::from(f.is_admin);
        self.admins_phone_only += i32::from(f.is_admin && f.state == State::PhoneOnly);
    }

    /// In-scope users for a state.
    pub fn state(&self, s: State) -> i32 {
        match s {
            State::PhoneOnly => self.phone_only,
            State::PhoneDefault => self.phone_default,
            State::PhoneBackup => self.phone_backup,
            State::PhoneFree => self.phone_free,
            State::NoMfa => self.no_mfa,
        }
    }

    /// Migrated (phone-backup + phone-free) ÷ in scope, 0–1; 0 for an empty group.
    pub fn progress(&self) -> f64 {
        if self.users == 0 {
            0.0
        } else {
            f64::from(self.phone_backup + self.phone_free) / f64::from(self.users)
        }
    }
}

/// The groups of one dimension: counts per name, and the group with no name.
#[derive(Debug, Default)]
struct Groups {
    named: HashMap<String, Counts>,
    none: Counts,
}

impl Groups {
    fn add(&mut self, name: Option<&str>, f: &UserFacts<'_>) {
        let Some(name) = name else {
            self.none.add(f);
            return;
        };
        // Look up by &str; allocate the name only for a group seen for the first time.
        if !self.named.contains_key(name) {
            self.named.insert(name.to_owned(), Counts::default());
        }
        if let Some(c) = self.named.get_mut(name) {
            c.add(f);
        }
    }
}

/// Counts for the tenant and per department, company, office and country.
#[derive(Debug, Default)]
pub struct Rollup {
    tenant: Counts,
    /// In the order of `DIMENSIONS[1..]`.
    groups: [Groups; 4],
}

impl Rollup {
    pub fn add(&mut self, f: &UserFacts<'_>) {
        self.tenant.add(f);
        let names = [f.department, f.company, f.office, f.country.as_deref()];
        for (groups, name) in self.groups.iter_mut().zip(names) {
            groups.add(name, f);
        }
    }

    pub fn tenant(&self) -> Counts {
        self.tenant
    }

    /// Rows for storage: the tenant row always, then each group that has anyone in it.
    pub fn into_batch(self) -> RollupBatch {
        let mut batch = RollupBatch::default();
        let mut push = |dimension: &str, name: Option<String>, counts: Counts| {
            batch.dimension.push(dimension.to_owned());
            batch.name.push(name);
            batch.counts.push(counts);
        };
        push(DIMENSIONS[0], None, self.tenant);
        for (dimension, groups) in DIMENSIONS[1..].iter().zip(self.groups) {
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
