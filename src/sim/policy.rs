//! The simulated tenant's security configuration and its day-by-day story: the authentication
//! methods policy, authentication strengths, Conditional Access policies, a few security groups
//! (among them the MFA **exclusion group**, the "allowlist" of people who may still use a phone)
//! and the directory audit entries that record who changed what.
//!
//! It tells the story a tenant moving off phone MFA goes through (graph-api.md §5–§8): the
//! Authenticator registration campaign is switched on; a custom "no phone" strength and a
//! report-only Conditional Access policy that requires it appear; then voice is disabled and
//! SMS is narrowed to the exclusion group and the SSPR group, the new policy is enforced, and
//! the policy migration completes. Meanwhile administrators add phone-only people to the
//! exclusion group and take some of them out again (one comes back), each change logged as
//! `Add member to group` / `Remove member from group` with the admin as initiator. Three people
//! were in the group before the story (and before the audit log's reach), so their joins have
//! no audit entry, as in a real tenant.
//!
//! Like [`Tenant::report_row`], everything is a pure function of the tenant (its seed and
//! people) and the day: [`PolicyStory::new`] draws the story once, and tests compute the truth
//! the fake serves with the same calls. Key days are fixed fractions of the story's length
//! ([`KeyDays`]), so a 60-day test tenant and the 365-day demo tell the same story.

use super::tenant::{GlobalAdmin, Tenant};
use crate::graph::model::{
    AuditApp, AuditInitiator, AuditUser, AuthenticationMethodConfiguration,
    AuthenticationMethodsPolicy, AuthenticationStrengthPolicy, CampaignTarget,
    ConditionalAccessConditions, ConditionalAccessPolicy, ConditionalAccessUsers, DirectoryAudit,
    DirectoryObject, ExcludeTarget, GLOBAL_ADMINISTRATOR_ROLE, GrantControls, Group, MethodTarget,
    ModifiedProperty, OptOutSettings, RegistrationCampaign, RegistrationEnforcement, RoleGrant,
    TargetResource,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The MFA exclusion group: people who may still use SMS while everyone else moves on.
pub const EXCLUSION_GROUP_ID: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
pub const EXCLUSION_GROUP_NAME: &str = "Phone MFA exceptions";
/// People who keep SMS as a self-service password reset method (static membership).
pub const SSPR_GROUP_ID: &str = "2b7d9e41-0c5a-4f3b-a6e2-71d48c9f0a13";
pub const SSPR_GROUP_NAME: &str = "SSPR users";
/// Emergency access ("break-glass") accounts, excluded from the MFA policy as usual.
pub const BREAK_GLASS_GROUP_ID: &str = "9e3a5c70-1d2b-4e8f-b4c6-0f7a2d91e5b8";
pub const BREAK_GLASS_GROUP_NAME: &str = "Emergency access accounts";

/// A group of contractors who may use a phone, itself a member of the exclusion group: Graph
/// lists it among the exclusion group's members as a `#microsoft.graph.group`.
pub const NESTED_GROUP_ID: &str = "4d2e8a17-6b3c-4f95-9e01-c7a5b3d9f2e6";
pub const NESTED_GROUP_NAME: &str = "Phone MFA exceptions (contractors)";
/// People in the nested group.
const NESTED_SIZE: usize = 2;

/// People who may not use the Authenticator app (shared work phones): excluded from the
/// `MicrosoftAuthenticator` method, so the policy hides the app they have registered. People
/// join and leave it during the story.
pub const NO_AUTHENTICATOR_GROUP_ID: &str = "a7c4e2f1-5b3d-4e8a-9c6f-1d2b3a4e5f60";
pub const NO_AUTHENTICATOR_GROUP_NAME: &str = "Authenticator app not allowed";
/// People denied SMS (SIM-swap risk): excluded from the `Sms` method. Not an allowlist.
pub const NO_SMS_GROUP_ID: &str = "e5d1b3c9-7a2f-4b6e-8d04-3c9a1f7e2b58";
pub const NO_SMS_GROUP_NAME: &str = "SMS not allowed (SIM-swap risk)";
/// A role-assignable group assigned the Global Administrator role: its members hold it.
pub const ROLE_GROUP_ID: &str = "f2a9c6e4-3d1b-4a7c-b5e8-6a0d9c2f4b31";
pub const ROLE_GROUP_NAME: &str = "Tier 0 administrators";

/// The built-in authentication strengths' fixed ids (graph-api.md §6).
pub const STRENGTH_MFA_ID: &str = "00000000-0000-0000-0000-000000000002";
pub const STRENGTH_PASSWORDLESS_ID: &str = "00000000-0000-0000-0000-000000000003";
pub const STRENGTH_PHISHING_RESISTANT_ID: &str = "00000000-0000-0000-0000-000000000004";
/// The custom strength created during the story: every combination without SMS or voice.
pub const CUSTOM_STRENGTH_ID: &str = "8f4e1a52-3c1d-4b7e-9a06-5d2f7c81e3b9";
pub const CUSTOM_STRENGTH_NAME: &str = "Phishing-resistant or Authenticator (no phone)";

/// Conditional Access policies.
pub const CA_BLOCK_LEGACY_ID: &str = "0d6b3f2a-8c41-4e97-a5d0-3b1e6f4c2a98";
pub const CA_BLOCK_LEGACY_NAME: &str = "Block legacy authentication";
pub const CA_REQUIRE_MFA_ID: &str = "5a1e7c3d-2b94-4f60-8d1a-c6e0b3f95d27";
pub const CA_REQUIRE_MFA_NAME: &str = "Require MFA for all users";
pub const CA_NO_PHONE_ID: &str = "c3f8d1a6-7e25-4b09-9f3c-4a6d2e8b1f70";
pub const CA_NO_PHONE_NAME: &str = "Require no-phone strength for admin portals";

/// Audit activity names, as Entra spells them (graph-api.md §8).
pub const ADD_MEMBER: &str = "Add member to group";
pub const REMOVE_MEMBER: &str = "Remove member from group";
pub const METHODS_POLICY_UPDATE: &str = "Authentication Methods Policy Update";
pub const STRENGTH_CREATE: &str = "Authentication Strength Policy Create";
pub const CA_ADD: &str = "Add conditional access policy";
pub const CA_UPDATE: &str = "Update conditional access policy";

/// When things happen, as percentages of the story's length.
const CAMPAIGN_PERCENT: u32 = 20;
const CUSTOM_STRENGTH_PERCENT: u32 = 40;
const TIGHTEN_PERCENT: u32 = 60;
const ENFORCE_PERCENT: u32 = 65;
const MIGRATION_COMPLETE_PERCENT: u32 = 75;
const OFFICE_PHONES_OFF_PERCENT: u32 = 30;
const GLOBAL_ADMIN_REVOKED_PERCENT: u32 = 35;
const PASSKEY_OPT_OUT_PERCENT: u32 = 50;
const GLOBAL_ADMIN_GRANTED_PERCENT: u32 = 55;
const CAMPAIGN_MANAGED_PERCENT: u32 = 85;

/// People in the exclusion group before the story starts (slots `0..INITIAL_EXCLUDED`).
const INITIAL_EXCLUDED: usize = 3;

/// One step of the exclusion group's story: a slot (a person drawn once, phone-only on the
/// day they first join) joins or leaves.
#[derive(Debug, Clone, Copy)]
enum Step {
    Join(usize),
    Leave(usize),
}

/// The exclusion group's story: (percent of the story, step). Slot 0 leaves and comes back.
const EXCLUSION_STEPS: &[(u32, Step)] = &[
    (15, Step::Join(3)),
    (25, Step::Leave(0)),
    (30, Step::Join(4)),
    (45, Step::Join(5)),
    (50, Step::Leave(3)),
    (62, Step::Join(6)),
    (70, Step::Join(7)),
    (80, Step::Join(0)),
    (85, Step::Leave(4)),
    (92, Step::Join(8)),
];

/// People in the Authenticator-excluded group before the story (slots
/// `0..NO_AUTHENTICATOR_INITIAL`), and its story: the Authenticator and a phone on the day a
/// slot first joins. Slot 0 leaves; slot 2 joins and leaves.
const NO_AUTHENTICATOR_INITIAL: usize = 2;
const NO_AUTHENTICATOR_STEPS: &[(u32, Step)] = &[
    (10, Step::Join(2)),
    (33, Step::Join(3)),
    (57, Step::Leave(0)),
    (68, Step::Join(4)),
    (88, Step::Leave(2)),
];
/// People in the SMS-denied group (static).
const NO_SMS_SIZE: usize = 3;
/// Separates the draws added with the Authenticator-excluded and SMS-denied groups from the
/// story's first stream, so the exclusion group's story stays as it was.
const STORY_STREAM_GROUPS: u64 = u64::MAX - 8;

/// Every n-th eligible member is in the SSPR group.
const SSPR_EVERY: usize = 20;
/// Admins in the break-glass group.
const BREAK_GLASS_SIZE: usize = 2;
/// Tries at drawing a phone-only person for a slot before giving up on it (tiny tenants).
const DRAW_TRIES: usize = 5_000;
/// Separates the story's random stream from the people's (stream = person index).
const STORY_STREAM: u64 = u64::MAX - 7;
/// When the policies were last changed before the story, in days before day 0.
const PRE_STORY_DAYS: i64 = 120;

/// The days on which the policies change (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDays {
    /// The Authenticator registration campaign goes from `default` to `enabled`.
    pub campaign: u32,
    /// The custom no-phone strength and a report-only CA policy requiring it appear.
    pub custom_strength: u32,
    /// Voice disabled; SMS narrowed to the exclusion and SSPR groups, not for sign-in.
    pub tighten: u32,
    /// The no-phone CA policy goes from report-only to enabled.
    pub enforce: u32,
    /// `policyMigrationState` goes from `migrationInProgress` to `migrationComplete`.
    pub migration_complete: u32,
    /// Voice's `isOfficePhoneAllowed` goes from true to false (voice itself stays on until
    /// [`Self::tighten`]).
    pub office_phones_off: u32,
    /// A directly assigned Global Administrator loses the role.
    pub global_admin_revoked: u32,
    /// The beta policy's `optOutSettings.passkeyDynamicMigration` goes from false to true.
    pub passkey_opt_out: u32,
    /// A phone-only person is assigned the Global Administrator role directly.
    pub global_admin_granted: u32,
    /// The registration campaign goes to the Microsoft-managed state (`default`) targeting
    /// passkeys, as on 2026-09-01 (graph-api.md §12).
    pub campaign_managed: u32,
}

impl KeyDays {
    /// The key days of a story of `days` days.
    pub fn new(days: u32) -> KeyDays {
        KeyDays {
            campaign: story_day(days, CAMPAIGN_PERCENT),
            custom_strength: story_day(days, CUSTOM_STRENGTH_PERCENT),
            tighten: story_day(days, TIGHTEN_PERCENT),
            enforce: story_day(days, ENFORCE_PERCENT),
            migration_complete: story_day(days, MIGRATION_COMPLETE_PERCENT),
            office_phones_off: story_day(days, OFFICE_PHONES_OFF_PERCENT),
            global_admin_revoked: story_day(days, GLOBAL_ADMIN_REVOKED_PERCENT),
            passkey_opt_out: story_day(days, PASSKEY_OPT_OUT_PERCENT),
            global_admin_granted: story_day(days, GLOBAL_ADMIN_GRANTED_PERCENT),
            campaign_managed: story_day(days, CAMPAIGN_MANAGED_PERCENT),
        }
    }
}

/// The day `percent` of the way through a story of `days` days (never day 0, which is the
/// state before anything happens).
fn story_day(days: u32, percent: u32) -> u32 {
    (days * percent / 100).max(1)
}

/// A person as group listings and audit entries name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub display_name: String,
    pub user_principal_name: String,
}

/// One of the simulated security groups.
#[derive(Debug, Clone, PartialEq)]
pub struct SimGroup {
    pub id: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
    pub mail_nickname: &'static str,
    /// `isAssignableToRole`: the group may be assigned a directory role.
    pub role_assignable: bool,
}

impl SimGroup {
    /// The group as `GET /groups/{id}` returns it.
    pub fn to_graph(&self, start: NaiveDate) -> Group {
        Group {
            id: self.id.to_owned(),
            display_name: self.display_name.to_owned(),
            description: Some(self.description.to_owned()),
            security_enabled: true,
            mail_enabled: false,
            mail_nickname: Some(self.mail_nickname.to_owned()),
            group_types: Vec::new(),
            created_date_time: Some(at(start, 0, 9, 0) - Duration::days(PRE_STORY_DAYS * 2)),
        }
    }
}

/// A person added to or removed from a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    Added,
    Removed,
}

/// A dated membership change and who made it (an administrator of the tenant).
#[derive(Debug, Clone, PartialEq)]
pub struct MembershipEvent {
    pub day: u32,
    pub at: DateTime<Utc>,
    pub group_id: &'static str,
    pub member: Member,
    pub change: MembershipChange,
    pub by: Member,
    audit_id: String,
    correlation_id: String,
}

/// A membership change made through the fake's write endpoints (an app's, not the story's),
/// laid over the story from its day on: `/members`, `/transitiveMembers`,
/// `checkMemberGroups` and the audit log show it as Graph would.
#[derive(Debug, Clone, PartialEq)]
pub struct MembershipWrite {
    /// The story's day it was made on, and when (that day's date, the clock's time).
    pub day: u32,
    pub at: DateTime<Utc>,
    pub group_id: &'static str,
    pub member: Member,
    pub change: MembershipChange,
    /// The app registration that made it, as the audit log names it.
    pub app: AuditApp,
    pub audit_id: String,
    pub correlation_id: String,
}

/// A dated change of a policy, as the audit log records it.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyChange {
    pub day: u32,
    pub at: DateTime<Utc>,
    /// The audit activity, e.g. [`METHODS_POLICY_UPDATE`].
    pub activity: &'static str,
    /// The object changed: a method configuration id (`Voice`), strength or CA policy id.
    pub target_id: &'static str,
    pub target_name: &'static str,
    /// The property changed, with old and new values as JSON text.
    pub property: &'static str,
    pub old_value: Option<String>,
    pub new_value: String,
    logged_by_service: &'static str,
    category: &'static str,
    operation_type: &'static str,
    audit_id: String,
    correlation_id: String,
}

/// The tenant's policies, groups and their history, drawn once from the tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyStory {
    start: NaiveDate,
    key_days: KeyDays,
    groups: Vec<SimGroup>,
    /// People in each group on day 0 (in the order of [`Self::groups`]).
    initial: Vec<Vec<Member>>,
    /// Groups that are members of groups, for the whole story: (group, member group).
    nested: Vec<(&'static str, &'static str)>,
    /// Membership changes in the order they happen.
    events: Vec<MembershipEvent>,
    /// Policy changes in the order they happen.
    changes: Vec<PolicyChange>,
    /// The administrator who makes the policy changes (the security lead).
    policy_author: Option<Member>,
    /// Holders of the Global Administrator role (users), in the tenant's order.
    role_holders: Vec<RoleHolder>,
    /// The role-assignable group's assignment id.
    role_group_assignment: String,
}

/// A person's hold on the Global Administrator role.
#[derive(Debug, Clone, PartialEq)]
struct RoleHolder {
    member: Member,
    how: GlobalAdmin,
    /// The assignment's id (active) or the eligibility schedule's (eligible).
    grant_id: String,
}

impl PolicyStory {
    /// Draws the story of `tenant`; the same tenant always gives the same story.
    pub fn new(tenant: &Tenant) -> PolicyStory {
        let mut rng = ChaCha8Rng::seed_from_u64(tenant.seed);
        rng.set_stream(STORY_STREAM);
        let start = tenant.start;
        let key_days = KeyDays::new(tenant.days);

        // People there for the whole story, so memberships never meet departures.
        let steady: Vec<usize> = (0..tenant.people.len())
            .filter(|&i| {
                let p = &tenant.people[i];
                p.joins == 0 && p.leaves.is_none() && !p.disabled && !p.missing_from_directory
            })
            .collect();
        let member = |i: usize| {
            let p = &tenant.people[i];
            Member {
                id: p.id.clone(),
                display_name: p.display_name.clone(),
                user_principal_name: p.upn.clone(),
            }
        };
        let mut admins: Vec<usize> = steady
            .iter()
            .copied()
            .filter(|&i| tenant.people[i].admin)
            .collect();
        if admins.is_empty() {
            admins = steady
                .iter()
                .copied()
                .filter(|&i| !tenant.people[i].drawn_guest())
                .take(1)
                .collect();
        }

        // Draw a phone-only person for each slot on the day the slot first joins.
        let slot_count = EXCLUSION_STEPS
            .iter()
            .map(|(_, s)| match s {
                Step::Join(n) | Step::Leave(n) => n + 1,
            })
            .max()
            .unwrap_or(0)
            .max(INITIAL_EXCLUDED);
        let mut slots: Vec<Option<usize>> = vec![None; slot_count];
        let first_join = |slot: usize| -> u32 {
            if slot < INITIAL_EXCLUDED {
                return 0;
            }
            EXCLUSION_STEPS
                .iter()
                .find(|(_, s)| matches!(s, Step::Join(n) if *n == slot))
                .map_or(0, |(pct, _)| story_day(tenant.days, *pct))
        };
        // Who is phone-only on which day, worked out once: a small tenant is drawn from many
        // times over.
        let mut phone_only_on: HashMap<(usize, u32), bool> = HashMap::new();
        for slot in 0..slot_count {
            let day = first_join(slot);
            if steady.is_empty() {
                break;
            }
            for _ in 0..DRAW_TRIES {
                let i = steady[rng.random_range(0..steady.len())];
                if !slots.contains(&Some(i))
                    && !admins.contains(&i)
                    && *phone_only_on
                        .entry((i, day))
                        .or_insert_with(|| phone_only(tenant, i, day))
                {
                    slots[slot] = Some(i);
                    break;
                }
            }
        }

        let mut ids = || -> (String, String) {
            let a = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
            let b = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
            (a.to_string(), b.to_string())
        };

        let exclusion_initial: Vec<Member> = slots[..INITIAL_EXCLUDED]
            .iter()
            .flatten()
            .map(|&i| member(i))
            .collect();
        let mut events = Vec::new();
        for (n, (pct, step)) in EXCLUSION_STEPS.iter().enumerate() {
            let (slot, change) = match *step {
                Step::Join(s) => (s, MembershipChange::Added),
                Step::Leave(s) => (s, MembershipChange::Removed),
            };
            let (Some(Some(person)), Some(&admin)) =
                (slots.get(slot), admins.get(n % admins.len().max(1)))
            else {
                continue;
            };
            let day = story_day(tenant.days, *pct);
            let (audit_id, correlation_id) = ids();
            events.push(MembershipEvent {
                day,
                at: at(start, day, 9 + (n as u32 % 8), (n as u32 * 7) % 60),
                group_id: EXCLUSION_GROUP_ID,
                member: member(*person),
                change,
                by: member(admin),
                audit_id,
                correlation_id,
            });
        }
        // Stable: each group's own events stay in the order of its steps.
        events.sort_by_key(|e| e.day);

        let sspr: Vec<Member> = steady
            .iter()
            .copied()
            .filter(|&i| !tenant.people[i].drawn_guest())
            .step_by(SSPR_EVERY)
            .map(member)
            .collect();
        let break_glass: Vec<Member> = admins
            .iter()
            .copied()
            .take(BREAK_GLASS_SIZE)
            .map(member)
            .collect();
        let contractors: Vec<Member> = steady
            .iter()
            .copied()
            .filter(|&i| tenant.people[i].drawn_guest() && !slots.contains(&Some(i)))
            .take(NESTED_SIZE)
            .map(member)
            .collect();

        let groups = vec![
            SimGroup {
                id: EXCLUSION_GROUP_ID,
                display_name: EXCLUSION_GROUP_NAME,
                description: "People who cannot use the Authenticator app or a passkey yet; \
                              excluded from the no-phone policies",
                mail_nickname: "phone-mfa-exceptions",
                role_assignable: false,
            },
            SimGroup {
                id: SSPR_GROUP_ID,
                display_name: SSPR_GROUP_NAME,
                description: "May use SMS to reset their password",
                mail_nickname: "sspr-users",
                role_assignable: false,
            },
            SimGroup {
                id: BREAK_GLASS_GROUP_ID,
                display_name: BREAK_GLASS_GROUP_NAME,
                description: "Emergency access accounts, excluded from Conditional Access",
                mail_nickname: "emergency-access",
                role_assignable: false,
            },
            SimGroup {
                id: NESTED_GROUP_ID,
                display_name: NESTED_GROUP_NAME,
                description: "Contractors' accounts that may keep a phone; a member of the \
                              exclusion group",
                mail_nickname: "phone-mfa-exceptions-contractors",
                role_assignable: false,
            },
            SimGroup {
                id: NO_AUTHENTICATOR_GROUP_ID,
                display_name: NO_AUTHENTICATOR_GROUP_NAME,
                description: "Shared work phones on which the Authenticator app may not be \
                              used; excluded from the Microsoft Authenticator method",
                mail_nickname: "no-authenticator",
                role_assignable: false,
            },
            SimGroup {
                id: NO_SMS_GROUP_ID,
                display_name: NO_SMS_GROUP_NAME,
                description: "People at risk of SIM swapping; excluded from the SMS method",
                mail_nickname: "no-sms",
                role_assignable: false,
            },
            SimGroup {
                id: ROLE_GROUP_ID,
                display_name: ROLE_GROUP_NAME,
                description: "Assigned the Global Administrator role",
                mail_nickname: "tier0-admins",
                role_assignable: true,
            },
        ];

        // The groups added later draw from a stream of their own: the exclusion group's
        // story above stays as it was.
        let mut draws = ChaCha8Rng::seed_from_u64(tenant.seed);
        draws.set_stream(STORY_STREAM_GROUPS);
        let taken = |i: usize| slots.contains(&Some(i)) || admins.contains(&i);
        let mut no_app_slots: Vec<Option<usize>> = vec![None; NO_AUTHENTICATOR_STEPS.len()];
        no_app_slots.resize(
            NO_AUTHENTICATOR_STEPS
                .iter()
                .map(|(_, s)| match s {
                    Step::Join(n) | Step::Leave(n) => n + 1,
                })
                .max()
                .unwrap_or(0)
                .max(NO_AUTHENTICATOR_INITIAL),
            None,
        );
        let members_of: Vec<usize> = steady
            .iter()
            .copied()
            .filter(|&i| !tenant.people[i].guest && !taken(i))
            .collect();
        for slot in 0..no_app_slots.len() {
            let day = first_join_of(
                NO_AUTHENTICATOR_STEPS,
                NO_AUTHENTICATOR_INITIAL,
                slot,
                tenant.days,
            );
            if members_of.is_empty() {
                break;
            }
            for _ in 0..DRAW_TRIES {
                let i = members_of[draws.random_range(0..members_of.len())];
                if !no_app_slots.contains(&Some(i))
                    && app_and_phone(tenant, i, day)
                    && app_and_phone(tenant, i, tenant.days)
                {
                    no_app_slots[slot] = Some(i);
                    break;
                }
            }
        }
        let mut group_ids = || -> (String, String) {
            let a = uuid::Builder::from_random_bytes(draws.random()).into_uuid();
            let b = uuid::Builder::from_random_bytes(draws.random()).into_uuid();
            (a.to_string(), b.to_string())
        };
        for (n, (pct, step)) in NO_AUTHENTICATOR_STEPS.iter().enumerate() {
            let (slot, change) = match *step {
                Step::Join(s) => (s, MembershipChange::Added),
                Step::Leave(s) => (s, MembershipChange::Removed),
            };
            let (Some(Some(person)), Some(&admin)) = (
                no_app_slots.get(slot),
                admins.get((n + 1) % admins.len().max(1)),
            ) else {
                continue;
            };
            let day = story_day(tenant.days, *pct);
            let (audit_id, correlation_id) = group_ids();
            events.push(MembershipEvent {
                day,
                at: at(start, day, 11 + (n as u32 % 5), 30 + (n as u32 * 11) % 30),
                group_id: NO_AUTHENTICATOR_GROUP_ID,
                member: member(*person),
                change,
                by: member(admin),
                audit_id,
                correlation_id,
            });
        }
        // Stable: each group's own events stay in the order of its steps.
        events.sort_by_key(|e| e.day);
        let no_app_initial: Vec<Member> = no_app_slots[..NO_AUTHENTICATOR_INITIAL]
            .iter()
            .flatten()
            .map(|&i| member(i))
            .collect();
        let mut no_sms: Vec<usize> = Vec::new();
        for _ in 0..DRAW_TRIES {
            if no_sms.len() >= NO_SMS_SIZE || members_of.is_empty() {
                break;
            }
            let i = members_of[draws.random_range(0..members_of.len())];
            if !no_sms.contains(&i)
                && !no_app_slots.contains(&Some(i))
                && tenant
                    .report_row(i, 0)
                    .is_some_and(|r| has_method(&r.methods_registered, "mobilephone"))
            {
                no_sms.push(i);
            }
        }
        let no_sms: Vec<Member> = no_sms.into_iter().map(member).collect();
        let role_holders: Vec<RoleHolder> = (0..tenant.people.len())
            .filter_map(|i| {
                let how = tenant.people[i].global_admin?;
                let grant_id = match how {
                    GlobalAdmin::Eligible => uuid::Builder::from_random_bytes(draws.random())
                        .into_uuid()
                        .to_string(),
                    _ => assignment_id(&tenant.people[i].id),
                };
                Some(RoleHolder {
                    member: member(i),
                    how,
                    grant_id,
                })
            })
            .collect();
        let role_group: Vec<Member> = role_holders
            .iter()
            .filter(|h| h.how == GlobalAdmin::Group)
            .map(|h| h.member.clone())
            .collect();
        let initial = vec![
            exclusion_initial,
            sspr,
            break_glass,
            contractors,
            no_app_initial,
            no_sms,
            role_group,
        ];

        let k = key_days;
        let mut changes = Vec::new();
        let mut change = |day: u32,
                          minute: u32,
                          activity: &'static str,
                          target: (&'static str, &'static str),
                          property: &'static str,
                          old_value: Option<Value>,
                          new_value: Value| {
            let (logged_by_service, category, operation_type) = match activity {
                CA_ADD => ("Conditional Access", "Policy", "Add"),
                CA_UPDATE => ("Conditional Access", "Policy", "Update"),
                STRENGTH_CREATE => ("Authentication Methods", "ApplicationManagement", "Add"),
                _ => ("Authentication Methods", "ApplicationManagement", "Update"),
            };
            let (audit_id, correlation_id) = ids();
            changes.push(PolicyChange {
                day,
                at: at(start, day, 14, minute),
                activity,
                target_id: target.0,
                target_name: target.1,
                property,
                old_value: old_value.map(|v| v.to_string()),
                new_value: new_value.to_string(),
                logged_by_service,
                category,
                operation_type,
                audit_id,
                correlation_id,
            });
        };
        let methods = (
            "authenticationMethodsPolicy",
            "Authentication Methods Policy",
        );
        change(
            k.campaign,
            0,
            METHODS_POLICY_UPDATE,
            methods,
            "RegistrationCampaign.State",
            Some(json!("default")),
            json!("enabled"),
        );
        change(
            k.custom_strength,
            0,
            STRENGTH_CREATE,
            (CUSTOM_STRENGTH_ID, CUSTOM_STRENGTH_NAME),
            "AllowedCombinations",
            None,
            json!(no_phone_combinations()),
        );
        change(
            k.custom_strength,
            10,
            CA_ADD,
            (CA_NO_PHONE_ID, CA_NO_PHONE_NAME),
            "State",
            None,
            json!("enabledForReportingButNotEnforced"),
        );
        change(
            k.tighten,
            0,
            METHODS_POLICY_UPDATE,
            ("Voice", "Voice call"),
            "State",
            Some(json!("enabled")),
            json!("disabled"),
        );
        change(
            k.tighten,
            5,
            METHODS_POLICY_UPDATE,
            ("Sms", "SMS"),
            "IncludeTargets",
            Some(json!(["all_users"])),
            json!([EXCLUSION_GROUP_ID, SSPR_GROUP_ID]),
        );
        change(
            k.enforce,
            0,
            CA_UPDATE,
            (CA_NO_PHONE_ID, CA_NO_PHONE_NAME),
            "State",
            Some(json!("enabledForReportingButNotEnforced")),
            json!("enabled"),
        );
        change(
            k.migration_complete,
            0,
            METHODS_POLICY_UPDATE,
            methods,
            "PolicyMigrationState",
            Some(json!("migrationInProgress")),
            json!("migrationComplete"),
        );
        // The changes added with the later parts of the story, after the first ones so their
        // audit ids stay as they were.
        change(
            k.office_phones_off,
            20,
            METHODS_POLICY_UPDATE,
            ("Voice", "Voice call"),
            "IsOfficePhoneAllowed",
            Some(json!(true)),
            json!(false),
        );
        change(
            k.passkey_opt_out,
            20,
            METHODS_POLICY_UPDATE,
            methods,
            "OptOutSettings.PasskeyDynamicMigration",
            Some(json!(false)),
            json!(true),
        );
        change(
            k.campaign_managed,
            20,
            METHODS_POLICY_UPDATE,
            methods,
            "RegistrationCampaign.State",
            Some(json!("enabled")),
            json!("default"),
        );
        changes.sort_by_key(|c| c.at);
        PolicyStory {
            start,
            key_days,
            groups,
            initial,
            nested: vec![(EXCLUSION_GROUP_ID, NESTED_GROUP_ID)],
            events,
            changes,
            policy_author: admins.first().map(|&i| member(i)),
            role_group_assignment: assignment_id(ROLE_GROUP_ID),
            role_holders,
        }
    }

    /// The days on which the policies change.
    pub fn key_days(&self) -> KeyDays {
        self.key_days
    }

    /// The security groups (exclusion group first).
    pub fn groups(&self) -> &[SimGroup] {
        &self.groups
    }

    pub fn group(&self, id: &str) -> Option<&SimGroup> {
        self.groups.iter().find(|g| g.id.eq_ignore_ascii_case(id))
    }

    /// The date of day 0.
    pub fn start(&self) -> NaiveDate {
        self.start
    }

    /// Every membership change of the story (all in the exclusion group), oldest first.
    /// Members on day 0 joined before the story and have no event.
    pub fn membership_events(&self) -> &[MembershipEvent] {
        &self.events
    }

    /// Every policy change of the story, oldest first.
    pub fn policy_changes(&self) -> &[PolicyChange] {
        &self.changes
    }

    /// The people in group `id` at the end of `day` (in the order they joined; member groups
    /// are [`Self::nested_groups`]); `None` for a group that does not exist.
    pub fn members(&self, id: &str, day: u32) -> Option<Vec<Member>> {
        self.members_with(id, day, &[])
    }

    /// [`Self::members`] with `writes` laid over the story: each applied at its time among the
    /// story's own changes, so a later change of the story still happens.
    pub fn members_with(
        &self,
        id: &str,
        day: u32,
        writes: &[MembershipWrite],
    ) -> Option<Vec<Member>> {
        let index = self
            .groups
            .iter()
            .position(|g| g.id.eq_ignore_ascii_case(id))?;
        let group = self.groups[index].id;
        let mut members = self.initial[index].clone();
        let apply = |members: &mut Vec<Member>, member: &Member, change: MembershipChange| {
            let at = members.iter().position(|m| m.id == member.id);
            match (change, at) {
                (MembershipChange::Added, None) => members.push(member.clone()),
                (MembershipChange::Removed, Some(i)) => {
                    members.remove(i);
                }
                _ => {}
            }
        };
        let mut written: Vec<&MembershipWrite> = writes
            .iter()
            .filter(|w| w.group_id == group && w.day <= day)
            .collect();
        // Stable: writes made at the same moment keep the order they were made in.
        written.sort_by_key(|w| (w.day, w.at));
        let mut written = written.into_iter().peekable();
        for e in self
            .events
            .iter()
            .filter(|e| e.group_id == group && e.day <= day)
        {
            while let Some(w) = written.next_if(|w| (w.day, w.at) < (e.day, e.at)) {
                apply(&mut members, &w.member, w.change);
            }
            apply(&mut members, &e.member, e.change);
        }
        for w in written {
            apply(&mut members, &w.member, w.change);
        }
        Some(members)
    }

    /// The groups that are members of group `id` (direct members, as `/members` lists them).
    pub fn nested_groups(&self, id: &str) -> Vec<&SimGroup> {
        self.nested
            .iter()
            .filter(|(group, _)| group.eq_ignore_ascii_case(id))
            .filter_map(|(_, member)| self.group(member))
            .collect()
    }

    /// The authentication methods policy on `day`, configurations expanded.
    pub fn methods_policy(&self, day: u32) -> AuthenticationMethodsPolicy {
        let k = self.key_days;
        let tightened = day >= k.tighten;
        let all_users = |extra: MethodTarget| MethodTarget {
            id: "all_users".to_owned(),
            target_type: "group".to_owned(),
            ..extra
        };
        let group = |id: &str, usable: bool| MethodTarget {
            id: id.to_owned(),
            target_type: "group".to_owned(),
            is_registration_required: false,
            is_usable_for_sign_in: Some(usable),
            authentication_mode: None,
        };
        let sms_targets = if tightened {
            vec![
                group(EXCLUSION_GROUP_ID, false),
                group(SSPR_GROUP_ID, false),
            ]
        } else {
            vec![all_users(MethodTarget {
                is_usable_for_sign_in: Some(true),
                ..MethodTarget::default()
            })]
        };
        let plain = || vec![all_users(MethodTarget::default())];
        let enabled = |on: bool| if on { "enabled" } else { "disabled" };
        let configurations = vec![
            config("sms", "Sms", enabled(true), sms_targets, None, json!({})),
            config(
                "voice",
                "Voice",
                enabled(!tightened),
                plain(),
                Some(day < k.office_phones_off),
                json!({}),
            ),
            config(
                "microsoftAuthenticator",
                "MicrosoftAuthenticator",
                enabled(true),
                vec![all_users(MethodTarget {
                    authentication_mode: Some("any".to_owned()),
                    ..MethodTarget::default()
                })],
                None,
                // v1.0's feature settings: `companionAppAllowedState` and
                // `numberMatchingRequiredState` are beta only, and the fake serves v1.0.
                json!({
                    "isSoftwareOathEnabled": false,
                    "featureSettings": {
                        "displayAppInformationRequiredState": feature("enabled"),
                        "displayLocationInformationRequiredState": feature("enabled"),
                    },
                }),
            ),
            config(
                "fido2",
                "Fido2",
                enabled(true),
                plain(),
                None,
                json!({
                    "isSelfServiceRegistrationAllowed": true,
                    "isAttestationEnforced": false,
                    "keyRestrictions": {"isEnforced": false, "enforcementType": "block", "aaGuids": []},
                }),
            ),
            config(
                "temporaryAccessPass",
                "TemporaryAccessPass",
                enabled(true),
                plain(),
                None,
                json!({
                    "defaultLifetimeInMinutes": 60,
                    "defaultLength": 8,
                    "minimumLifetimeInMinutes": 60,
                    "maximumLifetimeInMinutes": 480,
                    "isUsableOnce": false,
                }),
            ),
            config(
                "email",
                "Email",
                enabled(true),
                plain(),
                None,
                json!({"allowExternalIdToUseEmailOtp": "default"}),
            ),
            config(
                "softwareOath",
                "SoftwareOath",
                enabled(false),
                plain(),
                None,
                json!({}),
            ),
            config(
                "x509Certificate",
                "X509Certificate",
                enabled(false),
                plain(),
                None,
                json!({
                    "certificateUserBindings": [],
                    "authenticationModeConfiguration": {
                        "x509CertificateAuthenticationDefaultMode": "x509CertificateSingleFactor",
                        "rules": [],
                    },
                }),
            ),
        ];
        let mut configurations = configurations;
        for c in &mut configurations {
            let excluded = match c.id.as_str() {
                "Sms" => NO_SMS_GROUP_ID,
                "MicrosoftAuthenticator" => NO_AUTHENTICATOR_GROUP_ID,
                _ => continue,
            };
            c.exclude_targets.push(ExcludeTarget {
                id: excluded.to_owned(),
                target_type: "group".to_owned(),
            });
        }
        let managed = day >= k.campaign_managed;
        let last_modified = self
            .changes
            .iter()
            .filter(|c| c.activity == METHODS_POLICY_UPDATE && c.day <= day)
            .map(|c| c.at)
            .next_back()
            .unwrap_or_else(|| self.before_story());
        AuthenticationMethodsPolicy {
            opt_out_settings: None,
            id: "authenticationMethodsPolicy".to_owned(),
            display_name: "Authentication Methods Policy".to_owned(),
            description: Some(
                "The tenant-wide policy that controls which authentication methods are allowed \
                 in the tenant, authentication method registration requirements, and self-service \
                 password reset settings"
                    .to_owned(),
            ),
            last_modified_date_time: Some(last_modified),
            policy_version: Some("1.5".to_owned()),
            policy_migration_state: Some(
                if day >= k.migration_complete {
                    "migrationComplete"
                } else {
                    "migrationInProgress"
                }
                .to_owned(),
            ),
            registration_enforcement: Some(RegistrationEnforcement {
                authentication_methods_registration_campaign: Some(RegistrationCampaign {
                    snooze_duration_in_days: 1,
                    // Microsoft-managed from 2026-09-01 on: `default`, asking for passkeys.
                    state: if day >= k.campaign && !managed {
                        "enabled"
                    } else {
                        "default"
                    }
                    .to_owned(),
                    exclude_targets: Vec::new(),
                    include_targets: vec![CampaignTarget {
                        id: "all_users".to_owned(),
                        target_type: "group".to_owned(),
                        targeted_authentication_method: if managed {
                            "passkey"
                        } else {
                            "microsoftAuthenticator"
                        }
                        .to_owned(),
                    }],
                }),
            }),
            authentication_method_configurations: configurations,
        }
    }

    /// The beta methods policy on `day`: the v1.0 one with the beta-only `optOutSettings`
    /// (whether the tenant opted out of the passkey auto-enablement, graph-api.md §12). The
    /// other beta-only properties are added where it is served ([`super::policy_api`]).
    pub fn beta_methods_policy(&self, day: u32) -> AuthenticationMethodsPolicy {
        AuthenticationMethodsPolicy {
            opt_out_settings: Some(OptOutSettings {
                passkey_dynamic_migration: Some(day >= self.key_days.passkey_opt_out),
            }),
            ..self.methods_policy(day)
        }
    }

    /// Whether a person holds the Global Administrator role actively on `day` (directly or
    /// through the role group), and whether only as eligible.
    fn holds(&self, h: &RoleHolder, day: u32) -> (bool, bool) {
        let k = self.key_days;
        match h.how {
            GlobalAdmin::Direct | GlobalAdmin::Group => (true, false),
            GlobalAdmin::Eligible => (false, true),
            GlobalAdmin::Granted => (day >= k.global_admin_granted, false),
            GlobalAdmin::Revoked => (day < k.global_admin_revoked, false),
        }
    }

    /// The active Global Administrator assignments on `day`, principals expanded (as
    /// `roleAssignments?$filter=roleDefinitionId eq '…'&$expand=principal` lists them): the
    /// directly assigned people, and the role-assignable group.
    pub fn role_assignments(&self, day: u32) -> Vec<RoleGrant> {
        let mut out: Vec<RoleGrant> = self
            .role_holders
            .iter()
            .filter(|h| h.how != GlobalAdmin::Group && self.holds(h, day).0)
            .map(|h| grant(&h.grant_id, user_principal(&h.member), None))
            .collect();
        if let Some(group) = self.group(ROLE_GROUP_ID) {
            let principal = DirectoryObject {
                odata_type: "#microsoft.graph.group".to_owned(),
                id: group.id.to_owned(),
                display_name: Some(group.display_name.to_owned()),
                user_principal_name: None,
            };
            out.insert(
                out.len().min(1),
                grant(&self.role_group_assignment, principal, None),
            );
        }
        out
    }

    /// The PIM eligibilities for the Global Administrator role on `day` (people eligible, not
    /// active), principals expanded.
    pub fn role_eligibilities(&self, day: u32) -> Vec<RoleGrant> {
        self.role_holders
            .iter()
            .filter(|h| self.holds(h, day).1)
            .map(|h| {
                grant(
                    &h.grant_id,
                    user_principal(&h.member),
                    Some("Provisioned".to_owned()),
                )
            })
            .collect()
    }

    /// The ids of the people who hold the Global Administrator role actively on `day`,
    /// directly or as members of the role-assignable group, in the tenant's order.
    pub fn global_admins(&self, day: u32) -> Vec<String> {
        self.role_holders
            .iter()
            .filter(|h| self.holds(h, day).0)
            .map(|h| h.member.id.clone())
            .collect()
    }

    /// The ids of the people only eligible (PIM) for the Global Administrator role on `day`.
    pub fn eligible_admins(&self, day: u32) -> Vec<String> {
        self.role_holders
            .iter()
            .filter(|h| self.holds(h, day).1)
            .map(|h| h.member.id.clone())
            .collect()
    }

    /// The people in group `id` on `day`, nested groups' people included, each once (as
    /// `/transitiveMembers` lists the users); `None` for a group that does not exist.
    pub fn transitive_members(&self, id: &str, day: u32) -> Option<Vec<Member>> {
        self.transitive_members_with(id, day, &[])
    }

    /// [`Self::transitive_members`] with `writes` laid over the story ([`Self::members_with`]).
    pub fn transitive_members_with(
        &self,
        id: &str,
        day: u32,
        writes: &[MembershipWrite],
    ) -> Option<Vec<Member>> {
        let mut out = self.members_with(id, day, writes)?;
        let mut pending: Vec<&str> = self.nested_groups(id).iter().map(|g| g.id).collect();
        let mut seen: Vec<&str> = vec![];
        while let Some(group) = pending.pop() {
            if seen.contains(&group) || group.eq_ignore_ascii_case(id) {
                continue;
            }
            seen.push(group);
            for m in self.members_with(group, day, writes).unwrap_or_default() {
                if !out.iter().any(|o| o.id == m.id) {
                    out.push(m);
                }
            }
            pending.extend(self.nested_groups(group).iter().map(|g| g.id));
        }
        Some(out)
    }

    /// The authentication strengths on `day`: the three built-ins, and the custom no-phone
    /// strength once it has been created.
    pub fn strength_policies(&self, day: u32) -> Vec<AuthenticationStrengthPolicy> {
        let builtin_created = DateTime::<Utc>::from_timestamp(BUILT_INS_CREATED, 0);
        let builtin = |id: &str, name: &str, description: &str, combos: &[&str]| {
            AuthenticationStrengthPolicy {
                id: id.to_owned(),
                display_name: name.to_owned(),
                description: Some(description.to_owned()),
                policy_type: "builtIn".to_owned(),
                requirements_satisfied: "mfa".to_owned(),
                allowed_combinations: combos.iter().map(|c| (*c).to_owned()).collect(),
                created_date_time: builtin_created,
                modified_date_time: builtin_created,
            }
        };
        let mut out = vec![
            builtin(
                STRENGTH_MFA_ID,
                "Multifactor authentication",
                "Combinations of methods that satisfy strong authentication, such as a password + SMS",
                MFA_COMBINATIONS,
            ),
            builtin(
                STRENGTH_PASSWORDLESS_ID,
                "Passwordless MFA",
                "Passwordless methods that satisfy strong authentication, such as Passwordless sign-in with the Microsoft Authenticator",
                PASSWORDLESS_COMBINATIONS,
            ),
            builtin(
                STRENGTH_PHISHING_RESISTANT_ID,
                "Phishing resistant MFA",
                "Phishing-resistant, Passwordless methods for the strongest authentication, such as a FIDO2 security key",
                PHISHING_RESISTANT_COMBINATIONS,
            ),
        ];
        if day >= self.key_days.custom_strength {
            out.push(self.custom_strength());
        }
        out
    }

    fn custom_strength(&self) -> AuthenticationStrengthPolicy {
        let created = self.change_at(STRENGTH_CREATE, CUSTOM_STRENGTH_ID);
        AuthenticationStrengthPolicy {
            id: CUSTOM_STRENGTH_ID.to_owned(),
            display_name: CUSTOM_STRENGTH_NAME.to_owned(),
            description: Some(
                "Passkeys, Windows Hello or the Authenticator app; never SMS or voice".to_owned(),
            ),
            policy_type: "custom".to_owned(),
            requirements_satisfied: "mfa".to_owned(),
            allowed_combinations: no_phone_combinations(),
            created_date_time: created,
            modified_date_time: created,
        }
    }

    /// The Conditional Access policies on `day`.
    pub fn conditional_access(&self, day: u32) -> Vec<ConditionalAccessPolicy> {
        let k = self.key_days;
        let before = Some(self.before_story());
        let all_apps = json!({"includeApplications": ["All"], "excludeApplications": []});
        let mut out = vec![
            ConditionalAccessPolicy {
                id: CA_BLOCK_LEGACY_ID.to_owned(),
                display_name: CA_BLOCK_LEGACY_NAME.to_owned(),
                state: "enabled".to_owned(),
                created_date_time: before,
                modified_date_time: None,
                conditions: ConditionalAccessConditions {
                    users: Some(ConditionalAccessUsers {
                        include_users: vec!["All".to_owned()],
                        exclude_groups: vec![BREAK_GLASS_GROUP_ID.to_owned()],
                        ..ConditionalAccessUsers::default()
                    }),
                    applications: Some(all_apps.clone()),
                    client_app_types: vec!["exchangeActiveSync".to_owned(), "other".to_owned()],
                },
                grant_controls: Some(GrantControls {
                    operator: "OR".to_owned(),
                    built_in_controls: vec!["block".to_owned()],
                    ..GrantControls::default()
                }),
            },
            ConditionalAccessPolicy {
                id: CA_REQUIRE_MFA_ID.to_owned(),
                display_name: CA_REQUIRE_MFA_NAME.to_owned(),
                state: "enabled".to_owned(),
                created_date_time: before,
                modified_date_time: None,
                conditions: ConditionalAccessConditions {
                    users: Some(ConditionalAccessUsers {
                        include_users: vec!["All".to_owned()],
                        exclude_groups: vec![
                            EXCLUSION_GROUP_ID.to_owned(),
                            BREAK_GLASS_GROUP_ID.to_owned(),
                        ],
                        ..ConditionalAccessUsers::default()
                    }),
                    applications: Some(all_apps),
                    client_app_types: vec!["all".to_owned()],
                },
                grant_controls: Some(GrantControls {
                    operator: "OR".to_owned(),
                    built_in_controls: vec!["mfa".to_owned()],
                    ..GrantControls::default()
                }),
            },
        ];
        if day >= k.custom_strength {
            let enforced = day >= k.enforce;
            out.push(ConditionalAccessPolicy {
                id: CA_NO_PHONE_ID.to_owned(),
                display_name: CA_NO_PHONE_NAME.to_owned(),
                state: if enforced {
                    "enabled"
                } else {
                    "enabledForReportingButNotEnforced"
                }
                .to_owned(),
                created_date_time: self.change_at(CA_ADD, CA_NO_PHONE_ID),
                modified_date_time: if enforced {
                    self.change_at(CA_UPDATE, CA_NO_PHONE_ID)
                } else {
                    None
                },
                conditions: ConditionalAccessConditions {
                    users: Some(ConditionalAccessUsers {
                        include_users: vec!["All".to_owned()],
                        exclude_groups: vec![EXCLUSION_GROUP_ID.to_owned()],
                        ..ConditionalAccessUsers::default()
                    }),
                    applications: Some(json!({
                        "includeApplications": ["MicrosoftAdminPortals"],
                        "excludeApplications": [],
                    })),
                    client_app_types: vec!["all".to_owned()],
                },
                grant_controls: Some(GrantControls {
                    operator: "OR".to_owned(),
                    authentication_strength: Some(self.custom_strength()),
                    ..GrantControls::default()
                }),
            });
        }
        out
    }

    /// The directory audit entries up to the end of `day`, newest first.
    pub fn audits(&self, day: u32) -> Vec<DirectoryAudit> {
        self.audits_with(day, &[])
    }

    /// [`Self::audits`] with an entry for each of `writes` made by the end of `day`, its
    /// initiator the app that made it.
    pub fn audits_with(&self, day: u32, writes: &[MembershipWrite]) -> Vec<DirectoryAudit> {
        let mut out: Vec<DirectoryAudit> = self
            .events
            .iter()
            .filter(|e| e.day <= day)
            .map(|e| {
                self.membership_audit(Audited {
                    audit_id: &e.audit_id,
                    correlation_id: &e.correlation_id,
                    at: e.at,
                    group_id: e.group_id,
                    member: &e.member,
                    change: e.change,
                    initiated_by: initiator(&e.by),
                })
            })
            .chain(writes.iter().filter(|w| w.day <= day).map(|w| {
                self.membership_audit(Audited {
                    audit_id: &w.audit_id,
                    correlation_id: &w.correlation_id,
                    at: w.at,
                    group_id: w.group_id,
                    member: &w.member,
                    change: w.change,
                    initiated_by: AuditInitiator {
                        user: None,
                        app: Some(w.app.clone()),
                    },
                })
            }))
            .chain(
                self.changes
                    .iter()
                    .filter(|c| c.day <= day)
                    .map(|c| self.policy_audit(c)),
            )
            .collect();
        out.sort_by(|a, b| {
            b.activity_date_time
                .cmp(&a.activity_date_time)
                .then_with(|| a.id.cmp(&b.id))
        });
        out
    }

    /// The audit entry of a membership change, shaped as Entra writes `Add member to group`
    /// and `Remove member from group`: the user first, naming the group in its modified
    /// properties, then the group.
    fn membership_audit(&self, e: Audited<'_>) -> DirectoryAudit {
        let group = self.group(e.group_id);
        let group_name = group.map_or("", |g| g.display_name);
        let quoted = |s: &str| Value::String(s.to_owned()).to_string();
        let (activity, operation) = match e.change {
            MembershipChange::Added => (ADD_MEMBER, "Assign"),
            MembershipChange::Removed => (REMOVE_MEMBER, "Unassign"),
        };
        let property = |name: &str, value: &str| {
            let value = Some(quoted(value));
            let (old_value, new_value) = match e.change {
                MembershipChange::Added => (None, value),
                MembershipChange::Removed => (value, None),
            };
            ModifiedProperty {
                display_name: name.to_owned(),
                old_value,
                new_value,
            }
        };
        DirectoryAudit {
            id: e.audit_id.to_owned(),
            category: "GroupManagement".to_owned(),
            correlation_id: Some(e.correlation_id.to_owned()),
            result: "success".to_owned(),
            result_reason: Some(String::new()),
            activity_display_name: activity.to_owned(),
            activity_date_time: e.at,
            logged_by_service: "Core Directory".to_owned(),
            operation_type: operation.to_owned(),
            initiated_by: e.initiated_by,
            target_resources: vec![
                TargetResource {
                    id: e.member.id.clone(),
                    display_name: None,
                    kind: "User".to_owned(),
                    user_principal_name: Some(e.member.user_principal_name.clone()),
                    group_type: None,
                    modified_properties: vec![
                        property("Group.ObjectID", e.group_id),
                        property("Group.DisplayName", group_name),
                    ],
                },
                TargetResource {
                    id: e.group_id.to_owned(),
                    display_name: None,
                    kind: "Group".to_owned(),
                    user_principal_name: None,
                    group_type: Some("azureAD".to_owned()),
                    modified_properties: Vec::new(),
                },
            ],
            additional_details: Vec::new(),
        }
    }

    fn policy_audit(&self, c: &PolicyChange) -> DirectoryAudit {
        DirectoryAudit {
            id: c.audit_id.clone(),
            category: c.category.to_owned(),
            correlation_id: Some(c.correlation_id.clone()),
            result: "success".to_owned(),
            result_reason: Some(String::new()),
            activity_display_name: c.activity.to_owned(),
            activity_date_time: c.at,
            logged_by_service: c.logged_by_service.to_owned(),
            operation_type: c.operation_type.to_owned(),
            initiated_by: self
                .policy_author
                .as_ref()
                .map(initiator)
                .unwrap_or_default(),
            target_resources: vec![TargetResource {
                id: c.target_id.to_owned(),
                display_name: Some(c.target_name.to_owned()),
                kind: "Policy".to_owned(),
                user_principal_name: None,
                group_type: None,
                modified_properties: vec![ModifiedProperty {
                    display_name: c.property.to_owned(),
                    old_value: c.old_value.clone(),
                    new_value: Some(c.new_value.clone()),
                }],
            }],
            additional_details: Vec::new(),
        }
    }

    /// When `activity` happened to `target`.
    fn change_at(&self, activity: &str, target: &str) -> Option<DateTime<Utc>> {
        self.changes
            .iter()
            .find(|c| c.activity == activity && c.target_id == target)
            .map(|c| c.at)
    }

    /// When the pre-existing policies were last touched.
    fn before_story(&self) -> DateTime<Utc> {
        at(self.start, 0, 10, 0) - Duration::days(PRE_STORY_DAYS)
    }
}

/// What a membership audit entry records, from the story or from a write.
struct Audited<'a> {
    audit_id: &'a str,
    correlation_id: &'a str,
    at: DateTime<Utc>,
    group_id: &'a str,
    member: &'a Member,
    change: MembershipChange,
    initiated_by: AuditInitiator,
}

/// When the built-in strengths were created (2021-12-01T08:00:00Z), as Graph reports them.
const BUILT_INS_CREATED: i64 = 1_638_345_600;

/// The built-in "Multifactor authentication" strength (graph-api.md §6).
const MFA_COMBINATIONS: &[&str] = &[
    "windowsHelloForBusiness",
    "fido2",
    "x509CertificateMultiFactor",
    "deviceBasedPush",
    "temporaryAccessPassOneTime",
    "temporaryAccessPassMultiUse",
    "password,microsoftAuthenticatorPush",
    "password,softwareOath",
    "password,hardwareOath",
    "password,x509CertificateSingleFactor",
    "password,x509CertificateMultiFactor",
    "password,sms",
    "password,voice",
    "federatedMultiFactor",
    "microsoftAuthenticatorPush,federatedSingleFactor",
    "softwareOath,federatedSingleFactor",
    "hardwareOath,federatedSingleFactor",
    "sms,federatedSingleFactor",
    "voice,federatedSingleFactor",
];
const PASSWORDLESS_COMBINATIONS: &[&str] = &[
    "windowsHelloForBusiness",
    "fido2",
    "x509CertificateMultiFactor",
    "deviceBasedPush",
];
const PHISHING_RESISTANT_COMBINATIONS: &[&str] = &[
    "windowsHelloForBusiness",
    "fido2",
    "x509CertificateMultiFactor",
];

/// The custom strength: the phishing-resistant methods and the Authenticator app, nothing
/// with `sms` or `voice` in it.
fn no_phone_combinations() -> Vec<String> {
    [
        "windowsHelloForBusiness",
        "fido2",
        "x509CertificateMultiFactor",
        "deviceBasedPush",
        "password,microsoftAuthenticatorPush",
        "microsoftAuthenticatorPush,federatedSingleFactor",
    ]
    .iter()
    .map(|c| (*c).to_owned())
    .collect()
}

/// A method configuration with its derived `@odata.type` (`sms` →
/// `#microsoft.graph.smsAuthenticationMethodConfiguration`).
fn config(
    type_stem: &str,
    id: &str,
    state: &str,
    include_targets: Vec<MethodTarget>,
    is_office_phone_allowed: Option<bool>,
    extra: Value,
) -> AuthenticationMethodConfiguration {
    AuthenticationMethodConfiguration {
        odata_type: Some(format!(
            "#microsoft.graph.{type_stem}AuthenticationMethodConfiguration"
        )),
        id: id.to_owned(),
        state: state.to_owned(),
        include_targets,
        exclude_targets: Vec::<ExcludeTarget>::new(),
        is_office_phone_allowed,
        extra: match extra {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        },
    }
}

/// An Authenticator feature setting for everybody.
fn feature(state: &str) -> Value {
    json!({
        "state": state,
        "includeTarget": {"targetType": "group", "id": "all_users"},
        "excludeTarget": {"targetType": "group", "id": "00000000-0000-0000-0000-000000000000"},
    })
}

fn initiator(by: &Member) -> AuditInitiator {
    AuditInitiator {
        user: Some(AuditUser {
            id: by.id.clone(),
            display_name: Some(by.display_name.clone()),
            user_principal_name: Some(by.user_principal_name.clone()),
            // Documentation range (RFC 5737): the admins' office.
            ip_address: Some("203.0.113.10".to_owned()),
        }),
        app: None,
    }
}

/// The day a slot of a group's story first joins (0 for the slots there before the story).
fn first_join_of(steps: &[(u32, Step)], initial: usize, slot: usize, days: u32) -> u32 {
    if slot < initial {
        return 0;
    }
    steps
        .iter()
        .find(|(_, s)| matches!(s, Step::Join(n) if *n == slot))
        .map_or(0, |(pct, _)| story_day(days, *pct))
}

/// The report lists `method` (in lower case) for the person on some spelling.
fn has_method(methods: &[String], method: &str) -> bool {
    methods.iter().any(|m| m.eq_ignore_ascii_case(method))
}

/// The Authenticator app and a phone in the report on `day`: the people whom excluding from
/// the Authenticator method leaves with a phone only.
fn app_and_phone(tenant: &Tenant, index: usize, day: u32) -> bool {
    tenant.report_row(index, day).is_some_and(|r| {
        let m = &r.methods_registered;
        has_method(m, "microsoftAuthenticatorPush")
            && ["mobilePhone", "alternateMobilePhone", "officePhone"]
                .iter()
                .any(|p| has_method(m, p))
    })
}

/// A role assignment's id as Graph makes them: the role definition's and the principal's
/// GUIDs, base64url, with a suffix.
fn assignment_id(principal: &str) -> String {
    use base64::Engine as _;
    let mut bytes = Vec::with_capacity(32);
    for id in [GLOBAL_ADMINISTRATOR_ROLE, principal] {
        bytes.extend_from_slice(
            uuid::Uuid::parse_str(id)
                .map(|u| *u.as_bytes())
                .unwrap_or_default()
                .as_slice(),
        );
    }
    format!(
        "{}-1",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// One grant of the Global Administrator role to the whole directory.
fn grant(id: &str, principal: DirectoryObject, status: Option<String>) -> RoleGrant {
    RoleGrant {
        id: id.to_owned(),
        role_definition_id: GLOBAL_ADMINISTRATOR_ROLE.to_owned(),
        principal_id: principal.id.clone(),
        directory_scope_id: Some("/".to_owned()),
        status,
        principal: Some(principal),
    }
}

fn user_principal(m: &Member) -> DirectoryObject {
    DirectoryObject {
        odata_type: "#microsoft.graph.user".to_owned(),
        id: m.id.clone(),
        display_name: Some(m.display_name.clone()),
        user_principal_name: Some(m.user_principal_name.clone()),
    }
}

/// `hour:minute` UTC on story day `day`.
fn at(start: NaiveDate, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    let date = start + Duration::days(i64::from(day));
    date.and_hms_opt(hour.min(23), minute.min(59), 0)
        .unwrap_or_default()
        .and_utc()
}

/// Phone-only on `day`: the report lists a phone and nothing stronger (the people the
/// exclusion group is for). Spelling varies in the report, so compare in lower case.
fn phone_only(tenant: &Tenant, index: usize, day: u32) -> bool {
    let Some(row) = tenant.report_row(index, day) else {
        return false;
    };
    let methods: Vec<String> = row
        .methods_registered
        .iter()
        .map(|m| m.to_ascii_lowercase())
        .collect();
    let phone = methods.iter().any(|m| {
        matches!(
            m.as_str(),
            "mobilephone" | "alternatemobilephone" | "officephone"
        )
    });
    let stronger = methods.iter().any(|m| {
        [
            "authenticator",
            "softwareonetimepasscode",
            "passkey",
            "fido",
            "windowshello",
            "temporaryaccesspass",
        ]
        .iter()
        .any(|s| m.contains(s))
    });
    phone && !stronger
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAYS: u32 = 60;

    fn tenant(seed: u64) -> Tenant {
        Tenant::generate(
            seed,
            1_000,
            DAYS,
            NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
        )
    }

    fn ids(members: &[Member]) -> Vec<&str> {
        members.iter().map(|m| m.id.as_str()).collect()
    }

    fn config<'a>(
        p: &'a AuthenticationMethodsPolicy,
        id: &str,
    ) -> &'a AuthenticationMethodConfiguration {
        p.authentication_method_configurations
            .iter()
            .find(|c| c.id == id)
            .expect("configuration")
    }

    #[test]
    fn the_story_is_a_function_of_the_tenant() {
        let t = tenant(7);
        assert_eq!(PolicyStory::new(&t), t.policy_story());
        let other = tenant(8).policy_story();
        assert_ne!(
            t.policy_story().members(EXCLUSION_GROUP_ID, DAYS),
            other.members(EXCLUSION_GROUP_ID, DAYS)
        );
        let k = t.policy_story().key_days();
        assert_eq!(
            (
                k.campaign,
                k.custom_strength,
                k.tighten,
                k.enforce,
                k.migration_complete
            ),
            (12, 24, 36, 39, 45)
        );
    }

    #[test]
    fn voice_is_disabled_and_sms_narrowed_on_the_tighten_day() {
        let story = tenant(7).policy_story();
        let k = story.key_days();
        let before = story.methods_policy(k.tighten - 1);
        let after = story.methods_policy(k.tighten);

        let voice = config(&before, "Voice");
        assert_eq!(
            (voice.state.as_str(), voice.is_office_phone_allowed),
            ("enabled", Some(false)),
            "office phones are off before voice is"
        );
        let sms = config(&before, "Sms");
        assert_eq!(sms.state, "enabled");
        assert_eq!(sms.include_targets.len(), 1);
        assert_eq!(sms.include_targets[0].id, "all_users");
        assert_eq!(sms.include_targets[0].is_usable_for_sign_in, Some(true));

        assert_eq!(config(&after, "Voice").state, "disabled");
        let sms = config(&after, "Sms");
        let targets: Vec<&str> = sms.include_targets.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(targets, [EXCLUSION_GROUP_ID, SSPR_GROUP_ID]);
        assert!(
            sms.include_targets
                .iter()
                .all(|t| t.target_type == "group" && t.is_usable_for_sign_in == Some(false))
        );

        // The change is dated: lastModifiedDateTime moves to the tighten day's change.
        let tighten_at = story
            .policy_changes()
            .iter()
            .filter(|c| c.day == k.tighten && c.activity == METHODS_POLICY_UPDATE)
            .map(|c| c.at)
            .max();
        assert_eq!(after.last_modified_date_time, tighten_at);
        assert!(before.last_modified_date_time < after.last_modified_date_time);
        for id in ["MicrosoftAuthenticator", "Fido2", "TemporaryAccessPass"] {
            assert_eq!(config(&after, id).state, "enabled", "{id}");
        }
    }

    #[test]
    fn campaign_and_migration_state_change_on_their_days() {
        let story = tenant(7).policy_story();
        let k = story.key_days();
        let campaign = |day| {
            story
                .methods_policy(day)
                .registration_enforcement
                .and_then(|r| r.authentication_methods_registration_campaign)
                .map(|c| c.state)
        };
        assert_eq!(campaign(k.campaign - 1).as_deref(), Some("default"));
        assert_eq!(campaign(k.campaign).as_deref(), Some("enabled"));
        let migration = |day| story.methods_policy(day).policy_migration_state;
        assert_eq!(
            migration(k.migration_complete - 1).as_deref(),
            Some("migrationInProgress")
        );
        assert_eq!(
            migration(k.migration_complete).as_deref(),
            Some("migrationComplete")
        );
    }

    #[test]
    fn people_join_and_leave_the_exclusion_group_on_their_days() {
        let t = tenant(7);
        let story = t.policy_story();
        let initial = story.members(EXCLUSION_GROUP_ID, 0).expect("group");
        assert_eq!(initial.len(), INITIAL_EXCLUDED);
        let events = story.membership_events();
        let added = events
            .iter()
            .filter(|e| e.change == MembershipChange::Added)
            .count();
        let removed = events.len() - added;
        assert!(
            added >= 5 && removed >= 3,
            "{added} joins, {removed} leaves"
        );
        for e in events {
            let before = story.members(e.group_id, e.day - 1).expect("group");
            let after = story.members(e.group_id, e.day).expect("group");
            let was = ids(&before).contains(&e.member.id.as_str());
            let is = ids(&after).contains(&e.member.id.as_str());
            assert_eq!(
                (was, is),
                match e.change {
                    MembershipChange::Added => (false, true),
                    MembershipChange::Removed => (true, false),
                },
                "{e:?}"
            );
            let admin = t
                .people
                .iter()
                .find(|p| p.id == e.by.id)
                .expect("initiator");
            assert!(admin.admin, "added by an administrator");
            assert_eq!(e.at.date_naive(), t.date(e.day));
            // First joins of the exclusion group are phone-only on the day (a returning member
            // may not be any more); the Authenticator-excluded group's have the app and a phone.
            let index = t.people.iter().position(|p| p.id == e.member.id);
            if e.group_id == EXCLUSION_GROUP_ID
                && e.change == MembershipChange::Added
                && !ids(&initial).contains(&e.member.id.as_str())
            {
                assert!(
                    index.is_some_and(|i| phone_only(&t, i, e.day)),
                    "joiners are phone-only"
                );
            }
            if e.group_id == NO_AUTHENTICATOR_GROUP_ID && e.change == MembershipChange::Added {
                assert!(
                    index.is_some_and(|i| app_and_phone(&t, i, e.day)),
                    "joiners have the app and a phone"
                );
            }
        }
        // Somebody who was there from the start leaves and comes back.
        let first = &initial[0];
        let history: Vec<MembershipChange> = events
            .iter()
            .filter(|e| e.member.id == first.id)
            .map(|e| e.change)
            .collect();
        assert_eq!(
            history,
            [MembershipChange::Removed, MembershipChange::Added]
        );
        // The other groups are static and not empty; one of them is in the exclusion group.
        let nested: Vec<&str> = story
            .nested_groups(EXCLUSION_GROUP_ID)
            .iter()
            .map(|g| g.id)
            .collect();
        assert_eq!(nested, [NESTED_GROUP_ID]);
        assert!(story.nested_groups(SSPR_GROUP_ID).is_empty());
        for id in [SSPR_GROUP_ID, BREAK_GLASS_GROUP_ID, NESTED_GROUP_ID] {
            let members = story.members(id, 0).expect("group");
            assert!(!members.is_empty());
            assert_eq!(Some(members), story.members(id, DAYS));
        }
        assert_eq!(
            story.members("00000000-0000-0000-0000-00000000dead", 0),
            None
        );
    }

    #[test]
    fn strengths_built_in_and_custom() {
        let story = tenant(7).policy_story();
        let k = story.key_days();
        let before = story.strength_policies(k.custom_strength - 1);
        let ids: Vec<&str> = before.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                STRENGTH_MFA_ID,
                STRENGTH_PASSWORDLESS_ID,
                STRENGTH_PHISHING_RESISTANT_ID
            ]
        );
        assert_eq!(before[0].allowed_combinations.len(), 19);
        assert!(
            before[0]
                .allowed_combinations
                .iter()
                .any(|c| c == "password,sms")
        );
        assert_eq!(before[2].display_name, "Phishing resistant MFA");
        let after = story.strength_policies(k.custom_strength);
        let custom = after.last().expect("custom");
        assert_eq!(
            (custom.id.as_str(), custom.policy_type.as_str()),
            (CUSTOM_STRENGTH_ID, "custom")
        );
        assert!(
            custom
                .allowed_combinations
                .iter()
                .all(|c| !c.contains("sms") && !c.contains("voice"))
        );
    }

    #[test]
    fn the_no_phone_policy_appears_report_only_then_is_enforced() {
        let story = tenant(7).policy_story();
        let k = story.key_days();
        let find = |day| {
            story
                .conditional_access(day)
                .into_iter()
                .find(|p| p.id == CA_NO_PHONE_ID)
        };
        assert!(find(k.custom_strength - 1).is_none());
        let report_only = find(k.custom_strength).expect("policy");
        assert_eq!(report_only.state, "enabledForReportingButNotEnforced");
        let enforced = find(k.enforce).expect("policy");
        assert_eq!(enforced.state, "enabled");
        assert!(enforced.modified_date_time > enforced.created_date_time);
        let grant = enforced.grant_controls.expect("grant controls");
        assert!(
            grant.built_in_controls.is_empty(),
            "mfa and a strength never together"
        );
        assert_eq!(
            grant.authentication_strength.map(|s| s.id).as_deref(),
            Some(CUSTOM_STRENGTH_ID)
        );
        let users = enforced.conditions.users.expect("users");
        assert_eq!(users.exclude_groups, [EXCLUSION_GROUP_ID]);
        let mfa = story
            .conditional_access(0)
            .into_iter()
            .find(|p| p.id == CA_REQUIRE_MFA_ID)
            .expect("mfa policy");
        assert_eq!(
            mfa.grant_controls.map(|g| g.built_in_controls),
            Some(vec!["mfa".to_owned()])
        );
    }

    #[test]
    fn the_audit_log_records_each_change_on_its_day() {
        let story = tenant(7).policy_story();
        let k = story.key_days();
        let day = k.tighten;
        let audits = story.audits(day);
        let expected = story
            .membership_events()
            .iter()
            .filter(|e| e.day <= day)
            .count()
            + story
                .policy_changes()
                .iter()
                .filter(|c| c.day <= day)
                .count();
        assert_eq!(audits.len(), expected);
        assert!(
            audits
                .windows(2)
                .all(|w| w[0].activity_date_time >= w[1].activity_date_time),
            "newest first"
        );
        let last_day = story.start() + Duration::days(i64::from(day));
        assert!(
            audits
                .iter()
                .all(|a| a.activity_date_time.date_naive() <= last_day)
        );
        let updates = audits
            .iter()
            .filter(|a| {
                a.activity_display_name == METHODS_POLICY_UPDATE
                    && a.activity_date_time.date_naive() == last_day
            })
            .count();
        assert_eq!(updates, 2, "voice and SMS on the tighten day");

        let e = story
            .membership_events()
            .iter()
            .find(|e| e.group_id == EXCLUSION_GROUP_ID)
            .expect("an exclusion group event");
        let add = story
            .audits(e.day)
            .into_iter()
            .find(|a| a.activity_date_time == e.at)
            .expect("audit entry");
        assert_eq!(add.activity_display_name, ADD_MEMBER);
        assert_eq!(
            (add.category.as_str(), add.logged_by_service.as_str()),
            ("GroupManagement", "Core Directory")
        );
        let by = add.initiated_by.user.expect("user initiator");
        assert_eq!(by.id, e.by.id);
        assert_eq!(add.target_resources[0].kind, "User");
        assert_eq!(add.target_resources[0].id, e.member.id);
        let props = &add.target_resources[0].modified_properties;
        assert_eq!(props[0].display_name, "Group.ObjectID");
        assert_eq!(
            props[0].new_value.as_deref(),
            Some(format!("\"{EXCLUSION_GROUP_ID}\"").as_str())
        );
        assert_eq!(props[1].display_name, "Group.DisplayName");
        assert_eq!(add.target_resources[1].kind.as_str(), "Group");
    }

    /// The person of an id, and their report row on `day`.
    fn row(t: &Tenant, id: &str, day: u32) -> Option<crate::graph::model::UserRegistrationDetails> {
        let i = t.people.iter().position(|p| p.id == id)?;
        t.report_row(i, day)
    }

    #[test]
    fn global_administrators_change_on_their_days() {
        let t = tenant(7);
        let story = t.policy_story();
        let k = story.key_days();
        let active = |day| story.global_admins(day);
        // Someone phone-only becomes one on the granted day, directly assigned.
        let granted: Vec<String> = active(k.global_admin_granted)
            .into_iter()
            .filter(|id| !active(k.global_admin_granted - 1).contains(id))
            .collect();
        assert_eq!(granted.len(), 1, "{granted:?}");
        assert!(phone_only(
            &t,
            t.people
                .iter()
                .position(|p| p.id == granted[0])
                .expect("person"),
            k.global_admin_granted
        ));
        let direct = |day| -> Vec<String> {
            story
                .role_assignments(day)
                .into_iter()
                .map(|g| g.principal_id)
                .collect()
        };
        assert!(direct(k.global_admin_granted).contains(&granted[0]));
        // Someone stops being one.
        let revoked: Vec<String> = active(k.global_admin_revoked - 1)
            .into_iter()
            .filter(|id| !active(k.global_admin_revoked).contains(id))
            .collect();
        assert_eq!(revoked.len(), 1, "{revoked:?}");
        // The role group's members hold it; the group is the principal, not them.
        let group = story.members(ROLE_GROUP_ID, 0).expect("role group");
        assert!(group.len() >= 2);
        for m in &group {
            assert!(active(0).contains(&m.id) && !direct(0).contains(&m.id));
        }
        assert!(direct(0).iter().any(|id| id == ROLE_GROUP_ID));
        assert!(
            story
                .group(ROLE_GROUP_ID)
                .is_some_and(|g| g.role_assignable)
        );
        // Eligible only: never active; every holder is an admin in the report.
        let eligible = story.eligible_admins(0);
        assert!(!eligible.is_empty());
        for day in [0, DAYS] {
            assert!(eligible.iter().all(|id| !active(day).contains(id)));
            for id in active(day).iter().chain(&eligible) {
                assert!(
                    row(&t, id, day).is_some_and(|r| r.is_admin),
                    "{id} on {day}"
                );
            }
        }
        assert!(
            story
                .role_eligibilities(0)
                .iter()
                .all(|g| g.status.as_deref() == Some("Provisioned")
                    && g.role_definition_id == GLOBAL_ADMINISTRATOR_ROLE)
        );
        // At least one active Global Administrator is phone-only on day 0.
        assert!(active(0).iter().any(|id| {
            t.people
                .iter()
                .position(|p| p.id == *id)
                .is_some_and(|i| phone_only(&t, i, 0))
        }));
    }

    #[test]
    fn method_targets_hide_methods_from_some_people() {
        let t = tenant(7);
        let story = t.policy_story();
        let k = story.key_days();
        for day in [0, k.tighten, DAYS] {
            let p = story.methods_policy(day);
            assert!(p.opt_out_settings.is_none(), "beta only");
            let excluded = |id: &str| -> Vec<String> {
                config(&p, id)
                    .exclude_targets
                    .iter()
                    .map(|t| t.id.clone())
                    .collect()
            };
            assert_eq!(
                excluded("MicrosoftAuthenticator"),
                [NO_AUTHENTICATOR_GROUP_ID]
            );
            assert_eq!(excluded("Sms"), [NO_SMS_GROUP_ID]);
            assert_eq!(config(&p, "SoftwareOath").state, "disabled");
            // Everybody the group hides the app from has it, and a phone.
            let blocked = story
                .members(NO_AUTHENTICATOR_GROUP_ID, day)
                .expect("group");
            assert!(!blocked.is_empty());
            for m in &blocked {
                let i = t.people.iter().position(|p| p.id == m.id).expect("person");
                assert!(app_and_phone(&t, i, day), "{m:?} on {day}");
            }
            // Every group a target names is a group of the story, with people in it.
            for c in &p.authentication_method_configurations {
                let named = c
                    .include_targets
                    .iter()
                    .map(|t| t.id.as_str())
                    .chain(c.exclude_targets.iter().map(|t| t.id.as_str()))
                    .filter(|id| *id != "all_users");
                for id in named {
                    assert!(
                        story.members(id, day).is_some_and(|m| !m.is_empty()),
                        "{id} of {}",
                        c.id
                    );
                }
            }
        }
        // Office phones go before voice does.
        let voice = |day| {
            let p = story.methods_policy(day);
            let c = config(&p, "Voice");
            (c.state.clone(), c.is_office_phone_allowed)
        };
        assert_eq!(
            voice(k.office_phones_off - 1),
            ("enabled".into(), Some(true))
        );
        assert_eq!(voice(k.office_phones_off), ("enabled".into(), Some(false)));
        assert!(k.office_phones_off < k.tighten);
        // SMS only for groups (an allowlist) from the tighten day on.
        let sms = story.methods_policy(k.tighten);
        assert!(
            config(&sms, "Sms")
                .include_targets
                .iter()
                .all(|t| t.id != "all_users")
        );
        // People move in and out of the Authenticator-excluded group, and the log says so.
        let events: Vec<&MembershipEvent> = story
            .membership_events()
            .iter()
            .filter(|e| e.group_id == NO_AUTHENTICATOR_GROUP_ID)
            .collect();
        assert!(events.iter().any(|e| e.change == MembershipChange::Added));
        assert!(events.iter().any(|e| e.change == MembershipChange::Removed));
        let audits = story.audits(DAYS);
        for e in &events {
            assert!(audits.iter().any(
                |a| a.id == e.audit_id && a.target_resources[1].id == NO_AUTHENTICATOR_GROUP_ID
            ));
        }
    }

    #[test]
    fn the_beta_policy_opts_out_and_the_campaign_becomes_microsoft_managed() {
        let story = tenant(7).policy_story();
        let k = story.key_days();
        let opt_out = |day| {
            story
                .beta_methods_policy(day)
                .opt_out_settings
                .and_then(|o| o.passkey_dynamic_migration)
        };
        assert_eq!(opt_out(k.passkey_opt_out - 1), Some(false));
        assert_eq!(opt_out(k.passkey_opt_out), Some(true));
        let campaign = |day| {
            let c = story
                .beta_methods_policy(day)
                .registration_enforcement
                .and_then(|r| r.authentication_methods_registration_campaign)
                .expect("campaign");
            let t = &c.include_targets[0];
            (
                c.state.clone(),
                t.id.clone(),
                t.targeted_authentication_method.clone(),
            )
        };
        assert_eq!(
            campaign(k.campaign_managed - 1),
            (
                "enabled".into(),
                "all_users".into(),
                "microsoftAuthenticator".into()
            )
        );
        assert_eq!(
            campaign(k.campaign_managed),
            ("default".into(), "all_users".into(), "passkey".into())
        );
        // The rest of the beta policy is the v1.0 one.
        let mut beta = story.beta_methods_policy(DAYS);
        beta.opt_out_settings = None;
        assert_eq!(beta, story.methods_policy(DAYS));
    }

    #[test]
    fn transitive_members_reach_nested_groups_once() {
        let story = tenant(7).policy_story();
        let direct = story.members(EXCLUSION_GROUP_ID, DAYS).expect("group");
        let nested = story.members(NESTED_GROUP_ID, DAYS).expect("group");
        let all = story
            .transitive_members(EXCLUSION_GROUP_ID, DAYS)
            .expect("group");
        assert_eq!(all.len(), direct.len() + nested.len());
        assert!(nested.iter().all(|m| all.contains(m)));
        assert_eq!(
            story.transitive_members(SSPR_GROUP_ID, 0),
            story.members(SSPR_GROUP_ID, 0)
        );
        assert_eq!(story.transitive_members("nope", 0), None);
    }
}
