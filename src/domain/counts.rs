//! Counts of one group in one run (docs/design.md §2 for the terms): what the rollups store,
//! the tiles show and the trends draw. Pure.

use super::classify::State;
use super::retirement::Cohort;
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
    /// An external (B2B) account.
    pub external: bool,
    /// An active Global Administrator (false when not known).
    pub global_admin: bool,
    /// A phone registered and no stronger method available.
    pub blocked: bool,
    /// Taken out of scope by the configured rule.
    pub out_of_scope_by_rule: bool,
}

impl Standing {
    /// The late date is for active Global Administrators and external users.
    pub fn late(&self) -> bool {
        self.external || self.global_admin
    }
}

/// The counts of one retirement date's cohort ([`Counts::cohort`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CohortCounts {
    pub people: i32,
    pub blocked: i32,
    pub admins_blocked: i32,
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
    /// Members taken out of scope by the configured rule (the rest of `out_of_scope` are
    /// disabled accounts).
    pub out_of_scope_rule: i32,
    /// The early date's cohort: in-scope members other than active Global Administrators and
    /// external members; and how many of them are blocked.
    pub people_early: i32,
    pub blocked_early: i32,
    /// The late date's cohort: in-scope active Global Administrators and external members,
    /// and external guests.
    pub people_late: i32,
    pub blocked_late: i32,
    /// Blocked admins (the report's isAdmin, or Global Administrator) of each date.
    pub admins_blocked_early: i32,
    pub admins_blocked_late: i32,
    /// Blocked external users, members and guests.
    pub external_blocked: i32,
    pub external_members: i32,
    pub external_guests: i32,
}

impl Counts {
    /// Counts one user into this group: guests apart, then out-of-scope members apart, then
    /// the in-scope members by state and flag.
    pub fn add(&mut self, u: &Standing) {
        if u.user_type == UserType::Guest {
            self.guests += 1;
            if u.external {
                // External guests have the late date and are shown as their own group.
                self.external_guests += 1;
                self.people_late += 1;
                self.blocked_late += i32::from(u.blocked);
                self.external_blocked += i32::from(u.blocked);
                self.admins_blocked_late += i32::from(u.blocked && u.is_admin);
            }
            return;
        }
        if !u.in_scope {
            self.out_of_scope += 1;
            self.out_of_scope_rule += i32::from(u.out_of_scope_by_rule);
            return;
        }
        let admin = u.is_admin || u.global_admin;
        if u.late() {
            self.people_late += 1;
            self.blocked_late += i32::from(u.blocked);
            self.admins_blocked_late += i32::from(u.blocked && admin);
        } else {
            self.people_early += 1;
            self.blocked_early += i32::from(u.blocked);
            self.admins_blocked_early += i32::from(u.blocked && admin);
        }
        self.external_members += i32::from(u.external);
        self.external_blocked += i32::from(u.external && u.blocked);
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

    /// One retirement date's cohort: its people, the blocked among them, and the blocked
    /// admins among those.
    pub fn cohort(&self, c: Cohort) -> CohortCounts {
        match c {
            Cohort::Early => CohortCounts {
                people: self.people_early,
                blocked: self.blocked_early,
                admins_blocked: self.admins_blocked_early,
            },
            Cohort::Late => CohortCounts {
                people: self.people_late,
                blocked: self.blocked_late,
                admins_blocked: self.admins_blocked_late,
            },
        }
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
            external: false,
            global_admin: false,
            blocked: state == State::PhoneOnly,
            out_of_scope_by_rule: false,
        }
    }

    #[test]
    fn admins_and_externals_are_the_late_cohort_external_guests_included() {
        let mut c = Counts::default();
        let admin = Standing {
            global_admin: true,
            ..member(State::PhoneOnly, true)
        };
        let external_member = Standing {
            external: true,
            ..member(State::PhoneOnly, false)
        };
        let external_guest = Standing {
            user_type: UserType::Guest,
            in_scope: false,
            external: true,
            ..member(State::PhoneOnly, false)
        };
        let internal_guest = Standing {
            user_type: UserType::Guest,
            in_scope: false,
            ..member(State::PhoneOnly, false)
        };
        let ruled_out = Standing {
            in_scope: false,
            out_of_scope_by_rule: true,
            ..member(State::PhoneOnly, false)
        };
        for u in [
            admin,
            external_member,
            external_guest,
            internal_guest,
            ruled_out,
        ] {
            c.add(&u);
        }
        assert_eq!(
            (c.people_late, c.blocked_late, c.admins_blocked_late),
            (3, 3, 1)
        );
        assert_eq!((c.people_early, c.blocked_early), (0, 0));
        assert_eq!(
            (c.external_blocked, c.external_members, c.external_guests),
            (2, 1, 1)
        );
        assert_eq!((c.guests, c.out_of_scope, c.out_of_scope_rule), (2, 1, 1));
        assert_eq!(c.users, 2);
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
        // Cohorts: the disabled member and the internal guest are in neither.
        assert_eq!((c.people_early, c.blocked_early, c.people_late), (4, 2, 0));
        assert_eq!(c.admins_blocked_early, 1);
        assert_eq!(Counts::default().progress(), 0.0);
    }
}
