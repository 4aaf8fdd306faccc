//! Microsoft Graph client: app-only tokens, `@odata.nextLink` paging, pacing under the reports
//! throttle, retries on 429 and 5xx with `Retry-After` or jittered backoff, and errors in plain
//! words that tell throttling from an outage.

pub mod auth;
pub mod model;
pub mod pacing;
pub mod write;

pub use write::{Membership, TapCreated, TapMethod, TapRequest};

use crate::credential::Credential;
use auth::{TokenProvider, error_chain};
use chrono::{DateTime, Utc};
use model::{
    AuthenticationMethodsPolicy, AuthenticationStrengthPolicy, ConditionalAccessPolicy,
    DirectoryAudit, DirectoryObject, DirectoryUser, ErrorBody, GLOBAL_ADMINISTRATOR_ROLE, Group,
    Page, RoleGrant, SignIn, USER_SELECT, UserRegistrationDetails,
};
use pacing::{Pacer, Rate};
use rand::Rng as _;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Graph's reports endpoints allow about 5 requests per 10 s per app per tenant; 4 leaves room.
pub const DEFAULT_REPORT_RATE: Rate = Rate {
    limit: 4,
    window: Duration::from_secs(10),
};
/// Conditional Access reads are limited to one request per second per tenant, across all apps,
/// and a faster one gets 429 without `Retry-After` (graph-api.md §6, §9).
pub const DEFAULT_CONDITIONAL_ACCESS_RATE: Rate = Rate {
    limit: 1,
    window: Duration::from_millis(1100),
};
/// Writes (a Temporary Access Pass, a group member added or removed) at most this fast. Graph
/// allows 3,000 writes per 2.5 minutes per app and tenant (graph-api.md §9); a helpdesk needs
/// a few a second, and pacing keeps a burst (many allowlist entries ending at once) from using
/// up the quota the tenant's other tools share.
pub const WRITE_RATE: Rate = Rate {
    limit: 4,
    window: Duration::from_secs(1),
};
/// How long one request may take before it is abandoned (and retried).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one request may keep being retried (throttling, outages) before the sync gives up.
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(10 * 60);
/// First backoff step when Graph sends no `Retry-After`; doubles per attempt, with full jitter.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Backoff never waits longer than this between two attempts.
const BACKOFF_CAP: Duration = Duration::from_secs(60);
/// `/users` page size (Graph accepts 1–999).
pub const USERS_PAGE_SIZE: u32 = 999;

/// What went wrong talking to Graph, worded for the person who has to fix it.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error(
        "the tenant has no Microsoft Entra ID P1 or P2 licence, which the authentication-methods \
         registration report and the sign-in logs require (Graph: {0}). Assign Entra ID P1/P2 (or Microsoft 365 E3/E5, \
         Business Premium) to at least one user, then sync again."
    )]
    LicenceMissing(String),
    #[error(
        "the app may not read {what} (Graph: {message}). Grant the application permission \
         {permission} to the app registration and have an administrator grant admin consent."
    )]
    PermissionMissing {
        what: &'static str,
        permission: &'static str,
        message: String,
    },
    #[error("could not get a token: {0}")]
    Token(String),
    #[error(
        "Graph refused the app's token for {what} even after a fresh one (401: {message}); check the app registration and its permissions"
    )]
    Unauthorized { what: &'static str, message: String },
    #[error(
        "Graph kept throttling {what} (HTTP {status}) for {waited}; gave up after {attempts} attempts. \
         Another app may be using the same report quota: sync later, or lower PHONELESS_REPORT_RATE"
    )]
    Throttled {
        what: &'static str,
        status: u16,
        waited: String,
        attempts: u32,
    },
    #[error(
        "Graph was unavailable for {what}: it kept answering HTTP {status} for {waited}; gave up \
         after {attempts} attempts. This is an outage on Microsoft's side, not throttling: the next \
         sync usually succeeds (the Microsoft 365 admin center's Service health lists outages)"
    )]
    Unavailable {
        what: &'static str,
        status: u16,
        waited: String,
        attempts: u32,
    },
    #[error("could not reach Graph for {what} after {attempts} attempts over {waited}: {detail}")]
    Unreachable {
        what: &'static str,
        attempts: u32,
        waited: String,
        detail: String,
    },
    #[error("Graph answered {status} for {what}: {message}")]
    Http {
        what: &'static str,
        status: u16,
        message: String,
    },
    #[error(
        "Graph sent a page of {what} that could not be read ({detail}); the sync stopped before storing anything"
    )]
    Malformed { what: &'static str, detail: String },
    #[error(
        "Graph refused to let the app {action} (403: {message}). Grant the application permission \
         {permission} to the app registration phoneless writes with (PHONELESS_WRITE_CLIENT_ID, \
         or PHONELESS_CLIENT_ID when that is not set) and have an administrator grant admin consent."
    )]
    WritePermissionMissing {
        action: &'static str,
        permission: &'static str,
        message: String,
    },
    /// Graph said no to a write for a reason of its own (a lifetime outside the policy, a
    /// person the policy does not allow, a guest, someone who does not exist): `message` is
    /// Graph's, for the page to show.
    #[error("Graph would not {action} (HTTP {status}): {message}")]
    WriteRejected {
        action: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    #[error(
        "Graph was busy and kept refusing to {action} (HTTP {status}) for {waited}; gave up after \
         {attempts} attempts. Nothing was changed: try again in a few minutes"
    )]
    WriteBusy {
        action: &'static str,
        status: u16,
        waited: String,
        attempts: u32,
    },
    #[error(
        "Graph did not confirm that it could {action} ({detail}). It may have been done anyway, \
         so it was not repeated: check the person in the Microsoft Entra admin center before \
         trying again"
    )]
    WriteUncertain {
        action: &'static str,
        detail: String,
    },
    #[error("configuration: {0}")]
    Config(String),
}

impl GraphError {
    /// A short machine-readable kind, stored with the run.
    pub fn kind(&self) -> &'static str {
        match self {
            GraphError::LicenceMissing(_) => "licence",
            GraphError::PermissionMissing { .. } | GraphError::WritePermissionMissing { .. } => {
                "permission"
            }
            GraphError::WriteRejected { .. } => "rejected",
            GraphError::WriteBusy { .. } => "throttled",
            GraphError::WriteUncertain { .. } => "uncertain",
            GraphError::Token(_) | GraphError::Unauthorized { .. } => "sign_in",
            GraphError::Throttled { .. } => "throttled",
            GraphError::Unavailable { .. } => "unavailable",
            GraphError::Unreachable { .. } => "unreachable",
            GraphError::Http { .. } | GraphError::Malformed { .. } => "graph",
            GraphError::Config(_) => "config",
        }
    }
}

/// Which collection a request belongs to: its name in messages, its permission, its pacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    RegistrationReport,
    /// The interactive sign-ins (`/beta/auditLogs/signIns`), under the report's throttle.
    SignIns,
    Users,
    MethodsPolicy,
    Strengths,
    ConditionalAccess,
    Groups,
    DirectoryAudit,
    Roles,
    Eligibility,
    /// One person's directory entry (a live re-check before a write).
    User,
    /// Which groups one person is in (`checkMemberGroups`).
    MemberGroups,
    /// One person's Temporary Access Pass.
    TemporaryAccessPass,
    /// A group's members, changed one at a time.
    GroupMembership,
}

impl Endpoint {
    fn what(self) -> &'static str {
        match self {
            Endpoint::RegistrationReport => "the authentication-methods registration report",
            Endpoint::SignIns => "the sign-in logs",
            Endpoint::Users => "the directory's users",
            Endpoint::MethodsPolicy => "the authentication methods policy",
            Endpoint::Strengths => "the authentication strengths",
            Endpoint::ConditionalAccess => "the Conditional Access policies",
            Endpoint::Groups => "the members of the groups the policies name",
            Endpoint::DirectoryAudit => "the directory audit log",
            Endpoint::Roles => "the Global Administrator role's assignments",
            Endpoint::Eligibility => "the Global Administrator role's PIM eligibilities",
            Endpoint::User => "the person's directory entry",
            Endpoint::MemberGroups => "the person's group memberships",
            Endpoint::TemporaryAccessPass => "the person's Temporary Access Pass",
            Endpoint::GroupMembership => "the group's members",
        }
    }
    fn permission(self) -> &'static str {
        match self {
            Endpoint::RegistrationReport | Endpoint::SignIns => "AuditLog.Read.All",
            Endpoint::Users => "User.Read.All",
            Endpoint::MethodsPolicy | Endpoint::Strengths | Endpoint::ConditionalAccess => {
                "Policy.Read.All"
            }
            Endpoint::Groups | Endpoint::MemberGroups | Endpoint::GroupMembership => {
                "GroupMember.Read.All"
            }
            Endpoint::User => "User.Read.All",
            Endpoint::TemporaryAccessPass => "UserAuthenticationMethod.Read.All",
            Endpoint::DirectoryAudit => "AuditLog.Read.All",
            Endpoint::Roles => "RoleManagement.Read.Directory",
            Endpoint::Eligibility => "RoleEligibilitySchedule.Read.Directory",
        }
    }
}

/// `roleDefinitionId eq '<Global Administrator>'`, query-encoded.
fn role_filter() -> String {
    let filter = format!("roleDefinitionId eq '{GLOBAL_ADMINISTRATOR_ROLE}'");
    form_urlencoded::byte_serialize(filter.as_bytes()).collect()
}

/// Settings of a [`Client`].
#[derive(Debug, Clone)]
pub struct GraphSettings {
    pub graph_url: String,
    pub login_url: String,
    pub tenant_id: String,
    pub client_id: String,
    pub credential: Credential,
    pub report_rate: Rate,
    pub conditional_access_rate: Rate,
    pub request_timeout: Duration,
    pub retry_budget: Duration,
    pub backoff_base: Duration,
    pub users_page_size: u32,
}

/// A Graph client for one tenant. Cheap to share; counts its pages and retries.
pub struct Client {
    http: reqwest::Client,
    settings: GraphSettings,
    tokens: TokenProvider,
    report_pacer: Pacer,
    conditional_access_pacer: Pacer,
    write_pacer: Pacer,
    retries: AtomicU32,
    pages: AtomicU32,
}

impl Client {
    pub fn new(settings: GraphSettings) -> Result<Self, GraphError> {
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            // Tokens must never follow a redirect to another host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("phoneless/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GraphError::Config(format!("HTTP client: {e}")))?;
        let tokens = TokenProvider::new(
            http.clone(),
            &settings.login_url,
            &settings.tenant_id,
            &settings.client_id,
            &settings.graph_url,
            settings.credential.clone(),
        );
        Ok(Client {
            report_pacer: Pacer::new(settings.report_rate),
            conditional_access_pacer: Pacer::new(settings.conditional_access_rate),
            write_pacer: Pacer::new(WRITE_RATE),
            http,
            tokens,
            settings,
            retries: AtomicU32::new(0),
            pages: AtomicU32::new(0),
        })
    }

    /// Retries made so far (all requests).
    pub fn retries(&self) -> u32 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Pages of the report and the directory fetched so far.
    pub fn pages(&self) -> u32 {
        self.pages.load(Ordering::Relaxed)
    }

    fn base(&self) -> &str {
        self.settings.graph_url.trim_end_matches('/')
    }

    /// Pages of `userRegistrationDetails`, in the order Graph sends them.
    pub fn registration_details(&self) -> Pages<'_, UserRegistrationDetails> {
        Pages::new(
            self,
            Endpoint::RegistrationReport,
            format!(
                "{}/v1.0/reports/authenticationMethods/userRegistrationDetails",
                self.base()
            ),
        )
    }

    /// Interactive sign-ins created in [from, to), page by page (`GET /beta/auditLogs/signIns`
    /// with a `createdDateTime` window filter, following `@odata.nextLink`), up to 1,000 a page.
    /// Paced by the same pacer as the registration report (they share Graph's reports
    /// throttle), with the usual retries. A 403 is [`GraphError::PermissionMissing`]
    /// (`AuditLog.Read.All`), or [`GraphError::LicenceMissing`] without Entra ID P1/P2.
    ///
    /// In Graph's order, **newest first**: the collection allows no `$orderby` (nor `$select`,
    /// so every property comes). A window is complete only once its last page is read; walk
    /// windows oldest first for an oldest-first sweep. Graph documents `ge` and `le` on
    /// `createdDateTime`, so the filter ends at the last 100-nanosecond tick before `to`, and
    /// any row outside [from, to) is dropped should Graph compare more coarsely. An empty
    /// window asks nothing.
    pub fn sign_ins(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Pages<'_, SignIn> {
        let (Some(first), Some(last)) = (first_tick_from(from), last_tick_before(to)) else {
            return Pages::done(self, Endpoint::SignIns);
        };
        if from >= to || first > last {
            return Pages::done(self, Endpoint::SignIns);
        }
        let filter = format!(
            "createdDateTime ge {} and createdDateTime le {}",
            odata_instant(first),
            odata_instant(last)
        );
        let url = format!(
            "{}/beta/auditLogs/signIns?$filter={}",
            self.base(),
            form_urlencoded::byte_serialize(filter.as_bytes()).collect::<String>()
        );
        Pages::new(self, Endpoint::SignIns, url)
            .keeping(move |s: &SignIn| from <= s.created_date_time && s.created_date_time < to)
    }

    /// Pages of `/users` with the attributes the dashboard groups by. The first page carries
    /// `@odata.count` (an advanced query), which sizes the progress bar.
    pub fn users(&self) -> Pages<'_, DirectoryUser> {
        Pages::new(
            self,
            Endpoint::Users,
            format!(
                "{}/v1.0/users?$select={USER_SELECT}&$top={}&$count=true",
                self.base(),
                self.settings.users_page_size
            ),
        )
    }

    /// The authentication methods policy, its configurations expanded (graph-api.md §5).
    pub async fn methods_policy(&self) -> Result<AuthenticationMethodsPolicy, GraphError> {
        let url = format!("{}/v1.0/policies/authenticationMethodsPolicy", self.base());
        self.get(Endpoint::MethodsPolicy, &url).await
    }

    /// The beta methods policy, read whole for `optOutSettings` (which `$select` cannot name).
    pub async fn beta_methods_policy(&self) -> Result<AuthenticationMethodsPolicy, GraphError> {
        let url = format!("{}/beta/policies/authenticationMethodsPolicy", self.base());
        self.get(Endpoint::MethodsPolicy, &url).await
    }

    /// Active assignments of the Global Administrator role, principals expanded.
    pub async fn global_admin_assignments(&self) -> Result<Vec<RoleGrant>, GraphError> {
        let url = format!(
            "{}/v1.0/roleManagement/directory/roleAssignments?$filter={}&$expand=principal",
            self.base(),
            role_filter()
        );
        self.collect(Endpoint::Roles, url).await
    }

    /// PIM eligibilities for the Global Administrator role, principals expanded. A tenant
    /// without PIM answers with an error, which the caller reads as "none known".
    pub async fn global_admin_eligibilities(&self) -> Result<Vec<RoleGrant>, GraphError> {
        let url = format!(
            "{}/v1.0/roleManagement/directory/roleEligibilitySchedules?$filter={}&$expand=principal",
            self.base(),
            role_filter()
        );
        self.collect(Endpoint::Eligibility, url).await
    }

    /// Every authentication strength, built-in and custom (graph-api.md §6).
    pub async fn strength_policies(&self) -> Result<Vec<AuthenticationStrengthPolicy>, GraphError> {
        let url = format!(
            "{}/v1.0/policies/authenticationStrengthPolicies",
            self.base()
        );
        self.collect(Endpoint::Strengths, url).await
    }

    /// Every Conditional Access policy, paced to one request a second (graph-api.md §6).
    pub async fn conditional_access_policies(
        &self,
    ) -> Result<Vec<ConditionalAccessPolicy>, GraphError> {
        let url = format!("{}/v1.0/identity/conditionalAccess/policies", self.base());
        self.collect(Endpoint::ConditionalAccess, url).await
    }

    /// A group's name and other properties; `None` when the group does not exist.
    pub async fn group(&self, id: &str) -> Result<Option<Group>, GraphError> {
        let url = format!(
            "{}/v1.0/groups/{}?$select=id,displayName,description",
            self.base(),
            form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        );
        match self.get(Endpoint::Groups, &url).await {
            Ok(group) => Ok(Some(group)),
            Err(GraphError::Http { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A group's direct members (graph-api.md §7), every page.
    pub async fn group_members(&self, id: &str) -> Result<Vec<DirectoryObject>, GraphError> {
        let url = format!(
            "{}/v1.0/groups/{}/members?$select=id,displayName,userPrincipalName&$top=999",
            self.base(),
            form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        );
        self.collect(Endpoint::Groups, url).await
    }

    /// A group's members, nested groups' members included (graph-api.md §7), every page.
    pub async fn group_transitive_members(
        &self,
        id: &str,
    ) -> Result<Vec<DirectoryObject>, GraphError> {
        let url = format!(
            "{}/v1.0/groups/{}/transitiveMembers?$select=id,displayName,userPrincipalName&$top=999",
            self.base(),
            form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        );
        self.collect(Endpoint::Groups, url).await
    }

    /// Directory audit entries matching an OData `$filter` (graph-api.md §8), every page.
    pub async fn directory_audits(&self, filter: &str) -> Result<Vec<DirectoryAudit>, GraphError> {
        let url = format!(
            "{}/v1.0/auditLogs/directoryAudits?$filter={}",
            self.base(),
            form_urlencoded::byte_serialize(filter.as_bytes()).collect::<String>()
        );
        self.collect(Endpoint::DirectoryAudit, url).await
    }

    /// Every item of a collection, following its pages.
    async fn collect<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        first: String,
    ) -> Result<Vec<T>, GraphError> {
        let mut pages = Pages::new(self, endpoint, first);
        let mut all = Vec::new();
        while let Some(page) = pages.next_page().await {
            all.extend(page?.value);
        }
        Ok(all)
    }

    /// One JSON document, paced and retried.
    async fn get<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        url: &str,
    ) -> Result<T, GraphError> {
        let what = endpoint.what();
        let body = match self.send(Call::get(endpoint, url)).await? {
            Answer::Done { body } => body,
            Answer::Refused {
                status,
                code,
                message,
            } => return Err(read_refusal(endpoint, status, &code, &message)),
        };
        serde_json::from_slice::<T>(&body)
            .inspect(|_| {
                // A run's pages are those of the report and the directory.
                if matches!(endpoint, Endpoint::RegistrationReport | Endpoint::Users) {
                    self.pages.fetch_add(1, Ordering::Relaxed);
                }
            })
            .map_err(|e| GraphError::Malformed {
                what,
                detail: e.to_string(),
            })
    }

    /// One request, paced, with a fresh token once on 401, and repeated while Graph is
    /// throttling or unavailable, within the retry budget. A read is repeated on any transient
    /// failure; a write ([`Call::write`]) only when Graph certainly did nothing: a 429, a 503
    /// with `Retry-After`, a connection that was never made. After a timeout or another 5xx a
    /// write may have been applied, so it is not repeated ([`GraphError::WriteUncertain`]).
    /// Any other refusal (4xx) is the caller's to word.
    #[tracing::instrument(level = "debug", name = "graph", skip_all, fields(what = call.endpoint.what()))]
    async fn send(&self, call: Call<'_>) -> Result<Answer, GraphError> {
        let what = call.endpoint.what();
        let uncertain = |detail: String| match call.write {
            Some(w) => Err(GraphError::WriteUncertain {
                action: w.action,
                detail,
            }),
            None => Ok(()),
        };
        let started = Instant::now();
        let mut attempts = 0u32;
        let mut renewed_token = false;
        loop {
            attempts += 1;
            match call.endpoint {
                // One throttle covers Graph's reports: 5 requests per 10 s for both together.
                Endpoint::RegistrationReport | Endpoint::SignIns => self.report_pacer.wait().await,
                Endpoint::ConditionalAccess => self.conditional_access_pacer.wait().await,
                _ => {}
            }
            if call.write.is_some() {
                self.write_pacer.wait().await;
            }
            let token = self.tokens.token().await?;
            let mut request = self
                .http
                .request(call.method.clone(), call.url)
                .bearer_auth(token.expose_secret());
            if call.method == reqwest::Method::GET {
                // Needed for $count on /users; must be sent with every page.
                request = request.header("ConsistencyLevel", "eventual");
            }
            if let Some(body) = call.body {
                request = request.json(body);
            }
            let result = request.send().await;
            let (retry_after, detail, status) = match result {
                Ok(resp) if resp.status().is_success() => {
                    match resp.bytes().await {
                        Ok(body) => {
                            return Ok(Answer::Done {
                                // Reuses the buffer: the bytes are not copied.
                                body: body.into(),
                            });
                        }
                        Err(e) => {
                            let detail = format!("the answer broke off: {}", error_chain(&e));
                            uncertain(detail.clone())?;
                            (None, detail, None)
                        }
                    }
                }
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = parse_retry_after(resp.headers());
                    let body = resp.text().await.unwrap_or_default();
                    let (code, message) = match serde_json::from_str::<ErrorBody>(&body) {
                        Ok(b) => (b.error.code, b.error.message),
                        Err(_) => (String::new(), body.chars().take(300).collect()),
                    };
                    match status {
                        StatusCode::UNAUTHORIZED if !renewed_token => {
                            // The cached token expired or was revoked early: get a new one
                            // once. Graph did nothing with a refused token, so a write too.
                            self.tokens.invalidate(&token).await;
                            renewed_token = true;
                            continue;
                        }
                        StatusCode::UNAUTHORIZED => {
                            return Err(GraphError::Unauthorized {
                                what,
                                message: format!("{code}: {message}"),
                            });
                        }
                        // Graph did nothing: safe to repeat, a write too.
                        StatusCode::TOO_MANY_REQUESTS => (
                            retry_after,
                            format!("{status}: {code} {message}"),
                            Some(status),
                        ),
                        StatusCode::SERVICE_UNAVAILABLE
                        | StatusCode::BAD_GATEWAY
                        | StatusCode::GATEWAY_TIMEOUT
                        | StatusCode::INTERNAL_SERVER_ERROR => {
                            let detail = format!("{status}: {code} {message}");
                            // A 503 with Retry-After is Graph asking to come back; any other
                            // server error may have come after the change was made.
                            if !(status == StatusCode::SERVICE_UNAVAILABLE && retry_after.is_some())
                            {
                                uncertain(format!("Graph answered HTTP {detail}"))?;
                            }
                            (retry_after, detail, Some(status))
                        }
                        _ => {
                            return Ok(Answer::Refused {
                                status,
                                code,
                                message,
                            });
                        }
                    }
                }
                Err(e) => {
                    let detail = error_chain(&e);
                    // A connection never made carried nothing; anything later may have.
                    if !e.is_connect() {
                        uncertain(if e.is_timeout() {
                            format!(
                                "no answer within {}",
                                humantime::format_duration(self.settings.request_timeout)
                            )
                        } else {
                            detail.clone()
                        })?;
                    }
                    (None, detail, None)
                }
            };

            // Transient: wait as told, or back off with full jitter, within the retry budget.
            let delay = retry_after.unwrap_or_else(|| self.backoff(attempts));
            let elapsed = started.elapsed();
            if elapsed + delay > self.settings.retry_budget {
                let waited =
                    humantime::format_duration(Duration::from_secs(elapsed.as_secs())).to_string();
                // The last answer says which it was: throttling (429) is about this app's
                // rate; a 5xx is Graph itself having trouble.
                return Err(match (status, call.write) {
                    (Some(s), Some(w)) => GraphError::WriteBusy {
                        action: w.action,
                        status: s.as_u16(),
                        waited,
                        attempts,
                    },
                    (Some(StatusCode::TOO_MANY_REQUESTS), None) => GraphError::Throttled {
                        what,
                        status: 429,
                        waited,
                        attempts,
                    },
                    (Some(s), None) => GraphError::Unavailable {
                        what,
                        status: s.as_u16(),
                        waited,
                        attempts,
                    },
                    (None, _) => GraphError::Unreachable {
                        what,
                        attempts,
                        waited,
                        detail,
                    },
                });
            }
            tracing::warn!(
                what,
                attempt = attempts,
                delay_ms = delay.as_millis() as u64,
                "{detail}; retrying"
            );
            self.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(delay).await;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .settings
            .backoff_base
            .saturating_mul(1u32 << attempt.min(16))
            .min(BACKOFF_CAP)
            .max(Duration::from_millis(1));
        rand::rng().random_range(ceiling / 2..=ceiling)
    }

    /// A nextLink must stay on the configured Graph host: the bearer token goes with it.
    fn check_next_link(&self, endpoint: Endpoint, link: &str) -> Result<(), GraphError> {
        let base = self.base();
        if link.starts_with(base) && link[base.len()..].starts_with('/') {
            Ok(())
        } else {
            Err(GraphError::Malformed {
                what: endpoint.what(),
                detail: format!("its @odata.nextLink points away from {base}"),
            })
        }
    }
}

/// One request to make: which collection, the method and URL, a JSON body, and for a write
/// what it does and the permission it needs.
struct Call<'a> {
    endpoint: Endpoint,
    method: reqwest::Method,
    url: &'a str,
    body: Option<&'a serde_json::Value>,
    write: Option<Write>,
}

impl<'a> Call<'a> {
    fn get(endpoint: Endpoint, url: &'a str) -> Self {
        Call {
            endpoint,
            method: reqwest::Method::GET,
            url,
            body: None,
            write: None,
        }
    }
}

/// What a write does, in words ("issue a Temporary Access Pass"), and the application
/// permission it needs.
#[derive(Debug, Clone, Copy)]
struct Write {
    action: &'static str,
    permission: &'static str,
}

/// Graph's answer to a [`Call`]: done (2xx), or refused with a status that is not worth
/// repeating (4xx, or a 5xx outside the retried ones).
enum Answer {
    Done {
        body: Vec<u8>,
    },
    Refused {
        status: StatusCode,
        code: String,
        message: String,
    },
}

/// A refused read in plain words: a missing licence or permission (403), or Graph's own.
fn read_refusal(endpoint: Endpoint, status: StatusCode, code: &str, message: &str) -> GraphError {
    if status == StatusCode::FORBIDDEN {
        if code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant" {
            return GraphError::LicenceMissing(format!("{code}: {message}"));
        }
        return GraphError::PermissionMissing {
            what: endpoint.what(),
            permission: endpoint.permission(),
            message: format!("{code}: {message}"),
        };
    }
    GraphError::Http {
        what: endpoint.what(),
        status: status.as_u16(),
        message: format!("{code}: {message}"),
    }
}

/// A refused write in plain words: the permission to grant (403), a server error after which
/// the write may have been applied, or Graph's reason (any other refusal).
fn write_refusal(write: Write, status: StatusCode, code: String, message: String) -> GraphError {
    if status == StatusCode::FORBIDDEN {
        GraphError::WritePermissionMissing {
            action: write.action,
            permission: write.permission,
            message: format!("{code}: {message}"),
        }
    } else if status.is_server_error() {
        GraphError::WriteUncertain {
            action: write.action,
            detail: format!("Graph answered HTTP {status}: {code} {message}"),
        }
    } else {
        GraphError::WriteRejected {
            action: write.action,
            status: status.as_u16(),
            code,
            message,
        }
    }
}

/// Graph's instants have 100-nanosecond ticks (.NET's `DateTimeOffset`).
const TICK_NANOS: u32 = 100;

/// The first tick at or after `t`.
fn first_tick_from(t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let rest = t.timestamp_subsec_nanos() % TICK_NANOS;
    if rest == 0 {
        Some(t)
    } else {
        t.checked_add_signed(chrono::Duration::nanoseconds(i64::from(TICK_NANOS - rest)))
    }
}

/// The last tick before `t`.
fn last_tick_before(t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let rest = t.timestamp_subsec_nanos() % TICK_NANOS;
    let back = if rest == 0 { TICK_NANOS } else { rest };
    t.checked_sub_signed(chrono::Duration::nanoseconds(i64::from(back)))
}

/// An instant as an OData `$filter` literal: ISO 8601 in UTC, with up to seven fractional
/// digits (Graph refuses more).
fn odata_instant(t: DateTime<Utc>) -> String {
    let ticks = (t.timestamp_subsec_nanos() / TICK_NANOS).min(9_999_999);
    let seconds = t.format("%Y-%m-%dT%H:%M:%S");
    if ticks == 0 {
        format!("{seconds}Z")
    } else {
        format!("{seconds}.{ticks:07}Z")
    }
}

/// `Retry-After` in seconds (Graph's form) or as an HTTP date.
fn parse_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// Which rows of a page to keep (a check of Graph's filtering, client side).
type Keep<T> = Box<dyn Fn(&T) -> bool + Send + Sync>;

/// Walks a collection page by page, following each `@odata.nextLink` whole.
pub struct Pages<'c, T> {
    client: &'c Client,
    endpoint: Endpoint,
    next: Option<String>,
    keep: Option<Keep<T>>,
    _item: std::marker::PhantomData<T>,
}

impl<'c, T: DeserializeOwned> Pages<'c, T> {
    fn new(client: &'c Client, endpoint: Endpoint, first: String) -> Self {
        Pages {
            client,
            endpoint,
            next: Some(first),
            keep: None,
            _item: std::marker::PhantomData,
        }
    }

    /// No pages at all (nothing to ask).
    fn done(client: &'c Client, endpoint: Endpoint) -> Self {
        Pages {
            next: None,
            ..Pages::new(client, endpoint, String::new())
        }
    }

    /// Drops the rows of every page that `keep` refuses.
    fn keeping(mut self, keep: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        self.keep = Some(Box::new(keep));
        self
    }

    /// The next page, or `None` after the last one.
    pub async fn next_page(&mut self) -> Option<Result<Page<T>, GraphError>> {
        let url = self.next.take()?;
        let mut page = match self.client.get::<Page<T>>(self.endpoint, &url).await {
            Ok(p) => p,
            Err(e) => return Some(Err(e)),
        };
        if let Some(keep) = &self.keep {
            page.value.retain(|row| keep(row));
        }
        if let Some(link) = &page.next_link {
            if let Err(e) = self.client.check_next_link(self.endpoint, link) {
                return Some(Err(e));
            }
            self.next = Some(link.clone());
        }
        Some(Ok(page))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "7".parse().expect("header"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().expect("header"),
        );
        assert_eq!(parse_retry_after(&h), Some(Duration::ZERO));
        h.insert("retry-after", "soon".parse().expect("header"));
        assert_eq!(parse_retry_after(&h), None);
    }

    #[test]
    fn sign_in_windows_end_at_the_last_tick_before_their_end() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("instant")
                .with_timezone(&Utc)
        };
        let midnight = at("2026-02-01T00:00:00Z");
        assert_eq!(
            last_tick_before(midnight).map(odata_instant).as_deref(),
            Some("2026-01-31T23:59:59.9999999Z")
        );
        assert_eq!(
            first_tick_from(midnight).map(odata_instant).as_deref(),
            Some("2026-02-01T00:00:00Z")
        );
        // Between two ticks: the window still holds exactly the ticks in [from, to).
        let odd = at("2026-02-01T10:00:00.123456789Z");
        assert_eq!(
            first_tick_from(odd).map(odata_instant).as_deref(),
            Some("2026-02-01T10:00:00.1234568Z")
        );
        assert_eq!(
            last_tick_before(odd).map(odata_instant).as_deref(),
            Some("2026-02-01T10:00:00.1234567Z")
        );
        assert_eq!(
            odata_instant(at("2026-02-01T10:00:00.5Z")),
            "2026-02-01T10:00:00.5000000Z"
        );
    }
}
