//! A policy's versions compared: what is no change (modification times, reordered lists), and
//! each difference in words. Pure.

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// When Graph says the object was last modified.
pub fn modified_at(body: &Value) -> Option<DateTime<Utc>> {
    ["lastModifiedDateTime", "modifiedDateTime"]
        .iter()
        .find_map(|k| body.get(k)?.as_str()?.parse().ok())
}

/// A policy's body without what changes when nothing does (modification times).
pub fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !is_volatile(k))
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

fn is_volatile(key: &str) -> bool {
    key.eq_ignore_ascii_case("lastModifiedDateTime")
        || key.eq_ignore_ascii_case("modifiedDateTime")
        || key.starts_with("@odata.context")
}

/// Flattens a policy into `path → value` lines. Arrays of objects with an `id` (method
/// configurations, targets) are keyed by that id, so a reordered list is no change, and each
/// keyed element also has a line of its own (its presence).
fn flatten(v: &Value, path: &str, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if !is_volatile(k) && !k.starts_with("@odata") {
                    flatten(x, &join(path, k), out);
                }
            }
        }
        Value::Array(items)
            if !items.is_empty()
                && items
                    .iter()
                    .all(|i| i.get("id").and_then(Value::as_str).is_some()) =>
        {
            for item in items {
                let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
                let keyed = format!("{path}[{id}]");
                out.insert(keyed.clone(), String::new());
                if let Value::Object(m) = item {
                    for (k, x) in m {
                        if k != "id" && !is_volatile(k) && !k.starts_with("@odata") {
                            flatten(x, &join(&keyed, k), out);
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            let text: Vec<String> = items.iter().map(scalar).collect();
            out.insert(
                path.to_owned(),
                if text.is_empty() {
                    "(none)".to_owned()
                } else {
                    text.join(", ")
                },
            );
        }
        Value::Null => {}
        other => {
            out.insert(path.to_owned(), scalar(other));
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A path in words: method configurations by their id, groups by their name.
fn pretty(path: &str, names: &HashMap<String, String>) -> String {
    let path = path
        .strip_prefix("authenticationMethodConfigurations")
        .map(|p| p.trim_start_matches('['))
        .unwrap_or(path);
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']') else {
            break;
        };
        let id = &rest[open + 1..open + close];
        out.push_str(&rest[..open]);
        out.push_str(" › ");
        out.push_str(
            names
                .get(&id.to_ascii_lowercase())
                .map_or(id, String::as_str),
        );
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out.replace("].", " › ")
        .replace(']', "")
        .replace('.', " › ")
        .trim_start_matches(" › ")
        .to_owned()
}

/// Each difference between two versions of a policy, in words: "Voice › state: enabled →
/// disabled", "Sms › includeTargets › Phone MFA exceptions added".
pub fn differences(old: &Value, new: &Value, names: &HashMap<String, String>) -> Vec<String> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten(old, "", &mut a);
    flatten(new, "", &mut b);
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut out = Vec::new();
    // Keyed elements added or removed whole: their fields are not listed one by one.
    let mut whole: Vec<String> = Vec::new();
    for key in keys {
        if whole.iter().any(|w| key.starts_with(&format!("{w}."))) {
            continue;
        }
        let keyed = key.ends_with(']');
        match (a.get(key), b.get(key)) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => out.push(format!("{}: {x} → {y}", pretty(key, names))),
            (None, Some(y)) if keyed || y.is_empty() => {
                whole.push(key.clone());
                out.push(format!("{} added", pretty(key, names)));
            }
            (Some(_), None) if keyed => {
                whole.push(key.clone());
                out.push(format!("{} removed", pretty(key, names)));
            }
            (None, Some(y)) => out.push(format!("{}: (none) → {y}", pretty(key, names))),
            (Some(x), None) => out.push(format!("{}: {x} → (none)", pretty(key, names))),
            (None, None) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differences_in_words() {
        let names = HashMap::from([
            ("all_users".to_owned(), "all users".to_owned()),
            ("g1".to_owned(), "Phone MFA exceptions".to_owned()),
        ]);
        let old = json!({
            "policyMigrationState": "migrationInProgress",
            "lastModifiedDateTime": "2026-01-01T00:00:00Z",
            "authenticationMethodConfigurations": [
                {"id": "Voice", "state": "enabled", "isOfficePhoneAllowed": true,
                 "includeTargets": [{"id": "all_users", "targetType": "group"}]},
                {"id": "Sms", "state": "enabled",
                 "includeTargets": [{"id": "all_users", "targetType": "group", "isUsableForSignIn": true}]},
            ]
        });
        let new = json!({
            "policyMigrationState": "migrationInProgress",
            "lastModifiedDateTime": "2026-03-01T00:00:00Z",
            "authenticationMethodConfigurations": [
                {"id": "Sms", "state": "enabled",
                 "includeTargets": [{"id": "g1", "targetType": "group", "isUsableForSignIn": false}]},
                {"id": "Voice", "state": "disabled", "isOfficePhoneAllowed": true,
                 "includeTargets": [{"id": "all_users", "targetType": "group"}]},
            ]
        });
        let d = differences(&old, &new, &names);
        assert_eq!(
            d,
            vec![
                "Sms › includeTargets › all users removed",
                "Sms › includeTargets › Phone MFA exceptions added",
                "Voice › state: enabled → disabled",
            ],
            "{d:?}"
        );
        // Reordered lists and a new modification time are no change.
        assert!(differences(&old, &old, &names).is_empty());
        assert_eq!(
            normalized(&old),
            normalized(&{
                let mut o = old.clone();
                o["lastModifiedDateTime"] = json!("2027-01-01T00:00:00Z");
                o
            })
        );
    }
}
