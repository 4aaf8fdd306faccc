//! The evidence in words: method and group names, targets, counts and shares.

use super::*;

/// A method configuration's id as the admin center names the method.
pub(super) fn method_name(id: &str) -> String {
    crate::domain::availability::config_label(id).to_owned()
}

/// Whether a method is on, for whom, and who is excluded.
pub(super) fn method_evidence(
    c: Option<&AuthenticationMethodConfiguration>,
    name: &str,
    ctx: &Context,
) -> Vec<String> {
    let Some(c) = c else {
        return vec![format!(
            "{name} has no configuration in the authentication methods policy, so it is off."
        )];
    };
    if !is_enabled(c) {
        return vec![format!(
            "{name} is disabled in the authentication methods policy."
        )];
    }
    let mut out = vec![if c.include_targets.is_empty() {
        format!("{name} is enabled, but for nobody: it has no targets.")
    } else {
        format!("{name} is enabled for {}.", include_list(c, ctx))
    }];
    if !c.exclude_targets.is_empty() {
        out.push(format!(
            "Excluded: {}.",
            exclude_list(&c.exclude_targets, ctx)
        ));
    }
    out
}

pub(super) fn include_list(c: &AuthenticationMethodConfiguration, ctx: &Context) -> String {
    c.include_targets
        .iter()
        .map(|t| target_label(&t.id, &t.target_type, ctx))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn exclude_list(targets: &[ExcludeTarget], ctx: &Context) -> String {
    targets
        .iter()
        .map(|t| target_label(&t.id, &t.target_type, ctx))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "all users (2,000 in scope)", "Phone MFA exceptions (12 members)", "user 1234…".
pub(super) fn target_label(id: &str, target_type: &str, ctx: &Context) -> String {
    if is(id, "all_users") {
        all_users(ctx)
    } else if is(target_type, "user") {
        format!("user {id}")
    } else {
        group_label(id, ctx)
    }
}

/// "all users (2,000 in scope)"; without the count when it is not known.
pub(super) fn all_users(ctx: &Context) -> String {
    if ctx.users_in_scope > 0 {
        format!("all users ({} in scope)", thousands(ctx.users_in_scope))
    } else {
        "all users".to_owned()
    }
}

/// A group by name with its member count when known, else by id.
pub(super) fn group_label(id: &str, ctx: &Context) -> String {
    let facts = ctx.groups.get(&id.trim().to_ascii_lowercase());
    let name = facts
        .and_then(|f| f.name.as_deref())
        .filter(|n| !n.trim().is_empty())
        .map_or_else(|| format!("group {id}"), str::to_owned);
    match facts.and_then(|f| f.members) {
        Some(n) => format!("{name} ({})", plural(n, "member", "members")),
        None => name,
    }
}

/// `1234567` → `1,234,567`.
pub(super) fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "1 member", "2,000 members".
pub(super) fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// `part` of `whole` with one decimal ("0.6%"); a tiny non-zero share is "under 0.1%" rather
/// than a misleading "0.0%".
pub(super) fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "an unknown share".to_owned();
    }
    let p = part as f64 * 100.0 / whole as f64;
    if part > 0 && p < 0.05 {
        "under 0.1%".to_owned()
    } else {
        format!("{p:.1}%")
    }
}

/// "In the …" → "in the …", to continue a sentence.
pub(super) fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_lowercase().chain(chars).collect::<String>()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_helpers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(-1_234_567), "-1,234,567");
        assert_eq!(plural(1, "member", "members"), "1 member");
        assert_eq!(plural(2_000, "member", "members"), "2,000 members");
        assert_eq!(percent(12, 2_000), "0.6%");
        assert_eq!(percent(1, 100_000), "under 0.1%");
        assert_eq!(percent(0, 2_000), "0.0%");
        assert_eq!(lower_first("In the"), "in the");
    }
}
