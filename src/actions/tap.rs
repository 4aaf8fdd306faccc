//! Issuing a Temporary Access Pass (graph-api.md §4): the guards, the live re-checks, the
//! create. The pass goes back to the agent once and is written nowhere: not the database, not
//! a log, not an error.

use super::{Actor, Attempt, Confirm, Refused, reason};
use crate::auth::Role;
use crate::db::actions as db;
use crate::db::lookup::history;
use crate::db::posture::{StoredPolicies, current_policies};
use crate::domain::availability::{Hidden, Rule, Targets};
use crate::domain::{UserType, UserVersion};
use crate::graph::Client;
use crate::graph::model::AuthenticationMethodsPolicy;
use crate::graph::pacing::Rate;
use crate::graph::write::{TapCreated, TapRequest};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use std::collections::BTreeSet;
use uuid::Uuid;

/// Graph's own bounds on a pass's lifetime, in minutes.
pub const GRAPH_MIN_MINUTES: i32 = 10;
pub const GRAPH_MAX_MINUTES: i32 = 43_200;
/// Graph's default lifetime when the policy names none.
const GRAPH_DEFAULT_MINUTES: i32 = 60;

/// The Temporary Access Pass configuration of the stored methods policy.
#[derive(Debug, Clone, PartialEq)]
pub struct TapPolicy {
    /// The sync has read the methods policy.
    pub known: bool,
    pub rule: Option<Rule>,
    pub min_minutes: i32,
    pub max_minutes: i32,
    pub default_minutes: i32,
    /// Passes must be one-time (`isUsableOnce` true): multi-use is not allowed.
    pub one_time_only: bool,
}

impl TapPolicy {
    /// From the methods policy as the last sync stored it (`None`: never read).
    pub fn from_policy(policy: Option<&AuthenticationMethodsPolicy>) -> TapPolicy {
        let config = policy.and_then(|p| {
            p.authentication_method_configurations
                .iter()
                .find(|c| c.id.eq_ignore_ascii_case("TemporaryAccessPass"))
        });
        let minutes = |name: &str| {
            config
                .and_then(|c| c.extra.get(name))
                .and_then(Value::as_i64)
                .and_then(|m| i32::try_from(m).ok())
        };
        let min_minutes = minutes("minimumLifetimeInMinutes")
            .unwrap_or(GRAPH_MIN_MINUTES)
            .max(GRAPH_MIN_MINUTES);
        let max_minutes = minutes("maximumLifetimeInMinutes")
            .unwrap_or(GRAPH_MAX_MINUTES)
            .clamp(min_minutes, GRAPH_MAX_MINUTES);
        TapPolicy {
            known: policy.is_some(),
            rule: config.map(Rule::from_graph),
            min_minutes,
            max_minutes,
            default_minutes: minutes("defaultLifetimeInMinutes")
                .unwrap_or(GRAPH_DEFAULT_MINUTES)
                .clamp(min_minutes, max_minutes),
            one_time_only: config
                .and_then(|c| c.extra.get("isUsableOnce"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }

    /// The groups whose membership decides whether the person may have a pass.
    pub fn groups(&self) -> Vec<Uuid> {
        self.rule
            .as_ref()
            .map(|r| r.include.iter().chain(&r.exclude).copied().collect())
            .unwrap_or_default()
    }
}

/// The stored policy's pass settings.
pub async fn policy(pool: &PgPool) -> sqlx::Result<TapPolicy> {
    let stored = StoredPolicies::from_versions(&current_policies(pool).await?);
    Ok(TapPolicy::from_policy(stored.methods.as_ref()))
}

/// What the agent asks for.
#[derive(Debug, Clone, Default)]
pub struct TapInput {
    pub reason: String,
    /// Default: the policy's default.
    pub lifetime_minutes: Option<i32>,
    /// Default: one-time.
    pub usable_once: Option<bool>,
    /// The agent saw that the person is an administrator, and goes ahead.
    pub confirm_admin: bool,
    /// The agent saw that the person has a usable pass, and replaces it.
    pub confirm_replace: bool,
}

/// What the guards allow: the pass to ask Graph for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    pub lifetime_minutes: i32,
    pub usable_once: bool,
}

/// The agent's limit: passes issued in the window, and the oldest of them.
#[derive(Debug, Clone, Copy)]
pub struct Issued<'a> {
    pub at: &'a [DateTime<Utc>],
    pub limit: Rate,
}

/// What the guards need to know of the person, as the last sync stored them.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub display_name: &'a str,
    /// Not in the newest sync.
    pub gone: bool,
    /// A guest or an external user.
    pub guest: bool,
    /// The report's `isAdmin`, or an active Global Administrator.
    pub admin: bool,
}

impl<'a> Target<'a> {
    pub fn of(v: &'a UserVersion) -> Target<'a> {
        Target {
            display_name: &v.display_name,
            gone: v.ended_run.is_some(),
            guest: v.user_type == UserType::Guest || v.external,
            admin: v.is_admin || v.global_admin == Some(true),
        }
    }
}

/// The guards that need no Graph call, on the stored facts of the person (pure).
pub fn check(
    person: Target<'_>,
    policy: &TapPolicy,
    input: &TapInput,
    role: Role,
    issued: Issued<'_>,
) -> Result<Allowed, Refused> {
    reason(&input.reason)?;
    if person.gone {
        return Err(Refused::Guard(format!(
            "{} is no longer in the tenant (not in the newest sync).",
            person.display_name
        )));
    }
    if person.guest {
        return Err(Refused::Guard(format!(
            "{} is a guest or external user: Graph cannot issue a Temporary Access Pass to \
             them. They sign in with their home organisation's methods.",
            person.display_name
        )));
    }
    let admin = person.admin;
    if admin && role < Role::SecurityLead {
        return Err(Refused::Role(format!(
            "{} is an administrator: only a security lead may issue them a Temporary Access \
             Pass.",
            person.display_name
        )));
    }
    let Some(rule) = policy.rule.as_ref().filter(|r| r.enabled) else {
        return Err(Refused::Guard(if policy.known {
            "The Temporary Access Pass is off in the authentication methods policy (Entra admin \
             center → Protection → Authentication methods → Policies → Temporary Access Pass): \
             no pass can be issued until it is enabled."
                .into()
        } else {
            "The authentication methods policy has not been read by a sync yet, so phoneless \
             cannot tell whether a Temporary Access Pass is allowed. Check the sync page."
                .into()
        }));
    };
    if !rule.all_users && rule.include.is_empty() {
        return Err(Refused::Guard(format!(
            "The Temporary Access Pass policy does not include {}.",
            person.display_name
        )));
    }
    let lifetime = input.lifetime_minutes.unwrap_or(policy.default_minutes);
    if !(policy.min_minutes..=policy.max_minutes).contains(&lifetime) {
        return Err(Refused::Invalid(format!(
            "The Temporary Access Pass policy allows a lifetime of {} to {} minutes; {lifetime} \
             is outside it.",
            policy.min_minutes, policy.max_minutes
        )));
    }
    let usable_once = input.usable_once.unwrap_or(true);
    if !usable_once && policy.one_time_only {
        return Err(Refused::Invalid(
            "The Temporary Access Pass policy allows one-time passes only.".into(),
        ));
    }
    if issued.limit.limit > 0 && issued.at.len() >= issued.limit.limit as usize {
        let free_at =
            issued.at[issued.at.len() - issued.limit.limit as usize] + issued.limit.window;
        return Err(Refused::Limit(format!(
            "You have issued {} passes in the last {} (PHONELESS_TAP_LIMIT is {}): the next \
             one can be issued after {}.",
            issued.at.len(),
            humantime::format_duration(issued.limit.window),
            issued.limit,
            free_at.format("%H:%M UTC")
        )));
    }
    if admin && !input.confirm_admin {
        return Err(Refused::Confirm {
            confirm: Confirm::Admin,
            message: format!(
                "{} is an administrator. A pass lets whoever holds it sign in as them: confirm \
                 that you have verified who is asking.",
                person.display_name
            ),
        });
    }
    Ok(Allowed {
        lifetime_minutes: lifetime,
        usable_once,
    })
}

/// Whether the policy's targets include the person, given the target groups they are in
/// (read live).
pub fn targeted(policy: &TapPolicy, person: Uuid, groups: &BTreeSet<Uuid>) -> Result<(), Refused> {
    let Some(rule) = &policy.rule else {
        return Ok(());
    };
    match rule.allows("temporaryAccessPass", &Targets { person, groups }) {
        Ok(()) => Ok(()),
        Err(Hidden::Excluded) => Err(Refused::Guard(
            "The Temporary Access Pass policy excludes this person (through a group they are \
             in): remove them from its excluded groups first."
                .into(),
        )),
        Err(Hidden::NotIncluded) => Err(Refused::Guard(
            "The Temporary Access Pass policy does not include this person: add them (or a \
             group they are in) to its targets first."
                .into(),
        )),
        Err(_) => Err(Refused::Guard(
            "The Temporary Access Pass is off in the authentication methods policy.".into(),
        )),
    }
}

/// A pass issued: shown once, then forgotten.
pub struct Pass {
    pub created: TapCreated,
    pub upn: String,
    pub display_name: String,
}

/// Issues a pass to `user_id` after every guard, and records the attempt either way.
pub async fn issue(
    pool: &PgPool,
    graph: &Client,
    actor: &Actor<'_>,
    limit: Rate,
    user_id: Uuid,
    input: &TapInput,
) -> Result<Pass, Refused> {
    let versions = history(pool, user_id).await?;
    let Some(person) = versions.last() else {
        return Err(Refused::NotFound(format!(
            "No user with the id {user_id} is in phoneless's history."
        )));
    };
    let attempt = Attempt {
        action: "tap",
        subject: Some(user_id),
        detail: format!(
            "{} Temporary Access Pass, {} — {}",
            if input.usable_once.unwrap_or(true) {
                "one-time"
            } else {
                "multi-use"
            },
            input
                .lifetime_minutes
                .map_or("the policy's default lifetime".to_owned(), |m| {
                    format!("{m} minutes")
                }),
            person.upn
        ),
        reason: input.reason.trim(),
    };
    let result = issue_checked(pool, graph, actor, limit, user_id, person, input).await;
    attempt.record(pool, actor, result).await
}

async fn issue_checked(
    pool: &PgPool,
    graph: &Client,
    actor: &Actor<'_>,
    limit: Rate,
    user_id: Uuid,
    person: &UserVersion,
    input: &TapInput,
) -> Result<Pass, Refused> {
    let policy = policy(pool).await?;
    let since = Utc::now() - limit.window;
    let at = db::passes_issued(pool, actor.who.name, actor.who.ids.map(|i| i.1), since).await?;
    let allowed = check(
        Target::of(person),
        &policy,
        input,
        actor.role,
        Issued { at: &at, limit },
    )?;

    // Live: the report lags; the directory and the person's methods do not.
    let Some(live) = graph.user(user_id).await? else {
        return Err(Refused::Guard(format!(
            "{} is no longer in the directory.",
            person.display_name
        )));
    };
    if live
        .user_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("guest"))
    {
        return Err(Refused::Guard(format!(
            "{} is now a guest user: Graph cannot issue a Temporary Access Pass to them.",
            person.display_name
        )));
    }
    let groups = policy.groups();
    if !groups.is_empty() {
        let member_of: BTreeSet<Uuid> = graph
            .member_groups(user_id, &groups)
            .await?
            .into_iter()
            .collect();
        targeted(&policy, user_id, &member_of)?;
    }
    let existing = graph.temporary_access_passes(user_id).await?;
    if let Some(usable) = existing.iter().find(|t| t.is_usable)
        && !input.confirm_replace
    {
        let until = usable
            .starts_at
            .or(usable.created_at)
            .map(|s| s + chrono::Duration::minutes(i64::from(usable.lifetime_minutes)));
        return Err(Refused::Confirm {
            confirm: Confirm::Replace,
            message: format!(
                "{} already has a usable Temporary Access Pass{}. A new one replaces it: confirm \
                 to issue a new one.",
                person.display_name,
                until.map_or(String::new(), |u| format!(
                    " (until {})",
                    u.format("%Y-%m-%d %H:%M UTC")
                ))
            ),
        });
    }
    let created = graph
        .create_temporary_access_pass(
            user_id,
            &TapRequest {
                lifetime_minutes: Some(allowed.lifetime_minutes),
                usable_once: Some(allowed.usable_once),
            },
        )
        .await?;
    Ok(Pass {
        created,
        upn: person.upn.clone(),
        display_name: person.display_name.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::model::AuthenticationMethodConfiguration;
    use serde_json::json;

    fn policy(state: &str, extra: Value) -> TapPolicy {
        let mut c = AuthenticationMethodConfiguration {
            id: "TemporaryAccessPass".into(),
            state: state.into(),
            include_targets: vec![crate::graph::model::MethodTarget {
                id: "all_users".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        c.extra = extra.as_object().cloned().unwrap_or_default();
        TapPolicy::from_policy(Some(&AuthenticationMethodsPolicy {
            authentication_method_configurations: vec![c],
            ..Default::default()
        }))
    }

    fn someone(admin: bool, guest: bool) -> Target<'static> {
        Target {
            display_name: "Ana",
            gone: false,
            guest,
            admin,
        }
    }

    fn input(reason: &str) -> TapInput {
        TapInput {
            reason: reason.into(),
            ..TapInput::default()
        }
    }

    const NONE: Issued<'static> = Issued {
        at: &[],
        limit: Rate::UNLIMITED,
    };

    fn refusal(r: Result<Allowed, Refused>) -> String {
        match r {
            Ok(a) => panic!("allowed: {a:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_policy_limits_and_defaults_are_read_and_kept_within_graphs() {
        let p = policy(
            "enabled",
            json!({"minimumLifetimeInMinutes": 60, "maximumLifetimeInMinutes": 480,
                   "defaultLifetimeInMinutes": 120, "isUsableOnce": true}),
        );
        assert_eq!(
            (p.min_minutes, p.max_minutes, p.default_minutes),
            (60, 480, 120)
        );
        assert!(p.one_time_only && p.known);
        // Nothing said: Graph's own bounds; nonsense is clamped.
        let p = policy(
            "enabled",
            json!({"minimumLifetimeInMinutes": 1, "maximumLifetimeInMinutes": 99999}),
        );
        assert_eq!(
            (p.min_minutes, p.max_minutes, p.default_minutes),
            (10, 43_200, 60)
        );
        assert!(!p.one_time_only);
        let unread = TapPolicy::from_policy(None);
        assert!(!unread.known && unread.rule.is_none());
    }

    #[test]
    fn each_stored_guard_refuses_with_its_reason() {
        let p = policy(
            "enabled",
            json!({"minimumLifetimeInMinutes": 60, "maximumLifetimeInMinutes": 480, "isUsableOnce": true}),
        );
        let ok = check(
            someone(false, false),
            &p,
            &input("lost phone"),
            Role::Helpdesk,
            NONE,
        )
        .expect("allowed");
        assert_eq!(
            ok,
            Allowed {
                lifetime_minutes: 60,
                usable_once: true
            }
        );

        assert!(
            refusal(check(
                someone(false, false),
                &p,
                &input(" "),
                Role::Helpdesk,
                NONE
            ))
            .contains("reason")
        );
        assert!(
            refusal(check(
                someone(false, true),
                &p,
                &input("x"),
                Role::SecurityLead,
                NONE
            ))
            .contains("guest")
        );
        assert!(matches!(
            check(someone(true, false), &p, &input("x"), Role::Helpdesk, NONE),
            Err(Refused::Role(_))
        ));
        assert!(matches!(
            check(
                someone(true, false),
                &p,
                &input("x"),
                Role::SecurityLead,
                NONE
            ),
            Err(Refused::Confirm {
                confirm: Confirm::Admin,
                ..
            })
        ));
        let confirmed = TapInput {
            confirm_admin: true,
            ..input("x")
        };
        assert!(
            check(
                someone(true, false),
                &p,
                &confirmed,
                Role::SecurityLead,
                NONE
            )
            .is_ok()
        );
        let long = TapInput {
            lifetime_minutes: Some(481),
            ..input("x")
        };
        assert!(
            refusal(check(
                someone(false, false),
                &p,
                &long,
                Role::Helpdesk,
                NONE
            ))
            .contains("60 to 480")
        );
        let multi = TapInput {
            usable_once: Some(false),
            ..input("x")
        };
        assert!(
            refusal(check(
                someone(false, false),
                &p,
                &multi,
                Role::Helpdesk,
                NONE
            ))
            .contains("one-time passes only")
        );
        let off = policy("disabled", json!({}));
        assert!(
            refusal(check(
                someone(false, false),
                &off,
                &input("x"),
                Role::Helpdesk,
                NONE
            ))
            .contains("is off")
        );
        assert!(
            refusal(check(
                someone(false, false),
                &TapPolicy::from_policy(None),
                &input("x"),
                Role::Helpdesk,
                NONE
            ))
            .contains("not been read")
        );
        let gone = Target {
            gone: true,
            ..someone(false, false)
        };
        assert!(refusal(check(gone, &p, &input("x"), Role::Helpdesk, NONE)).contains("no longer"));
    }

    #[test]
    fn the_limit_counts_the_window_and_says_when_the_next_pass_is_possible() {
        let p = policy("enabled", json!({}));
        let t0 = DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
            .expect("t")
            .to_utc();
        let at = [t0, t0 + chrono::Duration::minutes(10)];
        let limit: Rate = "2/1h".parse().expect("rate");
        let r = check(
            someone(false, false),
            &p,
            &input("x"),
            Role::Helpdesk,
            Issued { at: &at, limit },
        );
        let words = refusal(r);
        assert!(words.contains("after 10:00 UTC"), "{words}");
        let one = Issued {
            at: &at[..1],
            limit,
        };
        assert!(check(someone(false, false), &p, &input("x"), Role::Helpdesk, one).is_ok());
    }

    #[test]
    fn the_targets_decide_live_membership() {
        let group = Uuid::from_u128(7);
        let mut p = policy("enabled", json!({}));
        let rule = p.rule.as_mut().expect("rule");
        rule.all_users = false;
        rule.include = vec![group];
        let person = Uuid::from_u128(1);
        assert_eq!(p.groups(), vec![group]);
        assert!(targeted(&p, person, &BTreeSet::from([group])).is_ok());
        assert!(matches!(
            targeted(&p, person, &BTreeSet::new()),
            Err(Refused::Guard(_))
        ));
        let rule = p.rule.as_mut().expect("rule");
        rule.all_users = true;
        rule.exclude = vec![group];
        let words = targeted(&p, person, &BTreeSet::from([group]))
            .err()
            .map(|e| e.to_string());
        assert!(words.is_some_and(|w| w.contains("excludes")));
    }
}
