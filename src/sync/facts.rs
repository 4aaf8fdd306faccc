//! One user's stored facts: the registration report row joined with the directory row,
//! classified, and fingerprinted. Pure: no I/O.

use crate::classify::{Registration, State, classify};
use crate::graph::model::{DirectoryUser, UserRegistrationDetails};
use xxhash_rust::xxh3::Xxh3;

/// Everything stored for one version of a user.
#[derive(Debug, Clone, PartialEq)]
pub struct UserFacts {
    pub user_id: String,
    pub upn: String,
    pub display_name: String,
    /// `None` for no department: null, empty and blank are one group.
    pub department: Option<String>,
    pub company: Option<String>,
    pub office: Option<String>,
    pub country: Option<String>,
    pub job_title: Option<String>,
    /// `member`, `guest` or `unknown`.
    pub user_type: &'static str,
    /// `None` when the user is missing from `/users`.
    pub account_enabled: Option<bool>,
    pub in_scope: bool,
    pub is_admin: bool,
    pub methods: Vec<String>,
    pub default_method: String,
    pub system_preferred: bool,
    pub state: State,
    pub voice_capable: bool,
    pub voice_default: bool,
    pub phishing_resistant: bool,
}

/// Trimmed text, or `None` when absent or blank.
fn text(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Method strings without control characters (which a bulk insert uses as separators).
fn clean(methods: &[String]) -> Vec<String> {
    methods
        .iter()
        .map(|m| m.chars().filter(|c| !c.is_control()).collect())
        .collect()
}

impl UserFacts {
    /// Joins a report row with the user's directory row (if `/users` has one) and classifies it.
    /// Scope: members are in scope unless the directory says the account is disabled; guests
    /// never are (docs/design.md §5).
    pub fn from_graph(r: &UserRegistrationDetails, d: Option<&DirectoryUser>) -> UserFacts {
        let methods = clean(&r.methods_registered);
        let c = classify(&Registration {
            methods: &methods,
            user_preferred: r
                .user_preferred_method_for_secondary_authentication
                .as_deref(),
            system_preferred_enabled: r.is_system_preferred_authentication_method_enabled,
            system_preferred: &r.system_preferred_authentication_methods,
        });
        let kind = r
            .user_type
            .as_deref()
            .or(d.and_then(|d| d.user_type.as_deref()))
            .unwrap_or("")
            .to_ascii_lowercase();
        let user_type = match kind.as_str() {
            "member" => "member",
            "guest" => "guest",
            _ => "unknown",
        };
        let account_enabled = d.and_then(|d| d.account_enabled);
        UserFacts {
            user_id: r.id.clone(),
            upn: text(d.and_then(|d| d.user_principal_name.as_deref()))
                .or_else(|| text(Some(&r.user_principal_name)))
                .unwrap_or_default(),
            display_name: text(d.and_then(|d| d.display_name.as_deref()))
                .or_else(|| text(Some(&r.user_display_name)))
                .unwrap_or_default(),
            department: text(d.and_then(|d| d.department.as_deref())),
            company: text(d.and_then(|d| d.company_name.as_deref())),
            office: text(d.and_then(|d| d.office_location.as_deref())),
            country: text(d.and_then(|d| d.usage_location.as_deref()))
                .map(|c| c.to_ascii_uppercase()),
            job_title: text(d.and_then(|d| d.job_title.as_deref())),
            user_type,
            account_enabled,
            in_scope: user_type == "member" && account_enabled != Some(false),
            is_admin: r.is_admin,
            methods: c.methods,
            default_method: c.default_method.as_str().to_owned(),
            system_preferred: r.is_system_preferred_authentication_method_enabled,
            state: c.state,
            voice_capable: c.voice_capable,
            voice_default: c.voice_default,
            phishing_resistant: c.phishing_resistant,
        }
    }

    /// A stable hash of every stored fact. Method letter case and order are already normalised,
    /// and the report's refresh time is not a fact, so neither changes it.
    pub fn fingerprint(&self) -> i64 {
        let mut h = Xxh3::new();
        let mut put = |s: &str| {
            h.update(s.as_bytes());
            h.update(&[0xff]);
        };
        let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "\u{0}".to_owned());
        put(&self.upn);
        put(&self.display_name);
        put(&opt(&self.department));
        put(&opt(&self.company));
        put(&opt(&self.office));
        put(&opt(&self.country));
        put(&opt(&self.job_title));
        put(self.user_type);
        put(match self.account_enabled {
            Some(true) => "enabled",
            Some(false) => "disabled",
            None => "missing",
        });
        for m in &self.methods {
            put(&m.to_ascii_lowercase());
        }
        put("|");
        put(&self.default_method.to_ascii_lowercase());
        let flags = [
            self.in_scope,
            self.is_admin,
            self.system_preferred,
            self.voice_capable,
            self.voice_default,
            self.phishing_resistant,
        ];
        put(&flags
            .map(|f| if f { '1' } else { '0' })
            .iter()
            .collect::<String>());
        put(self.state.as_str());
        // Postgres has no unsigned 64-bit integer; the bits are what matter.
        h.digest() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(methods: &[&str]) -> UserRegistrationDetails {
        UserRegistrationDetails {
            id: "u1".into(),
            user_principal_name: "a@contoso.com".into(),
            user_display_name: "A".into(),
            user_type: Some("member".into()),
            is_admin: false,
            is_mfa_capable: true,
            is_mfa_registered: true,
            is_passwordless_capable: false,
            is_sspr_capable: false,
            is_sspr_enabled: false,
            is_sspr_registered: false,
            is_system_preferred_authentication_method_enabled: false,
            system_preferred_authentication_methods: vec![],
            user_preferred_method_for_secondary_authentication: Some("sms".into()),
            methods_registered: methods.iter().map(|s| s.to_string()).collect(),
            last_updated_date_time: None,
        }
    }

    fn directory(department: Option<&str>, enabled: bool) -> DirectoryUser {
        DirectoryUser {
            id: "u1".into(),
            user_principal_name: Some("a@contoso.com".into()),
            display_name: Some("A".into()),
            department: department.map(str::to_owned),
            company_name: None,
            office_location: None,
            usage_location: Some("gb".into()),
            job_title: None,
            account_enabled: Some(enabled),
            user_type: Some("Member".into()),
        }
    }

    #[test]
    fn reorder_case_and_refresh_time_are_not_changes() {
        let a = report(&["mobilePhone", "microsoftAuthenticatorPush"]);
        let mut b = report(&["MICROSOFTAUTHENTICATORPUSH", "mobilephone"]);
        b.last_updated_date_time = Some(chrono::Utc::now());
        let d = directory(Some("Sales"), true);
        assert_eq!(
            UserFacts::from_graph(&a, Some(&d)).fingerprint(),
            UserFacts::from_graph(&b, Some(&d)).fingerprint()
        );
    }

    #[test]
    fn real_changes_change_the_fingerprint() {
        let d = directory(Some("Sales"), true);
        let base = UserFacts::from_graph(&report(&["mobilePhone"]), Some(&d)).fingerprint();
        let added = UserFacts::from_graph(&report(&["mobilePhone", "fido2SecurityKey"]), Some(&d))
            .fingerprint();
        let moved = UserFacts::from_graph(
            &report(&["mobilePhone"]),
            Some(&directory(Some("Legal"), true)),
        )
        .fingerprint();
        let disabled = UserFacts::from_graph(
            &report(&["mobilePhone"]),
            Some(&directory(Some("Sales"), false)),
        )
        .fingerprint();
        let missing = UserFacts::from_graph(&report(&["mobilePhone"]), None).fingerprint();
        let all = [base, added, moved, disabled, missing];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn blank_departments_are_no_department_and_scope_follows_the_rules() {
        for blank in [None, Some(""), Some("   ")] {
            let f = UserFacts::from_graph(&report(&["mobilePhone"]), Some(&directory(blank, true)));
            assert_eq!(f.department, None);
        }
        let f = UserFacts::from_graph(
            &report(&["mobilePhone"]),
            Some(&directory(Some(" Sales "), false)),
        );
        assert_eq!(f.department.as_deref(), Some("Sales"));
        assert!(!f.in_scope, "disabled members are out of scope");
        assert_eq!(f.country.as_deref(), Some("GB"));
        let missing = UserFacts::from_graph(&report(&["mobilePhone"]), None);
        assert!(
            missing.in_scope && missing.department.is_none(),
            "missing from /users: in scope, no department"
        );
        let mut guest = report(&["mobilePhone"]);
        guest.user_type = Some("guest".into());
        assert!(!UserFacts::from_graph(&guest, None).in_scope);
    }
}
