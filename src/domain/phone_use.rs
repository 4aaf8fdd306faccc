//! Who still uses a phone to sign in, as the sign-in log tells (pure): a person's use of SMS
//! or voice for MFA, and when a phone they keep only as a backup can go.

use super::classify::State;
use chrono::NaiveDate;

/// A person's use of SMS or voice for MFA once sign-ins were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneUse {
    /// The last day they did (`None`: not since the log was first read).
    pub last: Option<NaiveDate>,
    /// How often in the last 30 days.
    pub last_30_days: i32,
    /// The log has been read for 30 days or more: no use in them means none, not "not read
    /// that far back yet" (a first read goes back a week by default).
    pub whole_month: bool,
}

/// Whether removing their phone method would go unnoticed: they keep it only as a backup
/// (P3) and did not use it in the last 30 days, with 30 days of the log read. `phone_use` is
/// `None` before any sign-in was read, when nobody is known not to use their phone.
pub fn safe_to_remove(state: State, phone_use: Option<PhoneUse>) -> bool {
    state == State::PhoneBackup && phone_use.is_some_and(|u| u.whole_month && u.last_30_days == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unused_backup_read_from_the_log_is_safe_to_remove() {
        let unused = Some(PhoneUse {
            last: NaiveDate::from_ymd_opt(2026, 10, 1),
            last_30_days: 0,
            whole_month: true,
        });
        let used = Some(PhoneUse {
            last: NaiveDate::from_ymd_opt(2026, 12, 1),
            last_30_days: 3,
            whole_month: true,
        });
        let never = Some(PhoneUse {
            last: None,
            last_30_days: 0,
            whole_month: true,
        });
        let a_week_read = Some(PhoneUse {
            last: None,
            last_30_days: 0,
            whole_month: false,
        });
        assert!(
            !safe_to_remove(State::PhoneBackup, a_week_read),
            "a week of the log says nothing of 30 days"
        );
        assert!(safe_to_remove(State::PhoneBackup, unused));
        assert!(safe_to_remove(State::PhoneBackup, never));
        assert!(!safe_to_remove(State::PhoneBackup, used));
        assert!(
            !safe_to_remove(State::PhoneBackup, None),
            "nothing read yet"
        );
        for s in [
            State::PhoneOnly,
            State::PhoneDefault,
            State::PhoneFree,
            State::NoMfa,
        ] {
            assert!(!safe_to_remove(s, unused), "{s:?}");
        }
    }
}
