//! The migration's end state as a checklist: voice calls off, SMS only where still needed, a
//! no-phone authentication strength enforced by Conditional Access, a small exclusion group that
//! somebody watches, the stronger methods on, the registration campaign on and the policy
//! migration complete (graph-api.md §5–§6).
//!
//! Pure: the policies as last synced and a few counts in, coloured items with the evidence and
//! the fix in words out. Graph spells its enum-like values inconsistently (`preMigration` and
//! "premigration", `Sms`), so every such comparison here ignores case.

use crate::graph::model::{
    AuthenticationMethodConfiguration, AuthenticationMethodsPolicy, AuthenticationStrengthPolicy,
    ConditionalAccessPolicy, ConditionalAccessUsers, ExcludeTarget, MethodTarget,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

mod conditional_access;
mod exclusions;
mod methods;
mod words;

use conditional_access::*;
use exclusions::*;
use methods::*;
use words::*;

/// Above this share of the users in scope (percent) the exclusion groups are red: the no-phone
/// policy leaves too many people out to call the migration done.
pub const EXCLUDED_RED_PERCENT: i64 = 5;
/// Above this share (percent) the exclusion groups need attention: exceptions should be rare.
pub const EXCLUDED_AMBER_PERCENT: i64 = 1;

/// Where the method settings live in the admin center (under "Entra ID" in the current menu,
/// "Protection" in the older one, so neither is named).
const METHODS_PAGE: &str = "In the Microsoft Entra admin center, go to Authentication methods";

/// The date the legacy settings stopped counting, as people are told it.
const LEGACY_CUTOFF: &str = "Microsoft stopped honouring the legacy MFA and SSPR method settings \
                             on 30 September 2025";

/// Colour of one checklist item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Green,
    Amber,
    Red,
    /// The policy part the item needs could not be read, so it cannot be judged.
    Unavailable,
}

impl Status {
    /// The machine name, as serialised (`green`, `amber`, `red`, `unavailable`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Green => "green",
            Status::Amber => "amber",
            Status::Red => "red",
            Status::Unavailable => "unavailable",
        }
    }

    /// The words a person reads next to the colour, so it never carries meaning alone.
    pub fn label(self) -> &'static str {
        match self {
            Status::Green => "Done",
            Status::Amber => "Needs attention",
            Status::Red => "Not done",
            Status::Unavailable => "Unknown",
        }
    }
}

/// What the checklist knows of a group.
#[derive(Debug, Clone, Default)]
pub struct GroupFacts {
    pub name: Option<String>,
    pub members: Option<i64>,
}

/// One exclusion group as the allowlist sync saw it.
#[derive(Debug, Clone)]
pub struct ExclusionFacts {
    pub id: String,
    pub name: String,
    pub members: i64,
    /// Members whose only MFA method is a phone: the people the group is really for.
    pub phone_only: i64,
}

/// Everything besides the policies the checklist needs.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Members in scope tenant-wide (for "how many users in its scope" of `all_users`).
    pub users_in_scope: i64,
    /// Known groups by id, lower-case keys (names and member counts for the evidence).
    pub groups: HashMap<String, GroupFacts>,
    /// The exclusion groups; None when membership could not be read (item Unavailable).
    pub exclusions: Option<Vec<ExclusionFacts>>,
    /// How many alert webhooks are configured (an exclusion group is "watched" when > 0).
    pub webhooks: usize,
    /// People who will be blocked on their retirement date (both dates), as of the newest run.
    pub blocked: i64,
}

/// The policies as last synced; None = that part is unavailable.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policies<'a> {
    pub methods: Option<&'a AuthenticationMethodsPolicy>,
    pub strengths: Option<&'a [AuthenticationStrengthPolicy]>,
    pub conditional_access: Option<&'a [ConditionalAccessPolicy]>,
}

/// One item of the checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// Stable identifier (`voice_disabled`, …) for the API and the page's anchors.
    pub key: &'static str,
    pub title: &'static str,
    pub status: Status,
    /// What was found, in words (which policy, which groups, how many users in its scope).
    pub evidence: Vec<String>,
    /// What to change, in words (None when green).
    pub fix: Option<String>,
}

/// The checklist, one item per end-state condition, always in the same order:
/// `voice_disabled`, `sms_restricted`, `strength_enforced`, `exclusions_small`,
/// `authenticator_enabled`, `passkeys_enabled`, `tap_enabled`, `registration_campaign`,
/// `migration_complete`. A part of the policies that could not be read makes its items
/// [`Status::Unavailable`] rather than guessing a colour.
pub fn checklist(p: Policies<'_>, ctx: &Context) -> Vec<Item> {
    const METHODS_UNREAD: &str = "The authentication methods policy";
    let methods = |key, title, check: fn(&AuthenticationMethodsPolicy, &Context) -> Verdict| match p
        .methods
    {
        Some(m) => check(m, ctx).into_item(key, title),
        None => unavailable(key, title, METHODS_UNREAD),
    };
    vec![
        methods(
            "voice_disabled",
            "Voice calls are disabled as an MFA method",
            voice_disabled,
        ),
        methods(
            "sms_restricted",
            "SMS is allowed only where still needed",
            sms_restricted,
        ),
        strength_enforced(p, ctx),
        exclusions_small(ctx),
        methods(
            "authenticator_enabled",
            "Microsoft Authenticator is enabled for everyone",
            authenticator_enabled,
        ),
        methods(
            "passkeys_enabled",
            "Passkeys (FIDO2) are enabled",
            passkeys_enabled,
        ),
        methods(
            "tap_enabled",
            "Temporary Access Pass is enabled",
            tap_enabled,
        ),
        methods(
            "passkey_auto_enablement",
            "Passkeys were auto-enabled for phone users (no opt-out)",
            passkey_auto_enablement,
        ),
        methods(
            "registration_campaign",
            "The registration campaign is on",
            registration_campaign,
        ),
        methods(
            "migration_complete",
            "The policy migration is complete",
            migration_complete,
        ),
    ]
}

/// Whether a strength's combinations avoid SMS and voice entirely and include the Authenticator app
/// (microsoftAuthenticatorPush or deviceBasedPush) or FIDO2/passkeys (fido2) or Windows Hello / certificates.
///
/// This is what "Conditional Access no longer accepts a phone" means: one combination with `sms`
/// or `voice` in it lets a phone through; a strength of nothing but, say, OATH codes does not
/// move people to anything the migration asks for.
pub fn is_no_phone_strength(s: &AuthenticationStrengthPolicy) -> bool {
    no_phone_combinations(&s.allowed_combinations)
}

/// The allowlists: groups that let people keep a phone. A group SMS or voice is switched on for
/// while that method is not on for all users, a group the registration campaign excludes, and
/// `conditions.users.excludeGroups` of Conditional Access policies whose grant controls use
/// `mfa` or an authentication strength. A group in a method's `excludeTargets` is denied the
/// method, the opposite of an allowlist, and is not one. Lower-case, sorted, unique,
/// with for each id the places it appears in words, e.g. "excluded from Conditional Access policy 'Require MFA for all users'".
///
/// These are the groups whose members are let out of some part of the migration, so the
/// allowlist sync reads their membership. Policies that only `block` are not about MFA and are
/// left out (the break-glass exclusion from "Block legacy authentication" is not an exception
/// to the phone migration).
pub fn excluded_groups(p: Policies<'_>) -> Vec<(String, Vec<String>)> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut add = |id: &str, place: String| {
        let places = out.entry(id.trim().to_ascii_lowercase()).or_default();
        if !places.contains(&place) {
            places.push(place);
        }
    };
    if let Some(m) = p.methods {
        // SMS or voice switched on for some groups only: those groups keep a phone. A group
        // in a method's excludeTargets is the opposite (denied it), so it is no allowlist.
        for c in &m.authentication_method_configurations {
            let phone = is(&c.id, "Sms") || is(&c.id, "Voice");
            let everyone = c.include_targets.iter().any(|t| is(&t.id, "all_users"));
            if !phone || everyone || !is(&c.state, "enabled") {
                continue;
            }
            for t in c
                .include_targets
                .iter()
                .filter(|t| !is(&t.target_type, "user"))
            {
                add(
                    &t.id,
                    format!(
                        "allowed the {} method, which is not on for all users",
                        method_name(&c.id)
                    ),
                );
            }
        }
        if let Some(campaign) = campaign(m) {
            for t in campaign
                .exclude_targets
                .iter()
                .filter(|t| is_group_target(t))
            {
                add(
                    &t.id,
                    "excluded from the Authenticator registration campaign".to_owned(),
                );
            }
        }
    }
    for ca in p.conditional_access.unwrap_or_default() {
        if !requires_mfa(ca) {
            continue;
        }
        let Some(users) = &ca.conditions.users else {
            continue;
        };
        let state = match ca_state(&ca.state) {
            CaState::On => String::new(),
            other => format!(" ({})", other.words()),
        };
        for g in &users.exclude_groups {
            add(
                g,
                format!(
                    "excluded from Conditional Access policy '{}'{state}",
                    ca.display_name
                ),
            );
        }
    }
    out.into_iter().filter(|(id, _)| !id.is_empty()).collect()
}

/// An item's colour, evidence and fix before its key and title are attached.
struct Verdict {
    status: Status,
    evidence: Vec<String>,
    fix: Option<String>,
}

impl Verdict {
    fn new(status: Status, evidence: Vec<String>, fix: Option<String>) -> Verdict {
        // A green item has nothing to fix, whatever a caller passed.
        let fix = if status == Status::Green { None } else { fix };
        Verdict {
            status,
            evidence,
            fix,
        }
    }

    fn into_item(self, key: &'static str, title: &'static str) -> Item {
        Item {
            key,
            title,
            status: self.status,
            evidence: self.evidence,
            fix: self.fix,
        }
    }
}

/// The item for a policy part that could not be read.
fn unavailable(key: &'static str, title: &'static str, what: &str) -> Item {
    Item {
        key,
        title,
        status: Status::Unavailable,
        evidence: vec![format!(
            "{what} could not be read, so this cannot be checked."
        )],
        fix: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// Graph's enum-like strings compared as Graph's own services do: ignoring case.
fn is(value: &str, expected: &str) -> bool {
    value.trim().eq_ignore_ascii_case(expected)
}

fn method<'a>(
    m: &'a AuthenticationMethodsPolicy,
    id: &str,
) -> Option<&'a AuthenticationMethodConfiguration> {
    m.authentication_method_configurations
        .iter()
        .find(|c| is(&c.id, id))
}

fn is_enabled(c: &AuthenticationMethodConfiguration) -> bool {
    is(&c.state, "enabled")
}

/// An include target of `all_users` makes the method available to everybody.
fn reaches_everyone(c: &AuthenticationMethodConfiguration) -> bool {
    c.include_targets.iter().any(|t| is(&t.id, "all_users"))
}

fn campaign(m: &AuthenticationMethodsPolicy) -> Option<&crate::graph::model::RegistrationCampaign> {
    m.registration_enforcement
        .as_ref()?
        .authentication_methods_registration_campaign
        .as_ref()
}

/// Exclude targets carry `group` (the only documented type); a `user` one is not a group.
fn is_group_target(t: &ExcludeTarget) -> bool {
    !is(&t.target_type, "user")
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    pub(crate) use crate::graph::model::{
        CampaignTarget, ConditionalAccessConditions, GrantControls, RegistrationCampaign,
        RegistrationEnforcement,
    };
    pub(crate) use crate::sim::policy::{
        BREAK_GLASS_GROUP_ID, CA_BLOCK_LEGACY_NAME, CA_REQUIRE_MFA_NAME, CUSTOM_STRENGTH_ID,
        EXCLUSION_GROUP_ID, EXCLUSION_GROUP_NAME, SSPR_GROUP_ID, STRENGTH_MFA_ID,
    };
    pub(crate) use serde_json::json;

    pub(crate) const EXCEPTIONS: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
    pub(crate) const PILOT: &str = "11111111-2222-3333-4444-555555555555";
    pub(crate) const UNKNOWN: &str = "99999999-8888-7777-6666-555555555555";

    pub(crate) fn ctx() -> Context {
        let mut groups = HashMap::new();
        groups.insert(
            EXCEPTIONS.to_owned(),
            GroupFacts {
                name: Some("Phone MFA exceptions".to_owned()),
                members: Some(12),
            },
        );
        groups.insert(
            PILOT.to_owned(),
            GroupFacts {
                name: Some("Passkey pilot".to_owned()),
                members: Some(1_250),
            },
        );
        Context {
            users_in_scope: 2_000,
            groups,
            exclusions: Some(vec![exclusion(12, 10)]),
            webhooks: 2,
            blocked: 40,
        }
    }

    pub(crate) fn exclusion(members: i64, phone_only: i64) -> ExclusionFacts {
        ExclusionFacts {
            id: EXCEPTIONS.to_owned(),
            name: "Phone MFA exceptions".to_owned(),
            members,
            phone_only,
        }
    }

    pub(crate) fn target(id: &str) -> MethodTarget {
        MethodTarget {
            id: id.to_owned(),
            target_type: "group".to_owned(),
            ..MethodTarget::default()
        }
    }

    pub(crate) fn method_config(
        id: &str,
        state: &str,
        targets: &[&str],
    ) -> AuthenticationMethodConfiguration {
        AuthenticationMethodConfiguration {
            id: id.to_owned(),
            state: state.to_owned(),
            include_targets: targets.iter().map(|t| target(t)).collect(),
            ..AuthenticationMethodConfiguration::default()
        }
    }

    pub(crate) fn methods(
        configs: Vec<AuthenticationMethodConfiguration>,
    ) -> AuthenticationMethodsPolicy {
        AuthenticationMethodsPolicy {
            id: "authenticationMethodsPolicy".to_owned(),
            authentication_method_configurations: configs,
            ..AuthenticationMethodsPolicy::default()
        }
    }

    pub(crate) fn strength(id: &str, name: &str, combos: &[&str]) -> AuthenticationStrengthPolicy {
        AuthenticationStrengthPolicy {
            id: id.to_owned(),
            display_name: name.to_owned(),
            allowed_combinations: combos.iter().map(|c| (*c).to_owned()).collect(),
            ..AuthenticationStrengthPolicy::default()
        }
    }

    pub(crate) const NO_PHONE: &[&str] = &[
        "fido2",
        "windowsHelloForBusiness",
        "password,microsoftAuthenticatorPush",
    ];
    pub(crate) const WITH_PHONE: &[&str] = &["fido2", "password,sms", "password,voice"];

    pub(crate) fn ca(name: &str, state: &str, grant: GrantControls) -> ConditionalAccessPolicy {
        ConditionalAccessPolicy {
            id: format!("id-{name}"),
            display_name: name.to_owned(),
            state: state.to_owned(),
            conditions: ConditionalAccessConditions {
                users: Some(ConditionalAccessUsers {
                    include_users: vec!["All".to_owned()],
                    exclude_groups: vec![EXCEPTIONS.to_owned()],
                    ..ConditionalAccessUsers::default()
                }),
                applications: Some(json!({"includeApplications": ["All"]})),
                client_app_types: vec!["all".to_owned()],
            },
            grant_controls: Some(grant),
            ..ConditionalAccessPolicy::default()
        }
    }

    pub(crate) fn with_strength(s: AuthenticationStrengthPolicy) -> GrantControls {
        GrantControls {
            operator: "OR".to_owned(),
            authentication_strength: Some(s),
            ..GrantControls::default()
        }
    }

    pub(crate) fn builtin(control: &str) -> GrantControls {
        GrantControls {
            operator: "OR".to_owned(),
            built_in_controls: vec![control.to_owned()],
            ..GrantControls::default()
        }
    }

    /// The item `key` of the checklist over these methods only.
    pub(crate) fn methods_item(m: &AuthenticationMethodsPolicy, key: &str) -> Item {
        item(
            Policies {
                methods: Some(m),
                ..Policies::default()
            },
            &ctx(),
            key,
        )
    }

    pub(crate) fn item(p: Policies<'_>, ctx: &Context, key: &str) -> Item {
        checklist(p, ctx)
            .into_iter()
            .find(|i| i.key == key)
            .expect("item")
    }

    pub(crate) fn ca_item(
        policies: &[ConditionalAccessPolicy],
        strengths: Option<&[AuthenticationStrengthPolicy]>,
    ) -> Item {
        item(
            Policies {
                methods: None,
                strengths,
                conditional_access: Some(policies),
            },
            &ctx(),
            "strength_enforced",
        )
    }

    pub(crate) fn text(i: &Item) -> String {
        i.evidence.join("\n")
    }

    pub(crate) fn assert_status(i: &Item, status: Status) {
        assert_eq!(i.status, status, "{}: {:#?}", i.key, i);
        assert_eq!(
            i.fix.is_none(),
            matches!(status, Status::Green | Status::Unavailable),
            "{i:#?}"
        );
        assert!(!i.evidence.is_empty(), "{i:#?}");
    }

    pub(crate) fn with_campaign(state: &str, snooze: u32) -> AuthenticationMethodsPolicy {
        AuthenticationMethodsPolicy {
            registration_enforcement: Some(RegistrationEnforcement {
                authentication_methods_registration_campaign: Some(RegistrationCampaign {
                    snooze_duration_in_days: snooze,
                    state: state.to_owned(),
                    exclude_targets: vec![ExcludeTarget {
                        id: EXCEPTIONS.to_owned(),
                        target_type: "group".to_owned(),
                    }],
                    include_targets: vec![CampaignTarget {
                        id: "all_users".to_owned(),
                        target_type: "group".to_owned(),
                        targeted_authentication_method: "microsoftAuthenticator".to_owned(),
                    }],
                }),
            }),
            ..methods(vec![])
        }
    }

    pub(crate) const DAYS: u32 = 60;

    pub(crate) fn sim_tenant() -> crate::sim::tenant::Tenant {
        crate::sim::tenant::Tenant::generate(
            7,
            1_000,
            DAYS,
            chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn status_words() {
        let all = [
            Status::Green,
            Status::Amber,
            Status::Red,
            Status::Unavailable,
        ];
        let names: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["green", "amber", "red", "unavailable"]);
        let labels: Vec<&str> = all.iter().map(|s| s.label()).collect();
        assert_eq!(labels, ["Done", "Needs attention", "Not done", "Unknown"]);
        for s in all {
            assert_eq!(serde_json::to_value(s).expect("json"), json!(s.as_str()));
        }
    }

    #[test]
    fn the_items_come_in_order_and_all_unavailable_without_policies() {
        let ctx = Context::default();
        let items = checklist(Policies::default(), &ctx);
        let keys: Vec<&str> = items.iter().map(|i| i.key).collect();
        assert_eq!(
            keys,
            [
                "voice_disabled",
                "sms_restricted",
                "strength_enforced",
                "exclusions_small",
                "authenticator_enabled",
                "passkeys_enabled",
                "tap_enabled",
                "passkey_auto_enablement",
                "registration_campaign",
                "migration_complete",
            ]
        );
        for i in &items {
            assert_status(i, Status::Unavailable);
            assert!(text(i).contains("could not be read"), "{i:#?}");
        }
        assert!(text(&items[0]).contains("authentication methods policy"));
        assert!(text(&items[2]).contains("Conditional Access"));
        assert!(text(&items[3]).contains("exclusion groups"));
        let json = serde_json::to_value(&items[0]).expect("json");
        assert_eq!(json["status"], "unavailable");
        assert_eq!(json["key"], "voice_disabled");
        assert_eq!(json["fix"], Value::Null);
    }

    // 1. Voice

    #[test]
    fn allowlists_from_phone_methods_campaign_and_mfa_policies_not_from_denials() {
        let mut sms = method_config("Sms", "enabled", &[EXCEPTIONS]);
        sms.exclude_targets = vec![
            ExcludeTarget {
                id: PILOT.to_uppercase(),
                target_type: "Group".to_owned(),
            },
            ExcludeTarget {
                id: "user-1".to_owned(),
                target_type: "user".to_owned(),
            },
        ];
        let mut voice = method_config("Voice", "disabled", &["all_users"]);
        voice.exclude_targets = vec![ExcludeTarget {
            id: PILOT.to_owned(),
            target_type: "group".to_owned(),
        }];
        let m = AuthenticationMethodsPolicy {
            authentication_method_configurations: vec![sms, voice],
            ..with_campaign("enabled", 1)
        };
        let mut block = ca("Block legacy authentication", "enabled", builtin("block"));
        block.conditions.users = Some(ConditionalAccessUsers {
            exclude_groups: vec!["break-glass".to_owned()],
            ..ConditionalAccessUsers::default()
        });
        let mut strength_policy = ca(
            "No phone",
            "enabledForReportingButNotEnforced",
            with_strength(strength("s", "s", NO_PHONE)),
        );
        if let Some(u) = strength_policy.conditions.users.as_mut() {
            u.exclude_groups.push(UNKNOWN.to_uppercase());
            u.exclude_groups.push(EXCEPTIONS.to_owned());
        }
        let policies = [
            block,
            ca("Require MFA for all users", "enabled", builtin("Mfa")),
            strength_policy,
        ];
        let got = excluded_groups(Policies {
            methods: Some(&m),
            strengths: None,
            conditional_access: Some(&policies),
        });
        assert_eq!(
            got,
            [
                (
                    EXCEPTIONS.to_owned(),
                    vec![
                        "allowed the SMS method, which is not on for all users".to_owned(),
                        "excluded from the Authenticator registration campaign".to_owned(),
                        "excluded from Conditional Access policy 'Require MFA for all users'"
                            .to_owned(),
                        "excluded from Conditional Access policy 'No phone' (report-only)"
                            .to_owned(),
                    ]
                ),
                (
                    UNKNOWN.to_owned(),
                    vec![
                        "excluded from Conditional Access policy 'No phone' (report-only)"
                            .to_owned()
                    ]
                ),
            ]
        );
        // PILOT is only denied SMS and voice (their excludeTargets): not an allowlist.
        assert!(!got.iter().any(|(id, _)| id == PILOT));
        assert!(excluded_groups(Policies::default()).is_empty());
    }

    // The simulated tenant's story, start to end.

    #[test]
    fn the_simulated_tenant_goes_from_red_to_green() {
        let story = sim_tenant().policy_story();
        let mut groups = HashMap::new();
        for g in story.groups() {
            groups.insert(
                g.id.to_ascii_lowercase(),
                GroupFacts {
                    name: Some(g.display_name.to_owned()),
                    members: story.members(g.id, DAYS).map(|m| m.len() as i64),
                },
            );
        }
        let members = story
            .members(EXCLUSION_GROUP_ID, DAYS)
            .expect("group")
            .len() as i64;
        let ctx = Context {
            users_in_scope: 1_000,
            groups,
            exclusions: Some(vec![ExclusionFacts {
                id: EXCLUSION_GROUP_ID.to_owned(),
                name: EXCLUSION_GROUP_NAME.to_owned(),
                members,
                phone_only: members,
            }]),
            webhooks: 1,
            blocked: 0,
        };
        let colours = |day: u32| -> Vec<(&'static str, Status)> {
            let m = story.methods_policy(day);
            let s = story.strength_policies(day);
            let ca = story.conditional_access(day);
            let p = Policies {
                methods: Some(&m),
                strengths: Some(&s),
                conditional_access: Some(&ca),
            };
            checklist(p, &ctx)
                .into_iter()
                .map(|i| (i.key, i.status))
                .collect()
        };
        let k = story.key_days();
        use Status::*;
        assert_eq!(
            colours(0),
            [
                ("voice_disabled", Red),
                ("sms_restricted", Red),
                ("strength_enforced", Red),
                ("exclusions_small", Green),
                ("authenticator_enabled", Green),
                ("passkeys_enabled", Green),
                ("tap_enabled", Green),
                ("passkey_auto_enablement", Unavailable),
                ("registration_campaign", Amber),
                ("migration_complete", Amber),
            ]
        );
        assert_eq!(colours(k.custom_strength)[2], ("strength_enforced", Amber));
        // The v1.0 policy cannot say whether the tenant opted out of the passkey
        // auto-enablement (beta only): that item stays unknown; the rest ends green.
        assert!(
            colours(DAYS)
                .iter()
                .all(|(k, s)| *s == Green || (*k == "passkey_auto_enablement" && *s == Unavailable)),
            "{:?}",
            colours(DAYS)
        );

        // The end state's evidence names the enforced policy and its exclusion group.
        let m = story.methods_policy(DAYS);
        let ca = story.conditional_access(DAYS);
        let p = Policies {
            methods: Some(&m),
            strengths: None,
            conditional_access: Some(&ca),
        };
        let items = checklist(p, &ctx);
        let strength = text(&items[2]);
        assert!(strength.contains("(on) requires the authentication strength 'Phishing-resistant or Authenticator (no phone)'"), "{strength}");
        assert!(
            strength.contains(&format!(
                "except {EXCLUSION_GROUP_NAME} ({} member",
                members
            )),
            "{strength}"
        );
        assert!(strength.contains("Microsoft admin portals"), "{strength}");
        let sms = text(&items[1]);
        assert!(
            sms.contains(EXCLUSION_GROUP_NAME) && sms.contains("SSPR users ("),
            "{sms}"
        );

        // Allowlists: the exceptions and break-glass groups (not from the block policy alone),
        // and the SSPR group, for which SMS alone is switched on.
        let excluded = excluded_groups(p);
        let ids: Vec<&str> = excluded.iter().map(|(id, _)| id.as_str()).collect();
        let mut expected = vec![EXCLUSION_GROUP_ID, BREAK_GLASS_GROUP_ID, SSPR_GROUP_ID];
        expected.sort_unstable();
        assert_eq!(ids, expected);
        let break_glass = &excluded
            .iter()
            .find(|(id, _)| id == BREAK_GLASS_GROUP_ID)
            .expect("break glass")
            .1;
        assert_eq!(
            break_glass,
            &[format!(
                "excluded from Conditional Access policy '{CA_REQUIRE_MFA_NAME}'"
            )]
        );
        assert!(!break_glass.iter().any(|p| p.contains(CA_BLOCK_LEGACY_NAME)));
        let sspr = &excluded
            .iter()
            .find(|(id, _)| id == SSPR_GROUP_ID)
            .expect("sspr")
            .1;
        assert_eq!(
            sspr,
            &["allowed the SMS method, which is not on for all users"]
        );
    }
}
