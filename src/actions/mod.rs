//! Guarded writes to the tenant (docs/design.md §6a): a Temporary Access Pass ([`tap`]) and a
//! time-boxed place in an exclusion group ([`allowlist`]).
//!
//! Each action is switched on by `PHONELESS_ACTIONS`, allowed by role, checked against its
//! guards before any Graph call, re-checked live where the stored report may be stale, paced
//! by the Graph client, and recorded in the access log with who, whom, why and the outcome —
//! refusals included. Nothing here knows about HTTP: the web layer maps a [`Refused`] to its
//! status.

pub mod allowlist;
pub mod tap;

use crate::auth::Role;
use crate::db::lookup::{self as log_db, Accessor, ActionRecord};
use crate::graph::GraphError;
use sqlx::PgPool;
use uuid::Uuid;

/// Who is acting: as the access log names them, and their role.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub who: Accessor<'a>,
    pub role: Role,
}

/// A second look the agent must confirm before the action goes ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// The person is an administrator.
    Admin,
    /// The person has a usable pass, which a new one replaces.
    Replace,
}

impl Confirm {
    /// The JSON and form name of the confirmation (`confirm_admin`, `confirm_replace`).
    pub fn field(self) -> &'static str {
        match self {
            Confirm::Admin => "confirm_admin",
            Confirm::Replace => "confirm_replace",
        }
    }
}

/// Why an action did not happen, in words for the agent.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The request itself is wrong (no reason, a lifetime outside the policy).
    #[error("{0}")]
    Invalid(String),
    /// Their role may not do this to this person.
    #[error("{0}")]
    Role(String),
    /// A guard said no.
    #[error("{0}")]
    Guard(String),
    /// Allowed after a confirmation.
    #[error("{message}")]
    Confirm { confirm: Confirm, message: String },
    /// The agent's limit is reached.
    #[error("{0}")]
    Limit(String),
    #[error("{0}")]
    NotFound(String),
    /// Graph refused or failed (a missing permission names the permission).
    #[error("{0}")]
    Graph(#[from] GraphError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl Refused {
    /// The access log's outcome for this refusal.
    fn outcome(&self) -> String {
        match self {
            Refused::Confirm { .. } => format!("waiting for confirmation: {self}"),
            Refused::Graph(_) => format!("failed: {self}"),
            _ => format!("refused: {self}"),
        }
    }
}

/// What an action records in the access log, whatever its outcome.
pub struct Attempt<'a> {
    pub action: &'a str,
    pub subject: Option<Uuid>,
    pub detail: String,
    pub reason: &'a str,
}

impl Attempt<'_> {
    /// Records the attempt's outcome and hands the result back: every action and every
    /// refusal is in the access log (a database failure is not an outcome to record).
    pub async fn record<T>(
        &self,
        pool: &PgPool,
        actor: &Actor<'_>,
        result: Result<T, Refused>,
    ) -> Result<T, Refused> {
        let outcome = match &result {
            Ok(_) => "done".to_owned(),
            Err(Refused::Database(_)) => return result,
            Err(e) => e.outcome(),
        };
        log_db::record_action(
            pool,
            actor.who,
            ActionRecord {
                action: self.action,
                subject: self.subject,
                detail: &self.detail,
                reason: self.reason,
                outcome: &outcome,
            },
        )
        .await?;
        result
    }
}

/// A reason is required, and kept short enough to read in a log.
pub const MAX_REASON_CHARS: usize = 500;

/// The agent's reason, trimmed, or why it is not acceptable.
pub fn reason(text: &str) -> Result<&str, Refused> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Refused::Invalid(
            "Give a reason: it is recorded with the action, for whoever reviews it later.".into(),
        ));
    }
    if text.chars().count() > MAX_REASON_CHARS || text.chars().any(char::is_control) {
        return Err(Refused::Invalid(format!(
            "The reason must be at most {MAX_REASON_CHARS} characters, on one line."
        )));
    }
    Ok(text)
}
