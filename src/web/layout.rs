//! The frame of every page: banners, who is signed in, the navigation (only what the caller
//! may open), the header's search box; and the number format pages share.

use super::access::Access;
use super::caller::Caller;
use super::{AppState, access_table};
use crate::auth::Role;
use crate::config::AuthMode;

/// What every page's frame needs.
pub struct Layout {
    /// Sign-in is off: every page says so.
    pub auth_off: bool,
    /// A simulated tenant (`phoneless demo`): every page says so.
    pub demo: bool,
    /// Which main section the page belongs to (highlighted in the navigation).
    pub current: &'static str,
    /// The header's search box, filled in on the search page.
    pub search: String,
    /// Who is signed in ("Name (username)") and their role, for the header.
    pub signed_in: Option<(String, &'static str)>,
    /// The sign-out form's CSRF token (empty: no sign-out button).
    pub csrf_token: String,
    /// The main navigation: address, label, current; only what the caller may open.
    pub nav: Vec<(&'static str, &'static str, bool)>,
    /// The header's search box (helpdesk and security leads).
    pub can_search: bool,
}

/// The main navigation: address, label, section key.
const NAV: [(&str, &str, &str); 10] = [
    ("/", "Overview", "overview"),
    ("/departments", "Departments", "departments"),
    ("/users", "Still on the phone", "users"),
    ("/lookup", "Look up", "lookup"),
    ("/posture", "Posture", "posture"),
    ("/exclusions", "Allowlist", "exclusions"),
    ("/alerts", "Alerts", "alerts"),
    ("/sync", "Sync", "sync"),
    ("/audit", "Access log", "audit"),
    ("/sessions", "Sessions", "sessions"),
];

impl Layout {
    /// The frame of a page for `caller` (none: not signed in).
    pub fn new(state: &AppState, caller: Option<&Caller>, current: &'static str) -> Layout {
        let may = |access: Access| match access {
            Access::Public | Access::SignIn => true,
            Access::Role(role) => caller.is_some_and(|c| c.may(role)),
        };
        let signed_in_mode = state.config.auth == AuthMode::Entra;
        Layout {
            auth_off: !signed_in_mode,
            demo: state.config.demo,
            current,
            search: String::new(),
            signed_in: caller
                .filter(|c| c.session.is_some())
                .map(|c| (c.label(), c.role.map(Role::label).unwrap_or("no role yet"))),
            csrf_token: caller
                .filter(|c| c.session.is_some())
                .map(|c| c.csrf_token.clone())
                .unwrap_or_default(),
            nav: NAV
                .iter()
                .filter(|(href, _, _)| *href != "/sessions" || signed_in_mode)
                .filter(|(href, _, _)| {
                    access_table()
                        .iter()
                        .find(|(path, _)| path == href)
                        .is_some_and(|(_, access)| may(*access))
                })
                .map(|(href, label, key)| (*href, *label, *key == current))
                .collect(),
            can_search: caller.is_some_and(|c| c.may(Role::Helpdesk)),
        }
    }

    /// The stylesheet's address, which changes with its content (so it can be cached for good).
    pub fn style_url(&self) -> &'static str {
        &super::overview::STYLE_URL
    }

    /// A frame with no navigation (error pages, which know nothing of the caller).
    pub fn bare() -> Layout {
        Layout {
            auth_off: false,
            demo: false,
            current: "",
            search: String::new(),
            signed_in: None,
            csrf_token: String::new(),
            nav: Vec::new(),
            can_search: false,
        }
    }
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
