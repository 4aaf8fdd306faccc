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
            "registration_campaign",
            "The Authenticator registration campaign is on",
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

/// Group ids that appear in exclude targets of the checklist's policies: every method configuration's
/// excludeTargets (group type), the registration campaign's excludeTargets, and `conditions.users.excludeGroups`
/// of Conditional Access policies whose grant controls use `mfa` or an authentication strength. Lower-case, sorted, unique,
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
        for c in &m.authentication_method_configurations {
            for t in c.exclude_targets.iter().filter(|t| is_group_target(t)) {
                add(
                    &t.id,
                    format!("excluded from the {} method", method_name(&c.id)),
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
// 1–2. Phone methods

fn voice_disabled(m: &AuthenticationMethodsPolicy, ctx: &Context) -> Verdict {
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

fn sms_restricted(m: &AuthenticationMethodsPolicy, ctx: &Context) -> Verdict {
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

// ---------------------------------------------------------------------------------------------
// 3. Conditional Access

const STRENGTH_KEY: &str = "strength_enforced";
const STRENGTH_TITLE: &str = "Conditional Access requires a no-phone authentication strength";

/// A Conditional Access policy that requires an authentication strength, the strength resolved.
struct StrengthRequirement<'a> {
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

fn strength_enforced(p: Policies<'_>, ctx: &Context) -> Item {
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
enum CaState {
    On,
    ReportOnly,
    Off,
}

impl CaState {
    /// The words of the admin center's "Enable policy" switch.
    fn words(self) -> &'static str {
        match self {
            CaState::On => "on",
            CaState::ReportOnly => "report-only",
            CaState::Off => "off",
        }
    }
}

fn ca_state(s: &str) -> CaState {
    if is(s, "enabled") {
        CaState::On
    } else if is(s, "enabledForReportingButNotEnforced") {
        CaState::ReportOnly
    } else {
        CaState::Off
    }
}

/// The policy asks for MFA: the built-in `mfa` control or an authentication strength.
fn requires_mfa(ca: &ConditionalAccessPolicy) -> bool {
    ca.grant_controls.as_ref().is_some_and(|g| {
        g.authentication_strength.is_some() || g.built_in_controls.iter().any(|b| is(b, "mfa"))
    })
}

/// Method modes that count as "off the phone" (graph-api.md §6, authenticationMethodModes).
const NO_PHONE_MODES: &[&str] = &[
    "microsoftAuthenticatorPush",
    "deviceBasedPush",
    "fido2",
    "windowsHelloForBusiness",
    "x509CertificateMultiFactor",
    "x509CertificateSingleFactor",
];

fn modes(combination: &str) -> impl Iterator<Item = &str> {
    combination.split(',').map(str::trim)
}

fn allows_phone(combinations: &[String]) -> bool {
    combinations
        .iter()
        .flat_map(|c| modes(c))
        .any(|m| is(m, "sms") || is(m, "voice"))
}

fn no_phone_combinations(combinations: &[String]) -> bool {
    !allows_phone(combinations)
        && combinations
            .iter()
            .flat_map(|c| modes(c))
            .any(|m| NO_PHONE_MODES.iter().any(|n| is(m, n)))
}

/// Who a Conditional Access policy applies to: "all users (2,000 in scope) except Phone MFA
/// exceptions (12 members)".
fn users_words(users: Option<&ConditionalAccessUsers>, ctx: &Context) -> String {
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
fn apps_words(applications: Option<&Value>) -> String {
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

fn app_name(id: &str) -> String {
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

// ---------------------------------------------------------------------------------------------
// 4. Exclusion groups

const EXCLUSIONS_KEY: &str = "exclusions_small";
const EXCLUSIONS_TITLE: &str = "The exclusion group is small and watched";

fn exclusions_small(ctx: &Context) -> Item {
    let Some(groups) = &ctx.exclusions else {
        return unavailable(
            EXCLUSIONS_KEY,
            EXCLUSIONS_TITLE,
            "The exclusion groups' membership",
        );
    };
    let n = ctx.users_in_scope;
    let share = |part: i64| {
        if n > 0 {
            format!(" ({} of {} users in scope)", percent(part, n), thousands(n))
        } else {
            String::new()
        }
    };
    let mut evidence: Vec<String> = groups
        .iter()
        .map(|g| {
            if g.members <= 0 {
                format!("{}: no members", g.name)
            } else {
                format!(
                    "{}: {}, {} of them phone-only{}",
                    g.name,
                    plural(g.members, "member", "members"),
                    thousands(g.phone_only),
                    share(g.members)
                )
            }
        })
        .collect();
    let total: i64 = groups.iter().map(|g| g.members.max(0)).sum();
    if groups.len() > 1 {
        evidence.push(format!(
            "In all: {} across {} groups{}",
            plural(total, "member", "members"),
            groups.len(),
            share(total)
        ));
    }
    if groups.is_empty() {
        evidence.push(
            "There is no exclusion group: nobody is let out of the no-phone policies.".to_owned(),
        );
    }
    evidence.push(match ctx.webhooks {
        0 => "No webhook is configured (PHONELESS_WEBHOOKS)".to_owned(),
        1 => "Alerts go to 1 webhook".to_owned(),
        w => format!("Alerts go to {} webhooks", thousands(w as i64)),
    });

    let over = |limit: i64| n > 0 && total.saturating_mul(100) > n.saturating_mul(limit);
    let unwatched = !groups.is_empty() && ctx.webhooks == 0;
    let mut fix = Vec::new();
    let status = if over(EXCLUDED_RED_PERCENT) {
        fix.push(format!(
            "{} of users in scope are excluded, more than {EXCLUDED_RED_PERCENT}%: the no-phone \
             policy leaves too many people out. Help the members onto the Authenticator app or a \
             passkey (a Temporary Access Pass gets them started), then take them out of the \
             group.",
            percent(total, n)
        ));
        Status::Red
    } else if over(EXCLUDED_AMBER_PERCENT) {
        fix.push(format!(
            "{} of users in scope are excluded; exceptions should stay under \
             {EXCLUDED_AMBER_PERCENT}%. Help the members onto the Authenticator app or a passkey, \
             then take them out of the group.",
            percent(total, n)
        ));
        Status::Amber
    } else if unwatched {
        Status::Amber
    } else {
        Status::Green
    };
    if unwatched {
        fix.push(
            "Configure a webhook (PHONELESS_WEBHOOKS) so that someone is told whenever a person \
             is added to an exclusion group."
                .to_owned(),
        );
    }
    let fix = (!fix.is_empty()).then(|| fix.join(" "));
    Verdict::new(status, evidence, fix).into_item(EXCLUSIONS_KEY, EXCLUSIONS_TITLE)
}

// ---------------------------------------------------------------------------------------------
// 5–7. Stronger methods

fn authenticator_enabled(m: &AuthenticationMethodsPolicy, ctx: &Context) -> Verdict {
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

fn authenticator_mode(mode: &str) -> String {
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

fn passkeys_enabled(m: &AuthenticationMethodsPolicy, ctx: &Context) -> Verdict {
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
    if reaches_everyone(c) {
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

fn tap_enabled(m: &AuthenticationMethodsPolicy, ctx: &Context) -> Verdict {
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

fn registration_campaign(m: &AuthenticationMethodsPolicy, ctx: &Context) -> Verdict {
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
    let on = is(&c.state, "enabled");
    evidence.push(if on {
        "The registration campaign is enabled.".to_owned()
    } else if is(&c.state, "default") {
        "The registration campaign is left at Microsoft managed ('default'), which behaves as \
         off."
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

fn migration_complete(m: &AuthenticationMethodsPolicy, _ctx: &Context) -> Verdict {
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

/// A method configuration's id as the admin center names the method.
fn method_name(id: &str) -> String {
    let known = [
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
    known
        .iter()
        .find(|(k, _)| is(id, k))
        .map_or_else(|| id.to_owned(), |(_, name)| (*name).to_owned())
}

/// Whether a method is on, for whom, and who is excluded.
fn method_evidence(
    c: Option<&AuthenticationMethodConfiguration>,
    name: &str,
    ctx: &Context,
) -> Vec<String> {
    let Some(c) = c else {
        return vec![format!(
            "{name} has no configuration in the authentication methods policy, so it is off."
        )];
    };
    if !is_enabled(c) {
        return vec![format!(
            "{name} is disabled in the authentication methods policy."
        )];
    }
    let mut out = vec![if c.include_targets.is_empty() {
        format!("{name} is enabled, but for nobody: it has no targets.")
    } else {
        format!("{name} is enabled for {}.", include_list(c, ctx))
    }];
    if !c.exclude_targets.is_empty() {
        out.push(format!(
            "Excluded: {}.",
            exclude_list(&c.exclude_targets, ctx)
        ));
    }
    out
}

fn include_list(c: &AuthenticationMethodConfiguration, ctx: &Context) -> String {
    c.include_targets
        .iter()
        .map(|t| target_label(&t.id, &t.target_type, ctx))
        .collect::<Vec<_>>()
        .join(", ")
}

fn exclude_list(targets: &[ExcludeTarget], ctx: &Context) -> String {
    targets
        .iter()
        .map(|t| target_label(&t.id, &t.target_type, ctx))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "all users (2,000 in scope)", "Phone MFA exceptions (12 members)", "user 1234…".
fn target_label(id: &str, target_type: &str, ctx: &Context) -> String {
    if is(id, "all_users") {
        all_users(ctx)
    } else if is(target_type, "user") {
        format!("user {id}")
    } else {
        group_label(id, ctx)
    }
}

/// "all users (2,000 in scope)"; without the count when it is not known.
fn all_users(ctx: &Context) -> String {
    if ctx.users_in_scope > 0 {
        format!("all users ({} in scope)", thousands(ctx.users_in_scope))
    } else {
        "all users".to_owned()
    }
}

/// A group by name with its member count when known, else by id.
fn group_label(id: &str, ctx: &Context) -> String {
    let facts = ctx.groups.get(&id.trim().to_ascii_lowercase());
    let name = facts
        .and_then(|f| f.name.as_deref())
        .filter(|n| !n.trim().is_empty())
        .map_or_else(|| format!("group {id}"), str::to_owned);
    match facts.and_then(|f| f.members) {
        Some(n) => format!("{name} ({})", plural(n, "member", "members")),
        None => name,
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "1 member", "2,000 members".
fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// `part` of `whole` with one decimal ("0.6%"); a tiny non-zero share is "under 0.1%" rather
/// than a misleading "0.0%".
fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "an unknown share".to_owned();
    }
    let p = part as f64 * 100.0 / whole as f64;
    if part > 0 && p < 0.05 {
        "under 0.1%".to_owned()
    } else {
        format!("{p:.1}%")
    }
}

/// "In the …" → "in the …", to continue a sentence.
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_lowercase().chain(chars).collect::<String>()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::model::{
        CampaignTarget, ConditionalAccessConditions, GrantControls, RegistrationCampaign,
        RegistrationEnforcement,
    };
    use crate::sim::policy::{
        BREAK_GLASS_GROUP_ID, CA_BLOCK_LEGACY_NAME, CA_REQUIRE_MFA_NAME, CUSTOM_STRENGTH_ID,
        EXCLUSION_GROUP_ID, EXCLUSION_GROUP_NAME, SSPR_GROUP_ID, STRENGTH_MFA_ID,
    };
    use serde_json::json;

    const EXCEPTIONS: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
    const PILOT: &str = "11111111-2222-3333-4444-555555555555";
    const UNKNOWN: &str = "99999999-8888-7777-6666-555555555555";

    fn ctx() -> Context {
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
        }
    }

    fn exclusion(members: i64, phone_only: i64) -> ExclusionFacts {
        ExclusionFacts {
            id: EXCEPTIONS.to_owned(),
            name: "Phone MFA exceptions".to_owned(),
            members,
            phone_only,
        }
    }

    fn target(id: &str) -> MethodTarget {
        MethodTarget {
            id: id.to_owned(),
            target_type: "group".to_owned(),
            ..MethodTarget::default()
        }
    }

    fn method_config(id: &str, state: &str, targets: &[&str]) -> AuthenticationMethodConfiguration {
        AuthenticationMethodConfiguration {
            id: id.to_owned(),
            state: state.to_owned(),
            include_targets: targets.iter().map(|t| target(t)).collect(),
            ..AuthenticationMethodConfiguration::default()
        }
    }

    fn methods(configs: Vec<AuthenticationMethodConfiguration>) -> AuthenticationMethodsPolicy {
        AuthenticationMethodsPolicy {
            id: "authenticationMethodsPolicy".to_owned(),
            authentication_method_configurations: configs,
            ..AuthenticationMethodsPolicy::default()
        }
    }

    fn strength(id: &str, name: &str, combos: &[&str]) -> AuthenticationStrengthPolicy {
        AuthenticationStrengthPolicy {
            id: id.to_owned(),
            display_name: name.to_owned(),
            allowed_combinations: combos.iter().map(|c| (*c).to_owned()).collect(),
            ..AuthenticationStrengthPolicy::default()
        }
    }

    const NO_PHONE: &[&str] = &[
        "fido2",
        "windowsHelloForBusiness",
        "password,microsoftAuthenticatorPush",
    ];
    const WITH_PHONE: &[&str] = &["fido2", "password,sms", "password,voice"];

    fn ca(name: &str, state: &str, grant: GrantControls) -> ConditionalAccessPolicy {
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

    fn with_strength(s: AuthenticationStrengthPolicy) -> GrantControls {
        GrantControls {
            operator: "OR".to_owned(),
            authentication_strength: Some(s),
            ..GrantControls::default()
        }
    }

    fn builtin(control: &str) -> GrantControls {
        GrantControls {
            operator: "OR".to_owned(),
            built_in_controls: vec![control.to_owned()],
            ..GrantControls::default()
        }
    }

    /// The item `key` of the checklist over these methods only.
    fn methods_item(m: &AuthenticationMethodsPolicy, key: &str) -> Item {
        item(
            Policies {
                methods: Some(m),
                ..Policies::default()
            },
            &ctx(),
            key,
        )
    }

    fn item(p: Policies<'_>, ctx: &Context, key: &str) -> Item {
        checklist(p, ctx)
            .into_iter()
            .find(|i| i.key == key)
            .expect("item")
    }

    fn ca_item(
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

    fn text(i: &Item) -> String {
        i.evidence.join("\n")
    }

    fn assert_status(i: &Item, status: Status) {
        assert_eq!(i.status, status, "{}: {:#?}", i.key, i);
        assert_eq!(
            i.fix.is_none(),
            matches!(status, Status::Green | Status::Unavailable),
            "{i:#?}"
        );
        assert!(!i.evidence.is_empty(), "{i:#?}");
    }

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
    fn number_helpers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(-1_234_567), "-1,234,567");
        assert_eq!(plural(1, "member", "members"), "1 member");
        assert_eq!(plural(2_000, "member", "members"), "2,000 members");
        assert_eq!(percent(12, 2_000), "0.6%");
        assert_eq!(percent(1, 100_000), "under 0.1%");
        assert_eq!(percent(0, 2_000), "0.0%");
        assert_eq!(lower_first("In the"), "in the");
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

    // 4. Exclusion groups

    fn exclusions_item(ctx: &Context) -> Item {
        item(Policies::default(), ctx, "exclusions_small")
    }

    #[test]
    fn exclusions_green_when_small_and_watched() {
        let i = exclusions_item(&ctx());
        assert_status(&i, Status::Green);
        assert_eq!(
            i.evidence,
            [
                "Phone MFA exceptions: 12 members, 10 of them phone-only (0.6% of 2,000 users in scope)",
                "Alerts go to 2 webhooks",
            ]
        );

        let mut c = ctx();
        c.exclusions = Some(vec![]);
        c.webhooks = 0;
        let i = exclusions_item(&c);
        assert_status(&i, Status::Green);
        assert!(text(&i).contains("nobody is let out"));
    }

    #[test]
    fn exclusions_amber_when_over_one_percent_or_unwatched() {
        let mut c = ctx();
        c.exclusions = Some(vec![exclusion(22, 4)]);
        let i = exclusions_item(&c);
        assert_status(&i, Status::Amber);
        assert!(i.fix.expect("fix").contains("1.1% of users in scope"));

        // Exactly 1% is still fine.
        c.exclusions = Some(vec![exclusion(20, 4)]);
        assert_status(&exclusions_item(&c), Status::Green);

        let mut c = ctx();
        c.webhooks = 0;
        let i = exclusions_item(&c);
        assert_status(&i, Status::Amber);
        assert!(text(&i).contains("No webhook is configured (PHONELESS_WEBHOOKS)"));
        assert!(i.fix.expect("fix").contains("PHONELESS_WEBHOOKS"));
    }

    #[test]
    fn exclusions_red_over_five_percent() {
        let mut c = ctx();
        let mut second = exclusion(60, 50);
        second.id = "other".to_owned();
        second.name = "Frontline without phones".to_owned();
        c.exclusions = Some(vec![exclusion(50, 40), second]);
        c.webhooks = 1;
        let i = exclusions_item(&c);
        assert_status(&i, Status::Red);
        assert_eq!(
            i.evidence,
            [
                "Phone MFA exceptions: 50 members, 40 of them phone-only (2.5% of 2,000 users in scope)",
                "Frontline without phones: 60 members, 50 of them phone-only (3.0% of 2,000 users in scope)",
                "In all: 110 members across 2 groups (5.5% of 2,000 users in scope)",
                "Alerts go to 1 webhook",
            ]
        );
        assert!(i.fix.expect("fix").contains("5.5% of users in scope"));

        // Unwatched too: both fixes.
        c.webhooks = 0;
        let fix = exclusions_item(&c).fix.expect("fix");
        assert!(
            fix.contains("more than 5%") && fix.contains("PHONELESS_WEBHOOKS"),
            "{fix}"
        );
    }

    #[test]
    fn exclusions_without_a_user_count_only_check_the_webhooks() {
        let mut c = ctx();
        c.users_in_scope = 0;
        c.exclusions = Some(vec![exclusion(1_500, 1_000)]);
        let i = exclusions_item(&c);
        assert_status(&i, Status::Green);
        assert_eq!(
            i.evidence[0],
            "Phone MFA exceptions: 1,500 members, 1,000 of them phone-only"
        );
        c.exclusions = Some(vec![exclusion(0, 0)]);
        assert_eq!(
            exclusions_item(&c).evidence[0],
            "Phone MFA exceptions: no members"
        );
    }

    #[test]
    fn exclusions_unavailable_when_membership_unknown() {
        let mut c = ctx();
        c.exclusions = None;
        assert_status(&exclusions_item(&c), Status::Unavailable);
    }

    // 5–7. Stronger methods

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

    fn with_campaign(state: &str, snooze: u32) -> AuthenticationMethodsPolicy {
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

    #[test]
    fn excluded_groups_from_methods_campaign_and_mfa_policies() {
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
                    PILOT.to_owned(),
                    vec![
                        "excluded from the SMS method".to_owned(),
                        "excluded from the Voice call method".to_owned(),
                    ]
                ),
                (
                    EXCEPTIONS.to_owned(),
                    vec![
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
        assert!(excluded_groups(Policies::default()).is_empty());
    }

    // The simulated tenant's story, start to end.

    const DAYS: u32 = 60;

    fn sim_tenant() -> crate::sim::tenant::Tenant {
        crate::sim::tenant::Tenant::generate(
            7,
            1_000,
            DAYS,
            chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
        )
    }

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
                ("registration_campaign", Amber),
                ("migration_complete", Amber),
            ]
        );
        assert_eq!(colours(k.custom_strength)[2], ("strength_enforced", Amber));
        assert!(
            colours(DAYS).iter().all(|(_, s)| *s == Green),
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

        // Exclusion groups: the exceptions and break-glass groups, not from the block policy alone.
        let excluded = excluded_groups(p);
        let ids: Vec<&str> = excluded.iter().map(|(id, _)| id.as_str()).collect();
        let mut expected = vec![EXCLUSION_GROUP_ID, BREAK_GLASS_GROUP_ID];
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
        assert!(!ids.contains(&SSPR_GROUP_ID));
    }
}
