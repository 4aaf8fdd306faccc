//! Server-drawn SVG charts: the geometry is computed here (pure, unit-tested) and drawn by the
//! `chart` macro in `templates/macros.html`, so askama escapes every label and no script runs.
//! Colours come from CSS classes, which follow the page's light or dark scheme.

use chrono::NaiveDate;
use std::fmt::Write as _;

/// The drawing's coordinate space (the SVG scales to its box).
const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 320.0;
/// Room for the axes' labels around the plot.
const LEFT: f64 = 56.0;
const RIGHT: f64 = 52.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 30.0;
/// Long ranges are thinned to about this many points, so a page stays small.
pub const MAX_POINTS: usize = 400;

/// One filled band or line.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// SVG path data.
    pub d: String,
    /// CSS class that colours it (`s-phone_only`, `pace`, ...).
    pub class: &'static str,
}

/// A labelled position on an axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub pos: f64,
    pub label: String,
}

/// A vertical marker (the deadline).
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub x: f64,
    pub label: String,
}

/// An invisible column over one point that shows its values on hover (an SVG `<title>`).
#[derive(Debug, Clone, PartialEq)]
pub struct Hover {
    pub x: f64,
    pub width: f64,
    pub title: String,
}

/// A legend entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub class: &'static str,
    pub label: String,
}

/// A whole chart, ready to draw, with the same numbers as a table for screen readers.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// What the chart shows, in words (the SVG's accessible name).
    pub title: String,
    pub width: f64,
    pub height: f64,
    pub plot_left: f64,
    pub plot_right: f64,
    pub plot_top: f64,
    pub plot_bottom: f64,
    pub areas: Vec<Shape>,
    pub lines: Vec<Shape>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    /// The right-hand axis (a share, 0–100%), when a line uses it.
    pub y2_ticks: Vec<Tick>,
    pub markers: Vec<Marker>,
    pub hovers: Vec<Hover>,
    pub legend: Vec<Key>,
    pub table_head: Vec<String>,
    pub table_rows: Vec<Vec<String>>,
}

/// A series of values, one per date.
pub struct Series<'a> {
    pub label: &'a str,
    pub class: &'static str,
    pub values: Vec<f64>,
}

impl Chart {
    fn empty(title: String) -> Chart {
        Chart {
            title,
            width: WIDTH,
            height: HEIGHT,
            plot_left: LEFT,
            plot_right: WIDTH - RIGHT,
            plot_top: TOP,
            plot_bottom: HEIGHT - BOTTOM,
            areas: Vec::new(),
            lines: Vec::new(),
            x_ticks: Vec::new(),
            y_ticks: Vec::new(),
            y2_ticks: Vec::new(),
            markers: Vec::new(),
            hovers: Vec::new(),
            legend: Vec::new(),
            table_head: Vec::new(),
            table_rows: Vec::new(),
        }
    }

    /// Nothing to draw (no history yet).
    pub fn is_empty(&self) -> bool {
        self.areas.is_empty() && self.lines.is_empty()
    }

    /// Stacked bands (first series at the bottom) over `dates`, with an optional line of a
    /// share (0–1) on the right-hand axis.
    pub fn stacked(
        title: String,
        dates: &[NaiveDate],
        bands: &[Series<'_>],
        share: Option<&Series<'_>>,
    ) -> Chart {
        let mut c = Chart::empty(title);
        let n = dates.len();
        if n == 0 || bands.iter().any(|s| s.values.len() != n) {
            return c;
        }
        let totals: Vec<f64> = (0..n)
            .map(|i| bands.iter().map(|s| s.values[i]).sum())
            .collect();
        let y = YScale::new(&c, totals.iter().copied().fold(0.0, f64::max));
        let x = XScale::new(&c, dates[0], dates[n - 1]);
        let mut lower = vec![0.0; n];
        for s in bands {
            let upper: Vec<f64> = lower.iter().zip(&s.values).map(|(l, v)| l + v).collect();
            let mut d = String::new();
            for (i, date) in dates.iter().enumerate() {
                let cmd = if i == 0 { 'M' } else { 'L' };
                let _ = write!(d, "{cmd}{:.1},{:.1}", x.at(*date), y.at(upper[i]));
            }
            for (i, date) in dates.iter().enumerate().rev() {
                let _ = write!(d, "L{:.1},{:.1}", x.at(*date), y.at(lower[i]));
            }
            d.push('Z');
            c.areas.push(Shape { d, class: s.class });
            c.legend.push(Key {
                class: s.class,
                label: s.label.to_owned(),
            });
            lower = upper;
        }
        c.y_ticks = y.ticks(thousands_f);
        if let Some(s) = share.filter(|s| s.values.len() == n) {
            let share_y = YScale::fixed(&c, 1.0);
            c.lines.push(Shape {
                d: polyline(
                    dates.iter().map(|d| x.at(*d)),
                    s.values.iter().map(|v| share_y.at(*v)),
                ),
                class: s.class,
            });
            c.legend.push(Key {
                class: s.class,
                label: format!("{} (right axis)", s.label),
            });
            c.y2_ticks = share_y.ticks(|v| format!("{:.0}%", v * 100.0));
        }
        c.x_ticks = x.ticks();
        c.table_head = std::iter::once("Date".to_owned())
            .chain(bands.iter().map(|s| s.label.to_owned()))
            .chain(share.map(|s| s.label.to_owned()))
            .collect();
        for i in 0..n {
            let mut row = vec![dates[i].to_string()];
            row.extend(bands.iter().map(|s| thousands_f(s.values[i])));
            if let Some(s) = share {
                row.push(percent(s.values[i]));
            }
            c.hovers.push(x.hover(dates, i, &c.table_head, &row));
            c.table_rows.push(row);
        }
        c
    }

    /// The burn-down: the actual count, the pace needed to reach zero by the deadline, the
    /// current pace projected forward, and the deadline itself.
    pub fn burn_down(
        title: String,
        series: &str,
        points: &[(NaiveDate, i64)],
        deadline: NaiveDate,
        projection: Option<(NaiveDate, i64)>,
    ) -> Chart {
        let mut c = Chart::empty(title);
        let Some(&(today, now)) = points.last() else {
            return c;
        };
        let first = points[0].0;
        let end = deadline.max(today);
        let x = XScale::new(&c, first, end);
        let max = points.iter().map(|p| p.1).max().unwrap_or(0) as f64;
        let y = YScale::new(&c, max);
        c.lines.push(Shape {
            d: polyline(
                points.iter().map(|p| x.at(p.0)),
                points.iter().map(|p| y.at(p.1 as f64)),
            ),
            class: "actual",
        });
        c.legend.push(Key {
            class: "actual",
            label: series.into(),
        });
        if deadline > today {
            c.lines.push(Shape {
                d: polyline(
                    [x.at(today), x.at(deadline)].into_iter(),
                    [y.at(now as f64), y.at(0.0)].into_iter(),
                ),
                class: "needed",
            });
            c.legend.push(Key {
                class: "needed",
                label: "Pace needed to reach zero by the deadline".into(),
            });
            if let Some((until, left)) = projection {
                c.lines.push(Shape {
                    d: polyline(
                        [x.at(today), x.at(until.min(deadline))].into_iter(),
                        [y.at(now as f64), y.at(left as f64)].into_iter(),
                    ),
                    class: "projected",
                });
                c.legend.push(Key {
                    class: "projected",
                    label: "At the current pace".into(),
                });
            }
        }
        c.markers.push(Marker {
            x: x.at(deadline),
            label: format!("Deadline {}", long_date(deadline)),
        });
        c.x_ticks = x.ticks();
        c.y_ticks = y.ticks(thousands_f);
        c.table_head = vec!["Date".into(), series.into()];
        let dates: Vec<NaiveDate> = points.iter().map(|p| p.0).collect();
        for (i, (d, v)) in points.iter().enumerate() {
            let row = vec![d.to_string(), thousands_f(*v as f64)];
            c.hovers.push(x.hover(&dates, i, &c.table_head, &row));
            c.table_rows.push(row);
        }
        c
    }
}

/// A small line without axes (a table cell's trend).
#[derive(Debug, Clone, PartialEq)]
pub struct Sparkline {
    pub points: String,
    pub title: String,
}

pub const SPARK_WIDTH: f64 = 120.0;
pub const SPARK_HEIGHT: f64 = 28.0;
/// The smallest range a sparkline spans (five percentage points).
pub const SPARK_MIN_SPAN: f64 = 0.05;

impl Sparkline {
    /// Fractions (0–1) scaled to their own range, but never to less than
    /// [`SPARK_MIN_SPAN`], so that noise does not look like a trend.
    pub fn new(values: &[f64], title: String) -> Sparkline {
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let pad = ((SPARK_MIN_SPAN - (hi - lo)) / 2.0).max(0.0);
        let (lo, hi) = (lo - pad, hi + pad);
        let n = values.len();
        let mut points = String::new();
        for (i, v) in values.iter().enumerate() {
            let x = if n > 1 {
                i as f64 * SPARK_WIDTH / (n - 1) as f64
            } else {
                SPARK_WIDTH / 2.0
            };
            let y = if hi > lo {
                2.0 + (hi - v) / (hi - lo) * (SPARK_HEIGHT - 4.0)
            } else {
                SPARK_HEIGHT / 2.0
            };
            let _ = write!(points, "{}{x:.1},{y:.1}", if i == 0 { "" } else { " " });
        }
        Sparkline { points, title }
    }
}

/// Every `k`-th index so that at most [`MAX_POINTS`] remain, always keeping the last.
pub fn thin(len: usize) -> Vec<usize> {
    if len <= MAX_POINTS {
        return (0..len).collect();
    }
    let step = len.div_ceil(MAX_POINTS);
    let mut keep: Vec<usize> = (0..len).step_by(step).collect();
    if keep.last() != Some(&(len - 1)) {
        keep.push(len - 1);
    }
    keep
}

struct XScale {
    first: NaiveDate,
    span: f64,
    left: f64,
    width: f64,
}

impl XScale {
    fn new(c: &Chart, first: NaiveDate, last: NaiveDate) -> XScale {
        XScale {
            first,
            span: (last - first).num_days() as f64,
            left: c.plot_left,
            width: c.plot_right - c.plot_left,
        }
    }

    fn at(&self, d: NaiveDate) -> f64 {
        if self.span <= 0.0 {
            return self.left + self.width / 2.0;
        }
        self.left + (d - self.first).num_days() as f64 / self.span * self.width
    }

    /// About six dates, evenly spaced.
    fn ticks(&self) -> Vec<Tick> {
        let days = self.span as i64;
        let long = days > 300;
        let count = days.clamp(0, 6);
        (0..=count)
            .map(|i| {
                let d = self.first
                    + chrono::Duration::days(if count == 0 { 0 } else { days * i / count });
                Tick {
                    pos: self.at(d),
                    label: d.format(if long { "%b %Y" } else { "%-d %b" }).to_string(),
                }
            })
            .collect()
    }

    /// The hover column of point `i`: from halfway to its left neighbour to halfway to its right.
    fn hover(&self, dates: &[NaiveDate], i: usize, head: &[String], row: &[String]) -> Hover {
        let here = self.at(dates[i]);
        let left = if i > 0 {
            (self.at(dates[i - 1]) + here) / 2.0
        } else {
            self.left.min(here)
        };
        let right = match dates.get(i + 1) {
            Some(next) => (self.at(*next) + here) / 2.0,
            None => (self.left + self.width).max(here),
        };
        let title = head
            .iter()
            .zip(row)
            .skip(1)
            .fold(row[0].clone(), |mut t, (h, v)| {
                let _ = write!(t, "\n{h}: {v}");
                t
            });
        Hover {
            x: left,
            width: (right - left).max(1.0),
            title,
        }
    }
}

struct YScale {
    top: f64,
    bottom: f64,
    max: f64,
    step: f64,
}

impl YScale {
    /// From zero to a round number at or above `max`.
    fn new(c: &Chart, max: f64) -> YScale {
        let step = nice_step(max.max(1.0) / 5.0);
        YScale {
            top: c.plot_top,
            bottom: c.plot_bottom,
            max: (max.max(1.0) / step).ceil() * step,
            step,
        }
    }

    fn fixed(c: &Chart, max: f64) -> YScale {
        YScale {
            top: c.plot_top,
            bottom: c.plot_bottom,
            max,
            step: max / 4.0,
        }
    }

    fn at(&self, v: f64) -> f64 {
        self.bottom - v / self.max * (self.bottom - self.top)
    }

    fn ticks(&self, label: impl Fn(f64) -> String) -> Vec<Tick> {
        let n = (self.max / self.step).round() as usize;
        (0..=n)
            .map(|i| {
                let v = self.step * i as f64;
                Tick {
                    pos: self.at(v),
                    label: label(v),
                }
            })
            .collect()
    }
}

/// 1, 2, 2.5 or 5 times a power of ten, at or above `raw`.
fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
        .max(1.0)
}

fn polyline(xs: impl Iterator<Item = f64>, ys: impl Iterator<Item = f64>) -> String {
    let mut d = String::new();
    for (i, (x, y)) in xs.zip(ys).enumerate() {
        let _ = write!(d, "{}{x:.1},{y:.1}", if i == 0 { 'M' } else { 'L' });
    }
    d
}

fn thousands_f(v: f64) -> String {
    super::thousands(v.round() as i64)
}

fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// "1 February 2027".
pub fn long_date(d: NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dates(n: usize) -> Vec<NaiveDate> {
        let start = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
        (0..n)
            .map(|i| start + chrono::Duration::days(i as i64))
            .collect()
    }

    #[test]
    fn stacked_bands_sit_on_each_other() {
        let d = dates(3);
        let bands = [
            Series {
                label: "A",
                class: "s-a",
                values: vec![10.0, 20.0, 30.0],
            },
            Series {
                label: "B",
                class: "s-b",
                values: vec![5.0, 5.0, 5.0],
            },
        ];
        let c = Chart::stacked("t".into(), &d, &bands, None);
        assert_eq!(c.areas.len(), 2);
        // The axis runs from zero to a round number at or above the largest total (35).
        assert_eq!(c.y_ticks.first().map(|t| t.label.as_str()), Some("0"));
        assert_eq!(c.y_ticks.last().map(|t| t.label.as_str()), Some("40"));
        assert_eq!(c.y_ticks.len(), 5);
        // B's band starts at A's top: A's first upper point is B's last lower point.
        let a_first = c.areas[0]
            .d
            .split('L')
            .next()
            .expect("move")
            .trim_start_matches('M');
        assert!(
            c.areas[1].d.ends_with(&format!("L{a_first}Z")),
            "{}",
            c.areas[1].d
        );
        assert_eq!(c.table_rows.len(), 3);
        assert_eq!(c.table_rows[2], vec!["2026-01-03", "30", "5"]);
        assert_eq!(c.hovers.len(), 3);
        assert!(c.hovers[1].title.contains("A: 20"));
        // Hover columns tile the plot without gaps.
        let end = c.hovers[0].x + c.hovers[0].width;
        assert!((end - c.hovers[1].x).abs() < 1e-9);
    }

    #[test]
    fn mismatched_or_empty_series_draw_nothing() {
        let bands = [Series {
            label: "A",
            class: "s-a",
            values: vec![1.0],
        }];
        assert!(Chart::stacked("t".into(), &dates(2), &bands, None).is_empty());
        assert!(Chart::stacked("t".into(), &[], &[], None).is_empty());
        assert!(Chart::burn_down("t".into(), "x", &[], dates(1)[0], None).is_empty());
    }

    #[test]
    fn burn_down_lines_end_at_zero_on_the_deadline() {
        let d = dates(10);
        let points: Vec<(NaiveDate, i64)> = d.iter().map(|d| (*d, 100)).collect();
        let deadline = d[9] + chrono::Duration::days(10);
        let c = Chart::burn_down(
            "t".into(),
            "Phone-only users",
            &points,
            deadline,
            Some((deadline, 60)),
        );
        assert_eq!(c.lines.len(), 3);
        let needed = &c.lines[1].d;
        assert!(needed.ends_with(&format!("L{:.1},{:.1}", c.plot_right, c.plot_bottom)));
        assert_eq!(c.markers[0].x, c.plot_right);
        assert_eq!(c.markers[0].label, "Deadline 20 January 2026");
    }

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(0.3), 1.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(2100.0), 2500.0);
        assert_eq!(nice_step(26_000.0), 50_000.0);
    }

    #[test]
    fn thinning_keeps_the_ends() {
        assert_eq!(thin(3), vec![0, 1, 2]);
        let kept = thin(1000);
        assert!(kept.len() <= MAX_POINTS + 1);
        assert_eq!(kept.first(), Some(&0));
        assert_eq!(kept.last(), Some(&999));
    }

    #[test]
    fn sparkline_spans_its_box() {
        let s = Sparkline::new(&[0.1, 0.5, 0.3], "t".into());
        assert_eq!(s.points, "0.0,26.0 60.0,2.0 120.0,14.0");
        assert_eq!(
            Sparkline::new(&[0.2, 0.2], "t".into()).points,
            "0.0,14.0 120.0,14.0"
        );
        // A change of one point stays small.
        let small = Sparkline::new(&[0.50, 0.51], "t".into());
        assert_eq!(small.points, "0.0,16.4 120.0,11.6");
    }
}
