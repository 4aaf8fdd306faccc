//! Security headers on every answer, and limits on what a request may send before any handler
//! sees it.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The largest request line's target (path and query) accepted.
pub const MAX_URI_BYTES: usize = 4 * 1024;
/// The most header bytes (names and values) a request may send.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// No script at all, styles and images from this site only (charts are inline SVG), forms
/// only to this site, and no framing.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The headers every answer carries.
pub const HEADERS: [(HeaderName, &str); 6] = [
    (header::CONTENT_SECURITY_POLICY, CSP),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    // Searches put names in URLs: they go to no other site. Same-origin (not no-referrer), so
    // that forms still send their Origin.
    (header::REFERRER_POLICY, "same-origin"),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
    (
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    ),
];

/// HSTS under https: a year, this host only (the organisation's other hosts are not ours to
/// decide for).
const HSTS: &str = "max-age=31536000";

/// Refuses oversized requests (414, 431) and adds the security headers to every answer. Pages
/// are not stored by browsers or proxies (`no-store`: they hold personal data), unless the
/// handler chose otherwise (the stylesheet).
pub async fn headers(State(https): State<bool>, request: Request, next: Next) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    let refused = if target > MAX_URI_BYTES {
        Some((StatusCode::URI_TOO_LONG, "The address is too long."))
    } else if request
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum::<usize>()
        > MAX_HEADER_BYTES
    {
        Some((
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "The request's headers are too large.",
        ))
    } else {
        None
    };
    let mut response = match refused {
        Some(answer) => answer.into_response(),
        None => next.run(request).await,
    };
    let h = response.headers_mut();
    for (name, value) in HEADERS {
        h.insert(name, HeaderValue::from_static(value));
    }
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
