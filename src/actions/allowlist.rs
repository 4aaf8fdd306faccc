//! A time-boxed place in a watched exclusion group (graph-api.md §7): added by an agent with a
//! reason and an end, removed by [`Remover`] at its end (any replica; claimed with a lease so
//! exactly one does it), ended early or extended by an agent, and closed by the sync when
//! someone removed the person by hand. Removal always uses `/$ref`.

use super::{Actor, Attempt, Refused, reason};
use crate::auth::Role;
use crate::db::actions::{self as db, Entry, NewEntry};
use crate::db::alerts::{self as alert_db, NewAlert, Target};
use crate::db::lookup::{Accessor, ActionRecord, history, record_action};
use crate::db::posture::watched_groups;
use crate::graph::Client;
use crate::graph::write::Membership;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How often the remover looks for entries whose end has come: removals happen within this
/// (plus one Graph call) of the end.
pub const REMOVER_EVERY: Duration = Duration::from_secs(20);
/// How long a replica's claim on a due removal lasts: longer than a Graph call with its retries
/// may take, so two replicas never remove the same entry.
pub const REMOVAL_LEASE: chrono::Duration = chrono::Duration::minutes(15);
/// After a failed removal, the next try (doubling per attempt, at most an hour).
const RETRY_AFTER: chrono::Duration = chrono::Duration::seconds(30);
/// Due entries one pass of the remover takes.
const REMOVALS_PER_PASS: i64 = 20;
/// Who the access log and the entries name for the automatic removal.
pub const REMOVER_NAME: &str = "phoneless (end of entry)";

/// What the limits on an entry's end are.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The longest a helpdesk agent may give (`PHONELESS_ALLOWLIST_MAX`).
    pub helpdesk_max: Duration,
    /// The longest anyone may give.
    pub hard_max: Duration,
}

/// The end `until` checked against the limits of the actor's role (pure).
pub fn check_until(
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    role: Role,
    limits: Limits,
) -> Result<DateTime<Utc>, Refused> {
    if until <= now {
        return Err(Refused::Invalid("The end must be in the future.".into()));
    }
    let (max, who) = if role >= Role::SecurityLead {
        (limits.hard_max, "anyone")
    } else {
        (
            limits.helpdesk_max,
            "the helpdesk (PHONELESS_ALLOWLIST_MAX)",
        )
    };
    let latest = now + chrono::Duration::from_std(max).unwrap_or(chrono::Duration::MAX);
    if until > latest {
        return Err(Refused::Role(format!(
            "The end may be at most {} ahead for {who}: no later than {}.",
            humantime::format_duration(max),
            latest.format("%Y-%m-%d %H:%M UTC")
        )));
    }
    Ok(until)
}

/// What an agent asks for.
#[derive(Debug, Clone)]
pub struct AddInput {
    pub group_id: Uuid,
    pub user_id: Uuid,
    pub reason: String,
    pub until: DateTime<Utc>,
}

/// Adds the person to the group until `until`, after the guards; records the attempt and
/// raises the alert.
pub async fn add(
    pool: &PgPool,
    graph: &Client,
    actor: &Actor<'_>,
    limits: Limits,
    targets: &[Target],
    input: &AddInput,
) -> Result<Entry, Refused> {
    let group = watched_groups(pool)
        .await?
        .into_iter()
        .find(|g| g.group_id == input.group_id && g.watched);
    let person = history(pool, input.user_id).await?.pop();
    let group_name = group
        .as_ref()
        .and_then(|g| g.display_name.clone())
        .unwrap_or_else(|| input.group_id.to_string());
    let attempt = Attempt {
        action: "allowlist_add",
        subject: Some(input.user_id),
        detail: format!(
            "{group_name} until {} — {}",
            input.until.format("%Y-%m-%d %H:%M UTC"),
            person.as_ref().map_or("unknown person", |p| p.upn.as_str())
        ),
        reason: input.reason.trim(),
    };
    let result = async {
        let reason = reason(&input.reason)?;
        if group.is_none() {
            return Err(Refused::NotFound(format!(
                "{} is not a watched exclusion group: phoneless adds people only to the groups \
                 it watches (see /exclusions).",
                input.group_id
            )));
        }
        let Some(person) = person.as_ref().filter(|p| p.ended_run.is_none()) else {
            return Err(Refused::NotFound(format!(
                "No current user with the id {} is in phoneless's history.",
                input.user_id
            )));
        };
        let now = Utc::now();
        let until = check_until(input.until, now, actor.role, limits)?;
        if let Some(open) = db::open_entry(pool, input.group_id, input.user_id).await? {
            return Err(Refused::Guard(format!(
                "{} already has an entry in {group_name} until {}: extend it instead.",
                person.display_name,
                open.until.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        if let Some(stay) = db::current_stay(pool, input.group_id, input.user_id).await? {
            return Err(Refused::Guard(format!(
                "{} is already in {group_name} (seen since {}{}), so phoneless does not add \
                 them again, and will not remove them.",
                person.display_name,
                stay.joined_at.format("%Y-%m-%d"),
                stay.added_by
                    .map_or(String::new(), |by| format!(", added by {by}"))
            )));
        }
        // Live: Graph answers 400 for someone already a member (added since the last sync).
        if graph
            .add_group_member(input.group_id, input.user_id)
            .await?
            == Membership::Unchanged
        {
            return Err(Refused::Guard(format!(
                "{} is already in {group_name} (added since the last sync), so phoneless does \
                 not add them again, and will not remove them.",
                person.display_name
            )));
        }
        let mut tx = pool.begin().await?;
        let new = NewEntry {
            group_id: input.group_id,
            group_name: &group_name,
            user_id: input.user_id,
            upn: &person.upn,
            display_name: &person.display_name,
            reason,
            added_by: actor.who.name,
            added_by_object: actor.who.ids.map(|i| i.1),
            added_at: now,
            until,
        };
        let id = db::insert_entry(&mut *tx, &new).await?;
        let entry = db::entry(&mut *tx, id)
            .await?
            .ok_or_else(|| Refused::NotFound("the new entry vanished".into()))?;
        alert_db::insert(&mut tx, &added_alert(&entry), targets).await?;
        tx.commit().await?;
        Ok(entry)
    }
    .await;
    attempt.record(pool, actor, result).await
}

/// Moves an open entry's end (longer or shorter), within the actor's limits.
pub async fn extend(
    pool: &PgPool,
    actor: &Actor<'_>,
    limits: Limits,
    entry_id: i64,
    until: DateTime<Utc>,
    why: &str,
) -> Result<Entry, Refused> {
    let entry = open(pool, entry_id).await?;
    let attempt = Attempt {
        action: "allowlist_extend",
        subject: Some(entry.user_id),
        detail: format!(
            "entry {} until {} (was {}) — {}",
            entry.id,
            until.format("%Y-%m-%d %H:%M UTC"),
            entry.until.format("%Y-%m-%d %H:%M UTC"),
            entry.upn
        ),
        reason: why.trim(),
    };
    let result = async {
        reason(why)?;
        let until = check_until(until, Utc::now(), actor.role, limits)?;
        if !db::set_until(pool, entry.id, until).await? {
            return Err(Refused::Guard("The entry has just ended.".into()));
        }
        Ok(Entry {
            until,
            ..entry.clone()
        })
    }
    .await;
    attempt.record(pool, actor, result).await
}

/// Ends an open entry now: removes the member, closes the entry, raises the alert.
pub async fn end(
    pool: &PgPool,
    graph: &Client,
    actor: &Actor<'_>,
    targets: &[Target],
    entry_id: i64,
    why: &str,
) -> Result<Entry, Refused> {
    let entry = open(pool, entry_id).await?;
    let attempt = Attempt {
        action: "allowlist_end",
        subject: Some(entry.user_id),
        detail: format!("entry {} ended early — {}", entry.id, entry.upn),
        reason: why.trim(),
    };
    let result = async {
        reason(why)?;
        graph
            .remove_group_member(entry.group_id, entry.user_id)
            .await?;
        close(pool, &entry, "ended", actor.who.name, targets).await
    }
    .await;
    attempt.record(pool, actor, result).await
}

async fn open(pool: &PgPool, entry_id: i64) -> Result<Entry, Refused> {
    match db::entry(pool, entry_id).await? {
        Some(e) if e.ended_at.is_none() => Ok(e),
        Some(_) => Err(Refused::Guard(format!(
            "Entry {entry_id} has ended already."
        ))),
        None => Err(Refused::NotFound(format!("There is no entry {entry_id}."))),
    }
}

/// Closes an entry whose member was removed, with its alert, in one transaction.
async fn close(
    pool: &PgPool,
    entry: &Entry,
    kind: &str,
    by: &str,
    targets: &[Target],
) -> Result<Entry, Refused> {
    let now = Utc::now();
    let mut tx = pool.begin().await?;
    if !db::close_entry(&mut *tx, entry.id, now, kind, by).await? {
        return Err(Refused::Guard(format!(
            "Entry {} has ended already.",
            entry.id
        )));
    }
    let closed = Entry {
        ended_at: Some(now),
        end_kind: Some(kind.to_owned()),
        ended_by: Some(by.to_owned()),
        ..entry.clone()
    };
    alert_db::insert(&mut tx, &removed_alert(&closed, now), targets).await?;
    tx.commit().await?;
    Ok(closed)
}

fn facts(entry: &Entry) -> Vec<(String, String)> {
    vec![
        (
            "Person".to_owned(),
            format!("{} ({})", entry.display_name, entry.upn),
        ),
        ("Group".to_owned(), entry.group_name.clone()),
        ("Reason".to_owned(), entry.reason.clone()),
        ("Added by".to_owned(), entry.added_by.clone()),
        (
            "Until".to_owned(),
            entry.until.format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
    ]
}

/// The alert of an entry added: who, why, until when (not an unannounced join).
pub fn added_alert(entry: &Entry) -> NewAlert<'static> {
    let group = &entry.group_name;
    NewAlert {
        event_key: format!("allowlist_added:{}", entry.id),
        kind: "allowlist_added",
        created_at: entry.added_at,
        run_id: None,
        title: format!(
            "{} added {} to {group} until {}",
            entry.added_by,
            entry.display_name,
            entry.until.format("%Y-%m-%d")
        ),
        text: format!(
            "{} put {} in the exclusion group “{group}” through phoneless, until {}: “{}”. The \
             policies that exclude the group do not apply to them until then.",
            entry.added_by,
            entry.display_name,
            entry.until.format("%Y-%m-%d %H:%M UTC"),
            entry.reason
        ),
        facts: facts(entry),
    }
}

/// How an entry ended (`None`: it is open), in words.
pub fn ended_words(kind: Option<&str>, by: Option<&str>) -> String {
    let by = by.unwrap_or("phoneless");
    match kind {
        Some("expired") => "removed at its end".to_owned(),
        Some("ended") => format!("ended early by {by}"),
        Some(_) => format!("removed outside phoneless ({by})"),
        None => "open".to_owned(),
    }
}

/// The alert of an entry that ended: at its end, early, or removed outside phoneless.
pub fn removed_alert(entry: &Entry, now: DateTime<Utc>) -> NewAlert<'static> {
    let how = ended_words(entry.end_kind.as_deref(), entry.ended_by.as_deref());
    let mut facts = facts(entry);
    facts.push((
        "Ended".to_owned(),
        now.format("%Y-%m-%d %H:%M UTC").to_string(),
    ));
    NewAlert {
        event_key: format!("allowlist_removed:{}", entry.id),
        kind: "allowlist_removed",
        created_at: now,
        run_id: None,
        title: format!("{} left the allowlist", entry.display_name),
        text: format!(
            "{} is out of the exclusion group again (the entry was {how}). The policies that \
             exclude the group apply to them once more.",
            entry.display_name
        ),
        facts,
    }
}

/// Removes the members whose entry's end has come, in `serve`.
pub struct Remover {
    pub pool: PgPool,
    pub graph: Arc<Client>,
    pub targets: Vec<Target>,
    /// This replica's name in its claims.
    pub owner: String,
}

impl Remover {
    /// Runs until cancelled, one pass every [`REMOVER_EVERY`]; a failed pass is logged and
    /// the next one carries on.
    pub async fn run(self, cancel: CancellationToken) {
        loop {
            if let Err(e) = self.pass(Utc::now()).await {
                tracing::warn!("allowlist removals: {e}");
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(REMOVER_EVERY) => {}
            }
        }
    }

    /// One pass: claims the due entries, removes each member, closes each entry. Returns the
    /// entries closed.
    pub async fn pass(&self, now: DateTime<Utc>) -> sqlx::Result<Vec<Entry>> {
        let due = db::claim_due(
            &self.pool,
            &self.owner,
            now,
            REMOVAL_LEASE,
            REMOVALS_PER_PASS,
        )
        .await?;
        let mut closed = Vec::new();
        for entry in due {
            match self
                .graph
                .remove_group_member(entry.group_id, entry.user_id)
                .await
            {
                // Removed, or not a member any more: either way the entry is over.
                Ok(_) => {
                    match close(&self.pool, &entry, "expired", REMOVER_NAME, &self.targets).await {
                        Ok(e) => {
                            record_expiry(&self.pool, &entry, "done").await?;
                            closed.push(e);
                        }
                        Err(Refused::Database(e)) => return Err(e),
                        // Closed meanwhile (ended early, or by the sync): nothing more to do.
                        Err(_) => {}
                    }
                }
                Err(e) => {
                    let retry_at = now + RETRY_AFTER * (1 << (entry.attempts.clamp(1, 7) - 1));
                    let message = e.to_string();
                    tracing::warn!(
                        "could not remove {} from group {} at the end of their entry: {message}",
                        entry.upn,
                        entry.group_id
                    );
                    db::removal_failed(&self.pool, entry.id, &self.owner, &message, retry_at)
                        .await?;
                    record_expiry(
                        &self.pool,
                        &entry,
                        &format!("failed: {message}; trying again"),
                    )
                    .await?;
                }
            }
        }
        Ok(closed)
    }
}

/// The automatic removal in the access log.
async fn record_expiry(pool: &PgPool, entry: &Entry, outcome: &str) -> sqlx::Result<()> {
    let detail = format!(
        "entry {} reached its end ({}) — {}",
        entry.id,
        entry.until.format("%Y-%m-%d %H:%M UTC"),
        entry.upn
    );
    record_action(
        pool,
        Accessor {
            name: REMOVER_NAME,
            ids: None,
            client: "",
        },
        ActionRecord {
            action: "allowlist_expire",
            subject: Some(entry.user_id),
            detail: &detail,
            reason: &entry.reason,
            outcome,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        helpdesk_max: Duration::from_secs(14 * 86_400),
        hard_max: Duration::from_secs(90 * 86_400),
    };

    #[test]
    fn an_end_is_in_the_future_and_within_the_roles_limit() {
        let now = Utc::now();
        let days = |n| now + chrono::Duration::days(n);
        assert!(check_until(days(14), now, Role::Helpdesk, LIMITS).is_ok());
        assert!(matches!(
            check_until(days(15), now, Role::Helpdesk, LIMITS),
            Err(Refused::Role(_))
        ));
        assert!(check_until(days(15), now, Role::SecurityLead, LIMITS).is_ok());
        assert!(matches!(
            check_until(days(91), now, Role::SecurityLead, LIMITS),
            Err(Refused::Role(_))
        ));
        assert!(matches!(
            check_until(now, now, Role::SecurityLead, LIMITS),
            Err(Refused::Invalid(_))
        ));
    }

    #[test]
    fn the_alerts_name_the_agent_the_reason_and_the_end() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
            .expect("t")
            .to_utc();
        let mut e = Entry {
            id: 4,
            group_id: Uuid::from_u128(1),
            group_name: "Phone MFA exceptions".into(),
            user_id: Uuid::from_u128(2),
            upn: "ana@contoso.com".into(),
            display_name: "Ana".into(),
            reason: "key on order".into(),
            added_by: "Hugo".into(),
            added_at: at,
            until: at + chrono::Duration::days(3),
            ended_at: None,
            end_kind: None,
            ended_by: None,
            last_error: None,
            attempts: 0,
        };
        let added = added_alert(&e);
        assert_eq!(
            added.title,
            "Hugo added Ana to Phone MFA exceptions until 2026-12-04"
        );
        assert!(added.text.contains("“key on order”") && added.event_key == "allowlist_added:4");
        e.end_kind = Some("expired".into());
        let removed = removed_alert(&e, at);
        assert!(
            removed.text.contains("removed at its end"),
            "{}",
            removed.text
        );
        e.end_kind = Some("removed_outside".into());
        e.ended_by = Some("Ada Admin".into());
        assert!(
            removed_alert(&e, at)
                .text
                .contains("removed outside phoneless (Ada Admin)")
        );
    }
}
