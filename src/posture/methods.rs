//! The checklist items on the methods policy: voice and SMS narrowed (1–2), the stronger
//! methods on (5–7), the registration campaign and the policy migration (8–9).

use super::*;

pub(super) fn voice_disabled(m: &AuthenticationMethodsPolicy, ctx: &Context) -> Verdict {
    let name = "Voice call";
    let c = method(m, "Voice");
    let mut evidence = method_evidence(c, name, ctx);
    let Some(c) = c.filter(|c| is_enabled(c)) else {
        return Verdict::new(Status::Green, evidence, None);
    };
    match c.is_office_phone_allowed {
        Some(true) => evidence.push("Calls to office phones are allowed.".to_owned()),
        Some(false) => evidence.push("Calls to office phones are not allowed.".to_owned()),
        None => {}
    }
    if reaches_everyone(c) {
        Verdict::new(
            Status::Red,
            evidence,
            Some(format!(
                "{METHODS_PAGE} → Policies → Voice call and set Enable to No. People who cannot \
                 use the Authenticator app or a passkey yet can keep SMS through the exclusion \
                 group instead."
            )),
        )
    } else {
        Verdict::new(
            Status::Amber,
            evidence,
            Some(format!(
                "Voice calls still reach {}. Move them to the Authenticator app or a passkey \
                 (or to SMS through the exclusion group), then {} → Policies → Voice call and \
                 set Enable to No.",
                include_list(c, ctx),
                lower_first(METHODS_PAGE),
            )),
        )
    }
}

pub(super) fn sms_restricted(m: &AuthenticationMethodsPolicy, ctx: &Context) -> Verdict {
    let name = "SMS";
    let c = method(m, "Sms");
    let mut evidence = method_evidence(c, name, ctx);
    let Some(c) = c.filter(|c| is_enabled(c)) else {
        return Verdict::new(Status::Green, evidence, None);
    };
    let sign_in: Vec<&MethodTarget> = c
        .include_targets
        .iter()
        .filter(|t| t.is_usable_for_sign_in == Some(true))
        .collect();
    if sign_in.is_empty() {
        if !c.include_targets.is_empty() {
            evidence.push(
                "None of them can use SMS to sign in (SMS sign-in is off): a text message is \
                 only a second factor."
                    .to_owned(),
            );
        }
    } else {
        let who: Vec<String> = sign_in
            .iter()
            .map(|t| target_label(&t.id, &t.target_type, ctx))
            .collect();
        evidence.push(format!(
            "SMS sign-in is on (a text message instead of a password) for {}.",
            who.join(", ")
        ));
    }
    if reaches_everyone(c) {
        Verdict::new(
            Status::Red,
            evidence,
            Some(format!(
                "{METHODS_PAGE} → Policies → SMS. Replace All users with the exclusion group (and \
                 any group that still resets passwords by text message) and clear Use for \
                 sign-in. Once nobody needs SMS, set Enable to No."
            )),
        )
    } else if !sign_in.is_empty() {
        Verdict::new(
            Status::Amber,
            evidence,
            Some(format!(
                "{METHODS_PAGE} → Policies → SMS and clear Use for sign-in for every target: a \
                 text message should never replace the password."
            )),
        )
    } else {
        Verdict::new(Status::Green, evidence, None)
    }
}

pub(super) fn authenticator_enabled(m: &AuthenticationMethodsPolicy, ctx: &Context) -> Verdict {
    let name = "Microsoft Authenticator";
    let c = method(m, "MicrosoftAuthenticator");
    let mut evidence = method_evidence(c, name, ctx);
    let Some(c) = c.filter(|c| is_enabled(c)) else {
        return Verdict::new(
            Status::Red,
            evidence,
            Some(format!(
                "{METHODS_PAGE} → Policies → Microsoft Authenticator, set Enable to Yes and target \
                 All users: it is where most people go when the phone methods close."
            )),
        );
    };
    for t in &c.include_targets {
        if let Some(mode) = t.authentication_mode.as_deref() {
            evidence.push(format!(
                "Mode for {}: {}.",
                target_label(&t.id, &t.target_type, ctx),
                authenticator_mode(mode)
            ));
        }
    }
    if reaches_everyone(c) {
        Verdict::new(Status::Green, evidence, None)
    } else {
        Verdict::new(
            Status::Amber,
            evidence,
            Some(format!(
                "{METHODS_PAGE} → Policies → Microsoft Authenticator and add All users to the \
                 targets, so everybody leaving the phone methods can use the app."
            )),
        )
    }
}

pub(super) fn authenticator_mode(mode: &str) -> String {
    if is(mode, "any") {
        "notifications and passwordless sign-in".to_owned()
    } else if is(mode, "push") {
        "notifications only".to_owned()
    } else if is(mode, "deviceBasedPush") {
        "passwordless sign-in only".to_owned()
    } else {
        mode.to_owned()
    }
}

pub(super) fn passkeys_enabled(m: &AuthenticationMethodsPolicy, ctx: &Context) -> Verdict {
    let name = "Passkey (FIDO2)";
    let c = method(m, "Fido2");
    let mut evidence = method_evidence(c, name, ctx);
    let Some(c) = c.filter(|c| is_enabled(c)) else {
        return Verdict::new(
            Status::Amber,
            evidence,
            Some(format!(
                "{METHODS_PAGE} → Policies → Passkey (FIDO2), set Enable to Yes and target All \
                 users. The Authenticator app covers people meanwhile; passkeys are the \
                 phishing-resistant way off the phone."
            )),
        );
    };
    if c.extra.get("isSelfServiceRegistrationAllowed") == Some(&Value::Bool(false)) {
        evidence.push(
            "People cannot register a passkey themselves (self-service set-up is off).".to_owned(),
        );
    }
    let restricted = c
        .extra
        .get("keyRestrictions")
        .and_then(|k| k.get("isEnforced"))
        .and_then(Value::as_bool);
    if restricted == Some(true) {
        evidence
            .push("Only some key models are allowed (key restrictions are enforced).".to_owned());
    }
    let reaches = reaches_everyone(c) && c.exclude_targets.is_empty();
    if ctx.blocked > 0 {
        evidence.push(if reaches {
            format!(
                "It reaches the {} people who will be blocked on their date, so each of them can \
                 register a passkey.",
                thousands(ctx.blocked)
            )
        } else {
            format!(
                "It does not reach everyone: some of the {} people who will be blocked on their \
                 date may be unable to register a passkey.",
                thousands(ctx.blocked)
            )
        });
    }
    if reaches {
        Verdict::new(Status::Green, evidence, None)
    } else {
        Verdict::new(
            Status::Amber,
            evidence,
            Some(format!(
                "{METHODS_PAGE} → Policies → Passkey (FIDO2) and add All users to the targets: \
                 passkeys are the phishing-resistant alternative to the Authenticator app."
            )),
        )
    }
}

pub(super) fn tap_enabled(m: &AuthenticationMethodsPolicy, ctx: &Context) -> Verdict {
    let name = "Temporary Access Pass";
    let c = method(m, "TemporaryAccessPass");
    let mut evidence = method_evidence(c, name, ctx);
    let Some(c) = c.filter(|c| is_enabled(c)) else {
        return Verdict::new(
            Status::Amber,
            evidence,
            Some(format!(
                "{METHODS_PAGE} → Policies → Temporary Access Pass and set Enable to Yes, so the \
                 helpdesk can get someone with no phone and no app yet signed in to register \
                 the Authenticator app or a passkey."
            )),
        );
    };
    if let Some(minutes) = c
        .extra
        .get("defaultLifetimeInMinutes")
        .and_then(Value::as_i64)
    {
        evidence.push(format!(
            "A pass lasts {} unless the helpdesk chooses otherwise.",
            plural(minutes, "minute", "minutes")
        ));
    }
    match c.extra.get("isUsableOnce").and_then(Value::as_bool) {
        Some(true) => evidence.push("A pass can be used once.".to_owned()),
        Some(false) => {
            evidence.push("A pass can be used more than once while it lasts.".to_owned());
        }
        None => {}
    }
    Verdict::new(Status::Green, evidence, None)
}

// ---------------------------------------------------------------------------------------------
// 8–9. Registration campaign and policy migration

/// The 1 September 2026 passkey auto-enablement and its temporary opt-out
/// (`optOutSettings.passkeyDynamicMigration`, beta only; graph-api.md §12).
pub(super) fn passkey_auto_enablement(m: &AuthenticationMethodsPolicy, _: &Context) -> Verdict {
    match m
        .opt_out_settings
        .as_ref()
        .and_then(|o| o.passkey_dynamic_migration)
    {
        None => Verdict::new(
            Status::Unavailable,
            vec![
                "Not known: the beta authentication methods policy did not say whether the \
                 tenant opted out (the setting is beta-only and not in its metadata)."
                    .to_owned(),
            ],
            None,
        ),
        Some(false) => Verdict::new(
            Status::Green,
            vec![
                "Not opted out: people enabled for SMS or voice were auto-enabled for passkeys \
                 on 1 September 2026, and Microsoft runs the registration campaign for passkeys."
                    .to_owned(),
            ],
            None,
        ),
        Some(true) => Verdict::new(
            Status::Amber,
            vec![
                "The tenant opted out of the passkey auto-enablement \
                 (optOutSettings.passkeyDynamicMigration is true). The opt-out only lasts until \
                 1 February 2027; until then people on SMS or voice are not enabled for passkeys \
                 by Microsoft."
                    .to_owned(),
            ],
            Some(format!(
                "{METHODS_PAGE} → Policies → Passkey (FIDO2) and enable it for everyone on SMS or \
                 voice, or end the opt-out (beta PATCH /policies/authenticationMethodsPolicy with \
                 optOutSettings.passkeyDynamicMigration false)."
            )),
        ),
    }
}

pub(super) fn registration_campaign(m: &AuthenticationMethodsPolicy, ctx: &Context) -> Verdict {
    let fix = Some(
        "In the Microsoft Entra admin center, go to Authentication methods → Registration \
         campaign, choose Edit and set State to Enabled for all users, with the Microsoft \
         Authenticator app as the method."
            .to_owned(),
    );
    let Some(c) = campaign(m) else {
        return Verdict::new(
            Status::Amber,
            vec![
                "The policy has no registration campaign settings, so the campaign is off."
                    .to_owned(),
            ],
            fix,
        );
    };
    let mut evidence = Vec::new();
    // Since 1 September 2026 Microsoft runs the campaign for passkeys in its managed state
    // (graph-api.md §12): that is on, whatever the older reference says of 'default'.
    let passkeys = c.include_targets.iter().any(|t| {
        t.targeted_authentication_method
            .to_ascii_lowercase()
            .contains("passkey")
            || is(&t.targeted_authentication_method, "fido2")
    });
    let managed = is(&c.state, "default") && passkeys;
    let on = is(&c.state, "enabled") || managed;
    evidence.push(if is(&c.state, "enabled") {
        "The registration campaign is enabled.".to_owned()
    } else if managed {
        "The registration campaign is Microsoft managed: Microsoft asks people to register a \
         passkey, and they may snooze it (unlimited snoozes by default) until their date."
            .to_owned()
    } else if is(&c.state, "default") {
        "The registration campaign is left at Microsoft managed ('default') without a passkey \
         target, which behaves as off."
            .to_owned()
    } else if is(&c.state, "disabled") {
        "The registration campaign is disabled.".to_owned()
    } else if c.state.trim().is_empty() {
        "The registration campaign has no state, so it is off.".to_owned()
    } else {
        format!(
            "The registration campaign's state is '{}', which is not enabled.",
            c.state
        )
    });
    for t in &c.include_targets {
        // The campaign is documented as Authenticator-only; show anything else as Graph says it.
        let method = if is(&t.targeted_authentication_method, "microsoftAuthenticator")
            || t.targeted_authentication_method.trim().is_empty()
        {
            "the Microsoft Authenticator app"
        } else {
            t.targeted_authentication_method.as_str()
        };
        evidence.push(format!(
            "It asks {} to set up {method}.",
            target_label(&t.id, &t.target_type, ctx)
        ));
    }
    if !c.exclude_targets.is_empty() {
        evidence.push(format!(
            "Excluded: {}.",
            exclude_list(&c.exclude_targets, ctx)
        ));
    }
    evidence.push(match c.snooze_duration_in_days {
        0 => "People cannot snooze it: they are asked at every MFA sign-in.".to_owned(),
        d => format!(
            "People can snooze it for {}.",
            plural(i64::from(d), "day", "days")
        ),
    });
    let status = if on { Status::Green } else { Status::Amber };
    Verdict::new(status, evidence, fix)
}

pub(super) fn migration_complete(m: &AuthenticationMethodsPolicy, _ctx: &Context) -> Verdict {
    let state = m.policy_migration_state.as_deref().unwrap_or("").trim();
    if is(state, "migrationComplete") {
        return Verdict::new(
            Status::Green,
            vec![
                "The migration is complete (migrationComplete): only the authentication methods \
                 policy decides which methods people may use."
                    .to_owned(),
            ],
            None,
        );
    }
    let found = if is(state, "migrationInProgress") {
        "The migration is in progress (migrationInProgress): the authentication methods policy \
         governs sign-in and password reset, with the legacy MFA and SSPR settings meant to \
         be respected alongside it until the migration is marked complete."
            .to_owned()
    } else if is(state, "preMigration") {
        format!(
            "The migration has not started ({state}): the authentication methods policy is meant \
             to govern sign-in only, with the legacy MFA and SSPR settings alongside it."
        )
    } else if state.is_empty() {
        "The policy does not report a migration state.".to_owned()
    } else {
        format!("The migration state is '{state}', not migrationComplete.")
    };
    Verdict::new(
        Status::Amber,
        vec![
            found,
            format!(
                "{LEGACY_CUTOFF}, so only the authentication methods policy counts now whatever \
                 the migration state says; marking the migration complete makes that explicit."
            ),
        ],
        Some(format!(
            "Check that every method people need is enabled in the authentication methods policy \
             (the legacy settings no longer count). Then {} → Policies → Manage migration and \
             choose Migration Complete.",
            lower_first(METHODS_PAGE)
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn voice_green_when_disabled_or_absent() {
        let m = methods(vec![method_config("Voice", "disabled", &["all_users"])]);
        let i = methods_item(&m, "voice_disabled");
        assert_status(&i, Status::Green);
        assert!(text(&i).contains("Voice call is disabled"));

        let i = methods_item(&methods(vec![]), "voice_disabled");
        assert_status(&i, Status::Green);
        assert!(text(&i).contains("no configuration"));

        let m = methods(vec![method_config("voice", "DISABLED", &["all_users"])]);
        assert_status(&methods_item(&m, "voice_disabled"), Status::Green);
    }

    #[test]
    fn voice_red_for_all_users_with_office_phones() {
        let mut c = method_config("VOICE", "Enabled", &["ALL_USERS"]);
        c.is_office_phone_allowed = Some(true);
        c.exclude_targets = vec![ExcludeTarget {
            id: EXCEPTIONS.to_owned(),
            target_type: "group".to_owned(),
        }];
        let i = methods_item(&methods(vec![c]), "voice_disabled");
        assert_status(&i, Status::Red);
        let t = text(&i);
        assert!(
            t.contains("Voice call is enabled for all users (2,000 in scope)"),
            "{t}"
        );
        assert!(
            t.contains("Excluded: Phone MFA exceptions (12 members)"),
            "{t}"
        );
        assert!(t.contains("office phones are allowed"), "{t}");
        let fix = i.fix.expect("fix");
        assert!(fix.contains("Voice call and set Enable to No"), "{fix}");
    }

    #[test]
    fn voice_amber_for_groups_only() {
        let mut c = method_config("Voice", "enabled", &[PILOT, UNKNOWN]);
        c.is_office_phone_allowed = Some(false);
        c.include_targets.push(MethodTarget {
            id: "u-1".to_owned(),
            target_type: "user".to_owned(),
            ..MethodTarget::default()
        });
        let i = methods_item(&methods(vec![c]), "voice_disabled");
        assert_status(&i, Status::Amber);
        let t = text(&i);
        assert!(t.contains("Passkey pilot (1,250 members)"), "{t}");
        assert!(t.contains(&format!("group {UNKNOWN}")), "{t}");
        assert!(t.contains("user u-1"), "{t}");
        assert!(t.contains("not allowed"), "{t}");
        assert!(i.fix.expect("fix").contains("Passkey pilot"));
    }

    // 2. SMS

    #[test]
    fn sms_green_when_off_or_narrowed_without_sign_in() {
        let i = methods_item(
            &methods(vec![method_config("Sms", "disabled", &["all_users"])]),
            "sms_restricted",
        );
        assert_status(&i, Status::Green);
        assert_status(
            &methods_item(&methods(vec![]), "sms_restricted"),
            Status::Green,
        );

        let mut c = method_config("sms", "ENABLED", &[EXCEPTIONS, UNKNOWN]);
        c.include_targets[0].is_usable_for_sign_in = Some(false);
        let i = methods_item(&methods(vec![c]), "sms_restricted");
        assert_status(&i, Status::Green);
        let t = text(&i);
        assert!(
            t.contains(&format!(
                "SMS is enabled for Phone MFA exceptions (12 members), group {UNKNOWN}."
            )),
            "{t}"
        );
        assert!(t.contains("SMS sign-in is off"), "{t}");
    }

    #[test]
    fn sms_amber_when_a_group_may_sign_in_with_it() {
        let mut c = method_config("Sms", "enabled", &[EXCEPTIONS, PILOT]);
        c.include_targets[1].is_usable_for_sign_in = Some(true);
        let i = methods_item(&methods(vec![c]), "sms_restricted");
        assert_status(&i, Status::Amber);
        let t = text(&i);
        assert!(t.contains("SMS sign-in is on (a text message instead of a password) for Passkey pilot (1,250 members)."), "{t}");
        assert!(i.fix.expect("fix").contains("Use for sign-in"));
    }

    #[test]
    fn sms_red_for_all_users() {
        let mut c = method_config("Sms", "enabled", &["all_users"]);
        c.include_targets[0].is_usable_for_sign_in = Some(true);
        let i = methods_item(&methods(vec![c]), "sms_restricted");
        assert_status(&i, Status::Red);
        assert!(text(&i).contains("SMS sign-in is on"));
        assert!(
            i.fix
                .expect("fix")
                .contains("Replace All users with the exclusion group")
        );
    }

    // 3. Conditional Access

    #[test]
    fn authenticator_in_every_colour() {
        let mut c = method_config("MICROSOFTAUTHENTICATOR", "Enabled", &["all_users"]);
        c.include_targets[0].authentication_mode = Some("Any".to_owned());
        let i = methods_item(&methods(vec![c]), "authenticator_enabled");
        assert_status(&i, Status::Green);
        assert!(text(&i).contains(
            "Mode for all users (2,000 in scope): notifications and passwordless sign-in."
        ));

        let i = methods_item(
            &methods(vec![method_config(
                "MicrosoftAuthenticator",
                "enabled",
                &[PILOT],
            )]),
            "authenticator_enabled",
        );
        assert_status(&i, Status::Amber);
        assert!(
            text(&i)
                .contains("Microsoft Authenticator is enabled for Passkey pilot (1,250 members).")
        );

        let i = methods_item(
            &methods(vec![method_config(
                "MicrosoftAuthenticator",
                "enabled",
                &[],
            )]),
            "authenticator_enabled",
        );
        assert_status(&i, Status::Amber);
        assert!(text(&i).contains("for nobody"));

        let i = methods_item(
            &methods(vec![method_config(
                "MicrosoftAuthenticator",
                "disabled",
                &["all_users"],
            )]),
            "authenticator_enabled",
        );
        assert_status(&i, Status::Red);
        assert_status(
            &methods_item(&methods(vec![]), "authenticator_enabled"),
            Status::Red,
        );
    }

    #[test]
    fn passkeys_in_every_colour() {
        let i = methods_item(
            &methods(vec![method_config("fido2", "enabled", &["all_users"])]),
            "passkeys_enabled",
        );
        assert_status(&i, Status::Green);

        let mut c = method_config("Fido2", "enabled", &[PILOT]);
        c.extra = json!({"isSelfServiceRegistrationAllowed": false, "keyRestrictions": {"isEnforced": true}})
            .as_object()
            .cloned()
            .expect("object");
        let i = methods_item(&methods(vec![c]), "passkeys_enabled");
        assert_status(&i, Status::Amber);
        let t = text(&i);
        assert!(t.contains("Passkey pilot (1,250 members)"), "{t}");
        assert!(t.contains("self-service set-up is off"), "{t}");
        assert!(t.contains("key restrictions are enforced"), "{t}");

        let i = methods_item(
            &methods(vec![method_config("Fido2", "disabled", &["all_users"])]),
            "passkeys_enabled",
        );
        assert_status(&i, Status::Amber);
        assert!(i.fix.expect("fix").contains("Authenticator app covers"));
        assert_status(
            &methods_item(&methods(vec![]), "passkeys_enabled"),
            Status::Amber,
        );
    }

    #[test]
    fn tap_in_every_colour() {
        let mut c = method_config("temporaryAccessPass", "ENABLED", &[PILOT]);
        c.extra = json!({"defaultLifetimeInMinutes": 60, "isUsableOnce": true})
            .as_object()
            .cloned()
            .expect("object");
        let i = methods_item(&methods(vec![c]), "tap_enabled");
        assert_status(&i, Status::Green);
        let t = text(&i);
        assert!(t.contains("A pass lasts 60 minutes"), "{t}");
        assert!(t.contains("used once"), "{t}");

        let i = methods_item(
            &methods(vec![method_config(
                "TemporaryAccessPass",
                "disabled",
                &["all_users"],
            )]),
            "tap_enabled",
        );
        assert_status(&i, Status::Amber);
        assert!(i.fix.expect("fix").contains("helpdesk"));
        assert_status(
            &methods_item(&methods(vec![]), "tap_enabled"),
            Status::Amber,
        );
    }

    // 8. Registration campaign

    #[test]
    fn campaign_in_every_colour() {
        let i = methods_item(&with_campaign("ENABLED", 3), "registration_campaign");
        assert_status(&i, Status::Green);
        assert_eq!(
            i.evidence,
            [
                "The registration campaign is enabled.",
                "It asks all users (2,000 in scope) to set up the Microsoft Authenticator app.",
                "Excluded: Phone MFA exceptions (12 members).",
                "People can snooze it for 3 days.",
            ]
        );

        let i = methods_item(&with_campaign("default", 0), "registration_campaign");
        assert_status(&i, Status::Amber);
        let t = text(&i);
        assert!(t.contains("behaves as off"), "{t}");
        assert!(t.contains("asked at every MFA sign-in"), "{t}");

        let i = methods_item(&with_campaign("Disabled", 1), "registration_campaign");
        assert_status(&i, Status::Amber);
        assert!(text(&i).contains("is disabled"));
        assert!(text(&i).contains("for 1 day."));

        let i = methods_item(
            &with_campaign("unknownFutureValue", 1),
            "registration_campaign",
        );
        assert_status(&i, Status::Amber);
        assert!(text(&i).contains("'unknownFutureValue'"));

        let i = methods_item(&methods(vec![]), "registration_campaign");
        assert_status(&i, Status::Amber);
        assert!(text(&i).contains("no registration campaign settings"));
    }

    // 9. Migration

    #[test]
    fn migration_in_every_colour() {
        let with_state = |s: Option<&str>| AuthenticationMethodsPolicy {
            policy_migration_state: s.map(str::to_owned),
            ..methods(vec![])
        };
        let i = methods_item(&with_state(Some("MigrationComplete")), "migration_complete");
        assert_status(&i, Status::Green);

        for (state, words) in [
            (Some("premigration"), "has not started (premigration)"),
            (Some("preMigration"), "has not started"),
            (Some("migrationInProgress"), "in progress"),
            (Some("unknownFutureValue"), "'unknownFutureValue'"),
            (None, "does not report a migration state"),
        ] {
            let i = methods_item(&with_state(state), "migration_complete");
            assert_status(&i, Status::Amber);
            let t = text(&i);
            assert!(t.contains(words), "{state:?}: {t}");
            assert!(t.contains("30 September 2025"), "{t}");
            assert!(i.fix.expect("fix").contains("Manage migration"));
        }
    }

    // excluded_groups
}
