//! Who is asking, and from where: recorded with every access to personal data.

use super::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::SocketAddr;

/// The person behind a request. While sign-in is off this is the configured local identity
/// (`PHONELESS_LOCAL_IDENTITY`); sign-in fills it from the session instead, here and nowhere
/// else.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    /// The client's address as the server saw it (empty when unknown, as in router tests).
    pub client: String,
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        Ok(Actor {
            name: state.config.local_identity.clone(),
            client: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_default(),
        })
    }
}
