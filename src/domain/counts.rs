//! Counts of one group in one run (docs/design.md §2 for the terms): what the rollups store,
//! the tiles show and the trends draw. Pure.

use super::classify::State;
use super::vocab::UserType;
use serde::Serialize;
use std::collections::BTreeMap;

/// What the counts need to know of one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub user_type: UserType,
    pub in_scope: bool,
    pub is_admin: bool,
    pub state: State,
    pub voice_capable: bool,
    pub voice_default: bool,
    pub phishing_resistant: bool,
}

/// Per-group counts of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// In-scope members.
    pub users: i32,
    pub phone_only: i32,
    pub phone_default: i32,
    pub phone_backup: i32,
    pub phone_free: i32,
    pub no_mfa: i32,
    pub voice_capable: i32,
    pub voice_default: i32,
    pub phishing_resistant: i32,
    pub admins: i32,
    pub admins_phone_only: i32,
    pub guests: i32,
    pub out_of_scope: i32,
}

impl Counts {
    /// Counts one user into this group: guests apart, then out-of-scope members apart, then
    /// the in-scope members by state and flag.
    pub fn add(&mut self, u: &Standing) {
        if u.user_type == UserType::Guest {
            self.guests += 1;
            return;
        }
        if !u.in_scope {
            self.out_of_scope += 1;
            return;
        }
        self.users += 1;
        match u.state {
            State::PhoneOnly => self.phone_only += 1,
            State::PhoneDefault => self.phone_default += 1,
            State::PhoneBackup => self.phone_backup += 1,
            State::PhoneFree => self.phone_free += 1,
            State::NoMfa => self.no_mfa += 1,
        }
        self.voice_capable += i32::from(u.voice_capable);
        self.voice_default += i32::from(u.voice_default);
        self.phishing_resistant += i32::from(u.phishing_resistant);
        self.admins += i32::from(u.is_admin);
        self.admins_phone_only += i32::from(u.is_admin && u.state == State::PhoneOnly);
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

    /// In-scope users per state, keyed by the state's spelling (the JSON `states` object).
    pub fn states(&self) -> BTreeMap<&'static str, i32> {
        State::ALL
            .iter()
            .map(|&s| (s.as_str(), self.state(s)))
            .collect()
    }

    /// Phone-backup + phone-free.
    pub fn migrated(&self) -> i32 {
        self.phone_backup + self.phone_free
    }

    /// Migrated ÷ in scope, 0–1; 0 for an empty group.
    pub fn progress(&self) -> f64 {
        if self.users == 0 {
            0.0
        } else {
            f64::from(self.migrated()) / f64::from(self.users)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(state: State, admin: bool) -> Standing {
        Standing {
            user_type: UserType::Member,
            in_scope: true,
            is_admin: admin,
            state,
            voice_capable: false,
            voice_default: false,
            phishing_resistant: state == State::PhoneFree,
        }
    }

    #[test]
    fn members_in_scope_by_state_guests_and_disabled_apart() {
        let mut c = Counts::default();
        c.add(&member(State::PhoneOnly, true));
        c.add(&member(State::PhoneOnly, false));
        c.add(&member(State::PhoneBackup, false));
        c.add(&member(State::PhoneFree, false));
        c.add(&Standing {
            user_type: UserType::Guest,
            ..member(State::PhoneOnly, false)
        });
        c.add(&Standing {
            in_scope: false,
            ..member(State::PhoneOnly, false)
        });
        assert_eq!(
            (c.users, c.phone_only, c.guests, c.out_of_scope),
            (4, 2, 1, 1)
        );
        assert_eq!((c.admins, c.admins_phone_only), (1, 1));
        assert_eq!(c.migrated(), 2);
        assert!((c.progress() - 0.5).abs() < 1e-9);
        assert_eq!(c.states()["phone_only"], 2);
        assert_eq!(Counts::default().progress(), 0.0);
    }
}
