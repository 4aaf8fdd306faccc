//! Alerts: raised by the sync (in its transaction, at most one per event), delivered to the
//! configured webhooks by a worker that never holds the sync up. A failed delivery is retried
//! with growing delays; deliveries are claimed with a lease, so several replicas can run the
//! worker and a restart between the sync and the delivery loses nothing.

pub mod webhook;

use crate::db::alerts::{self as db, Alert, Target};
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use sqlx::PgPool;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use webhook::{AlertMessage, Webhook};

/// How deliveries are paced and retried.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Delay after the first failed attempt; doubles with each further one.
    pub backoff_base: Duration,
    /// Longest delay between two attempts.
    pub backoff_cap: Duration,
    /// Attempts before a delivery is given up (then shown as failed on `/alerts`).
    pub max_attempts: i32,
    /// How often the worker looks for due deliveries.
    pub poll: Duration,
    /// How long one webhook request may take, connection included (the client's timeout, the
    /// only one): a receiver that hangs must not hold up the alerts behind it.
    pub timeout: Duration,
    /// A claimed delivery is not taken by another worker for this long (covers a crash
    /// mid-request: it is retried after the lease).
    pub lease: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            backoff_base: Duration::from_secs(30),
            backoff_cap: Duration::from_secs(60 * 60),
            // 30 s doubling to the 1 h cap: about a day of tries.
            max_attempts: 30,
            poll: Duration::from_secs(10),
            timeout: Duration::from_secs(15),
            lease: Duration::from_secs(120),
        }
    }
}

/// The delay before attempt `attempts + 1`, after `attempts` failed ones.
pub fn backoff(settings: &DeliverySettings, attempts: i32) -> Duration {
    let doublings = attempts.clamp(1, 20) as u32 - 1;
    settings
        .backoff_base
        .saturating_mul(1u32 << doublings)
        .min(settings.backoff_cap)
}

/// What one pass delivered.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub delivered: u32,
    pub failed: u32,
    pub given_up: u32,
}

/// Delivers alerts to the configured webhooks.
#[derive(Clone)]
pub struct Deliverer {
    pool: PgPool,
    http: reqwest::Client,
    hooks: Vec<Webhook>,
    /// `/alerts` on the public URL, linked from each message.
    link: Option<String>,
    settings: DeliverySettings,
}

impl Deliverer {
    pub fn new(
        pool: PgPool,
        hooks: Vec<Webhook>,
        public_url: Option<&str>,
        settings: DeliverySettings,
    ) -> anyhow::Result<Deliverer> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("phoneless/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Deliverer {
            pool,
            http,
            hooks,
            link: public_url.map(|u| format!("{}/alerts", u.trim_end_matches('/'))),
            settings,
        })
    }

    /// The targets new alerts are delivered to.
    pub fn targets(hooks: &[Webhook]) -> Vec<Target> {
        hooks
            .iter()
            .map(|h| Target {
                key: h.key(),
                label: h.label(),
            })
            .collect()
    }

    /// Sends every delivery due now (in batches), and records each outcome.
    pub async fn deliver_due(&self, now: DateTime<Utc>) -> sqlx::Result<Pass> {
        // Each webhook's key, computed once per pass (a hash of its URL).
        let keyed: Vec<(String, &Webhook)> = self.hooks.iter().map(|h| (h.key(), h)).collect();
        let keys: Vec<String> = keyed.iter().map(|(k, _)| k.clone()).collect();
        let mut pass = Pass::default();
        if keys.is_empty() {
            return Ok(pass);
        }
        loop {
            let lease = now + chrono::Duration::from_std(self.settings.lease).unwrap_or_default();
            let claimed = db::claim_due(&self.pool, &keys, now, lease, 20).await?;
            if claimed.is_empty() {
                return Ok(pass);
            }
            let keyed = &keyed;
            let sent = join_all(
                claimed
                    .into_iter()
                    .map(|(alert, key, attempts)| async move {
                        let result = match keyed.iter().find(|(k, _)| *k == key).map(|(_, h)| *h) {
                            Some(hook) => {
                                webhook::send(&self.http, hook, &self.message(&alert)).await
                            }
                            None => Err("the webhook is no longer configured".to_owned()),
                        };
                        (alert.id, key, attempts, result)
                    }),
            )
            .await;
            for (alert_id, key, attempts, result) in sent {
                match result {
                    Ok(()) => {
                        db::mark_delivered(&self.pool, alert_id, &key, Utc::now()).await?;
                        pass.delivered += 1;
                    }
                    Err(error) => {
                        let retry_at = (attempts < self.settings.max_attempts).then(|| {
                            Utc::now()
                                + chrono::Duration::from_std(backoff(&self.settings, attempts))
                                    .unwrap_or_default()
                        });
                        tracing::warn!(
                            alert_id,
                            attempts,
                            "alert delivery failed: {error}{}",
                            if retry_at.is_some() {
                                "; will retry"
                            } else {
                                "; giving up"
                            }
                        );
                        db::mark_failed(&self.pool, alert_id, &key, &error, retry_at).await?;
                        if retry_at.is_some() {
                            pass.failed += 1;
                        } else {
                            pass.given_up += 1;
                        }
                    }
                }
            }
        }
    }

    fn message(&self, a: &Alert) -> AlertMessage {
        AlertMessage {
            id: a.id,
            kind: a.kind.clone(),
            title: a.title.clone(),
            text: a.text.clone(),
            facts: a.facts(),
            created_at: a.created_at,
            link: self.link.clone(),
        }
    }

    /// Delivers until `cancel` fires, looking for due deliveries every `poll`.
    pub async fn run(self, cancel: CancellationToken) {
        tracing::info!(
            webhooks = self.hooks.len(),
            "alert delivery on: {}",
            self.hooks
                .iter()
                .map(Webhook::label)
                .collect::<Vec<_>>()
                .join(", ")
        );
        loop {
            if let Err(e) = self.deliver_due(Utc::now()).await {
                tracing::error!("alert delivery: the database failed: {e}");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.settings.poll) => {}
                _ = cancel.cancelled() => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = DeliverySettings::default();
        assert_eq!(backoff(&s, 1), Duration::from_secs(30));
        assert_eq!(backoff(&s, 2), Duration::from_secs(60));
        assert_eq!(backoff(&s, 4), Duration::from_secs(240));
        assert_eq!(backoff(&s, 12), Duration::from_secs(3600));
        assert_eq!(backoff(&s, 30), Duration::from_secs(3600));
    }
}
