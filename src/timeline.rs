//! A user's timeline: the changes between consecutive stored versions of their facts, in
//! words, newest first. Pure: versions in, entries out.

use crate::advice::{default_label, state_label};
use crate::domain::classify::{MethodClass, method_class, method_label};
use crate::domain::{Dimension, UserVersion as Version};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One change (the JSON contract of `/api/v1/users/{id}` `timeline` entries).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// When the sync that saw it started.
    pub at: DateTime<Utc>,
    pub run_id: i64,
    /// `appeared`, `gone`, `method_added`, `method_removed`, `default_changed`,
    /// `state_changed` or `department_changed`.
    pub change: &'static str,
    pub detail: String,
}

fn department_words(d: Option<&str>) -> String {
    d.map_or_else(
        || Dimension::Department.none_label().to_owned(),
        str::to_owned,
    )
}

/// The changes from `before` to `after`, in the order a reader wants them within one sync.
fn changes(before: &Version, after: &Version, at: DateTime<Utc>, run_id: i64) -> Vec<Entry> {
    let entry = |change, detail| Entry {
        at,
        run_id,
        change,
        detail,
    };
    let mut out = Vec::new();
    if before.state != after.state {
        out.push(entry(
            "state_changed",
            format!(
                "State changed from {} to {}",
                state_label(before.state),
                state_label(after.state)
            ),
        ));
    }
    if before.default_method != after.default_method {
        out.push(entry(
            "default_changed",
            format!(
                "Default method changed from {} to {}",
                default_label(&before.default_method),
                default_label(&after.default_method)
            ),
        ));
    }
    for m in after.methods.iter().filter(|m| !before.methods.contains(m)) {
        out.push(entry("method_added", format!("{} added", method_label(m))));
    }
    for m in before.methods.iter().filter(|m| !after.methods.contains(m)) {
        out.push(entry(
            "method_removed",
            format!("{} removed", method_label(m)),
        ));
    }
    if before.department != after.department {
        out.push(entry(
            "department_changed",
            format!(
                "Department changed from {} to {}",
                department_words(before.department.as_deref()),
                department_words(after.department.as_deref())
            ),
        ));
    }
    out
}

/// Every change the history holds, newest first. `versions` are oldest first, as stored.
/// Versions that differ only in facts the timeline does not show (a job title, say) add no
/// entry.
pub fn timeline(versions: &[Version]) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let mut previous: Option<&Version> = None;
    for v in versions {
        match previous {
            // The same user, continuously present: what changed between the two versions.
            Some(p) if p.ended_run == Some(v.first_run) => {
                out.extend(changes(p, v, v.first_at, v.first_run));
            }
            // Gone for a while, then back.
            Some(p) => {
                out.push(gone(p));
                out.push(Entry {
                    at: v.first_at,
                    run_id: v.first_run,
                    change: "appeared",
                    detail: "Back in the registration report".into(),
                });
            }
            None => out.push(Entry {
                at: v.first_at,
                run_id: v.first_run,
                change: "appeared",
                detail: "First seen in the registration report".into(),
            }),
        }
        previous = Some(v);
    }
    if let Some(last) = previous.filter(|l| l.ended_run.is_some()) {
        out.push(gone(last));
    }
    // Newest first; within one sync, in the order written.
    out.reverse();
    let mut i = 0;
    while i < out.len() {
        let run = out[i].run_id;
        let j = out[i..].iter().take_while(|e| e.run_id == run).count() + i;
        out[i..j].reverse();
        i = j;
    }
    out
}

fn gone(v: &Version) -> Entry {
    Entry {
        at: v.ended_at.unwrap_or(v.first_at),
        run_id: v.ended_run.unwrap_or(v.first_run),
        change: "gone",
        detail: "No longer in the registration report (left, deleted, or the report lags)".into(),
    }
}

/// The strong methods (app or phishing-resistant) the user once had and no longer has, and
/// when the last of them went: the case for a Temporary Access Pass.
pub fn lost_strong_methods(versions: &[Version]) -> Option<(Vec<String>, DateTime<Utc>)> {
    let current = versions.last()?;
    let strong = |m: &&String| {
        matches!(
            method_class(m),
            MethodClass::App | MethodClass::PhishingResistant
        )
    };
    if current.methods.iter().any(|m| strong(&m)) {
        return None;
    }
    // The newest version that still had one, and the moment it ended.
    let had = versions
        .iter()
        .rev()
        .find(|v| v.methods.iter().any(|m| strong(&m)))?;
    let gone: Vec<String> = had
        .methods
        .iter()
        .filter(strong)
        .map(|m| method_label(m))
        .collect();
    Some((gone, had.ended_at?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DefaultMethod, UserType};

    fn at(day: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600 + day * 86_400, 0).expect("time")
    }

    fn v(first: i64, ended: Option<i64>, methods: &[&str], default: &str, state: &str) -> Version {
        Version {
            first_run: first,
            first_at: at(first),
            ended_run: ended,
            ended_at: ended.map(at),
            upn: "a@contoso.com".into(),
            display_name: "A".into(),
            department: Some("Sales".into()),
            company: None,
            office: None,
            country: None,
            job_title: None,
            user_type: UserType::Member,
            account_enabled: Some(true),
            in_scope: true,
            is_admin: false,
            methods: methods.iter().map(|s| (*s).to_owned()).collect(),
            default_method: DefaultMethod::from_stored(default),
            system_preferred: false,
            state: state.parse().expect("a state"),
            voice_capable: false,
            voice_default: false,
            phishing_resistant: false,
            external: false,
            global_admin: Some(false),
            global_admin_eligible: false,
            blocked: state == "phone_only",
            unavailable: Vec::new(),
            out_of_scope_by: None,
        }
    }

    #[test]
    fn changes_between_versions_newest_first() {
        let versions = vec![
            v(1, Some(5), &["mobilePhone"], "sms", "phone_only"),
            v(
                5,
                Some(9),
                &["microsoftAuthenticatorPush", "mobilePhone"],
                "sms",
                "phone_default",
            ),
            v(
                9,
                None,
                &["microsoftAuthenticatorPush", "mobilePhone"],
                "app",
                "phone_backup",
            ),
        ];
        let t = timeline(&versions);
        let kinds: Vec<(i64, &str)> = t.iter().map(|e| (e.run_id, e.change)).collect();
        assert_eq!(
            kinds,
            vec![
                (9, "state_changed"),
                (9, "default_changed"),
                (5, "state_changed"),
                (5, "method_added"),
                (1, "appeared"),
            ]
        );
        assert_eq!(t[3].detail, "Microsoft Authenticator (push) added");
        assert_eq!(
            t[0].detail,
            "State changed from Phone default to Phone backup"
        );
        assert_eq!(
            t[1].detail,
            "Default method changed from Text message (SMS) to Authenticator app (push or code)"
        );
        assert_eq!(t[4].at, at(1));
    }

    #[test]
    fn gone_and_back_and_quiet_versions() {
        let mut quiet = v(3, Some(6), &["mobilePhone"], "sms", "phone_only");
        quiet.job_title = Some("Analyst".into());
        let versions = vec![
            v(1, Some(3), &["mobilePhone"], "sms", "phone_only"),
            quiet,
            v(8, Some(10), &["mobilePhone"], "sms", "phone_only"),
        ];
        let kinds: Vec<(i64, &str)> = timeline(&versions)
            .iter()
            .map(|e| (e.run_id, e.change))
            .collect();
        assert_eq!(
            kinds,
            vec![(10, "gone"), (8, "appeared"), (6, "gone"), (1, "appeared")],
            "a new job title alone is not on the timeline"
        );
    }

    #[test]
    fn a_lost_app_is_found() {
        let versions = vec![
            v(
                1,
                Some(4),
                &["microsoftAuthenticatorPush", "mobilePhone"],
                "app",
                "phone_backup",
            ),
            v(4, None, &["mobilePhone"], "sms", "phone_only"),
        ];
        let (lost, when) = lost_strong_methods(&versions).expect("lost");
        assert_eq!(lost, vec!["Microsoft Authenticator (push)"]);
        assert_eq!(when, at(4));
        assert_eq!(lost_strong_methods(&versions[..1]), None);
    }
}
