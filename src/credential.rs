//! The app registration's credential: a client secret, or a certificate whose key signs a
//! client assertion. Used by the syncer's app-only tokens and by sign-in's code redemption.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Lifetime of a signed client assertion (Microsoft advises 5–10 minutes).
const ASSERTION_LIFETIME_SECS: i64 = 10 * 60;

/// How the app proves who it is to the token endpoint.
#[derive(Clone)]
pub enum Credential {
    Secret(SecretString),
    /// An X.509 certificate registered on the app, and its RSA private key (both PEM).
    Certificate {
        certificate_pem: String,
        private_key_pem: SecretString,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Secret(_) => f.write_str("Credential::Secret([redacted])"),
            Credential::Certificate { .. } => f.write_str("Credential::Certificate([redacted])"),
        }
    }
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: i64,
    iat: i64,
    exp: i64,
}

/// A client assertion JWT for the token endpoint `token_url`, signed with the certificate's key:
/// PS256 with the `x5t#S256` thumbprint, as Microsoft's current documentation asks. Used by the
/// syncer's app-only tokens and by sign-in's code redemption.
pub fn client_assertion(
    token_url: &str,
    client_id: &str,
    certificate_pem: &str,
    private_key_pem: &SecretString,
) -> Result<String, String> {
    let cert = pem::parse(certificate_pem)
        .map_err(|e| format!("the client certificate is not a PEM certificate: {e}"))?;
    if cert.tag() != "CERTIFICATE" {
        return Err(format!(
            "the client certificate file holds a {:?}, not a CERTIFICATE",
            cert.tag()
        ));
    }
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_key_pem.expose_secret().as_bytes())
        .map_err(|e| {
        format!("the client certificate's private key is not an RSA PEM key: {e}")
    })?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.x5t_s256 = Some(URL_SAFE_NO_PAD.encode(Sha256::digest(cert.contents())));
    let now = chrono::Utc::now().timestamp();
    let claims = AssertionClaims {
        aud: token_url,
        iss: client_id,
        sub: client_id,
        jti: uuid::Uuid::new_v4().to_string(),
        nbf: now,
        iat: now,
        exp: now + ASSERTION_LIFETIME_SECS,
    };
    jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| format!("could not sign the client assertion: {e}"))
}
