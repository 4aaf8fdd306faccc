//! One stored version of a user's facts, valid over a span of runs: what a person's history
//! is made of (the timeline, the person page).

use super::classify::{DefaultMethod, State};
use super::vocab::UserType;
use chrono::{DateTime, Utc};

/// A user's facts from the run that began them until the run that ended them.
#[derive(Debug, Clone)]
pub struct UserVersion {
    pub first_run: i64,
    pub first_at: DateTime<Utc>,
    /// `None` while current.
    pub ended_run: Option<i64>,
    pub ended_at: Option<DateTime<Utc>>,
    pub upn: String,
    pub display_name: String,
    pub department: Option<String>,
    pub company: Option<String>,
    pub office: Option<String>,
    pub country: Option<String>,
    pub job_title: Option<String>,
    pub user_type: UserType,
    pub account_enabled: Option<bool>,
    pub in_scope: bool,
    pub is_admin: bool,
    /// Canonical spelling, sorted case-insensitively.
    pub methods: Vec<String>,
    pub default_method: DefaultMethod,
    pub system_preferred: bool,
    pub state: State,
    pub voice_capable: bool,
    pub voice_default: bool,
    pub phishing_resistant: bool,
    pub external: bool,
    /// `None` when the roles could not be read in the run that stored this version.
    pub global_admin: Option<bool>,
    pub global_admin_eligible: bool,
    pub blocked: bool,
    /// Stored [`crate::domain::availability::Unavailable`]s.
    pub unavailable: Vec<String>,
    /// The out-of-scope rule that matched (`group:<id>`, `upn:<pattern>`).
    pub out_of_scope_by: Option<String>,
}
