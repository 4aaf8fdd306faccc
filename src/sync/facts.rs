//! One user's stored facts: the registration report row joined with the directory row,
//! classified, and fingerprinted. Pure: no I/O.

use crate::domain::availability::Unavailable;
use crate::domain::classify::{DefaultMethod, Registration, State, classify};
use crate::domain::retirement::is_external;
use crate::domain::{Standing, UserType};
use crate::graph::model::{DirectoryUser, UserRegistrationDetails};
use std::borrow::Cow;
use xxhash_rust::xxh3::xxh3_64;

/// Everything stored for one version of a user. Text is borrowed from the Graph rows, so the
/// many users who did not change cost no copies; only changed users are copied for storage.
#[derive(Debug, Clone, PartialEq)]
pub struct UserFacts<'a> {
    pub upn: &'a str,
    pub display_name: &'a str,
    /// `None` for no department: null, empty and blank are one group.
    pub department: Option<&'a str>,
    pub company: Option<&'a str>,
    pub office: Option<&'a str>,
    /// Upper-case ISO 3166 code.
    pub country: Option<Cow<'a, str>>,
    pub job_title: Option<&'a str>,
    pub user_type: UserType,
    /// `None` when the user is missing from `/users`.
    pub account_enabled: Option<bool>,
    pub in_scope: bool,
    pub is_admin: bool,
    /// Canonical spelling, sorted case-insensitively, without duplicates.
    pub methods: Vec<&'a str>,
    pub default_method: DefaultMethod,
    pub system_preferred: bool,
    pub state: State,
    pub voice_capable: bool,
    pub voice_default: bool,
    pub phishing_resistant: bool,
    /// An external (B2B) account: the late date.
    pub external: bool,
    /// An active Global Administrator; `None` when the roles could not be read.
    pub global_admin: Option<bool>,
    pub global_admin_eligible: bool,
    /// A phone registered and no app or phishing-resistant method available.
    pub blocked: bool,
    /// Registered methods the methods policy does not let them use.
    pub unavailable: Vec<Unavailable>,
    /// The out-of-scope rule that matched (`group:<id>`, `upn:<pattern>`).
    pub out_of_scope_by: Option<String>,
}

/// The classification inputs of a report row.
impl<'a> From<&'a UserRegistrationDetails> for Registration<'a> {
    fn from(r: &'a UserRegistrationDetails) -> Self {
        Registration {
            methods: &r.methods_registered,
            user_preferred: r
                .user_preferred_method_for_secondary_authentication
                .as_deref(),
            system_preferred_enabled: r.is_system_preferred_authentication_method_enabled,
            system_preferred: &r.system_preferred_authentication_methods,
        }
    }
}

/// Trimmed text, or `None` when absent or blank.
fn text(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

impl<'a> UserFacts<'a> {
    /// Joins a report row with the user's directory row (if `/users` has one) and classifies it.
    /// Scope: members are in scope unless the directory says the account is disabled; guests
    /// never are (docs/design.md §5).
    pub fn from_graph(r: &'a UserRegistrationDetails, d: Option<&'a DirectoryUser>) -> Self {
        let c = classify(&Registration::from(r));
        let kind = r
            .user_type
            .as_deref()
            .or(d.and_then(|d| d.user_type.as_deref()))
            .unwrap_or("");
        let user_type = UserType::from_graph(kind);
        let account_enabled = d.and_then(|d| d.account_enabled);
        let country = text(d.and_then(|d| d.usage_location.as_deref())).map(|c| {
            if c.bytes().any(|b| b.is_ascii_lowercase()) {
                Cow::Owned(c.to_ascii_uppercase())
            } else {
                Cow::Borrowed(c)
            }
        });
        let upn = text(d.and_then(|d| d.user_principal_name.as_deref()))
            .or_else(|| text(Some(&r.user_principal_name)))
            .unwrap_or_default();
        UserFacts {
            upn,
            external: is_external(upn, d.and_then(|d| d.external_user_state.as_deref())),
            global_admin: None,
            global_admin_eligible: false,
            // Until the policy is applied ([`crate::sync::access`]), the registered methods.
            blocked: c.state == State::PhoneOnly,
            unavailable: Vec::new(),
            out_of_scope_by: None,
            display_name: text(d.and_then(|d| d.display_name.as_deref()))
                .or_else(|| text(Some(&r.user_display_name)))
                .unwrap_or_default(),
            department: text(d.and_then(|d| d.department.as_deref())),
            company: text(d.and_then(|d| d.company_name.as_deref())),
            office: text(d.and_then(|d| d.office_location.as_deref())),
            country,
            job_title: text(d.and_then(|d| d.job_title.as_deref())),
            user_type,
            account_enabled,
            in_scope: user_type == UserType::Member && account_enabled != Some(false),
            is_admin: r.is_admin,
            methods: c.methods,
            default_method: c.default_method,
            system_preferred: r.is_system_preferred_authentication_method_enabled,
            state: c.state,
            voice_capable: c.voice_capable,
            voice_default: c.voice_default,
            phishing_resistant: c.phishing_resistant,
        }
    }

    /// What the counts need of this user.
    pub fn standing(&self) -> Standing {
        Standing {
            user_type: self.user_type,
            in_scope: self.in_scope,
            is_admin: self.is_admin,
            state: self.state,
            voice_capable: self.voice_capable,
            voice_default: self.voice_default,
            phishing_resistant: self.phishing_resistant,
            external: self.external,
            global_admin: self.global_admin == Some(true),
            blocked: self.blocked,
            out_of_scope_by_rule: self.out_of_scope_by.is_some(),
        }
    }

    /// A stable hash of every stored fact. Method letter case and order are already normalised,
    /// and the report's refresh time is not a fact, so neither changes it. `buf` is scratch space
    /// reused across users (one hash over one buffer is much cheaper than many small updates).
    pub fn fingerprint(&self, buf: &mut Vec<u8>) -> i64 {
        buf.clear();
        for field in [
            Some(self.upn),
            Some(self.display_name),
            self.department,
            self.company,
            self.office,
            self.country.as_deref(),
            self.job_title,
        ] {
            // Absent differs from empty and from any text.
            match field {
                Some(text) => buf.extend_from_slice(text.as_bytes()),
                None => buf.push(0),
            }
            buf.push(0xff);
        }
        buf.extend_from_slice(self.user_type.as_str().as_bytes());
        buf.push(match self.account_enabled {
            Some(true) => b'e',
            Some(false) => b'd',
            None => b'm',
        });
        for m in &self.methods {
            buf.extend(m.bytes().map(|b| b.to_ascii_lowercase()));
            buf.push(0xfe);
        }
        buf.push(0xff);
        buf.extend(
            self.default_method
                .as_str()
                .bytes()
                .map(|b| b.to_ascii_lowercase()),
        );
        buf.push(0xff);
        buf.extend(
            [
                self.in_scope,
                self.is_admin,
                self.system_preferred,
                self.voice_capable,
                self.voice_default,
                self.phishing_resistant,
            ]
            .map(u8::from),
        );
        buf.extend_from_slice(self.state.as_str().as_bytes());
        buf.push(0xff);
        buf.extend([self.external, self.global_admin_eligible, self.blocked].map(u8::from));
        buf.push(match self.global_admin {
            Some(true) => b'g',
            Some(false) => b'n',
            None => b'u',
        });
        for u in &self.unavailable {
            buf.extend_from_slice(u.encode().as_bytes());
            buf.push(0xfe);
        }
        buf.push(0xff);
        if let Some(rule) = &self.out_of_scope_by {
            buf.extend_from_slice(rule.as_bytes());
        }
        // Postgres has no unsigned 64-bit integer; the bits are what matter.
        xxh3_64(buf) as i64
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
            user_preferred_method_for_secondary_authentication: Some("sms".into()),
            methods_registered: methods.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn directory(department: Option<&str>, enabled: bool) -> DirectoryUser {
        DirectoryUser {
            id: "u1".into(),
            user_principal_name: Some("a@contoso.com".into()),
            display_name: Some("A".into()),
            department: department.map(str::to_owned),
            usage_location: Some("gb".into()),
            account_enabled: Some(enabled),
            user_type: Some("Member".into()),
            ..Default::default()
        }
    }

    #[test]
    fn reorder_case_and_refresh_time_are_not_changes() {
        let a = report(&["mobilePhone", "microsoftAuthenticatorPush"]);
        let mut b = report(&["MICROSOFTAUTHENTICATORPUSH", "mobilephone"]);
        b.last_updated_date_time = Some(chrono::Utc::now());
        let d = directory(Some("Sales"), true);
        assert_eq!(
            UserFacts::from_graph(&a, Some(&d)).fingerprint(&mut Vec::new()),
            UserFacts::from_graph(&b, Some(&d)).fingerprint(&mut Vec::new())
        );
    }

    #[test]
    fn real_changes_change_the_fingerprint() {
        let d = directory(Some("Sales"), true);
        let base =
            UserFacts::from_graph(&report(&["mobilePhone"]), Some(&d)).fingerprint(&mut Vec::new());
        let added = UserFacts::from_graph(&report(&["mobilePhone", "fido2SecurityKey"]), Some(&d))
            .fingerprint(&mut Vec::new());
        let moved = UserFacts::from_graph(
            &report(&["mobilePhone"]),
            Some(&directory(Some("Legal"), true)),
        )
        .fingerprint(&mut Vec::new());
        let disabled = UserFacts::from_graph(
            &report(&["mobilePhone"]),
            Some(&directory(Some("Sales"), false)),
        )
        .fingerprint(&mut Vec::new());
        let missing =
            UserFacts::from_graph(&report(&["mobilePhone"]), None).fingerprint(&mut Vec::new());
        let all = [base, added, moved, disabled, missing];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn blank_departments_are_no_department_and_scope_follows_the_rules() {
        let phone = report(&["mobilePhone"]);
        for blank in [None, Some(""), Some("   ")] {
            let d = directory(blank, true);
            assert_eq!(UserFacts::from_graph(&phone, Some(&d)).department, None);
        }
        let disabled = directory(Some(" Sales "), false);
        let f = UserFacts::from_graph(&phone, Some(&disabled));
        assert_eq!(f.department, Some("Sales"));
        assert!(!f.in_scope, "disabled members are out of scope");
        assert_eq!(f.country.as_deref(), Some("GB"));
        let missing = UserFacts::from_graph(&phone, None);
        assert!(
            missing.in_scope && missing.department.is_none(),
            "missing from /users: in scope, no department"
        );
        let mut guest = report(&["mobilePhone"]);
        guest.user_type = Some("guest".into());
        assert!(!UserFacts::from_graph(&guest, None).in_scope);
    }
}
