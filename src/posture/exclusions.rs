//! Item 4: the exclusion groups are small and somebody watches them.

use super::*;

pub(super) const EXCLUSIONS_KEY: &str = "exclusions_small";
pub(super) const EXCLUSIONS_TITLE: &str = "The exclusion group is small and watched";

pub(super) fn exclusions_small(ctx: &Context) -> Item {
    let Some(groups) = &ctx.exclusions else {
        return unavailable(
            EXCLUSIONS_KEY,
            EXCLUSIONS_TITLE,
            "The exclusion groups' membership",
        );
    };
    let n = ctx.users_in_scope;
    let share = |part: i64| {
        if n > 0 {
            format!(" ({} of {} users in scope)", percent(part, n), thousands(n))
        } else {
            String::new()
        }
    };
    let mut evidence: Vec<String> = groups
        .iter()
        .map(|g| {
            if g.members <= 0 {
                format!("{}: no members", g.name)
            } else {
                format!(
                    "{}: {}, {} of them phone-only{}",
                    g.name,
                    plural(g.members, "member", "members"),
                    thousands(g.phone_only),
                    share(g.members)
                )
            }
        })
        .collect();
    let total: i64 = groups.iter().map(|g| g.members.max(0)).sum();
    if groups.len() > 1 {
        evidence.push(format!(
            "In all: {} across {} groups{}",
            plural(total, "member", "members"),
            groups.len(),
            share(total)
        ));
    }
    if groups.is_empty() {
        evidence.push(
            "There is no exclusion group: nobody is let out of the no-phone policies.".to_owned(),
        );
    }
    evidence.push(match ctx.webhooks {
        0 => "No webhook is configured (PHONELESS_WEBHOOKS)".to_owned(),
        1 => "Alerts go to 1 webhook".to_owned(),
        w => format!("Alerts go to {} webhooks", thousands(w as i64)),
    });

    let over = |limit: i64| n > 0 && total.saturating_mul(100) > n.saturating_mul(limit);
    let unwatched = !groups.is_empty() && ctx.webhooks == 0;
    let mut fix = Vec::new();
    let status = if over(EXCLUDED_RED_PERCENT) {
        fix.push(format!(
            "{} of users in scope are excluded, more than {EXCLUDED_RED_PERCENT}%: the no-phone \
             policy leaves too many people out. Help the members onto the Authenticator app or a \
             passkey (a Temporary Access Pass gets them started), then take them out of the \
             group.",
            percent(total, n)
        ));
        Status::Red
    } else if over(EXCLUDED_AMBER_PERCENT) {
        fix.push(format!(
            "{} of users in scope are excluded; exceptions should stay under \
             {EXCLUDED_AMBER_PERCENT}%. Help the members onto the Authenticator app or a passkey, \
             then take them out of the group.",
            percent(total, n)
        ));
        Status::Amber
    } else if unwatched {
        Status::Amber
    } else {
        Status::Green
    };
    if unwatched {
        fix.push(
            "Configure a webhook (PHONELESS_WEBHOOKS) so that someone is told whenever a person \
             is added to an exclusion group."
                .to_owned(),
        );
    }
    let fix = (!fix.is_empty()).then(|| fix.join(" "));
    Verdict::new(status, evidence, fix).into_item(EXCLUSIONS_KEY, EXCLUSIONS_TITLE)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    // 4. Exclusion groups

    fn exclusions_item(ctx: &Context) -> Item {
        item(Policies::default(), ctx, "exclusions_small")
    }

    #[test]
    fn exclusions_green_when_small_and_watched() {
        let i = exclusions_item(&ctx());
        assert_status(&i, Status::Green);
        assert_eq!(
            i.evidence,
            [
                "Phone MFA exceptions: 12 members, 10 of them phone-only (0.6% of 2,000 users in scope)",
                "Alerts go to 2 webhooks",
            ]
        );

        let mut c = ctx();
        c.exclusions = Some(vec![]);
        c.webhooks = 0;
        let i = exclusions_item(&c);
        assert_status(&i, Status::Green);
        assert!(text(&i).contains("nobody is let out"));
    }

    #[test]
    fn exclusions_amber_when_over_one_percent_or_unwatched() {
        let mut c = ctx();
        c.exclusions = Some(vec![exclusion(22, 4)]);
        let i = exclusions_item(&c);
        assert_status(&i, Status::Amber);
        assert!(i.fix.expect("fix").contains("1.1% of users in scope"));

        // Exactly 1% is still fine.
        c.exclusions = Some(vec![exclusion(20, 4)]);
        assert_status(&exclusions_item(&c), Status::Green);

        let mut c = ctx();
        c.webhooks = 0;
        let i = exclusions_item(&c);
        assert_status(&i, Status::Amber);
        assert!(text(&i).contains("No webhook is configured (PHONELESS_WEBHOOKS)"));
        assert!(i.fix.expect("fix").contains("PHONELESS_WEBHOOKS"));
    }

    #[test]
    fn exclusions_red_over_five_percent() {
        let mut c = ctx();
        let mut second = exclusion(60, 50);
        second.id = "other".to_owned();
        second.name = "Frontline without phones".to_owned();
        c.exclusions = Some(vec![exclusion(50, 40), second]);
        c.webhooks = 1;
        let i = exclusions_item(&c);
        assert_status(&i, Status::Red);
        assert_eq!(
            i.evidence,
            [
                "Phone MFA exceptions: 50 members, 40 of them phone-only (2.5% of 2,000 users in scope)",
                "Frontline without phones: 60 members, 50 of them phone-only (3.0% of 2,000 users in scope)",
                "In all: 110 members across 2 groups (5.5% of 2,000 users in scope)",
                "Alerts go to 1 webhook",
            ]
        );
        assert!(i.fix.expect("fix").contains("5.5% of users in scope"));

        // Unwatched too: both fixes.
        c.webhooks = 0;
        let fix = exclusions_item(&c).fix.expect("fix");
        assert!(
            fix.contains("more than 5%") && fix.contains("PHONELESS_WEBHOOKS"),
            "{fix}"
        );
    }

    #[test]
    fn exclusions_without_a_user_count_only_check_the_webhooks() {
        let mut c = ctx();
        c.users_in_scope = 0;
        c.exclusions = Some(vec![exclusion(1_500, 1_000)]);
        let i = exclusions_item(&c);
        assert_status(&i, Status::Green);
        assert_eq!(
            i.evidence[0],
            "Phone MFA exceptions: 1,500 members, 1,000 of them phone-only"
        );
        c.exclusions = Some(vec![exclusion(0, 0)]);
        assert_eq!(
            exclusions_item(&c).evidence[0],
            "Phone MFA exceptions: no members"
        );
    }

    #[test]
    fn exclusions_unavailable_when_membership_unknown() {
        let mut c = ctx();
        c.exclusions = None;
        assert_status(&exclusions_item(&c), Status::Unavailable);
    }

    // 5–7. Stronger methods
}
