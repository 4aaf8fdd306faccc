//! The product's vocabulary: which methods are phones, what a user's effective default is, and
//! which migration state a user is in (docs/design.md §2). Pure functions, no I/O.
//!
//! Graph reports methods as free strings and new ones appear over time, so every comparison is
//! case-insensitive and unknown strings are kept (shown raw, counted as "other"), never an error.

use super::vocab::words;
use serde::Serialize;

/// What a registered method is worth for the migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodClass {
    /// SMS and/or voice: what the migration removes.
    Phone,
    /// Authenticator app or OTP: strong, but phishable.
    App,
    /// FIDO2, passkeys, Windows Hello, certificates: the top tier.
    PhishingResistant,
    /// Only usable for self-service password reset.
    NotMfa,
    /// Temporary Access Pass: does not count as a lasting method.
    Temporary,
    /// A string this version does not know.
    Other,
}

/// A known method string: its canonical spelling, class and plain-words label.
struct KnownMethod {
    name: &'static str,
    class: MethodClass,
    label: &'static str,
}

const fn known(name: &'static str, class: MethodClass, label: &'static str) -> KnownMethod {
    KnownMethod { name, class, label }
}

/// Every `methodsRegistered` value we know by name (graph-api.md §1). Prefix families
/// (`passKey*`, `x509*`) are handled in [`lookup`].
const KNOWN_METHODS: &[KnownMethod] = &[
    known(
        "mobilePhone",
        MethodClass::Phone,
        "Mobile phone (SMS + voice)",
    ),
    known(
        "alternateMobilePhone",
        MethodClass::Phone,
        "Alternate mobile phone (voice only)",
    ),
    known(
        "officePhone",
        MethodClass::Phone,
        "Office phone (voice only)",
    ),
    known(
        "microsoftAuthenticatorPush",
        MethodClass::App,
        "Microsoft Authenticator (push)",
    ),
    known(
        "softwareOneTimePasscode",
        MethodClass::App,
        "Authenticator app code (software OTP)",
    ),
    // The usage-report spelling of the same software OTP.
    known(
        "oneTimePasscode",
        MethodClass::App,
        "Authenticator app code (software OTP)",
    ),
    known(
        "hardwareOneTimePasscode",
        MethodClass::App,
        "Hardware token code (OTP)",
    ),
    known(
        "microsoftAuthenticatorPasswordless",
        MethodClass::App,
        "Microsoft Authenticator (passwordless phone sign-in)",
    ),
    known(
        "fido2SecurityKey",
        MethodClass::PhishingResistant,
        "FIDO2 security key",
    ),
    known(
        "fido2",
        MethodClass::PhishingResistant,
        "FIDO2 security key",
    ),
    known(
        "windowsHelloForBusiness",
        MethodClass::PhishingResistant,
        "Windows Hello for Business",
    ),
    known(
        "macOsSecureEnclaveKey",
        MethodClass::PhishingResistant,
        "macOS Secure Enclave key",
    ),
    known(
        "passKeyDeviceBound",
        MethodClass::PhishingResistant,
        "Passkey (device-bound)",
    ),
    known(
        "passKeyDeviceBoundAuthenticator",
        MethodClass::PhishingResistant,
        "Passkey in Microsoft Authenticator",
    ),
    known(
        "passKeyDeviceBoundWindowsHello",
        MethodClass::PhishingResistant,
        "Passkey in Windows Hello",
    ),
    known(
        "passKeySynced",
        MethodClass::PhishingResistant,
        "Passkey (synced)",
    ),
    // Spelling used by third-party tools for certificate-based authentication (unverified).
    known(
        "certificateBasedAuthentication",
        MethodClass::PhishingResistant,
        "Certificate-based authentication",
    ),
    known("email", MethodClass::NotMfa, "Email (password reset only)"),
    known(
        "securityQuestion",
        MethodClass::NotMfa,
        "Security questions (password reset only)",
    ),
    known("password", MethodClass::NotMfa, "Password"),
    known(
        "temporaryAccessPass",
        MethodClass::Temporary,
        "Temporary Access Pass",
    ),
];

fn lookup(method: &str) -> Option<(&'static str, MethodClass, &'static str)> {
    if let Some(k) = KNOWN_METHODS
        .iter()
        .find(|k| k.name.eq_ignore_ascii_case(method))
    {
        return Some((k.name, k.class, k.label));
    }
    let lower = method.to_ascii_lowercase();
    if lower.starts_with("passkey") {
        return Some(("", MethodClass::PhishingResistant, "Passkey"));
    }
    if lower.starts_with("x509") {
        return Some((
            "",
            MethodClass::PhishingResistant,
            "Certificate-based authentication",
        ));
    }
    None
}

/// The class of a `methodsRegistered` string, case-insensitively.
pub fn method_class(method: &str) -> MethodClass {
    spelled_and_classed(method).1
}

/// The method in plain words, for people ("Mobile phone (SMS + voice)"); unknown strings as-is.
pub fn method_label(method: &str) -> String {
    match lookup(method) {
        Some((_, _, label)) => label.to_owned(),
        None => method.to_owned(),
    }
}

/// One spelling per method: the documented one for known names, the string itself otherwise.
/// Graph has been seen to change letter case; that must not look like a change.
pub fn canonical_method(method: &str) -> &str {
    spelled_and_classed(method).0
}

/// A method's canonical spelling (the string as sent when it has none) and its class, from
/// one lookup.
fn spelled_and_classed(method: &str) -> (&str, MethodClass) {
    match lookup(method) {
        Some((name, class, _)) if !name.is_empty() => (name, class),
        Some((_, class, _)) => (method, class),
        None => (method, MethodClass::Other),
    }
}

/// The effective default second factor, reduced to what matters for the migration. Stored and
/// serialised as [`DefaultMethod::as_str`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DefaultMethod {
    Sms,
    /// A voice call to the mobile, alternate mobile or office phone.
    Voice,
    /// Authenticator push or an OTP code.
    App,
    /// FIDO2, passkey or Windows Hello as a system-preferred method.
    PhishingResistant,
    /// Nothing set (`none` or empty).
    None,
    /// A value outside the documented set, kept raw.
    Other(String),
}

impl DefaultMethod {
    /// Reads a `userPreferredMethodForSecondaryAuthentication` or
    /// `systemPreferredAuthenticationMethods` value, tolerating undocumented spellings.
    pub fn parse(value: &str) -> Self {
        // Lower-cased on the stack: this runs for every user of every sync.
        let trimmed = value.trim();
        let mut buf = [0u8; 32];
        let Some(lower) = buf.get_mut(..trimmed.len()) else {
            return Self::Other(trimmed.to_owned());
        };
        lower.copy_from_slice(trimmed.as_bytes());
        lower.make_ascii_lowercase();
        match std::str::from_utf8(lower).unwrap_or_default() {
            "" | "none" => Self::None,
            "sms" | "mobilesms" | "textmessage" => Self::Sms,
            "voicemobile"
            | "voicealternatemobile"
            | "voiceoffice"
            | "mobilecall"
            | "alternatemobilecall"
            | "officephone"
            | "voice" => Self::Voice,
            "push"
            | "oath"
            | "phoneappnotification"
            | "phoneappotp"
            | "hardwareotp"
            | "softwareotp"
            | "appnotification"
            | "appcode" => Self::App,
            "fido2" | "fido" | "passkey" | "windowshelloforbusiness" | "x509certificate" => {
                Self::PhishingResistant
            }
            _ => Self::Other(value.trim().to_owned()),
        }
    }

    pub fn is_phone(&self) -> bool {
        matches!(self, Self::Sms | Self::Voice)
    }

    /// Reads the stored form back: every value [`DefaultMethod::as_str`] writes.
    pub fn from_stored(stored: &str) -> Self {
        match stored {
            "sms" => Self::Sms,
            "voice" => Self::Voice,
            "app" => Self::App,
            "phishing_resistant" => Self::PhishingResistant,
            "none" => Self::None,
            raw => Self::Other(raw.to_owned()),
        }
    }

    /// The stored and JSON form: `sms`, `voice`, `app`, `phishing_resistant`, `none`, or the raw value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Sms => "sms",
            Self::Voice => "voice",
            Self::App => "app",
            Self::PhishingResistant => "phishing_resistant",
            Self::None => "none",
            Self::Other(raw) => raw,
        }
    }
}

impl Serialize for DefaultMethod {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The effective default: the first system-preferred method when system-preferred MFA is on
/// (and names one), otherwise the user's own preference.
pub fn effective_default(
    user_preferred: Option<&str>,
    system_preferred_enabled: bool,
    system_preferred: &[String],
) -> DefaultMethod {
    if system_preferred_enabled && let Some(first) = system_preferred.first() {
        let parsed = DefaultMethod::parse(first);
        if parsed != DefaultMethod::None {
            return parsed;
        }
    }
    DefaultMethod::parse(user_preferred.unwrap_or(""))
}

words! {
    /// The migration state; every user is in exactly one (docs/design.md §2).
    pub enum State: "migration state" {
        /// P1: a phone method and nothing stronger; blocked at sign-in after the deadline.
        PhoneOnly = "phone_only",
        /// P2: phone and a stronger method, but the default is SMS or voice.
        PhoneDefault = "phone_default",
        /// P3: phone kept as a backup behind a stronger default; the phone can be removed.
        PhoneBackup = "phone_backup",
        /// Done: no phone method, a stronger one registered.
        PhoneFree = "phone_free",
        /// Neither phone nor a stronger method: a separate problem.
        NoMfa = "no_mfa",
    }
}

impl State {
    /// Migrated = phone-backup + phone-free.
    pub fn is_migrated(self) -> bool {
        matches!(self, State::PhoneBackup | State::PhoneFree)
    }
}

/// What Graph says about one user's registration (the inputs of classification).
#[derive(Debug, Clone, Default)]
pub struct Registration<'a> {
    pub methods: &'a [String],
    pub user_preferred: Option<&'a str>,
    pub system_preferred_enabled: bool,
    pub system_preferred: &'a [String],
}

/// The outcome of classifying one user (borrowing the method strings it was given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification<'a> {
    pub state: State,
    /// Methods in canonical spelling, sorted case-insensitively, without duplicates.
    pub methods: Vec<&'a str>,
    pub default_method: DefaultMethod,
    pub voice_capable: bool,
    pub voice_default: bool,
    pub phishing_resistant: bool,
    /// Method strings this version does not know (kept, shown raw, counted as "other").
    pub unknown_methods: Vec<&'a str>,
}

/// Orders strings as their lower-case forms would, without allocating them.
fn cmp_ignore_ascii_case(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

pub fn classify<'a>(reg: &Registration<'a>) -> Classification<'a> {
    // One lookup per method: its canonical spelling and its class.
    let mut methods: Vec<(&'a str, MethodClass)> = reg
        .methods
        .iter()
        .map(|m| m.trim())
        .filter(|m| !m.is_empty())
        .map(spelled_and_classed)
        .collect();
    methods.sort_by(|a, b| cmp_ignore_ascii_case(a.0, b.0));
    methods.dedup_by(|a, b| a.0.eq_ignore_ascii_case(b.0));

    let mut has_phone = false;
    let mut has_voice_only_phone = false;
    let mut has_strong = false;
    let mut phishing_resistant = false;
    let mut unknown_methods = Vec::new();
    for &(m, class) in &methods {
        match class {
            MethodClass::Phone => {
                has_phone = true;
                if !m.eq_ignore_ascii_case("mobilePhone") {
                    has_voice_only_phone = true;
                }
            }
            MethodClass::App => has_strong = true,
            MethodClass::PhishingResistant => {
                has_strong = true;
                phishing_resistant = true;
            }
            MethodClass::NotMfa | MethodClass::Temporary => {}
            MethodClass::Other => unknown_methods.push(m),
        }
    }

    let default_method = effective_default(
        reg.user_preferred,
        reg.system_preferred_enabled,
        reg.system_preferred,
    );
    let voice_default = default_method == DefaultMethod::Voice;
    let state = match (has_phone, has_strong) {
        (true, false) => State::PhoneOnly,
        (true, true) if default_method.is_phone() => State::PhoneDefault,
        (true, true) => State::PhoneBackup,
        (false, true) => State::PhoneFree,
        (false, false) => State::NoMfa,
    };
    Classification {
        state,
        methods: methods.into_iter().map(|(m, _)| m).collect(),
        default_method,
        voice_capable: has_voice_only_phone || voice_default,
        voice_default,
        phishing_resistant,
        unknown_methods,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    struct Case {
        name: &'static str,
        methods: &'static [&'static str],
        preferred: Option<&'static str>,
        system_on: bool,
        system: &'static [&'static str],
        state: State,
        voice_capable: bool,
        voice_default: bool,
        phishing_resistant: bool,
    }

    const CASES: &[Case] = &[
        Case {
            name: "mobile phone only, sms default",
            methods: &["mobilePhone"],
            preferred: Some("sms"),
            system_on: false,
            system: &[],
            state: State::PhoneOnly,
            voice_capable: false,
            voice_default: false,
            phishing_resistant: false,
        },
        Case {
            name: "office phone only is voice capable",
            methods: &["officePhone", "email"],
            preferred: Some("voiceOffice"),
            system_on: false,
            system: &[],
            state: State::PhoneOnly,
            voice_capable: true,
            voice_default: true,
            phishing_resistant: false,
        },
        Case {
            name: "alternate mobile makes voice capable even with sms default",
            methods: &["mobilePhone", "alternateMobilePhone"],
            preferred: Some("sms"),
            system_on: false,
            system: &[],
            state: State::PhoneOnly,
            voice_capable: true,
            voice_default: false,
            phishing_resistant: false,
        },
        Case {
            name: "phone plus TAP is still phone only",
            methods: &["mobilePhone", "temporaryAccessPass"],
            preferred: Some("sms"),
            system_on: false,
            system: &[],
            state: State::PhoneOnly,
            voice_capable: false,
            voice_default: false,
            phishing_resistant: false,
        },
        Case {
            name: "authenticator registered but sms default",
            methods: &["mobilePhone", "microsoftAuthenticatorPush"],
            preferred: Some("sms"),
            system_on: false,
            system: &[],
            state: State::PhoneDefault,
            voice_capable: false,
            voice_default: false,
            phishing_resistant: false,
        },
        Case {
            name: "voice default with authenticator",
            methods: &["mobilePhone", "softwareOneTimePasscode"],
            preferred: Some("voiceMobile"),
            system_on: false,
            system: &[],
            state: State::PhoneDefault,
            voice_capable: true,
            voice_default: true,
            phishing_resistant: false,
        },
        Case {
            name: "system preferred overrides a phone preference",
            methods: &["mobilePhone", "microsoftAuthenticatorPush"],
            preferred: Some("sms"),
            system_on: true,
            system: &["push"],
            state: State::PhoneBackup,
            voice_capable: false,
            voice_default: false,
            phishing_resistant: false,
        },
        Case {
            name: "system preferred on but naming sms",
            methods: &["mobilePhone", "microsoftAuthenticatorPush"],
            preferred: Some("push"),
            system_on: true,
            system: &["sms", "push"],
            state: State::PhoneDefault,
            voice_capable: false,
            voice_default: false,
            phishing_resistant: false,
        },
        Case {
            name: "system preferred off: its list is ignored",
            methods: &["mobilePhone", "microsoftAuthenticatorPush"],
            preferred: Some("push"),
            system_on: false,
            system: &["sms"],
            state: State::PhoneBackup,
            voice_capable: false,
            voice_default: false,
            phishing_resistant: false,
        },
        Case {
            name: "undocumented system-preferred value tolerated",
            methods: &["mobilePhone", "fido2SecurityKey"],
            preferred: Some(""),
            system_on: true,
            system: &["Fido2"],
            state: State::PhoneBackup,
            voice_capable: false,
            voice_default: false,
            phishing_resistant: true,
        },
        Case {
            name: "empty default with phone and app: not phone default",
            methods: &["mobilePhone", "microsoftAuthenticatorPush"],
            preferred: Some(""),
            system_on: false,
            system: &[],
            state: State::PhoneBackup,
            voice_capable: false,
            voice_default: false,
            phishing_resistant: false,
        },
        Case {
            name: "phone free with passkey",
            methods: &[
                "passKeyDeviceBoundAuthenticator",
                "microsoftAuthenticatorPush",
                "email",
            ],
            preferred: Some("push"),
            system_on: true,
            system: &["push"],
            state: State::PhoneFree,
            voice_capable: false,
            voice_default: false,
            phishing_resistant: true,
        },
        Case {
            name: "future passkey variant by prefix",
            methods: &["passKeyPlatformSynced"],
            preferred: None,
            system_on: false,
            system: &[],
            state: State::PhoneFree,
            voice_capable: false,
            voice_default: false,
            phishing_resistant: true,
        },
        Case {
            name: "certificate by x509 prefix",
            methods: &["x509CertificateMultiFactor"],
            preferred: None,
            system_on: false,
            system: &[],
            state: State::PhoneFree,
            voice_capable: false,
            voice_default: false,
            phishing_resistant: true,
        },
        Case {
            name: "email and password only",
            methods: &["email", "securityQuestion", "password"],
            preferred: Some("none"),
            system_on: false,
            system: &[],
            state: State::NoMfa,
            voice_capable: false,
            voice_default: false,
            phishing_resistant: false,
        },
        Case {
            name: "nothing at all",
            methods: &[],
            preferred: None,
            system_on: false,
            system: &[],
            state: State::NoMfa,
            voice_capable: false,
            voice_default: false,
            phishing_resistant: false,
        },
        Case {
            name: "unknown strings only are no MFA",
            methods: &["qrCodePin", "externalAuthMethod"],
            preferred: None,
            system_on: false,
            system: &[],
            state: State::NoMfa,
            voice_capable: false,
            voice_default: false,
            phishing_resistant: false,
        },
        Case {
            name: "letter case differences",
            methods: &["MOBILEPHONE", "MicrosoftAuthenticatorPush"],
            preferred: Some("SMS"),
            system_on: false,
            system: &[],
            state: State::PhoneDefault,
            voice_capable: false,
            voice_default: false,
            phishing_resistant: false,
        },
        Case {
            name: "voice default on a user without voice-only phones",
            methods: &["mobilePhone"],
            preferred: Some("voiceMobile"),
            system_on: false,
            system: &[],
            state: State::PhoneOnly,
            voice_capable: true,
            voice_default: true,
            phishing_resistant: false,
        },
    ];

    #[test]
    fn every_state_and_flag() {
        for c in CASES {
            let methods = s(c.methods);
            let system = s(c.system);
            let got = classify(&Registration {
                methods: &methods,
                user_preferred: c.preferred,
                system_preferred_enabled: c.system_on,
                system_preferred: &system,
            });
            assert_eq!(got.state, c.state, "{}: state", c.name);
            assert_eq!(
                got.voice_capable, c.voice_capable,
                "{}: voice_capable",
                c.name
            );
            assert_eq!(
                got.voice_default, c.voice_default,
                "{}: voice_default",
                c.name
            );
            assert_eq!(
                got.phishing_resistant, c.phishing_resistant,
                "{}: phishing_resistant",
                c.name
            );
        }
        // The table reaches every state.
        for &st in State::ALL {
            assert!(CASES.iter().any(|c| c.state == st), "no case for {st}");
        }
    }

    #[test]
    fn order_and_case_do_not_change_the_result() {
        let a = s(&["mobilePhone", "microsoftAuthenticatorPush", "qrCodePin"]);
        let b = s(&[
            "QRCODEPIN",
            "MicrosoftAuthenticatorPUSH",
            "mobilephone",
            "mobilePhone",
        ]);
        let ca = classify(&Registration {
            methods: &a,
            user_preferred: Some("push"),
            ..Default::default()
        });
        let cb = classify(&Registration {
            methods: &b,
            user_preferred: Some("PUSH"),
            ..Default::default()
        });
        assert_eq!(ca.state, cb.state);
        assert_eq!(
            ca.methods,
            vec!["microsoftAuthenticatorPush", "mobilePhone", "qrCodePin"]
        );
        // Unknown strings keep the first spelling seen; the comparison ignores case.
        assert_eq!(cb.methods.len(), 3);
        assert!(cb.methods[2].eq_ignore_ascii_case("qrCodePin"));
    }

    #[test]
    fn unknown_methods_are_kept() {
        let m = s(&["mobilePhone", "quantumEntanglementKey"]);
        let c = classify(&Registration {
            methods: &m,
            ..Default::default()
        });
        assert_eq!(c.unknown_methods, vec!["quantumEntanglementKey"]);
        assert_eq!(c.state, State::PhoneOnly);
        assert_eq!(method_class("quantumEntanglementKey"), MethodClass::Other);
        assert_eq!(
            method_label("quantumEntanglementKey"),
            "quantumEntanglementKey"
        );
    }

    #[test]
    fn labels_and_classes() {
        assert_eq!(method_label("officephone"), "Office phone (voice only)");
        assert_eq!(method_class("FIDO2"), MethodClass::PhishingResistant);
        assert_eq!(method_class("temporaryAccessPass"), MethodClass::Temporary);
        assert_eq!(
            canonical_method("WINDOWSHELLOFORBUSINESS"),
            "windowsHelloForBusiness"
        );
        assert_eq!(
            canonical_method("passKeySomethingNew"),
            "passKeySomethingNew"
        );
    }

    #[test]
    fn default_method_values() {
        assert_eq!(
            DefaultMethod::parse("voiceAlternateMobile"),
            DefaultMethod::Voice
        );
        assert_eq!(
            DefaultMethod::parse("PhoneAppNotification"),
            DefaultMethod::App
        );
        assert_eq!(DefaultMethod::parse(""), DefaultMethod::None);
        assert_eq!(
            DefaultMethod::parse("unknownFutureValue").as_str(),
            "unknownFutureValue"
        );
        assert!(State::PhoneFree.is_migrated() && !State::PhoneDefault.is_migrated());
        assert_eq!("phone_backup".parse(), Ok(State::PhoneBackup));
        for stored in [
            "sms",
            "voice",
            "app",
            "phishing_resistant",
            "none",
            "qrCodePin",
        ] {
            assert_eq!(DefaultMethod::from_stored(stored).as_str(), stored);
        }
        assert_eq!(DefaultMethod::from_stored("sms"), DefaultMethod::Sms);
    }
}
