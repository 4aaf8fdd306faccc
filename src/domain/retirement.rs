//! The two retirement dates of Microsoft-provided SMS and voice, and whose date is which
//! (docs/design.md §2, graph-api.md §12). Pure.
//!
//! Active Global Administrators and external users get the late date; everyone else, internal
//! guests included, the early one. Microsoft has not said which applies to a Global
//! Administrator who is only eligible (PIM): they get the early one, flagged.

use chrono::NaiveDate;
use serde::Serialize;

/// The two dates, as configured (`PHONELESS_DEADLINE`, `PHONELESS_DEADLINE_LATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dates {
    pub early: NaiveDate,
    pub late: NaiveDate,
}

impl Dates {
    /// Both dates, earliest first.
    pub fn both(&self) -> [(Cohort, NaiveDate); 2] {
        [(Cohort::Early, self.early), (Cohort::Late, self.late)]
    }

    pub fn of(&self, c: Cohort) -> NaiveDate {
        match c {
            Cohort::Early => self.early,
            Cohort::Late => self.late,
        }
    }

    /// The cohort a `YYYY-MM-DD` names, if it is one of the dates.
    pub fn cohort_on(&self, date: NaiveDate) -> Option<Cohort> {
        self.both()
            .into_iter()
            .find(|(_, d)| *d == date)
            .map(|(c, _)| c)
    }
}

/// Which date a person has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cohort {
    Early,
    Late,
}

/// What decides a person's date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    pub external: bool,
    /// `None` when the roles could not be read this run.
    pub global_admin: Option<bool>,
    pub global_admin_eligible: bool,
}

impl Standing {
    pub fn cohort(&self) -> Cohort {
        if self.external || self.global_admin == Some(true) {
            Cohort::Late
        } else {
            Cohort::Early
        }
    }

    /// Why this date, in words ("Global Administrator").
    pub fn why(&self) -> &'static str {
        if self.global_admin == Some(true) {
            "Global Administrator"
        } else if self.external {
            "External user"
        } else if self.global_admin_eligible {
            "Eligible (not active) Global Administrator: Microsoft has not said which date \
             applies, so the earlier one is assumed"
        } else if self.global_admin.is_none() {
            "Not a known external user; the admin roles could not be read, so this is the date \
             unless they are a Global Administrator"
        } else {
            "Everyone except Global Administrators and external users"
        }
    }
}

/// Whole days from `today` until `date` (negative once it has passed).
pub fn days_until(today: NaiveDate, date: NaiveDate) -> i64 {
    (date - today).num_days()
}

/// A date as people read it: "1 February 2027".
pub fn long_date(d: NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

/// Whether a UPN or `externalUserState` marks an external (B2B) account.
pub fn is_external(upn: &str, external_user_state: Option<&str>) -> bool {
    external_user_state.is_some_and(|s| !s.trim().is_empty())
        || upn.to_ascii_uppercase().contains("#EXT#")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_and_externals_are_late_everyone_else_early() {
        let admin = Standing {
            global_admin: Some(true),
            ..Default::default()
        };
        let external = Standing {
            external: true,
            global_admin: Some(false),
            ..Default::default()
        };
        let eligible = Standing {
            global_admin: Some(false),
            global_admin_eligible: true,
            ..Default::default()
        };
        let unknown = Standing::default();
        assert_eq!(admin.cohort(), Cohort::Late);
        assert_eq!(external.cohort(), Cohort::Late);
        assert_eq!(eligible.cohort(), Cohort::Early);
        assert_eq!(unknown.cohort(), Cohort::Early);
        assert_eq!(admin.why(), "Global Administrator");
        assert!(eligible.why().contains("not said"));
        assert!(unknown.why().contains("could not be read"));
    }

    #[test]
    fn external_by_state_or_upn() {
        assert!(is_external(
            "ann_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            None
        ));
        assert!(is_external("ann@contoso.com", Some("Accepted")));
        assert!(!is_external("ann@contoso.com", None));
        assert!(!is_external("ann@contoso.com", Some("")));
        let d = Dates {
            early: NaiveDate::from_ymd_opt(2027, 2, 1).expect("a date"),
            late: NaiveDate::from_ymd_opt(2027, 7, 1).expect("a date"),
        };
        assert_eq!(long_date(d.early), "1 February 2027");
        assert_eq!(d.cohort_on(d.late), Some(Cohort::Late));
        assert_eq!(days_until(d.early, d.late), 150);
    }
}
