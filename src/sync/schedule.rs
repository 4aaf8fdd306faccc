//! The background syncer inside `phoneless serve`: a sync every interval, sooner after a
//! failure, skipped when another replica is syncing, stopped cleanly on shutdown.

use super::progress::Silent;
use super::{Outcome, SyncOptions, run};
use crate::db::operations as ops;
use crate::domain::RunStatus;
use crate::graph::Client;
use chrono::Utc;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// After a failed run, try again this soon (or after the interval, if that is shorter).
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(15 * 60);

/// Runs until `cancel` fires. The first sync starts at once unless a recent run makes it due
/// later, so restarting the service does not sync again needlessly.
pub async fn run_periodically(
    pool: PgPool,
    graph: Arc<Client>,
    interval: Duration,
    options: SyncOptions,
    cancel: CancellationToken,
) {
    loop {
        let wait = match ops::recent_runs(&pool, 20).await {
            Ok(runs) => match runs
                .iter()
                .find(|r| r.status != RunStatus::Skipped && r.status != RunStatus::Running)
            {
                Some(last) => {
                    let gap = if last.status == RunStatus::Failed {
                        interval.min(RETRY_AFTER_FAILURE)
                    } else {
                        interval
                    };
                    let due = last.started_at + chrono::Duration::from_std(gap).unwrap_or_default();
                    (due - Utc::now()).to_std().unwrap_or(Duration::ZERO)
                }
                None => Duration::ZERO,
            },
            Err(e) => {
                tracing::error!("syncer: could not read the last runs: {e}");
                RETRY_AFTER_FAILURE.min(interval)
            }
        };
        if !wait.is_zero() {
            tracing::info!(
                "syncer: next sync in {}",
                humantime::format_duration(Duration::from_secs(wait.as_secs()))
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = cancel.cancelled() => break,
        }
        match run(
            &pool,
            graph.clone(),
            Utc::now(),
            &options,
            Arc::new(Silent),
            &cancel,
        )
        .await
        {
            Ok(Outcome::Succeeded(r)) => tracing::info!("{}", super::summary(&r)),
            Ok(Outcome::Skipped { run_id, reason }) => {
                tracing::info!(run_id, "sync skipped: {reason}");
                // Let the other replica finish before looking again.
                tokio::select! {
                    _ = tokio::time::sleep(interval.min(RETRY_AFTER_FAILURE)) => {}
                    _ = cancel.cancelled() => break,
                }
            }
            Err(e) => tracing::error!(kind = e.kind(), "sync failed: {e}"),
        }
        if cancel.is_cancelled() {
            break;
        }
    }
    tracing::info!("syncer stopped");
}
