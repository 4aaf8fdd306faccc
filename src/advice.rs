//! What the helpdesk reads: a user's state in words, why they are in it, and what to do next.
//! All the wording is here, in one place. Pure: facts in, sentences out.

use crate::domain::classify::{DefaultMethod, MethodClass, State, method_class, method_label};
use chrono::NaiveDate;

/// Where users register and change their own methods.
pub const SELF_SERVICE_URL: &str = "https://aka.ms/mysecurityinfo";

/// The state for people.
pub fn state_label(s: State) -> &'static str {
    match s {
        State::PhoneOnly => "Phone only",
        State::PhoneDefault => "Phone default",
        State::PhoneBackup => "Phone backup",
        State::PhoneFree => "Phone free",
        State::NoMfa => "No MFA",
    }
}

/// The priority for people: "P1: blocked at sign-in after the deadline", …
pub fn priority_label(s: State) -> &'static str {
    match s {
        State::PhoneOnly => "P1: will be blocked at sign-in after the deadline",
        State::PhoneDefault => "P2: a stronger method is registered, but the phone is the default",
        State::PhoneBackup => "P3: the phone is only a backup and can be removed",
        State::PhoneFree => "Done: no phone method",
        State::NoMfa => "No MFA at all: a separate problem",
    }
}

/// The effective default in plain words.
pub fn default_label(d: &DefaultMethod) -> String {
    match d {
        DefaultMethod::Sms => "Text message (SMS)".into(),
        DefaultMethod::Voice => "Voice call".into(),
        DefaultMethod::App => "Authenticator app (push or code)".into(),
        DefaultMethod::PhishingResistant => "Passkey, FIDO2 or Windows Hello".into(),
        DefaultMethod::None => "None set".into(),
        DefaultMethod::Other(raw) if raw.is_empty() => "None set".into(),
        DefaultMethod::Other(raw) => raw.clone(),
    }
}

/// What a method is worth, in words: the class, and for phones what they can still do.
pub fn class_label(method: &str) -> &'static str {
    match method_class(method) {
        MethodClass::Phone if method.eq_ignore_ascii_case("mobilePhone") => "Phone: SMS and voice",
        MethodClass::Phone => "Phone: voice only",
        MethodClass::App => "App: strong, but can be phished",
        MethodClass::PhishingResistant => "Phishing-resistant",
        MethodClass::NotMfa => "Not MFA (password reset only)",
        MethodClass::Temporary => "Temporary: not a lasting method",
        MethodClass::Other => "Unknown to phoneless: not counted as MFA",
    }
}

fn labels_of(methods: &[String], pick: impl Fn(MethodClass) -> bool) -> Vec<String> {
    methods
        .iter()
        .filter(|m| pick(method_class(m)))
        .map(|m| method_label(m))
        .collect()
}

fn strong(c: MethodClass) -> bool {
    matches!(c, MethodClass::App | MethodClass::PhishingResistant)
}

/// "A, B and C".
fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Why the user is in their state, in one sentence.
pub fn reason(state: State, methods: &[String], default_method: &DefaultMethod) -> String {
    let phones = list(&labels_of(methods, |c| c == MethodClass::Phone));
    let stronger = list(&labels_of(methods, strong));
    let default = default_label(default_method);
    match state {
        State::PhoneOnly => {
            let n = labels_of(methods, |c| c == MethodClass::Phone).len();
            if n == 1 {
                format!("Only a phone is registered as a second factor: {phones}.")
            } else {
                format!("Only phones are registered as second factors: {phones}.")
            }
        }
        State::PhoneDefault => format!(
            "{stronger} is registered, but the default sign-in method is still {}.",
            default.to_lowercase()
        ),
        State::PhoneBackup => format!(
            "Signs in with {} by default; {phones} remains as a backup.",
            default.to_lowercase()
        ),
        State::PhoneFree => format!("No phone method; signs in with {stronger}."),
        State::NoMfa => {
            let unknown = labels_of(methods, |c| c == MethodClass::Other);
            if unknown.is_empty() {
                "No MFA method is registered.".to_owned()
            } else {
                format!(
                    "No MFA method phoneless knows is registered (unknown: {}).",
                    list(&unknown)
                )
            }
        }
    }
}

/// The step that suggests a few days in an exclusion group (the page offers the action next
/// to it).
pub const ALLOWLIST_STEP: &str = "If they must keep working before they can register one (a \
     security key on order, no phone allowed at work), a few days in an exclusion group keeps \
     their phone working meanwhile; give the entry an end.";

/// Which action a step suggests, so the page can offer it next to the step.
pub fn offers(step: &str) -> Option<crate::domain::Action> {
    if step.contains("Temporary Access Pass") {
        Some(crate::domain::Action::Tap)
    } else if step == ALLOWLIST_STEP {
        Some(crate::domain::Action::Allowlist)
    } else {
        None
    }
}

/// What to do next, most useful first. `lost` names the strong methods the user had before
/// and no longer has, with the date they went.
/// What to do for someone blocked although they registered a stronger method: the policy hides
/// it from them (`hidden`: those methods in words, with why). Replaces the state's steps,
/// which assume the registered methods can be used.
pub fn blocked_steps(hidden: &[String], phone_usable: bool, deadline: NaiveDate) -> Vec<String> {
    let last = if phone_usable {
        "Do not remove their phone yet: today it is the only method they are allowed to use."
    } else {
        "The policy does not let them use their phone either, so nothing they registered works \
         for MFA today: a Temporary Access Pass gets them signed in to register an allowed \
         method."
    };
    vec![
        format!(
            "Their stronger methods are registered but the authentication methods policy does not \
             let them use them ({}). Unless that changes, they will be blocked at sign-in on {}.",
            hidden.join("; "),
            deadline.format("%-d %B %Y")
        ),
        "Ask whoever owns the authentication methods policy to include them in one of those \
         methods, or have them register a method the policy allows them (a passkey, where \
         Passkey (FIDO2) is on for them)."
            .to_owned(),
        last.to_owned(),
    ]
}

/// What to do for someone with only a phone that the methods policy does not let them use
/// (`refused`: the phone methods in words, with why): nothing they registered works for MFA
/// today, so the phone-only steps (register, or a few days on the allowlist) do not help.
pub fn phone_refused_steps(refused: &[String], deadline: NaiveDate) -> Vec<String> {
    vec![
        format!(
            "The authentication methods policy does not let them use their phone ({}), so \
             nothing they registered works for MFA today: a Temporary Access Pass gets them \
             signed in to register Microsoft Authenticator or a passkey at {SELF_SERVICE_URL}.",
            refused.join("; ")
        ),
        format!(
            "Or ask whoever owns the policy to include them in SMS until they have registered \
             a stronger method; SMS and voice stop working on {} in any case.",
            deadline.format("%-d %B %Y")
        ),
    ]
}

pub fn next_steps(
    state: State,
    methods: &[String],
    default_method: &DefaultMethod,
    lost: Option<(&[String], NaiveDate)>,
    deadline: NaiveDate,
) -> Vec<String> {
    let deadline = deadline.format("%-d %B %Y");
    let mut steps = Vec::new();
    if let Some((gone, when)) = lost.filter(|(g, _)| !g.is_empty())
        && matches!(state, State::PhoneOnly | State::NoMfa)
    {
        steps.push(format!(
            "They had {} until {}. If they lost that device, an administrator can issue a \
             Temporary Access Pass so they can sign in and register the new one.",
            list(gone),
            when.format("%-d %B %Y")
        ));
    }
    match state {
        State::PhoneOnly => {
            steps.push(format!(
                "Register Microsoft Authenticator or a passkey at {SELF_SERVICE_URL} and make it \
                 the default: SMS and voice stop working on {deadline}."
            ));
            steps.push(ALLOWLIST_STEP.to_owned());
        }
        State::PhoneDefault => {
            let kind = if *default_method == DefaultMethod::Voice {
                "a voice call"
            } else {
                "a text message"
            };
            steps.push(format!(
                "Change the default sign-in method from {kind} to {} at {SELF_SERVICE_URL} \
                 (Security info → Change default).",
                list(&labels_of(methods, strong))
            ));
        }
        State::PhoneBackup => {
            steps.push(format!(
                "Nothing urgent. Once they are sure the stronger method works, they can delete the \
                 phone at {SELF_SERVICE_URL}."
            ));
        }
        State::PhoneFree => {
            if labels_of(methods, |c| c == MethodClass::PhishingResistant).is_empty() {
                steps.push(format!(
                    "Nothing to do for the deadline. A passkey ({SELF_SERVICE_URL}) would also \
                     protect them from phishing."
                ));
            } else {
                steps.push("Nothing to do: no phone, and a phishing-resistant method.".into());
            }
        }
        State::NoMfa => {
            steps.push(format!(
                "Register Microsoft Authenticator or a passkey at {SELF_SERVICE_URL} before \
                 {deadline}. If they cannot sign in to do it, an administrator can issue a \
                 Temporary Access Pass."
            ));
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_hidden_stronger_method_is_no_reason_to_remove_the_phone() {
        let hidden = m(&[
            "Microsoft Authenticator (push): the Microsoft Authenticator policy \
                          does not include them",
        ]);
        let date = NaiveDate::from_ymd_opt(2027, 2, 1).expect("date");
        let steps = blocked_steps(&hidden, true, date);
        assert!(steps[0].contains("does not include them") && steps[0].contains("1 February 2027"));
        assert!(steps[2].contains("Do not remove their phone"));
        let none = blocked_steps(&hidden, false, date);
        assert!(none[2].contains("Temporary Access Pass"), "{none:?}");
    }

    fn deadline() -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 2, 1).expect("date")
    }

    #[test]
    fn reasons_name_the_methods() {
        assert_eq!(
            reason(State::PhoneOnly, &m(&["mobilePhone"]), &DefaultMethod::Sms),
            "Only a phone is registered as a second factor: Mobile phone (SMS + voice)."
        );
        assert!(
            reason(
                State::PhoneDefault,
                &m(&["microsoftAuthenticatorPush", "mobilePhone"]),
                &DefaultMethod::Voice
            )
            .ends_with("default sign-in method is still voice call.")
        );
        assert_eq!(
            reason(
                State::NoMfa,
                &m(&["email", "qrCodePin"]),
                &DefaultMethod::None
            ),
            "No MFA method phoneless knows is registered (unknown: qrCodePin)."
        );
    }

    #[test]
    fn a_refused_phone_gets_a_pass_not_the_allowlist() {
        let steps = phone_refused_steps(
            &["Mobile phone: the SMS policy does not include them".to_owned()],
            deadline(),
        );
        assert_eq!(offers(&steps[0]), Some(crate::domain::Action::Tap));
        assert!(steps[0].contains("SMS policy does not include them"));
        assert!(
            steps
                .iter()
                .all(|s| offers(s) != Some(crate::domain::Action::Allowlist))
        );
        assert!(steps[1].contains("1 February 2027"));
    }

    #[test]
    fn steps_follow_the_state() {
        let only = next_steps(
            State::PhoneOnly,
            &m(&["mobilePhone"]),
            &DefaultMethod::Sms,
            None,
            deadline(),
        );
        assert_eq!(only.len(), 2);
        assert!(only[0].contains(SELF_SERVICE_URL) && only[0].contains("1 February 2027"));
        // The second offers a few days on the allowlist; the lost device's step a pass.
        assert_eq!(offers(&only[1]), Some(crate::domain::Action::Allowlist));
        assert_eq!(offers(&only[0]), None);
        let lost = m(&["Microsoft Authenticator (push)"]);
        let when = NaiveDate::from_ymd_opt(2026, 11, 2).expect("date");
        let tap = next_steps(
            State::PhoneOnly,
            &m(&["mobilePhone"]),
            &DefaultMethod::Sms,
            Some((&lost, when)),
            deadline(),
        );
        assert!(tap[0].contains("Temporary Access Pass") && tap[0].contains("2 November 2026"));
        assert_eq!(offers(&tap[0]), Some(crate::domain::Action::Tap));
        let voice = next_steps(
            State::PhoneDefault,
            &m(&["microsoftAuthenticatorPush", "officePhone"]),
            &DefaultMethod::Voice,
            None,
            deadline(),
        );
        assert!(voice[0].contains("from a voice call to Microsoft Authenticator"));
    }

    #[test]
    fn classes_in_words() {
        assert_eq!(class_label("mobilePhone"), "Phone: SMS and voice");
        assert_eq!(class_label("officePhone"), "Phone: voice only");
        assert_eq!(class_label("passKeyDeviceBound"), "Phishing-resistant");
        assert_eq!(
            class_label("somethingNew"),
            "Unknown to phoneless: not counted as MFA"
        );
    }
}
