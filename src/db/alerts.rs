//! SQL of alerts and their deliveries to webhooks.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};

/// A webhook an alert is to be delivered to: its stable key and a label without its secret URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub key: String,
    pub label: String,
}

/// An alert to record.
#[derive(Debug, Clone)]
pub struct NewAlert<'a> {
    /// One per event: recording the same key again does nothing.
    pub event_key: String,
    pub kind: &'a str,
    pub created_at: DateTime<Utc>,
    pub run_id: Option<i64>,
    pub title: String,
    pub text: String,
    pub facts: Vec<(String, String)>,
}

/// Records an alert and one pending delivery per target, unless its event was recorded
/// before. Returns its id when it is new.
pub async fn insert(
    conn: &mut PgConnection,
    alert: &NewAlert<'_>,
    targets: &[Target],
) -> sqlx::Result<Option<i64>> {
    let facts = Value::from(
        alert
            .facts
            .iter()
            .map(|(k, v)| Value::from(vec![k.as_str(), v.as_str()]))
            .collect::<Vec<_>>(),
    );
    let id = sqlx::query_scalar!(
        "INSERT INTO alerts (event_key, kind, created_at, run_id, title, text, facts)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (event_key) DO NOTHING RETURNING id",
        alert.event_key,
        alert.kind,
        alert.created_at,
        alert.run_id,
        alert.title,
        alert.text,
        facts
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = id {
        let id: i64 = id;
        let keys: Vec<String> = targets.iter().map(|t| t.key.clone()).collect();
        let labels: Vec<String> = targets.iter().map(|t| t.label.clone()).collect();
        // Due at once: deliveries are attempted in wall-clock time, whatever date the run has.
        sqlx::query!(
            "INSERT INTO alert_deliveries (alert_id, webhook_key, webhook_label, status, next_attempt_at)
             SELECT $1, k, l, 'pending', now() FROM unnest($2::text[], $3::text[]) AS t (k, l)",
            id,
            &keys,
            &labels
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

/// An alert with its deliveries, for pages and webhooks.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub id: i64,
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub run_id: Option<i64>,
    pub title: String,
    pub text: String,
    #[serde(skip)]
    pub facts_json: Value,
}

impl Alert {
    /// The facts as name/value pairs.
    pub fn facts(&self) -> Vec<(String, String)> {
        self.facts_json
            .as_array()
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| {
                        Some((
                            r.get(0)?.as_str()?.to_owned(),
                            r.get(1)?.as_str()?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The newest alerts first.
pub async fn recent(db: impl PgExecutor<'_>, limit: i64) -> sqlx::Result<Vec<Alert>> {
    sqlx::query_as!(
        Alert,
        "SELECT id, kind, created_at, run_id, title, text, facts AS facts_json
         FROM alerts ORDER BY created_at DESC, id DESC LIMIT $1",
        limit
    )
    .fetch_all(db)
    .await
}

/// One alert's delivery to one webhook.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub alert_id: i64,
    pub webhook_key: String,
    pub webhook_label: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The deliveries of these alerts.
pub async fn deliveries(db: impl PgExecutor<'_>, alert_ids: &[i64]) -> sqlx::Result<Vec<Delivery>> {
    sqlx::query_as!(
        Delivery,
        "SELECT alert_id, webhook_key, webhook_label, status, attempts, next_attempt_at, last_error,
                delivered_at
         FROM alert_deliveries WHERE alert_id = ANY($1) ORDER BY alert_id, webhook_label",
        alert_ids
    )
    .fetch_all(db)
    .await
}

/// Takes up to `limit` deliveries that are due, for these webhooks, and leases them until
/// `lease_until` so that another replica does not send them meanwhile. Each claim counts as
/// an attempt.
pub async fn claim_due(
    db: impl PgExecutor<'_>,
    keys: &[String],
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<(Alert, String, i32)>> {
    let rows = sqlx::query!(
        "WITH due AS (
             SELECT alert_id, webhook_key FROM alert_deliveries
             WHERE status = 'pending' AND next_attempt_at <= $2 AND webhook_key = ANY($1)
             ORDER BY next_attempt_at, alert_id LIMIT $4 FOR UPDATE SKIP LOCKED)
         UPDATE alert_deliveries d SET next_attempt_at = $3, attempts = d.attempts + 1
         FROM due, alerts a
         WHERE d.alert_id = due.alert_id AND d.webhook_key = due.webhook_key AND a.id = d.alert_id
         RETURNING a.id, a.kind, a.created_at, a.run_id, a.title, a.text, a.facts,
                   d.webhook_key, d.attempts",
        keys,
        now,
        lease_until,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                Alert {
                    id: r.id,
                    kind: r.kind,
                    created_at: r.created_at,
                    run_id: r.run_id,
                    title: r.title,
                    text: r.text,
                    facts_json: r.facts,
                },
                r.webhook_key,
                r.attempts,
            )
        })
        .collect())
}

pub async fn mark_delivered(
    db: impl PgExecutor<'_>,
    alert_id: i64,
    key: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE alert_deliveries SET status = 'delivered', delivered_at = $3, last_error = NULL
         WHERE alert_id = $1 AND webhook_key = $2",
        alert_id,
        key,
        at
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Records a failed attempt: retried at `retry_at`, or given up when `None`.
pub async fn mark_failed(
    db: impl PgExecutor<'_>,
    alert_id: i64,
    key: &str,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE alert_deliveries
         SET last_error = $3,
             status = CASE WHEN $4::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
             next_attempt_at = COALESCE($4, next_attempt_at)
         WHERE alert_id = $1 AND webhook_key = $2",
        alert_id,
        key,
        error,
        retry_at
    )
    .execute(db)
    .await?;
    Ok(())
}

/// How many of the newest finished runs failed in a row.
pub async fn failures_in_a_row(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "SELECT count(*) AS \"n!\" FROM sync_runs
         WHERE status = 'failed' AND id > COALESCE(
             (SELECT max(id) FROM sync_runs WHERE status = 'succeeded'), 0)"
    )
    .fetch_one(db)
    .await
}
