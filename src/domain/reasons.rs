//! Why a person is still on the phone, as the helpdesk recorded it: the reasons in words, what
//! clears a recorded reason, when its follow-up is due, and the counts made of them. Pure.

use super::classify::State;
use super::vocab::words;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

words! {
    /// Why a person still signs in with SMS or a voice call (recorded by the helpdesk).
    pub enum PhoneReason: "phone reason" {
        /// No smartphone to run the Authenticator app on.
        NoSmartphone = "no_smartphone",
        /// Has a smartphone, but will not put a work app on a personal phone.
        RefusesPersonalPhone = "refuses_personal_phone",
        /// Phones are not allowed where they work (call centres, secure areas).
        NoPhoneAtWork = "no_phone_at_work",
        /// A security key (FIDO2) is on order or on its way.
        WaitingForSecurityKey = "waiting_for_security_key",
        /// Away, and cannot set up a new method now.
        Travelling = "travelling",
        /// Something else: the note says what.
        Other = "other",
    }
}

impl PhoneReason {
    /// The reasons that a security key solves: those waiting for one, and those who may not
    /// have a phone at work (an app is no use to them).
    pub const SECURITY_KEY: [PhoneReason; 2] = [
        PhoneReason::NoPhoneAtWork,
        PhoneReason::WaitingForSecurityKey,
    ];

    /// The reason in words, for people.
    pub fn label(self) -> &'static str {
        match self {
            PhoneReason::NoSmartphone => "No smartphone for the Authenticator app",
            PhoneReason::RefusesPersonalPhone => "Will not use a personal phone for work",
            PhoneReason::NoPhoneAtWork => "No phone allowed at work (call centre, secure area)",
            PhoneReason::WaitingForSecurityKey => "Waiting for a security key",
            PhoneReason::Travelling => "Travelling: cannot set up a new method now",
            PhoneReason::Other => "Other (see the note)",
        }
    }

    /// The reason in a few words, for a column heading.
    pub fn short_label(self) -> &'static str {
        match self {
            PhoneReason::NoSmartphone => "No smartphone",
            PhoneReason::RefusesPersonalPhone => "No personal phone",
            PhoneReason::NoPhoneAtWork => "No phone at work",
            PhoneReason::WaitingForSecurityKey => "Waiting for a key",
            PhoneReason::Travelling => "Travelling",
            PhoneReason::Other => "Other",
        }
    }

    /// Whether a security key is what this person needs (see [`Self::SECURITY_KEY`]).
    pub fn needs_security_key(self) -> bool {
        Self::SECURITY_KEY.contains(&self)
    }
}

words! {
    /// What ended a recorded reason.
    pub enum ClearedBy: "reason clearing" {
        /// A newer reason was recorded in its place.
        Replaced = "replaced",
        /// A sync saw the person leave the phone states.
        LeftPhone = "left_phone",
        /// Someone removed it.
        Removed = "removed",
    }
}

/// The states a reason is recorded for: those with a phone method ("still on the phone").
pub const PHONE_STATES: [State; 3] = [State::PhoneOnly, State::PhoneDefault, State::PhoneBackup];

/// Whether someone in `state` is still on the phone (and so may have a reason).
pub fn on_the_phone(state: State) -> bool {
    PHONE_STATES.contains(&state)
}

/// A follow-up is due on its day and after (a date the helpdesk picked to look again).
pub fn follow_up_due(follow_up: Option<NaiveDate>, today: NaiveDate) -> bool {
    follow_up.is_some_and(|d| d <= today)
}

/// The current reasons of a group's people still on the phone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasonCounts {
    /// People with each reason (reasons nobody has are absent).
    pub by_reason: BTreeMap<PhoneReason, i64>,
    /// Of them, those whose follow-up date has come.
    pub follow_up_due: i64,
}

impl ReasonCounts {
    /// People with `reason`.
    pub fn of(&self, reason: PhoneReason) -> i64 {
        self.by_reason.get(&reason).copied().unwrap_or(0)
    }

    /// Adds `other`'s counts to these (a tenant's are its groups' added up).
    pub fn add(&mut self, other: &ReasonCounts) {
        for (r, n) in &other.by_reason {
            *self.by_reason.entry(*r).or_default() += n;
        }
        self.follow_up_due += other.follow_up_due;
    }

    /// People with any reason recorded.
    pub fn with_reason(&self) -> i64 {
        self.by_reason.values().sum()
    }

    /// People who need a security key (waiting for one, or no phone at work).
    pub fn security_keys_needed(&self) -> i64 {
        PhoneReason::SECURITY_KEY.iter().map(|r| self.of(*r)).sum()
    }

    /// The JSON shape: every reason word (zeros included), then `security_keys_needed` and
    /// `follow_up_due`.
    pub fn json(&self) -> ReasonCountsJson {
        ReasonCountsJson {
            by_reason: PhoneReason::ALL
                .iter()
                .map(|r| (r.as_str(), self.of(*r)))
                .collect(),
            security_keys_needed: self.security_keys_needed(),
            follow_up_due: self.follow_up_due,
        }
    }
}

/// `{"no_smartphone": 3, …, "other": 0, "security_keys_needed": 5, "follow_up_due": 1}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonCountsJson {
    #[serde(flatten)]
    pub by_reason: BTreeMap<&'static str, i64>,
    pub security_keys_needed: i64,
    pub follow_up_due: i64,
}

/// One recording of a person's reason, as stored (the current one has `cleared_at` None).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonRecord {
    pub id: i64,
    pub reason: PhoneReason,
    /// What the helpdesk wrote beside it (may be empty).
    pub note: String,
    /// When to look again.
    pub follow_up: Option<NaiveDate>,
    /// Who recorded it, as the access log names them.
    pub set_by: String,
    pub set_at: DateTime<Utc>,
    pub cleared_at: Option<DateTime<Utc>>,
    pub cleared_by: Option<ClearedBy>,
}

/// A recording in a person's history, with the newest sync at the time it was recorded and
/// cleared (a timeline entry names a sync; `None` when there was none yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonHistory {
    pub record: ReasonRecord,
    pub set_run: Option<i64>,
    pub cleared_run: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Word;

    #[test]
    fn reasons_read_back_and_have_words() {
        for r in PhoneReason::ALL {
            assert_eq!(PhoneReason::parse(r.as_str()), Ok(*r));
            assert!(!r.label().is_empty() && !r.short_label().is_empty());
        }
        for c in ClearedBy::ALL {
            assert_eq!(ClearedBy::parse(c.as_str()), Ok(*c));
        }
        let e = PhoneReason::parse("lost_phone").expect_err("unknown");
        assert!(e.known.contains("waiting_for_security_key"), "{e}");
        assert_eq!(
            PhoneReason::ALL
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>(),
            [
                "no_smartphone",
                "refuses_personal_phone",
                "no_phone_at_work",
                "waiting_for_security_key",
                "travelling",
                "other"
            ]
        );
    }

    #[test]
    fn only_the_phone_states_have_reasons() {
        assert!(on_the_phone(State::PhoneOnly));
        assert!(on_the_phone(State::PhoneDefault));
        assert!(on_the_phone(State::PhoneBackup));
        assert!(!on_the_phone(State::PhoneFree));
        assert!(!on_the_phone(State::NoMfa));
    }

    #[test]
    fn follow_ups_are_due_on_their_day() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).expect("date");
        assert!(follow_up_due(Some(day(1)), day(2)));
        assert!(follow_up_due(Some(day(2)), day(2)));
        assert!(!follow_up_due(Some(day(3)), day(2)));
        assert!(!follow_up_due(None, day(2)));
    }

    #[test]
    fn security_keys_are_the_waiting_and_those_without_a_phone_at_work() {
        let counts = ReasonCounts {
            by_reason: [
                (PhoneReason::NoPhoneAtWork, 4),
                (PhoneReason::WaitingForSecurityKey, 2),
                (PhoneReason::NoSmartphone, 7),
            ]
            .into_iter()
            .collect(),
            follow_up_due: 1,
        };
        assert_eq!(counts.security_keys_needed(), 6);
        let mut sum = ReasonCounts::default();
        sum.add(&counts);
        sum.add(&counts);
        assert_eq!(sum.of(PhoneReason::NoSmartphone), 14);
        assert_eq!((sum.follow_up_due, sum.with_reason()), (2, 26));
        assert_eq!(counts.with_reason(), 13);
        assert!(PhoneReason::NoPhoneAtWork.needs_security_key());
        assert!(!PhoneReason::Travelling.needs_security_key());
        let json = serde_json::to_value(counts.json()).expect("json");
        assert_eq!(json["no_phone_at_work"], 4);
        assert_eq!(json["travelling"], 0, "every reason, zeros included");
        assert_eq!(json["security_keys_needed"], 6);
        assert_eq!(json["follow_up_due"], 1);
        assert_eq!(json.as_object().map(|o| o.len()), Some(8));
    }
}
