//! The burn-down forecast: at the pace of recent weeks, when do phone-only users reach zero,
//! and how many are left on the deadline? Pure: dates in, dates and numbers out.

use chrono::NaiveDate;

/// The pace is measured over this many days back from the newest point.
pub const PACE_WINDOW_DAYS: i64 = 30;
/// Below this much history the pace says too little to forecast from.
pub const MIN_HISTORY_DAYS: i64 = 7;

/// What the current pace means for the deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// The newest count and its date.
    pub today: NaiveDate,
    pub remaining: i64,
    /// Fewer users per day over the pace window (negative when the count grew).
    pub pace_per_day: f64,
    /// Over how many days the pace was measured.
    pub pace_days: i64,
    /// Users per day needed from `today` to reach zero by the deadline (`None` once it passed).
    pub needed_per_day: Option<f64>,
    /// The day the pace reaches zero (`None` when it never does); `today` when already zero.
    pub zero_date: Option<NaiveDate>,
    /// How many are left on the deadline at this pace (0 when zero comes first).
    pub left_at_deadline: i64,
}

/// The forecast from daily `(date, count)` points, oldest first; `None` without enough history.
pub fn forecast(points: &[(NaiveDate, i64)], deadline: NaiveDate) -> Option<Forecast> {
    let &(today, remaining) = points.last()?;
    // The oldest point inside the window (or the oldest of all when the history is shorter).
    let window_start = today - chrono::Duration::days(PACE_WINDOW_DAYS);
    let &(then, was) = points
        .iter()
        .find(|(d, _)| *d >= window_start)
        .unwrap_or(&points[0]);
    let pace_days = (today - then).num_days();
    if pace_days < MIN_HISTORY_DAYS {
        return None;
    }
    let pace_per_day = (was - remaining) as f64 / pace_days as f64;
    let to_deadline = (deadline - today).num_days();
    let needed_per_day = (to_deadline > 0).then(|| remaining as f64 / to_deadline as f64);
    let zero_date = if remaining <= 0 {
        Some(today)
    } else if pace_per_day > 0.0 {
        let days = (remaining as f64 / pace_per_day).ceil();
        // Beyond any date chrono can hold is "never" for this purpose.
        (days < 365.0 * 1000.0).then(|| today + chrono::Duration::days(days as i64))
    } else {
        None
    };
    let left_at_deadline = if to_deadline <= 0 {
        remaining
    } else {
        (remaining as f64 - pace_per_day.max(0.0) * to_deadline as f64)
            .ceil()
            .max(0.0) as i64
    };
    Some(Forecast {
        today,
        remaining,
        pace_per_day,
        pace_days,
        needed_per_day,
        zero_date,
        left_at_deadline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn daily(start: &str, values: &[i64]) -> Vec<(NaiveDate, i64)> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (d(start) + chrono::Duration::days(i as i64), *v))
            .collect()
    }

    #[test]
    fn steady_pace_reaches_zero_on_the_expected_day() {
        // 10 fewer a day for 40 days: the pace is read over the last 30.
        let values: Vec<i64> = (0..=40).map(|i| 1000 - 10 * i).collect();
        let f = forecast(&daily("2026-10-01", &values), d("2027-02-01")).expect("forecast");
        assert_eq!(f.today, d("2026-11-10"));
        assert_eq!(f.remaining, 600);
        assert_eq!(f.pace_days, 30);
        assert!((f.pace_per_day - 10.0).abs() < 1e-9);
        assert_eq!(f.zero_date, Some(d("2027-01-09")));
        assert_eq!(f.left_at_deadline, 0);
        // 600 users over the 83 days to 1 February.
        let needed = f.needed_per_day.expect("needed");
        assert!((needed - 600.0 / 83.0).abs() < 1e-9);
    }

    #[test]
    fn slow_pace_leaves_users_on_the_deadline() {
        let values: Vec<i64> = (0..=30).map(|i| 3000 - 2 * i).collect();
        let f = forecast(&daily("2026-10-01", &values), d("2027-02-01")).expect("forecast");
        // 2,940 left on 31 October, 2 a day for 93 days: 186 fewer.
        assert_eq!(f.left_at_deadline, 2940 - 186);
        assert_eq!(
            f.zero_date,
            Some(d("2026-10-31") + chrono::Duration::days(1470))
        );
    }

    #[test]
    fn a_growing_count_never_reaches_zero() {
        let values: Vec<i64> = (0..=10).map(|i| 100 + i).collect();
        let f = forecast(&daily("2026-11-01", &values), d("2027-02-01")).expect("forecast");
        assert!(f.pace_per_day < 0.0);
        assert_eq!(f.zero_date, None);
        assert_eq!(f.left_at_deadline, 110);
    }

    #[test]
    fn zero_is_zero_and_short_history_is_no_forecast() {
        let f = forecast(
            &daily("2026-11-01", &[5, 3, 0, 0, 0, 0, 0, 0]),
            d("2027-02-01"),
        )
        .expect("forecast");
        assert_eq!(f.zero_date, Some(d("2026-11-08")));
        assert_eq!(f.left_at_deadline, 0);
        assert_eq!(
            forecast(&daily("2026-11-01", &[5, 4, 3]), d("2027-02-01")),
            None
        );
        assert_eq!(forecast(&[], d("2027-02-01")), None);
    }

    #[test]
    fn after_the_deadline_nothing_is_needed_and_all_are_left() {
        let values: Vec<i64> = (0..=10).map(|i| 50 - i).collect();
        let f = forecast(&daily("2027-03-01", &values), d("2027-02-01")).expect("forecast");
        assert_eq!(f.needed_per_day, None);
        assert_eq!(f.left_at_deadline, 40);
    }
}
