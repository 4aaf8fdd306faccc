//! The `phoneless` command line: `serve`, `sync`, `migrate`, `fake-graph`.

use crate::actions::allowlist::Remover;
use crate::alerts::webhook::{Webhook, parse_webhooks};
use crate::auth::SignInSettings;
use crate::config::{
    self, ActionArgs, ActionConfig, AlertArgs, AlertConfig, AuthMode, ConfigError, GraphArgs,
    GraphConfig, WebArgs, WebConfig,
};
use crate::domain::Action;
use crate::graph::{self, Client, GraphSettings};
use crate::sim::server::{
    DEFAULT_REPORT_PAGE_SIZE, FakeSettings, SIM_CLIENT_ID, SIM_CLIENT_SECRET, SIM_TENANT_ID,
};
use crate::sim::tenant::{DEFAULT_DAYS, DEFAULT_USERS};
use crate::sim::{FakeGraph, Faults, Tenant};
use crate::sync::posture::PostureOptions;
use crate::sync::progress::Console;
use crate::sync::{self, Outcome, SyncOptions};
use crate::web::{self, AppState, WebSettings};
use crate::{alerts, db, demo};
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use secrecy::ExposeSecret as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Track a Microsoft 365 / Entra ID tenant's move off phone-based MFA (SMS and voice calls).
///
/// Configuration comes from environment variables (shown in [brackets]); flags override them.
/// Secrets are never printed.
#[derive(Parser)]
#[command(name = "phoneless", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web front and API, with the background syncer unless --no-sync.
    Serve(Box<ServeArgs>),
    /// Sync once now, showing progress; exits non-zero if the sync fails.
    Sync(Box<SyncArgs>),
    /// Apply database migrations (serve and sync apply them too).
    Migrate(DbArgs),
    /// Serve a simulated tenant with months of history locally, with no set-up (sign-in off).
    Demo(DemoArgs),
    /// Serve a simulated tenant as a stand-alone fake Microsoft Graph, token endpoint and
    /// identity provider.
    FakeGraph(FakeGraphArgs),
}

#[derive(Args)]
struct DemoArgs {
    /// Use this PostgreSQL instead of a private one (the demo refuses a database that holds a
    /// real tenant's history).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Where the private PostgreSQL keeps the demo's data (reused by the next start).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to listen on (a loopback address: sign-in is off).
    #[arg(long, env = "PHONELESS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// The date Microsoft-provided SMS and voice end for most people.
    #[arg(long, env = "PHONELESS_DEADLINE", default_value = config::DEFAULT_DEADLINE)]
    deadline: String,
    /// The date they end for Global Administrators and external users.
    #[arg(long, env = "PHONELESS_DEADLINE_LATE", default_value = config::DEFAULT_DEADLINE_LATE)]
    deadline_late: String,
    /// Number of simulated people.
    #[arg(long, default_value_t = demo::DEFAULT_USERS)]
    users: usize,
    /// Days of daily history to make on first start.
    #[arg(long, default_value_t = demo::DEFAULT_DAYS)]
    days: u32,
    /// Seed of the simulated tenant (same seed, same tenant).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Args)]
struct DbArgs {
    /// PostgreSQL URL, e.g. postgres://phoneless@db.internal/phoneless.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

impl DbArgs {
    fn url(&self, problems: &mut Vec<String>) -> String {
        match self.database_url.as_deref().map(str::trim) {
            Some(u) if !u.is_empty() => u.to_owned(),
            _ => {
                problems.push("DATABASE_URL is not set: the PostgreSQL database phoneless keeps its history in".into());
                String::new()
            }
        }
    }
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    web: WebArgs,
    #[command(flatten)]
    graph: GraphArgs,
    #[command(flatten)]
    alerts: AlertArgs,
    #[command(flatten)]
    actions: ActionArgs,
    /// Do not run the background syncer in this process (another replica or a cron job syncs).
    #[arg(long)]
    no_sync: bool,
    /// Time between background syncs.
    #[arg(long, env = "PHONELESS_SYNC_INTERVAL", default_value = config::DEFAULT_SYNC_INTERVAL)]
    sync_interval: String,
}

#[derive(Args)]
struct SyncArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    graph: GraphArgs,
    #[command(flatten)]
    alerts: AlertArgs,
    /// Wait for a sync running elsewhere to finish instead of skipping.
    #[arg(long)]
    wait: bool,
}

#[derive(Args)]
struct FakeGraphArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: String,
    /// Number of simulated people.
    #[arg(long, default_value_t = DEFAULT_USERS)]
    users: usize,
    /// Seed of the simulated tenant (same seed, same tenant).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Length of the migration story in days; it ends today.
    #[arg(long, default_value_t = DEFAULT_DAYS)]
    days: u32,
    /// Day of the story to serve (default: the last, today). Change it later with POST /_sim/day.
    #[arg(long)]
    day: Option<u32>,
    /// Rows per registration-report page.
    #[arg(long, default_value_t = DEFAULT_REPORT_PAGE_SIZE)]
    report_page_size: usize,
    /// A PEM certificate whose key may sign client assertions (certificate credential).
    #[arg(long)]
    certificate: Option<PathBuf>,
    /// Lifetime of issued tokens, e.g. 1h or 30s.
    #[arg(long, default_value = "1h")]
    token_lifetime: String,
    /// Faults to start with, as JSON (see POST /_sim/faults), e.g. '{"throttle": 3}'.
    #[arg(long)]
    faults: Option<String>,
}

/// Runs the command line; the process exit code.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = matches!(cli.command, Command::Sync(_));
    init_logging(quiet);
    let result = match cli.command {
        Command::Serve(a) => serve(*a).await,
        Command::Sync(a) => sync_once(*a).await,
        Command::Migrate(a) => migrate(a).await,
        Command::Demo(a) => run_demo(a).await,
        Command::FakeGraph(a) => fake_graph(a).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if e.downcast_ref::<ConfigError>().is_some() {
                eprintln!("phoneless: {e}");
                return ExitCode::from(2);
            }
            eprintln!("phoneless: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to standard error; `PHONELESS_LOG` (e.g. `debug`, `phoneless=trace`) overrides the level.
fn init_logging(quiet: bool) {
    let default = if quiet {
        "warn"
    } else {
        "info,tower_http=warn,sqlx=warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PHONELESS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only on a terminal: a log file or journal would keep the escape codes.
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

fn check(problems: Vec<String>) -> Result<()> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError(problems).into())
    }
}

async fn open_database(url: &str) -> Result<sqlx::PgPool> {
    let pool = db::connect(url).await?;
    db::migrate(&pool).await?;
    Ok(pool)
}

/// The Graph client's settings for the app registration in `c`.
fn graph_settings(c: &GraphConfig) -> GraphSettings {
    GraphSettings {
        graph_url: c.graph_url.clone(),
        login_url: c.login_url.clone(),
        tenant_id: c.tenant_id.clone(),
        client_id: c.client_id.clone(),
        credential: c.credential.clone(),
        report_rate: c.report_rate,
        conditional_access_rate: graph::DEFAULT_CONDITIONAL_ACCESS_RATE,
        request_timeout: c.request_timeout,
        retry_budget: c.retry_budget,
        backoff_base: graph::DEFAULT_BACKOFF_BASE,
        users_page_size: graph::USERS_PAGE_SIZE,
    }
}

/// The sync's options from the configuration.
fn sync_options(c: &GraphConfig, posture: PostureOptions) -> SyncOptions {
    SyncOptions {
        posture,
        sign_ins: sync::usage::SignInOptions {
            days: c.signin_days,
            ..sync::usage::SignInOptions::default()
        },
        ..SyncOptions::default()
    }
}

/// The Graph client's settings for writes: the write registration when there is one, else
/// the syncer's.
pub fn write_settings(c: &GraphConfig, actions: &ActionConfig) -> GraphSettings {
    let mut settings = graph_settings(c);
    if let Some((client_id, credential)) = &actions.write_registration {
        settings.client_id = client_id.clone();
        settings.credential = credential.clone();
    }
    settings
}

/// The webhooks of `c` (a list the configuration cannot check: its format is the alerts'),
/// and what the sync needs of the allowlist settings.
fn alert_settings(c: &AlertConfig, problems: &mut Vec<String>) -> (Vec<Webhook>, PostureOptions) {
    let webhooks = parse_webhooks(c.webhooks.expose_secret()).unwrap_or_else(|e| {
        problems.push(format!("PHONELESS_WEBHOOKS: {e}"));
        Vec::new()
    });
    let posture = PostureOptions {
        exclusion_groups: c.exclusion_groups.clone(),
        out_of_scope: c.out_of_scope.clone(),
        alert_targets: alerts::Deliverer::targets(&webhooks),
    };
    (webhooks, posture)
}

/// The web front's settings: sign-in with the syncer's app registration (Entra sends people
/// back to `PHONELESS_PUBLIC_URL/auth/callback`), and where alerts go.
fn web_settings(
    web: WebConfig,
    graph: Option<&GraphConfig>,
    posture: &PostureOptions,
) -> WebSettings {
    let sign_in = graph
        .filter(|_| web.auth == AuthMode::Entra)
        .map(|g| SignInSettings {
            login_url: g.login_url.clone(),
            tenant_id: g.tenant_id.clone(),
            client_id: g.client_id.clone(),
            credential: g.credential.clone(),
            redirect_url: format!(
                "{}/auth/callback",
                web.public_url.as_deref().unwrap_or_default()
            ),
        });
    WebSettings {
        alert_targets: posture.alert_targets.clone(),
        out_of_scope: posture.out_of_scope.clone(),
        sign_in,
        ..WebSettings::new(web)
    }
}

async fn serve(a: ServeArgs) -> Result<ExitCode> {
    let mut problems = Vec::new();
    let url = a.db.url(&mut problems);
    let web_config = a.web.config(&mut problems);
    let actions = a.actions.config(&mut problems);
    // Sign-in uses the same app registration as the syncer, and so do writes unless they have
    // their own: they need the Graph settings even with --no-sync.
    let graph = if a.no_sync && a.web.auth == AuthMode::None && actions.enabled.is_empty() {
        None
    } else {
        a.graph.settings(&mut problems)
    };
    let interval = config::sync_interval(&a.sync_interval, &mut problems);
    let alert_config = a.alerts.config(&mut problems);
    let (webhooks, posture) = alert_settings(&alert_config, &mut problems);
    check(problems)?;
    let writer = match (&graph, actions.enabled.is_empty()) {
        (Some(g), false) => Some(Arc::new(Client::new(write_settings(g, &actions))?)),
        _ => None,
    };
    let web_config = WebSettings {
        actions,
        ..web_settings(
            web_config.context("web configuration")?,
            graph.as_ref(),
            &posture,
        )
    };
    let graph = graph.filter(|_| !a.no_sync);
    let pool = open_database(&url).await?;

    let cancel = CancellationToken::new();
    let syncer = match graph {
        Some(g) => {
            let client = Arc::new(Client::new(graph_settings(&g))?);
            tracing::info!(
                "background syncer on, every {}",
                humantime::format_duration(interval)
            );
            Some(tokio::spawn(sync::schedule::run_periodically(
                pool.clone(),
                client,
                interval,
                sync_options(&g, posture),
                cancel.clone(),
            )))
        }
        None => None,
    };
    // Any replica may deliver alerts (deliveries are claimed with a lease).
    let deliverer = if webhooks.is_empty() {
        None
    } else {
        let d = alerts::Deliverer::new(
            pool.clone(),
            webhooks,
            web_config.public_url.as_deref(),
            alerts::DeliverySettings::default(),
        )?;
        Some(tokio::spawn(d.run(cancel.clone())))
    };
    // Any replica may remove the allowlist entries whose end has come (claimed with a lease).
    let remover = match &writer {
        Some(w) if web_config.actions.on(Action::Allowlist) => {
            let r = Remover {
                pool: pool.clone(),
                graph: w.clone(),
                targets: web_config.alert_targets.clone(),
                owner: sync::runner_name(),
            };
            Some(tokio::spawn(r.run(cancel.clone())))
        }
        _ => None,
    };
    if !web_config.actions.enabled.is_empty() {
        tracing::info!(
            "write actions on: {}",
            web_config
                .actions
                .enabled
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let listener = tokio::net::TcpListener::bind(web_config.listen)
        .await
        .with_context(|| format!("could not listen on {}", web_config.listen))?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    let mut app_state = AppState::new(pool, web_config);
    if let Some(w) = writer {
        app_state = app_state.with_writer(w);
    }
    let router = web::app(app_state);
    let stop = cancel.clone();
    web::serve(listener, router, async move {
        web::shutdown_signal().await;
        stop.cancel();
    })
    .await?;
    cancel.cancel();
    if let Some(task) = remover {
        let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
    }
    if let Some(task) = deliverer {
        let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
    }
    if let Some(task) = syncer {
        // A sync in flight rolls back and records itself as interrupted.
        let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    }
    Ok(ExitCode::SUCCESS)
}

async fn sync_once(a: SyncArgs) -> Result<ExitCode> {
    let mut problems = Vec::new();
    let url = a.db.url(&mut problems);
    let graph = a.graph.settings(&mut problems);
    let alert_config = a.alerts.config(&mut problems);
    let (_, posture) = alert_settings(&alert_config, &mut problems);
    check(problems)?;
    let pool = open_database(&url).await?;
    let graph = graph.context("Graph configuration")?;
    let client = Arc::new(Client::new(graph_settings(&graph))?);
    let console = Arc::new(Console::new());
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        web::shutdown_signal().await;
        stop.cancel();
    });
    let options = SyncOptions {
        wait_for_lock: a.wait,
        ..sync_options(&graph, posture)
    };
    let outcome = sync::run(
        &pool,
        client,
        chrono::Utc::now(),
        &options,
        console.clone(),
        &cancel,
    )
    .await;
    console.finish();
    match outcome {
        Ok(Outcome::Succeeded(report)) => {
            println!("{}", sync::summary(&report));
            Ok(ExitCode::SUCCESS)
        }
        Ok(Outcome::Skipped { run_id, reason }) => {
            println!("Sync skipped (run {run_id}): {reason}. Use --wait to wait for it instead.");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("Sync failed: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn migrate(a: DbArgs) -> Result<ExitCode> {
    let mut problems = Vec::new();
    let url = a.url(&mut problems);
    check(problems)?;
    let pool = db::connect(&url).await?;
    db::migrate(&pool).await?;
    println!(
        "Database migrations are applied ({}).",
        db::redact_url(&url)
    );
    Ok(ExitCode::SUCCESS)
}

async fn run_demo(a: DemoArgs) -> Result<ExitCode> {
    let mut problems = Vec::new();
    let web = WebArgs {
        listen: a.listen,
        public_url: None,
        auth: AuthMode::None,
        deadline: a.deadline,
        deadline_late: a.deadline_late,
        role_security_lead: String::new(),
        role_helpdesk: String::new(),
        role_viewer: String::new(),
        session_idle: config::DEFAULT_SESSION_IDLE.into(),
        session_max: config::DEFAULT_SESSION_MAX.into(),
    }
    .config(&mut problems);
    if a.users == 0 || a.days == 0 {
        problems.push("--users and --days must be at least 1".into());
    }
    check(problems)?;
    demo::run(demo::DemoOptions {
        users: a.users,
        days: a.days,
        seed: a.seed,
        data_dir: a.data_dir.unwrap_or_else(demo::default_data_dir),
        database_url: a.database_url.filter(|u| !u.trim().is_empty()),
        web: web.context("web configuration")?,
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

async fn fake_graph(a: FakeGraphArgs) -> Result<ExitCode> {
    let mut problems = Vec::new();
    let token_lifetime = match humantime::parse_duration(&a.token_lifetime) {
        Ok(d) if d >= Duration::from_secs(1) => d,
        _ => {
            problems.push(format!(
                "--token-lifetime {:?} is not a duration such as 1h",
                a.token_lifetime
            ));
            Duration::from_secs(3600)
        }
    };
    let faults: Faults = match a.faults.as_deref().map(serde_json::from_str) {
        None => Faults::default(),
        Some(Ok(f)) => f,
        Some(Err(e)) => {
            problems.push(format!("--faults is not valid: {e}"));
            Faults::default()
        }
    };
    if a.day.is_some_and(|d| d > a.days) {
        problems.push(format!("--day must be between 0 and --days ({})", a.days));
    }
    if a.users == 0 || a.report_page_size == 0 {
        problems.push("--users and --report-page-size must be at least 1".into());
    }
    let certificate_pem = match &a.certificate {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(s) => Some(s),
            Err(e) => {
                problems.push(format!("--certificate: cannot read {}: {e}", p.display()));
                None
            }
        },
        None => None,
    };
    check(problems)?;
    let tenant = Tenant::ending_today(a.seed, a.users, a.days);
    let settings = FakeSettings {
        certificate_pem,
        report_page_size: a.report_page_size,
        token_lifetime,
        ..FakeSettings::default()
    };
    let fake = FakeGraph::new(tenant, settings);
    if let Some(day) = a.day {
        fake.set_day(day);
    }
    fake.set_faults(faults);
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .with_context(|| format!("could not listen on {}", a.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    // A closed standard output (nobody reading the banner) must not stop the server.
    let _ = writeln!(
        std::io::stdout(),
        "Fake Microsoft Graph for a simulated tenant of {} people (seed {}), serving day {} of {} ({}).\n\
         Listening on {url}. Point phoneless at it with:\n\n  \
         PHONELESS_GRAPH_URL={url} PHONELESS_LOGIN_URL={url} PHONELESS_TENANT_ID={SIM_TENANT_ID} \\\n  \
         PHONELESS_CLIENT_ID={SIM_CLIENT_ID} PHONELESS_CLIENT_SECRET={SIM_CLIENT_SECRET} PHONELESS_REPORT_RATE=0\n\n\
         Sign in:        PHONELESS_PUBLIC_URL=http://127.0.0.1:8080 (it accepts any redirect URI)\n\
         Move the story: curl -X POST {url}/_sim/day -H 'content-type: application/json' -d '{{\"day\": 100}}'\n\
         Inject faults:  curl -X POST {url}/_sim/faults -H 'content-type: application/json' -d '{{\"throttle\": 3}}'",
        a.users,
        a.seed,
        fake.day(),
        a.days,
        fake.tenant().date(fake.day()),
    );
    tokio::select! {
        r = fake.serve(listener) => r?,
        _ = web::shutdown_signal() => {}
    }
    Ok(ExitCode::SUCCESS)
}
