//! The simulated tenant over HTTP: a fake Graph (registration report and `/users`, with
//! `@odata.nextLink` paging and bearer checks) and a fake token endpoint (client secret or
//! signed client assertion), answering with Graph's documented status codes and error bodies
//! (`innerError` with the request's ids; `request-id` and `client-request-id` on every answer).
//! The sign-in side (OpenID Connect) lives in [`super::idp`] on the same router, the
//! policy, group and audit endpoints in [`super::policy_api`], and the sign-in log in
//! [`super::signins`].
//! Faults can be switched at run time (`POST /_sim/faults`) to exercise the client.

use super::idp::{self, IdTokenFault, IdpState};
use super::policy::PolicyStory;
use super::policy_api;
use super::roles_api;
use super::signins::{self, DayCache};
use super::tenant::{Person, Tenant};
use super::write_api::{self, WriteRecord, WriteState};
use crate::graph::model::{
    DirectoryUser, ErrorBody, ErrorDetail, InnerError, Page, TokenErrorBody,
};
use axum::body::Body;
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Utc;
use serde::ser::SerializeMap as _;
use serde::{Deserialize, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Default identities of the simulated tenant and its app registration.
pub const SIM_TENANT_ID: &str = "00000000-0000-4000-8000-00000000c0de";
pub const SIM_CLIENT_ID: &str = "11111111-1111-4111-8111-111111111111";
pub const SIM_CLIENT_SECRET: &str = "sim-client-secret";
/// The app registration's name and service principal, as the audit log shows them.
pub const SIM_APP_NAME: &str = "phoneless";
pub const SIM_SERVICE_PRINCIPAL_ID: &str = "22222222-2222-4222-8222-222222222222";
/// A second app registration, for the writes (a Temporary Access Pass, group members), so
/// the main one can stay read-only.
pub const SIM_WRITE_CLIENT_ID: &str = "33333333-3333-4333-8333-333333333333";
pub const SIM_WRITE_CLIENT_SECRET: &str = "sim-write-client-secret";
pub const SIM_WRITE_APP_NAME: &str = "phoneless (helpdesk actions)";
pub const SIM_WRITE_SERVICE_PRINCIPAL_ID: &str = "44444444-4444-4444-8444-444444444444";
/// Rows per report page; Graph chooses its own page size for this endpoint.
pub const DEFAULT_REPORT_PAGE_SIZE: usize = 1_000;
/// Graph's default `/users` page size when `$top` is absent.
const DEFAULT_USERS_PAGE_SIZE: usize = 100;

/// How the fake is set up.
#[derive(Debug, Clone)]
pub struct FakeSettings {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// PEM certificate whose key may sign client assertions.
    pub certificate_pem: Option<String>,
    pub report_page_size: usize,
    pub token_lifetime: Duration,
    /// The `Retry-After` value sent with throttling faults.
    pub retry_after_secs: u64,
    /// Redirect URIs registered on the app, matched exactly at sign-in. Empty (the default)
    /// accepts any redirect URI, so a test or demo need not know its port in advance.
    pub redirect_uris: Vec<String>,
    /// Sign-ins per page of the sign-in log when the request names no `$top` (Graph's default
    /// and largest page is 1,000; `$top` may ask for up to that whatever this is).
    pub sign_in_page_size: usize,
    /// Conditional Access allows one request per this interval (zero: no limit, for making
    /// months of history in seconds).
    pub conditional_access_interval: Duration,
    /// The second app registration (for writes), accepted by the token endpoint like the
    /// main one: its secret, or an assertion signed with its certificate's key.
    pub write_client_id: String,
    pub write_client_secret: String,
    pub write_certificate_pem: Option<String>,
    /// The client ids granted the write permissions (`UserAuthenticationMethod.ReadWrite.All`,
    /// `GroupMember.ReadWrite.All`); any other gets 403 on a write. `None`: every client.
    pub write_clients: Option<Vec<String>>,
}

impl Default for FakeSettings {
    fn default() -> Self {
        FakeSettings {
            tenant_id: SIM_TENANT_ID.to_owned(),
            client_id: SIM_CLIENT_ID.to_owned(),
            client_secret: SIM_CLIENT_SECRET.to_owned(),
            certificate_pem: None,
            report_page_size: DEFAULT_REPORT_PAGE_SIZE,
            sign_in_page_size: signins::MAX_SIGN_IN_PAGE_SIZE,
            token_lifetime: Duration::from_secs(3599),
            retry_after_secs: 1,
            redirect_uris: Vec::new(),
            conditional_access_interval: super::policy_api::CONDITIONAL_ACCESS_INTERVAL,
            write_client_id: SIM_WRITE_CLIENT_ID.to_owned(),
            write_client_secret: SIM_WRITE_CLIENT_SECRET.to_owned(),
            write_certificate_pem: None,
            write_clients: None,
        }
    }
}

/// Faults to inject; counters count down as requests are answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Answer the next N data requests with 429 and `Retry-After`.
    pub throttle: u32,
    /// Answer the next N data requests with 429 and no `Retry-After`.
    pub throttle_without_retry_after: u32,
    /// Answer the next N data requests with 503.
    pub unavailable: u32,
    /// Delay every data page by this many milliseconds.
    pub slow_ms: u64,
    /// Serve this report page (0-based) cut off mid-JSON, every time it is asked for.
    pub malformed_page: Option<u32>,
    /// Revoke every token issued so far (applied once, then cleared).
    pub expire_tokens: bool,
    /// The tenant has no Entra ID P1/P2 licence: the report and the sign-in log answer 403.
    pub no_licence: bool,
    /// The app lacks AuditLog.Read.All: the report answers 403.
    pub deny_report: bool,
    /// The app lacks AuditLog.Read.All for the sign-in log: it answers 403.
    pub deny_sign_ins: bool,
    /// The app lacks User.Read.All: /users answers 403.
    pub deny_users: bool,
    /// The first N rows of the report's first page carry an id that is not a GUID.
    pub bad_ids: u32,
    /// Make the next ID token bad in this way (applied once, then cleared).
    pub id_token: Option<IdTokenFault>,
    /// The app lacks Policy.Read.All: the methods policy, strength and Conditional Access
    /// endpoints answer 403.
    pub deny_policies: bool,
    /// The app lacks GroupMember.Read.All: `/groups/…` answers 403.
    pub deny_group_members: bool,
    /// The app lacks AuditLog.Read.All for the directory audit log: it answers 403.
    pub deny_audit: bool,
    /// The app lacks RoleManagement.Read.Directory: `roleAssignments` and
    /// `roleEligibilitySchedules` answer 403.
    pub deny_roles: bool,
    /// The tenant has no Entra ID P2 (no PIM): `roleEligibilitySchedules` answers 400
    /// `AadPremiumLicenseRequired`.
    pub no_pim: bool,
    /// The app lacks UserAuthenticationMethod.ReadWrite.All: issuing a Temporary Access Pass
    /// answers 403.
    pub deny_tap_write: bool,
    /// The app lacks GroupMember.ReadWrite.All: adding and removing members answer 403.
    pub deny_member_write: bool,
}

/// Counts of what the fake has served, for tests and the `/_sim/state` page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Served {
    /// Access tokens issued by the client-credentials grant.
    pub tokens_issued: u32,
    pub report_pages: u32,
    pub users_pages: u32,
    /// Pages of `/beta/auditLogs/signIns`.
    pub sign_in_pages: u32,
    pub throttled: u32,
    pub unavailable: u32,
    pub unauthorized: u32,
    /// ID tokens issued by the authorization-code grant (faulty ones included).
    pub id_tokens_issued: u32,
    pub jwks_requests: u32,
    pub discovery_requests: u32,
    pub authorize_requests: u32,
    /// Answers of `/policies/authenticationMethodsPolicy`.
    pub methods_policy_requests: u32,
    pub strength_requests: u32,
    /// Conditional Access answers, and the 429s of its one-request-per-second limit.
    pub conditional_access_requests: u32,
    pub conditional_access_throttled: u32,
    /// `/groups/{id}` answers and `/groups/{id}/members` pages.
    pub group_requests: u32,
    pub member_pages: u32,
    pub audit_pages: u32,
    /// `/groups/{id}/transitiveMembers` pages.
    pub transitive_member_pages: u32,
    /// Answers of `/beta/policies/authenticationMethodsPolicy`.
    pub beta_methods_policy_requests: u32,
    /// Pages of `roleAssignments` and of `roleEligibilitySchedules`.
    pub role_pages: u32,
    pub eligibility_pages: u32,
    /// Answers of `GET /users/{id}`, of `checkMemberGroups` and of the Temporary Access Pass
    /// list.
    pub user_requests: u32,
    pub member_group_checks: u32,
    pub tap_lists: u32,
    /// Write requests answered (whatever the answer), and those answered with 2xx.
    pub writes: u32,
    pub writes_done: u32,
    /// Requests that would have deleted a directory object (`DELETE …/members/{id}` without
    /// `/$ref`), refused.
    pub dangerous_calls: u32,
}

/// An access token the fake issued: until when, and to which app registration.
#[derive(Debug, Clone)]
pub(super) struct IssuedToken {
    pub(super) expires: Instant,
    pub(super) client_id: String,
}

pub(super) struct Inner {
    pub(super) tenant: Tenant,
    pub(super) settings: FakeSettings,
    day: AtomicU32,
    pub(super) faults: Mutex<Faults>,
    pub(super) tokens: Mutex<HashMap<String, IssuedToken>>,
    pub(super) served: Mutex<Served>,
    /// When each report request arrived (to check pacing).
    report_requests: Mutex<Vec<Instant>>,
    /// When each sign-in log request arrived: the reports throttle covers both.
    pub(super) sign_in_requests: Mutex<Vec<Instant>>,
    /// The indexes of the days of the sign-in log being paged.
    pub(super) sign_in_days: DayCache,
    /// Signing keys and outstanding authorization codes of the identity provider.
    pub(super) idp: IdpState,
    /// The policies, groups and audit log of the tenant, drawn once.
    pub(super) policy: PolicyStory,
    /// When the last Conditional Access request arrived (its 1 request/second limit).
    pub(super) last_conditional_access: Mutex<Option<Instant>>,
    /// Policies served instead of the story's (tests that need a configuration the story
    /// never has).
    pub(super) policy_override: Mutex<PolicyOverride>,
    /// What the write endpoints changed and were asked.
    pub(super) writes: Mutex<WriteState>,
}

/// Policies to serve instead of the story's; `None` serves the story's.
#[derive(Debug, Clone, Default)]
pub struct PolicyOverride {
    pub methods: Option<crate::graph::model::AuthenticationMethodsPolicy>,
    /// The beta policy; without it, [`Self::methods`] (if set) with the story's
    /// `optOutSettings`.
    pub beta_methods: Option<crate::graph::model::AuthenticationMethodsPolicy>,
    pub strengths: Option<Vec<crate::graph::model::AuthenticationStrengthPolicy>>,
    pub conditional_access: Option<Vec<crate::graph::model::ConditionalAccessPolicy>>,
}

/// A handle on a running (or to-be-run) fake Graph; clones share state.
#[derive(Clone)]
pub struct FakeGraph {
    pub(super) inner: Arc<Inner>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FakeGraph {
    pub fn new(tenant: Tenant, settings: FakeSettings) -> Self {
        let day = tenant.days;
        let policy = PolicyStory::new(&tenant);
        FakeGraph {
            inner: Arc::new(Inner {
                tenant,
                settings,
                day: AtomicU32::new(day),
                faults: Mutex::new(Faults::default()),
                tokens: Mutex::new(HashMap::new()),
                served: Mutex::new(Served::default()),
                report_requests: Mutex::new(Vec::new()),
                sign_in_requests: Mutex::new(Vec::new()),
                sign_in_days: DayCache::default(),
                idp: IdpState::new(),
                policy,
                last_conditional_access: Mutex::new(None),
                policy_override: Mutex::new(PolicyOverride::default()),
                writes: Mutex::new(WriteState::default()),
            }),
        }
    }

    pub fn tenant(&self) -> &Tenant {
        &self.inner.tenant
    }

    /// The tenant's policies, groups and audit log (the same as [`Tenant::policy_story`]).
    pub fn policy_story(&self) -> &PolicyStory {
        &self.inner.policy
    }

    pub fn day(&self) -> u32 {
        self.inner.day.load(Ordering::SeqCst)
    }

    /// Serves these policies instead of the story's until set back to the default.
    pub fn set_policy_override(&self, o: PolicyOverride) {
        *lock(&self.inner.policy_override) = o;
    }

    pub(super) fn policy_override(&self) -> PolicyOverride {
        lock(&self.inner.policy_override).clone()
    }

    /// Which day of the story the fake serves.
    pub fn set_day(&self, day: u32) {
        self.inner.day.store(day, Ordering::SeqCst);
    }

    pub fn set_faults(&self, mut faults: Faults) {
        if faults.expire_tokens {
            lock(&self.inner.tokens).clear();
            faults.expire_tokens = false;
        }
        *lock(&self.inner.faults) = faults;
    }

    pub fn faults(&self) -> Faults {
        lock(&self.inner.faults).clone()
    }

    pub fn served(&self) -> Served {
        lock(&self.inner.served).clone()
    }

    /// When each request of the registration report arrived.
    pub fn report_request_times(&self) -> Vec<Instant> {
        lock(&self.inner.report_requests).clone()
    }

    /// When each request of the sign-in log arrived.
    pub fn sign_in_request_times(&self) -> Vec<Instant> {
        lock(&self.inner.sign_in_requests).clone()
    }

    /// Every request under Graph's reports throttle (the registration report and the sign-in
    /// log: 5 per 10 seconds together, graph-api.md §9), in order of arrival.
    pub fn reports_throttle_request_times(&self) -> Vec<Instant> {
        let mut times = self.report_request_times();
        times.extend(self.sign_in_request_times());
        times.sort_unstable();
        times
    }

    /// Every write asked of the fake, in order, whatever it answered (the pass is never kept).
    pub fn writes(&self) -> Vec<WriteRecord> {
        lock(&self.inner.writes).records.clone()
    }

    /// The membership changes made through the write endpoints, laid over the story.
    pub fn membership_writes(&self) -> Vec<super::policy::MembershipWrite> {
        lock(&self.inner.writes).members.clone()
    }

    /// The story's clock: the current day's date at the wall clock's time of day (the demo's
    /// last day is today, so there it is the real time). Writes are dated by it, and a
    /// Temporary Access Pass expires by it.
    pub fn now(&self) -> chrono::DateTime<Utc> {
        self.tenant()
            .date(self.day())
            .and_time(Utc::now().time())
            .and_utc()
    }

    /// The index of the person with this object id (or user principal name) in the
    /// directory on the current day.
    pub(super) fn person_index(&self, id: &str) -> Option<usize> {
        let day = self.day();
        let tenant = self.tenant();
        let i = tenant
            .people
            .iter()
            .position(|p| p.id.eq_ignore_ascii_case(id) || p.upn.eq_ignore_ascii_case(id))?;
        tenant.directory_row(i, day).map(|_| i)
    }

    pub fn router(&self) -> Router {
        let graph = Router::new()
            .route(
                "/v1.0/reports/authenticationMethods/userRegistrationDetails",
                get(report),
            )
            .route("/v1.0/users", get(users))
            .route("/v1.0/users/{id}", get(user))
            .route("/beta/auditLogs/signIns", get(signins::sign_ins))
            .merge(policy_api::routes())
            .merge(write_api::routes())
            .merge(roles_api::routes())
            .route("/v1.0/{*rest}", any(unknown_segment))
            .route("/beta/{*rest}", any(unknown_segment))
            .layer(middleware::from_fn(graph_envelope));
        Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/_sim/state", get(state))
            .route("/_sim/day", post(set_day))
            .route("/_sim/faults", post(set_faults))
            .merge(idp::routes())
            .merge(graph)
            .with_state(self.clone())
    }

    /// Serves on `listener` until the future is dropped.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }

    /// Starts on a free loopback port in the background; returns its base URL.
    pub async fn spawn(&self) -> std::io::Result<String> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let fake = self.clone();
        tokio::spawn(async move {
            if let Err(e) = fake.serve(listener).await {
                tracing::error!("fake Graph stopped: {e}");
            }
        });
        Ok(format!("http://{addr}"))
    }
}

/// Graph's headers naming a request: its own id, and the one the client chose.
const REQUEST_ID: &str = "request-id";
const CLIENT_REQUEST_ID: &str = "client-request-id";

/// A Graph error still to be written: [`graph_envelope`] gives it its body, which carries the
/// request's ids.
#[derive(Debug, Clone)]
struct GraphFault {
    code: String,
    message: String,
}

/// A Graph error answer: `{"error": {"code", "message", "innerError"}}`, the body written by
/// [`graph_envelope`].
pub(super) fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut resp = status.into_response();
    resp.extensions_mut().insert(GraphFault {
        code: code.to_owned(),
        message: message.to_owned(),
    });
    resp
}

/// What Graph puts around every answer: a `request-id` of its own and the client's
/// `client-request-id` (echoed, or made up when the client sent none) as headers, and on an
/// error the same ids with the date as the body's `innerError`.
async fn graph_envelope(request: Request, next: Next) -> Response {
    let client_request_id = request
        .headers()
        .get(CLIENT_REQUEST_ID)
        .filter(|v| !v.is_empty())
        .cloned()
        .unwrap_or_else(new_id);
    let request_id = new_id();
    let mut resp = next.run(request).await;
    if let Some(fault) = resp.extensions_mut().remove::<GraphFault>() {
        let id = |v: &HeaderValue| v.to_str().ok().map(str::to_owned);
        let body = ErrorBody {
            error: ErrorDetail {
                code: fault.code,
                message: fault.message,
                inner_error: Some(InnerError {
                    date: Some(Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string()),
                    request_id: id(&request_id),
                    client_request_id: id(&client_request_id),
                }),
            },
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        *resp.body_mut() = Body::from(bytes);
    }
    let headers = resp.headers_mut();
    headers.insert(REQUEST_ID, request_id);
    headers.insert(CLIENT_REQUEST_ID, client_request_id);
    resp
}

fn new_id() -> HeaderValue {
    HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("00000000-0000-0000-0000-000000000000"))
}

/// A Graph path the fake does not serve, refused as Graph refuses a segment it does not know
/// (named by its last segment: the ones before it usually exist).
async fn unknown_segment(Path(rest): Path<String>) -> Response {
    let segment = rest.rsplit('/').find(|s| !s.is_empty()).unwrap_or_default();
    graph_error(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        &format!("Resource not found for the segment '{segment}'."),
    )
}

/// The token endpoint's refusal as Entra words it: the `AADSTS` code from the description in
/// `error_codes` and `error_uri`, and the trace id, correlation id and time both as fields and
/// as lines after the description.
pub(super) fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    let code = description
        .strip_prefix("AADSTS")
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse::<u32>().ok());
    let trace_id = uuid::Uuid::new_v4().to_string();
    let correlation_id = uuid::Uuid::new_v4().to_string();
    let timestamp = Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    let body = TokenErrorBody {
        error: error.to_owned(),
        error_description: format!(
            "{description}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
        ),
        error_codes: code.into_iter().collect(),
        error_uri: code.map(|c| format!("https://login.microsoftonline.com/error?code={c}")),
        timestamp: Some(timestamp),
        trace_id: Some(trace_id),
        correlation_id: Some(correlation_id),
    };
    (status, Json(body)).into_response()
}

/// A refusal of the token endpoint, answered by [`token_error`].
#[derive(Debug)]
pub(super) struct TokenRefusal {
    pub(super) status: StatusCode,
    pub(super) error: &'static str,
    pub(super) description: String,
}

impl TokenRefusal {
    pub(super) fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> TokenRefusal {
        TokenRefusal {
            status,
            error,
            description: description.into(),
        }
    }
}

impl IntoResponse for TokenRefusal {
    fn into_response(self) -> Response {
        token_error(self.status, self.error, &self.description)
    }
}

pub(super) fn tenant_not_found(tenant: &str) -> String {
    format!(
        "AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID."
    )
}

#[derive(Deserialize)]
pub(super) struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
    pub(super) scope: Option<String>,
    /// The authorization-code grant's fields.
    pub(super) code: Option<String>,
    pub(super) redirect_uri: Option<String>,
    pub(super) code_verifier: Option<String>,
}

#[derive(Deserialize)]
struct AssertionClaims {
    #[serde(rename = "jti")]
    _jti: String,
}

async fn token(
    State(fake): State<FakeGraph>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let s = &fake.inner.settings;
    if tenant != s.tenant_id {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &tenant_not_found(&tenant),
        );
    }
    match form.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some("authorization_code") => return idp::redeem_code(&fake, &tenant, &headers, &form),
        _ => {
            return token_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "AADSTS70003: The app requested an unsupported grant type.",
            );
        }
    }
    if !form
        .scope
        .as_deref()
        .is_some_and(|sc| sc.ends_with("/.default") && !sc.contains(' '))
    {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
        );
    }
    let client_id = match authenticate_client(s, &tenant, &headers, &form) {
        Ok(client_id) => client_id,
        Err(refusal) => return refusal.into_response(),
    };
    let value = format!("sim.{}", uuid::Uuid::new_v4().simple());
    lock(&fake.inner.tokens).insert(
        value.clone(),
        IssuedToken {
            expires: Instant::now() + s.token_lifetime,
            client_id,
        },
    );
    lock(&fake.inner.served).tokens_issued += 1;
    Json(serde_json::json!({
        "token_type": "Bearer",
        "expires_in": s.token_lifetime.as_secs(),
        "ext_expires_in": s.token_lifetime.as_secs(),
        "access_token": value,
    }))
    .into_response()
}

/// One app registration the token endpoint knows: its id and credentials.
struct Registration<'a> {
    client_id: &'a str,
    secret: &'a str,
    certificate_pem: Option<&'a str>,
}

impl FakeSettings {
    /// The app registration with this client id: the main one or the one for writes.
    fn registration(&self, client_id: &str) -> Option<Registration<'_>> {
        [
            Registration {
                client_id: &self.client_id,
                secret: &self.client_secret,
                certificate_pem: self.certificate_pem.as_deref(),
            },
            Registration {
                client_id: &self.write_client_id,
                secret: &self.write_client_secret,
                certificate_pem: self.write_certificate_pem.as_deref(),
            },
        ]
        .into_iter()
        .find(|r| r.client_id == client_id)
    }
}

/// Checks who is calling the token endpoint, the same way for every grant: the client id (in
/// the body or HTTP Basic) of a registered app, then its client secret (body or HTTP Basic)
/// or an assertion signed with its certificate's key. The client id it authenticated.
pub(super) fn authenticate_client(
    s: &FakeSettings,
    tenant: &str,
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<String, TokenRefusal> {
    let basic = basic_credentials(headers);
    let basic_id = basic.as_ref().map(|(id, _)| id.as_str());
    let client_id = form.client_id.as_deref().or(basic_id);
    let registration = client_id.and_then(|id| s.registration(id));
    let Some(registration) = registration.filter(|r| basic_id.is_none_or(|id| id == r.client_id))
    else {
        return Err(TokenRefusal::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            format!(
                "AADSTS700016: Application with identifier '{}' was not found in the directory.",
                basic_id.or(form.client_id.as_deref()).unwrap_or_default()
            ),
        ));
    };
    const BAD_SECRET: &str = "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.";
    let secret = match (form.client_secret.as_deref(), basic.as_ref()) {
        (Some(body), Some((_, header))) if body != header => Err(BAD_SECRET),
        (body, header) => Ok(body.or(header.map(|(_, secret)| secret.as_str()))),
    };
    let authenticated = secret.and_then(|secret| match (secret, &form.client_assertion) {
        (Some(secret), None) if secret == registration.secret => Ok(()),
        (Some(_), None) => Err(BAD_SECRET),
        (None, Some(assertion)) => {
            let audience = format!("{}/{tenant}/oauth2/v2.0/token", base_url(headers));
            verify_assertion(
                &registration,
                form.client_assertion_type.as_deref(),
                assertion,
                &audience,
            )
        }
        _ if form.grant_type.as_deref() == Some("authorization_code") => Err(
            "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ),
        _ => Err(
            "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
        ),
    });
    authenticated
        .map(|()| registration.client_id.to_owned())
        .map_err(|description| {
            TokenRefusal::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
        })
}

/// The client id and secret of an `Authorization: Basic` header, each form-urlencoded first
/// as RFC 6749 §2.3.1 asks.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id), form_decode(secret)))
}

/// Undoes form-urlencoding of one value (`+` and `%XX`); a raw `&` or `=` is kept as it is.
fn form_decode(s: &str) -> String {
    let whole = s.replace('&', "%26").replace('=', "%3D");
    form_urlencoded::parse(whole.as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// Checks a client assertion as Entra does: signed by the registered certificate's key,
/// named by its SHA-256 thumbprint, for this token endpoint, issued by and about the app.
fn verify_assertion(
    s: &Registration<'_>,
    assertion_type: Option<&str>,
    assertion: &str,
    audience: &str,
) -> Result<(), &'static str> {
    const REFUSED: &str = "AADSTS700027: Client assertion failed signature validation.";
    if assertion_type != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
        return Err("AADSTS700024: Client assertion type is not supported.");
    }
    let cert_pem = s
        .certificate_pem
        .ok_or("AADSTS700027: No certificate is registered on the application.")?;
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| REFUSED)?;
    if !matches!(
        header.alg,
        jsonwebtoken::Algorithm::PS256 | jsonwebtoken::Algorithm::RS256
    ) {
        return Err(REFUSED);
    }
    let cert = pem::parse(cert_pem).map_err(|_| REFUSED)?;
    let thumbprint = URL_SAFE_NO_PAD.encode(Sha256::digest(cert.contents()));
    if header.x5t_s256.as_deref() != Some(thumbprint.as_str()) {
        return Err(
            "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application.",
        );
    }
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(cert_pem.as_bytes()).map_err(|_| REFUSED)?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[s.client_id]);
    validation.sub = Some(s.client_id.to_owned());
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub", "nbf"]);
    jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation).map_err(|_| REFUSED)?;
    Ok(())
}

/// Graph's answer when the app lacks a permission (a `deny_*` fault).
pub(super) fn permission_denied() -> Response {
    graph_error(
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

/// The prologue of every data endpoint: the bearer check, then the permission the endpoint
/// needs (`lacks` reads its `deny_*` fault). `None` means go on.
pub(super) async fn admit(
    fake: &FakeGraph,
    headers: &HeaderMap,
    lacks: impl Fn(&Faults) -> bool,
) -> Option<Response> {
    if let Some(refused) = guard(fake, headers).await {
        return Some(refused);
    }
    lacks(&fake.faults()).then(permission_denied)
}

/// The app registration the request's bearer token was issued to, if it is a valid token.
pub(super) fn bearer_client(fake: &FakeGraph, headers: &HeaderMap) -> Option<String> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    lock(&fake.inner.tokens)
        .get(token)
        .filter(|issued| Instant::now() < issued.expires)
        .map(|issued| issued.client_id.clone())
}

/// Bearer check and fault injection shared by the data endpoints; `None` means go on.
pub(super) async fn guard(fake: &FakeGraph, headers: &HeaderMap) -> Option<Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let valid = token.is_some_and(|t| {
        lock(&fake.inner.tokens)
            .get(t)
            .is_some_and(|issued| Instant::now() < issued.expires)
    });
    if !valid {
        lock(&fake.inner.served).unauthorized += 1;
        let message = if token.is_none() {
            "Access token is empty."
        } else {
            "Access token has expired or is not yet valid."
        };
        return Some(graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        ));
    }
    let (slow, injected) = {
        let mut f = lock(&fake.inner.faults);
        let injected = if f.throttle > 0 {
            f.throttle -= 1;
            Some((StatusCode::TOO_MANY_REQUESTS, true))
        } else if f.throttle_without_retry_after > 0 {
            f.throttle_without_retry_after -= 1;
            Some((StatusCode::TOO_MANY_REQUESTS, false))
        } else if f.unavailable > 0 {
            f.unavailable -= 1;
            Some((StatusCode::SERVICE_UNAVAILABLE, true))
        } else {
            None
        };
        (f.slow_ms, injected)
    };
    if slow > 0 {
        tokio::time::sleep(Duration::from_millis(slow)).await;
    }
    let (status, with_retry_after) = injected?;
    let mut served = lock(&fake.inner.served);
    let mut resp = if status == StatusCode::TOO_MANY_REQUESTS {
        served.throttled += 1;
        graph_error(status, "TooManyRequests", "Too many requests.")
    } else {
        served.unavailable += 1;
        graph_error(
            status,
            "serviceNotAvailable",
            "The service is temporarily unavailable.",
        )
    };
    if with_retry_after {
        let secs = fake.inner.settings.retry_after_secs.to_string();
        if let Ok(v) = HeaderValue::from_str(&secs) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    Some(resp)
}

/// The collection a `$skiptoken` pages: a token of one is refused by the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Paged {
    Report = 1,
    Users = 2,
    Members = 3,
    Audit = 4,
    Roles = 5,
    Eligibility = 6,
    TransitiveMembers = 7,
    SignIns = 8,
}

/// The first bytes of every skiptoken; in base64 they read `+/`.
pub(super) const SKIPTOKEN_MAGIC: [u8; 2] = [0xFB, 0xFF];

/// An opaque `$skiptoken` for the page of `paged` that starts at `offset` on `day`: standard
/// base64 of 11 bytes, so it holds `+`, `/` and an `=` of padding as Graph's tokens do, must
/// be percent-encoded in a nextLink ([`query_value`]), and comes back unreadable from a client
/// that decodes or re-encodes the link on the way.
pub(super) fn skiptoken(paged: Paged, day: u32, offset: usize) -> String {
    let mut bytes = Vec::with_capacity(11);
    bytes.extend_from_slice(&SKIPTOKEN_MAGIC);
    bytes.push(paged as u8);
    bytes.extend_from_slice(&day.to_be_bytes());
    bytes.extend_from_slice(&u32::try_from(offset).unwrap_or(u32::MAX).to_be_bytes());
    STANDARD.encode(bytes)
}

/// Where a page of `paged` starts: the day being paged and the offset, from the `$skiptoken`
/// of a nextLink (the current day from the start without one); `None` for a token we did not
/// issue for this collection.
pub(super) fn page_start(
    fake: &FakeGraph,
    q: &HashMap<String, String>,
    paged: Paged,
) -> Option<(u32, usize)> {
    let Some(token) = q.get("$skiptoken") else {
        return Some((fake.day(), 0));
    };
    let bytes = STANDARD.decode(token).ok()?;
    let (head, rest) = bytes.split_first_chunk::<3>()?;
    if head[..2] != SKIPTOKEN_MAGIC || head[2] != paged as u8 {
        return None;
    }
    let (day, rest) = rest.split_first_chunk::<4>()?;
    let offset: [u8; 4] = rest.try_into().ok()?;
    Some((
        u32::from_be_bytes(*day),
        usize::try_from(u32::from_be_bytes(offset)).ok()?,
    ))
}

/// A query value percent-encoded for a nextLink (`+`, `/`, `=`, `,`, spaces…).
pub(super) fn query_value(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

pub(super) fn bad_skiptoken() -> Response {
    bad_request("Invalid skip token.")
}

/// Graph's 400 for a query it cannot answer.
pub(super) fn bad_request(message: &str) -> Response {
    graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
}

/// The base URL clients used to reach us, for nextLinks and the identity provider's URLs.
pub(super) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// The `@odata.context` of an answer: the metadata URL under the base the client used, then
/// what the answer holds (`users(id,displayName)`, `groups/$entity`, …).
pub(super) fn context(headers: &HeaderMap, what: &str) -> String {
    format!("{}/v1.0/$metadata#{what}", base_url(headers))
}

/// The same for an answer of the beta endpoint (`…/beta/$metadata#…`).
pub(super) fn beta_context(headers: &HeaderMap, what: &str) -> String {
    format!("{}/beta/$metadata#{what}", base_url(headers))
}

/// Rows from person `from` on, up to `size`; the index to continue from if any remain.
fn collect_page<T>(
    tenant: &Tenant,
    from: usize,
    size: usize,
    row: impl Fn(usize) -> Option<T>,
) -> (Vec<T>, Option<usize>) {
    let mut out = Vec::with_capacity(size.min(1024));
    let mut i = from;
    while i < tenant.people.len() && out.len() < size {
        if let Some(r) = row(i) {
            out.push(r);
        }
        i += 1;
    }
    (out, (i < tenant.people.len()).then_some(i))
}

pub(super) fn json_bytes(body: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/json; odata.metadata=minimal",
        )],
        body,
    )
        .into_response()
}

async fn report(
    State(fake): State<FakeGraph>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    lock(&fake.inner.report_requests).push(Instant::now());
    if let Some(resp) = guard(&fake, &headers).await {
        return resp;
    }
    let faults = fake.faults();
    if faults.no_licence {
        return graph_error(
            StatusCode::FORBIDDEN,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
        );
    }
    if faults.deny_report {
        return permission_denied();
    }
    let Some((day, from)) = page_start(&fake, &q, Paged::Report) else {
        return bad_skiptoken();
    };
    let size = fake.inner.settings.report_page_size.max(1);
    let page_no = (from / size) as u32;
    let tenant = fake.tenant();
    let (mut value, next) = collect_page(tenant, from, size, |i| tenant.report_row(i, day));
    if from == 0 {
        for (n, row) in value.iter_mut().take(faults.bad_ids as usize).enumerate() {
            row.id = format!("not-a-guid-{n}");
        }
    }
    let next_link = next.map(|i| {
        format!(
            "{}/v1.0/reports/authenticationMethods/userRegistrationDetails?$skiptoken={}",
            base_url(&headers),
            query_value(&skiptoken(Paged::Report, day, i))
        )
    });
    lock(&fake.inner.served).report_pages += 1;
    let page = Page {
        context: Some(context(
            &headers,
            "reports/authenticationMethods/userRegistrationDetails",
        )),
        count: None,
        next_link,
        value,
    };
    let mut body = match serde_json::to_vec(&page) {
        Ok(b) => b,
        Err(e) => {
            return graph_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "generalException",
                &e.to_string(),
            );
        }
    };
    if faults.malformed_page == Some(page_no) {
        body.truncate(body.len() / 2);
    }
    json_bytes(body)
}

/// The user properties the fake holds, by their Graph names. `$select` of any other is refused
/// as Graph refuses a property it does not know, so one the real user resource has but the
/// fake lacks must be added here (and to [`UserView`]) before a client may select it.
const USER_PROPERTIES: &[&str] = &[
    "accountEnabled",
    "businessPhones",
    "companyName",
    "creationType",
    "department",
    "displayName",
    "externalUserState",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "usageLocation",
    "userPrincipalName",
    "userType",
];

/// Graph's default property set of a user, all `/users` answers without `$select`: no
/// `department`, `usageLocation`, `accountEnabled`, `companyName` or `userType`.
const DEFAULT_USER_PROPERTIES: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// The properties a `$select` names, in Graph's spelling (matched regardless of case, each
/// once); `None` without `$select`. A name not in `known` is refused with Graph's message for
/// `type_name` (answered by [`bad_request`]).
pub(super) fn selection(
    select: Option<&String>,
    known: &[&'static str],
    type_name: &str,
) -> Result<Option<Vec<&'static str>>, String> {
    let Some(select) = select else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for name in select.split(',').map(str::trim) {
        let Some(&property) = known.iter().find(|k| k.eq_ignore_ascii_case(name)) else {
            return Err(format!(
                "Could not find a property named '{name}' on type '{type_name}'."
            ));
        };
        if !out.contains(&property) {
            out.push(property);
        }
    }
    Ok(Some(out))
}

/// A user's entry with only the properties asked for, written without copying them: the row
/// phoneless selects from, and the person for the rest (`businessPhones` and `mobilePhone`
/// are always empty here).
struct UserView<'a> {
    row: &'a DirectoryUser,
    person: &'a Person,
    properties: &'a [&'static str],
}

impl Serialize for UserView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (p, r) = (self.person, self.row);
        let mut map = serializer.serialize_map(Some(self.properties.len()))?;
        for &name in self.properties {
            match name {
                "accountEnabled" => map.serialize_entry(name, &r.account_enabled)?,
                "businessPhones" => map.serialize_entry(name, &[] as &[&str])?,
                "companyName" => map.serialize_entry(name, &r.company_name)?,
                "creationType" => map.serialize_entry(name, &r.creation_type)?,
                "externalUserState" => map.serialize_entry(name, &r.external_user_state)?,
                "department" => map.serialize_entry(name, &r.department)?,
                "displayName" => map.serialize_entry(name, &r.display_name)?,
                "givenName" => map.serialize_entry(name, &p.given_name)?,
                "id" => map.serialize_entry(name, &r.id)?,
                "jobTitle" => map.serialize_entry(name, &r.job_title)?,
                "mail" => map.serialize_entry(name, &p.mail())?,
                "mobilePhone" => map.serialize_entry(name, &None::<&str>)?,
                "officeLocation" => map.serialize_entry(name, &r.office_location)?,
                "preferredLanguage" => map.serialize_entry(name, &p.preferred_language())?,
                "surname" => map.serialize_entry(name, &p.surname)?,
                "usageLocation" => map.serialize_entry(name, &r.usage_location)?,
                "userPrincipalName" => map.serialize_entry(name, &r.user_principal_name)?,
                "userType" => map.serialize_entry(name, &r.user_type)?,
                _ => {}
            }
        }
        map.end()
    }
}

async fn users(
    State(fake): State<FakeGraph>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = admit(&fake, &headers, |f| f.deny_users).await {
        return refused;
    }
    let top = match q.get("$top").map(|t| t.parse::<usize>()) {
        None => DEFAULT_USERS_PAGE_SIZE,
        Some(Ok(t)) if (1..=999).contains(&t) => t,
        Some(_) => {
            let raw = q.get("$top").cloned().unwrap_or_default();
            return graph_error(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                &format!(
                    "Invalid page size specified: '{raw}'. Must be between 1 and 999 inclusive."
                ),
            );
        }
    };
    let count = q.get("$count").is_some_and(|c| c == "true");
    if count
        && headers
            .get("consistencylevel")
            .and_then(|v| v.to_str().ok())
            != Some("eventual")
    {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            "$count is only supported with the ConsistencyLevel:eventual header.",
        );
    }
    let select = match selection(
        q.get("$select"),
        USER_PROPERTIES,
        "Microsoft.DirectoryServices.User",
    ) {
        Ok(select) => select,
        Err(message) => return bad_request(&message),
    };
    let properties = select.as_deref().unwrap_or(DEFAULT_USER_PROPERTIES);
    let Some((day, from)) = page_start(&fake, &q, Paged::Users) else {
        return bad_skiptoken();
    };
    let tenant = fake.tenant();
    let (rows, next) = collect_page(tenant, from, top, |i| {
        Some((tenant.directory_row(i, day)?, &tenant.people[i]))
    });
    let value: Vec<UserView<'_>> = rows
        .iter()
        .map(|(row, person)| UserView {
            row,
            person,
            properties,
        })
        .collect();
    // @odata.count comes on the first page only.
    let total = (count && from == 0).then(|| {
        (0..tenant.people.len())
            .filter(|i| tenant.directory_row(*i, day).is_some())
            .count() as u64
    });
    let listed = select.as_ref().map(|s| s.join(","));
    let select_param = listed
        .as_ref()
        .map(|s| format!("$select={s}&"))
        .unwrap_or_default();
    let count_param = if count { "$count=true&" } else { "" };
    let next_link = next.map(|i| {
        format!(
            "{}/v1.0/users?{select_param}$top={top}&{count_param}$skiptoken={}",
            base_url(&headers),
            query_value(&skiptoken(Paged::Users, day, i))
        )
    });
    lock(&fake.inner.served).users_pages += 1;
    let what = match &listed {
        Some(s) => format!("users({s})"),
        None => "users".to_owned(),
    };
    match serde_json::to_vec(&Page {
        context: Some(context(&headers, &what)),
        count: total,
        next_link,
        value,
    }) {
        Ok(b) => json_bytes(b),
        Err(e) => graph_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generalException",
            &e.to_string(),
        ),
    }
}

/// Graph's 404 for an object that does not exist (a user, a group, a membership).
pub(super) fn not_found(id: &str) -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

/// `GET /v1.0/users/{id|userPrincipalName}` (`$select` as for `/users`): one person as the
/// directory has them on the current day; 404 for anyone else.
async fn user(
    State(fake): State<FakeGraph>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = admit(&fake, &headers, |f| f.deny_users).await {
        return refused;
    }
    let select = match selection(
        q.get("$select"),
        USER_PROPERTIES,
        "Microsoft.DirectoryServices.User",
    ) {
        Ok(select) => select,
        Err(message) => return bad_request(&message),
    };
    lock(&fake.inner.served).user_requests += 1;
    let tenant = fake.tenant();
    let Some((index, row)) = fake
        .person_index(&id)
        .and_then(|i| Some((i, tenant.directory_row(i, fake.day())?)))
    else {
        return not_found(&id);
    };
    let what = match &select {
        Some(s) => format!("users({})/$entity", s.join(",")),
        None => "users/$entity".to_owned(),
    };
    let view = UserView {
        row: &row,
        person: &tenant.people[index],
        properties: select.as_deref().unwrap_or(DEFAULT_USER_PROPERTIES),
    };
    match serde_json::to_value(&view) {
        Ok(serde_json::Value::Object(mut fields)) => {
            fields.insert(
                "@odata.context".to_owned(),
                serde_json::Value::String(context(&headers, &what)),
            );
            match serde_json::to_vec(&fields) {
                Ok(b) => json_bytes(b),
                Err(e) => graph_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "generalException",
                    &e.to_string(),
                ),
            }
        }
        Ok(_) | Err(_) => graph_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generalException",
            "the user could not be written",
        ),
    }
}

#[derive(Serialize)]
struct SimState {
    day: u32,
    date: chrono::NaiveDate,
    days: u32,
    people: usize,
    faults: Faults,
    served: Served,
    /// Write requests recorded ([`FakeGraph::writes`]).
    writes: usize,
}

async fn state(State(fake): State<FakeGraph>) -> Json<SimState> {
    let day = fake.day();
    Json(SimState {
        day,
        date: fake.tenant().date(day),
        days: fake.tenant().days,
        people: fake.tenant().people.len(),
        faults: fake.faults(),
        served: fake.served(),
        writes: lock(&fake.inner.writes).records.len(),
    })
}

#[derive(Deserialize)]
struct DayBody {
    day: u32,
}

async fn set_day(State(fake): State<FakeGraph>, Json(body): Json<DayBody>) -> Response {
    if body.day > fake.tenant().days {
        return (
            StatusCode::BAD_REQUEST,
            format!("the story has days 0 to {}", fake.tenant().days),
        )
            .into_response();
    }
    fake.set_day(body.day);
    StatusCode::NO_CONTENT.into_response()
}

async fn set_faults(State(fake): State<FakeGraph>, Json(faults): Json<Faults>) -> StatusCode {
    fake.set_faults(faults);
    StatusCode::NO_CONTENT
}

/// A fake with a valid token, and requests to its router without a socket, for the unit
/// tests of the fake's endpoints.
#[cfg(test)]
pub(super) mod testing {
    use super::*;
    use tower::ServiceExt as _;

    /// The host the test requests name, so nextLinks start with it.
    pub const BASE: &str = "http://graph.sim.test";
    pub const TOKEN: &str = "sim.test-token";

    /// 1,000 people over 60 days, and [`TOKEN`] valid for an hour.
    pub fn fake() -> FakeGraph {
        let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
        let fake = FakeGraph::new(
            Tenant::generate(7, 1_000, 60, start),
            FakeSettings::default(),
        );
        give_token(&fake, TOKEN, SIM_CLIENT_ID);
        fake
    }

    /// A GET of `uri` (a path, or a nextLink under [`BASE`]) with these headers; the JSON
    /// body, or `null` when it is not JSON.
    pub async fn send(
        fake: &FakeGraph,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, serde_json::Value) {
        let path = uri.strip_prefix(BASE).unwrap_or(uri);
        let mut req = axum::http::Request::get(path).header(header::HOST, "graph.sim.test");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let resp = fake
            .router()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("answer");
        let (parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (parts.status, parts.headers, json)
    }

    /// A GET with the valid token.
    pub async fn get(fake: &FakeGraph, uri: &str) -> (StatusCode, HeaderMap, serde_json::Value) {
        let bearer = format!("Bearer {TOKEN}");
        send(fake, uri, &[("authorization", &bearer)]).await
    }

    /// A request of any method with this bearer token and an optional JSON body.
    pub async fn send_with(
        fake: &FakeGraph,
        method: axum::http::Method,
        uri: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, HeaderMap, serde_json::Value) {
        let path = uri.strip_prefix(BASE).unwrap_or(uri);
        let req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "graph.sim.test")
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        let req = match body {
            Some(body) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => req.body(Body::empty()),
        };
        let resp = fake
            .router()
            .oneshot(req.expect("request"))
            .await
            .expect("answer");
        let (parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (parts.status, parts.headers, json)
    }

    /// Makes `token` a valid token of the app registration `client_id` for an hour.
    pub fn give_token(fake: &FakeGraph, token: &str, client_id: &str) {
        lock(&fake.inner.tokens).insert(
            token.to_owned(),
            IssuedToken {
                expires: Instant::now() + Duration::from_secs(3600),
                client_id: client_id.to_owned(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{fake, get, send};
    use super::*;
    use crate::graph::model::USER_SELECT;

    fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn errors_carry_the_request_ids_in_their_body_and_headers() {
        let fake = fake();
        let (status, headers, body) = send(
            &fake,
            "/v1.0/users",
            &[("client-request-id", "0d3c1e4f-1111-4222-8333-944455556666")],
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(header(&headers, "content-type"), "application/json");
        let error = &body["error"];
        assert_eq!(error["code"], "InvalidAuthenticationToken");
        assert_eq!(error["message"], "Access token is empty.");
        let inner = &error["innerError"];
        assert_eq!(
            inner["client-request-id"], "0d3c1e4f-1111-4222-8333-944455556666",
            "echoed"
        );
        assert_eq!(
            header(&headers, "client-request-id"),
            "0d3c1e4f-1111-4222-8333-944455556666"
        );
        let request_id = inner["request-id"].as_str().expect("request-id");
        assert!(uuid::Uuid::parse_str(request_id).is_ok(), "{request_id}");
        assert_eq!(header(&headers, "request-id"), request_id);
        let date = inner["date"].as_str().expect("date");
        assert!(
            chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%S").is_ok(),
            "{date}"
        );

        // Injected faults answer the same way.
        fake.set_faults(Faults {
            throttle: 1,
            ..Faults::default()
        });
        let (status, headers, body) = get(&fake, "/v1.0/users").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&headers, "retry-after"), "1");
        assert!(body["error"]["innerError"]["request-id"].is_string());
    }

    #[tokio::test]
    async fn every_answer_has_a_request_id_and_a_client_request_id() {
        let fake = fake();
        let (status, headers, _) = get(&fake, "/v1.0/users?$top=1").await;
        assert_eq!(status, StatusCode::OK);
        for name in ["request-id", "client-request-id"] {
            assert!(
                uuid::Uuid::parse_str(header(&headers, name)).is_ok(),
                "{name}: made up when the client sent none"
            );
        }
        let (_, again, _) = get(&fake, "/v1.0/users?$top=1").await;
        assert_ne!(header(&headers, "request-id"), header(&again, "request-id"));
    }

    #[test]
    fn skiptokens_need_percent_encoding_and_round_trip() {
        let fake = fake();
        let token = skiptoken(Paged::Users, 12, 3_456);
        assert!(
            token.contains('+') && token.contains('/') && token.ends_with('='),
            "{token}"
        );
        let encoded = query_value(&token);
        assert!(
            encoded.contains("%2B") && encoded.contains("%2F") && encoded.contains("%3D"),
            "{encoded}"
        );
        let query = |t: &str| HashMap::from([("$skiptoken".to_owned(), t.to_owned())]);
        assert_eq!(
            page_start(&fake, &query(&token), Paged::Users),
            Some((12, 3_456))
        );
        // Another collection's token, and the token as a client that decoded `+` would send it.
        assert_eq!(page_start(&fake, &query(&token), Paged::Report), None);
        assert_eq!(
            page_start(&fake, &query(&token.replace('+', " ")), Paged::Users),
            None
        );
        assert_eq!(page_start(&fake, &query("12.3456"), Paged::Users), None);
        assert_eq!(
            page_start(&fake, &HashMap::new(), Paged::Users),
            Some((fake.day(), 0))
        );
    }

    #[tokio::test]
    async fn next_links_work_as_sent_and_fail_when_mangled() {
        let fake = fake();
        let mut uri = "/v1.0/users?$select=id,displayName&$top=300".to_owned();
        let mut ids = Vec::new();
        let mut links = Vec::new();
        loop {
            let (status, _, body) = get(&fake, &uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {body}");
            for u in body["value"].as_array().expect("value") {
                ids.push(u["id"].as_str().expect("id").to_owned());
            }
            let Some(next) = body["@odata.nextLink"].as_str() else {
                break;
            };
            assert!(next.starts_with(testing::BASE), "{next}");
            links.push(next.to_owned());
            uri = next.to_owned();
        }
        let expected: Vec<String> = fake
            .tenant()
            .directory(fake.day())
            .into_iter()
            .map(|u| u.id)
            .collect();
        assert_eq!(ids, expected);
        assert!(links.len() >= 2, "paged");

        let link = &links[0];
        assert!(link.contains("$skiptoken=%2B%2F"), "{link}");
        for mangled in [
            // Decoded before sending: `+` arrives as a space.
            link.replace("%2B", "+")
                .replace("%2F", "/")
                .replace("%3D", "="),
            // Encoded once more.
            link.replace('%', "%25"),
            // The token cut short.
            link.replace("%3D", ""),
        ] {
            let (status, _, body) = get(&fake, &mangled).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{mangled}");
            assert_eq!(body["error"]["code"], "Request_BadRequest");
        }
    }

    /// The property names of each user of a `/users` page.
    async fn user_keys(fake: &FakeGraph, uri: &str) -> Vec<Vec<String>> {
        let (status, _, body) = get(fake, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        body["value"]
            .as_array()
            .expect("value")
            .iter()
            .map(|u| u.as_object().expect("user").keys().cloned().collect())
            .collect()
    }

    #[tokio::test]
    async fn users_without_select_get_graphs_default_properties_only() {
        let fake = fake();
        let mut default: Vec<String> = DEFAULT_USER_PROPERTIES
            .iter()
            .map(|p| (*p).to_owned())
            .collect();
        default.sort();
        let rows = user_keys(&fake, "/v1.0/users?$top=50").await;
        assert_eq!(rows.len(), 50);
        for keys in rows {
            assert_eq!(keys, default);
        }
        let (_, _, body) = get(&fake, "/v1.0/users?$top=50").await;
        let first = &body["value"][0];
        assert!(first.get("department").is_none() && first.get("usageLocation").is_none());
        assert!(first["businessPhones"].is_array() && first["givenName"].is_string());
    }

    #[tokio::test]
    async fn users_with_select_get_what_they_name_and_nothing_else() {
        let fake = fake();
        for keys in user_keys(&fake, "/v1.0/users?$select=ID,department&$top=20").await {
            assert_eq!(keys, ["department", "id"], "Graph's spelling");
        }
        // What the phoneless client selects is all there, and only that.
        let mut wanted: Vec<String> = USER_SELECT.split(',').map(str::to_owned).collect();
        wanted.sort();
        let uri = format!("/v1.0/users?$select={USER_SELECT}&$top=20");
        for keys in user_keys(&fake, &uri).await {
            assert_eq!(keys, wanted);
        }
        let (status, _, body) = get(&fake, "/v1.0/users?$select=id,departmnet").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "Request_BadRequest");
        assert_eq!(
            body["error"]["message"],
            "Could not find a property named 'departmnet' on type 'Microsoft.DirectoryServices.User'."
        );
        // The selection goes on in the nextLink, spelt as Graph spells it.
        let (_, _, body) = get(&fake, "/v1.0/users?$select=id,DisplayName&$top=2").await;
        let next = body["@odata.nextLink"].as_str().expect("nextLink");
        assert!(next.contains("?$select=id,displayName&$top=2&"), "{next}");
        assert!(
            body["@odata.context"]
                .as_str()
                .is_some_and(|c| c.ends_with("/v1.0/$metadata#users(id,displayName)"))
        );
    }

    #[tokio::test]
    async fn an_unknown_segment_is_a_graph_error() {
        let (status, headers, body) = get(&fake(), "/v1.0/groups/x/ownerz").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "BadRequest");
        assert_eq!(
            body["error"]["message"],
            "Resource not found for the segment 'ownerz'."
        );
        assert!(headers.get("request-id").is_some());
    }

    #[tokio::test]
    async fn users_serve_external_user_state_and_creation_type() {
        let fake = fake();
        let uri = "/v1.0/users?$select=id,userPrincipalName,userType,externalUserState,CreationType&$top=999";
        let (status, _, body) = get(&fake, uri).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let users = body["value"].as_array().expect("value");
        let kinds: std::collections::BTreeSet<(String, bool, String, String)> = users
            .iter()
            .map(|u| {
                let text = |k: &str| u[k].as_str().unwrap_or("null").to_owned();
                (
                    text("userType"),
                    text("userPrincipalName").contains("#EXT#"),
                    text("externalUserState"),
                    text("creationType"),
                )
            })
            .collect();
        for kind in [
            ("Guest", true, "Accepted", "Invitation"),
            ("Guest", true, "PendingAcceptance", "Invitation"),
            ("Guest", false, "null", "null"),
            ("Member", true, "Accepted", "Invitation"),
            ("Member", false, "null", "null"),
        ] {
            let kind = (
                kind.0.to_owned(),
                kind.1,
                kind.2.to_owned(),
                kind.3.to_owned(),
            );
            assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
        }
        assert!(
            users[0].get("creationType").is_some(),
            "selected, so present even when null"
        );
        // Not in Graph's default set.
        let (_, _, body) = get(&fake, "/v1.0/users?$top=5").await;
        assert!(body["value"][0].get("externalUserState").is_none());
    }

    /// A client-credentials request to the token endpoint: the status and the token's client.
    async fn client_token(
        fake: &FakeGraph,
        client_id: &str,
        secret: &str,
    ) -> (StatusCode, Option<String>) {
        use tower::ServiceExt as _;
        let form = format!(
            "grant_type=client_credentials&client_id={client_id}&client_secret={secret}&scope={}",
            query_value("https://graph.microsoft.com/.default")
        );
        let req = axum::http::Request::post(format!("/{SIM_TENANT_ID}/oauth2/v2.0/token"))
            .header(header::HOST, "graph.sim.test")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .expect("request");
        let resp = fake.router().oneshot(req).await.expect("answer");
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        let client = body["access_token"].as_str().and_then(|t| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {t}")).expect("header"),
            );
            bearer_client(fake, &headers)
        });
        (status, client)
    }

    #[tokio::test]
    async fn both_registrations_get_tokens_that_remember_them() {
        let fake = fake();
        assert_eq!(
            client_token(&fake, SIM_CLIENT_ID, SIM_CLIENT_SECRET).await,
            (StatusCode::OK, Some(SIM_CLIENT_ID.to_owned()))
        );
        assert_eq!(
            client_token(&fake, SIM_WRITE_CLIENT_ID, SIM_WRITE_CLIENT_SECRET).await,
            (StatusCode::OK, Some(SIM_WRITE_CLIENT_ID.to_owned()))
        );
        // Each registration has its own secret.
        assert_eq!(
            client_token(&fake, SIM_WRITE_CLIENT_ID, SIM_CLIENT_SECRET).await,
            (StatusCode::UNAUTHORIZED, None)
        );
        assert_eq!(
            client_token(
                &fake,
                "55555555-5555-4555-8555-555555555555",
                SIM_CLIENT_SECRET
            )
            .await,
            (StatusCode::BAD_REQUEST, None)
        );
    }

    #[tokio::test]
    async fn an_unknown_beta_segment_is_a_graph_error() {
        let (status, _, body) = get(&fake(), "/beta/policies/somethingElse").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["error"]["message"],
            "Resource not found for the segment 'somethingElse'."
        );
    }
}
