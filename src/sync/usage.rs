//! The sign-in part of a run (graph-api.md §8): who used which method for MFA, from the
//! interactive sign-in log, counted per person and UTC day and kept past the log's 30 days.
//!
//! It runs after the run's registration data is committed (the report is read first, and a
//! long backfill never holds it up), reads from where the last read stopped (a few minutes
//! earlier: the log is late, so ids counted in those minutes are skipped), and streams the
//! pages through a tally whose memory is bounded by the people and days it sees (not the
//! sign-ins). Graph lists a window's sign-ins newest first and cannot sort them, so the time is
//! read in windows of [`WINDOW`], oldest window first, each one whole before the cursor moves
//! past it; the counts are written with the cursor every few windows. A read that reaches
//! [`SignInOptions::pages_per_run`] stops after its window and goes on at the next run. It never
//! fails the run: an error makes the part unavailable, with its fix.

use crate::db::posture::insert_run_part;
use crate::db::usage::{self as db, UsageRow};
use crate::domain::RunPart;
use crate::domain::usage::{MfaClass, Step, mfa_uses};
use crate::graph::model::SignIn;
use crate::graph::{Client, GraphError};
use chrono::{DateTime, NaiveDate, Utc};
use rustc_hash::{FxHashMap, FxHashSet};
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

/// How far before the last read's end the next one starts: the log is late by minutes.
pub const OVERLAP: chrono::Duration = chrono::Duration::minutes(15);
/// Days the first read goes back (`PHONELESS_SIGNIN_DAYS`), and the most it may (the log keeps
/// 30 days on P1/P2).
pub const DEFAULT_DAYS: u32 = 7;
pub const MAX_DAYS: u32 = 30;
/// One window of the log, read whole before the cursor moves past it (at least [`OVERLAP`]).
pub const WINDOW: chrono::Duration = chrono::Duration::days(1);
/// Pages written together (at the end of a window), with the cursor.
const PAGES_PER_WRITE: u32 = 50;

/// How the sign-ins are read.
#[derive(Debug, Clone, Copy)]
pub struct SignInOptions {
    /// How far back the first read goes.
    pub days: u32,
    /// Pages one run reads at most (about a thousand sign-ins each): a long backfill goes on at
    /// the next run. Under the reports throttle (about 5 requests per 10 s, shared with the
    /// registration report) 600 pages take about 25 minutes.
    pub pages_per_run: u32,
}

impl Default for SignInOptions {
    fn default() -> Self {
        SignInOptions {
            days: DEFAULT_DAYS,
            pages_per_run: 600,
        }
    }
}

/// What a read did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInReport {
    pub pages: u32,
    /// Sign-ins counted, and those skipped as counted before (the overlap).
    pub sign_ins: u64,
    pub duplicates: u64,
    /// Person-day-method counts written.
    pub rows: u64,
    /// The read stopped at its page budget; the next run goes on.
    pub more: bool,
}

/// Counts of a stream of sign-ins, in any order (pure).
#[derive(Debug, Default)]
pub struct Tally {
    counts: FxHashMap<(Uuid, NaiveDate, String), (MfaClass, i32)>,
    /// Counted before: the ids of the overlap's sign-ins.
    seen_before: FxHashSet<String>,
    /// The ids (and times) of the sign-ins counted in the [`OVERLAP`] before the end of the
    /// windows read so far: the next read starts in their minutes.
    recent: Vec<(String, DateTime<Utc>)>,
    pub counted: u64,
    pub duplicates: u64,
}

impl Tally {
    pub fn new(seen_before: impl IntoIterator<Item = String>) -> Tally {
        Tally {
            seen_before: seen_before.into_iter().collect(),
            ..Tally::default()
        }
    }

    /// Counts one sign-in's MFA method use, unless it was counted before.
    pub fn add(&mut self, s: &SignIn) {
        if self.seen_before.contains(&s.id) {
            self.duplicates += 1;
            return;
        }
        self.counted += 1;
        let at = s.created_date_time;
        self.recent.push((s.id.clone(), at));
        let Ok(user) = Uuid::parse_str(&s.user_id) else {
            return;
        };
        let steps = s.authentication_details.iter().map(|d| Step {
            method: d.authentication_method.as_deref(),
            requirement: d.authentication_step_requirement.as_deref(),
            succeeded: d.succeeded,
        });
        for (method, class) in mfa_uses(steps) {
            let e = self
                .counts
                .entry((user, at.date_naive(), method.to_owned()))
                .or_insert((class, 0));
            e.1 += 1;
        }
    }

    /// Every sign-in before `end` has been added: only the ids of the overlap before it are
    /// kept.
    pub fn read_until(&mut self, end: DateTime<Utc>) {
        let since = end - OVERLAP;
        self.recent.retain(|(_, at)| *at >= since);
    }

    /// The counts so far, emptied (the recent ids stay, for the cursor).
    pub fn take(&mut self) -> Vec<UsageRow> {
        self.counts
            .drain()
            .map(|((user_id, day, method), (class, count))| UsageRow {
                user_id,
                day,
                method,
                class,
                count,
            })
            .collect()
    }

    /// The ids counted in the overlap before the last [`Tally::read_until`].
    pub fn recent(&self) -> Vec<(String, DateTime<Utc>)> {
        self.recent.clone()
    }
}

/// Reads the sign-ins since the last read (or `options.days` back) up to `now`, records the
/// run part of `run_id`, and never fails the run: an error is the part's.
pub async fn read(
    pool: &PgPool,
    graph: Arc<Client>,
    run_id: i64,
    now: DateTime<Utc>,
    options: SignInOptions,
) -> sqlx::Result<Option<SignInReport>> {
    match read_sign_ins(pool, graph, now, options).await {
        Ok(report) => {
            insert_run_part(pool, run_id, RunPart::SignIns, None).await?;
            Ok(Some(report))
        }
        Err(ReadError::Graph(e)) => {
            tracing::warn!("the sign-in log could not be read: {e}");
            insert_run_part(pool, run_id, RunPart::SignIns, Some(&e.to_string())).await?;
            Ok(None)
        }
        Err(ReadError::Database(e)) => Err(e),
    }
}

#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What the reader hands the tally: a page, or the end of a window read whole.
enum Read {
    Page(Vec<SignIn>),
    /// The end of a window; `true` for the last window the reader reads.
    WindowEnd(DateTime<Utc>, bool),
}

/// Pages read ahead of the counting and writing (about a thousand sign-ins each).
const READ_AHEAD: usize = 16;

async fn read_sign_ins(
    pool: &PgPool,
    graph: Arc<Client>,
    now: DateTime<Utc>,
    options: SignInOptions,
) -> Result<SignInReport, ReadError> {
    let days = options.days.clamp(1, MAX_DAYS);
    let first = now - chrono::Duration::days(days.into());
    let cursor = db::cursor(pool).await?;
    // Never before what the log still keeps.
    let kept = now - chrono::Duration::days(MAX_DAYS.into());
    let from = cursor.map_or(first, |c| (c - OVERLAP).max(kept));
    let mut tally = Tally::new(db::seen_since(pool, from).await?);
    // The windows are fetched and parsed ahead while the pages before them are counted and
    // written, so the writes cost little more than the reading.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Read, GraphError>>(READ_AHEAD);
    let budget = options.pages_per_run;
    let reader = tokio::spawn(async move {
        let (mut start, mut pages_read) = (from, 0u32);
        while start < now {
            let end = (start + WINDOW).min(now);
            let mut pages = graph.sign_ins(start, end);
            while let Some(page) = pages.next_page().await {
                let failed = page.is_err();
                if tx.send(page.map(|p| Read::Page(p.value))).await.is_err() || failed {
                    return pages_read;
                }
                pages_read += 1;
            }
            let last = end >= now || pages_read >= budget;
            if tx.send(Ok(Read::WindowEnd(end, last))).await.is_err() || last {
                return pages_read;
            }
            start = end;
        }
        pages_read
    });
    let mut report = SignInReport::default();
    let (mut unwritten, mut read_until) = (0, None);
    // One write at a time, in its own task: the next pages are counted meanwhile.
    let mut writing: Option<tokio::task::JoinHandle<sqlx::Result<u64>>> = None;
    while let Some(item) = rx.recv().await {
        match item? {
            Read::Page(sign_ins) => {
                for s in &sign_ins {
                    tally.add(s);
                }
                report.pages += 1;
                unwritten += 1;
            }
            Read::WindowEnd(end, last) => {
                tally.read_until(end);
                read_until = Some(end);
                if unwritten >= PAGES_PER_WRITE && !last {
                    report.rows += finish(writing.take()).await?;
                    writing = Some(tokio::spawn(write(
                        pool.clone(),
                        tally.take(),
                        tally.recent(),
                        first,
                        end,
                    )));
                    unwritten = 0;
                }
            }
        }
    }
    let _ = reader.await;
    report.rows += finish(writing.take()).await?;
    // The last write moves the cursor and brings everyone's phone use up to date together:
    // pages that keep answers until the cursor moves never keep one in between.
    let end = read_until.or(cursor).unwrap_or(from);
    let rows = tally.take();
    let mut tx = pool.begin().await?;
    db::add_counts(&mut tx, &rows, &tally.recent(), first, end, end - OVERLAP).await?;
    db::update_phone_usage(&mut tx, now.date_naive()).await?;
    tx.commit().await?;
    report.rows += rows.len() as u64;
    report.more = end < now;
    report.sign_ins = tally.counted;
    report.duplicates = tally.duplicates;
    Ok(report)
}

/// The rows of a write in flight, once it is done.
async fn finish(writing: Option<tokio::task::JoinHandle<sqlx::Result<u64>>>) -> sqlx::Result<u64> {
    match writing {
        None => Ok(0),
        Some(task) => task
            .await
            .map_err(|e| sqlx::Error::Protocol(format!("the sign-in write stopped: {e}")))?,
    }
}

/// Writes counts with the cursor at `until` (keeping the ids of the overlap before it), in
/// one transaction.
async fn write(
    pool: PgPool,
    rows: Vec<UsageRow>,
    recent: Vec<(String, DateTime<Utc>)>,
    first: DateTime<Utc>,
    until: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let mut tx = pool.begin().await?;
    db::add_counts(&mut tx, &rows, &recent, first, until, until - OVERLAP).await?;
    tx.commit().await?;
    Ok(rows.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::model::AuthenticationDetail;

    fn sign_in(id: &str, user: Uuid, at: &str, mfa: &[(&str, bool)]) -> SignIn {
        let mut details = vec![AuthenticationDetail {
            authentication_method: Some("Password".into()),
            authentication_step_requirement: Some("Primary authentication".into()),
            succeeded: Some(true),
        }];
        details.extend(mfa.iter().map(|(m, ok)| AuthenticationDetail {
            authentication_method: Some((*m).into()),
            authentication_step_requirement: Some("MFA".into()),
            succeeded: Some(*ok),
        }));
        SignIn {
            id: id.into(),
            created_date_time: DateTime::parse_from_rfc3339(at).expect("time").to_utc(),
            user_id: user.to_string(),
            authentication_details: details,
        }
    }

    #[test]
    fn counts_per_person_day_and_method_skipping_what_was_counted() {
        let ana = Uuid::from_u128(1);
        let mut t = Tally::new(["old".to_owned()]);
        t.add(&sign_in(
            "old",
            ana,
            "2026-11-30T23:55:00Z",
            &[("Text message", true)],
        ));
        t.add(&sign_in(
            "a",
            ana,
            "2026-11-30T23:58:00Z",
            &[("Text message", false), ("Text message", true)],
        ));
        t.add(&sign_in(
            "b",
            ana,
            "2026-12-01T08:00:00Z",
            &[("Text message", true)],
        ));
        t.add(&sign_in(
            "c",
            ana,
            "2026-12-01T09:00:00Z",
            &[("Previously satisfied", true)],
        ));
        t.add(&sign_in(
            "d",
            ana,
            "2026-12-01T09:30:00Z",
            &[("Mobile app notification", true)],
        ));
        t.add(&sign_in(
            "e",
            Uuid::nil(),
            "2026-12-01T09:40:00Z",
            &[("Quantum handshake", true)],
        ));
        assert_eq!((t.counted, t.duplicates), (5, 1));
        t.read_until(
            DateTime::parse_from_rfc3339("2026-12-01T09:45:00Z")
                .expect("t")
                .to_utc(),
        );
        let mut rows = t.take();
        rows.sort_by(|a, b| (a.day, &a.method).cmp(&(b.day, &b.method)));
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.day.to_string(), r.method.as_str(), r.class, r.count))
            .collect();
        assert_eq!(
            got,
            vec![
                ("2026-11-30".into(), "Text message", MfaClass::Sms, 1),
                (
                    "2026-12-01".into(),
                    "Mobile app notification",
                    MfaClass::App,
                    1
                ),
                ("2026-12-01".into(), "Quantum handshake", MfaClass::Other, 1),
                ("2026-12-01".into(), "Text message", MfaClass::Sms, 1),
            ]
        );
        // Only the ids of the OVERLAP before the end read are kept for the next read.
        let recent: Vec<_> = t.recent().into_iter().map(|(id, _)| id).collect();
        assert_eq!(recent, vec!["d", "e"]);
        assert!(t.take().is_empty(), "taken once");
    }
}
