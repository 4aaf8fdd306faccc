//! Who uses which method to sign in, from the sign-in log: `/api/v1/usage` and the overview's
//! chart of successful MFA steps per day (SMS, voice, app, phishing-resistant).

use super::access::{Access, Route};
use super::chart::{Chart, Series};
use super::params::Params;
use super::{AppError, AppState};
use crate::auth::Role;
use crate::db::usage::{self as db, UsagePoint};
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use chrono::{Duration, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgPool;

/// Days `/api/v1/usage` gives without `days`, and the most it gives.
const DEFAULT_DAYS: i64 = 30;
const MAX_DAYS: i64 = 3_660;

pub fn routes() -> Vec<Route> {
    vec![Route::json(
        "/api/v1/usage",
        Access::Role(Role::Viewer),
        get(usage_json),
    )]
}

/// `/api/v1/usage`: successful MFA steps per UTC day by class, oldest first, and the people
/// who used SMS or voice in the last 30 days.
#[derive(Debug, Serialize)]
pub struct UsageJson {
    pub points: Vec<UsagePoint>,
    pub people_phone_30d: i64,
}

async fn usage_json(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<UsageJson>, AppError> {
    let p = Params::parse(raw.as_deref(), &["days"])?;
    let days = match p.get("days") {
        None => DEFAULT_DAYS,
        Some(d) => d
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=MAX_DAYS).contains(d))
            .ok_or_else(|| {
                AppError::BadRequest(format!("days must be a whole number from 1 to {MAX_DAYS}"))
            })?,
    };
    let today = Utc::now().date_naive();
    Ok(Json(UsageJson {
        points: db::usage_points(&state.pool, today - Duration::days(days - 1), today).await?,
        people_phone_30d: db::people_phone_30d(&state.pool).await?,
    }))
}

/// The overview's section: the chart over the range, and who used a phone lately.
pub struct UsageSection {
    /// No sign-in was ever read (the section says how to get them).
    pub known: bool,
    pub chart: Chart,
    pub people_phone_30d: i64,
}

impl UsageSection {
    /// Over the `days` up to yesterday, the last whole day (`None`: since the first read, at
    /// most a year), and never before the first whole day read.
    pub async fn load(pool: &PgPool, days: Option<i64>) -> sqlx::Result<UsageSection> {
        let last = Utc::now().date_naive() - Duration::days(1);
        let read_from = db::read_from(pool).await?;
        let points = match read_from {
            Some(first) => {
                let window = last - Duration::days(days.unwrap_or(365).clamp(1, 365) - 1);
                let from = window.max(first.date_naive() + Duration::days(1));
                if from <= last {
                    db::usage_points(pool, from, last).await?
                } else {
                    Vec::new()
                }
            }
            None => Vec::new(),
        };
        Ok(UsageSection {
            known: read_from.is_some(),
            chart: chart(&points),
            people_phone_30d: db::people_phone_30d(pool).await?,
        })
    }
}

fn chart(points: &[UsagePoint]) -> Chart {
    let dates: Vec<NaiveDate> = points.iter().map(|p| p.date).collect();
    let band = |label, class, f: fn(&UsagePoint) -> i64| Series {
        label,
        class,
        values: points.iter().map(|p| f(p) as f64).collect(),
    };
    Chart::stacked(
        "Successful MFA sign-ins per whole UTC day, by method".to_owned(),
        &dates,
        &[
            band("SMS", "u-sms", |p| p.sms),
            band("Voice call", "u-voice", |p| p.voice),
            band("Authenticator app", "u-app", |p| p.app),
            band("Phishing-resistant", "u-pr", |p| p.phishing_resistant),
            band("Other", "u-other", |p| p.other),
        ],
        None,
    )
}

/// One week of a person's MFA steps by class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeekUse {
    /// The week's Monday.
    pub week: NaiveDate,
    pub sms: i64,
    pub voice: i64,
    pub app: i64,
    pub phishing_resistant: i64,
    pub other: i64,
    /// The texts of `other`, as the log wrote them.
    pub other_methods: Vec<String>,
}

/// A person's use by week, newest first (weeks without use left out).
pub fn by_week(uses: &[crate::db::usage::PersonUse]) -> Vec<WeekUse> {
    use crate::domain::usage::MfaClass;
    use chrono::Datelike as _;
    let mut weeks: Vec<WeekUse> = Vec::new();
    for u in uses {
        let monday = u.date - Duration::days(u.date.weekday().num_days_from_monday().into());
        let w = match weeks.iter_mut().find(|w| w.week == monday) {
            Some(w) => w,
            None => {
                weeks.push(WeekUse {
                    week: monday,
                    ..WeekUse::default()
                });
                weeks.last_mut().expect("just pushed")
            }
        };
        let n = i64::from(u.count);
        match u.class {
            MfaClass::Sms => w.sms += n,
            MfaClass::Voice => w.voice += n,
            MfaClass::App => w.app += n,
            MfaClass::PhishingResistant => w.phishing_resistant += n,
            MfaClass::Other => {
                w.other += n;
                if !w.other_methods.contains(&u.method) {
                    w.other_methods.push(u.method.clone());
                }
            }
        }
    }
    weeks.sort_by_key(|w| std::cmp::Reverse(w.week));
    weeks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::usage::PersonUse;
    use crate::domain::usage::MfaClass;

    #[test]
    fn a_persons_use_by_week_newest_first_keeping_unknown_texts() {
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("date");
        let u = |d, method: &str, class, count| PersonUse {
            date: day(d),
            method: method.into(),
            class,
            count,
        };
        let weeks = by_week(&[
            u("2026-11-23", "Text message", MfaClass::Sms, 2),
            u("2026-11-29", "Voice call", MfaClass::Voice, 1),
            u("2026-11-30", "Text message", MfaClass::Sms, 1),
            u("2026-12-01", "Quantum handshake", MfaClass::Other, 3),
        ]);
        assert_eq!(weeks.len(), 2);
        assert_eq!(weeks[0].week, day("2026-11-30"));
        assert_eq!((weeks[0].sms, weeks[0].other), (1, 3));
        assert_eq!(weeks[0].other_methods, vec!["Quantum handshake".to_owned()]);
        assert_eq!(
            (weeks[1].week, weeks[1].sms, weeks[1].voice),
            (day("2026-11-23"), 2, 1)
        );
    }
}
