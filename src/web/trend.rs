//! Trends of a group (the tenant, or one department, company, office or country): daily points,
//! changes over 7 and 30 days, the burn-down forecast and their charts. Shared by the overview,
//! the group pages and `/api/v1/trend`, so every page shows the API's numbers.

use super::chart::{self, Chart, Series};
use super::{AppError, thousands};
use crate::advice::state_label;
use crate::db::dashboard::{self, DayCounts};
use crate::domain::classify::State as MigrationState;
use crate::domain::retirement::{Cohort, Dates};
use crate::domain::{Counts, Dimension};
use crate::forecast::{Forecast, forecast};
use chrono::{Duration, NaiveDate};
use serde::Serialize;
use sqlx::PgPool;
use std::collections::BTreeMap;

/// One day of a trend (the JSON contract of `/api/v1/trend`).
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub date: NaiveDate,
    pub run_id: i64,
    pub states: BTreeMap<&'static str, i32>,
    pub phishing_resistant: i32,
    pub voice_capable: i32,
    /// In-scope users.
    pub users: i32,
    pub admins_phone_only: i32,
    /// Migrated ÷ in scope, 0–1.
    pub progress: f64,
    /// Blocked people of each date (null for runs made before the dates were counted).
    pub blocked_early: Option<i32>,
    pub blocked_late: Option<i32>,
}

impl From<&DayCounts> for Point {
    fn from(d: &DayCounts) -> Point {
        let c = &d.counts;
        Point {
            date: d.day,
            run_id: d.run_id,
            states: c.states(),
            phishing_resistant: c.phishing_resistant,
            voice_capable: c.voice_capable,
            users: c.users,
            admins_phone_only: c.admins_phone_only,
            progress: c.progress(),
            blocked_early: d.cohorts_known.then_some(c.blocked_early),
            blocked_late: d.cohorts_known.then_some(c.blocked_late),
        }
    }
}

/// The five states as the JSON contract names them.
/// The forecast as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ForecastJson {
    /// Phone-only users fewer per day, measured over `pace_days`.
    pub pace_per_day: f64,
    pub pace_days: i64,
    /// Phone-only users per day needed to reach zero by the deadline (null once it passed).
    pub needed_per_day: Option<f64>,
    /// Phone-only users left on the deadline at the current pace.
    pub phone_only_at_deadline: i64,
}

/// One retirement date's burn-down of blocked people, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DeadlineTrendJson {
    pub date: NaiveDate,
    /// Blocked people fewer per day, measured over `pace_days` (null without a week of history).
    pub pace_per_day: Option<f64>,
    pub pace_days: Option<i64>,
    /// Blocked people per day needed to reach zero by the date (null once it passed).
    pub needed_per_day: Option<f64>,
    /// Blocked people left on the date at the current pace.
    pub blocked_at_deadline: Option<i64>,
    pub projected_zero_date: Option<NaiveDate>,
}

/// `/api/v1/trend`.
#[derive(Debug, Clone, Serialize)]
pub struct TrendJson {
    pub points: Vec<Point>,
    /// The early date (the phone-only forecast's); `deadlines` has both.
    pub deadline: NaiveDate,
    pub deadlines: Vec<DeadlineTrendJson>,
    /// When phone-only users reach zero at the pace of the last 30 days (null: never, or too
    /// little history to tell).
    pub projected_zero_date: Option<NaiveDate>,
    pub forecast: Option<ForecastJson>,
}

/// A group's whole daily history, with its forecasts: phone-only users toward the early date,
/// and each date's blocked people toward it.
pub struct Trend {
    pub days: Vec<DayCounts>,
    pub deadline: NaiveDate,
    pub forecast: Option<Forecast>,
    pub cohorts: [CohortTrend; 2],
}

/// The people blocked on one date, day by day, and their forecast.
pub struct CohortTrend {
    pub cohort: Cohort,
    pub date: NaiveDate,
    /// Days whose run counted the cohorts.
    pub points: Vec<(NaiveDate, i64)>,
    pub forecast: Option<Forecast>,
}

impl CohortTrend {
    fn new(days: &[DayCounts], cohort: Cohort, date: NaiveDate) -> CohortTrend {
        let points: Vec<(NaiveDate, i64)> = days
            .iter()
            .filter(|d| d.cohorts_known)
            .map(|d| (d.day, d.counts.cohort(cohort).blocked.into()))
            .collect();
        CohortTrend {
            cohort,
            forecast: forecast(&points, date),
            date,
            points,
        }
    }

    fn json(&self) -> DeadlineTrendJson {
        let f = self.forecast.as_ref();
        DeadlineTrendJson {
            date: self.date,
            pace_per_day: f.map(|f| f.pace_per_day),
            pace_days: f.map(|f| f.pace_days),
            needed_per_day: f.and_then(|f| f.needed_per_day),
            blocked_at_deadline: f.map(|f| f.left_at_deadline),
            projected_zero_date: f.and_then(|f| f.zero_date),
        }
    }

    /// The burn-down of blocked people over the window, toward the date.
    pub fn chart(&self, days: Option<i64>, what: &str) -> Chart {
        burn_down(
            format!(
                "People of {what} blocked on {}",
                chart::long_date(self.date)
            ),
            "Blocked people",
            window_of(&self.points, |p| p.0, days),
            self.date,
            self.forecast.as_ref(),
        )
    }

    /// The forecast in words.
    pub fn sentence(&self) -> String {
        forecast_words(
            self.forecast.as_ref(),
            self.date,
            &Words {
                nobody: "Nobody is blocked on this date.",
                who: "blocked people",
                still: "still be blocked",
            },
        )
    }
}

/// The items within `days` of the newest (all when `None`), by their day, oldest first.
fn window_of<T>(items: &[T], day: impl Fn(&T) -> NaiveDate, days: Option<i64>) -> &[T] {
    let (Some(n), Some(last)) = (days, items.last()) else {
        return items;
    };
    let from = day(last) - Duration::days(n);
    &items[items.partition_point(|i| day(i) <= from)..]
}

/// A burn-down toward `date` of `points` (thinned for drawing), with the forecast's
/// projection.
fn burn_down(
    title: String,
    series: &str,
    points: &[(NaiveDate, i64)],
    date: NaiveDate,
    f: Option<&Forecast>,
) -> Chart {
    let keep = chart::thin(points.len());
    let points: Vec<(NaiveDate, i64)> = keep.iter().map(|i| points[*i]).collect();
    Chart::burn_down(title, series, &points, date, projection(f, date))
}

/// Where the current pace ends on the chart: zero, or what is left on the date.
fn projection(f: Option<&Forecast>, date: NaiveDate) -> Option<(NaiveDate, i64)> {
    f.map(|f| match f.zero_date {
        Some(z) if z <= date => (z, 0),
        _ => (date, f.left_at_deadline),
    })
}

/// How a forecast sentence names what it counts.
struct Words {
    /// The sentence when the count is zero.
    nobody: &'static str,
    /// "phone-only users"
    who: &'static str,
    /// "still be phone-only"
    still: &'static str,
}

/// A forecast in words: "At this pace, 1,240 users will still be phone-only on 1 February
/// 2027."
fn forecast_words(f: Option<&Forecast>, date: NaiveDate, w: &Words) -> String {
    let deadline = chart::long_date(date);
    let Some(f) = f else {
        return format!(
            "Not enough history yet to forecast: phoneless needs a week of daily syncs to \
             estimate the pace toward {deadline}."
        );
    };
    if f.remaining == 0 {
        return w.nobody.into();
    }
    let (who, still) = (w.who, w.still);
    if f.today >= date {
        return format!(
            "The deadline ({deadline}) has passed; {} {who} cannot sign in with SMS or voice.",
            thousands(f.remaining)
        );
    }
    let needed = f
        .needed_per_day
        .map(|n| format!(" Reaching zero needs {} fewer a day.", one_decimal(n)))
        .unwrap_or_default();
    match f.zero_date {
        Some(z) if z <= date => format!(
            "At this pace ({} fewer a day over the last {} days), {who} reach zero on {}, \
             before the deadline ({deadline}).",
            one_decimal(f.pace_per_day),
            f.pace_days,
            chart::long_date(z)
        ),
        _ if f.pace_per_day <= 0.0 => format!(
            "The number of {who} did not go down over the last {} days: at this pace, {} will \
             {still} on {deadline}.{needed}",
            f.pace_days,
            thousands(f.left_at_deadline)
        ),
        _ => format!(
            "At this pace ({} fewer a day over the last {} days), {} will {still} on \
             {deadline}.{needed}",
            one_decimal(f.pace_per_day),
            f.pace_days,
            thousands(f.left_at_deadline)
        ),
    }
}

/// Display ranges of the trend chart: query value, label, days (`None`: all).
pub const RANGES: [(&str, &str, Option<i64>); 4] = [
    ("30d", "30 days", Some(30)),
    ("90d", "90 days", Some(90)),
    ("1y", "1 year", Some(365)),
    ("all", "All", None),
];
pub const DEFAULT_RANGE: &str = "90d";

impl Trend {
    /// Loads every day of one group (`tenant` with no name for the whole tenant).
    pub async fn load(
        pool: &PgPool,
        dimension: Dimension,
        name: Option<&str>,
        dates: Dates,
    ) -> Result<Trend, AppError> {
        let days = dashboard::group_trend(pool, dimension, name, None).await?;
        let phone_only: Vec<(NaiveDate, i64)> = days
            .iter()
            .map(|d| (d.day, d.counts.phone_only.into()))
            .collect();
        Ok(Trend {
            forecast: forecast(&phone_only, dates.early),
            cohorts: [
                CohortTrend::new(&days, Cohort::Early, dates.early),
                CohortTrend::new(&days, Cohort::Late, dates.late),
            ],
            days,
            deadline: dates.early,
        })
    }

    /// The days within `days` of the newest (all when `None`).
    pub fn window(&self, days: Option<i64>) -> &[DayCounts] {
        window_of(&self.days, |d| d.day, days)
    }

    pub fn json(&self, days: Option<i64>) -> TrendJson {
        TrendJson {
            points: self.window(days).iter().map(Point::from).collect(),
            deadline: self.deadline,
            deadlines: self.cohorts.iter().map(CohortTrend::json).collect(),
            projected_zero_date: self.forecast.as_ref().and_then(|f| f.zero_date),
            forecast: self.forecast.as_ref().map(|f| ForecastJson {
                pace_per_day: f.pace_per_day,
                pace_days: f.pace_days,
                needed_per_day: f.needed_per_day,
                phone_only_at_deadline: f.left_at_deadline,
            }),
        }
    }

    /// The newest value minus the value `days` earlier (the newest day at or before then).
    pub fn change(&self, days: i64, value: impl Fn(&Counts) -> f64) -> Option<f64> {
        let last = self.days.last()?;
        let then = last.day - Duration::days(days);
        let earlier = self.days.iter().rev().find(|d| d.day <= then)?;
        Some(value(&last.counts) - value(&earlier.counts))
    }

    /// The five states stacked over the window, with the phishing-resistant share.
    pub fn states_chart(&self, days: Option<i64>, what: &str) -> Chart {
        let window = self.window(days);
        let keep = chart::thin(window.len());
        let picked: Vec<&DayCounts> = keep.iter().map(|i| &window[*i]).collect();
        let dates: Vec<NaiveDate> = picked.iter().map(|d| d.day).collect();
        let bands: Vec<Series<'_>> = MigrationState::ALL
            .iter()
            .map(|s| Series {
                label: state_label(*s),
                class: state_class(*s),
                values: picked.iter().map(|d| d.counts.state(*s) as f64).collect(),
            })
            .collect();
        let share = Series {
            label: "Phishing-resistant share",
            class: "share",
            values: picked
                .iter()
                .map(|d| ratio(d.counts.phishing_resistant, d.counts.users))
                .collect(),
        };
        Chart::stacked(
            format!("Migration states of {what} over time"),
            &dates,
            &bands,
            Some(&share),
        )
    }

    /// Phone-only users over the window, toward the deadline.
    pub fn burn_down_chart(&self, days: Option<i64>, what: &str) -> Chart {
        let points: Vec<(NaiveDate, i64)> = self
            .window(days)
            .iter()
            .map(|d| (d.day, d.counts.phone_only.into()))
            .collect();
        burn_down(
            format!("Phone-only users of {what} toward the deadline"),
            "Phone-only users",
            &points,
            self.deadline,
            self.forecast.as_ref(),
        )
    }

    /// The forecast in words: "At this pace, 1,240 users will still be phone-only on 1
    /// February 2027."
    pub fn forecast_sentence(&self) -> String {
        forecast_words(
            self.forecast.as_ref(),
            self.deadline,
            &Words {
                nobody: "No user is phone-only.",
                who: "phone-only users",
                still: "still be phone-only",
            },
        )
    }
}

/// `part / whole`, 0 for an empty group.
pub fn ratio(part: i32, whole: i32) -> f64 {
    if whole > 0 {
        f64::from(part) / f64::from(whole)
    } else {
        0.0
    }
}

fn one_decimal(v: f64) -> String {
    if v >= 100.0 {
        thousands(v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

/// The CSS class that colours a state.
pub fn state_class(s: MigrationState) -> &'static str {
    match s {
        MigrationState::PhoneOnly => "s-phone_only",
        MigrationState::PhoneDefault => "s-phone_default",
        MigrationState::PhoneBackup => "s-phone_backup",
        MigrationState::PhoneFree => "s-phone_free",
        MigrationState::NoMfa => "s-no_mfa",
    }
}

/// A change as people read it: "+12", "−340", "±0", "—" when unknown.
pub fn signed(change: Option<f64>) -> String {
    match change {
        None => "—".into(),
        Some(c) if c.round() == 0.0 => "±0".into(),
        Some(c) if c > 0.0 => format!("+{}", thousands(c.round() as i64)),
        Some(c) => format!("−{}", thousands(-c.round() as i64)),
    }
}

/// A change of a fraction in percentage points: "+4.2 pp".
pub fn signed_points(change: Option<f64>) -> String {
    match change {
        None => "—".into(),
        Some(c) if (c * 1000.0).round() == 0.0 => "±0.0 pp".into(),
        Some(c) if c > 0.0 => format!("+{:.1} pp", c * 100.0),
        Some(c) => format!("−{:.1} pp", -c * 100.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_as_people_write_them() {
        assert_eq!(signed(None), "—");
        assert_eq!(signed(Some(0.2)), "±0");
        assert_eq!(signed(Some(1234.0)), "+1,234");
        assert_eq!(signed(Some(-12.0)), "−12");
        assert_eq!(signed_points(Some(0.0421)), "+4.2 pp");
        assert_eq!(signed_points(Some(-0.005)), "−0.5 pp");
    }
}
