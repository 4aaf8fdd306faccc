//! The Graph client's writes against the simulated tenant over real HTTP: a Temporary Access
//! Pass issued and listed, refused by the methods policy in Graph's words, a missing
//! permission named with the registration to grant it to, throttling honoured without
//! applying a write twice, group members added and removed (always through `/$ref`), the
//! write registration beside the read-only main one, and the next sync seeing an app's join.

mod common;

use common::{Sim, TestDb, get_json, sync_ok};
use phoneless::credential::Credential;
use phoneless::graph::{Client, GraphError, GraphSettings, Membership, TapRequest};
use phoneless::sim::policy::{EXCLUSION_GROUP_ID, NESTED_GROUP_ID, SSPR_GROUP_ID};
use phoneless::sim::server::{
    SIM_CLIENT_ID, SIM_WRITE_APP_NAME, SIM_WRITE_CLIENT_ID, SIM_WRITE_CLIENT_SECRET,
};
use phoneless::sim::{FakeSettings, Faults, PolicyOverride};
use secrecy::ExposeSecret as _;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use uuid::Uuid;

fn uuid(id: &str) -> Uuid {
    Uuid::parse_str(id).expect("a GUID")
}

/// A steady member of the tenant (no guest, not external) in none of the story's groups on
/// any day.
fn outsider(sim: &Sim) -> Uuid {
    let story = sim.fake.policy_story();
    let mut ever = HashSet::new();
    for g in story.groups() {
        for day in 0..=sim.fake.tenant().days {
            ever.extend(
                story
                    .members(g.id, day)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| m.id),
            );
        }
    }
    let p = sim
        .fake
        .tenant()
        .people
        .iter()
        .find(|p| p.steady() && !p.guest && !p.external && !ever.contains(&p.id))
        .expect("an outsider");
    uuid(&p.id)
}

/// A steady guest of the tenant.
fn guest(sim: &Sim) -> Uuid {
    let p = sim
        .fake
        .tenant()
        .people
        .iter()
        .find(|p| p.steady() && p.guest)
        .expect("a guest");
    uuid(&p.id)
}

/// Client settings for the write registration with this credential.
fn write_settings(sim: &Sim, credential: Credential) -> GraphSettings {
    GraphSettings {
        client_id: SIM_WRITE_CLIENT_ID.to_owned(),
        credential,
        ..sim.settings()
    }
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

#[tokio::test]
async fn a_pass_is_issued_once_shown_and_listed_without_it() {
    let sim = Sim::start(300, 100).await;
    let client = sim.client();
    let person = outsider(&sim);
    assert!(
        client
            .temporary_access_passes(person)
            .await
            .expect("list")
            .is_empty()
    );

    let created = client
        .create_temporary_access_pass(
            person,
            &TapRequest {
                lifetime_minutes: Some(120),
                usable_once: None,
            },
        )
        .await
        .expect("a pass");
    let pass = created.pass.expose_secret().to_owned();
    assert!(pass.len() >= 8, "as long as the policy's defaultLength");
    assert_eq!(created.lifetime_minutes, 120);
    assert!(!created.usable_once, "the policy's default: multi-use");
    assert!(created.starts_at >= created.created_at);
    assert!(
        !format!("{created:?}").contains(&pass),
        "Debug hides the pass"
    );

    let listed = client.temporary_access_passes(person).await.expect("list");
    assert_eq!(listed.len(), 1);
    let method = &listed[0];
    assert_eq!(method.lifetime_minutes, 120);
    assert!(method.is_usable);
    assert_eq!(method.usability_reason.as_deref(), Some("EnabledByPolicy"));
    assert_eq!(method.created_at, Some(created.created_at));

    // A second one replaces the first, with the policy's default lifetime.
    let again = client
        .create_temporary_access_pass(person, &TapRequest::default())
        .await
        .expect("another pass");
    assert_eq!(again.lifetime_minutes, 60);
    let listed = client.temporary_access_passes(person).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_ne!(listed[0].id, method.id);

    // The next day of the story it has expired.
    sim.fake.set_day(sim.fake.day() + 1);
    let listed = client.temporary_access_passes(person).await.expect("list");
    assert!(!listed[0].is_usable);
    assert_eq!(listed[0].usability_reason.as_deref(), Some("Expired"));

    let writes = sim.fake.writes();
    assert_eq!(writes.len(), 2);
    assert_eq!(writes[0].lifetime_minutes, Some(120));
    assert_eq!(writes[1].lifetime_minutes, None, "not asked: the default");
    assert_eq!(writes[0].usable_once, None);
    assert!(writes.iter().all(|w| w.method == "POST" && w.status == 201));
    assert!(!format!("{writes:?}").contains(&pass));
}

#[tokio::test]
async fn the_policy_refuses_in_graphs_words() {
    let sim = Sim::start(300, 100).await;
    let client = sim.client();
    let person = outsider(&sim);
    let ask = |lifetime: i32| TapRequest {
        lifetime_minutes: Some(lifetime),
        usable_once: None,
    };
    for lifetime in [30, 481] {
        let err = client
            .create_temporary_access_pass(person, &ask(lifetime))
            .await
            .expect_err("outside the policy's range");
        match &err {
            GraphError::WriteRejected {
                status, message, ..
            } => {
                assert_eq!(*status, 400);
                assert_eq!(
                    message,
                    "Invalid LifetimeInMinutes specified. The valid range between 60 and 480."
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.kind(), "rejected");
        assert!(
            err.to_string()
                .contains("Graph would not issue a Temporary Access Pass"),
            "{err}"
        );
    }

    let err = client
        .create_temporary_access_pass(guest(&sim), &TapRequest::default())
        .await
        .expect_err("no pass for a guest");
    assert!(
        matches!(&err, GraphError::WriteRejected { status: 400, message, .. } if message.contains("guest")),
        "{err:?}"
    );
    let err = client
        .create_temporary_access_pass(Uuid::new_v4(), &TapRequest::default())
        .await
        .expect_err("nobody");
    assert!(
        matches!(err, GraphError::WriteRejected { status: 404, .. }),
        "{err:?}"
    );

    // A policy that allows one-time passes only; then one the person is excluded from.
    let mut policy = sim.fake.policy_story().methods_policy(sim.fake.day());
    let tap = policy
        .authentication_method_configurations
        .iter_mut()
        .find(|c| c.id == "TemporaryAccessPass")
        .expect("the configuration");
    tap.extra
        .insert("isUsableOnce".to_owned(), serde_json::json!(true));
    sim.fake.set_policy_override(PolicyOverride {
        methods: Some(policy.clone()),
        ..PolicyOverride::default()
    });
    let multi_use = TapRequest {
        lifetime_minutes: None,
        usable_once: Some(false),
    };
    let err = client
        .create_temporary_access_pass(person, &multi_use)
        .await
        .expect_err("multi-use not allowed");
    assert!(err.to_string().contains("Multi-use"), "{err}");
    let once = client
        .create_temporary_access_pass(person, &TapRequest::default())
        .await
        .expect("one-time");
    assert!(once.usable_once, "the policy's default");

    let tap = policy
        .authentication_method_configurations
        .iter_mut()
        .find(|c| c.id == "TemporaryAccessPass")
        .expect("the configuration");
    tap.include_targets[0].id = SSPR_GROUP_ID.to_owned();
    sim.fake.set_policy_override(PolicyOverride {
        methods: Some(policy),
        ..PolicyOverride::default()
    });
    let err = client
        .create_temporary_access_pass(person, &TapRequest::default())
        .await
        .expect_err("not in the policy's target group");
    assert!(err.to_string().contains("not enabled"), "{err}");
    // Refusals are not repeated: one request each.
    assert_eq!(sim.fake.writes().len(), 7);
    assert_eq!(client.retries(), 0);
}

#[tokio::test]
async fn a_missing_write_permission_names_what_to_grant_and_where() {
    let sim = Sim::start(300, 100).await;
    let client = sim.client();
    let person = outsider(&sim);
    sim.fake.set_faults(Faults {
        deny_tap_write: true,
        deny_member_write: true,
        ..Faults::default()
    });
    let err = client
        .create_temporary_access_pass(person, &TapRequest::default())
        .await
        .expect_err("no permission");
    assert!(
        matches!(err, GraphError::WritePermissionMissing { .. }),
        "{err:?}"
    );
    assert_eq!(err.kind(), "permission");
    let text = err.to_string();
    for part in [
        "UserAuthenticationMethod.ReadWrite.All",
        "UserAuthMethod-TAP.ReadWrite.All",
        "PHONELESS_WRITE_CLIENT_ID",
        "PHONELESS_CLIENT_ID",
        "admin consent",
        "Insufficient privileges",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    let group = uuid(EXCLUSION_GROUP_ID);
    for err in [
        client
            .add_group_member(group, person)
            .await
            .expect_err("no permission"),
        client
            .remove_group_member(group, person)
            .await
            .expect_err("no permission"),
    ] {
        assert!(
            err.to_string().contains("GroupMember.ReadWrite.All"),
            "{err}"
        );
    }
    // Reading needs no write permission.
    assert!(client.temporary_access_passes(person).await.is_ok());
    assert_eq!(sim.fake.writes().len(), 3, "nothing repeated");
}

#[tokio::test]
async fn throttling_is_waited_out_and_a_write_is_made_once() {
    let sim = Sim::start(300, 100).await;
    let client = sim.client();
    let person = outsider(&sim);

    // 429 with Retry-After (1 s), then 429 without, then 503 with Retry-After: Graph did
    // nothing each time, so the POST is sent again.
    sim.fake.set_faults(Faults {
        throttle: 1,
        throttle_without_retry_after: 1,
        ..Faults::default()
    });
    let started = Instant::now();
    client
        .create_temporary_access_pass(person, &TapRequest::default())
        .await
        .expect("made once throttling is over");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    sim.fake.set_faults(Faults {
        unavailable: 1,
        ..Faults::default()
    });
    assert_eq!(
        client
            .add_group_member(uuid(EXCLUSION_GROUP_ID), person)
            .await
            .expect("added"),
        Membership::Changed
    );
    let statuses: Vec<u16> = sim.fake.writes().iter().map(|w| w.status).collect();
    assert_eq!(statuses, [429, 429, 201, 503, 204]);
    assert_eq!(client.retries(), 3);
    assert_eq!(sim.fake.served().writes_done, 2, "each made once");

    // A revoked token: a fresh one, and the write goes through.
    sim.fake.set_faults(Faults {
        expire_tokens: true,
        ..Faults::default()
    });
    assert_eq!(
        client
            .remove_group_member(uuid(EXCLUSION_GROUP_ID), person)
            .await
            .expect("removed"),
        Membership::Changed
    );
    assert_eq!(sim.fake.served().tokens_issued, 2);

    // Throttled for longer than the retry budget: given up, nothing changed.
    let mut settings = sim.settings();
    settings.retry_budget = Duration::from_millis(500);
    let impatient = Client::new(settings.clone()).expect("client");
    sim.fake.set_faults(Faults {
        throttle: 5,
        ..Faults::default()
    });
    let err = impatient
        .create_temporary_access_pass(person, &TapRequest::default())
        .await
        .expect_err("throttled throughout");
    assert!(
        matches!(err, GraphError::WriteBusy { status: 429, .. }),
        "{err:?}"
    );
    assert_eq!(err.kind(), "throttled");
    assert!(err.to_string().contains("Nothing was changed"), "{err}");

    // No answer in time: the pass may have been issued, so it is not asked for again.
    settings.request_timeout = Duration::from_millis(300);
    settings.retry_budget = Duration::from_secs(20);
    let hasty = Client::new(settings).expect("client");
    sim.fake.set_faults(Faults {
        slow_ms: 1_000,
        ..Faults::default()
    });
    let before = sim.fake.writes().len();
    let err = hasty
        .create_temporary_access_pass(person, &TapRequest::default())
        .await
        .expect_err("timed out");
    assert!(matches!(err, GraphError::WriteUncertain { .. }), "{err:?}");
    assert_eq!(err.kind(), "uncertain");
    assert_eq!(hasty.retries(), 0, "never repeated after a timeout");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert!(sim.fake.writes().len() <= before + 1);
}

#[tokio::test]
async fn members_are_added_and_removed_through_ref_only() {
    let sim = Sim::start(300, 100).await;
    let client = sim.client();
    let person = outsider(&sim);
    let (exclusion, nested, sspr) = (
        uuid(EXCLUSION_GROUP_ID),
        uuid(NESTED_GROUP_ID),
        uuid(SSPR_GROUP_ID),
    );
    let groups = [exclusion, nested, sspr];

    assert_eq!(
        client
            .remove_group_member(nested, person)
            .await
            .expect("remove"),
        Membership::Unchanged,
        "not a member: Graph's 404"
    );
    assert_eq!(
        client.add_group_member(nested, person).await.expect("add"),
        Membership::Changed
    );
    assert_eq!(
        client.add_group_member(nested, person).await.expect("add"),
        Membership::Unchanged,
        "already a member: Graph's 400"
    );
    // In the nested group, so in the group that holds it too.
    assert_eq!(
        client.member_groups(person, &groups).await.expect("check"),
        [exclusion, nested]
    );
    let direct = client
        .group_members(NESTED_GROUP_ID)
        .await
        .expect("members");
    assert!(direct.iter().any(|m| m.id == person.to_string()));
    let all = client
        .group_transitive_members(EXCLUSION_GROUP_ID)
        .await
        .expect("transitive members");
    assert!(all.iter().any(|m| m.id == person.to_string()));

    // More groups than one request may name: asked in chunks of 20.
    let mut many: Vec<Uuid> = (0..23).map(|_| Uuid::new_v4()).collect();
    many.push(nested);
    let checks = sim.fake.served().member_group_checks;
    assert_eq!(
        client.member_groups(person, &many).await.expect("check"),
        [nested]
    );
    assert_eq!(sim.fake.served().member_group_checks, checks + 2);

    assert_eq!(
        client
            .remove_group_member(nested, person)
            .await
            .expect("remove"),
        Membership::Changed
    );
    assert!(
        client
            .member_groups(person, &groups)
            .await
            .expect("check")
            .is_empty()
    );
    let err = client
        .add_group_member(exclusion, Uuid::new_v4())
        .await
        .expect_err("nobody");
    assert!(
        matches!(err, GraphError::WriteRejected { status: 404, .. }),
        "{err:?}"
    );

    // The live re-check of a person.
    let user = client.user(person).await.expect("user").expect("exists");
    assert_eq!(user.id, person.to_string());
    assert_eq!(user.user_type.as_deref(), Some("Member"));
    assert_eq!(user.account_enabled, Some(true));
    assert!(client.user(Uuid::new_v4()).await.expect("user").is_none());
    let guest = client
        .user(guest(&sim))
        .await
        .expect("user")
        .expect("exists");
    assert_eq!(guest.user_type.as_deref(), Some("Guest"));

    // Every membership write went through /$ref; nothing could have deleted a person.
    let writes = sim.fake.writes();
    assert_eq!(writes.len(), 5);
    for w in &writes {
        assert!(w.path.ends_with("/$ref"), "{w:?}");
        assert!(!w.dangerous, "{w:?}");
    }
    assert_eq!(sim.fake.served().dangerous_calls, 0);
}

#[tokio::test]
async fn the_write_registration_writes_and_the_main_one_may_not() {
    let sim = Sim::start_with(
        300,
        FakeSettings {
            write_clients: Some(vec![SIM_WRITE_CLIENT_ID.to_owned()]),
            write_certificate_pem: Some(fixture("sim-other.crt")),
            conditional_access_interval: Duration::ZERO,
            ..FakeSettings::default()
        },
    )
    .await;
    let person = outsider(&sim);
    let group = uuid(EXCLUSION_GROUP_ID);

    // The main registration reads, and is refused every write.
    let main = sim.client();
    assert!(main.user(person).await.expect("read").is_some());
    assert!(main.member_groups(person, &[group]).await.is_ok());
    let err = main
        .create_temporary_access_pass(person, &TapRequest::default())
        .await
        .expect_err("read-only");
    assert!(
        err.to_string().contains("PHONELESS_WRITE_CLIENT_ID"),
        "{err}"
    );
    let err = main
        .add_group_member(group, person)
        .await
        .expect_err("read-only");
    assert!(
        err.to_string().contains("GroupMember.ReadWrite.All"),
        "{err}"
    );

    // The write registration, by secret and by certificate.
    let by_secret = Client::new(write_settings(
        &sim,
        Credential::Secret(SIM_WRITE_CLIENT_SECRET.to_owned().into()),
    ))
    .expect("client");
    by_secret
        .create_temporary_access_pass(person, &TapRequest::default())
        .await
        .expect("issued");
    let by_certificate = Client::new(write_settings(
        &sim,
        Credential::Certificate {
            certificate_pem: fixture("sim-other.crt"),
            private_key_pem: fixture("sim-other.key").into(),
        },
    ))
    .expect("client");
    assert_eq!(
        by_certificate
            .add_group_member(group, person)
            .await
            .expect("added"),
        Membership::Changed
    );

    let clients: Vec<(Option<&str>, u16)> = sim
        .fake
        .writes()
        .iter()
        .map(|w| (w.client_id.as_deref(), w.status))
        .map(|(c, s)| {
            (
                c.map(|c| if c == SIM_CLIENT_ID { "main" } else { "write" }),
                s,
            )
        })
        .collect();
    assert_eq!(
        clients,
        [
            (Some("main"), 403),
            (Some("main"), 403),
            (Some("write"), 201),
            (Some("write"), 204)
        ]
    );
}

#[tokio::test]
async fn the_next_sync_sees_a_join_and_a_leave_made_by_the_app() {
    let db = TestDb::new().await;
    let sim = Sim::start(300, 100).await;
    let writer = Client::new(write_settings(
        &sim,
        Credential::Secret(SIM_WRITE_CLIENT_SECRET.to_owned().into()),
    ))
    .expect("client");
    let person = outsider(&sim);
    let exclusion_members = |body: &serde_json::Value| -> Vec<serde_json::Value> {
        body["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .find(|g| g["id"] == EXCLUSION_GROUP_ID)
            .expect("the exclusion group")["members"]
            .as_array()
            .expect("members")
            .clone()
    };

    // Once SMS is narrowed to the exclusion group, which the sync then watches.
    sim.fake.set_day(sim.fake.policy_story().key_days().tighten);
    sync_ok(&db, &sim).await;
    assert_eq!(
        writer
            .add_group_member(uuid(EXCLUSION_GROUP_ID), person)
            .await
            .expect("added"),
        Membership::Changed
    );
    let run = sync_ok(&db, &sim).await;
    assert_eq!(run.posture.joins, 1);
    let (_, body) = get_json(&db, "/api/v1/exclusions").await;
    let members = exclusion_members(&body);
    let member = members
        .iter()
        .find(|m| m["id"] == person.to_string())
        .unwrap_or_else(|| panic!("the new member in {body}"));
    let added_by = member["added_by"].as_str().unwrap_or_default();
    assert!(
        added_by.contains(SIM_WRITE_APP_NAME) && added_by.contains("an application"),
        "{member}"
    );

    assert_eq!(
        writer
            .remove_group_member(uuid(EXCLUSION_GROUP_ID), person)
            .await
            .expect("removed"),
        Membership::Changed
    );
    let run = sync_ok(&db, &sim).await;
    assert_eq!(run.posture.leaves, 1);
    let (_, body) = get_json(&db, "/api/v1/exclusions").await;
    assert!(
        !exclusion_members(&body)
            .iter()
            .any(|m| m["id"] == person.to_string()),
        "{body}"
    );
}
