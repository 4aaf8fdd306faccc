//! SQL of the sign-in usage: per person and day, the successful MFA steps by method; the
//! per-person phone use the list shows; where the reading of the log stopped.

use crate::domain::usage::MfaClass;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// Where the reading of the sign-in log stopped.
pub async fn cursor(db: impl PgExecutor<'_>) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar!("SELECT read_until FROM sign_in_cursor")
        .fetch_optional(db)
        .await
}

/// The ids of the sign-ins counted at or after `since` (the overlap a read starts with).
pub async fn seen_since(
    db: impl PgExecutor<'_>,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!("SELECT id FROM sign_ins_seen WHERE created_at >= $1", since)
        .fetch_all(db)
        .await
}

/// Counts for one person, day and method, to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub user_id: Uuid,
    pub day: NaiveDate,
    pub method: String,
    pub class: MfaClass,
    pub count: i32,
}

/// Adds a batch of counts and moves the cursor, in the caller's transaction: the ids of the
/// sign-ins counted since `keep_since` are kept (the next read starts in their minutes), older
/// ones forgotten.
pub async fn add_counts(
    tx: &mut PgConnection,
    rows: &[UsageRow],
    recent: &[(String, DateTime<Utc>)],
    read_from: DateTime<Utc>,
    read_until: DateTime<Utc>,
    keep_since: DateTime<Utc>,
) -> sqlx::Result<()> {
    let users: Vec<Uuid> = rows.iter().map(|r| r.user_id).collect();
    let days: Vec<NaiveDate> = rows.iter().map(|r| r.day).collect();
    let methods: Vec<&str> = rows.iter().map(|r| r.method.as_str()).collect();
    let classes: Vec<MfaClass> = rows.iter().map(|r| r.class).collect();
    let counts: Vec<i32> = rows.iter().map(|r| r.count).collect();
    sqlx::query!(
        "INSERT INTO mfa_usage (user_id, day, method, class, count)
         SELECT * FROM UNNEST($1::uuid[], $2::date[], $3::text[], $4::text[], $5::int[])
         ON CONFLICT (user_id, day, method) DO UPDATE SET count = mfa_usage.count + EXCLUDED.count",
        &users,
        &days,
        &methods as &[&str],
        &classes as &[MfaClass],
        &counts
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO mfa_usage_daily (day, class, count)
         SELECT day, class, sum(count) FROM UNNEST($1::date[], $2::text[], $3::int[])
             AS r(day, class, count)
         GROUP BY day, class
         ON CONFLICT (day, class) DO UPDATE SET count = mfa_usage_daily.count + EXCLUDED.count",
        &days,
        &classes as &[MfaClass],
        &counts
    )
    .execute(&mut *tx)
    .await?;
    let ids: Vec<&str> = recent.iter().map(|(id, _)| id.as_str()).collect();
    let at: Vec<DateTime<Utc>> = recent.iter().map(|(_, t)| *t).collect();
    sqlx::query!(
        "INSERT INTO sign_ins_seen (id, created_at)
         SELECT * FROM UNNEST($1::text[], $2::timestamptz[]) ON CONFLICT (id) DO NOTHING",
        &ids as &[&str],
        &at
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "DELETE FROM sign_ins_seen WHERE created_at < $1",
        keep_since
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO sign_in_cursor (only_row, read_until, read_from) VALUES (true, $1, $2)
         ON CONFLICT (only_row) DO UPDATE SET read_until = EXCLUDED.read_until",
        read_until,
        read_from
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Brings each person's phone use up to `today`: the last day of SMS or voice (kept from
/// before, moved by the last 30 days), and the steps in the 30 days up to today. Reads only
/// those 30 days.
pub async fn update_phone_usage(tx: &mut PgConnection, today: NaiveDate) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO phone_usage (user_id, last_phone_mfa, phone_mfa_30d, as_of)
         SELECT user_id, max(day), sum(count), $1 FROM mfa_usage
         WHERE class IN ('sms', 'voice') AND day > $1::date - 30 AND day <= $1
         GROUP BY user_id
         ON CONFLICT (user_id) DO UPDATE SET
             last_phone_mfa = GREATEST(phone_usage.last_phone_mfa, EXCLUDED.last_phone_mfa),
             phone_mfa_30d = EXCLUDED.phone_mfa_30d, as_of = EXCLUDED.as_of",
        today
    )
    .execute(&mut *tx)
    .await?;
    // Whose last use is older than the 30 days used none in them.
    sqlx::query!(
        "UPDATE phone_usage SET phone_mfa_30d = 0, as_of = $1
         WHERE phone_mfa_30d > 0 AND last_phone_mfa <= $1::date - 30",
        today
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Successful MFA steps per UTC day by class, from `from` to `to` (zero-filled).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UsagePoint {
    pub date: NaiveDate,
    pub sms: i64,
    pub voice: i64,
    pub app: i64,
    pub phishing_resistant: i64,
    pub other: i64,
}

pub async fn usage_points(
    db: impl PgExecutor<'_>,
    from: NaiveDate,
    to: NaiveDate,
) -> sqlx::Result<Vec<UsagePoint>> {
    sqlx::query_as!(
        UsagePoint,
        r#"SELECT d.day::date AS "date!",
                  COALESCE(sum(u.count) FILTER (WHERE u.class = 'sms'), 0)::bigint AS "sms!",
                  COALESCE(sum(u.count) FILTER (WHERE u.class = 'voice'), 0)::bigint AS "voice!",
                  COALESCE(sum(u.count) FILTER (WHERE u.class = 'app'), 0)::bigint AS "app!",
                  COALESCE(sum(u.count) FILTER (WHERE u.class = 'phishing_resistant'), 0)::bigint
                      AS "phishing_resistant!",
                  COALESCE(sum(u.count) FILTER (WHERE u.class = 'other'), 0)::bigint AS "other!"
           FROM generate_series($1::date, $2::date, interval '1 day') d(day)
           LEFT JOIN mfa_usage_daily u ON u.day = d.day::date
           GROUP BY d.day ORDER BY d.day"#,
        from,
        to
    )
    .fetch_all(db)
    .await
}

/// People who used SMS or voice in the 30 days up to the last rebuild.
pub async fn people_phone_30d(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM phone_usage WHERE phone_mfa_30d > 0"#)
        .fetch_one(db)
        .await
}

/// Where the first read of the log began (`None`: never read; the usage views say so).
pub async fn read_from(db: impl PgExecutor<'_>) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar!("SELECT read_from FROM sign_in_cursor")
        .fetch_optional(db)
        .await
}

/// One person's use since `since`, by day and method, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PersonUse {
    pub date: NaiveDate,
    pub method: String,
    #[serde(skip)]
    pub class: MfaClass,
    pub count: i32,
}

pub async fn person_usage(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    since: NaiveDate,
) -> sqlx::Result<Vec<PersonUse>> {
    sqlx::query_as!(
        PersonUse,
        r#"SELECT day AS date, method, class AS "class: MfaClass", count FROM mfa_usage
           WHERE user_id = $1 AND day >= $2 ORDER BY day, method"#,
        user_id,
        since
    )
    .fetch_all(db)
    .await
}

/// The last day the person used SMS or voice, ever.
pub async fn last_phone_mfa(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<Option<NaiveDate>> {
    sqlx::query_scalar!(
        "SELECT max(day) FROM mfa_usage WHERE user_id = $1 AND class IN ('sms', 'voice')",
        user_id
    )
    .fetch_one(db)
    .await
}
