//! Which of a person's registered methods the authentication methods policy lets them use, and
//! whether they will be blocked on their retirement date (docs/design.md §2; graph-api.md §5,
//! §12). Pure: the policy's rules and the person's groups in, the methods and reasons out.
//!
//! A person is **blocked** when they have a phone method registered and no app or
//! phishing-resistant method *available*: every phone-only person, and also someone whose
//! stronger method the policy hides from them.

use super::classify::{MethodClass, method_class};
use super::vocab::words;
use crate::graph::model::{AuthenticationMethodConfiguration, AuthenticationMethodsPolicy};
use std::collections::BTreeSet;
use uuid::Uuid;

words! {
    /// Why a registered method is not available to a person.
    pub enum Hidden: "reason a method is not available" {
        /// The method's configuration is turned off for everyone.
        Off = "policy_off",
        /// The configuration is on, but neither for all users nor for a group they are in.
        NotIncluded = "not_included",
        /// They are in a group the configuration excludes.
        Excluded = "excluded",
        /// Voice is on for them, but not for office phones.
        OfficePhoneNotAllowed = "office_phone_not_allowed",
    }
}

words! {
    /// What "available" was worked out from for a run.
    pub enum Basis: "availability basis" {
        /// The authentication methods policy and the members of the groups it targets.
        Policy = "policy",
        /// The policy migration is not complete: the legacy MFA settings may still allow
        /// methods, so the registered methods are taken as available.
        MigrationIncomplete = "migration_incomplete",
        /// The policy could not be read: registered methods are taken as available.
        PolicyUnread = "policy_unread",
        /// The members of a group the policy targets could not be read.
        GroupsUnread = "groups_unread",
    }
}

impl Basis {
    /// Why availability is the registered methods, in words; `None` when the policy decided.
    pub fn caveat(self) -> Option<&'static str> {
        match self {
            Basis::Policy => None,
            Basis::MigrationIncomplete => Some(
                "The authentication methods policy migration is not complete, so the legacy MFA \
                 settings may still allow methods: every registered method is taken as available.",
            ),
            Basis::PolicyUnread => Some(
                "The authentication methods policy could not be read: every registered method is \
                 taken as available.",
            ),
            Basis::GroupsUnread => Some(
                "The members of a group the authentication methods policy targets could not be \
                 read: every registered method is taken as available.",
            ),
        }
    }
}

impl Hidden {
    /// "the Microsoft Authenticator policy does not include them", for a sentence that begins
    /// "registered, but …".
    pub fn words(self, config: &str) -> String {
        let policy = config_label(config);
        match self {
            Hidden::Off => format!("the {policy} policy is turned off"),
            Hidden::NotIncluded => format!("the {policy} policy does not include them"),
            Hidden::Excluded => format!("they are in a group the {policy} policy excludes"),
            Hidden::OfficePhoneNotAllowed => {
                "the Voice call policy does not allow office phones".to_owned()
            }
        }
    }
}

/// A method configuration's id as the admin center names the method ("Voice call"); an
/// unknown id as it is.
pub fn config_label(id: &str) -> &str {
    const KNOWN: [(&str, &str); 10] = [
        ("Sms", "SMS"),
        ("Voice", "Voice call"),
        ("MicrosoftAuthenticator", "Microsoft Authenticator"),
        ("Fido2", "Passkey (FIDO2)"),
        ("TemporaryAccessPass", "Temporary Access Pass"),
        ("Email", "Email OTP"),
        ("SoftwareOath", "Third-party software OATH tokens"),
        ("HardwareOath", "Hardware OATH tokens"),
        ("X509Certificate", "Certificate-based authentication"),
        ("QrCodePin", "QR code"),
    ];
    KNOWN
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(id.trim()))
        .map_or(id, |(_, name)| name)
}

/// The configurations that can allow a registered method (any one suffices), by Graph id.
/// Empty: the policy does not govern the method (Windows Hello for Business, a macOS key), so it
/// is available. The report's `softwareOneTimePasscode` does not say whose app made the code;
/// it is taken as a software OATH token, so switching those off is never missed.
pub fn governing(method: &str) -> &'static [&'static str] {
    // Matched without allocating: this runs for every method of every user of a sync.
    const BY_NAME: [(&str, &[&str]); 10] = [
        ("mobilePhone", &["Sms", "Voice"]),
        ("alternateMobilePhone", &["Voice"]),
        ("officePhone", &["Voice"]),
        ("microsoftAuthenticatorPush", &["MicrosoftAuthenticator"]),
        (
            "microsoftAuthenticatorPasswordless",
            &["MicrosoftAuthenticator"],
        ),
        ("softwareOneTimePasscode", &["SoftwareOath"]),
        ("oneTimePasscode", &["SoftwareOath"]),
        ("hardwareOneTimePasscode", &["HardwareOath"]),
        ("fido2", &["Fido2"]),
        ("fido2SecurityKey", &["Fido2"]),
    ];
    const BY_PREFIX: [(&str, &[&str]); 3] = [
        ("passkey", &["Fido2"]),
        ("x509", &["X509Certificate"]),
        ("certificateBasedAuthentication", &["X509Certificate"]),
    ];
    let starts = |prefix: &str| {
        method
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    BY_NAME
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(method))
        .or_else(|| BY_PREFIX.iter().find(|(prefix, _)| starts(prefix)))
        .map_or(&[], |(_, configs)| configs)
}

/// Who a configuration is for.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Graph's configuration id (`Sms`, `MicrosoftAuthenticator`, …).
    pub id: String,
    pub enabled: bool,
    pub all_users: bool,
    /// Included groups (and users, by object id).
    pub include: Vec<Uuid>,
    pub exclude: Vec<Uuid>,
    /// Voice only: `isOfficePhoneAllowed`.
    pub office_phone_allowed: bool,
}

impl Rule {
    pub fn from_graph(c: &AuthenticationMethodConfiguration) -> Rule {
        let ids = |targets: &mut dyn Iterator<Item = &str>| -> Vec<Uuid> {
            targets.filter_map(|id| Uuid::parse_str(id).ok()).collect()
        };
        Rule {
            id: c.id.clone(),
            enabled: c.state.eq_ignore_ascii_case("enabled"),
            all_users: c
                .include_targets
                .iter()
                .any(|t| t.id.eq_ignore_ascii_case("all_users")),
            include: ids(&mut c.include_targets.iter().map(|t| t.id.as_str())),
            exclude: ids(&mut c.exclude_targets.iter().map(|t| t.id.as_str())),
            office_phone_allowed: c.is_office_phone_allowed.unwrap_or(true),
        }
    }

    /// Whether this configuration lets the person use `method`, and why not.
    pub fn allows(&self, method: &str, person: &Targets<'_>) -> Result<(), Hidden> {
        if !self.enabled {
            return Err(Hidden::Off);
        }
        if self.exclude.iter().any(|g| person.contains(g)) {
            return Err(Hidden::Excluded);
        }
        if !self.all_users && !self.include.iter().any(|g| person.contains(g)) {
            return Err(Hidden::NotIncluded);
        }
        if method.eq_ignore_ascii_case("officePhone") && !self.office_phone_allowed {
            return Err(Hidden::OfficePhoneNotAllowed);
        }
        Ok(())
    }
}

/// The person (a configuration may target a user by id) and the targeted groups they are in,
/// transitively.
#[derive(Debug, Clone, Copy)]
pub struct Targets<'a> {
    pub person: Uuid,
    pub groups: &'a BTreeSet<Uuid>,
}

impl Targets<'_> {
    fn contains(&self, id: &Uuid) -> bool {
        *id == self.person || self.groups.contains(id)
    }
}

/// The rules of one run: the policy's configurations, or the registered methods when the
/// policy cannot tell.
#[derive(Debug, Clone)]
pub struct Rules {
    pub basis: Basis,
    rules: Vec<Rule>,
}

/// A method the person has registered but may not use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    pub method: String,
    /// The configuration that decided (for a mobile phone, SMS).
    pub config: String,
    pub reason: Hidden,
}

impl Unavailable {
    /// The stored form: `method=config=reason`.
    pub fn encode(&self) -> String {
        format!("{}={}={}", self.method, self.config, self.reason.as_str())
    }

    /// Reads the stored form; `None` for text this version cannot read.
    pub fn decode(s: &str) -> Option<Unavailable> {
        let mut parts = s.rsplitn(3, '=');
        let reason = parts.next()?.parse().ok()?;
        let config = parts.next()?.to_owned();
        let method = parts.next()?.to_owned();
        Some(Unavailable {
            method,
            config,
            reason,
        })
    }
}

/// What a person may use of what they registered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Availability {
    pub unavailable: Vec<Unavailable>,
    pub blocked: bool,
}

impl Rules {
    /// The rules of a policy as fetched. A policy that is not fully migrated leaves the legacy
    /// settings in force, so only the registered methods can be trusted.
    pub fn from_policy(policy: Option<&AuthenticationMethodsPolicy>) -> Rules {
        let Some(policy) = policy else {
            return Rules::registered(Basis::PolicyUnread);
        };
        let complete = policy
            .policy_migration_state
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("migrationComplete"));
        if !complete {
            return Rules::registered(Basis::MigrationIncomplete);
        }
        Rules {
            basis: Basis::Policy,
            rules: policy
                .authentication_method_configurations
                .iter()
                .map(Rule::from_graph)
                .collect(),
        }
    }

    /// Every registered method available, for the reason given.
    pub fn registered(basis: Basis) -> Rules {
        Rules {
            basis,
            rules: Vec::new(),
        }
    }

    /// Every group id a rule names (whose members the sync must read).
    pub fn groups(&self) -> BTreeSet<Uuid> {
        self.rules
            .iter()
            .flat_map(|r| r.include.iter().chain(&r.exclude))
            .copied()
            .collect()
    }

    /// A configuration by Graph id, case-insensitively.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id.eq_ignore_ascii_case(id))
    }

    /// The methods (canonical spellings) the person may not use, and whether they are blocked.
    pub fn availability(&self, methods: &[&str], person: &Targets<'_>) -> Availability {
        let mut out = Availability::default();
        let mut phone = false;
        let mut stronger = false;
        for &m in methods {
            let class = method_class(m);
            let counts = matches!(
                class,
                MethodClass::Phone | MethodClass::App | MethodClass::PhishingResistant
            );
            if !counts {
                continue;
            }
            phone |= class == MethodClass::Phone;
            let hidden = self.hidden(m, person);
            match hidden {
                None => stronger |= class != MethodClass::Phone,
                Some((config, reason)) => out.unavailable.push(Unavailable {
                    method: m.to_owned(),
                    config,
                    reason,
                }),
            }
        }
        out.blocked = phone && !stronger;
        out
    }

    /// Why the person may not use `method` (the first governing configuration that says no),
    /// or `None` when one of its configurations allows it or none governs it.
    fn hidden(&self, method: &str, person: &Targets<'_>) -> Option<(String, Hidden)> {
        if self.basis != Basis::Policy {
            return None;
        }
        let mut first = None;
        for id in governing(method) {
            let Some(rule) = self.rule(id) else {
                // Not in this policy (hardware OATH is beta only): not governed here.
                return None;
            };
            match rule.allows(method, person) {
                Ok(()) => return None,
                Err(reason) => {
                    first.get_or_insert((rule.id.clone(), reason));
                }
            }
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::model::{ExcludeTarget, MethodTarget};

    fn config(
        id: &str,
        state: &str,
        include: &[&str],
        exclude: &[&str],
    ) -> AuthenticationMethodConfiguration {
        AuthenticationMethodConfiguration {
            id: id.to_owned(),
            state: state.to_owned(),
            include_targets: include
                .iter()
                .map(|i| MethodTarget {
                    id: (*i).to_owned(),
                    target_type: "group".to_owned(),
                    ..Default::default()
                })
                .collect(),
            exclude_targets: exclude
                .iter()
                .map(|i| ExcludeTarget {
                    id: (*i).to_owned(),
                    target_type: "group".to_owned(),
                })
                .collect(),
            ..Default::default()
        }
    }

    const HIDDEN_GROUP: &str = "00000000-0000-4000-8000-0000000000a1";
    const SMS_GROUP: &str = "00000000-0000-4000-8000-0000000000a2";

    fn policy() -> AuthenticationMethodsPolicy {
        let mut voice = config("Voice", "enabled", &["all_users"], &[]);
        voice.is_office_phone_allowed = Some(false);
        AuthenticationMethodsPolicy {
            policy_migration_state: Some("migrationComplete".to_owned()),
            authentication_method_configurations: vec![
                config("Sms", "enabled", &[SMS_GROUP], &[]),
                voice,
                config(
                    "MicrosoftAuthenticator",
                    "enabled",
                    &["all_users"],
                    &[HIDDEN_GROUP],
                ),
                config("SoftwareOath", "disabled", &["all_users"], &[]),
                config("Fido2", "enabled", &["all_users"], &[]),
            ],
            ..Default::default()
        }
    }

    fn person(groups: &[&str]) -> Targets<'static> {
        let groups: BTreeSet<Uuid> = groups
            .iter()
            .map(|g| Uuid::parse_str(g).expect("a group id"))
            .collect();
        Targets {
            person: Uuid::nil(),
            groups: Box::leak(Box::new(groups)),
        }
    }

    #[test]
    fn a_hidden_stronger_method_blocks_and_says_why() {
        let rules = Rules::from_policy(Some(&policy()));
        assert_eq!(rules.basis, Basis::Policy);
        let methods = ["microsoftAuthenticatorPush", "mobilePhone"];
        let free = rules.availability(&methods, &person(&[]));
        assert!(!free.blocked && free.unavailable.is_empty(), "{free:?}");

        let hidden = rules.availability(&methods, &person(&[HIDDEN_GROUP]));
        assert!(hidden.blocked);
        assert_eq!(
            hidden.unavailable,
            vec![Unavailable {
                method: "microsoftAuthenticatorPush".into(),
                config: "MicrosoftAuthenticator".into(),
                reason: Hidden::Excluded
            }]
        );
        assert_eq!(
            Hidden::NotIncluded.words("MicrosoftAuthenticator"),
            "the Microsoft Authenticator policy does not include them"
        );
    }

    #[test]
    fn phones_follow_sms_or_voice_and_office_phones_need_their_setting() {
        let rules = Rules::from_policy(Some(&policy()));
        // Mobile: SMS only for the group, but voice for everyone: available.
        let a = rules.availability(&["mobilePhone"], &person(&[]));
        assert!(a.blocked && a.unavailable.is_empty(), "{a:?}");
        let office = rules.availability(&["officePhone", "fido2SecurityKey"], &person(&[]));
        assert!(!office.blocked);
        assert_eq!(office.unavailable[0].reason, Hidden::OfficePhoneNotAllowed);
        // Software OATH switched off: a phone plus an OTP app is blocked.
        let otp = rules.availability(&["mobilePhone", "softwareOneTimePasscode"], &person(&[]));
        assert!(otp.blocked);
        assert_eq!(otp.unavailable[0].reason, Hidden::Off);
        // Windows Hello is not governed by the policy; no MFA at all is not "blocked".
        assert!(
            !rules
                .availability(&["mobilePhone", "windowsHelloForBusiness"], &person(&[]))
                .blocked
        );
        assert!(!rules.availability(&["email"], &person(&[])).blocked);
    }

    #[test]
    fn without_a_migrated_policy_the_registered_methods_count() {
        let mut p = policy();
        p.policy_migration_state = Some("migrationInProgress".into());
        let rules = Rules::from_policy(Some(&p));
        assert_eq!(rules.basis, Basis::MigrationIncomplete);
        let a = rules.availability(
            &["microsoftAuthenticatorPush", "mobilePhone"],
            &person(&[HIDDEN_GROUP]),
        );
        assert!(!a.blocked && a.unavailable.is_empty());
        assert!(rules.availability(&["mobilePhone"], &person(&[])).blocked);
        assert_eq!(Rules::from_policy(None).basis, Basis::PolicyUnread);
        assert!(Basis::PolicyUnread.caveat().is_some() && Basis::Policy.caveat().is_none());
    }

    #[test]
    fn the_stored_form_reads_back() {
        let u = Unavailable {
            method: "microsoftAuthenticatorPush".into(),
            config: "MicrosoftAuthenticator".into(),
            reason: Hidden::NotIncluded,
        };
        assert_eq!(Unavailable::decode(&u.encode()), Some(u));
        assert_eq!(Unavailable::decode("nonsense"), None);
        assert_eq!(rules_groups(), 2);
    }

    fn rules_groups() -> usize {
        Rules::from_policy(Some(&policy())).groups().len()
    }
}
