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
    pub fn add(&mut self, f: &UserFacts) {
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

/// Counts per dimension and group name.
#[derive(Debug, Default)]
pub struct Rollup {
    groups: HashMap<(&'static str, Option<String>), Counts>,
}

impl Rollup {
    pub fn add(&mut self, f: &UserFacts) {
        for (dimension, name) in [
            ("tenant", None),
            ("department", f.department.as_ref()),
            ("company", f.company.as_ref()),
            ("office", f.office.as_ref()),
            ("country", f.country.as_ref()),
        ] {
            self.groups
                .entry((dimension, name.cloned()))
                .or_default()
                .add(f);
        }
    }

    pub fn tenant(&self) -> Counts {
        self.groups
            .get(&("tenant", None))
            .copied()
            .unwrap_or_default()
    }

    /// Rows for storage; the tenant row is always present, even for an empty tenant.
    pub fn into_batch(mut self) -> RollupBatch {
        self.groups.entry(("tenant", None)).or_default();
        let mut rows: Vec<_> = self.groups.into_iter().collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let mut batch = RollupBatch::default();
        for ((dimension, name), counts) in rows {
            batch.dimension.push(dimension.to_owned());
            batch.name.push(name);
            batch.counts.push(counts);
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::model::UserRegistrationDetails;

    fn user(methods: &[&str], user_type: &str, admin: bool) -> UserFacts {
        let r = UserRegistrationDetails {
            id: "x".into(),
            user_principal_name: "x@c".into(),
            user_display_name: "X".into(),
            user_type: Some(user_type.into()),
            is_admin: admin,
            is_mfa_capable: false,
            is_mfa_registered: false,
            is_passwordless_capable: false,
            is_sspr_capable: false,
            is_sspr_enabled: false,
            is_sspr_registered: false,
            is_system_preferred_authentication_method_enabled: false,
            system_preferred_authentication_methods: vec![],
            user_preferred_method_for_secondary_authentication: Some("push".into()),
            methods_registered: methods.iter().map(|s| s.to_string()).collect(),
            last_updated_date_time: None,
        };
        UserFacts::from_graph(&r, None)
    }

    #[test]
    fn counts_members_in_scope_and_guests_apart() {
        let mut r = Rollup::default();
        r.add(&user(&["mobilePhone"], "member", true));
        r.add(&user(&["mobilePhone"], "member", false));
        r.add(&user(
            &["mobilePhone", "microsoftAuthenticatorPush"],
            "member",
            false,
        ));
        r.add(&user(&["fido2SecurityKey"], "member", false));
        r.add(&user(&["mobilePhone"], "guest", false));
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
