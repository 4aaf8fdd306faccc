//! Item 3: Conditional Access enforces a no-phone authentication strength, with the users and
//! apps each policy covers in words.

use super::*;

pub(super) const STRENGTH_KEY: &str = "strength_enforced";
pub(super) const STRENGTH_TITLE: &str =
    "Conditional Access requires a no-phone authentication strength";

/// A Conditional Access policy that requires an authentication strength, the strength resolved.
pub(super) struct StrengthRequirement<'a> {
    policy: &'a ConditionalAccessPolicy,
    state: CaState,
    strength: String,
    /// None when the inline strength has no combinations and the strengths could not be read.
    combinations: Option<&'a [String]>,
    /// The strength's id is not among the tenant's strengths (and the inline copy is empty).
    missing: bool,
}

impl StrengthRequirement<'_> {
    fn no_phone(&self) -> bool {
        self.combinations.is_some_and(no_phone_combinations)
    }
}

pub(super) fn strength_enforced(p: Policies<'_>, ctx: &Context) -> Item {
    let Some(policies) = p.conditional_access else {
        return unavailable(
            STRENGTH_KEY,
            STRENGTH_TITLE,
            "The Conditional Access policies",
        );
    };
    let required: Vec<StrengthRequirement<'_>> = policies
        .iter()
        .filter_map(|ca| {
            let inline = ca
                .grant_controls
                .as_ref()?
                .authentication_strength
                .as_ref()?;
            let known = p.strengths.and_then(|all| {
                all.iter()
                    .find(|s| s.id.trim().eq_ignore_ascii_case(inline.id.trim()))
            });
            let combinations = if inline.allowed_combinations.is_empty() {
                known.map(|k| k.allowed_combinations.as_slice())
            } else {
                Some(inline.allowed_combinations.as_slice())
            };
            let strength = [inline.display_name.as_str()]
                .into_iter()
                .chain(known.map(|k| k.display_name.as_str()))
                .find(|n| !n.trim().is_empty())
                .unwrap_or(inline.id.as_str())
                .to_owned();
            Some(StrengthRequirement {
                policy: ca,
                state: ca_state(&ca.state),
                strength,
                combinations,
                missing: combinations.is_none() && p.strengths.is_some(),
            })
        })
        .collect();

    let no_phone: Vec<&StrengthRequirement<'_>> = required
        .iter()
        .filter(|r| r.no_phone() && r.state != CaState::Off)
        .collect();
    let evidence = |rs: &[&StrengthRequirement<'_>]| -> Vec<String> {
        rs.iter()
            .map(|r| {
                format!(
                    "Conditional Access policy '{}' ({}) requires the authentication strength \
                     '{}' for {}, on {}.",
                    r.policy.display_name,
                    r.state.words(),
                    r.strength,
                    users_words(r.policy.conditions.users.as_ref(), ctx),
                    apps_words(r.policy.conditions.applications.as_ref()),
                )
            })
            .collect()
    };
    if no_phone.iter().any(|r| r.state == CaState::On) {
        return Verdict::new(Status::Green, evidence(&no_phone), None)
            .into_item(STRENGTH_KEY, STRENGTH_TITLE);
    }
    if !no_phone.is_empty() {
        let names: Vec<String> = no_phone
            .iter()
            .map(|r| format!("'{}'", r.policy.display_name))
            .collect();
        return Verdict::new(
            Status::Amber,
            evidence(&no_phone),
            Some(format!(
                "The no-phone requirement is only reported, not enforced. In the Microsoft Entra \
                 admin center, go to Conditional Access → Policies, open {}, check in the \
                 sign-in logs who it would have stopped, then set Enable policy from Report-only \
                 to On.",
                names.join(", ")
            )),
        )
        .into_item(STRENGTH_KEY, STRENGTH_TITLE);
    }

    // Nothing enforces a no-phone strength: say which policies still accept a phone.
    let mut lines = Vec::new();
    let mut unknown = false;
    for ca in policies {
        let state = ca_state(&ca.state);
        let r = required.iter().find(|r| std::ptr::eq(r.policy, ca));
        let builtin_mfa = ca
            .grant_controls
            .as_ref()
            .is_some_and(|g| g.built_in_controls.iter().any(|b| is(b, "mfa")));
        match (state, r) {
            (CaState::Off, Some(r)) if r.no_phone() => lines.push(format!(
                "Conditional Access policy '{}' would require the no-phone strength '{}', but it \
                 is off.",
                ca.display_name, r.strength
            )),
            (CaState::Off, _) => {}
            (_, Some(r)) => match r.combinations {
                Some(combos) if allows_phone(combos) => lines.push(format!(
                    "Conditional Access policy '{}' ({}) requires the strength '{}', which still \
                     allows SMS or voice calls.",
                    ca.display_name,
                    state.words(),
                    r.strength
                )),
                Some(_) => lines.push(format!(
                    "Conditional Access policy '{}' ({}) requires the strength '{}', which \
                     includes neither the Authenticator app, a passkey, Windows Hello nor a \
                     certificate.",
                    ca.display_name,
                    state.words(),
                    r.strength
                )),
                None if r.missing => lines.push(format!(
                    "Conditional Access policy '{}' ({}) requires the strength '{}', which is \
                     not among the tenant's authentication strengths.",
                    ca.display_name,
                    state.words(),
                    r.strength
                )),
                None => {
                    unknown = true;
                    lines.push(format!(
                        "Conditional Access policy '{}' ({}) requires the strength '{}', whose \
                         methods could not be read.",
                        ca.display_name,
                        state.words(),
                        r.strength
                    ));
                }
            },
            (_, None) if builtin_mfa => lines.push(format!(
                "Conditional Access policy '{}' ({}) requires multifactor authentication with the \
                 built-in control, which accepts SMS and voice calls.",
                ca.display_name,
                state.words()
            )),
            (_, None) => {}
        }
    }
    if unknown {
        lines.push(
            "The authentication strengths could not be read, so this cannot be checked.".to_owned(),
        );
        return Item {
            key: STRENGTH_KEY,
            title: STRENGTH_TITLE,
            status: Status::Unavailable,
            evidence: lines,
            fix: None,
        };
    }
    if lines.is_empty() {
        lines.push(
            "No Conditional Access policy requires multifactor authentication or an \
             authentication strength."
                .to_owned(),
        );
    }
    Verdict::new(
        Status::Red,
        lines,
        Some(
            "Create an authentication strength without SMS and voice (in the Microsoft Entra \
             admin center, Authentication methods → Authentication strengths; the built-in \
             Passwordless MFA and Phishing-resistant MFA also qualify). Require it in a \
             Conditional Access policy for all users with the exclusion group excluded, run it \
             in Report-only until the sign-in logs show nobody would be stopped unexpectedly, \
             then turn it On."
                .to_owned(),
        ),
    )
    .into_item(STRENGTH_KEY, STRENGTH_TITLE)
}

/// A Conditional Access policy's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CaState {
    On,
    ReportOnly,
    Off,
}

impl CaState {
    /// The words of the admin center's "Enable policy" switch.
    pub(super) fn words(self) -> &'static str {
        match self {
            CaState::On => "on",
            CaState::ReportOnly => "report-only",
            CaState::Off => "off",
        }
    }
}

pub(super) fn ca_state(s: &str) -> CaState {
    if is(s, "enabled") {
        CaState::On
    } else if is(s, "enabledForReportingButNotEnforced") {
        CaState::ReportOnly
    } else {
        CaState::Off
    }
}

/// The policy asks for MFA: the built-in `mfa` control or an authentication strength.
pub(super) fn requires_mfa(ca: &ConditionalAccessPolicy) -> bool {
    ca.grant_controls.as_ref().is_some_and(|g| {
        g.authentication_strength.is_some() || g.built_in_controls.iter().any(|b| is(b, "mfa"))
    })
}

/// Method modes that count as "off the phone" (graph-api.md §6, authenticationMethodModes).
pub(super) const NO_PHONE_MODES: &[&str] = &[
    "microsoftAuthenticatorPush",
    "deviceBasedPush",
    "fido2",
    "windowsHelloForBusiness",
    "x509CertificateMultiFactor",
    "x509CertificateSingleFactor",
];

pub(super) fn modes(combination: &str) -> impl Iterator<Item = &str> {
    combination.split(',').map(str::trim)
}

pub(super) fn allows_phone(combinations: &[String]) -> bool {
    combinations
        .iter()
        .flat_map(|c| modes(c))
        .any(|m| is(m, "sms") || is(m, "voice"))
}

pub(super) fn no_phone_combinations(combinations: &[String]) -> bool {
    !allows_phone(combinations)
        && combinations
            .iter()
            .flat_map(|c| modes(c))
            .any(|m| NO_PHONE_MODES.iter().any(|n| is(m, n)))
}

/// Who a Conditional Access policy applies to: "all users (2,000 in scope) except Phone MFA
/// exceptions (12 members)".
pub(super) fn users_words(users: Option<&ConditionalAccessUsers>, ctx: &Context) -> String {
    let Some(u) = users else {
        return "no users listed".to_owned();
    };
    let people = |ids: &[String]| -> Vec<String> {
        let mut out = Vec::new();
        let mut others = 0;
        for id in ids {
            if is(id, "All") {
                out.push(all_users(ctx));
            } else if is(id, "GuestsOrExternalUsers") {
                out.push("guests and external users".to_owned());
            } else if is(id, "None") {
                out.push("nobody".to_owned());
            } else {
                others += 1;
            }
        }
        if others > 0 {
            out.push(plural(others, "user", "users"));
        }
        out
    };
    let groups = |ids: &[String]| ids.iter().map(|g| group_label(g, ctx)).collect::<Vec<_>>();
    let roles = |ids: &[String]| {
        (!ids.is_empty()).then(|| {
            format!(
                "holders of {}",
                plural(ids.len() as i64, "directory role", "directory roles")
            )
        })
    };
    let mut include = people(&u.include_users);
    include.extend(groups(&u.include_groups));
    include.extend(roles(&u.include_roles));
    let mut exclude = people(&u.exclude_users);
    exclude.extend(groups(&u.exclude_groups));
    exclude.extend(roles(&u.exclude_roles));
    let include = if include.is_empty() {
        "nobody".to_owned()
    } else {
        include.join(", ")
    };
    if exclude.is_empty() {
        include
    } else {
        format!("{include} except {}", exclude.join(", "))
    }
}

/// What a Conditional Access policy applies to: "all cloud apps", "Microsoft admin portals".
pub(super) fn apps_words(applications: Option<&Value>) -> String {
    let list = |field: &str| -> Vec<String> {
        applications
            .and_then(|a| a.get(field))
            .and_then(Value::as_array)
            .map(|v| {
                v.iter()
                    .filter_map(Value::as_str)
                    .map(app_name)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let mut include = list("includeApplications");
    include.extend(list("includeUserActions"));
    let exclude = list("excludeApplications");
    if include.is_empty() {
        return "no applications listed".to_owned();
    }
    let include = include.join(", ");
    if exclude.is_empty() {
        include
    } else {
        format!("{include} except {}", exclude.join(", "))
    }
}

pub(super) fn app_name(id: &str) -> String {
    let known = [
        ("All", "all cloud apps"),
        ("None", "no apps"),
        ("Office365", "Office 365"),
        ("MicrosoftAdminPortals", "Microsoft admin portals"),
        (
            "urn:user:registersecurityinfo",
            "registering security information",
        ),
        ("urn:user:registerdevice", "registering or joining devices"),
    ];
    known
        .iter()
        .find(|(k, _)| is(id, k))
        .map_or_else(|| id.to_owned(), |(_, words)| (*words).to_owned())
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn no_phone_strengths() {
        let s = |combos: &[&str]| is_no_phone_strength(&strength("x", "x", combos));
        assert!(s(NO_PHONE));
        assert!(s(&["deviceBasedPush"]));
        assert!(s(&["X509CertificateMultiFactor"]));
        assert!(s(&["PASSWORD, MicrosoftAuthenticatorPush"]));
        assert!(!s(WITH_PHONE));
        assert!(!s(&["fido2", "sms,federatedSingleFactor"]));
        assert!(!s(&["fido2", "Password,SMS"]));
        assert!(!s(&["password,softwareOath", "temporaryAccessPassOneTime"]));
        assert!(!s(&[]));
        // A mode that merely contains "sms" in its name is not SMS.
        assert!(s(&["fido2", "smsLikeFutureValue"]));

        // The simulated tenant's built-ins and custom strength.
        let story = sim_tenant().policy_story();
        let strengths = story.strength_policies(DAYS);
        let verdicts: Vec<(&str, bool)> = strengths
            .iter()
            .map(|s| (s.display_name.as_str(), is_no_phone_strength(s)))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("Multifactor authentication", false),
                ("Passwordless MFA", true),
                ("Phishing resistant MFA", true),
                ("Phishing-resistant or Authenticator (no phone)", true),
            ]
        );
    }

    #[test]
    fn strength_green_when_an_enforced_policy_requires_a_no_phone_strength() {
        let policies = [
            ca("Require MFA for all users", "enabled", builtin("mfa")),
            ca(
                "No phone",
                "ENABLED",
                with_strength(strength("s1", "No phone strength", NO_PHONE)),
            ),
        ];
        let i = ca_item(&policies, None);
        assert_status(&i, Status::Green);
        assert_eq!(
            i.evidence,
            [
                "Conditional Access policy 'No phone' (on) requires the authentication strength \
              'No phone strength' for all users (2,000 in scope) except Phone MFA exceptions \
              (12 members), on all cloud apps."
            ]
        );
    }

    #[test]
    fn strength_resolved_by_id_when_inline_combinations_are_missing() {
        let inline = strength(CUSTOM_STRENGTH_ID, "", &[]);
        let known = [
            strength(STRENGTH_MFA_ID, "Multifactor authentication", WITH_PHONE),
            strength(
                &CUSTOM_STRENGTH_ID.to_uppercase(),
                "Custom no phone",
                NO_PHONE,
            ),
        ];
        let mut policy = ca("Admins", "enabled", with_strength(inline));
        policy.conditions.applications = Some(json!({
            "includeApplications": ["MicrosoftAdminPortals", "00000003-0000-0ff1-ce00-000000000000"],
            "excludeApplications": [],
        }));
        let policies = [policy];
        let i = ca_item(&policies, Some(&known));
        assert_status(&i, Status::Green);
        let t = text(&i);
        assert!(t.contains("'Custom no phone'"), "{t}");
        assert!(
            t.contains("on Microsoft admin portals, 00000003-0000-0ff1-ce00-000000000000."),
            "{t}"
        );

        // The same with the strengths unreadable: nothing can be said.
        let i = ca_item(&policies, None);
        assert_status(&i, Status::Unavailable);
        assert!(text(&i).contains("could not be read"));

        // Or with the strength gone from the tenant: it is not a no-phone strength.
        let i = ca_item(&policies, Some(&known[..1]));
        assert_status(&i, Status::Red);
        assert!(text(&i).contains("not among the tenant's authentication strengths"));
    }

    #[test]
    fn strength_amber_when_only_report_only() {
        let policies = [
            ca(
                "No phone (pilot)",
                "enabledForReportingButNotEnforced",
                with_strength(strength("s1", "No phone strength", NO_PHONE)),
            ),
            ca(
                "Off one",
                "disabled",
                with_strength(strength("s1", "No phone strength", NO_PHONE)),
            ),
        ];
        let i = ca_item(&policies, None);
        assert_status(&i, Status::Amber);
        let t = text(&i);
        assert!(t.contains("'No phone (pilot)' (report-only)"), "{t}");
        assert!(!t.contains("Off one"), "{t}");
        let fix = i.fix.expect("fix");
        assert!(
            fix.contains("'No phone (pilot)'") && fix.contains("Report-only to On"),
            "{fix}"
        );

        // Case does not matter.
        let policies = [ca(
            "No phone (pilot)",
            "ENABLEDFORREPORTINGBUTNOTENFORCED",
            with_strength(strength("s1", "No phone strength", NO_PHONE)),
        )];
        assert_status(&ca_item(&policies, None), Status::Amber);
    }

    #[test]
    fn strength_red_lists_the_policies_that_still_accept_a_phone() {
        let policies = [
            ca("Block legacy authentication", "enabled", builtin("block")),
            ca("Require MFA for all users", "enabled", builtin("MFA")),
            ca(
                "Guests",
                "enabledForReportingButNotEnforced",
                with_strength(strength(
                    STRENGTH_MFA_ID,
                    "Multifactor authentication",
                    WITH_PHONE,
                )),
            ),
            ca(
                "No phone, switched off",
                "disabled",
                with_strength(strength("s1", "No phone strength", NO_PHONE)),
            ),
            ca("Old MFA, switched off", "disabled", builtin("mfa")),
        ];
        let i = ca_item(&policies, None);
        assert_status(&i, Status::Red);
        assert_eq!(
            i.evidence,
            [
                "Conditional Access policy 'Require MFA for all users' (on) requires multifactor \
                 authentication with the built-in control, which accepts SMS and voice calls.",
                "Conditional Access policy 'Guests' (report-only) requires the strength \
                 'Multifactor authentication', which still allows SMS or voice calls.",
                "Conditional Access policy 'No phone, switched off' would require the no-phone \
                 strength 'No phone strength', but it is off.",
            ]
        );
        assert!(i.fix.expect("fix").contains("Report-only"));

        let i = ca_item(&[], None);
        assert_status(&i, Status::Red);
        assert!(text(&i).contains("No Conditional Access policy requires"));
    }

    #[test]
    fn strength_evidence_names_users_and_apps() {
        let users = ConditionalAccessUsers {
            include_users: vec![
                "u1".to_owned(),
                "u2".to_owned(),
                "GuestsOrExternalUsers".to_owned(),
            ],
            include_groups: vec![PILOT.to_owned()],
            include_roles: vec!["r1".to_owned()],
            exclude_users: vec!["u3".to_owned()],
            exclude_groups: vec![EXCEPTIONS.to_owned(), UNKNOWN.to_owned()],
            exclude_roles: vec![],
        };
        assert_eq!(
            users_words(Some(&users), &ctx()),
            format!(
                "guests and external users, 2 users, Passkey pilot (1,250 members), holders of 1 \
                 directory role except 1 user, Phone MFA exceptions (12 members), group {UNKNOWN}"
            )
        );
        assert_eq!(users_words(None, &ctx()), "no users listed");
        assert_eq!(
            users_words(Some(&ConditionalAccessUsers::default()), &ctx()),
            "nobody"
        );
        let mut no_count = ctx();
        no_count.users_in_scope = 0;
        let all = ConditionalAccessUsers {
            include_users: vec!["all".to_owned()],
            ..ConditionalAccessUsers::default()
        };
        assert_eq!(users_words(Some(&all), &no_count), "all users");
        assert_eq!(
            apps_words(Some(&json!({
                "includeApplications": ["Office365"],
                "excludeApplications": ["app-1"],
                "includeUserActions": ["urn:user:registersecurityinfo"],
            }))),
            "Office 365, registering security information except app-1"
        );
        assert_eq!(apps_words(None), "no applications listed");
    }

    #[test]
    fn strength_unavailable_without_conditional_access() {
        let strengths = [strength("s1", "x", NO_PHONE)];
        let i = item(
            Policies {
                methods: None,
                strengths: Some(&strengths),
                conditional_access: None,
            },
            &ctx(),
            "strength_enforced",
        );
        assert_status(&i, Status::Unavailable);
    }
}
