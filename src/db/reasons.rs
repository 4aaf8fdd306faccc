//! Why people are still on the phone, as the helpdesk recorded it (`phone_reasons`): record,
//! replace and remove a person's reason, read it and its history, count the current ones, and
//! clear those of people the sync saw leave the phone states.
//!
//! A person has at most one current reason (`cleared_at` NULL, unique per user). Nothing is
//! deleted: a replaced, removed or cleared reason stays as history. Someone gone from the
//! tenant keeps their reason (they may come back, or the report may lag); they are in no count,
//! since the counts are of the people in the newest sync.

use crate::domain::reasons::{PHONE_STATES, ReasonCounts, ReasonHistory, ReasonRecord};
use crate::domain::{ClearedBy, PhoneReason, State};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// What the helpdesk records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReason {
    pub reason: PhoneReason,
    pub note: String,
    pub follow_up: Option<NaiveDate>,
}

/// Recordings of one person wait for each other (two people saving at once), so the second
/// replaces the first rather than failing on the one-current-reason index. The two-key form
/// of the advisory lock does not meet the sync's one-key lock.
async fn lock_person(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtext('phone_reasons'), hashtext($1::uuid::text))",
        user_id
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(())
}

/// Records `new` as `user_id`'s reason at `now`: the current one, if any, is cleared as
/// `replaced`. Run it inside the caller's transaction (with the access log's row), so both
/// steps land together or not at all.
pub async fn set(
    tx: &mut PgConnection,
    user_id: Uuid,
    new: &NewReason,
    by: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<ReasonRecord> {
    lock_person(tx, user_id).await?;
    sqlx::query!(
        "UPDATE phone_reasons SET cleared_at = $2, cleared_by = $3
         WHERE user_id = $1 AND cleared_at IS NULL",
        user_id,
        now,
        ClearedBy::Replaced.as_str()
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query_as!(
        ReasonRecord,
        r#"INSERT INTO phone_reasons (user_id, reason, note, follow_up, set_by, set_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           RETURNING id, reason AS "reason: PhoneReason", note, follow_up, set_by, set_at,
                     cleared_at, cleared_by AS "cleared_by: ClearedBy""#,
        user_id,
        new.reason.as_str(),
        new.note,
        new.follow_up,
        by,
        now
    )
    .fetch_one(&mut *tx)
    .await
}

/// Removes `user_id`'s current reason at `now` (cleared as `removed`): the reason that was
/// removed, or `None` when there was none.
pub async fn remove(
    tx: &mut PgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<ReasonRecord>> {
    lock_person(tx, user_id).await?;
    sqlx::query_as!(
        ReasonRecord,
        r#"UPDATE phone_reasons SET cleared_at = $2, cleared_by = $3
           WHERE user_id = $1 AND cleared_at IS NULL
           RETURNING id, reason AS "reason: PhoneReason", note, follow_up, set_by, set_at,
                     cleared_at, cleared_by AS "cleared_by: ClearedBy""#,
        user_id,
        now,
        ClearedBy::Removed.as_str()
    )
    .fetch_optional(&mut *tx)
    .await
}

/// `user_id`'s current reason.
pub async fn current(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Option<ReasonRecord>> {
    sqlx::query_as!(
        ReasonRecord,
        r#"SELECT id, reason AS "reason: PhoneReason", note, follow_up, set_by, set_at,
                  cleared_at, cleared_by AS "cleared_by: ClearedBy"
           FROM phone_reasons WHERE user_id = $1 AND cleared_at IS NULL"#,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// Every reason recorded for `user_id`, oldest first, each with the newest succeeded sync at
/// the moments it was recorded and cleared (a reason cleared by a sync names that sync, whose
/// start is its clearing time).
pub async fn history(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<ReasonHistory>> {
    let rows = sqlx::query!(
        r#"SELECT r.id, r.reason AS "reason: PhoneReason", r.note, r.follow_up, r.set_by,
                  r.set_at, r.cleared_at, r.cleared_by AS "cleared_by: ClearedBy",
                  (SELECT s.id FROM sync_runs s
                   WHERE s.status = 'succeeded' AND s.started_at <= r.set_at
                   ORDER BY s.started_at DESC, s.id DESC LIMIT 1) AS set_run,
                  (SELECT s.id FROM sync_runs s
                   WHERE s.status = 'succeeded' AND s.started_at <= r.cleared_at
                   ORDER BY s.started_at DESC, s.id DESC LIMIT 1) AS cleared_run
           FROM phone_reasons r
           WHERE r.user_id = $1
           ORDER BY r.id"#,
        user_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ReasonHistory {
            record: ReasonRecord {
                id: r.id,
                reason: r.reason,
                note: r.note,
                follow_up: r.follow_up,
                set_by: r.set_by,
                set_at: r.set_at,
                cleared_at: r.cleared_at,
                cleared_by: r.cleared_by,
            },
            set_run: r.set_run,
            cleared_run: r.cleared_run,
        })
        .collect())
}

/// The current reasons of the people the counts count (in scope, in the newest sync) who are
/// still on the phone, per department (`None`: no department), ordered by name; follow-ups
/// due on `today` or before. Departments where nobody has a reason are absent; the tenant's
/// counts are the sum.
pub async fn counts_by_department(
    db: impl PgExecutor<'_>,
    today: NaiveDate,
) -> sqlx::Result<Vec<(Option<String>, ReasonCounts)>> {
    let rows = sqlx::query!(
        r#"SELECT v.department, r.reason AS "reason: PhoneReason", count(*) AS "n!",
                  count(*) FILTER (WHERE r.follow_up <= $2) AS "due!"
           FROM phone_reasons r
           JOIN user_versions v ON v.user_id = r.user_id AND v.ended_run IS NULL
           WHERE r.cleared_at IS NULL AND v.in_scope AND v.state = ANY($1::text[])
           GROUP BY v.department, r.reason
           ORDER BY v.department NULLS LAST"#,
        &PHONE_STATES as &[State],
        today
    )
    .fetch_all(db)
    .await?;
    let mut out: Vec<(Option<String>, ReasonCounts)> = Vec::new();
    for r in rows {
        if out.last().is_none_or(|(d, _)| *d != r.department) {
            out.push((r.department.clone(), ReasonCounts::default()));
        }
        if let Some((_, c)) = out.last_mut() {
            c.by_reason.insert(r.reason, r.n);
            c.follow_up_due += r.due;
        }
    }
    Ok(out)
}

/// Clears, as `left_phone` at `now`, the current reasons of people whose current version is no
/// longer in a phone state: one statement over every current reason, run in the sync's
/// transaction after its versions are written. Someone gone (no current version) keeps theirs.
/// A reason recorded while the run was writing is caught by the next run. The number cleared.
pub async fn clear_left_phone(db: impl PgExecutor<'_>, now: DateTime<Utc>) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "UPDATE phone_reasons r
         SET cleared_at = GREATEST($1, r.set_at), cleared_by = $3
         FROM user_versions v
         WHERE r.cleared_at IS NULL AND v.user_id = r.user_id AND v.ended_run IS NULL
           AND NOT (v.state = ANY($2::text[]))",
        now,
        &PHONE_STATES as &[State],
        ClearedBy::LeftPhone.as_str()
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// A person as a recording needs them: the UPN (for the access log) and the state phoneless
/// last saw them in (their current version, or their last one if they are gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub upn: String,
    pub state: State,
    /// Not in the newest sync.
    pub gone: bool,
}

/// `user_id` as phoneless last saw them; `None` for an id never seen.
pub async fn subject(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Option<Subject>> {
    sqlx::query_as!(
        Subject,
        r#"SELECT upn, state AS "state: State", ended_run IS NOT NULL AS "gone!"
           FROM user_versions WHERE user_id = $1
           ORDER BY first_run DESC LIMIT 1"#,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// Whether any reason was ever recorded (the demo records its own once).
pub async fn any_recorded(db: impl PgExecutor<'_>) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM phone_reasons) AS "any!""#)
        .fetch_one(db)
        .await
}

/// What every answer about the recorded reasons depends on, besides the day: the newest
/// succeeded sync (people's states, scope and departments), the newest recording and how many
/// are current. Every change moves it: a recording adds a row, a removal or a sync's clearing
/// leaves fewer current (and only a recording can bring the number back up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp {
    pub run_id: Option<i64>,
    pub newest: Option<i64>,
    pub current: i64,
}

/// The reasons' [`Stamp`] now.
pub async fn stamp(db: impl PgExecutor<'_>) -> sqlx::Result<Stamp> {
    sqlx::query_as!(
        Stamp,
        r#"SELECT (SELECT max(id) FROM sync_runs WHERE status = 'succeeded') AS run_id,
                  (SELECT max(id) FROM phone_reasons) AS newest,
                  (SELECT count(*) FROM phone_reasons WHERE cleared_at IS NULL) AS "current!""#
    )
    .fetch_one(db)
    .await
}
