//! App-only access tokens by OAuth2 client credentials, with a client secret or a certificate
//! (signed client assertion), cached and renewed before they expire.

use super::GraphError;
use crate::credential::{Credential, client_assertion};
use oauth2::basic::{BasicClient, BasicErrorResponse};
use oauth2::{AuthType, ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse, TokenUrl};
use secrecy::{ExposeSecret, SecretString};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Renew a cached token this long before Graph would reject it.
const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

struct CachedToken {
    value: SecretString,
    renew_at: Instant,
}

/// Gets and caches app-only tokens for one tenant.
pub struct TokenProvider {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    scope: String,
    credential: Credential,
    cached: Mutex<Option<CachedToken>>,
}

impl TokenProvider {
    /// `login_url` is the authority host (e.g. `https://login.microsoftonline.com`), `graph_url`
    /// the Graph host whose `/.default` scope is requested.
    pub fn new(
        http: reqwest::Client,
        login_url: &str,
        tenant_id: &str,
        client_id: &str,
        graph_url: &str,
        credential: Credential,
    ) -> Self {
        TokenProvider {
            http,
            token_url: format!(
                "{}/{}/oauth2/v2.0/token",
                login_url.trim_end_matches('/'),
                tenant_id
            ),
            client_id: client_id.to_owned(),
            scope: format!("{}/.default", graph_url.trim_end_matches('/')),
            credential,
            cached: Mutex::new(None),
        }
    }

    /// A valid token, from the cache while it has more than a few minutes left.
    pub async fn token(&self) -> Result<SecretString, GraphError> {
        let mut cached = self.cached.lock().await;
        if let Some(t) = cached.as_ref()
            && Instant::now() < t.renew_at
        {
            return Ok(t.value.clone());
        }
        let (value, lifetime) = self.request().await?;
        let renew_in = lifetime
            .saturating_sub(RENEW_BEFORE_EXPIRY)
            .max(lifetime / 2);
        *cached = Some(CachedToken {
            value: value.clone(),
            renew_at: Instant::now() + renew_in,
        });
        Ok(value)
    }

    /// Forget `rejected` (Graph answered 401 with it), unless a concurrent request has already
    /// replaced it with a fresh one.
    pub async fn invalidate(&self, rejected: &SecretString) {
        let mut cached = self.cached.lock().await;
        if cached
            .as_ref()
            .is_some_and(|t| t.value.expose_secret() == rejected.expose_secret())
        {
            *cached = None;
        }
    }

    async fn request(&self) -> Result<(SecretString, Duration), GraphError> {
        let token_url = TokenUrl::new(self.token_url.clone()).map_err(|e| {
            GraphError::Config(format!("token URL {:?} is not valid: {e}", self.token_url))
        })?;
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_token_uri(token_url)
            .set_auth_type(AuthType::RequestBody);
        let response = match &self.credential {
            Credential::Secret(secret) => {
                let client =
                    client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
                client
                    .exchange_client_credentials()
                    .add_scope(Scope::new(self.scope.clone()))
                    .request_async(&self.http)
                    .await
            }
            Credential::Certificate {
                certificate_pem,
                private_key_pem,
            } => {
                let assertion = client_assertion(
                    &self.token_url,
                    &self.client_id,
                    certificate_pem,
                    private_key_pem,
                )
                .map_err(GraphError::Config)?;
                client
                    .exchange_client_credentials()
                    .add_scope(Scope::new(self.scope.clone()))
                    .add_extra_param(
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    )
                    .add_extra_param("client_assertion", assertion)
                    .request_async(&self.http)
                    .await
            }
        };
        match response {
            Ok(token) => {
                let lifetime = token.expires_in().unwrap_or(Duration::from_secs(3599));
                Ok((
                    SecretString::from(token.access_token().secret().to_owned()),
                    lifetime,
                ))
            }
            Err(e) => Err(token_error(&self.token_url, e)),
        }
    }
}

/// Plain words for the token endpoint's refusals; `AADSTS` codes per Microsoft's error reference.
fn token_error(
    url: &str,
    e: RequestTokenError<oauth2::HttpClientError<reqwest::Error>, BasicErrorResponse>,
) -> GraphError {
    match e {
        RequestTokenError::ServerResponse(resp) => {
            let description = resp.error_description().cloned().unwrap_or_default();
            let first_line = description.lines().next().unwrap_or("").to_owned();
            let advice = if description.contains("AADSTS7000215")
                || description.contains("AADSTS7000222")
            {
                "The client secret is wrong or has expired: create a new one under Certificates & secrets and update PHONELESS_CLIENT_SECRET."
            } else if description.contains("AADSTS700016") {
                "No app with this client id exists in the tenant: check PHONELESS_CLIENT_ID and PHONELESS_TENANT_ID."
            } else if description.contains("AADSTS90002") || description.contains("AADSTS900023") {
                "The tenant was not found: check PHONELESS_TENANT_ID (and PHONELESS_LOGIN_URL for national clouds)."
            } else if description.contains("AADSTS700027") || description.contains("AADSTS700024") {
                "The signed client assertion was refused: check that this certificate is registered on the app and the clock is right."
            } else {
                "Check the app registration, its credential and PHONELESS_TENANT_ID."
            };
            GraphError::Token(format!(
                "the sign-in endpoint refused the app ({}: {first_line}). {advice}",
                resp.error()
            ))
        }
        RequestTokenError::Request(err) => GraphError::Token(format!(
            "could not reach the sign-in endpoint {url}: {}",
            error_chain(&err)
        )),
        RequestTokenError::Parse(err, _) => GraphError::Token(format!(
            "the sign-in endpoint {url} answered something that is not a token: {err}"
        )),
        RequestTokenError::Other(msg) => {
            GraphError::Token(format!("the sign-in endpoint {url} failed: {msg}"))
        }
    }
}

/// An error and its causes on one line (reqwest hides the useful part in `source()`).
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
