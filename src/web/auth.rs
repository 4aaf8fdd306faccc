//! Sign-in and sign-out: `/auth/login` sends the browser to Entra ID, `/auth/callback` takes
//! it back (the code redeemed, the ID token validated, a new session started), `/auth/logout`
//! ends the session. The flow itself lives in `crate::auth::oidc`.

use super::access::{
    self, Access, Route, cookie, random_secret, same_secret, secret_hash, session_cookie,
    set_cookie,
};
use super::caller::Caller;
use super::{AppState, Layout};
use crate::auth::SignInError;
use crate::config::AuthMode;
use crate::db::lookup::record_access;
use crate::db::sessions;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::Utc;
use std::collections::HashMap;
use uuid::Uuid;

/// How long a sign-in may take between leaving for Entra ID and coming back (Entra's codes
/// last about 10 minutes).
const SIGN_IN_WINDOW: chrono::Duration = chrono::Duration::minutes(10);

/// Ties a sign-in to the browser that started it: the callback's `state` must match it.
fn sign_in_cookie(state: &AppState) -> &'static str {
    if state.config.https() {
        "__Host-phoneless-signin"
    } else {
        "phoneless-signin"
    }
}

pub fn routes() -> Vec<Route> {
    vec![
        Route::page("/auth/login", Access::SignIn, get(login)),
        Route::page("/auth/callback", Access::SignIn, get(callback)),
        Route::page(
            "/auth/logout",
            Access::SignIn,
            get(logout_page).post(logout),
        ),
    ]
}

/// A short page about signing in or out.
#[derive(Template, WebTemplate)]
#[template(path = "auth.html")]
struct AuthPage {
    layout: Layout,
    heading: &'static str,
    message: String,
    /// A link onwards: address and words.
    link: Option<(String, &'static str)>,
    /// Show the sign-out button.
    sign_out: bool,
}

fn message(
    state: &AppState,
    caller: Option<&Caller>,
    status: StatusCode,
    heading: &'static str,
    message: String,
) -> Response {
    let page = AuthPage {
        layout: Layout::new(state, caller, ""),
        heading,
        message,
        link: Some(("/auth/login".to_owned(), "Sign in")),
        sign_out: false,
    };
    (status, page).into_response()
}

fn query(raw: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// `next` if it is a path on this site, else the overview (no open redirects).
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && !p.chars().any(char::is_control) =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// Starts a sign-in: remembers it (by the SHA-256 of its `state`) and sends the browser to
/// Entra ID with a cookie that ties the sign-in to this browser.
async fn login(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let q = query(raw.as_deref());
    let next = local_path(q.get("next").map(String::as_str));
    if state.config.auth == AuthMode::None {
        return Redirect::to(&next).into_response();
    }
    let Some(oidc) = state.oidc.as_ref() else {
        return message(
            &state,
            None,
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in is not set up",
            "Sign-in with Entra ID is not configured correctly; the server's log says why.".into(),
        );
    };
    let start = match oidc.start().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("sign-in could not start: {e}");
            return message(
                &state,
                None,
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is not available",
                "Microsoft Entra ID could not be reached. Try again in a minute.".into(),
            );
        }
    };
    let now = Utc::now();
    let recorded = async {
        sessions::purge_attempts(&state.pool, now - SIGN_IN_WINDOW).await?;
        sessions::record_attempt(
            &state.pool,
            &secret_hash(&start.state),
            &start.nonce,
            &start.pkce_verifier,
            &next,
            now,
        )
        .await
    }
    .await;
    if let Err(e) = recorded {
        return super::PageError::from(e).into_response();
    }
    let max_age = SIGN_IN_WINDOW.num_seconds();
    (
        [(
            header::SET_COOKIE,
            set_cookie(&state, sign_in_cookie(&state), &start.state, max_age),
        )],
        Redirect::to(&start.url),
    )
        .into_response()
}

/// Entra ID sends the browser back here with a code (or an error) and the `state`.
async fn callback(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> Response {
    let Some(oidc) = state.oidc.as_ref() else {
        return Redirect::to("/").into_response();
    };
    // Only the parts: a request's body cannot be shared across the awaits below.
    let (request, _) = request.into_parts();
    let q = query(raw.as_deref());
    let again = |status, heading, text: &str| {
        let mut r = message(&state, None, status, heading, text.to_owned());
        r.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(&state, sign_in_cookie(&state), "", 0),
        );
        r
    };
    let Some(st) = q.get("state") else {
        return again(
            StatusCode::BAD_REQUEST,
            "Sign-in did not complete",
            "The answer from Entra ID has no state. Start again.",
        );
    };
    // Only the browser that started this sign-in carries its cookie (no login CSRF).
    if !cookie(&request.headers, sign_in_cookie(&state)).is_some_and(|c| same_secret(c, st)) {
        return again(
            StatusCode::BAD_REQUEST,
            "Sign-in did not complete",
            "This sign-in was started in another browser or window, or took more than ten \
             minutes. Start again.",
        );
    }
    let now = Utc::now();
    let attempt =
        match sessions::take_attempt(&state.pool, &secret_hash(st), now - SIGN_IN_WINDOW).await {
            Ok(Some(a)) => a,
            Ok(None) => {
                return again(
                    StatusCode::BAD_REQUEST,
                    "Sign-in did not complete",
                    "This sign-in was already used or has expired. Start again.",
                );
            }
            Err(e) => return super::PageError::from(e).into_response(),
        };
    if let Some(error) = q.get("error") {
        let description = q.get("error_description").cloned().unwrap_or_default();
        tracing::info!("Entra ID ended a sign-in: {error}: {description}");
        let status = if error == "access_denied" {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::BAD_REQUEST
        };
        return again(
            status,
            "Sign-in did not complete",
            &format!("Entra ID said: {error}. {description}"),
        );
    }
    let Some(code) = q.get("code") else {
        return again(
            StatusCode::BAD_REQUEST,
            "Sign-in did not complete",
            "The answer from Entra ID has no code. Start again.",
        );
    };
    let who = match oidc
        .finish(code, &attempt.pkce_verifier, &attempt.nonce, now)
        .await
    {
        Ok(who) => who,
        Err(e) => {
            tracing::warn!("sign-in refused: {e}");
            let (status, text) = match e {
                SignInError::InvalidToken(_) => (
                    StatusCode::UNAUTHORIZED,
                    "Entra ID's answer could not be verified, so you are not signed in.",
                ),
                SignInError::Refused(_) => (
                    StatusCode::BAD_REQUEST,
                    "Entra ID did not accept this sign-in. Start again.",
                ),
                SignInError::Unreachable(_) | SignInError::Config(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Microsoft Entra ID could not be reached. Try again in a minute.",
                ),
            };
            return again(status, "Sign-in failed", text);
        }
    };
    // A new session id at every sign-in; an older session of this browser ends.
    let old = cookie(&request.headers, session_cookie(&state)).map(secret_hash);
    let secret = random_secret();
    let handle = Uuid::new_v4();
    let client = access::client_address(&request.extensions);
    let role = state.config.roles.resolve(&who.roles, &who.groups);
    let caller = Caller {
        name: who.name.clone(),
        username: who.username.clone(),
        ids: Some((who.tenant_id, who.object_id)),
        role,
        csrf_token: random_secret(),
        session: Some(handle),
        groups_overage: who.groups_overage,
        client: client.clone(),
    };
    let label = caller.label();
    let stored = async {
        let mut tx = state.pool.begin().await?;
        if let Some(old) = old {
            sessions::end_session_by_secret(&mut *tx, &old).await?;
        }
        sessions::purge_sessions(&mut *tx, now, now - state.config.session_idle).await?;
        sessions::create_session(
            &mut *tx,
            &secret_hash(&secret),
            &who,
            &caller.csrf_token,
            &client,
            now,
            now + state.config.session_max,
            handle,
        )
        .await?;
        record_access(
            &mut *tx,
            caller.accessor(&label),
            "sign_in",
            None,
            &format!(
                "as {}",
                role.map(|r| r.label()).unwrap_or("nobody (no role)")
            ),
        )
        .await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = stored {
        return super::PageError::from(e).into_response();
    }
    let max_age = state.config.session_max.as_secs() as i64;
    let mut response = Redirect::to(&attempt.return_to).into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(&state, session_cookie(&state), &secret, max_age),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(&state, sign_in_cookie(&state), "", 0),
    );
    response
}

/// A sign-out button (signing out takes a POST, so no other site can sign anyone out), or
/// word that the browser is signed out.
async fn logout_page(State(state): State<AppState>, caller: Option<Caller>) -> Response {
    let signed_in = caller.as_ref().is_some_and(|c| c.session.is_some());
    AuthPage {
        layout: Layout::new(&state, caller.as_ref(), ""),
        heading: if signed_in {
            "Sign out?"
        } else {
            "You are signed out"
        },
        message: if signed_in {
            "Sign out of phoneless in this browser. Your Microsoft account stays signed in.".into()
        } else if state.config.auth == AuthMode::None {
            "Sign-in is off here (PHONELESS_AUTH=none), so there is nothing to sign out of.".into()
        } else {
            "Close the browser if this is a shared computer.".into()
        },
        link: (!signed_in && state.config.auth == AuthMode::Entra)
            .then(|| ("/auth/login".to_owned(), "Sign in again")),
        sign_out: signed_in,
    }
    .into_response()
}

/// Ends this browser's session (the CSRF token was checked in front).
async fn logout(State(state): State<AppState>, caller: Option<Caller>) -> Response {
    if let Some(c) = caller.as_ref()
        && let Some(handle) = c.session
    {
        let label = c.label();
        let ended = async {
            let mut tx = state.pool.begin().await?;
            sessions::end_session(&mut *tx, handle).await?;
            record_access(&mut *tx, c.accessor(&label), "sign_out", None, "").await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = ended {
            return super::PageError::from(e).into_response();
        }
    }
    (
        [(
            header::SET_COOKIE,
            set_cookie(&state, session_cookie(&state), "", 0),
        )],
        Redirect::to("/auth/logout"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(
            local_path(Some("/users?state=phone_only")),
            "/users?state=phone_only"
        );
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "x",
            "",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_path(None), "/");
    }
}
