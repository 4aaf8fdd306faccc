//! `/`: the headline numbers of the newest complete run and the recent sync runs. A first cut;
//! the dashboard (trends, departments, lists) builds on it.

use super::api::{Summary, load_summary};
use super::{AppState, Layout, PageError};
use crate::classify::State as MigrationState;
use crate::db::operations::{self as ops, Run};
use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// The stylesheet, built into the binary so it works from any directory.
const STYLE_CSS: &str = include_str!("../../static/style.css");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(overview))
        .route("/static/style.css", get(style))
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE_CSS,
    )
}

/// One headline number.
pub struct Tile {
    pub label: &'static str,
    pub value: String,
    pub note: &'static str,
    pub class: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    layout: Layout,
    summary: Summary,
    tiles: Vec<Tile>,
    runs: Vec<Run>,
}

/// 12345 → "12,345".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

impl OverviewPage {
    fn progress_percent(&self) -> String {
        format!("{:.1}%", self.summary.progress * 100.0)
    }

    fn data_as_of(&self) -> String {
        self.summary
            .run
            .as_ref()
            .and_then(|r| r.data_as_of)
            .map_or_else(
                || "unknown".to_owned(),
                |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
            )
    }

    fn last_sync_failed(&self) -> Option<String> {
        let last = self.summary.last_sync.as_ref()?;
        (last.status == "failed").then(|| {
            last.error
                .clone()
                .unwrap_or_else(|| "no reason recorded".to_owned())
        })
    }

    fn run_duration(run: &Run) -> String {
        match run.finished_at {
            Some(f) => format!(
                "{:.1} s",
                (f - run.started_at).num_milliseconds() as f64 / 1000.0
            ),
            None => "—".to_owned(),
        }
    }

    fn number(n: &i32) -> String {
        thousands((*n).into())
    }

    /// A stored error (written to follow a colon) as a sentence: capital first letter.
    fn sentence(text: &str) -> String {
        let mut chars = text.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    }

    fn run_started(run: &Run) -> String {
        run.started_at.format("%Y-%m-%d %H:%M").to_string()
    }
}

async fn overview(State(state): State<AppState>) -> Result<OverviewPage, PageError> {
    let summary = load_summary(&state).await?;
    let runs = ops::recent_runs(&state.pool, 10).await?;
    let state_tile = |s: MigrationState, label, note, class| Tile {
        label,
        value: thousands(summary.states[s.as_str()].into()),
        note,
        class,
    };
    let tiles = vec![
        Tile {
            label: "In scope",
            value: thousands(summary.users.into()),
            note: "members with an enabled account",
            class: "",
        },
        state_tile(
            MigrationState::PhoneOnly,
            "Phone only",
            "P1: blocked at sign-in after the deadline",
            "p1",
        ),
        state_tile(
            MigrationState::PhoneDefault,
            "Phone default",
            "P2: stronger method, phone as default",
            "p2",
        ),
        state_tile(
            MigrationState::PhoneBackup,
            "Phone backup",
            "P3: phone can be removed",
            "p3",
        ),
        state_tile(MigrationState::PhoneFree, "Phone free", "done", "done"),
        state_tile(
            MigrationState::NoMfa,
            "No MFA",
            "a separate problem",
            "nomfa",
        ),
        Tile {
            label: "Voice capable",
            value: thousands(summary.voice_capable.into()),
            note: "can receive voice calls",
            class: "",
        },
        Tile {
            label: "Phishing resistant",
            value: thousands(summary.phishing_resistant.into()),
            note: "passkey, FIDO2, Windows Hello or certificate",
            class: "",
        },
        Tile {
            label: "Admins phone only",
            value: thousands(summary.admins_phone_only.into()),
            note: "privileged and weakest",
            class: "p1",
        },
    ];
    Ok(OverviewPage {
        layout: Layout::new(&state),
        summary,
        tiles,
        runs,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_separators() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1000), "1,000");
        assert_eq!(super::thousands(-1234567), "-1,234,567");
    }
}
