//! The two retirement dates and who is blocked on each, end to end: the fake Graph's people,
//! roles and methods policy; a real sync into a real database; the API and pages. The expected
//! dates and blocking are worked out here, independently, from what the fake serves.

mod common;

use axum::http::StatusCode;
use common::{DATES, Sim, TestDb, get, get_json, sync_ok};
use phoneless::graph::Client;
use phoneless::graph::model::{
    AuthenticationMethodsPolicy, DirectoryUser, UserRegistrationDetails,
};
use phoneless::sim::Faults;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What the test expects of one person.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    late: bool,
    blocked: bool,
    global_admin: bool,
    external: bool,
    member: bool,
    in_scope: bool,
}

const PHONES: [&str; 3] = ["mobilephone", "alternatemobilephone", "officephone"];

/// The configurations that can allow a method: the test's own reading of graph-api.md §5.
fn configs_for(method: &str) -> Option<&'static [&'static str]> {
    let m = method.to_ascii_lowercase();
    Some(match m.as_str() {
        "microsoftauthenticatorpush" | "microsoftauthenticatorpasswordless" => {
            &["MicrosoftAuthenticator"]
        }
        "softwareonetimepasscode" => &["SoftwareOath"],
        "hardwareonetimepasscode" => &["HardwareOath"],
        "fido2" | "fido2securitykey" => &["Fido2"],
        "windowshelloforbusiness" | "macossecureenclavekey" => &[],
        _ if m.starts_with("passkey") => &["Fido2"],
        _ if m.starts_with("x509") => &["X509Certificate"],
        // Phones, SSPR-only methods, TAP and unknown strings are not a stronger method.
        _ => return None,
    })
}

/// Whether the policy lets `user` (in `groups`) use configuration `id`.
fn allowed(
    policy: &AuthenticationMethodsPolicy,
    id: &str,
    user: &str,
    groups: &BTreeSet<String>,
) -> bool {
    let Some(c) = policy
        .authentication_method_configurations
        .iter()
        .find(|c| c.id.eq_ignore_ascii_case(id))
    else {
        return true;
    };
    let targets = |t: &str| t == user || groups.contains(t);
    c.state == "enabled"
        && !c
            .exclude_targets
            .iter()
            .any(|t| targets(&t.id.to_lowercase()))
        && c.include_targets
            .iter()
            .any(|t| t.id == "all_users" || targets(&t.id.to_lowercase()))
}

async fn all<T: serde::de::DeserializeOwned>(mut pages: phoneless::graph::Pages<'_, T>) -> Vec<T> {
    let mut out = Vec::new();
    while let Some(p) = pages.next_page().await {
        out.extend(p.expect("a page").value);
    }
    out
}

/// The holders of a role grant list: users, or the transitive members of a group.
async fn holders(
    client: &Client,
    grants: &[phoneless::graph::model::RoleGrant],
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for g in grants {
        let kind = g
            .principal
            .as_ref()
            .map(|p| p.odata_type.as_str())
            .unwrap_or("");
        if kind.ends_with("group") {
            for m in client
                .group_transitive_members(&g.principal_id)
                .await
                .expect("role group members")
            {
                out.insert(m.id.to_lowercase());
            }
        } else if kind.ends_with("user") {
            out.insert(g.principal_id.to_lowercase());
        }
    }
    out
}

/// Everyone in the report on the fake's current day, as this test reads the served data.
async fn expected(sim: &Sim, roles: bool) -> HashMap<String, Expected> {
    let client = sim.client();
    let report: Vec<UserRegistrationDetails> = all(client.registration_details()).await;
    let directory: HashMap<String, DirectoryUser> = all(client.users())
        .await
        .into_iter()
        .map(|u| (u.id.to_lowercase(), u))
        .collect();
    let policy = client.methods_policy().await.expect("methods policy");
    let complete = policy
        .policy_migration_state
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("migrationComplete"));
    // Each user's targeted groups.
    let mut groups_of: HashMap<String, BTreeSet<String>> = HashMap::new();
    let targeted: BTreeSet<String> = policy
        .authentication_method_configurations
        .iter()
        .flat_map(|c| {
            c.include_targets
                .iter()
                .map(|t| t.id.to_lowercase())
                .chain(c.exclude_targets.iter().map(|t| t.id.to_lowercase()))
        })
        .filter(|id| id != "all_users")
        .collect();
    for g in &targeted {
        for m in client.group_transitive_members(g).await.expect("members") {
            groups_of
                .entry(m.id.to_lowercase())
                .or_default()
                .insert(g.clone());
        }
    }
    let admins = if roles {
        holders(
            &client,
            &client.global_admin_assignments().await.expect("roles"),
        )
        .await
    } else {
        BTreeSet::new()
    };
    let none = BTreeSet::new();
    report
        .into_iter()
        .map(|r| {
            let id = r.id.to_lowercase();
            let d = directory.get(&id);
            let upn = d
                .and_then(|d| d.user_principal_name.clone())
                .unwrap_or_else(|| r.user_principal_name.clone());
            let external = d.is_some_and(|d| d.external_user_state.is_some())
                || upn.to_uppercase().contains("#EXT#");
            let member = r.user_type.as_deref() == Some("member");
            let in_scope = member && d.and_then(|d| d.account_enabled) != Some(false);
            let groups = groups_of.get(&id).unwrap_or(&none);
            let phone = r
                .methods_registered
                .iter()
                .any(|m| PHONES.contains(&m.to_lowercase().as_str()));
            let stronger = r.methods_registered.iter().any(|m| match configs_for(m) {
                None => false,
                Some(_) if !complete => true,
                Some([]) => true,
                Some(ids) => ids.iter().any(|c| allowed(&policy, c, &id, groups)),
            });
            let global_admin = admins.contains(&id);
            let e = Expected {
                late: external || global_admin,
                blocked: phone && !stronger,
                global_admin,
                external,
                member,
                in_scope,
            };
            (id, e)
        })
        .collect()
}

/// Every listed person (`/api/v1/users`, everyone, members and guests), by id.
async fn listed(db: &TestDb) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    let mut after: Option<String> = None;
    loop {
        let uri = match &after {
            Some(a) => format!("/api/v1/users?state=all&user_type=all&limit=500&after={a}"),
            None => "/api/v1/users?state=all&user_type=all&limit=500".to_owned(),
        };
        let (status, page) = get_json(db, &uri).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for item in page["items"].as_array().expect("items") {
            out.insert(item["id"].as_str().expect("id").to_owned(), item.clone());
        }
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => return out,
        }
    }
}

/// Compares every listed person and the summary's counts with the expectations.
async fn check(db: &TestDb, expected: &HashMap<String, Expected>, roles_known: bool) {
    let listed = listed(db).await;
    let shown: Vec<&Expected> = expected
        .iter()
        .filter(|(_, e)| e.in_scope || !e.member)
        .map(|(_, e)| e)
        .collect();
    assert_eq!(
        listed.len(),
        shown.len(),
        "everyone in scope and every guest is listed"
    );
    for (id, e) in expected.iter().filter(|(_, e)| e.in_scope || !e.member) {
        let item = listed.get(id).unwrap_or_else(|| panic!("{id} is listed"));
        let date = if e.late { DATES.late } else { DATES.early };
        assert_eq!(item["deadline"], date.to_string(), "{item}");
        assert_eq!(item["blocked"], e.blocked, "{item}");
        assert_eq!(item["global_admin"], e.global_admin, "{item}");
        assert_eq!(item["external"], e.external, "{item}");
    }

    let (_, s) = get_json(db, "/api/v1/summary").await;
    assert_eq!(s["admins_known"], roles_known);
    let d = s["deadlines"].as_array().expect("deadlines");
    assert_eq!(d.len(), 2);
    let count = |f: &dyn Fn(&Expected) -> bool| expected.values().filter(|e| f(e)).count();
    let people_early = count(&|e| e.in_scope && !e.late);
    let blocked_early = count(&|e| e.in_scope && !e.late && e.blocked);
    let people_late = count(&|e| (e.in_scope && e.late) || (!e.member && e.external));
    let blocked_late =
        count(&|e| ((e.in_scope && e.late) || (!e.member && e.external)) && e.blocked);
    let external_blocked = count(&|e| e.external && e.blocked && (e.in_scope || !e.member));
    assert_eq!(d[0]["date"], DATES.early.to_string());
    assert_eq!(
        (d[0]["people"].as_u64(), d[0]["blocked"].as_u64()),
        (Some(people_early as u64), Some(blocked_early as u64)),
        "{s}"
    );
    assert_eq!(d[1]["date"], DATES.late.to_string());
    assert_eq!(
        (d[1]["people"].as_u64(), d[1]["blocked"].as_u64()),
        (Some(people_late as u64), Some(blocked_late as u64)),
        "{s}"
    );
    assert_eq!(
        d[1]["external_blocked"].as_u64(),
        Some(external_blocked as u64)
    );
    if !roles_known {
        assert!(d.iter().all(|x| x["admins_blocked"].is_null()), "{s}");
    }
}

#[tokio::test]
async fn every_person_has_their_date_and_blocking_as_the_served_data_says() {
    let db = TestDb::new().await;
    let sim = Sim::start(300, 100).await;
    let mut kinds = BTreeMap::new();
    for day in [0, 25, 59] {
        sim.fake.set_day(day);
        sync_ok(&db, &sim).await;
        let e = expected(&sim, true).await;
        check(&db, &e, true).await;
        for x in e.values() {
            if x.global_admin {
                *kinds.entry("global admin").or_insert(0) += 1;
            }
            if x.external && x.member {
                *kinds.entry("external member").or_insert(0) += 1;
            }
            if x.external && !x.member {
                *kinds.entry("external guest").or_insert(0) += 1;
            }
        }
    }
    // The tenant has each kind of person the dates are about, so the comparison meant something.
    for kind in ["global admin", "external member", "external guest"] {
        assert!(
            kinds.get(kind).copied().unwrap_or(0) > 0,
            "{kind}: {kinds:?}"
        );
    }
    // Someone's stronger method is hidden by the policy: blocked though not phone-only.
    let (_, hidden) = get_json(
        &db,
        "/api/v1/users?state=phone_default,phone_backup&blocked=true&user_type=all&limit=5",
    )
    .await;
    let someone = hidden["items"][0]["id"]
        .as_str()
        .expect("a hidden-method person")
        .to_owned();
    let (_, person) = get_json(&db, &format!("/api/v1/users/{someone}")).await;
    let reasons = person["unavailable_methods"]
        .as_array()
        .expect("unavailable");
    assert!(!reasons.is_empty(), "{person}");
    assert!(
        reasons.iter().all(|r| r["reason"]
            .as_str()
            .is_some_and(|t| t.starts_with("registered, but "))),
        "{person}"
    );
    let (status, page) = get(&db, &format!("/users/{someone}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Retirement date:") && page.contains("registered, but"),
        "the person page says why"
    );

    // The filters: the late date's blocked people are the list's blocked with that date.
    let (status, late) = get_json(
        &db,
        &format!(
            "/api/v1/users?state=all&user_type=all&blocked=true&deadline={}&limit=500",
            DATES.late
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, s) = get_json(&db, "/api/v1/summary").await;
    assert_eq!(late["total"], s["deadlines"][1]["blocked"], "{late}");
    let (status, _) = get_json(&db, "/api/v1/users?deadline=2027-03-01").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn without_the_roles_the_rest_of_the_sync_is_intact_and_admins_are_not_guessed() {
    let db = TestDb::new().await;
    let sim = Sim::start(200, 100).await;
    sim.fake.set_day(30);
    sim.fake.set_faults(Faults {
        deny_roles: true,
        ..Faults::default()
    });
    let r = sync_ok(&db, &sim).await;
    assert!(r.counts.users > 0);
    let part = common::count(
        &db,
        "SELECT count(*) FROM run_parts WHERE part = 'roles' AND NOT available AND error LIKE '%RoleManagement.Read.Directory%'",
    )
    .await;
    assert_eq!(
        part, 1,
        "the roles part is unavailable, with the permission to grant"
    );
    let e = expected(&sim, false).await;
    check(&db, &e, false).await;
    let (_, page) = get(&db, "/").await;
    assert!(
        page.contains("could not be read"),
        "the overview says the admins are not known"
    );
}

#[tokio::test]
async fn out_of_scope_accounts_leave_every_count_and_say_why() {
    use phoneless::domain::scope::OutOfScope;
    use phoneless::sim::policy::BREAK_GLASS_GROUP_ID;
    use phoneless::sync::{Outcome, SyncOptions, posture::PostureOptions};

    let db = TestDb::new().await;
    let sim = Sim::start(200, 100).await;
    sim.fake.set_day(10);
    let plain = sync_ok(&db, &sim).await.tenant;

    // Break-glass accounts by their group, and every UPN starting with "a" by pattern.
    let mut problems = Vec::new();
    let rule = OutOfScope::parse(BREAK_GLASS_GROUP_ID, "A*@*", &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    let options = SyncOptions {
        posture: PostureOptions {
            out_of_scope: rule,
            ..PostureOptions::default()
        },
        ..SyncOptions::default()
    };
    let now = sim.fake.tenant().report_refreshed(10) + chrono::Duration::hours(2);
    let ruled = match phoneless::sync::run(
        &db.pool,
        sim.client(),
        now,
        &options,
        std::sync::Arc::new(phoneless::sync::progress::Silent),
        &tokio_util::sync::CancellationToken::new(),
    )
    .await
    {
        Ok(Outcome::Succeeded(r)) => r.tenant,
        other => panic!("the sync failed: {other:?}"),
    };
    let removed = common::count(
        &db,
        "SELECT count(*) FROM user_versions WHERE ended_run IS NULL AND out_of_scope_by IS NOT NULL",
    )
    .await;
    assert!(removed > 0, "the rule matched someone");
    assert_eq!(i64::from(ruled.out_of_scope_rule), removed);
    assert_eq!(
        i64::from(plain.users - ruled.users),
        removed,
        "they left the in-scope count"
    );
    let by_group = common::count(
        &db,
        "SELECT count(*) FROM user_versions WHERE ended_run IS NULL AND out_of_scope_by LIKE 'group:%'",
    )
    .await;
    assert!(
        by_group > 0,
        "the break-glass group's members are out of scope"
    );

    // Nobody out of scope is listed; their page says which rule took them out.
    let someone: uuid::Uuid = sqlx::query_scalar(
        "SELECT user_id FROM user_versions WHERE ended_run IS NULL AND out_of_scope_by LIKE 'upn:%' LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .expect("a person out of scope by pattern");
    let listed = listed(&db).await;
    assert!(!listed.contains_key(&someone.to_string()));
    let (_, person) = get_json(&db, &format!("/api/v1/users/{someone}")).await;
    assert!(
        person["out_of_scope_reason"]
            .as_str()
            .is_some_and(|r| r.contains("A*@*")),
        "{person}"
    );
    let (_, summary) = get_json(&db, "/api/v1/summary").await;
    assert_eq!(summary["out_of_scope_rule"], removed);
}

#[tokio::test]
async fn becoming_a_global_administrator_while_blocked_raises_an_alert() {
    let db = TestDb::new().await;
    let sim = Sim::start(200, 100).await;
    let granted = sim.fake.policy_story().key_days().global_admin_granted;
    sim.fake.set_day(granted - 1);
    sync_ok(&db, &sim).await;
    let alerts = "SELECT count(*) FROM alerts WHERE kind = 'admin_blocked'";
    assert_eq!(
        common::count(&db, alerts).await,
        0,
        "not on the first read of the roles"
    );
    sim.fake.set_day(granted);
    let r = sync_ok(&db, &sim).await;
    assert_eq!(common::count(&db, alerts).await, 1, "{:?}", r.posture);
    let (_, page) = get(&db, "/alerts").await;
    assert!(
        page.contains("became a Global Administrator with only a phone"),
        "{page}"
    );
    // The same standing the next day is no new event.
    sim.fake.set_day(granted + 1);
    sync_ok(&db, &sim).await;
    assert_eq!(common::count(&db, alerts).await, 1);
}
