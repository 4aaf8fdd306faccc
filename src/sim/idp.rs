//! The simulated tenant's identity provider: a fake Microsoft Entra ID that signs people in with
//! OpenID Connect (authorization code flow with PKCE), so the app's sign-in can be tested end to
//! end without a real tenant.
//!
//! It serves, on the fake Graph's router, what a relying party uses: discovery
//! (`/{tenant}/v2.0/.well-known/openid-configuration`), the signing keys
//! (`/{tenant}/discovery/v2.0/keys`), the authorize endpoint, a logout endpoint and, through
//! the shared token endpoint, `grant_type=authorization_code`. Requests are checked as Entra
//! checks them and refused with its AADSTS codes: an error page for a bad tenant, app or
//! redirect URI (Entra never redirects to a URI it has not verified), a redirect carrying
//! `error=…` for the rest of the authorize request, and JSON errors from the token endpoint.
//!
//! Nobody types a password. Who signs in, with which app roles and groups, is chosen by the
//! simulation-only `sim_user`, `sim_roles` and `sim_groups` parameters of the authorize request,
//! or on a small form when they are absent. ID tokens are RS256 JWTs with the v2.0 claims the
//! app relies on (`oid`, `tid`, `nonce`, `roles`, `groups` with the overage form past 200, …).
//! [`IdTokenFault`] spoils the next one in a chosen way and [`FakeGraph::rotate_signing_key`]
//! rolls the key as Entra does, so tests can show that the app refuses what it must.
//!
//! Signing keys come from seeded generators: the same seed gives the same key in every run,
//! which keeps runs reproducible and lets a process make each key once (RSA key generation is
//! slow). Right for a test double, wrong for anything else: these keys are public knowledge.

use super::server::{
    FakeGraph, FakeSettings, IssuedToken, TokenForm, TokenRefusal, authenticate_client, base_url,
    lock, tenant_not_found, token_error,
};
use super::tenant::{Person, Tenant};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::SeedableRng as _;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// The app roles defined on the simulated app registration (the values the `roles` claim carries).
pub const APP_ROLES: [&str; 3] = [
    "Phoneless.SecurityLead",
    "Phoneless.Helpdesk",
    "Phoneless.Viewer",
];
/// How long an authorization code can be redeemed (Entra: about ten minutes).
const CODE_LIFETIME: TimeDelta = TimeDelta::minutes(10);
/// An ID token's lifetime (Entra: one hour), separate from the access token's `token_lifetime`.
const ID_TOKEN_LIFETIME: TimeDelta = TimeDelta::hours(1);
/// Past this many groups a JWT carries the overage claim instead of `groups` (graph-api.md §10).
const GROUPS_OVERAGE_LIMIT: usize = 200;
/// Modulus size of the signing keys, as Entra's.
const KEY_BITS: usize = 2048;
/// Seed of the key behind [`IdTokenFault::UnknownKey`]; rotation counts up from 0 and never
/// gets there, so the JWKS never lists it.
const UNPUBLISHED_KEY_SEED: u64 = u64::MAX;
/// Another tenant and another app, named by the wrong-issuer, wrong-tenant and wrong-audience faults.
const OTHER_TENANT_ID: &str = "99999999-9999-4999-8999-999999999999";
const OTHER_CLIENT_ID: &str = "22222222-2222-4222-8222-222222222222";
/// The home tenant a guest's `idp` claim names (guests authenticate at home).
const GUEST_HOME_TENANT_ID: &str = "33333333-3333-4333-8333-333333333333";
/// The region discovery reports (the simulated company is mostly European).
const TENANT_REGION_SCOPE: &str = "EU";

/// Ways to spoil the next ID token ([`Faults::id_token`](super::Faults::id_token)); each is a
/// check a relying party must make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdTokenFault {
    /// Signed, then `oid` and `preferred_username` changed to another person's under the old
    /// signature.
    Tampered,
    /// Issued two hours ago and expired an hour ago: beyond any clock-skew leeway.
    Expired,
    /// `aud` names another app.
    WrongAudience,
    /// `iss` names another tenant.
    WrongIssuer,
    /// `nonce` is not the one the authorize request sent (or there was none).
    WrongNonce,
    /// `tid` names another tenant while `iss` is right.
    WrongTenant,
    /// `alg: none` and an empty signature.
    Unsigned,
    /// Signed by a key whose `kid` the JWKS never lists.
    UnknownKey,
}

impl IdTokenFault {
    /// Every fault, for tests that try each.
    pub const ALL: [IdTokenFault; 8] = [
        IdTokenFault::Tampered,
        IdTokenFault::Expired,
        IdTokenFault::WrongAudience,
        IdTokenFault::WrongIssuer,
        IdTokenFault::WrongNonce,
        IdTokenFault::WrongTenant,
        IdTokenFault::Unsigned,
        IdTokenFault::UnknownKey,
    ];
}

impl FakeGraph {
    /// Rolls the signing key as Entra does now and then: new ID tokens are signed with a new key
    /// (a new `kid`) and the JWKS lists only that key, so a relying party that cached the old
    /// JWKS must refetch it on the unknown `kid`.
    pub fn rotate_signing_key(&self) {
        self.inner.idp.rotate();
    }

    /// Someone already signed in to the simulated Entra ID, as a browser with Entra's own
    /// session cookie is: authorize requests without `sim_user` sign them in at once instead of
    /// showing the picker (`None`: show it again). Lets a real browser go through sign-in
    /// unattended.
    pub fn set_signed_in(&self, who: Option<SimSignIn>) {
        *lock(&self.inner.idp.signed_in) = who;
    }
}

/// Who [`FakeGraph::set_signed_in`] signs in: a simulated person (UPN or object id) with
/// app roles and group ids.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSignIn {
    pub user: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// The identity provider's routes, merged into [`FakeGraph::router`].
pub(super) fn routes() -> Router<FakeGraph> {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(jwks))
        .route("/{tenant}/oauth2/v2.0/authorize", get(authorize))
        .route("/{tenant}/oauth2/v2.0/logout", get(logout))
        .route("/_sim/rotate_keys", post(rotate_keys))
        .route("/_sim/sign_in", post(set_signed_in))
}

/// `POST /_sim/sign_in` with `{"user": …, "roles": […], "groups": […]}`, or `null` to forget.
async fn set_signed_in(
    State(fake): State<FakeGraph>,
    Json(who): Json<Option<SimSignIn>>,
) -> StatusCode {
    fake.set_signed_in(who);
    StatusCode::NO_CONTENT
}

/// The identity provider's share of the fake's state.
pub(super) struct IdpState {
    key: Mutex<CurrentKey>,
    /// Authorization codes, kept until they expire so that a second redemption is recognised.
    codes: Mutex<HashMap<String, Grant>>,
    /// Who is signed in already (see [`FakeGraph::set_signed_in`]).
    signed_in: Mutex<Option<SimSignIn>>,
}

struct CurrentKey {
    seed: u64,
    /// `None` only if RSA refused to make a key (logged); the endpoints then answer 500.
    key: Option<Arc<SigningKey>>,
}

impl IdpState {
    pub(super) fn new() -> IdpState {
        IdpState {
            key: Mutex::new(CurrentKey {
                seed: 0,
                key: signing_key(0),
            }),
            codes: Mutex::new(HashMap::new()),
            signed_in: Mutex::new(None),
        }
    }

    fn current_key(&self) -> Option<Arc<SigningKey>> {
        lock(&self.key).key.clone()
    }

    fn rotate(&self) {
        let mut current = lock(&self.key);
        let seed = current.seed + 1;
        *current = CurrentKey {
            seed,
            key: signing_key(seed),
        };
    }

    /// Stores `grant` under a new random code.
    fn issue_code(&self, grant: Grant, now: DateTime<Utc>) -> String {
        let code = format!("0.sim.{}", random_token(48));
        let mut codes = lock(&self.codes);
        codes.retain(|_, g| g.expires > now);
        codes.insert(code.clone(), grant);
        code
    }

    /// Redeems `code` if it is current, unused and passes `check` (redirect URI, PKCE); a code
    /// is used up only by a successful redemption.
    fn redeem(
        &self,
        code: &str,
        now: DateTime<Utc>,
        check: impl FnOnce(&Grant) -> Result<(), TokenRefusal>,
    ) -> Result<Grant, TokenRefusal> {
        let mut codes = lock(&self.codes);
        let Some(grant) = codes.get_mut(code).filter(|g| g.expires > now) else {
            return Err(TokenRefusal::new(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
            ));
        };
        if grant.redeemed {
            return Err(TokenRefusal::new(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
            ));
        }
        check(grant)?;
        grant.redeemed = true;
        Ok(grant.clone())
    }
}

/// What an authorization code stands for.
#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    scope: String,
    nonce: Option<String>,
    challenge: Option<Challenge>,
    /// The person's index in the tenant.
    person: usize,
    roles: Vec<String>,
    groups: Vec<String>,
    expires: DateTime<Utc>,
    redeemed: bool,
}

/// A PKCE code challenge (RFC 7636).
#[derive(Debug, Clone)]
struct Challenge {
    value: String,
    s256: bool,
}

impl Challenge {
    /// The challenge of the authorize request, if it sent one; an Entra error description if
    /// it is malformed.
    fn from_params(params: &Params) -> Result<Option<Challenge>, &'static str> {
        let Some(value) = params.get("code_challenge") else {
            return Ok(None);
        };
        // RFC 7636: without a method the challenge is the verifier itself.
        let s256 = match params.get("code_challenge_method").unwrap_or("plain") {
            "S256" => true,
            "plain" => false,
            _ => return Err("AADSTS50149: Invalid Code_Challenge_method parameter."),
        };
        // A SHA-256 digest is 43 characters in base64url; a verifier is 43 to 128.
        let size_ok = if s256 {
            value.len() == 43
        } else {
            (43..=128).contains(&value.len())
        };
        let chars_ok = value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if !size_ok || !chars_ok {
            return Err("AADSTS501491: Invalid size of Code_Challenge parameter.");
        }
        Ok(Some(Challenge {
            value: value.to_owned(),
            s256,
        }))
    }

    fn verify(&self, verifier: &str) -> bool {
        if self.s256 {
            URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == self.value
        } else {
            verifier == self.value
        }
    }
}

/// One RSA signing key and what the JWKS publishes about it.
struct SigningKey {
    kid: String,
    /// Modulus and public exponent, base64url without padding.
    n: String,
    e: String,
    encoding: EncodingKey,
}

/// A key once made (`None` if RSA refused).
type KeyCell = Arc<OnceLock<Option<Arc<SigningKey>>>>;

/// The keys of this process, by seed.
static KEYS: Mutex<BTreeMap<u64, KeyCell>> = Mutex::new(BTreeMap::new());

/// The signing key of `seed`, made once per process; `None` (logged) if RSA refuses.
fn signing_key(seed: u64) -> Option<Arc<SigningKey>> {
    // One cell per seed: fakes created at the same time wait for one key rather than each
    // making it, and making one key does not hold up the others.
    let cell = lock(&KEYS).entry(seed).or_default().clone();
    cell.get_or_init(|| {
        SigningKey::generate(seed)
            .map(Arc::new)
            .map_err(|e| {
                tracing::error!("the simulated identity provider has no signing key: {e:#}")
            })
            .ok()
    })
    .clone()
}

impl SigningKey {
    fn generate(seed: u64) -> anyhow::Result<SigningKey> {
        use rsa::pkcs1::{EncodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
        use rsa::traits::PublicKeyParts as _;
        let mut rng = KeyRng(ChaCha8Rng::seed_from_u64(seed));
        let private = rsa::RsaPrivateKey::new(&mut rng, KEY_BITS)?;
        let public = private.to_public_key();
        // Entra's kid (and x5t) is a 20-byte certificate thumbprint in base64url; this key has
        // no certificate, so a digest of the public key stands in, with the same look.
        let digest = Sha256::digest(public.to_pkcs1_der()?.as_bytes());
        Ok(SigningKey {
            kid: URL_SAFE_NO_PAD.encode(&digest[..20]),
            n: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            e: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
            encoding: EncodingKey::from_rsa_der(private.to_pkcs1_der()?.as_bytes()),
        })
    }

    fn jwk(&self, issuer: &str) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": self.n,
            "e": self.e,
            "issuer": issuer,
        })
    }
}

/// `rsa` 0.9 wants a `rand_core` 0.6 generator and this crate's `rand` is 0.9: this adapts a
/// seeded ChaCha to the older traits.
struct KeyRng(ChaCha8Rng);

impl rsa::rand_core::RngCore for KeyRng {
    fn next_u32(&mut self) -> u32 {
        rand::RngCore::next_u32(&mut self.0)
    }

    fn next_u64(&mut self) -> u64 {
        rand::RngCore::next_u64(&mut self.0)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand::RngCore::fill_bytes(&mut self.0, dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        rand::RngCore::fill_bytes(&mut self.0, dest);
        Ok(())
    }
}

// ChaCha is a cryptographic generator; only its seed is public.
impl rsa::rand_core::CryptoRng for KeyRng {}

/// `n` random bytes in base64url.
fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The issuer of the tenant's v2.0 tokens, as seen from `base`.
fn issuer(base: &str, tenant_id: &str) -> String {
    format!("{base}/{tenant_id}/v2.0")
}

fn server_error() -> Response {
    token_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "The simulated identity provider has no signing key (see its log).",
    )
}

async fn discovery(
    State(fake): State<FakeGraph>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    lock(&fake.inner.served).discovery_requests += 1;
    let tid = fake.inner.settings.tenant_id.as_str();
    if tenant != tid {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            &tenant_not_found(&tenant),
        );
    }
    let base = base_url(&headers);
    axum::Json(json!({
        "issuer": issuer(&base, tid),
        "authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/{tid}/oauth2/v2.0/token"),
        "jwks_uri": format!("{base}/{tid}/discovery/v2.0/keys"),
        "end_session_endpoint": format!("{base}/{tid}/oauth2/v2.0/logout"),
        // Served by Graph, which this fake also plays (but not this endpoint).
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        // Only the code flow is simulated.
        "response_types_supported": ["code"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "nbf", "nonce", "name", "preferred_username",
            "oid", "tid", "ver", "sid", "roles", "groups", "idp",
        ],
        "request_uri_parameter_supported": false,
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "tenant_region_scope": TENANT_REGION_SCOPE,
        "cloud_instance_name": "microsoftonline.com",
        "msgraph_host": "graph.microsoft.com",
    }))
    .into_response()
}

async fn jwks(
    State(fake): State<FakeGraph>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    lock(&fake.inner.served).jwks_requests += 1;
    let tid = fake.inner.settings.tenant_id.as_str();
    if tenant != tid {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            &tenant_not_found(&tenant),
        );
    }
    let Some(key) = fake.inner.idp.current_key() else {
        return server_error();
    };
    let issuer = issuer(&base_url(&headers), tid);
    axum::Json(json!({ "keys": [key.jwk(&issuer)] })).into_response()
}

async fn rotate_keys(State(fake): State<FakeGraph>) -> StatusCode {
    // Making a key takes a moment: keep it off the async workers.
    match tokio::task::spawn_blocking(move || fake.rotate_signing_key()).await {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A query string as sent: order and repeats kept (the sign-in form's checkboxes repeat
/// `sim_roles`, and every parameter goes back into the form).
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(raw: Option<&str>) -> Params {
        Params(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The comma-separated items of every `name` parameter, trimmed, without blanks or repeats.
    fn list(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, value) in self.0.iter().filter(|(k, _)| k == name) {
            for item in value.split(',').map(str::trim) {
                if !item.is_empty() && !out.iter().any(|o| o == item) {
                    out.push(item.to_owned());
                }
            }
        }
        out
    }
}

/// Whether a person can sign in on a day of the story.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Account {
    Active,
    /// Disabled, or gone (left the company, deleted).
    Disabled,
    /// Not in the tenant (yet).
    Unknown,
}

fn account(p: &Person, day: u32) -> Account {
    if day < p.joins {
        Account::Unknown
    } else if p.disabled || !p.present(day) || p.missing_from_directory {
        Account::Disabled
    } else {
        Account::Active
    }
}

/// A person by UPN (any letter case) or object id.
fn find_person(tenant: &Tenant, who: &str) -> Option<usize> {
    let who = who.trim();
    tenant
        .people
        .iter()
        .position(|p| p.upn.eq_ignore_ascii_case(who) || p.id.eq_ignore_ascii_case(who))
}

fn missing_parameter(name: &str) -> String {
    format!("AADSTS900144: The request body must contain the following parameter: '{name}'.")
}

/// An exact match against the registered redirect URIs; anything goes when none are registered.
fn registered(s: &FakeSettings, uri: &str) -> bool {
    s.redirect_uris.is_empty() || s.redirect_uris.iter().any(|r| r == uri)
}

/// Something a browser can be sent to: a scheme and a host, header-safe characters.
fn absolute(uri: &str) -> bool {
    uri.parse::<Uri>()
        .is_ok_and(|u| u.scheme().is_some() && u.authority().is_some())
}

async fn authorize(
    State(fake): State<FakeGraph>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    lock(&fake.inner.served).authorize_requests += 1;
    let s = &fake.inner.settings;
    let params = Params::parse(raw.as_deref());
    // Until the app and its redirect URI are known good, errors are shown, never redirected.
    if tenant != s.tenant_id {
        return error_page(StatusCode::BAD_REQUEST, &tenant_not_found(&tenant));
    }
    match params.get("client_id") {
        None => return error_page(StatusCode::BAD_REQUEST, &missing_parameter("client_id")),
        Some(id) if id != s.client_id => {
            return error_page(
                StatusCode::BAD_REQUEST,
                &format!(
                    "AADSTS700016: Application with identifier '{id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
                ),
            );
        }
        Some(_) => {}
    }
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return error_page(StatusCode::BAD_REQUEST, &missing_parameter("redirect_uri"));
    };
    if !registered(s, redirect_uri) {
        return error_page(
            StatusCode::BAD_REQUEST,
            &format!(
                "AADSTS50011: The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.",
                s.client_id
            ),
        );
    }
    if !absolute(redirect_uri) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "AADSTS90102: 'redirect_uri' value must be a valid absolute URI.",
        );
    }

    let state = params.get("state");
    let refuse = |error: &str, description: &str| {
        let mut out = vec![("error", error), ("error_description", description)];
        out.extend(state.map(|st| ("state", st)));
        redirect(redirect_uri, &out)
    };
    if let Some(mode) = params.get("response_mode").filter(|m| *m != "query") {
        return refuse(
            "invalid_request",
            &format!(
                "The simulated tenant answers with response_mode=query only; '{mode}' is not simulated."
            ),
        );
    }
    match params.get("response_type") {
        None => return refuse("invalid_request", &missing_parameter("response_type")),
        Some("code") => {}
        Some(other) => {
            return refuse(
                "unsupported_response_type",
                &format!(
                    "AADSTS700054: response_type '{other}' is not enabled for the application."
                ),
            );
        }
    }
    let Some(scope) = params.get("scope") else {
        return refuse("invalid_request", &missing_parameter("scope"));
    };
    if !scope.split_whitespace().any(|sc| sc == "openid") {
        return refuse(
            "invalid_request",
            &format!(
                "AADSTS70011: The provided value for the input parameter 'scope' isn't valid. The scope '{scope}' does not include 'openid', which sign-in needs."
            ),
        );
    }
    let challenge = match Challenge::from_params(&params) {
        Ok(c) => c,
        Err(description) => return refuse("invalid_request", description),
    };

    let remembered = lock(&fake.inner.idp.signed_in)
        .clone()
        .filter(|_| !matches!(params.get("prompt"), Some("login" | "select_account")));
    let (who, roles, groups) = match (
        params.get("sim_user").filter(|u| !u.trim().is_empty()),
        remembered,
    ) {
        (Some(user), _) => (
            user.to_owned(),
            params.list("sim_roles"),
            params.list("sim_groups"),
        ),
        (None, Some(r)) => (r.user, r.roles, r.groups),
        (None, None) => {
            if params.get("prompt") == Some("none") {
                return refuse(
                    "login_required",
                    "AADSTS50058: A silent sign-in request was sent but no user is signed in.",
                );
            }
            let roles = params.list("sim_roles");
            let groups = params.list("sim_groups");
            return sign_in_page(&fake, &tenant, &params, &roles, &groups);
        }
    };
    let who = who.as_str();
    let tenant_people = fake.tenant();
    let found = find_person(tenant_people, who);
    let person = match found.map(|i| (i, account(&tenant_people.people[i], fake.day()))) {
        Some((i, Account::Active)) => i,
        Some((_, Account::Disabled)) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "AADSTS50057: The user account is disabled.",
            );
        }
        None | Some((_, Account::Unknown)) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                &format!(
                    "AADSTS50034: The user account {who} does not exist in the {tenant} directory. To sign into this application, the account must be added to the directory."
                ),
            );
        }
    };
    let now = Utc::now();
    let code = fake.inner.idp.issue_code(
        Grant {
            client_id: s.client_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            scope: scope.to_owned(),
            nonce: params.get("nonce").map(str::to_owned),
            challenge,
            person,
            roles,
            groups,
            expires: now + CODE_LIFETIME,
            redeemed: false,
        },
        now,
    );
    let session_state = uuid::Uuid::new_v4().to_string();
    let mut out = vec![("code", code.as_str())];
    out.extend(state.map(|st| ("state", st)));
    out.push(("session_state", session_state.as_str()));
    redirect(redirect_uri, &out)
}

async fn logout(
    State(fake): State<FakeGraph>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let s = &fake.inner.settings;
    if tenant != s.tenant_id {
        return error_page(StatusCode::BAD_REQUEST, &tenant_not_found(&tenant));
    }
    let params = Params::parse(raw.as_deref());
    match params.get("post_logout_redirect_uri") {
        // Entra sends people back only to a registered redirect URI.
        Some(uri) if registered(s, uri) && absolute(uri) => {
            let state: Vec<_> = params
                .get("state")
                .map(|st| ("state", st))
                .into_iter()
                .collect();
            redirect(uri, &state)
        }
        _ => page(
            StatusCode::OK,
            "Sign out",
            "<h1>You signed out of your account</h1>\n<p>It’s a good idea to close all browser windows.</p>",
        ),
    }
}

/// A 302 to `uri` with `params` added to its query, as Entra answers with `response_mode=query`.
fn redirect(uri: &str, params: &[(&str, &str)]) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(params);
    let query = query.finish();
    let location = match (query.is_empty(), uri.contains('?')) {
        (true, _) => uri.to_owned(),
        (false, true) => format!("{uri}&{query}"),
        (false, false) => format!("{uri}?{query}"),
    };
    match HeaderValue::from_str(&location) {
        Ok(v) => (StatusCode::FOUND, [(header::LOCATION, v)]).into_response(),
        Err(_) => error_page(
            StatusCode::BAD_REQUEST,
            "AADSTS90102: 'redirect_uri' value must be a valid absolute URI.",
        ),
    }
}

/// Text made safe to put in HTML, inside elements or quoted attributes.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page; `title` and `body` are HTML already escaped.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>body{{font-family:system-ui,sans-serif;max-width:34rem;\
         margin:3rem auto;padding:0 1rem}}label{{display:block;margin:.6rem 0 .2rem}}\
         input[type=text]{{width:100%;padding:.4rem;box-sizing:border-box}}\
         fieldset label{{display:inline;margin-right:1rem}}button{{margin-top:1rem;\
         padding:.4rem 1.2rem}}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    );
    (status, Html(html)).into_response()
}

/// Entra's error page, with the AADSTS message.
fn error_page(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Sign in to your account",
        &format!(
            "<h1>Sorry, but we’re having trouble signing you in.</h1>\n<p id=\"error\">{}</p>",
            escape(message)
        ),
    )
}

/// The form that stands in for Entra's sign-in: it sends the authorize request again with the
/// simulation's parameters filled in.
fn sign_in_page(
    fake: &FakeGraph,
    tenant: &str,
    params: &Params,
    roles: &[String],
    groups: &[String],
) -> Response {
    let people = &fake.tenant().people;
    let day = fake.day();
    let active = |p: &&Person| account(p, day) == Account::Active;
    let examples = [
        (
            "member",
            people.iter().filter(active).find(|p| !p.guest && !p.admin),
        ),
        ("admin", people.iter().filter(active).find(|p| p.admin)),
        ("guest", people.iter().filter(active).find(|p| p.guest)),
        (
            "disabled: cannot sign in",
            people.iter().find(|p| account(p, day) == Account::Disabled),
        ),
    ];
    let prefill = params
        .get("login_hint")
        .or(examples[0].1.map(|p| p.upn.as_str()))
        .unwrap_or_default();

    let mut body = String::from(
        "<h1>Sign in to the simulated tenant</h1>\n<p>This is phoneless’s simulated Entra ID: \
         nobody types a password. Choose who signs in and what the ID token says about them.</p>\n",
    );
    let _ = writeln!(
        body,
        "<form method=\"get\" action=\"/{}/oauth2/v2.0/authorize\">",
        escape(tenant)
    );
    for (k, v) in params.0.iter().filter(|(k, _)| !k.starts_with("sim_")) {
        let _ = writeln!(
            body,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(k),
            escape(v)
        );
    }
    let _ = writeln!(
        body,
        "<label for=\"sim_user\">Person (user principal name or object id)</label>\n\
         <input type=\"text\" id=\"sim_user\" name=\"sim_user\" value=\"{}\" list=\"people\" required autofocus>\n\
         <datalist id=\"people\">",
        escape(prefill)
    );
    for (label, person) in &examples {
        if let Some(p) = person {
            let _ = writeln!(
                body,
                "<option value=\"{}\">{} ({label})</option>",
                escape(&p.upn),
                escape(&p.display_name)
            );
        }
    }
    body.push_str("</datalist>\n<fieldset>\n<legend>App roles</legend>\n");
    for role in APP_ROLES {
        let checked = if roles.iter().any(|r| r == role) {
            " checked"
        } else {
            ""
        };
        let _ = writeln!(
            body,
            "<label><input type=\"checkbox\" name=\"sim_roles\" value=\"{role}\"{checked}> {role}</label>"
        );
    }
    let _ = writeln!(
        body,
        "</fieldset>\n<label for=\"sim_groups\">Group object ids (comma-separated)</label>\n\
         <input type=\"text\" id=\"sim_groups\" name=\"sim_groups\" value=\"{}\">\n\
         <button type=\"submit\">Sign in</button>\n</form>",
        escape(&groups.join(","))
    );
    page(StatusCode::OK, "Sign in to the simulated tenant", &body)
}

/// The token endpoint's `grant_type=authorization_code` (the tenant is already checked): the
/// client as for every grant, then the code with its redirect URI and PKCE verifier; an access
/// token and an ID token in return.
pub(super) fn redeem_code(
    fake: &FakeGraph,
    tenant: &str,
    headers: &HeaderMap,
    form: &TokenForm,
) -> Response {
    let s = &fake.inner.settings;
    if let Err(refusal) = authenticate_client(s, tenant, headers, form) {
        return refusal.into_response();
    }
    let Some(code) = form.code.as_deref().filter(|c| !c.is_empty()) else {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &missing_parameter("code"),
        );
    };
    let now = Utc::now();
    let grant = match fake
        .inner
        .idp
        .redeem(code, now, |grant| check_redemption(s, grant, form))
    {
        Ok(g) => g,
        Err(refusal) => return refusal.into_response(),
    };
    let fault = lock(&fake.inner.faults).id_token.take();
    let Some(id_token) = id_token(fake, &grant, &base_url(headers), fault, now) else {
        return server_error();
    };
    let access_token = format!("sim.{}", uuid::Uuid::new_v4().simple());
    lock(&fake.inner.tokens).insert(
        access_token.clone(),
        IssuedToken {
            expires: Instant::now() + s.token_lifetime,
            client_id: s.client_id.clone(),
        },
    );
    lock(&fake.inner.served).id_tokens_issued += 1;
    axum::Json(json!({
        "token_type": "Bearer",
        "scope": grant.scope,
        "expires_in": s.token_lifetime.as_secs(),
        "ext_expires_in": s.token_lifetime.as_secs(),
        "access_token": access_token,
        "id_token": id_token,
    }))
    .into_response()
}

/// The redemption must come from the app, with the authorize request's redirect URI and the
/// verifier of its PKCE challenge.
fn check_redemption(s: &FakeSettings, grant: &Grant, form: &TokenForm) -> Result<(), TokenRefusal> {
    let invalid = |error: &'static str, description: &str| {
        Err(TokenRefusal::new(
            StatusCode::BAD_REQUEST,
            error,
            description,
        ))
    };
    if grant.client_id != s.client_id {
        return invalid(
            "invalid_grant",
            "AADSTS70000: The provided authorization code was issued to another application.",
        );
    }
    match form.redirect_uri.as_deref() {
        None => return invalid("invalid_request", &missing_parameter("redirect_uri")),
        Some(uri) if uri != grant.redirect_uri => {
            return invalid(
                "invalid_grant",
                &format!(
                    "AADSTS500112: The reply address '{uri}' does not match the reply address '{}' provided when requesting Authorization code.",
                    grant.redirect_uri
                ),
            );
        }
        Some(_) => {}
    }
    match (&grant.challenge, form.code_verifier.as_deref()) {
        (Some(_), None) => invalid("invalid_request", &missing_parameter("code_verifier")),
        (Some(challenge), Some(verifier)) if !challenge.verify(verifier) => invalid(
            "invalid_grant",
            "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        ),
        _ => Ok(()),
    }
}

/// The ID token for a redeemed grant, spoilt by `fault` if one is set; `None` (logged) if it
/// cannot be signed.
fn id_token(
    fake: &FakeGraph,
    grant: &Grant,
    base: &str,
    fault: Option<IdTokenFault>,
    now: DateTime<Utc>,
) -> Option<String> {
    let person = fake.tenant().people.get(grant.person)?;
    let mut claims = id_token_claims(&fake.inner.settings, person, grant, base, now);
    if let Some(fault) = fault {
        spoil_claims(&mut claims, fault, base, now);
    }
    let key = match fault {
        Some(IdTokenFault::UnknownKey) => signing_key(UNPUBLISHED_KEY_SEED),
        _ => fake.inner.idp.current_key(),
    }?;
    let token = match fault {
        Some(IdTokenFault::Unsigned) => unsigned(&claims),
        _ => sign(&claims, &key)
            .map_err(|e| tracing::error!("could not sign a simulated ID token: {e}"))
            .ok()?,
    };
    if fault == Some(IdTokenFault::Tampered) {
        // Somebody else, an admin where there is one: the impersonation a forger would want.
        let people = &fake.tenant().people;
        let other = people
            .iter()
            .find(|p| p.admin && p.id != person.id)
            .or_else(|| people.iter().find(|p| p.id != person.id))?;
        return tamper(&token, &other.id, &other.upn);
    }
    Some(token)
}

/// The v2.0 ID token claims Entra sends a web app for `person`.
fn id_token_claims(
    s: &FakeSettings,
    person: &Person,
    grant: &Grant,
    base: &str,
    now: DateTime<Utc>,
) -> Map<String, Value> {
    let iat = now.timestamp();
    // The subject is pairwise: the same person has a different `sub` in every app.
    let sub = URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{}{}", person.id, s.client_id)));
    let mut c = Map::new();
    let mut put = |k: &str, v: Value| {
        c.insert(k.to_owned(), v);
    };
    put("aud", json!(s.client_id));
    put("iss", json!(issuer(base, &s.tenant_id)));
    put("iat", json!(iat));
    put("nbf", json!(iat));
    put("exp", json!((now + ID_TOKEN_LIFETIME).timestamp()));
    put("name", json!(person.display_name));
    put("preferred_username", json!(person.upn));
    put("oid", json!(person.id));
    put("tid", json!(s.tenant_id));
    put("sub", json!(sub));
    put("ver", json!("2.0"));
    put("uti", json!(random_token(16)));
    put("aio", json!(random_token(48)));
    put("rh", json!(format!("0.{}", random_token(32))));
    put("sid", json!(uuid::Uuid::new_v4().to_string()));
    if let Some(nonce) = &grant.nonce {
        put("nonce", json!(nonce));
    }
    if person.external {
        put(
            "idp",
            json!(format!("https://sts.windows.net/{GUEST_HOME_TENANT_ID}/")),
        );
    }
    if !grant.roles.is_empty() {
        put("roles", json!(grant.roles));
    }
    if grant.groups.len() > GROUPS_OVERAGE_LIMIT {
        put("_claim_names", json!({ "groups": "src1" }));
        put(
            "_claim_sources",
            json!({ "src1": { "endpoint": format!("{base}/v1.0/users/{}/getMemberObjects", person.id) } }),
        );
    } else if !grant.groups.is_empty() {
        put("groups", json!(grant.groups));
    }
    c
}

/// The claim changes of a fault (the signing faults are applied when signing).
fn spoil_claims(
    claims: &mut Map<String, Value>,
    fault: IdTokenFault,
    base: &str,
    now: DateTime<Utc>,
) {
    match fault {
        IdTokenFault::Expired => {
            let iat = (now - TimeDelta::hours(2)).timestamp();
            claims.insert("iat".into(), json!(iat));
            claims.insert("nbf".into(), json!(iat));
            claims.insert("exp".into(), json!((now - TimeDelta::hours(1)).timestamp()));
        }
        IdTokenFault::WrongAudience => {
            claims.insert("aud".into(), json!(OTHER_CLIENT_ID));
        }
        IdTokenFault::WrongIssuer => {
            claims.insert("iss".into(), json!(issuer(base, OTHER_TENANT_ID)));
        }
        IdTokenFault::WrongNonce => {
            claims.insert("nonce".into(), json!(random_token(16)));
        }
        IdTokenFault::WrongTenant => {
            claims.insert("tid".into(), json!(OTHER_TENANT_ID));
        }
        IdTokenFault::Tampered | IdTokenFault::Unsigned | IdTokenFault::UnknownKey => {}
    }
}

fn sign(claims: &Map<String, Value>, key: &SigningKey) -> jsonwebtoken::errors::Result<String> {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding)
}

/// The claims as an unsecured JWT (RFC 7519 §6): `alg: none`, nothing after the last dot.
fn unsigned(claims: &Map<String, Value>) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string())
    )
}

/// `token` with its `oid` and `preferred_username` replaced and its signature kept.
fn tamper(token: &str, oid: &str, upn: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    let mut claims: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.insert("oid".into(), json!(oid));
    claims.insert("preferred_username".into(), json!(upn));
    let payload = URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string());
    Some(format!("{header}.{payload}.{signature}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::server::{SIM_CLIENT_ID, SIM_CLIENT_SECRET, SIM_TENANT_ID};
    use crate::sim::{Faults, Tenant};
    use axum::body::Body;
    use axum::http::Request;
    use base64::engine::general_purpose::STANDARD;
    use chrono::NaiveDate;
    use jsonwebtoken::errors::ErrorKind;
    use jsonwebtoken::{DecodingKey, Validation};
    use tower::ServiceExt as _;

    const HOST: &str = "login.sim.test";
    const BASE: &str = "http://login.sim.test";
    const REDIRECT: &str = "http://127.0.0.1:8080/auth/callback";
    /// Tricky enough to show it is echoed exactly.
    const STATE: &str = "st&te=1 <x>\"'/ü";
    const NONCE: &str = "n-0S6_WzA2Mj";
    const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9ZkbtZ7fsFdFYSTshsH3x7nCrJ8aVsWsJGsU-ok";

    fn fake_with(settings: FakeSettings) -> FakeGraph {
        let start = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
        FakeGraph::new(Tenant::generate(7, 1_000, 60, start), settings)
    }

    fn fake() -> FakeGraph {
        fake_with(FakeSettings::default())
    }

    /// The first person of the story's last day that `pick` accepts.
    fn person(fake: &FakeGraph, pick: impl Fn(&Person, Account) -> bool) -> Person {
        let day = fake.day();
        fake.tenant()
            .people
            .iter()
            .find(|p| pick(p, account(p, day)))
            .cloned()
            .expect("such a person")
    }

    /// The member the sign-in form offers first.
    fn member(fake: &FakeGraph) -> Person {
        person(fake, |p, a| a == Account::Active && !p.guest && !p.admin)
    }

    async fn send(fake: &FakeGraph, req: Request<Body>) -> (StatusCode, HeaderMap, String) {
        let resp = fake.router().oneshot(req).await.expect("answer");
        let (parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
        (
            parts.status,
            parts.headers,
            String::from_utf8(bytes.to_vec()).expect("utf-8"),
        )
    }

    async fn get(fake: &FakeGraph, uri: &str) -> (StatusCode, HeaderMap, String) {
        let req = Request::get(uri).header(header::HOST, HOST);
        send(fake, req.body(Body::empty()).expect("request")).await
    }

    async fn get_json(fake: &FakeGraph, uri: &str) -> (StatusCode, Value) {
        let (status, _, body) = get(fake, uri).await;
        (status, serde_json::from_str(&body).expect("json"))
    }

    async fn post_form(
        fake: &FakeGraph,
        uri: &str,
        pairs: &[(&str, &str)],
        basic: Option<&str>,
    ) -> (StatusCode, Value) {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let mut req = Request::post(uri)
            .header(header::HOST, HOST)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(credentials) = basic {
            req = req.header(
                header::AUTHORIZATION,
                format!("Basic {}", STANDARD.encode(credentials)),
            );
        }
        let (status, _, body) = send(fake, req.body(Body::from(body)).expect("request")).await;
        (status, serde_json::from_str(&body).expect("json"))
    }

    fn authorize_uri(params: &[(&str, &str)]) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        format!("/{SIM_TENANT_ID}/oauth2/v2.0/authorize?{query}")
    }

    fn challenge() -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER))
    }

    /// A PKCE authorize request as the app sends it, plus `extra`.
    fn sign_in_params<'a>(
        challenge: &'a str,
        extra: &[(&'a str, &'a str)],
    ) -> Vec<(&'a str, &'a str)> {
        let mut p = vec![
            ("client_id", SIM_CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("response_mode", "query"),
            ("scope", "openid profile email"),
            ("state", STATE),
            ("nonce", NONCE),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ];
        p.extend_from_slice(extra);
        p
    }

    /// The query parameters of a redirect to the app.
    fn redirected(headers: &HeaderMap) -> HashMap<String, String> {
        let location = headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .expect("location");
        let (to, query) = location.split_once('?').expect("query");
        assert_eq!(to, REDIRECT);
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    /// Signs `who` in; the authorization code.
    async fn code_for(fake: &FakeGraph, who: &str, extra: &[(&str, &str)]) -> String {
        let c = challenge();
        let mut extra = extra.to_vec();
        extra.push(("sim_user", who));
        let (status, headers, body) = get(fake, &authorize_uri(&sign_in_params(&c, &extra))).await;
        assert_eq!(status, StatusCode::FOUND, "{body}");
        let q = redirected(&headers);
        assert_eq!(q.get("state").map(String::as_str), Some(STATE));
        assert!(q.contains_key("session_state"));
        q.get("code").cloned().expect("code")
    }

    async fn redeem(fake: &FakeGraph, code: &str, verifier: &str) -> (StatusCode, Value) {
        let uri = format!("/{SIM_TENANT_ID}/oauth2/v2.0/token");
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", SIM_CLIENT_ID),
            ("client_secret", SIM_CLIENT_SECRET),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ];
        post_form(fake, &uri, &form, None).await
    }

    /// Signs `who` in and redeems the code; the ID token.
    async fn id_token_for(fake: &FakeGraph, who: &str) -> String {
        let code = code_for(fake, who, &[]).await;
        let (status, body) = redeem(fake, &code, VERIFIER).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["id_token"].as_str().expect("id_token").to_owned()
    }

    /// The JWKS's only key: its kid and a decoding key.
    async fn published_key(fake: &FakeGraph) -> (String, DecodingKey) {
        let (status, jwks) = get_json(fake, &format!("/{SIM_TENANT_ID}/discovery/v2.0/keys")).await;
        assert_eq!(status, StatusCode::OK);
        let keys = jwks["keys"].as_array().expect("keys");
        assert_eq!(keys.len(), 1, "{jwks}");
        let k = &keys[0];
        assert_eq!(
            (k["kty"].as_str(), k["use"].as_str()),
            (Some("RSA"), Some("sig"))
        );
        let key = DecodingKey::from_rsa_components(
            k["n"].as_str().expect("n"),
            k["e"].as_str().expect("e"),
        )
        .expect("key");
        (k["kid"].as_str().expect("kid").to_owned(), key)
    }

    /// Checks a token as the app must: signature, audience, issuer, lifetime.
    async fn verify(fake: &FakeGraph, token: &str) -> Result<Value, ErrorKind> {
        let (_, key) = published_key(fake).await;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&[SIM_CLIENT_ID]);
        v.set_issuer(&[issuer(BASE, SIM_TENANT_ID)]);
        jsonwebtoken::decode::<Value>(token, &key, &v)
            .map(|t| t.claims)
            .map_err(|e| e.kind().clone())
    }

    fn segment(token: &str, n: usize) -> Value {
        let part = token.split('.').nth(n).expect("segment");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
    }

    fn now() -> i64 {
        Utc::now().timestamp()
    }

    #[tokio::test]
    async fn discovery_names_the_endpoints_and_refuses_other_tenants() {
        let fake = fake();
        let (status, d) = get_json(
            &fake,
            &format!("/{SIM_TENANT_ID}/v2.0/.well-known/openid-configuration"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let t = SIM_TENANT_ID;
        assert_eq!(d["issuer"], format!("{BASE}/{t}/v2.0"));
        assert_eq!(
            d["authorization_endpoint"],
            format!("{BASE}/{t}/oauth2/v2.0/authorize")
        );
        assert_eq!(d["token_endpoint"], format!("{BASE}/{t}/oauth2/v2.0/token"));
        assert_eq!(d["jwks_uri"], format!("{BASE}/{t}/discovery/v2.0/keys"));
        assert_eq!(
            d["end_session_endpoint"],
            format!("{BASE}/{t}/oauth2/v2.0/logout")
        );
        assert_eq!(
            d["response_modes_supported"],
            json!(["query", "fragment", "form_post"])
        );
        assert_eq!(
            d["scopes_supported"],
            json!(["openid", "profile", "email", "offline_access"])
        );
        assert_eq!(d["subject_types_supported"], json!(["pairwise"]));
        assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS256"]));
        assert_eq!(
            d["token_endpoint_auth_methods_supported"],
            json!([
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic"
            ])
        );
        for field in [
            "claims_supported",
            "response_types_supported",
            "tenant_region_scope",
            "userinfo_endpoint",
        ] {
            assert!(!d[field].is_null(), "{field}");
        }

        let (status, err) = get_json(
            &fake,
            "/contoso.example/v2.0/.well-known/openid-configuration",
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            err["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with("AADSTS90002:"))
        );
        let (status, _) = get_json(&fake, "/contoso.example/discovery/v2.0/keys").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _, page) =
            get(&fake, "/contoso.example/oauth2/v2.0/authorize?client_id=x").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("AADSTS90002"));
        assert_eq!(fake.served().discovery_requests, 2);
    }

    #[tokio::test]
    async fn pkce_sign_in_gives_an_id_token_that_verifies_against_the_jwks() {
        let fake = fake();
        let p = member(&fake);
        let groups = "0b1f5a3e-0000-4000-8000-000000000001, 0b1f5a3e-0000-4000-8000-000000000002";
        // UPNs are matched in any letter case.
        let code = code_for(
            &fake,
            &p.upn.to_uppercase(),
            &[
                ("sim_roles", "Phoneless.Helpdesk,Phoneless.Viewer"),
                ("sim_groups", groups),
            ],
        )
        .await;
        // Client authentication by HTTP Basic this time.
        let uri = format!("/{SIM_TENANT_ID}/oauth2/v2.0/token");
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        let basic = format!("{SIM_CLIENT_ID}:{SIM_CLIENT_SECRET}");
        let (status, body) = post_form(&fake, &uri, &form, Some(&basic)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3599);
        assert_eq!(body["scope"], "openid profile email");
        let token = body["id_token"].as_str().expect("id_token");

        let header = segment(token, 0);
        let (kid, _) = published_key(&fake).await;
        assert_eq!(header, json!({"typ": "JWT", "alg": "RS256", "kid": kid}));
        let c = verify(&fake, token).await.expect("a valid token");
        assert_eq!(c["aud"], SIM_CLIENT_ID);
        assert_eq!(c["iss"], issuer(BASE, SIM_TENANT_ID));
        assert_eq!(c["tid"], SIM_TENANT_ID);
        assert_eq!(c["oid"], p.id.as_str());
        assert_eq!(c["preferred_username"], p.upn.as_str());
        assert_eq!(c["name"], p.display_name.as_str());
        assert_eq!(c["nonce"], NONCE);
        assert_eq!(c["ver"], "2.0");
        assert_eq!(
            c["roles"],
            json!(["Phoneless.Helpdesk", "Phoneless.Viewer"])
        );
        assert_eq!(
            c["groups"],
            json!([
                "0b1f5a3e-0000-4000-8000-000000000001",
                "0b1f5a3e-0000-4000-8000-000000000002"
            ])
        );
        let iat = c["iat"].as_i64().expect("iat");
        assert!((iat - now()).abs() < 60);
        assert_eq!(c["exp"].as_i64(), Some(iat + 3600));
        for claim in ["sub", "uti", "aio", "rh", "sid", "nbf"] {
            assert!(!c[claim].is_null(), "{claim}");
        }
        assert!(c.get("idp").is_none(), "members authenticate here");

        // The access token is good for Graph.
        let access = body["access_token"].as_str().expect("access_token");
        let req = Request::get("/v1.0/users")
            .header(header::HOST, HOST)
            .header(header::AUTHORIZATION, format!("Bearer {access}"));
        let (status, _, _) = send(&fake, req.body(Body::empty()).expect("request")).await;
        assert_eq!(status, StatusCode::OK);

        // A code is good once.
        let (status, err) = redeem(&fake, &code, VERIFIER).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(err["error"], "invalid_grant");
        assert!(
            err["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with("AADSTS54005:"))
        );
        let served = fake.served();
        assert_eq!(served.id_tokens_issued, 1);
        assert_eq!(served.authorize_requests, 1);
        assert_eq!(served.tokens_issued, 0);
    }

    #[tokio::test]
    async fn codes_need_the_right_verifier_and_redirect_uri() {
        let fake = fake();
        let upn = member(&fake).upn;
        let code = code_for(&fake, &upn, &[]).await;
        let (status, err) = redeem(
            &fake,
            &code,
            "not-the-verifier-not-the-verifier-not-the-verifier",
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(err["error"], "invalid_grant");
        assert_eq!(
            err["error_description"]
                .as_str()
                .and_then(|d| d.lines().next()),
            Some(
                "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request."
            )
        );
        assert_eq!(err["error_codes"], serde_json::json!([501481]));
        assert_eq!(
            err["error_uri"],
            "https://login.microsoftonline.com/error?code=501481"
        );
        let trace_id = err["trace_id"].as_str().expect("trace_id");
        assert!(uuid::Uuid::parse_str(trace_id).is_ok());
        assert!(
            err["correlation_id"]
                .as_str()
                .is_some_and(|c| uuid::Uuid::parse_str(c).is_ok())
        );
        let timestamp = err["timestamp"].as_str().expect("timestamp");
        assert!(
            chrono::NaiveDateTime::parse_from_str(timestamp, "%Y-%m-%d %H:%M:%SZ").is_ok(),
            "{timestamp}"
        );
        let description = err["error_description"].as_str().unwrap_or_default();
        assert!(
            description.contains(&format!("\r\nTrace ID: {trace_id}\r\n")),
            "{description}"
        );

        let uri = format!("/{SIM_TENANT_ID}/oauth2/v2.0/token");
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("client_id", SIM_CLIENT_ID),
            ("client_secret", SIM_CLIENT_SECRET),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:8080/auth/callback/"),
            ("code_verifier", VERIFIER),
        ];
        let (status, err) = post_form(&fake, &uri, &form, None).await;
        assert_eq!(
            (status, err["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
        assert!(
            err["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with("AADSTS500112:"))
        );

        form[4].1 = REDIRECT;
        form.pop();
        let (status, err) = post_form(&fake, &uri, &form, None).await;
        assert_eq!(
            (status, err["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request"))
        );
        assert!(
            err["error_description"]
                .as_str()
                .is_some_and(|d| d.contains("'code_verifier'"))
        );

        form[2].1 = "wrong";
        form.push(("code_verifier", VERIFIER));
        let (status, err) = post_form(&fake, &uri, &form, None).await;
        assert_eq!(
            (status, err["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client"))
        );

        let (status, err) = redeem(&fake, "0.sim.never-issued", VERIFIER).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            err["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with("AADSTS70008:"))
        );

        // Failed attempts do not use the code up.
        let (status, _) = redeem(&fake, &code, VERIFIER).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[test]
    fn codes_expire_after_ten_minutes() {
        let fake = fake();
        let now = Utc::now();
        let grant = Grant {
            client_id: SIM_CLIENT_ID.into(),
            redirect_uri: REDIRECT.into(),
            scope: "openid".into(),
            nonce: None,
            challenge: None,
            person: 0,
            roles: Vec::new(),
            groups: Vec::new(),
            expires: now + CODE_LIFETIME,
            redeemed: false,
        };
        let idp = &fake.inner.idp;
        let code = idp.issue_code(grant.clone(), now);
        let late = now + CODE_LIFETIME + TimeDelta::seconds(1);
        let refusal = idp.redeem(&code, late, |_| Ok(())).expect_err("expired");
        assert_eq!(refusal.error, "invalid_grant");
        assert!(refusal.description.starts_with("AADSTS70008:"));
        let code = idp.issue_code(grant, now);
        assert!(
            idp.redeem(&code, now + TimeDelta::minutes(9), |_| Ok(()))
                .is_ok()
        );
    }

    #[tokio::test]
    async fn the_authorize_request_is_checked_as_entra_does() {
        let fake = fake_with(FakeSettings {
            redirect_uris: vec![REDIRECT.to_owned()],
            ..FakeSettings::default()
        });
        let upn = member(&fake).upn;
        let c = challenge();
        let with = |changes: &[(&str, &str)]| {
            let mut p = sign_in_params(&c, &[("sim_user", upn.as_str())]);
            for (k, v) in changes {
                p.retain(|(key, _)| key != k);
                if !v.is_empty() {
                    p.push((k, v));
                }
            }
            authorize_uri(&p)
        };
        // Shown, not redirected: the app or the redirect URI cannot be trusted.
        let evil = "https://evil.example/cb?<script>";
        let (status, _, page) = get(&fake, &with(&[("redirect_uri", evil)])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("AADSTS50011: The redirect URI &#39;https://evil.example/cb?&lt;script&gt;&#39; specified in the request does not match the redirect URIs configured for the application"), "{page}");
        assert!(!page.contains("<script>"));
        let (status, _, page) = get(&fake, &with(&[("client_id", "someone-else")])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("AADSTS700016"));

        // Redirected back with an error (and the state).
        for (change, error) in [
            (("response_type", "id_token"), "unsupported_response_type"),
            (("scope", "profile email"), "invalid_request"),
            (("response_mode", "form_post"), "invalid_request"),
            (("code_challenge_method", "S512"), "invalid_request"),
            (("code_challenge", "too-short"), "invalid_request"),
        ] {
            let (status, headers, _) = get(&fake, &with(&[change])).await;
            assert_eq!(status, StatusCode::FOUND, "{change:?}");
            let q = redirected(&headers);
            assert_eq!(
                q.get("error").map(String::as_str),
                Some(error),
                "{change:?}"
            );
            assert_eq!(q.get("state").map(String::as_str), Some(STATE));
            assert!(q.get("error_description").is_some_and(|d| !d.is_empty()));
        }

        // Unknown people are named; disabled people are refused.
        let (status, _, page) = get(&fake, &with(&[("sim_user", "nobody@contoso.com")])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("AADSTS50034") && page.contains("nobody@contoso.com"));
        let disabled = person(&fake, |p, a| a == Account::Disabled && p.disabled);
        let (status, _, page) = get(&fake, &with(&[("sim_user", disabled.id.as_str())])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("AADSTS50057: The user account is disabled."));
        let left = person(&fake, |p, _| p.leaves.is_some_and(|l| l <= 60));
        let (status, _, page) = get(&fake, &with(&[("sim_user", left.upn.as_str())])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("AADSTS50057"));
        assert_eq!(fake.served().id_tokens_issued, 0);
    }

    #[tokio::test]
    async fn without_a_person_a_form_asks_and_carries_the_request() {
        let fake = fake();
        let c = challenge();
        let hint = "\"><b>hint</b>@contoso.com";
        let params = sign_in_params(
            &c,
            &[("login_hint", hint), ("sim_roles", "Phoneless.Viewer")],
        );
        let (status, headers, page) = get(&fake, &authorize_uri(&params)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            headers
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.to_str().is_ok_and(|v| v.starts_with("text/html")))
        );
        assert!(page.contains("Sign in to the simulated tenant"));
        assert!(page.contains(&format!(
            "action=\"/{SIM_TENANT_ID}/oauth2/v2.0/authorize\""
        )));
        assert!(page.contains(
            "<input type=\"hidden\" name=\"state\" value=\"st&amp;te=1 &lt;x&gt;&quot;&#39;/ü\">"
        ));
        assert!(page.contains(&format!(
            "<input type=\"hidden\" name=\"code_challenge\" value=\"{c}\">"
        )));
        assert!(page.contains("value=\"&quot;&gt;&lt;b&gt;hint&lt;/b&gt;@contoso.com\""));
        assert!(!page.contains("<b>hint"));
        assert!(page.contains("value=\"Phoneless.Viewer\" checked>"));
        assert!(page.contains("value=\"Phoneless.SecurityLead\">"));
        assert!(page.contains("value=\"Phoneless.Helpdesk\">"));
        assert!(page.contains("name=\"sim_groups\""));
        assert!(!page.contains("type=\"hidden\" name=\"sim_roles\""));

        // Without a hint the first member is offered; a silent request gets login_required.
        let (_, _, page) = get(&fake, &authorize_uri(&sign_in_params(&c, &[]))).await;
        assert!(page.contains(&format!(
            "name=\"sim_user\" value=\"{}\"",
            escape(&member(&fake).upn)
        )));
        let (status, headers, _) = get(
            &fake,
            &authorize_uri(&sign_in_params(&c, &[("prompt", "none")])),
        )
        .await;
        assert_eq!(status, StatusCode::FOUND);
        assert_eq!(
            redirected(&headers).get("error").map(String::as_str),
            Some("login_required")
        );
    }

    #[tokio::test]
    async fn guests_sign_in_and_many_groups_overflow() {
        let fake = fake();
        let guest = person(&fake, |p, a| a == Account::Active && p.guest && p.external);
        let token = id_token_for(&fake, &guest.upn).await;
        let c = verify(&fake, &token).await.expect("valid");
        assert_eq!(c["oid"], guest.id.as_str());
        assert!(
            c["idp"]
                .as_str()
                .is_some_and(|i| i.starts_with("https://sts.windows.net/"))
        );
        assert!(c.get("roles").is_none() && c.get("groups").is_none());

        let member = member(&fake);
        let many: Vec<String> = (0..201)
            .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
            .collect();
        let many = many.join(",");
        let code = code_for(&fake, &member.id, &[("sim_groups", many.as_str())]).await;
        let (_, body) = redeem(&fake, &code, VERIFIER).await;
        let c = verify(&fake, body["id_token"].as_str().expect("id_token"))
            .await
            .expect("valid");
        assert!(c.get("groups").is_none());
        assert_eq!(c["_claim_names"], json!({"groups": "src1"}));
        assert_eq!(
            c["_claim_sources"]["src1"]["endpoint"],
            format!("{BASE}/v1.0/users/{}/getMemberObjects", member.id)
        );
    }

    #[tokio::test]
    async fn each_id_token_fault_spoils_one_token() {
        let fake = fake();
        let p = member(&fake);
        for fault in IdTokenFault::ALL {
            fake.set_faults(Faults {
                id_token: Some(fault),
                ..Faults::default()
            });
            let token = id_token_for(&fake, &p.upn).await;
            assert_eq!(fake.faults().id_token, None, "{fault:?} clears itself");
            let claims = segment(&token, 1);
            let result = verify(&fake, &token).await;
            match fault {
                IdTokenFault::Tampered => {
                    assert_eq!(result, Err(ErrorKind::InvalidSignature));
                    assert_ne!(claims["oid"], p.id.as_str());
                    assert_ne!(claims["preferred_username"], p.upn.as_str());
                }
                IdTokenFault::Expired => {
                    assert_eq!(result, Err(ErrorKind::ExpiredSignature));
                    let exp = claims["exp"].as_i64().expect("exp");
                    assert!(exp < now() - 3000);
                    assert!(claims["nbf"].as_i64().is_some_and(|nbf| nbf < exp));
                }
                IdTokenFault::WrongAudience => {
                    assert_eq!(result, Err(ErrorKind::InvalidAudience));
                }
                IdTokenFault::WrongIssuer => {
                    assert_eq!(result, Err(ErrorKind::InvalidIssuer));
                    assert_eq!(claims["tid"], SIM_TENANT_ID);
                }
                IdTokenFault::WrongNonce => {
                    let c = result.expect("otherwise valid");
                    assert!(c["nonce"].is_string() && c["nonce"] != NONCE);
                }
                IdTokenFault::WrongTenant => {
                    let c = result.expect("otherwise valid");
                    assert_ne!(c["tid"], SIM_TENANT_ID);
                    assert_eq!(c["iss"], issuer(BASE, SIM_TENANT_ID));
                }
                IdTokenFault::Unsigned => {
                    assert_eq!(segment(&token, 0), json!({"alg": "none", "typ": "JWT"}));
                    assert!(token.ends_with('.'));
                    assert!(result.is_err());
                    assert_eq!(claims["oid"], p.id.as_str());
                }
                IdTokenFault::UnknownKey => {
                    let (kid, _) = published_key(&fake).await;
                    let header = segment(&token, 0);
                    assert!(header["kid"].is_string() && header["kid"] != kid.as_str());
                    assert_eq!(header["alg"], "RS256");
                    assert_eq!(result, Err(ErrorKind::InvalidSignature));
                }
            }
            // The next token is good again.
            let next = id_token_for(&fake, &p.upn).await;
            let c = verify(&fake, &next).await.expect("valid after the fault");
            assert_eq!(c["nonce"], NONCE);
            assert_eq!(c["tid"], SIM_TENANT_ID);
        }
        assert_eq!(fake.served().id_tokens_issued, 16);
    }

    #[tokio::test]
    async fn faults_are_set_over_http_in_snake_case() {
        let fake = fake();
        let req = Request::post("/_sim/faults")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"id_token": "wrong_nonce"}"#))
            .expect("request");
        let (status, _, _) = send(&fake, req).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(fake.faults().id_token, Some(IdTokenFault::WrongNonce));
        assert_eq!(
            serde_json::to_value(IdTokenFault::UnknownKey).expect("json"),
            "unknown_key"
        );
    }

    #[tokio::test]
    async fn rotating_the_key_changes_the_kid_the_jwks_and_the_tokens() {
        let fake = fake();
        let upn = member(&fake).upn;
        let (first, _) = published_key(&fake).await;
        let old_token = id_token_for(&fake, &upn).await;

        fake.rotate_signing_key();
        let (second, _) = published_key(&fake).await;
        assert_ne!(first, second);
        let token = id_token_for(&fake, &upn).await;
        assert_eq!(segment(&token, 0)["kid"], second.as_str());
        assert!(verify(&fake, &token).await.is_ok());
        // Only the new key is published: the old token no longer verifies.
        assert_eq!(
            verify(&fake, &old_token).await,
            Err(ErrorKind::InvalidSignature)
        );

        let req = Request::post("/_sim/rotate_keys")
            .body(Body::empty())
            .expect("request");
        let (status, _, _) = send(&fake, req).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (third, _) = published_key(&fake).await;
        assert!(third != first && third != second);
        assert_eq!(fake.served().jwks_requests, 5);
    }

    #[tokio::test]
    async fn client_credentials_also_take_http_basic() {
        let fake = fake();
        let uri = format!("/{SIM_TENANT_ID}/oauth2/v2.0/token");
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ];
        let good = format!("{SIM_CLIENT_ID}:{SIM_CLIENT_SECRET}");
        let (status, body) = post_form(&fake, &uri, &form, Some(&good)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("id_token").is_none());
        let bad = format!("{SIM_CLIENT_ID}:wrong");
        let (status, body) = post_form(&fake, &uri, &form, Some(&bad)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with("AADSTS7000215:"))
        );
        assert_eq!(fake.served().tokens_issued, 1);
    }

    #[tokio::test]
    async fn logout_returns_to_the_app() {
        let fake = fake();
        let uri = format!(
            "/{SIM_TENANT_ID}/oauth2/v2.0/logout?post_logout_redirect_uri={}&state=s1",
            form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
        );
        let (status, headers, _) = get(&fake, &uri).await;
        assert_eq!(status, StatusCode::FOUND);
        assert_eq!(
            headers.get(header::LOCATION).and_then(|v| v.to_str().ok()),
            Some(format!("{REDIRECT}?state=s1").as_str())
        );
    }

    #[test]
    fn creating_a_fake_is_fast_once_the_first_key_exists() {
        let _warm = fake_with(FakeSettings::default());
        let start = Instant::now();
        let tenant = Tenant::generate(
            1,
            10,
            10,
            NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
        );
        let _fake = FakeGraph::new(tenant, FakeSettings::default());
        assert!(
            start.elapsed() < std::time::Duration::from_millis(200),
            "{:?}",
            start.elapsed()
        );
    }
}
