//! What every handler shares: the pool, the configuration, sign-in, and answers kept for the
//! newest run.

use super::access;
use crate::auth::Oidc;
use crate::auth::{RoleMap, SignInSettings};
use crate::config::{ActionConfig, AuthMode, WebConfig};
use crate::db::alerts::Target;
use crate::db::dashboard::UserFilter;
use crate::domain::retirement::Dates;
use crate::domain::scope::OutOfScope;
use crate::domain::{Action, Dimension, State};
use crate::graph::Client;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// What the web front runs with: the validated configuration, and what `cli` assembled for
/// it (sign-in, where alerts go, the demo's banner).
#[derive(Debug, Clone)]
pub struct WebSettings {
    pub listen: SocketAddr,
    /// The address people use to reach phoneless, without a trailing slash.
    pub public_url: Option<String>,
    pub auth: AuthMode,
    pub deadlines: Dates,
    /// Serving a simulated tenant (`phoneless demo`): pages carry a banner.
    pub demo: bool,
    /// Which app roles or groups give which role.
    pub roles: RoleMap,
    pub session_idle: Duration,
    pub session_max: Duration,
    /// The webhooks alerts go to (listed on `/alerts`; the posture checks one is set).
    pub alert_targets: Vec<Target>,
    /// Sign-in with Entra ID (`PHONELESS_AUTH=entra`): the app registration and redirect URI.
    pub sign_in: Option<SignInSettings>,
    /// The out-of-scope rule the syncer applies (shown on the overview).
    pub out_of_scope: OutOfScope,
    /// The write actions switched on, and their limits.
    pub actions: ActionConfig,
}

impl WebSettings {
    /// The web front of `config`, with no sign-in, no webhooks and no demo banner.
    pub fn new(config: WebConfig) -> WebSettings {
        WebSettings {
            listen: config.listen,
            public_url: config.public_url,
            auth: config.auth,
            deadlines: config.deadlines,
            demo: false,
            roles: config.roles,
            session_idle: config.session_idle,
            session_max: config.session_max,
            alert_targets: Vec::new(),
            sign_in: None,
            out_of_scope: OutOfScope::default(),
            actions: ActionConfig::default(),
        }
    }

    /// Served over https: cookies are `Secure` and browsers are told to stay on https (HSTS).
    pub fn https(&self) -> bool {
        crate::config::is_https(self.public_url.as_deref())
    }
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<WebSettings>,
    /// Answers that only change when a sync commits.
    pub cache: Arc<RunCache>,
    /// Answers about the helpdesk's reasons, which also change between syncs.
    pub reasons: Arc<super::reasons::ReasonCache>,
    /// Sign-in with Entra ID (none while sign-in is off, or when its settings are unusable).
    pub oidc: Option<Arc<Oidc>>,
    /// While sign-in is off, the forms' CSRF token (one per process).
    pub local_csrf: String,
    /// The database was found unreachable (see [`super::health::fail_fast`]).
    pub database_away: Arc<std::sync::atomic::AtomicBool>,
    /// The Graph client writes go through (the write registration's, or the syncer's), when
    /// any action is switched on.
    pub writer: Option<Arc<Client>>,
}

impl AppState {
    pub fn new(pool: PgPool, config: WebSettings) -> AppState {
        let oidc = config.sign_in.clone().and_then(|s| match Oidc::new(s) {
            Ok(o) => Some(Arc::new(o)),
            Err(e) => {
                tracing::error!("{e}");
                None
            }
        });
        AppState {
            pool,
            config: Arc::new(config),
            cache: Arc::default(),
            reasons: Arc::default(),
            oidc,
            local_csrf: access::random_secret(),
            database_away: Arc::default(),
            writer: None,
        }
    }

    /// With the Graph client that writes go through.
    pub fn with_writer(self, writer: Arc<Client>) -> AppState {
        AppState {
            writer: Some(writer),
            ..self
        }
    }

    /// The writer, when `action` is switched on (else the action's routes are not there).
    pub fn action(&self, action: Action) -> Option<&Client> {
        self.writer
            .as_deref()
            .filter(|_| self.config.actions.on(action))
    }
}

/// Most answers a [`RunCache`] keeps for one run; it starts afresh when full.
const RUN_CACHE_ENTRIES: usize = 1_000;

/// Answers computed from the newest complete run, keyed by that run: a sync commits a new run
/// id, so an answer is never served for data it was not computed from. Used for the counts of
/// the user list, which scan every current user (tens of milliseconds at 100,000 users) and
/// are asked for again with each page of the same list, and for the departments' phone use,
/// which joins everyone who used a phone with their version (as long, on every view).
#[derive(Default)]
pub struct RunCache {
    entries: std::sync::Mutex<CacheEntries>,
    phone_use: std::sync::Mutex<PhoneUseEntries>,
}

/// Per group, the in-scope members who used a phone to sign in in the last 30 days.
pub type PhoneUseByGroup = Arc<Vec<(Option<String>, i64)>>;

/// The run and the sign-in read the groups' phone use was counted after, and the counts by
/// grouping.
#[derive(Default)]
struct PhoneUseEntries {
    stamp: Option<(i64, Option<DateTime<Utc>>)>,
    by: std::collections::HashMap<Dimension, PhoneUseByGroup>,
}

/// Users per state, as the user list counts them.
pub type StateCounts = Arc<Vec<(State, i64)>>;

/// What the list's counts are kept under: its filters, their states left empty (the counts
/// cover every state, so one entry serves every state switch), and, when they ask about phone
/// use, how far the sign-in log had been read (a read rebuilds phone use without a sync).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CountsKey {
    filter: UserFilter,
    sign_ins_read_until: Option<DateTime<Utc>>,
}

impl CountsKey {
    /// The key of `f`'s counts, read when the sign-in log had been read up to
    /// `sign_ins_read_until` (which counts only when `f` asks about phone use).
    pub fn new(f: &UserFilter, sign_ins_read_until: Option<DateTime<Utc>>) -> CountsKey {
        CountsKey {
            filter: UserFilter {
                states: Vec::new(),
                ..f.clone()
            },
            sign_ins_read_until: sign_ins_read_until.filter(|_| f.phone_used.is_some()),
        }
    }
}

/// The run the entries were computed from, and the entries.
#[derive(Default)]
struct CacheEntries {
    run_id: i64,
    by_key: std::collections::HashMap<CountsKey, StateCounts>,
}

impl RunCache {
    pub fn get(&self, run_id: i64, key: &CountsKey) -> Option<StateCounts> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        (entries.run_id == run_id).then(|| entries.by_key.get(key).cloned())?
    }

    pub fn put(&self, run_id: i64, key: CountsKey, value: StateCounts) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.run_id != run_id || entries.by_key.len() >= RUN_CACHE_ENTRIES {
            *entries = CacheEntries {
                run_id,
                by_key: std::collections::HashMap::new(),
            };
        }
        entries.by_key.insert(key, value);
    }

    /// The groups' phone use by `by`, counted after run `run_id` and the sign-in read up to
    /// `read_until`.
    pub fn phone_use(
        &self,
        run_id: i64,
        read_until: Option<DateTime<Utc>>,
        by: Dimension,
    ) -> Option<PhoneUseByGroup> {
        let entries = self.phone_use.lock().unwrap_or_else(|p| p.into_inner());
        (entries.stamp == Some((run_id, read_until))).then(|| entries.by.get(&by).cloned())?
    }

    pub fn put_phone_use(
        &self,
        run_id: i64,
        read_until: Option<DateTime<Utc>>,
        by: Dimension,
        value: PhoneUseByGroup,
    ) {
        let mut entries = self.phone_use.lock().unwrap_or_else(|p| p.into_inner());
        let stamp = Some((run_id, read_until));
        if entries.stamp != stamp {
            *entries = PhoneUseEntries {
                stamp,
                by: std::collections::HashMap::new(),
            };
        }
        entries.by.insert(by, value);
    }
}
