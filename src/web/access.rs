//! Access control, in one place. Every route is declared with the least it takes to use it
//! ([`Route`]); [`enforce`] runs before each handler and checks the request against it: the
//! session (PostgreSQL), the role worked out from it, and the CSRF token of any request that
//! changes something. A route cannot be added without saying who may use it.
//!
//! Pages send people who are not signed in to `/auth/login`; the JSON API answers 401 and 403
//! with JSON.

use super::caller::{Caller, load_caller};
use super::{AppError, AppState, Layout};
use crate::auth::Role;
use askama::Template;
use askama_web::WebTemplate;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::MethodRouter;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;

/// A session's last use is written at most this often (not on every request).
pub(super) const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone; no session is read (`/healthz`, the stylesheet).
    Public,
    /// Anyone; the session is read when there is one (the sign-in routes).
    SignIn,
    /// Signed in, with at least this role.
    Role(Role),
}

/// What a route answers, and so how its refusals and errors are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answers {
    /// Pages for people: no session sends them to sign in; refusals are pages.
    Page,
    /// JSON for programs: 401 and 403 with `{"error": …}`.
    Json,
}

/// One route: its path, who may use it, what it answers, and its handlers.
pub struct Route {
    pub path: &'static str,
    pub access: Access,
    pub answers: Answers,
    pub handler: MethodRouter<AppState>,
}

impl Route {
    /// A route that answers with pages.
    pub fn page(path: &'static str, access: Access, handler: MethodRouter<AppState>) -> Route {
        Route {
            path,
            access,
            answers: Answers::Page,
            handler,
        }
    }

    /// A route that answers with JSON.
    pub fn json(path: &'static str, access: Access, handler: MethodRouter<AppState>) -> Route {
        Route {
            path,
            access,
            answers: Answers::Json,
            handler,
        }
    }
}

/// A random secret for cookies and forms: 256 bits, URL-safe.
pub fn random_secret() -> String {
    URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 32]>())
}

/// How a secret is looked up in the database.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Equal secrets, compared in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The session cookie's name: `__Host-` under https, so no subdomain can set or shadow it.
pub fn session_cookie(state: &AppState) -> &'static str {
    if state.config.https() {
        "__Host-phoneless"
    } else {
        "phoneless"
    }
}

/// A cookie's value in the request, if sent.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, whole site, Secure under https. `max_age`
/// zero deletes the cookie.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.config.https() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("phoneless=; Max-Age=0"))
}

/// The client's address as the server saw it (empty when unknown, as in router tests).
pub fn client_address(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default()
}

/// The check in front of every route (see the module comment).
pub async fn enforce(
    State((state, access, answers)): State<(AppState, Access, Answers)>,
    mut request: Request,
    next: Next,
) -> Response {
    if access == Access::Public {
        return next.run(request).await;
    }
    let api = answers == Answers::Json;
    let client = client_address(request.extensions());
    let caller = match load_caller(&state, request.headers(), client).await {
        Ok(c) => c,
        Err(e) if api => return e.into_response(),
        Err(e) => return super::PageError(e).into_response(),
    };
    if !request.method().is_safe() {
        match &caller {
            Some(c) => match check_csrf(request, &c.csrf_token).await {
                Ok(r) => request = r,
                Err(why) => {
                    tracing::warn!("refused a request without a valid CSRF token: {why}");
                    return denied(&state, caller.as_ref(), api, Denial::Csrf);
                }
            },
            // Nothing to forge without a session: signing out when already signed out.
            None if access == Access::SignIn => {}
            None => return denied(&state, None, api, Denial::Csrf),
        }
    }
    match (access, caller) {
        (Access::Role(need), Some(c)) if !c.may(need) => {
            denied(&state, Some(&c), api, Denial::Role(need))
        }
        (_, Some(c)) => {
            request.extensions_mut().insert(c);
            next.run(request).await
        }
        (Access::Role(_), None) if api => AppError::Unauthorized(
            "Sign in first: open /auth/login in a browser; the API uses the same session.".into(),
        )
        .into_response(),
        (Access::Role(_), None) => {
            // Only safe requests get here (see the CSRF check above): back after sign-in.
            let back = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let back: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
            Redirect::to(&format!("/auth/login?next={back}")).into_response()
        }
        (_, None) => next.run(request).await,
    }
}

/// Accepts a state-changing request only with the session's CSRF token, in the
/// `X-CSRF-Token` header or the form's `csrf_token` field, and never from another site.
async fn check_csrf(request: Request, expected: &str) -> Result<Request, &'static str> {
    let headers = request.headers();
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return Err("it came from another site");
    }
    if let Some(token) = headers.get("x-csrf-token") {
        return match token.to_str() {
            Ok(t) if same_secret(t, expected) => Ok(request),
            _ => Err("the X-CSRF-Token header is wrong"),
        };
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err("no X-CSRF-Token header and no form");
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, super::MAX_BODY_BYTES)
        .await
        .map_err(|_| "the form is too large")?;
    let token = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v.into_owned());
    match token {
        Some(t) if same_secret(&t, expected) => Ok(Request::from_parts(parts, Body::from(bytes))),
        Some(_) => Err("the form's csrf_token is wrong"),
        None => Err("the form has no csrf_token"),
    }
}

/// Why a request was turned away.
enum Denial {
    /// Signed in, but the role is too small (or there is none).
    Role(Role),
    /// A state-changing request without its session's token.
    Csrf,
}

#[derive(Template, WebTemplate)]
#[template(path = "denied.html")]
struct DeniedPage {
    layout: Layout,
    heading: String,
    message: String,
    /// The person has no role at all: how to get one.
    ask: Vec<(&'static str, String)>,
    overage: bool,
}

fn denied(state: &AppState, caller: Option<&Caller>, api: bool, why: Denial) -> Response {
    let (status, heading, message) = match (&why, caller) {
        (Denial::Csrf, _) => (
            StatusCode::FORBIDDEN,
            "This form has expired".to_owned(),
            "The request did not carry this session's security token, so nothing was changed. \
             Go back, reload the page and try again."
                .to_owned(),
        ),
        (Denial::Role(_), Some(c)) if c.role.is_none() => (
            StatusCode::FORBIDDEN,
            "Ask for access".to_owned(),
            format!(
                "You are signed in as {}, but no phoneless role has been given to you yet.",
                c.label()
            ),
        ),
        (Denial::Role(need), c) => (
            StatusCode::FORBIDDEN,
            "Not part of your role".to_owned(),
            format!(
                "This is for the {} role and above; you are signed in as {} ({}).",
                need.label().to_lowercase(),
                c.map(Caller::label).unwrap_or_default(),
                c.and_then(|c| c.role)
                    .map(|r| r.label().to_lowercase())
                    .unwrap_or_default()
            ),
        ),
    };
    if api {
        return AppError::Forbidden(format!("{heading}: {message}")).into_response();
    }
    let no_role = matches!(why, Denial::Role(_)) && caller.is_some_and(|c| c.role.is_none());
    let page = DeniedPage {
        layout: Layout::new(state, caller, ""),
        heading,
        message,
        ask: if no_role {
            Role::ALL
                .iter()
                .rev()
                .map(|r| {
                    (
                        r.label(),
                        state.config.roles.values(*r).collect::<Vec<_>>().join(", "),
                    )
                })
                .collect()
        } else {
            Vec::new()
        },
        overage: no_role && caller.is_some_and(|c| c.groups_overage),
    };
    (status, page).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_compared_whole() {
        let a = random_secret();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_secret());
        assert!(same_secret(&a, &a.clone()));
        assert!(!same_secret(&a, &a[..42]));
        assert!(!same_secret(&a, &random_secret()));
        assert_eq!(secret_hash("x").len(), 32);
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; phoneless=abc"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, "phoneless"), Some("abc"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "phone"), None);
    }
}
