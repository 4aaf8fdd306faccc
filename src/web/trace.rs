//! Request logging: one span per request, keyed on the matched route (`/users/{id}`, never the
//! address as asked for), with the method and the query's parameter names. A value is shown
//! only for parameters that hold neither personal data nor a secret (a range, a sort order, a
//! limit; see [`SHOWN`]); search texts, names, cursors (they embed a name), and everything on
//! the sign-in routes (`code`, `state`) are replaced by `…`, at every log level.
//!
//! Each answer is logged inside its span with its status and the milliseconds it took: at
//! debug, or at info when it took [`SLOW_REQUEST`] or more.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::time::{Duration, Instant};
use tracing::Instrument as _;

/// An answer this slow is logged at info.
pub const SLOW_REQUEST: Duration = Duration::from_secs(1);

/// Parameters whose values are shown: choices and numbers, never a name or a text.
const SHOWN: [&str; 11] = [
    "range",
    "by",
    "sort",
    "dir",
    "limit",
    "days",
    "admin",
    "voice_capable",
    "user_type",
    "before",
    "state",
];

/// The longest parameter name or value logged (anything may be sent).
const MAX_LOGGED_CHARS: usize = 40;

/// The middleware (outermost, so it sees every answer, refusals included).
pub async fn request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("(no route)", |m| m.as_str())
        .to_owned();
    let query = loggable_query(&route, request.uri().query());
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        query = ?query,
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    let ms = took.as_millis() as u64;
    span.in_scope(|| {
        if took >= SLOW_REQUEST {
            tracing::info!(status, ms, "slow answer");
        } else {
            tracing::debug!(status, ms, "answered");
        }
    });
    response
}

/// The query string as it may be logged: names kept, values of [`SHOWN`] parameters kept
/// (outside the sign-in routes), every other value `…`; all cut to [`MAX_LOGGED_CHARS`].
pub fn loggable_query(route: &str, raw: Option<&str>) -> String {
    let sign_in = route.starts_with("/auth/");
    let cut = |s: &str| s.chars().take(MAX_LOGGED_CHARS).collect::<String>();
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| {
            let value = if !sign_in && SHOWN.contains(&k.as_ref()) {
                cut(&v)
            } else if v.is_empty() {
                String::new()
            } else {
                "…".to_owned()
            };
            format!("{}={value}", cut(&k))
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::loggable_query;

    #[test]
    fn personal_data_and_secrets_are_never_logged() {
        assert_eq!(
            loggable_query(
                "/users",
                Some("q=Zo%C3%AB+Smith&state=phone_only&after=eyJ")
            ),
            "q=…&state=phone_only&after=…"
        );
        assert_eq!(
            loggable_query(
                "/auth/callback",
                Some("code=SECRET&state=s3cret&session_state=x")
            ),
            "code=…&state=…&session_state=…"
        );
        assert_eq!(loggable_query("/lookup", Some("q=&limit=5")), "q=&limit=5");
        assert_eq!(loggable_query("/", None), "");
        let long = "x".repeat(500);
        assert_eq!(
            loggable_query("/", Some(&format!("{long}=1"))),
            format!("{}=…", &long[..super::MAX_LOGGED_CHARS])
        );
    }
}
