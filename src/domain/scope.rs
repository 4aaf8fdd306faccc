//! Out-of-scope accounts (docs/design.md §2): break-glass, service and room accounts left out
//! of every count and list, by group or by UPN pattern. Pure: the rule, and which part of it
//! matches a person.

use glob::{MatchOptions, Pattern};
use std::collections::BTreeSet;
use uuid::Uuid;

/// The rule (`PHONELESS_OUT_OF_SCOPE_GROUPS`, `PHONELESS_OUT_OF_SCOPE_UPNS`).
#[derive(Debug, Clone, Default)]
pub struct OutOfScope {
    pub groups: Vec<Uuid>,
    /// Shell-style patterns (`*`, `?`, `[…]`), matched without regard to case.
    pub upns: Vec<Pattern>,
}

const CASELESS: MatchOptions = MatchOptions {
    case_sensitive: false,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

impl OutOfScope {
    /// Reads comma-separated group ids and patterns; each mistake is a problem in words.
    pub fn parse(groups: &str, upns: &str, problems: &mut Vec<String>) -> OutOfScope {
        let mut rule = OutOfScope::default();
        for item in groups.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match Uuid::parse_str(item) {
                Ok(id) if !rule.groups.contains(&id) => rule.groups.push(id),
                Ok(_) => {}
                Err(_) => problems.push(format!(
                    "PHONELESS_OUT_OF_SCOPE_GROUPS: {item:?} is not a group object id (a GUID)"
                )),
            }
        }
        for item in upns.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match Pattern::new(item) {
                Ok(p) => rule.upns.push(p),
                Err(e) => problems.push(format!(
                    "PHONELESS_OUT_OF_SCOPE_UPNS: {item:?} is not a pattern such as svc-*@contoso.com ({e})"
                )),
            }
        }
        rule
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.upns.is_empty()
    }

    /// Which part of the rule takes a person out of scope, in the stored form
    /// (`group:<id>` or `upn:<pattern>`), given the rule's groups they are in.
    pub fn matches(&self, upn: &str, groups: &BTreeSet<Uuid>) -> Option<String> {
        if let Some(g) = self.groups.iter().find(|g| groups.contains(g)) {
            return Some(format!("group:{g}"));
        }
        self.upns
            .iter()
            .find(|p| p.matches_with(upn, CASELESS))
            .map(|p| format!("upn:{}", p.as_str()))
    }

    /// The rule in words, for the overview.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.groups.is_empty() {
            parts.push(format!(
                "members of {} group{} ({})",
                self.groups.len(),
                if self.groups.len() == 1 { "" } else { "s" },
                self.groups
                    .iter()
                    .map(Uuid::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !self.upns.is_empty() {
            parts.push(format!(
                "sign-in names matching {}",
                self.upns
                    .iter()
                    .map(Pattern::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// Why a person is out of scope, in words, from the stored rule (`None` for unknown text).
pub fn reason_words(stored: &str) -> String {
    match stored.split_once(':') {
        Some(("group", id)) => format!("a member of the out-of-scope group {id}"),
        Some(("upn", p)) => format!("their sign-in name matches the out-of-scope pattern {p}"),
        _ => stored.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_then_patterns_case_insensitively() {
        let g = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
        let mut problems = Vec::new();
        let rule = OutOfScope::parse(
            &format!("{g}, not-a-guid"),
            "svc-*@contoso.com,room-??@*,[",
            &mut problems,
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        let none = BTreeSet::new();
        assert_eq!(
            rule.matches("SVC-backup@Contoso.com", &none).as_deref(),
            Some("upn:svc-*@contoso.com")
        );
        assert_eq!(
            rule.matches("room-12@x.com", &none).as_deref(),
            Some("upn:room-??@*")
        );
        assert_eq!(rule.matches("ann@contoso.com", &none), None);
        let member: BTreeSet<Uuid> = [Uuid::parse_str(g).expect("a group id")].into();
        assert_eq!(
            rule.matches("ann@contoso.com", &member),
            Some(format!("group:{g}"))
        );
        assert!(
            rule.describe()
                .expect("a rule")
                .contains("svc-*@contoso.com")
        );
        assert!(OutOfScope::default().describe().is_none());
        assert!(reason_words("upn:svc-*").contains("svc-*"));
    }
}
