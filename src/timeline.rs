//! A user's timeline: the changes between consecutive stored versions of their facts, and the
//! reasons the helpdesk recorded for their staying on the phone, in words, newest first. Pure:
//! versions and reasons in, entries out.

use crate::advice::{default_label, state_label};
use crate::domain::classify::{MethodClass, method_class, method_label};
use crate::domain::reasons::ReasonHistory;
use crate::domain::retirement::long_date;
use crate::domain::{ClearedBy, Dimension, UserVersion as Version};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One change (the JSON contract of `/api/v1/users/{id}` `timeline` entries).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// When the sync that saw it started; for a reason, when it was recorded or cleared.
    pub at: DateTime<Utc>,
    /// The sync that saw it; for a reason, the newest sync at the time (a reason cleared by a
    /// sync names that sync).
    pub run_id: i64,
    /// `appeared`, `gone`, `method_added`, `method_removed`, `default_changed`,
    /// `state_changed` or `department_changed`; and for the helpdesk's reason `reason_set`,
    /// `reason_changed` or `reason_cleared`.
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

/// [`timeline`] with the reasons recorded for the person (`reasons` oldest first, as stored):
/// when one was recorded, changed and cleared, and why it was cleared. A reason cleared by the
/// sync that saw the person leave the phone states comes after that sync's changes.
pub fn timeline_with_reasons(versions: &[Version], reasons: &[ReasonHistory]) -> Vec<Entry> {
    let mut out = timeline(versions);
    let fallback = versions.first().map_or(0, |v| v.first_run);
    // Newest first, each placed after every entry at least as new.
    for e in reason_entries(reasons, fallback).into_iter().rev() {
        let at = out.iter().position(|o| o.at < e.at).unwrap_or(out.len());
        out.insert(at, e);
    }
    out
}

/// The entries of the recorded reasons, oldest first.
fn reason_entries(reasons: &[ReasonHistory], fallback_run: i64) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut previous: Option<&ReasonHistory> = None;
    for h in reasons {
        let r = &h.record;
        let mut detail = match previous {
            Some(p) if p.record.cleared_by == Some(ClearedBy::Replaced) => format!(
                "Reason for staying on the phone changed by {}: {} (was: {})",
                r.set_by,
                lower_first(r.reason.label()),
                lower_first(p.record.reason.label())
            ),
            _ => format!(
                "Reason for staying on the phone recorded by {}: {}",
                r.set_by,
                lower_first(r.reason.label())
            ),
        };
        if !r.note.is_empty() {
            detail.push_str(&format!("; note: {}", r.note));
        }
        if let Some(d) = r.follow_up {
            detail.push_str(&format!("; follow up on {}", long_date(d)));
        }
        let set_run = h.set_run.unwrap_or(fallback_run);
        let replaced = previous.is_some_and(|p| p.record.cleared_by == Some(ClearedBy::Replaced));
        out.push(Entry {
            at: r.set_at,
            run_id: set_run,
            change: if replaced {
                "reason_changed"
            } else {
                "reason_set"
            },
            detail,
        });
        let cleared = match r.cleared_by {
            Some(ClearedBy::Removed) => Some(format!(
                "Reason for staying on the phone removed ({})",
                lower_first(r.reason.label())
            )),
            Some(ClearedBy::LeftPhone) => Some(format!(
                "Reason for staying on the phone cleared: no longer on the phone ({})",
                lower_first(r.reason.label())
            )),
            // The next recording says what took its place.
            Some(ClearedBy::Replaced) | None => None,
        };
        if let (Some(detail), Some(at)) = (cleared, r.cleared_at) {
            out.push(Entry {
                at,
                run_id: h.cleared_run.unwrap_or(set_run),
                change: "reason_cleared",
                detail,
            });
        }
        previous = Some(h);
    }
    out
}

/// "No smartphone …" → "no smartphone …", to read inside a sentence.
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
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

    fn reason(
        id: i64,
        reason: crate::domain::PhoneReason,
        set: i64,
        cleared: Option<(i64, ClearedBy)>,
    ) -> ReasonHistory {
        use crate::domain::reasons::ReasonRecord;
        ReasonHistory {
            record: ReasonRecord {
                id,
                reason,
                note: if id == 1 {
                    "key on order".into()
                } else {
                    String::new()
                },
                follow_up: (id == 1).then(|| at(20).date_naive()),
                set_by: "Sam (sam@contoso.com)".into(),
                set_at: at(set) + chrono::Duration::hours(3),
                cleared_at: cleared.map(|(d, _)| at(d)),
                cleared_by: cleared.map(|(_, c)| c),
            },
            set_run: Some(set),
            cleared_run: cleared.map(|(d, _)| d),
        }
    }

    #[test]
    fn reasons_recorded_changed_and_cleared_among_the_changes() {
        use crate::domain::PhoneReason;
        let versions = vec![
            v(1, Some(9), &["mobilePhone"], "sms", "phone_only"),
            v(9, None, &["fido2SecurityKey"], "none", "phone_free"),
        ];
        let mut reasons = vec![
            reason(
                1,
                PhoneReason::WaitingForSecurityKey,
                2,
                Some((5, ClearedBy::Replaced)),
            ),
            reason(
                2,
                PhoneReason::NoPhoneAtWork,
                5,
                Some((9, ClearedBy::LeftPhone)),
            ),
        ];
        // The first was replaced when the second was recorded.
        reasons[0].record.cleared_at = Some(reasons[1].record.set_at);
        let t = timeline_with_reasons(&versions, &reasons);
        let kinds: Vec<(i64, &str)> = t.iter().map(|e| (e.run_id, e.change)).collect();
        assert_eq!(
            kinds,
            vec![
                (9, "state_changed"),
                (9, "default_changed"),
                (9, "method_added"),
                (9, "method_removed"),
                (9, "reason_cleared"),
                (5, "reason_changed"),
                (2, "reason_set"),
                (1, "appeared"),
            ],
            "the sync's clearing comes after its changes"
        );
        assert_eq!(
            t[6].detail,
            "Reason for staying on the phone recorded by Sam (sam@contoso.com): waiting for a \
             security key; note: key on order; follow up on 21 January 2026"
        );
        assert_eq!(
            t[5].detail,
            "Reason for staying on the phone changed by Sam (sam@contoso.com): no phone allowed \
             at work (call centre, secure area) (was: waiting for a security key)"
        );
        assert!(
            t[4].detail.contains("no longer on the phone"),
            "{}",
            t[4].detail
        );
        assert_eq!(t[4].at, at(9));
    }

    #[test]
    fn a_removed_reason_says_so_and_a_current_one_is_not_cleared() {
        use crate::domain::PhoneReason;
        let versions = vec![v(1, None, &["mobilePhone"], "sms", "phone_only")];
        let reasons = vec![
            reason(3, PhoneReason::Travelling, 2, Some((4, ClearedBy::Removed))),
            reason(4, PhoneReason::NoSmartphone, 6, None),
        ];
        let t = timeline_with_reasons(&versions, &reasons);
        let kinds: Vec<&str> = t.iter().map(|e| e.change).collect();
        assert_eq!(
            kinds,
            vec!["reason_set", "reason_cleared", "reason_set", "appeared"],
            "after a removal, the next one is recorded anew"
        );
        assert_eq!(
            t[1].detail,
            "Reason for staying on the phone removed (travelling: cannot set up a new method now)"
        );
        assert_eq!(timeline_with_reasons(&versions, &[]), timeline(&versions));
    }
}
