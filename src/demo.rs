//! `phoneless demo`: a simulated tenant with months of daily history, served locally with no
//! set-up. The history is made the real way: the simulated Graph is served over loopback HTTP
//! and the real syncer runs once per simulated day, dated on that day.

use crate::actions::allowlist::Remover;
use crate::config::{ActionConfig, AuthMode, WebConfig};
use crate::credential::Credential;
use crate::db;
use crate::db::dashboard::{self, UserFilter};
use crate::db::embedded::EmbeddedPostgres;
use crate::db::operations::{self as ops, DemoTenant};
use crate::db::reasons::{self as reasons, NewReason};
use crate::domain::reasons::PHONE_STATES;
use crate::domain::{Action, PhoneReason, UserType};
use crate::graph::pacing::Rate;
use crate::graph::{Client, GraphSettings};
use crate::sim::server::{
    SIM_CLIENT_ID, SIM_CLIENT_SECRET, SIM_TENANT_ID, SIM_WRITE_CLIENT_ID, SIM_WRITE_CLIENT_SECRET,
};
use crate::sim::{FakeGraph, FakeSettings, Tenant};
use crate::sync::progress::Silent;
use crate::sync::{self, Outcome, SyncOptions};
use crate::web::WebSettings;
use crate::web::{self, AppState};
use anyhow::{Context, Result, bail};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlx::PgPool;
use std::io::Write as _;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Default size of the demo tenant.
pub const DEFAULT_USERS: usize = 5_000;
/// Default days of history made on first start.
pub const DEFAULT_DAYS: u32 = 180;
/// The simulated story runs on for this share of the first start's history beyond today
/// (percent), so that a demo started again later still moves, while "today" is past the
/// security story's key events as in a real tenant of late 2026: the policy migration is
/// complete and Microsoft manages the registration campaign (the story's 75% and 85%).
const STORY_AFTER_TODAY_PERCENT: u32 = 12;
/// The simulated syncs run at this time of day (after the report's early-morning refresh).
const SYNC_TIME: NaiveTime = NaiveTime::from_hms_opt(6, 0, 0).expect("valid time");
/// The database the embedded server keeps the demo in.
const DATABASE: &str = "phoneless";
/// The demo's helpdesk starts recording reasons this many days before today, so some are
/// cleared by later syncs (people who moved off the phone) and some follow-ups are past.
const REASONS_SINCE_DAYS: u32 = 45;
/// Of the people on the phone then, this share (percent) gets a reason; of those on the phone
/// today, this share more over the last weeks.
const EARLY_REASONS_PERCENT: u32 = 6;
const RECENT_REASONS_PERCENT: u32 = 8;
/// The demo's helpdesk agents, as the access log would name them.
const AGENTS: [&str; 3] = [
    "Sam Okafor (sam.okafor@contoso.com)",
    "Lena Berg (lena.berg@contoso.com)",
    "Priya Nair (priya.nair@contoso.com)",
];

/// What `phoneless demo` was asked for.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub users: usize,
    pub days: u32,
    pub seed: u64,
    /// Where the embedded PostgreSQL keeps the data (ignored with a database URL).
    pub data_dir: PathBuf,
    /// Use this server instead of an embedded one.
    pub database_url: Option<String>,
    pub web: WebConfig,
}

/// The default data directory: one the `postgres` user can reach when running as root (a
/// root home directory is private), the user's data directory otherwise.
pub fn default_data_dir() -> PathBuf {
    if crate::db::embedded::running_as_root() {
        return PathBuf::from("/var/lib/phoneless/demo");
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("phoneless").join("demo")
}

/// Serves `tenant` as a fake Graph on loopback: the fake, and its address.
async fn simulated_graph(tenant: Tenant) -> Result<(FakeGraph, String)> {
    let fake = FakeGraph::new(
        tenant,
        FakeSettings {
            conditional_access_interval: std::time::Duration::ZERO,
            ..FakeSettings::default()
        },
    );
    let url = fake
        .spawn()
        .await
        .context("could not start the simulated Graph")?;
    Ok((fake, url))
}

/// A Graph client of the simulated tenant's app registration `client_id`.
fn sim_client(graph_url: &str, client_id: &str, secret: &str) -> Result<Client> {
    Ok(Client::new(GraphSettings {
        graph_url: graph_url.to_owned(),
        login_url: graph_url.to_owned(),
        tenant_id: SIM_TENANT_ID.to_owned(),
        client_id: client_id.to_owned(),
        credential: Credential::Secret(secret.to_owned().into()),
        report_rate: Rate::UNLIMITED,
        // The history is made faster than Conditional Access's one request a second, which
        // the fake made here does not enforce.
        conditional_access_rate: Rate::UNLIMITED,
        request_timeout: std::time::Duration::from_secs(30),
        retry_budget: std::time::Duration::from_secs(60),
        backoff_base: std::time::Duration::from_millis(50),
        users_page_size: crate::graph::USERS_PAGE_SIZE,
    })?)
}

/// Makes history: serves `tenant` as a fake Graph on loopback and runs the real syncer once for
/// each day in `days`, dated on that day (today's run is dated now). `on_day` is told of each
/// day done.
pub async fn sync_days(
    pool: &PgPool,
    tenant: Tenant,
    days: RangeInclusive<u32>,
    runner: String,
    mut on_day: impl FnMut(NaiveDate, u32),
) -> Result<()> {
    let today = Utc::now().date_naive();
    let (fake, graph_url) = simulated_graph(tenant).await?;
    let client = Arc::new(sim_client(&graph_url, SIM_CLIENT_ID, SIM_CLIENT_SECRET)?);
    let options = SyncOptions {
        wait_for_lock: true,
        runner,
        ..SyncOptions::default()
    };
    let cancel = CancellationToken::new();
    for day in days {
        fake.set_day(day);
        let date = fake.tenant().date(day);
        let now = if date >= today {
            Utc::now()
        } else {
            date.and_time(SYNC_TIME).and_utc()
        };
        match sync::run(
            pool,
            client.clone(),
            now,
            &options,
            Arc::new(Silent),
            &cancel,
        )
        .await
        {
            Ok(Outcome::Succeeded(_)) => {}
            Ok(Outcome::Skipped { reason, .. }) => {
                bail!("the sync of {date} was skipped: {reason}")
            }
            Err(e) => bail!("the sync of {date} failed: {e}"),
        }
        on_day(date, day);
    }
    Ok(())
}

/// Runs the demo until Ctrl-C or SIGTERM.
pub async fn run(o: DemoOptions) -> Result<()> {
    let mut out = std::io::stdout();
    let (url, _server) = match &o.database_url {
        Some(u) => (u.clone(), None),
        None => {
            let _ = writeln!(
                out,
                "Starting a private PostgreSQL with its data in {}",
                o.data_dir.display()
            );
            let pg = EmbeddedPostgres::start_in(&o.data_dir, true)?;
            db::create_database(&pg.url("postgres"), DATABASE).await?;
            (pg.url(DATABASE), Some(pg))
        }
    };
    let pool = db::connect(&url).await?;
    db::migrate(&pool).await?;

    let today = Utc::now().date_naive();
    let identity = match ops::demo_tenant(&pool).await? {
        Some(found) => {
            if found.seed != o.seed as i64 || found.users != o.users as i32 {
                let _ = writeln!(
                    out,
                    "Reusing the demo data made for {} users (seed {}); to start over with other \
                     settings, delete {}.",
                    found.users,
                    found.seed,
                    o.data_dir.display()
                );
            }
            found
        }
        None if ops::any_run(&pool).await? => bail!(
            "this database holds a history that phoneless demo did not make; the demo only \
             writes to a database of its own"
        ),
        None => {
            let made = DemoTenant {
                seed: o.seed as i64,
                users: i32::try_from(o.users).context("--users is too large")?,
                story_days: (o.days + (o.days * STORY_AFTER_TODAY_PERCENT).div_ceil(100)) as i32,
                start_date: today - Duration::days(o.days.into()),
            };
            ops::save_demo_tenant(&pool, &made).await?;
            made
        }
    };
    let story_days = (today - identity.start_date).num_days().max(0) as u32;
    let tenant = Tenant::generate(
        identity.seed as u64,
        identity.users as usize,
        identity.story_days as u32,
        identity.start_date,
    );
    let tenant_today = tenant.clone();
    let last_day = ops::latest_succeeded_run(&pool)
        .await?
        .map(|r| (r.started_at.date_naive() - identity.start_date).num_days());
    let first_day = last_day.map_or(0, |d| d + 1).max(0) as u32;
    if first_day <= story_days {
        let _ = writeln!(
            out,
            "Making {} days of history for a simulated tenant of {} people (one sync per day)…",
            story_days - first_day + 1,
            identity.users
        );
    }
    let mut on_day = |date: NaiveDate, day: u32| {
        if day.is_multiple_of(30) || day == story_days {
            let _ = writeln!(out, "  {date} done ({} of {})", day + 1, story_days + 1);
        }
    };
    // The helpdesk's reasons are made once, with the history (or for a demo made before them).
    let with_reasons = !reasons::any_recorded(&pool).await?;
    let reasons_day = story_days.saturating_sub(REASONS_SINCE_DAYS);
    if with_reasons && (first_day..story_days).contains(&reasons_day) {
        sync_days(
            &pool,
            tenant.clone(),
            first_day..=reasons_day,
            sync::runner_name(),
            &mut on_day,
        )
        .await?;
        let date = identity.start_date + Duration::days(reasons_day.into());
        let at = date.and_time(SYNC_TIME).and_utc() + Duration::hours(3);
        record_reasons(
            &pool,
            identity.seed as u64,
            at,
            EARLY_REASONS_PERCENT,
            0,
            30..=60,
        )
        .await?;
        sync_days(
            &pool,
            tenant,
            reasons_day + 1..=story_days,
            sync::runner_name(),
            &mut on_day,
        )
        .await?;
    } else {
        sync_days(
            &pool,
            tenant,
            first_day..=story_days,
            sync::runner_name(),
            &mut on_day,
        )
        .await?;
    }
    if with_reasons {
        let at = Utc::now() - Duration::hours(2);
        record_reasons(
            &pool,
            identity.seed as u64 + 1,
            at,
            RECENT_REASONS_PERCENT,
            20,
            7..=45,
        )
        .await?;
    }

    let listener = tokio::net::TcpListener::bind(o.web.listen)
        .await
        .with_context(|| format!("could not listen on {}", o.web.listen))?;
    let _ = writeln!(
        out,
        "\nphoneless demo is ready: http://{}/\nSign-in is off; the pages carry a demo banner. \
         Stop with Ctrl-C; the next start reuses the data.",
        listener.local_addr()?
    );
    // The actions write to a simulated tenant standing on today, through its own write
    // registration, as a real deployment would.
    let (fake, graph_url) = simulated_graph(tenant_today).await?;
    fake.set_day(story_days.min(identity.story_days as u32));
    let writer = Arc::new(sim_client(
        &graph_url,
        SIM_WRITE_CLIENT_ID,
        SIM_WRITE_CLIENT_SECRET,
    )?);
    let cancel = CancellationToken::new();
    let remover = Remover {
        pool: pool.clone(),
        graph: writer.clone(),
        targets: Vec::new(),
        owner: sync::runner_name(),
    };
    let removals = tokio::spawn(remover.run(cancel.clone()));
    let router = web::app(
        AppState::new(
            pool,
            WebSettings {
                auth: AuthMode::None,
                demo: true,
                actions: ActionConfig {
                    enabled: Action::ALL.to_vec(),
                    ..ActionConfig::default()
                },
                ..WebSettings::new(o.web)
            },
        )
        .with_writer(writer),
    );
    web::serve(listener, router, web::shutdown_signal()).await?;
    cancel.cancel();
    let _ = removals.await;
    Ok(())
}

/// Notes a helpdesk might write beside each reason (an empty one: no note).
fn demo_notes(reason: PhoneReason) -> &'static [&'static str] {
    match reason {
        PhoneReason::NoSmartphone => &[
            "Has a basic phone only",
            "Phone too old for the Authenticator app",
            "Asked IT for a work smartphone",
            "",
        ],
        PhoneReason::RefusesPersonalPhone => &[
            "Will not install work apps on a private phone",
            "Asked for a work phone or a security key instead",
            "",
        ],
        PhoneReason::NoPhoneAtWork => &[
            "Call centre floor: phones stay in the lockers",
            "Secure area, no phones allowed",
            "",
        ],
        PhoneReason::WaitingForSecurityKey => &[
            "Key ordered",
            "YubiKey on its way from IT",
            "Key delivery expected next week",
        ],
        PhoneReason::Travelling => &[
            "Back next month; set up the app then",
            "On a ship until March",
            "",
        ],
        PhoneReason::Other => &[
            "Accessibility needs: looking at options together",
            "Shared device at the front desk",
            "Waiting for a new phone",
        ],
    }
}

/// A reason drawn with a realistic spread: phones and private phones first, then no phone at
/// work (call centres), keys on order, travel and the rest.
fn demo_reason(rng: &mut ChaCha8Rng) -> PhoneReason {
    match rng.random_range(0..100) {
        0..25 => PhoneReason::NoSmartphone,
        25..45 => PhoneReason::RefusesPersonalPhone,
        45..65 => PhoneReason::NoPhoneAtWork,
        65..80 => PhoneReason::WaitingForSecurityKey,
        80..88 => PhoneReason::Travelling,
        _ => PhoneReason::Other,
    }
}

/// Records reasons for `percent` of the in-scope members on the phone now (drawn from `seed`),
/// through the same functions as the helpdesk's form, dated up to `spread_days` before `at`;
/// most with a follow-up date `follow_up_days` after, some of them past by today. A few are
/// removed again two days later.
async fn record_reasons(
    pool: &PgPool,
    seed: u64,
    at: DateTime<Utc>,
    percent: u32,
    spread_days: i64,
    follow_up_days: RangeInclusive<i64>,
) -> Result<()> {
    let now = Utc::now();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0072_6561_736f_6e73);
    let filter = UserFilter {
        states: PHONE_STATES.to_vec(),
        user_type: Some(UserType::Member),
        ..UserFilter::default()
    };
    let people = dashboard::list_users(
        pool,
        &filter,
        dashboard::ListOrder::Priority,
        None,
        i64::MAX,
    )
    .await?;
    let mut tx = pool.begin().await?;
    for person in &people {
        if rng.random_range(0..100) >= percent {
            continue;
        }
        let reason = demo_reason(&mut rng);
        let notes = demo_notes(reason);
        let when = at
            - Duration::days(rng.random_range(0..=spread_days))
            - Duration::minutes(rng.random_range(0..360));
        let new = NewReason {
            reason,
            note: notes[rng.random_range(0..notes.len())].to_owned(),
            follow_up: rng.random_bool(0.7).then(|| {
                when.date_naive() + Duration::days(rng.random_range(follow_up_days.clone()))
            }),
        };
        let by = AGENTS[rng.random_range(0..AGENTS.len())];
        reasons::set(&mut tx, person.user_id, &new, by, when).await?;
        let removed_at = when + Duration::days(2);
        if rng.random_bool(0.04) && removed_at < now {
            reasons::remove(&mut tx, person.user_id, removed_at).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
