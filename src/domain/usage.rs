//! What a sign-in's MFA step used, from the sign-in log's `authenticationMethod` display text
//! (graph-api.md §8): the text is not an enum, so it is matched without regard to letter case,
//! and a text phoneless does not know is kept and shown as `other`, never dropped.

use super::vocab::words;
use chrono::NaiveDate;

words! {
    /// What a successful MFA step used, as the charts group it.
    pub enum MfaClass: "MFA method class" {
        Sms = "sms",
        Voice = "voice",
        /// Microsoft Authenticator (push or code) and other one-time-code apps.
        App = "app",
        /// Passkeys, FIDO2 security keys, Windows Hello for Business, certificates.
        PhishingResistant = "phishing_resistant",
        /// A text phoneless does not know (kept as Graph wrote it).
        Other = "other",
    }
}

impl MfaClass {
    /// SMS or voice: the methods that retire.
    pub fn is_phone(self) -> bool {
        matches!(self, MfaClass::Sms | MfaClass::Voice)
    }
}

/// Texts of an MFA step that are not a method use: an earlier sign-in's MFA counted again.
const NOT_A_USE: [&str; 2] = ["previously satisfied", "satisfied by token"];

/// Known texts, lower case, and their class. Real logs write "Text message" where the docs say
/// "SMS", and "Voice call" or "Phone call" for voice.
const KNOWN: [(&str, MfaClass); 18] = [
    ("text message", MfaClass::Sms),
    ("sms", MfaClass::Sms),
    ("voice call", MfaClass::Voice),
    ("phone call", MfaClass::Voice),
    ("voice", MfaClass::Voice),
    ("mobile app notification", MfaClass::App),
    ("microsoft authenticator app", MfaClass::App),
    ("authenticator app", MfaClass::App),
    ("oath verification code", MfaClass::App),
    ("software oath token", MfaClass::App),
    ("hardware oath token", MfaClass::App),
    ("app verification code", MfaClass::App),
    ("passkey", MfaClass::PhishingResistant),
    (
        "passkey (microsoft authenticator)",
        MfaClass::PhishingResistant,
    ),
    ("fido2 security key", MfaClass::PhishingResistant),
    ("fido", MfaClass::PhishingResistant),
    ("windows hello for business", MfaClass::PhishingResistant),
    (
        "certificate-based authentication",
        MfaClass::PhishingResistant,
    ),
];

/// The class of a successful MFA step's method text; `None` when the step is not a method use.
pub fn mfa_class(method: &str) -> Option<MfaClass> {
    let m = method.trim();
    if m.is_empty() || NOT_A_USE.iter().any(|n| m.eq_ignore_ascii_case(n)) {
        return None;
    }
    Some(
        KNOWN
            .iter()
            .find(|(text, _)| m.eq_ignore_ascii_case(text))
            .map_or(MfaClass::Other, |(_, class)| *class),
    )
}

/// One sign-in's MFA step as the log gives it.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub method: Option<&'a str>,
    /// `authenticationStepRequirement`: "Primary authentication" or "MFA".
    pub requirement: Option<&'a str>,
    pub succeeded: Option<bool>,
}

/// The methods a sign-in used for MFA: its succeeded MFA steps that are a method use, each
/// with its text (as written) and class.
pub fn mfa_uses<'a>(
    steps: impl IntoIterator<Item = Step<'a>>,
) -> impl Iterator<Item = (&'a str, MfaClass)> {
    steps.into_iter().filter_map(|s| {
        let mfa = s
            .requirement
            .is_some_and(|r| r.trim().eq_ignore_ascii_case("mfa"));
        let method = s.method?.trim();
        if !mfa || s.succeeded != Some(true) {
            return None;
        }
        mfa_class(method).map(|c| (method, c))
    })
}

/// A person's use of one method on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayUse {
    pub date: NaiveDate,
    pub method: String,
    pub class: MfaClass,
    pub count: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_classed_without_regard_to_case_and_unknown_ones_are_kept() {
        assert_eq!(mfa_class("Text message"), Some(MfaClass::Sms));
        assert_eq!(mfa_class("SMS"), Some(MfaClass::Sms));
        assert_eq!(mfa_class("phone call"), Some(MfaClass::Voice));
        assert_eq!(mfa_class("Voice call"), Some(MfaClass::Voice));
        assert_eq!(mfa_class("Mobile app notification"), Some(MfaClass::App));
        assert_eq!(mfa_class("OATH verification code"), Some(MfaClass::App));
        assert_eq!(mfa_class("Passkey"), Some(MfaClass::PhishingResistant));
        assert_eq!(
            mfa_class("FIDO2 security key"),
            Some(MfaClass::PhishingResistant)
        );
        assert_eq!(
            mfa_class("Windows Hello for Business"),
            Some(MfaClass::PhishingResistant)
        );
        assert_eq!(mfa_class("Quantum handshake"), Some(MfaClass::Other));
        assert_eq!(mfa_class("Previously satisfied"), None);
        assert_eq!(mfa_class("satisfied by token"), None);
        assert!(MfaClass::Voice.is_phone() && !MfaClass::App.is_phone());
    }

    #[test]
    fn only_succeeded_mfa_steps_count() {
        let step = |method, requirement, succeeded| Step {
            method: Some(method),
            requirement: Some(requirement),
            succeeded: Some(succeeded),
        };
        let steps = [
            step("Password", "Primary authentication", true),
            step("Text message", "MFA", false),
            step("Text message", "MFA", true),
            step("Previously satisfied", "MFA", true),
            step("Quantum handshake", "mfa", true),
        ];
        let uses: Vec<_> = mfa_uses(steps).collect();
        assert_eq!(
            uses,
            vec![
                ("Text message", MfaClass::Sms),
                ("Quantum handshake", MfaClass::Other)
            ]
        );
    }
}
