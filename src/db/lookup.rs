//! The helpdesk's reads and the access log: search, one user's history, who looked at whom.

use super::dashboard::ListedUser;
use super::like_literal;
use crate::domain::{DefaultMethod, PhoneReason, State, UserType, UserVersion};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use sqlx::PgExecutor;
use uuid::Uuid;

/// Current users whose UPN or name starts with `text`, or a later word of whose name does,
/// case and accents folded (or whose object id is `text`): an exact UPN or id first, then
/// prefixes, then later words, each by name. Words need three letters (shorter ones match too
/// much to be useful, and the trigram index cannot help them).
///
/// Each kind of match is its own index walk stopping at `limit` rows, so a common surname
/// (thousands of matches) costs no more than a rare one.
pub async fn search(
    db: impl PgExecutor<'_>,
    text: &str,
    limit: i64,
) -> sqlx::Result<Vec<ListedUser>> {
    let literal = like_literal(text);
    let id = Uuid::parse_str(text).ok();
    let words = (text.chars().count() >= 3).then(|| literal.clone());
    sqlx::query_as!(
        ListedUser,
        r#"WITH exact AS (
               SELECT user_id, 0 AS rank FROM user_versions
               WHERE ended_run IS NULL AND (user_id = $2 OR phoneless_fold(upn) = phoneless_fold($4))
               LIMIT $5),
           upn AS (
               SELECT user_id, 1 AS rank FROM user_versions
               WHERE ended_run IS NULL AND phoneless_fold(upn) LIKE phoneless_fold($1) || '%'
               ORDER BY phoneless_fold(upn) LIMIT $5),
           name AS (
               SELECT user_id, 1 AS rank FROM user_versions
               WHERE ended_run IS NULL AND phoneless_fold(display_name) LIKE phoneless_fold($1) || '%'
               ORDER BY phoneless_fold(display_name) LIMIT $5),
           word AS (
               SELECT user_id, 2 AS rank FROM user_versions
               WHERE ended_run IS NULL AND $3::text IS NOT NULL
                 AND phoneless_fold(display_name) LIKE '% ' || phoneless_fold($3) || '%'
               LIMIT $5),
           hits AS (
               SELECT user_id, min(rank) AS rank
               FROM (SELECT * FROM exact UNION ALL SELECT * FROM upn
                     UNION ALL SELECT * FROM name UNION ALL SELECT * FROM word) h
               GROUP BY user_id)
           SELECT v.user_id, v.upn, v.display_name, v.department, v.company, v.office, v.country,
                  v.job_title, v.user_type AS "user_type: UserType", v.state AS "state: State",
                  v.methods, v.default_method AS "default_method: DefaultMethod", v.is_admin,
                  v.voice_capable, v.phishing_resistant, v.external, v.global_admin, v.blocked,
                  phoneless_rank(v.state) AS "rank!",
                  r.reason AS "reason?: PhoneReason", r.note AS "reason_note?",
                  r.follow_up AS "follow_up?", r.set_by AS "reason_by?",
                  r.set_at AS "reason_at?",
                  u.last_phone_mfa AS "last_phone_mfa?",
                  COALESCE(u.phone_mfa_30d, 0) AS "phone_mfa_30d!",
                  EXISTS (SELECT 1 FROM sign_in_cursor) AS "sign_ins_read!",
                  COALESCE((SELECT read_until >= read_from + interval '30 days'
                            FROM sign_in_cursor), false) AS "sign_ins_month!"
           FROM hits JOIN user_versions v ON v.user_id = hits.user_id AND v.ended_run IS NULL
           LEFT JOIN phone_reasons r ON r.user_id = v.user_id AND r.cleared_at IS NULL
           LEFT JOIN phone_usage u ON u.user_id = v.user_id
           ORDER BY hits.rank, v.display_name, v.user_id
           LIMIT $5"#,
        literal,
        id,
        words,
        text,
        limit
    )
    .fetch_all(db)
    .await
}

/// Every version of one user, oldest first (empty for an id never seen).
pub async fn history(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<UserVersion>> {
    sqlx::query_as!(
        UserVersion,
        r#"SELECT v.first_run, f.started_at AS first_at, v.ended_run, e.started_at AS "ended_at?",
                  v.upn, v.display_name, v.department, v.company, v.office, v.country, v.job_title,
                  v.user_type AS "user_type: UserType", v.account_enabled, v.in_scope, v.is_admin,
                  v.methods, v.default_method AS "default_method: DefaultMethod",
                  v.system_preferred, v.state AS "state: State", v.voice_capable, v.voice_default,
                  v.phishing_resistant, v.external, v.global_admin, v.global_admin_eligible,
                  v.blocked, v.unavailable, v.out_of_scope_by
           FROM user_versions v
           JOIN sync_runs f ON f.id = v.first_run
           LEFT JOIN sync_runs e ON e.id = v.ended_run
           WHERE v.user_id = $1
           ORDER BY v.first_run"#,
        user_id
    )
    .fetch_all(db)
    .await
}

/// One access to personal data.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccessEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// The signed-in person's object id (none while sign-in is off).
    pub actor_object: Option<Uuid>,
    /// `search`, `view` (the user's page), `api_view` (their JSON), `sign_in`, `sign_out`,
    /// `session_revoked`, or an action (`tap`, `allowlist_add`, …, `phone_reason`).
    pub action: String,
    pub subject: Option<Uuid>,
    pub detail: String,
    pub client: String,
    /// For actions: the agent's reason, and the outcome in words.
    pub reason: Option<String>,
    pub outcome: Option<String>,
}

/// Who did something, for the access log.
#[derive(Debug, Clone, Copy)]
pub struct Accessor<'a> {
    /// The person's name and username, as shown in the log.
    pub name: &'a str,
    /// Tenant and object id of the signed-in person (none while sign-in is off).
    pub ids: Option<(Uuid, Uuid)>,
    /// The client's address.
    pub client: &'a str,
}

/// Records one access.
pub async fn record_access(
    db: impl PgExecutor<'_>,
    who: Accessor<'_>,
    action: &str,
    subject: Option<Uuid>,
    detail: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO access_log (actor, actor_tenant, actor_object, action, subject, detail, client)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        who.name,
        who.ids.map(|(tenant, _)| tenant),
        who.ids.map(|(_, object)| object),
        action,
        subject,
        detail,
        who.client
    )
    .execute(db)
    .await?;
    Ok(())
}

/// What an action (or its refusal) records besides who, whom and what: the agent's reason
/// and the outcome in words. Never a secret: a pass is not an outcome.
#[derive(Debug, Clone, Copy)]
pub struct ActionRecord<'a> {
    /// `tap`, `allowlist_add`, `allowlist_extend`, `allowlist_end`, `allowlist_expire` or
    /// `phone_reason`.
    pub action: &'a str,
    pub subject: Option<Uuid>,
    /// What was done, in words ("a one-time pass for 60 minutes", "group Phone MFA allowlist
    /// until 2026-12-08"), with the subject's UPN.
    pub detail: &'a str,
    /// Why, as the agent gave it.
    pub reason: &'a str,
    /// "done", "refused: …" or "failed: …".
    pub outcome: &'a str,
}

/// Records one action or refusal.
pub async fn record_action(
    db: impl PgExecutor<'_>,
    who: Accessor<'_>,
    a: ActionRecord<'_>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO access_log (actor, actor_tenant, actor_object, action, subject, detail,
                                 client, reason, outcome)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        who.name,
        who.ids.map(|(tenant, _)| tenant),
        who.ids.map(|(_, object)| object),
        a.action,
        a.subject,
        a.detail,
        who.client,
        a.reason,
        a.outcome
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Which accesses to list: by who looked (exact name, or object id), by whom they looked at (object id, or part of
/// the recorded UPN or search text), older than `before` (an id, for paging).
#[derive(Debug, Clone, Default)]
pub struct AccessFilter {
    pub actor: Option<String>,
    /// The signed-in person's object id.
    pub actor_object: Option<Uuid>,
    pub subject: Option<Uuid>,
    pub text: Option<String>,
}

macro_rules! access_query {
    ($f:expr, $before:expr, $limit:expr) => {
        sqlx::query_as!(
            AccessEntry,
            r#"SELECT id, at, actor, actor_object, action, subject, detail, client, reason, outcome
               FROM access_log
               WHERE ($1::text IS NULL OR actor = $1)
                 AND ($2::uuid IS NULL OR subject = $2)
                 AND ($3::text IS NULL OR detail ILIKE '%' || $3 || '%')
                 AND ($4::bigint IS NULL OR id < $4)
                 AND ($6::uuid IS NULL OR actor_object = $6)
               ORDER BY id DESC
               LIMIT $5"#,
            $f.actor.as_deref(),
            $f.subject,
            $f.text.as_deref().map(like_literal),
            $before,
            $limit,
            $f.actor_object
        )
    };
}

/// The newest accesses matching `f`, before `before`.
pub async fn accesses(
    db: impl PgExecutor<'_>,
    f: &AccessFilter,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<AccessEntry>> {
    access_query!(f, before, Some(limit)).fetch_all(db).await
}

/// Every access matching `f`, newest first (for exports).
pub fn stream_accesses<'e>(
    db: impl PgExecutor<'e> + 'e,
    f: &'e AccessFilter,
) -> impl Stream<Item = sqlx::Result<AccessEntry>> + 'e {
    access_query!(f, None::<i64>, None::<i64>).fetch(db)
}
