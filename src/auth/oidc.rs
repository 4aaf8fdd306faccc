//! OpenID Connect against the tenant's Entra ID: the authorization code flow with PKCE, `state`
//! and `nonce` (the `oauth2` crate), the code redeemed with the app's secret or certificate, and
//! the ID token validated in full: RS256 signature against the published keys, issuer,
//! audience, expiry, nonce and tenant.
//!
//! The discovery document and the signing keys are cached; keys are fetched again when a token
//! names a key id we do not have (Entra rolls its keys), discovery once a day.

use super::Identity;
use crate::credential::{Credential, client_assertion};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, ExtraTokenFields,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use uuid::Uuid;

/// How long discovery data is trusted before it is fetched again.
const DISCOVERY_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// How long the signing keys are trusted before they are fetched again (sooner on an unknown
/// key id).
const KEYS_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// Clock difference tolerated on `exp` and `nbf` (Microsoft's own libraries allow 5 minutes).
const CLOCK_SKEW_SECS: i64 = 5 * 60;
/// How long one request to Entra ID may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Scopes asked for: `profile` brings `oid`, `name` and `preferred_username`.
const SCOPES: [&str; 2] = ["openid", "profile"];

/// What sign-in needs: the tenant's authority and the app registration (the same one the
/// syncer uses), and where Entra sends people back.
#[derive(Debug, Clone)]
pub struct SignInSettings {
    /// The authority host, e.g. `https://login.microsoftonline.com`.
    pub login_url: String,
    /// A tenant GUID or verified domain.
    pub tenant_id: String,
    pub client_id: String,
    pub credential: Credential,
    /// `PHONELESS_PUBLIC_URL` + `/auth/callback`, registered on the app as a Web redirect URI.
    pub redirect_url: String,
}

/// Why a sign-in did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Entra ID did not answer, or not in a form we understand.
    #[error("Microsoft Entra ID could not be reached: {0}")]
    Unreachable(String),
    /// Entra ID refused to redeem the code (with its AADSTS code).
    #[error("Microsoft Entra ID refused the sign-in: {0}")]
    Refused(String),
    /// The ID token failed validation.
    #[error("the ID token was refused: {0}")]
    InvalidToken(String),
    /// The configuration cannot work (bad URL, unreadable certificate).
    #[error("sign-in is misconfigured: {0}")]
    Config(String),
}

/// A sign-in to send the browser off with. `state`, `nonce` and the PKCE verifier must be kept
/// (server-side) until the callback.
pub struct SignInStart {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The parts of the tenant's discovery document we use.
#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

struct Provider {
    discovery: Discovery,
    /// The tenant's GUID, from the issuer (the configured tenant may be a domain).
    tenant: Uuid,
    fetched: Instant,
}

struct Keys {
    by_kid: HashMap<String, jsonwebtoken::DecodingKey>,
    fetched: Instant,
}

/// The ID token in the token endpoint's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdTokenField {
    id_token: String,
}
impl ExtraTokenFields for IdTokenField {}

type CodeResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;
/// A client with its authorize and token endpoints set.
type CodeClient = oauth2::Client<
    BasicErrorResponse,
    CodeResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

/// Sign-in with one tenant's Entra ID. Cheap to share (`Arc`); caches discovery and keys.
pub struct Oidc {
    settings: SignInSettings,
    http: reqwest::Client,
    provider: Mutex<Option<Arc<Provider>>>,
    keys: Mutex<Option<Keys>>,
}

impl Oidc {
    pub fn new(settings: SignInSettings) -> Result<Oidc, SignInError> {
        RedirectUrl::new(settings.redirect_url.clone())
            .map_err(|e| SignInError::Config(format!("redirect URI: {e}")))?;
        let http = reqwest::Client::builder()
            // The token endpoint must not redirect us anywhere (oauth2's advice).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| SignInError::Config(format!("HTTP client: {e}")))?;
        Ok(Oidc {
            settings,
            http,
            provider: Mutex::new(None),
            keys: Mutex::new(None),
        })
    }

    /// A new sign-in: the authorize URL with fresh `state`, `nonce` and PKCE (S256) challenge.
    pub async fn start(&self) -> Result<SignInStart, SignInError> {
        let provider = self.provider().await?;
        let client = self.client(&provider)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = CsrfToken::new_random();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge)
            .add_extra_param("nonce", nonce.secret())
            // Back by a top-level GET, so the SameSite=Lax cookie that ties the sign-in to
            // this browser comes along (a form_post from Microsoft's site would drop it).
            .add_extra_param("response_mode", "query");
        for scope in SCOPES {
            request = request.add_scope(Scope::new(scope.to_owned()));
        }
        let (url, state) = request.url();
        Ok(SignInStart {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Redeems the code (with the PKCE verifier and the app's credential) and validates the ID
    /// token against `nonce` at `now`.
    pub async fn finish(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Identity, SignInError> {
        let provider = self.provider().await?;
        let client = self.client(&provider)?.set_auth_type(AuthType::RequestBody);
        let (client, assertion) = match &self.settings.credential {
            Credential::Secret(secret) => (
                client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned())),
                None,
            ),
            Credential::Certificate {
                certificate_pem,
                private_key_pem,
            } => {
                let assertion = client_assertion(
                    &provider.discovery.token_endpoint,
                    &self.settings.client_id,
                    certificate_pem,
                    private_key_pem,
                )
                .map_err(SignInError::Config)?;
                (client, Some(assertion))
            }
        };
        let mut request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()));
        if let Some(assertion) = assertion {
            request = request
                .add_extra_param(
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                )
                .add_extra_param("client_assertion", assertion);
        }
        let response = request.request_async(&self.http).await;
        let response = response.map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => SignInError::Refused(format!(
                "{}{}",
                r.error(),
                r.error_description()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            )),
            RequestTokenError::Request(e) => SignInError::Unreachable(e.to_string()),
            RequestTokenError::Parse(e, _) => {
                SignInError::Unreachable(format!("the token endpoint's answer is not usable: {e}"))
            }
            RequestTokenError::Other(e) => SignInError::Unreachable(e),
        })?;
        self.validate(&response.extra_fields().id_token, nonce, now)
            .await
    }

    /// Validates an ID token in full and returns the person it names.
    pub async fn validate(
        &self,
        id_token: &str,
        nonce: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Identity, SignInError> {
        let invalid = |m: String| SignInError::InvalidToken(m);
        // `alg: none` and unknown algorithms fail here: the header does not parse.
        let header = jsonwebtoken::decode_header(id_token)
            .map_err(|e| invalid(format!("it is not a signed JWT ({e})")))?;
        if header.alg != jsonwebtoken::Algorithm::RS256 {
            return Err(invalid(format!(
                "it is signed with {:?}; Entra ID signs with RS256",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| invalid("its header names no signing key (kid)".into()))?;
        let key = self.key(&kid).await?;
        let provider = self.provider().await?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[&self.settings.client_id]);
        validation.set_issuer(&[&provider.discovery.issuer]);
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        // Times are checked below against `now`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let claims = jsonwebtoken::decode::<TokenClaims>(id_token, &key, &validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                invalid(match e.kind() {
                    K::InvalidSignature => "its signature does not match the signing key".into(),
                    K::InvalidAudience => "it was issued to another application (aud)".into(),
                    K::InvalidIssuer => {
                        format!("it was not issued by {} (iss)", provider.discovery.issuer)
                    }
                    _ => e.to_string(),
                })
            })?
            .claims;
        check_claims(claims, nonce, provider.tenant, now.timestamp()).map_err(invalid)
    }

    fn client(&self, provider: &Provider) -> Result<CodeClient, SignInError> {
        let bad = |what: &str, e: oauth2::url::ParseError| {
            SignInError::Unreachable(format!("the discovery document's {what} is not a URL: {e}"))
        };
        Ok(
            oauth2::Client::new(ClientId::new(self.settings.client_id.clone()))
                .set_auth_uri(
                    AuthUrl::new(provider.discovery.authorization_endpoint.clone())
                        .map_err(|e| bad("authorization_endpoint", e))?,
                )
                .set_token_uri(
                    TokenUrl::new(provider.discovery.token_endpoint.clone())
                        .map_err(|e| bad("token_endpoint", e))?,
                )
                .set_redirect_uri(
                    RedirectUrl::new(self.settings.redirect_url.clone())
                        .map_err(|e| SignInError::Config(format!("redirect URI: {e}")))?,
                ),
        )
    }

    /// The discovery document, fetched once a day. A failed refresh keeps the old one.
    async fn provider(&self) -> Result<Arc<Provider>, SignInError> {
        let mut cached = self.provider.lock().await;
        if let Some(p) = cached.as_ref()
            && p.fetched.elapsed() < DISCOVERY_LIFETIME
        {
            return Ok(p.clone());
        }
        let url = format!(
            "{}/{}/v2.0/.well-known/openid-configuration",
            self.settings.login_url.trim_end_matches('/'),
            self.settings.tenant_id
        );
        let fetched = match self.get_json::<Discovery>(&url).await {
            Ok(d) => d,
            Err(e) => {
                if let Some(p) = cached.as_ref() {
                    tracing::warn!("keeping the old discovery document: {e}");
                    return Ok(p.clone());
                }
                return Err(e);
            }
        };
        let tenant = issuer_tenant(&fetched.issuer, &self.settings.login_url).ok_or_else(|| {
            SignInError::Unreachable(format!(
                "the discovery document's issuer {:?} is not {}/<tenant id>/v2.0",
                fetched.issuer, self.settings.login_url
            ))
        })?;
        if let Ok(configured) = Uuid::parse_str(&self.settings.tenant_id)
            && configured != tenant
        {
            return Err(SignInError::Unreachable(format!(
                "the discovery document is for tenant {tenant}, not {configured}"
            )));
        }
        let provider = Arc::new(Provider {
            discovery: fetched,
            tenant,
            fetched: Instant::now(),
        });
        *cached = Some(provider.clone());
        Ok(provider)
    }

    /// The public key `kid`, fetching the key set again when it is unknown or a day old.
    ///
    /// Fetching on every unknown key id cannot be abused: ID tokens reach us only from the
    /// token endpoint, over TLS, in answer to our own request.
    async fn key(&self, kid: &str) -> Result<jsonwebtoken::DecodingKey, SignInError> {
        let mut keys = self.keys.lock().await;
        if let Some(k) = keys.as_ref()
            && k.fetched.elapsed() < KEYS_LIFETIME
            && let Some(key) = k.by_kid.get(kid)
        {
            return Ok(key.clone());
        }
        let provider = self.provider().await?;
        let set: jsonwebtoken::jwk::JwkSet = self.get_json(&provider.discovery.jwks_uri).await?;
        let by_kid = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let id = jwk.common.key_id.clone()?;
                jsonwebtoken::DecodingKey::from_jwk(jwk)
                    .ok()
                    .map(|key| (id, key))
            })
            .collect::<HashMap<_, _>>();
        let found = by_kid.get(kid).cloned();
        *keys = Some(Keys {
            by_kid,
            fetched: Instant::now(),
        });
        found.ok_or_else(|| {
            SignInError::InvalidToken(format!(
                "it is signed with key {kid:?}, which the tenant does not publish"
            ))
        })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, SignInError> {
        let unreachable = |e: reqwest::Error| SignInError::Unreachable(format!("{url}: {e}"));
        self.http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unreachable)?
            .json::<T>()
            .await
            .map_err(unreachable)
    }
}

/// `{login_url}/{tenant GUID}/v2.0` → the GUID.
fn issuer_tenant(issuer: &str, login_url: &str) -> Option<Uuid> {
    let rest = issuer.strip_prefix(login_url.trim_end_matches('/'))?;
    let guid = rest.strip_prefix('/')?.strip_suffix("/v2.0")?;
    Uuid::parse_str(guid).ok()
}

/// The ID token's claims that matter here (`aud` and `iss` are checked by the decoder).
#[derive(Debug, Deserialize)]
struct TokenClaims {
    exp: i64,
    nbf: Option<i64>,
    nonce: Option<String>,
    tid: Option<String>,
    oid: Option<String>,
    name: Option<String>,
    preferred_username: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    /// Present (with `groups`) when the person is in too many groups for the token.
    #[serde(rename = "_claim_names")]
    claim_names: Option<HashMap<String, serde_json::Value>>,
    hasgroups: Option<bool>,
}

/// The checks on a decoded, signature-checked token: times (with skew), nonce, tenant, ids.
fn check_claims(c: TokenClaims, nonce: &str, tenant: Uuid, now: i64) -> Result<Identity, String> {
    if now > c.exp + CLOCK_SKEW_SECS {
        return Err(format!("it expired {} s ago", now - c.exp));
    }
    if let Some(nbf) = c.nbf
        && now + CLOCK_SKEW_SECS < nbf
    {
        return Err("it is not valid yet (nbf); check this server's clock".into());
    }
    if c.nonce.as_deref() != Some(nonce) {
        return Err("its nonce does not match this sign-in".into());
    }
    let tid = c.tid.as_deref().and_then(|t| Uuid::parse_str(t).ok());
    if tid != Some(tenant) {
        return Err(format!(
            "it is for tenant {}, not {tenant}",
            c.tid.as_deref().unwrap_or("(none)")
        ));
    }
    let object_id = c
        .oid
        .as_deref()
        .and_then(|o| Uuid::parse_str(o).ok())
        .ok_or("it names no object id (oid)")?;
    let username = c.preferred_username.unwrap_or_default();
    let overage = c.hasgroups == Some(true)
        || c.claim_names
            .as_ref()
            .is_some_and(|n| n.contains_key("groups"));
    Ok(Identity {
        tenant_id: tenant,
        object_id,
        name: c
            .name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| username.clone()),
        username,
        roles: c.roles,
        groups: c.groups,
        groups_overage: overage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "00000000-0000-4000-8000-00000000c0de";
    const NOW: i64 = 1_800_000_000;

    fn claims(extra: serde_json::Value) -> TokenClaims {
        let mut base = serde_json::json!({
            "exp": NOW + 3600, "nbf": NOW - 10, "nonce": "n1", "tid": TENANT,
            "oid": "9b2c4c43-7d1e-4c55-9a8e-0f1d1b2a3c4d", "name": "Ada Lovelace",
            "preferred_username": "ada@contoso.example", "roles": ["Phoneless.Viewer"],
        });
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(base).expect("claims")
    }

    fn check(extra: serde_json::Value) -> Result<Identity, String> {
        check_claims(
            claims(extra),
            "n1",
            Uuid::parse_str(TENANT).expect("uuid"),
            NOW,
        )
    }

    #[test]
    fn a_good_token_names_the_person() {
        let id = check(serde_json::json!({})).expect("valid");
        assert_eq!(id.name, "Ada Lovelace");
        assert_eq!(id.username, "ada@contoso.example");
        assert_eq!(id.roles, vec!["Phoneless.Viewer".to_owned()]);
        assert!(!id.groups_overage);
    }

    #[test]
    fn each_bad_claim_is_refused_with_its_reason() {
        for (extra, reason) in [
            (serde_json::json!({"exp": NOW - 301}), "expired"),
            (serde_json::json!({"nbf": NOW + 3600}), "not valid yet"),
            (serde_json::json!({"nonce": "other"}), "nonce"),
            (serde_json::json!({"nonce": null}), "nonce"),
            (
                serde_json::json!({"tid": "72f988bf-86f1-41af-91ab-2d7cd011db47"}),
                "tenant",
            ),
            (serde_json::json!({"oid": null}), "oid"),
        ] {
            let e = check(extra.clone()).expect_err("refused");
            assert!(e.contains(reason), "{extra}: {e}");
        }
        // Within the tolerated clock skew.
        assert!(check(serde_json::json!({"exp": NOW - 299})).is_ok());
    }

    #[test]
    fn group_overage_is_noticed() {
        let id = check(serde_json::json!({
            "_claim_names": {"groups": "src1"},
            "_claim_sources": {"src1": {"endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects"}}
        }))
        .expect("valid");
        assert!(id.groups_overage);
        assert!(
            check(serde_json::json!({"hasgroups": true}))
                .expect("valid")
                .groups_overage
        );
    }

    #[test]
    fn issuer_names_the_tenant() {
        let login = "https://login.microsoftonline.com";
        assert_eq!(
            issuer_tenant(&format!("{login}/{TENANT}/v2.0"), login).map(|u| u.to_string()),
            Some(TENANT.to_owned())
        );
        assert_eq!(issuer_tenant(&format!("{login}/{TENANT}/"), login), None);
        assert_eq!(
            issuer_tenant(&format!("https://evil.example/{TENANT}/v2.0"), login),
            None
        );
    }
}
