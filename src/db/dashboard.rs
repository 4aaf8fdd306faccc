//! The dashboard's reads: daily trend points from the rollups, the list of users still on the
//! phone with their phone use, and its counts. Checked at compile time like every other query.

use crate::domain::phone_use::PhoneUse;
use crate::domain::{Counts, DefaultMethod, Dimension, PhoneReason, State, UserType};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::{Stream, StreamExt as _};
use sqlx::PgExecutor;
use uuid::Uuid;

/// A group's counts on one day: those of the last run that succeeded that day (UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct DayCounts {
    pub day: NaiveDate,
    pub run_id: i64,
    /// `None` for the tenant row and for "(no department)" and the like.
    pub name: Option<String>,
    pub counts: Counts,
    /// Whether the run knew the two retirement cohorts (runs before they were counted did not).
    pub cohorts_known: bool,
}

/// The row shape shared by the rollup queries (each selects every rollup column).
struct DayRow {
    day: Option<NaiveDate>,
    run_id: Option<i64>,
    name: Option<String>,
    users: Option<i32>,
    phone_only: Option<i32>,
    phone_default: Option<i32>,
    phone_backup: Option<i32>,
    phone_free: Option<i32>,
    no_mfa: Option<i32>,
    voice_capable: Option<i32>,
    voice_default: Option<i32>,
    phishing_resistant: Option<i32>,
    admins: Option<i32>,
    admins_phone_only: Option<i32>,
    guests: Option<i32>,
    out_of_scope: Option<i32>,
    out_of_scope_rule: Option<i32>,
    people_early: Option<i32>,
    blocked_early: Option<i32>,
    people_late: Option<i32>,
    blocked_late: Option<i32>,
    admins_blocked_early: Option<i32>,
    admins_blocked_late: Option<i32>,
    external_blocked: Option<i32>,
    external_members: Option<i32>,
    external_guests: Option<i32>,
}

impl DayRow {
    /// A group without a row (it had no users then) counts as zeros; so do the cohorts of a run
    /// made before they were counted (see [`DayCounts::cohorts_known`]).
    fn counts(&self) -> Counts {
        let z = |v: Option<i32>| v.unwrap_or(0);
        Counts {
            users: z(self.users),
            phone_only: z(self.phone_only),
            phone_default: z(self.phone_default),
            phone_backup: z(self.phone_backup),
            phone_free: z(self.phone_free),
            no_mfa: z(self.no_mfa),
            voice_capable: z(self.voice_capable),
            voice_default: z(self.voice_default),
            phishing_resistant: z(self.phishing_resistant),
            admins: z(self.admins),
            admins_phone_only: z(self.admins_phone_only),
            guests: z(self.guests),
            out_of_scope: z(self.out_of_scope),
            out_of_scope_rule: z(self.out_of_scope_rule),
            people_early: z(self.people_early),
            blocked_early: z(self.blocked_early),
            people_late: z(self.people_late),
            blocked_late: z(self.blocked_late),
            admins_blocked_early: z(self.admins_blocked_early),
            admins_blocked_late: z(self.admins_blocked_late),
            external_blocked: z(self.external_blocked),
            external_members: z(self.external_members),
            external_guests: z(self.external_guests),
        }
    }

    fn cohorts_known(&self) -> bool {
        self.blocked_early.is_some() || self.users.is_none()
    }

    fn into_day(self) -> Option<DayCounts> {
        Some(DayCounts {
            counts: self.counts(),
            cohorts_known: self.cohorts_known(),
            day: self.day?,
            run_id: self.run_id?,
            name: self.name,
        })
    }
}

/// One group's daily counts from `since` on (all when `None`), oldest first. `dimension` is `tenant` (with
/// `name` None) or one of the group dimensions; days without the group are zeros.
pub async fn group_trend(
    db: impl PgExecutor<'_>,
    dimension: Dimension,
    name: Option<&str>,
    since: Option<NaiveDate>,
) -> sqlx::Result<Vec<DayCounts>> {
    let rows = sqlx::query_as!(
        DayRow,
        r#"SELECT d.day, d.id AS run_id, $2::text AS name,
                  r.users, r.phone_only, r.phone_default, r.phone_backup, r.phone_free, r.no_mfa,
                  r.voice_capable, r.voice_default, r.phishing_resistant, r.admins, r.admins_phone_only,
                  r.guests, r.out_of_scope, r.out_of_scope_rule, r.people_early, r.blocked_early,
                  r.people_late, r.blocked_late, r.admins_blocked_early, r.admins_blocked_late,
                  r.external_blocked, r.external_members, r.external_guests
           FROM daily_runs d
           LEFT JOIN run_rollups r ON r.run_id = d.id AND r.dimension = $1
                                  -- Not IS NOT DISTINCT FROM: the planner reads this form as
                                  -- an index lookup and estimates it well (a mis-estimate made
                                  -- the join compare every day with every day).
                                  AND (r.name = $2 OR ($2::text IS NULL AND r.name IS NULL))
           WHERE $3::date IS NULL OR d.day >= $3
           ORDER BY d.day"#,
        dimension.as_str(),
        name,
        since
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().filter_map(DayRow::into_day).collect())
}

/// Every group of a dimension, day by day from `since` on, ordered by day. A group appears on
/// the days it had users.
pub async fn dimension_trend(
    db: impl PgExecutor<'_>,
    dimension: Dimension,
    since: NaiveDate,
) -> sqlx::Result<Vec<DayCounts>> {
    let rows = sqlx::query_as!(
        DayRow,
        r#"SELECT d.day, d.id AS run_id, r.name,
                  r.users, r.phone_only, r.phone_default, r.phone_backup, r.phone_free, r.no_mfa,
                  r.voice_capable, r.voice_default, r.phishing_resistant, r.admins, r.admins_phone_only,
                  r.guests, r.out_of_scope, r.out_of_scope_rule, r.people_early, r.blocked_early,
                  r.people_late, r.blocked_late, r.admins_blocked_early, r.admins_blocked_late,
                  r.external_blocked, r.external_members, r.external_guests
           FROM daily_runs d
           JOIN run_rollups r ON r.run_id = d.id AND r.dimension = $1
           WHERE d.day >= $2
           ORDER BY d.day, r.name"#,
        dimension.as_str(),
        since
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().filter_map(DayRow::into_day).collect())
}

/// Which users a list shows. `None` means "any"; for the group filters `Some("")` means "no
/// department" (and so on): stored names are never empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct UserFilter {
    /// States to show; never empty.
    pub states: Vec<State>,
    pub department: Option<String>,
    pub company: Option<String>,
    pub office: Option<String>,
    pub country: Option<String>,
    pub admin: Option<bool>,
    /// Members (in scope) or guests; `None` for both.
    pub user_type: Option<UserType>,
    pub voice_capable: Option<bool>,
    /// A case-insensitive substring of the display name or UPN.
    pub text: Option<String>,
    /// Blocked on their date (a phone and no stronger method available).
    pub blocked: Option<bool>,
    /// The late date's people (active Global Administrators and external users), or the rest.
    pub late: Option<bool>,
    /// External (B2B) users, members and guests.
    pub external: Option<bool>,
    /// By the reason the helpdesk recorded.
    pub reason: Option<ReasonFilter>,
    /// Only people whose reason's follow-up date is this day or earlier (due).
    pub follow_up_by: Option<NaiveDate>,
    /// By their use of SMS or voice for MFA in the last 30 days.
    pub phone_used: Option<PhoneUsed>,
}

/// Which recorded reasons a list shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReasonFilter {
    /// Any reason recorded.
    Any,
    /// No reason recorded.
    None,
    /// One of these reasons (never empty).
    OneOf(Vec<PhoneReason>),
}

impl UserFilter {
    /// The filter on one grouping's attribute (the tenant has none: department stands in).
    pub fn group_mut(&mut self, by: Dimension) -> &mut Option<String> {
        match by {
            Dimension::Company => &mut self.company,
            Dimension::Office => &mut self.office,
            Dimension::Country => &mut self.country,
            Dimension::Tenant | Dimension::Department => &mut self.department,
        }
    }

    /// The reason filter as the queries take it: `Some(true)` for people without a reason,
    /// and the reasons asked for.
    fn reason_params(&self) -> (Option<bool>, Option<Vec<PhoneReason>>) {
        match &self.reason {
            None => (None, None),
            // As a list of every reason: a condition on the reason itself lets PostgreSQL
            // start from the few people who have one rather than walk everyone.
            Some(ReasonFilter::Any) => (None, Some(PhoneReason::ALL.to_vec())),
            Some(ReasonFilter::None) => (Some(true), None),
            Some(ReasonFilter::OneOf(r)) => (None, Some(r.clone())),
        }
    }

    /// Whether the filter asks about recorded reasons (which change between syncs).
    pub fn on_reasons(&self) -> bool {
        self.reason.is_some() || self.follow_up_by.is_some()
    }

    /// `text` as an ILIKE pattern, its wildcards escaped.
    fn pattern(&self) -> Option<String> {
        self.text
            .as_ref()
            .map(|t| format!("%{}%", super::like_literal(t)))
    }
}

/// Which phone use a list shows, as the sign-in log tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhoneUsed {
    /// Used SMS or voice for MFA in the last 30 days.
    Last30Days,
    /// Did not, in the last 30 days. Nobody is known not to before any sign-in was read.
    NoneIn30Days,
}

impl UserFilter {
    /// The phone use filter as the queries take it: `Some(true)` for each side asked for.
    fn phone_params(&self) -> (Option<bool>, Option<bool>) {
        match self.phone_used {
            None => (None, None),
            Some(PhoneUsed::Last30Days) => (Some(true), None),
            Some(PhoneUsed::NoneIn30Days) => (None, Some(true)),
        }
    }
}

/// The order of the list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListOrder {
    /// Phone-only first, admins first within each priority, then by name (the worklist).
    #[default]
    Priority,
    /// Most phone sign-ins in the last 30 days first, then by name.
    Use,
}

/// Where a page of the list starts: just after this row in list order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ListKey {
    pub rank: i32,
    pub not_admin: bool,
    pub display_name: String,
    pub user_id: Uuid,
    /// Phone sign-ins in the last 30 days: only in the cursors of [`ListOrder::Use`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<i32>,
}

/// One user in the list.
#[derive(Debug, Clone)]
pub struct ListedUser {
    pub user_id: Uuid,
    pub upn: String,
    pub display_name: String,
    pub department: Option<String>,
    pub company: Option<String>,
    pub office: Option<String>,
    pub country: Option<String>,
    pub job_title: Option<String>,
    pub user_type: UserType,
    pub state: State,
    pub methods: Vec<String>,
    pub default_method: DefaultMethod,
    pub is_admin: bool,
    pub voice_capable: bool,
    pub phishing_resistant: bool,
    pub external: bool,
    /// `None` when the roles were not read.
    pub global_admin: Option<bool>,
    pub blocked: bool,
    /// 1 phone-only … 5 no-MFA: the list's first sort key.
    pub rank: i32,
    /// Their current reason for staying on the phone, if the helpdesk recorded one.
    pub reason: Option<PhoneReason>,
    pub reason_note: Option<String>,
    pub follow_up: Option<NaiveDate>,
    pub reason_by: Option<String>,
    pub reason_at: Option<DateTime<Utc>>,
    /// The last day they used SMS or voice for MFA (`None`: never, or nothing read yet).
    pub last_phone_mfa: Option<NaiveDate>,
    /// How often in the last 30 days (0: not at all, or nothing read yet).
    pub phone_mfa_30d: i32,
    /// Whether any sign-in was ever read (else the two above say nothing).
    pub sign_ins_read: bool,
    /// Whether the reads cover 30 days (else "no use in 30 days" is not known yet).
    pub sign_ins_month: bool,
}

impl ListedUser {
    /// The row's place in `order`.
    pub fn key(&self, order: ListOrder) -> ListKey {
        ListKey {
            rank: self.rank,
            not_admin: !self.is_admin,
            display_name: self.display_name.clone(),
            user_id: self.user_id,
            uses: (order == ListOrder::Use).then_some(self.phone_mfa_30d),
        }
    }

    /// Their phone use as the sign-in log tells it; `None` before any sign-in was read.
    pub fn phone_use(&self) -> Option<PhoneUse> {
        self.sign_ins_read.then_some(PhoneUse {
            last: self.last_phone_mfa,
            last_30_days: self.phone_mfa_30d,
            whole_month: self.sign_ins_month,
        })
    }
}

// The list: current users in scope, and guests (who are never in scope but are shown apart),
// each with their current reason and their phone use. `$keyset` and `$order` are the order's
// SQL, and the keys after `$limit` its cursor's ($19 on). In the priority order the ORDER BY
// expressions match the `user_versions_worklist` index, which keyset paging walks; the use
// order sorts what matches, asked for on purpose (about 70 ms a page at 100,000 users, two
// cores); its cursor negates the count, as the order does, so that one row comparison holds
// both directions. `LIMIT NULL` is no limit. Both joins are on the joined table's key: a page
// of the priority order costs one index lookup in each per row.
macro_rules! list_query {
    ($keyset:literal, $order:literal, $f:expr, $limit:expr $(, $key:expr)*) => {{
        let (no_reason, reasons) = $f.reason_params();
        let (phone_used, phone_unused) = $f.phone_params();
        sqlx::query_as!(
            ListedUser,
            r#"SELECT v.user_id, v.upn, v.display_name, v.department, v.company, v.office,
                      v.country, v.job_title, v.user_type AS "user_type: UserType",
                      v.state AS "state: State", v.methods,
                      v.default_method AS "default_method: DefaultMethod", v.is_admin,
                      v.voice_capable, v.phishing_resistant, v.external, v.global_admin,
                      v.blocked, phoneless_rank(v.state) AS "rank!",
                      r.reason AS "reason?: PhoneReason", r.note AS "reason_note?",
                      r.follow_up AS "follow_up?", r.set_by AS "reason_by?",
                      r.set_at AS "reason_at?",
                      u.last_phone_mfa AS "last_phone_mfa?",
                      COALESCE(u.phone_mfa_30d, 0) AS "phone_mfa_30d!",
                      EXISTS (SELECT 1 FROM sign_in_cursor) AS "sign_ins_read!",
                      COALESCE((SELECT read_until >= read_from + interval '30 days'
                                FROM sign_in_cursor), false) AS "sign_ins_month!"
               FROM user_versions v
               LEFT JOIN phone_reasons r ON r.user_id = v.user_id AND r.cleared_at IS NULL
               LEFT JOIN phone_usage u ON u.user_id = v.user_id
               WHERE v.ended_run IS NULL AND (v.in_scope OR v.user_type = 'guest')
                 AND v.state = ANY($1::text[])
                 AND ($2::text IS NULL OR v.department IS NOT DISTINCT FROM NULLIF($2, ''))
                 AND ($3::text IS NULL OR v.company IS NOT DISTINCT FROM NULLIF($3, ''))
                 AND ($4::text IS NULL OR v.office IS NOT DISTINCT FROM NULLIF($4, ''))
                 AND ($5::text IS NULL OR v.country IS NOT DISTINCT FROM NULLIF($5, ''))
                 AND ($6::bool IS NULL OR v.is_admin = $6)
                 AND ($7::text IS NULL OR v.user_type = $7)
                 AND ($8::bool IS NULL OR v.voice_capable = $8)
                 AND ($9::text IS NULL OR v.display_name ILIKE $9 OR v.upn ILIKE $9)
                 AND ($11::bool IS NULL OR v.blocked = $11)
                 AND ($12::bool IS NULL OR (v.external OR v.global_admin IS TRUE) = $12)
                 AND ($13::bool IS NULL OR v.external = $13)
                 -- `r.user_id IS NULL`, a column of the join's condition: read as an anti-join.
                 AND ($14::bool IS NULL OR r.user_id IS NULL)
                 AND ($15::text[] IS NULL OR r.reason = ANY($15))
                 AND ($16::date IS NULL OR r.follow_up <= $16)
                 -- A condition on `u` itself: the join becomes an inner one, which can start
                 -- from the people who used a phone. Before any sign-in was read, nobody is
                 -- known either way.
                 AND ($17::bool IS NULL OR (u.phone_mfa_30d > 0
                                            AND EXISTS (SELECT 1 FROM sign_in_cursor)))
                 AND ($18::bool IS NULL OR (COALESCE(u.phone_mfa_30d, 0) = 0
                                            AND EXISTS (SELECT 1 FROM sign_in_cursor)))
                 "# + $keyset + " " + $order + " LIMIT $10",
            &$f.states as &[State],
            $f.department.as_deref(),
            $f.company.as_deref(),
            $f.office.as_deref(),
            $f.country.as_deref(),
            $f.admin,
            $f.user_type.map(UserType::as_str),
            $f.voice_capable,
            $f.pattern(),
            $limit,
            $f.blocked,
            $f.late,
            $f.external,
            no_reason,
            reasons.as_deref() as Option<&[PhoneReason]>,
            $f.follow_up_by,
            phone_used,
            phone_unused,
            $($key),*
        )
    }};
}

// The orders' SQL, for `list_query!` (literals, so that the query is still checked).
macro_rules! by_priority {
    ($f:expr, $after:expr, $limit:expr) => {
        list_query!(
            "AND ($19::int IS NULL OR
                  (phoneless_rank(v.state), NOT v.is_admin, v.display_name, v.user_id)
                   > ($19, $20, $21, $22))",
            "ORDER BY phoneless_rank(v.state), NOT v.is_admin, v.display_name, v.user_id",
            $f,
            $limit,
            $after.map(|k: &ListKey| k.rank),
            $after.map(|k: &ListKey| k.not_admin),
            $after.map(|k: &ListKey| k.display_name.as_str()),
            $after.map(|k: &ListKey| k.user_id)
        )
    };
}

macro_rules! by_use {
    ($f:expr, $after:expr, $limit:expr) => {
        list_query!(
            "AND ($19::int IS NULL OR
                  (-COALESCE(u.phone_mfa_30d, 0), v.display_name, v.user_id) > (-$19, $20, $21))",
            "ORDER BY -COALESCE(u.phone_mfa_30d, 0), v.display_name, v.user_id",
            $f,
            $limit,
            $after.and_then(|k: &ListKey| k.uses),
            $after.map(|k: &ListKey| k.display_name.as_str()),
            $after.map(|k: &ListKey| k.user_id)
        )
    };
}

/// Up to `limit` users matching `f` in `order`, after `after` (a key of that order).
pub async fn list_users(
    db: impl PgExecutor<'_>,
    f: &UserFilter,
    order: ListOrder,
    after: Option<&ListKey>,
    limit: i64,
) -> sqlx::Result<Vec<ListedUser>> {
    match order {
        ListOrder::Priority => by_priority!(f, after, Some(limit)).fetch_all(db).await,
        ListOrder::Use => by_use!(f, after, Some(limit)).fetch_all(db).await,
    }
}

/// Every user matching `f` in `order`, streamed (for exports).
pub fn stream_users<'e>(
    db: impl PgExecutor<'e> + 'e,
    f: &'e UserFilter,
    order: ListOrder,
) -> impl Stream<Item = sqlx::Result<ListedUser>> + 'e {
    match order {
        ListOrder::Priority => by_priority!(f, None::<&ListKey>, None::<i64>)
            .fetch(db)
            .left_stream(),
        ListOrder::Use => by_use!(f, None::<&ListKey>, None::<i64>)
            .fetch(db)
            .right_stream(),
    }
}

/// When the sign-in log was last read up to; `None` before any read. Answers about phone use
/// are kept until it moves: the reading rebuilds `phone_usage` as it moves the cursor.
pub async fn sign_ins_read_until(db: impl PgExecutor<'_>) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar!("SELECT read_until FROM sign_in_cursor")
        .fetch_optional(db)
        .await
}

/// The in-scope members of each group of `dimension` (`None`: no department and the like) in
/// the newest sync who used SMS or voice for MFA in the last 30 days. Groups where nobody did
/// are absent. One pass over the people who did, each joined with their current version.
pub async fn phone_use_by_group(
    db: impl PgExecutor<'_>,
    dimension: Dimension,
) -> sqlx::Result<Vec<(Option<String>, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT CASE $1 WHEN 'company' THEN v.company WHEN 'office' THEN v.office
                          WHEN 'country' THEN v.country ELSE v.department END AS name,
                  count(*) AS "n!"
           FROM phone_usage u
           JOIN user_versions v ON v.user_id = u.user_id AND v.ended_run IS NULL
           WHERE u.phone_mfa_30d > 0 AND v.in_scope
           GROUP BY 1"#,
        dimension.as_str()
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.name, r.n)).collect())
}

/// How many users match `f` in each state, whatever `f.states` says (for the state switches),
/// and the newest succeeded run they were counted at (one snapshot; `None` before any run).
/// Without a phone use filter the join with `phone_usage` is dropped by the planner (nothing
/// reads it, and it is on its key): the count stays an index-only scan.
pub async fn count_users_by_state(
    db: impl PgExecutor<'_>,
    f: &UserFilter,
) -> sqlx::Result<(Option<i64>, Vec<(State, i64)>)> {
    let (phone_used, phone_unused) = f.phone_params();
    let rows = sqlx::query!(
        r#"SELECT (SELECT max(id) FROM sync_runs WHERE status = 'succeeded') AS run_id,
                  v.state AS "state: State", count(*) AS "n!"
           FROM user_versions v
           LEFT JOIN phone_usage u ON u.user_id = v.user_id
           WHERE v.ended_run IS NULL AND (v.in_scope OR v.user_type = 'guest')
             AND ($1::text IS NULL OR v.department IS NOT DISTINCT FROM NULLIF($1, ''))
             AND ($2::text IS NULL OR v.company IS NOT DISTINCT FROM NULLIF($2, ''))
             AND ($3::text IS NULL OR v.office IS NOT DISTINCT FROM NULLIF($3, ''))
             AND ($4::text IS NULL OR v.country IS NOT DISTINCT FROM NULLIF($4, ''))
             AND ($5::bool IS NULL OR v.is_admin = $5)
             AND ($6::text IS NULL OR v.user_type = $6)
             AND ($7::bool IS NULL OR v.voice_capable = $7)
             AND ($8::text IS NULL OR v.display_name ILIKE $8 OR v.upn ILIKE $8)
             AND ($9::bool IS NULL OR v.blocked = $9)
             AND ($10::bool IS NULL OR (v.external OR v.global_admin IS TRUE) = $10)
             AND ($11::bool IS NULL OR v.external = $11)
             AND ($12::bool IS NULL OR (u.phone_mfa_30d > 0
                                        AND EXISTS (SELECT 1 FROM sign_in_cursor)))
             AND ($13::bool IS NULL OR (COALESCE(u.phone_mfa_30d, 0) = 0
                                        AND EXISTS (SELECT 1 FROM sign_in_cursor)))
           GROUP BY v.state"#,
        f.department.as_deref(),
        f.company.as_deref(),
        f.office.as_deref(),
        f.country.as_deref(),
        f.admin,
        f.user_type.map(UserType::as_str),
        f.voice_capable,
        f.pattern(),
        f.blocked,
        f.late,
        f.external,
        phone_used,
        phone_unused,
    )
    .fetch_all(db)
    .await?;
    let run = rows.first().and_then(|r| r.run_id);
    Ok((run, rows.into_iter().map(|r| (r.state, r.n)).collect()))
}

/// [`count_users_by_state`] for a filter on recorded reasons (a reason, any, a follow-up due),
/// starting from the people with a reason. Nobody counted here is without a reason, so
/// [`ReasonFilter::None`] counts none (with a follow-up due, that is the answer; alone, it is
/// everyone less those with a reason).
pub async fn count_users_with_reason_by_state(
    db: impl PgExecutor<'_>,
    f: &UserFilter,
) -> sqlx::Result<Vec<(State, i64)>> {
    let (no_reason, reasons) = f.reason_params();
    let (phone_used, phone_unused) = f.phone_params();
    let rows = sqlx::query!(
        r#"SELECT v.state AS "state: State", count(*) AS "n!"
           FROM phone_reasons r
           JOIN user_versions v ON v.user_id = r.user_id AND v.ended_run IS NULL
           LEFT JOIN phone_usage u ON u.user_id = v.user_id
           WHERE r.cleared_at IS NULL AND $12::bool IS NULL
             AND (v.in_scope OR v.user_type = 'guest')
             AND ($1::text IS NULL OR v.department IS NOT DISTINCT FROM NULLIF($1, ''))
             AND ($2::text IS NULL OR v.company IS NOT DISTINCT FROM NULLIF($2, ''))
             AND ($3::text IS NULL OR v.office IS NOT DISTINCT FROM NULLIF($3, ''))
             AND ($4::text IS NULL OR v.country IS NOT DISTINCT FROM NULLIF($4, ''))
             AND ($5::bool IS NULL OR v.is_admin = $5)
             AND ($6::text IS NULL OR v.user_type = $6)
             AND ($7::bool IS NULL OR v.voice_capable = $7)
             AND ($8::text IS NULL OR v.display_name ILIKE $8 OR v.upn ILIKE $8)
             AND ($9::bool IS NULL OR v.blocked = $9)
             AND ($10::bool IS NULL OR (v.external OR v.global_admin IS TRUE) = $10)
             AND ($11::bool IS NULL OR v.external = $11)
             AND ($13::text[] IS NULL OR r.reason = ANY($13))
             AND ($14::date IS NULL OR r.follow_up <= $14)
             AND ($15::bool IS NULL OR (u.phone_mfa_30d > 0
                                        AND EXISTS (SELECT 1 FROM sign_in_cursor)))
             AND ($16::bool IS NULL OR (COALESCE(u.phone_mfa_30d, 0) = 0
                                        AND EXISTS (SELECT 1 FROM sign_in_cursor)))
           GROUP BY v.state"#,
        f.department.as_deref(),
        f.company.as_deref(),
        f.office.as_deref(),
        f.country.as_deref(),
        f.admin,
        f.user_type.map(UserType::as_str),
        f.voice_capable,
        f.pattern(),
        f.blocked,
        f.late,
        f.external,
        no_reason,
        reasons.as_deref() as Option<&[PhoneReason]>,
        f.follow_up_by,
        phone_used,
        phone_unused,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.state, r.n)).collect())
}

/// The in-scope members per state of one group (`tenant` with no name for everyone) in the
/// newest succeeded run, from its rollup: the user list's counts without scanning users.
/// `None` before the first run; zeros when the group has no row in that run.
pub async fn group_counts(
    db: impl PgExecutor<'_>,
    dimension: Dimension,
    name: Option<&str>,
) -> sqlx::Result<Option<(i64, Counts)>> {
    let row = sqlx::query_as!(
        DayRow,
        r#"SELECT NULL::date AS day, s.id AS run_id, NULL::text AS name,
                  r.users, r.phone_only, r.phone_default, r.phone_backup, r.phone_free, r.no_mfa,
                  r.voice_capable, r.voice_default, r.phishing_resistant, r.admins, r.admins_phone_only,
                  r.guests, r.out_of_scope, r.out_of_scope_rule, r.people_early, r.blocked_early,
                  r.people_late, r.blocked_late, r.admins_blocked_early, r.admins_blocked_late,
                  r.external_blocked, r.external_members, r.external_guests
           FROM (SELECT max(id) AS id FROM sync_runs WHERE status = 'succeeded') s
           LEFT JOIN run_rollups r ON r.run_id = s.id AND r.dimension = $1
                                  AND (r.name = $2 OR ($2::text IS NULL AND r.name IS NULL))"#,
        dimension.as_str(),
        name
    )
    .fetch_one(db)
    .await?;
    Ok(row.run_id.map(|id| (id, row.counts())))
}

/// The tenant-wide counts of a run.
pub async fn tenant_counts(db: impl PgExecutor<'_>, run_id: i64) -> sqlx::Result<Option<Counts>> {
    let row = sqlx::query_as!(
        DayRow,
        r#"SELECT NULL::date AS day, r.run_id AS "run_id?", NULL::text AS name,
                  r.users, r.phone_only, r.phone_default, r.phone_backup, r.phone_free, r.no_mfa,
                  r.voice_capable, r.voice_default, r.phishing_resistant, r.admins, r.admins_phone_only,
                  r.guests, r.out_of_scope, r.out_of_scope_rule, r.people_early, r.blocked_early,
                  r.people_late, r.blocked_late, r.admins_blocked_early, r.admins_blocked_late,
                  r.external_blocked, r.external_members, r.external_guests
           FROM run_rollups r WHERE r.run_id = $1 AND r.dimension = 'tenant'"#,
        run_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| r.counts()))
}

/// The newest succeeded run's id: what readers see.
pub async fn latest_run_id(db: impl PgExecutor<'_>) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!("SELECT max(id) FROM sync_runs WHERE status = 'succeeded'")
        .fetch_one(db)
        .await
}

/// The names of a dimension's groups in the newest succeeded run (for filter menus), with
/// `None` for "(no department)" and the like.
pub async fn group_names(
    db: impl PgExecutor<'_>,
    dimension: Dimension,
) -> sqlx::Result<Vec<Option<String>>> {
    sqlx::query_scalar!(
        "SELECT name FROM run_rollups
         WHERE dimension = $1
           AND run_id = (SELECT max(id) FROM sync_runs WHERE status = 'succeeded')
         ORDER BY name NULLS LAST",
        dimension.as_str()
    )
    .fetch_all(db)
    .await
}

#[cfg(test)]
mod tests {
    use super::UserFilter;

    #[test]
    fn search_text_is_matched_literally() {
        let f = UserFilter {
            text: Some(r"50%_a\b".into()),
            ..UserFilter::default()
        };
        assert_eq!(f.pattern().as_deref(), Some(r"%50\%\_a\\b%"));
        assert_eq!(UserFilter::default().pattern(), None);
    }
}
