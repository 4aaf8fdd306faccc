//! Every way a request can fail, as JSON for the API and as a page for people. Details of
//! database and internal errors are logged once, here, and never shown.

use super::{Layout, health};
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Every way a request can fail. Details of database and internal errors are logged once,
/// here, and never shown.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// Not found, with a message that helps.
    #[error("{0}")]
    NotFoundWith(String),
    #[error("{0}")]
    BadRequest(String),
    /// Not signed in (the API; pages redirect to sign-in instead).
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The database is known to be away (see [`super::health::fail_fast`]); nothing more to log.
    #[error("{0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

/// A word the request spelled wrong (a grouping, a state) is the request's mistake.
impl From<crate::domain::UnknownWord> for AppError {
    fn from(e: crate::domain::UnknownWord) -> Self {
        AppError::BadRequest(e.to_string())
    }
}

impl AppError {
    fn status_and_message(&self) -> (StatusCode, String) {
        match self {
            AppError::NotFound => (StatusCode::NOT_FOUND, "Not found.".to_owned()),
            AppError::NotFoundWith(m) => (StatusCode::NOT_FOUND, m.clone()),
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            AppError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m.clone()),
            AppError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            AppError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m.clone()),
            AppError::Database(e) => {
                tracing::error!("database error: {e}");
                match e {
                    e if crate::db::unavailable(e) => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        health::DATABASE_AWAY.to_owned(),
                    ),
                    _ => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Something went wrong on our side; it has been logged.".to_owned(),
                    ),
                }
            }
            AppError::Internal(e) => {
                tracing::error!("internal error: {e:#}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side; it has been logged.".to_owned(),
                )
            }
        }
    }

    /// The database could not be reached (the answer is marked for [`health::fail_fast`]).
    fn database_away(&self) -> bool {
        matches!(self, AppError::Database(e) if crate::db::unavailable(e))
    }
}

/// JSON errors for the API: `{"error": "..."}`.
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = self.status_and_message();
        let away = self.database_away();
        let mut response =
            (status, axum::Json(serde_json::json!({ "error": message }))).into_response();
        if away {
            response.extensions_mut().insert(health::DatabaseAway);
        }
        response
    }
}

/// The same errors as an HTML page, for handlers that render pages.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = self.0.status_and_message();
        let away = self.0.database_away();
        let page = ErrorPage {
            layout: Layout::bare(),
            status: status.as_u16(),
            message: message.clone(),
        };
        let mut response = match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, message).into_response(),
        };
        if away {
            response.extensions_mut().insert(health::DatabaseAway);
        }
        response
    }
}
