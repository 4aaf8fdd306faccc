//! PostgreSQL: connection pool, migrations, the private server for tests and the demo
//! ([`embedded`]), and every query the product runs ([`operations`]).

pub mod actions;
pub mod alerts;
pub mod dashboard;
pub mod embedded;
pub mod lookup;
pub mod operations;
pub mod posture;
pub mod reasons;
pub mod sessions;
pub mod usage;
pub mod words;

use anyhow::{Context, Result};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use std::str::FromStr;
use std::time::Duration;

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// Connections per process: the syncer holds one (its advisory lock) and writes on it; the rest
/// serve pages.
pub const POOL_SIZE: u32 = 16;

/// How long a query waits for a connection, connecting included. Pages answer in tens of
/// milliseconds, so a longer wait means the database is not there: while it refuses
/// connections, sqlx keeps retrying until this runs out, and the request's 503 comes no later.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// The pool every process uses (before it is given where to connect).
pub fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(ACQUIRE_TIMEOUT)
}

/// Where `url` points, with the session settings phoneless needs.
pub fn connect_options(url: &str) -> Result<PgConnectOptions> {
    Ok(PgConnectOptions::from_str(url)
        .with_context(|| format!("the database URL {} is not valid", redact_url(url)))?
        // The list queries have optional filters (`$1 IS NULL OR ...`); a generic plan cannot
        // drop the unused ones or walk the list's index, so plan each execution for its values.
        .options([("plan_cache_mode", "force_custom_plan")]))
}

/// Connects to `url` (never logged: it may hold a password).
pub async fn connect(url: &str) -> Result<PgPool> {
    pool_options()
        .connect_with(connect_options(url)?)
        .await
        .with_context(|| format!("could not connect to the database at {}", redact_url(url)))
}

/// Whether `e` means the database cannot be reached or is not taking work now (down,
/// restarting, shutting down, out of connections), rather than a fault in a query: a 503 to
/// try again, not a 500.
pub fn unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // Class 08: connection exceptions; 57P01–57P03: shut down by an administrator, after a
        // crash, or not accepting connections yet; 53300: too many connections.
        sqlx::Error::Database(d) => d.code().is_some_and(|c| {
            c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// Applies pending migrations.
pub async fn migrate(pool: &PgPool) -> Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .context("could not apply database migrations")
}

/// Creates database `name` unless it exists, connected as an administrator at `admin_url`.
pub async fn create_database(admin_url: &str, name: &str) -> Result<()> {
    let mut admin = PgConnection::connect(admin_url)
        .await
        .with_context(|| format!("could not connect to {}", redact_url(admin_url)))?;
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS "exists!""#,
        name
    )
    .fetch_one(&mut admin)
    .await?;
    if !exists {
        // Names cannot be bound as parameters; quote it as an identifier.
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        sqlx::query(&format!("CREATE DATABASE {quoted}"))
            .execute(&mut admin)
            .await
            .with_context(|| format!("could not create the database {name}"))?;
    }
    Ok(())
}

/// `text` with LIKE's wildcards (and its escape character) escaped, so it matches literally.
pub(crate) fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A database URL with its password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(unparseable URL)".into();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (Some(auth), host),
        None => (None, rest),
    };
    match auth {
        Some(a) => {
            let user = a.split(':').next().unwrap_or("");
            let masked = if a.contains(':') {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            format!("{scheme}://{masked}@{host}")
        }
        None => format!("{scheme}://{host}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wildcards_match_literally() {
        assert_eq!(super::like_literal(r"a%b_c\d"), r"a\%b\_c\\d");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(super::redact_url("postgres://db/x"), "postgres://db/x");
    }
}
