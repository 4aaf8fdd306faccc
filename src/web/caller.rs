//! Who is asking: the person of a live session (or `local` while sign-in is off), as
//! [`super::access::enforce`] found them, handed to the handlers behind it.

use super::access::{TOUCH_EVERY, cookie, secret_hash, session_cookie};
use super::{AppError, AppState};
use crate::auth::Role;
use crate::config::{AuthMode, LOCAL_IDENTITY};
use crate::db::lookup::Accessor;
use crate::db::sessions;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use chrono::Utc;
use uuid::Uuid;

/// The person making a request, as [`enforce`] found them.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Display name (the token's `name`), or `local` while sign-in is off.
    pub name: String,
    /// The token's `preferred_username` (usually the UPN); empty while sign-in is off.
    pub username: String,
    /// Tenant and object id (none while sign-in is off).
    pub ids: Option<(Uuid, Uuid)>,
    /// None: signed in, but no role is mapped to them.
    pub role: Option<Role>,
    /// Sent back with every form.
    pub csrf_token: String,
    /// The session's handle (none while sign-in is off).
    pub session: Option<Uuid>,
    /// Their token named too many groups to list (roles by group may be missed).
    pub groups_overage: bool,
    /// The client's address as the server saw it (empty when unknown, as in router tests).
    pub client: String,
}

impl Caller {
    /// Whether the caller has at least `role`.
    pub fn may(&self, role: Role) -> bool {
        self.role.is_some_and(|r| r >= role)
    }

    /// "Name (username)", as the access log shows them.
    pub fn label(&self) -> String {
        if self.username.is_empty() || self.username == self.name {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, self.username)
        }
    }

    /// For the access log.
    pub fn accessor<'a>(&'a self, label: &'a str) -> Accessor<'a> {
        Accessor {
            name: label,
            ids: self.ids,
            client: &self.client,
        }
    }
}

/// Handlers behind [`enforce`] take the caller as an argument.
impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, AppError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!(
                "{} asks who is calling, but its route reads no session",
                parts.uri.path()
            ))
        })
    }
}

/// Routes open to everyone (the sign-in routes) take the caller if there is one.
impl OptionalFromRequestParts<AppState> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Caller>().cloned())
    }
}

/// The caller of this request: `local` while sign-in is off, else the person of a live session
/// (whose last use is recorded now and then).
pub async fn load_caller(
    state: &AppState,
    headers: &HeaderMap,
    client: String,
) -> Result<Option<Caller>, AppError> {
    if state.config.auth == AuthMode::None {
        return Ok(Some(Caller {
            name: LOCAL_IDENTITY.to_owned(),
            username: String::new(),
            ids: None,
            role: Some(Role::SecurityLead),
            csrf_token: state.local_csrf.clone(),
            session: None,
            groups_overage: false,
            client,
        }));
    }
    let Some(secret) = cookie(headers, session_cookie(state)) else {
        return Ok(None);
    };
    let now = Utc::now();
    let idle_cutoff = now - state.config.session_idle;
    let Some(s) =
        sessions::live_session(&state.pool, &secret_hash(secret), now, idle_cutoff).await?
    else {
        return Ok(None);
    };
    if now - s.last_seen_at > TOUCH_EVERY {
        sessions::touch(&state.pool, s.handle, now).await?;
    }
    Ok(Some(Caller {
        role: state.config.roles.resolve(&s.roles, &s.groups),
        name: s.name,
        username: s.username,
        ids: Some((s.tenant_id, s.object_id)),
        csrf_token: s.csrf_token,
        session: Some(s.handle),
        groups_overage: s.groups_overage,
        client,
    }))
}
