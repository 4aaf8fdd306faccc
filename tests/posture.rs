//! Policy posture, the exclusion groups and alerts, against the simulated tenant over HTTP: the
//! checklist in its colours as the story's policies change, joins and leaves with who made
//! them, alerts delivered once to a real local webhook receiver (across a restart, through
//! failures, without holding up the sync), and missing permissions that leave the sync intact.

mod common;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::Utc;
use common::{Sim, TestDb, count, get, get_json};
use phoneless::alerts::webhook::parse_webhooks;
use phoneless::alerts::{Deliverer, DeliverySettings};
use phoneless::graph::model::{AuthenticationMethodsPolicy, ConditionalAccessPolicy};
use phoneless::sim::policy::{EXCLUSION_GROUP_ID, EXCLUSION_GROUP_NAME, NESTED_GROUP_ID};
use phoneless::sim::{Faults, PolicyOverride};
use phoneless::sync::posture::PostureOptions;
use phoneless::sync::progress::Silent;
use phoneless::sync::{self, Outcome, RunReport, SyncError, SyncOptions};
use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// One sync of the fake's current day with these posture options.
async fn sync_at(db: &TestDb, sim: &Sim, posture: &PostureOptions) -> Result<Outcome, SyncError> {
    let now = sim.fake.tenant().report_refreshed(sim.fake.day()) + chrono::Duration::hours(1);
    let options = SyncOptions {
        posture: posture.clone(),
        ..SyncOptions::default()
    };
    sync::run(
        &db.pool,
        sim.client(),
        now,
        &options,
        Arc::new(Silent),
        &CancellationToken::new(),
    )
    .await
}

async fn synced(db: &TestDb, sim: &Sim, posture: &PostureOptions) -> RunReport {
    match sync_at(db, sim, posture).await {
        Ok(Outcome::Succeeded(r)) => r,
        other => panic!("expected a successful sync, got {other:?}"),
    }
}

/// The colour of each checklist item, by key.
async fn colours(db: &TestDb) -> std::collections::BTreeMap<String, String> {
    let (status, body) = get_json(db, "/api/v1/posture").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["key"].as_str().expect("key").to_owned(),
                i["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect()
}

fn colour<'a>(c: &'a std::collections::BTreeMap<String, String>, key: &str) -> &'a str {
    c.get(key)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("no item {key} in {c:?}"))
}

/// A webhook receiver on loopback: records each request; fails the first `fail` ones with
/// 500; holds every request while `hold` is set, until `release` is notified.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
    fail: Arc<AtomicU32>,
    hold: Arc<std::sync::atomic::AtomicBool>,
    held: Arc<AtomicU32>,
    release: Arc<Notify>,
}

impl Receiver {
    async fn start(&self) -> String {
        async fn hook(
            State(r): State<Receiver>,
            headers: HeaderMap,
            axum::Json(body): axum::Json<Value>,
        ) -> StatusCode {
            if r.hold.load(Ordering::SeqCst) {
                r.held.fetch_add(1, Ordering::SeqCst);
                r.release.notified().await;
            }
            if r.fail.load(Ordering::SeqCst) > 0 {
                r.fail.fetch_sub(1, Ordering::SeqCst);
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
            r.got.lock().expect("lock").push((headers, body));
            StatusCode::NO_CONTENT
        }
        let app = axum::Router::new()
            .route("/hook", post(hook))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{addr}/hook")
    }

    fn bodies(&self) -> Vec<Value> {
        self.got
            .lock()
            .expect("lock")
            .iter()
            .map(|(_, b)| b.clone())
            .collect()
    }
}

fn quick_retries() -> DeliverySettings {
    DeliverySettings {
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(200),
        max_attempts: 5,
        poll: Duration::from_millis(20),
        timeout: Duration::from_secs(30),
        lease: Duration::from_secs(60),
    }
}

#[tokio::test]
async fn the_checklist_follows_the_story_and_keeps_a_dated_history() {
    let db = TestDb::new().await;
    let sim = Sim::start(300, 100).await;
    let k = sim.fake.policy_story().key_days();
    let none = PostureOptions::default();

    sim.fake.set_day(0);
    let first = synced(&db, &sim, &none).await;
    assert_eq!(
        first.posture.policy_changes, 0,
        "the first read is no change"
    );
    assert_eq!(
        first.posture.joins, 0,
        "the first read finds members, not joins"
    );
    let c = colours(&db).await;
    assert_eq!(colour(&c, "voice_disabled"), "red");
    assert_eq!(colour(&c, "sms_restricted"), "red");
    assert_eq!(colour(&c, "strength_enforced"), "red");
    assert_eq!(colour(&c, "registration_campaign"), "amber");
    assert_eq!(colour(&c, "migration_complete"), "amber");
    assert_eq!(colour(&c, "authenticator_enabled"), "green");
    assert_eq!(colour(&c, "tap_enabled"), "green");

    sim.fake.set_day(k.campaign);
    synced(&db, &sim, &none).await;
    assert_eq!(
        colour(&colours(&db).await, "registration_campaign"),
        "green"
    );

    sim.fake.set_day(k.custom_strength);
    let r = synced(&db, &sim, &none).await;
    assert!(r.posture.policy_changes >= 2, "{:?}", r.posture);
    assert_eq!(
        colour(&colours(&db).await, "strength_enforced"),
        "amber",
        "report-only"
    );

    sim.fake.set_day(k.tighten);
    synced(&db, &sim, &none).await;
    let c = colours(&db).await;
    assert_eq!(colour(&c, "voice_disabled"), "green");
    assert_eq!(colour(&c, "sms_restricted"), "green");

    sim.fake.set_day(k.enforce);
    synced(&db, &sim, &none).await;
    assert_eq!(colour(&colours(&db).await, "strength_enforced"), "green");

    sim.fake.set_day(k.migration_complete);
    synced(&db, &sim, &none).await;
    assert_eq!(colour(&colours(&db).await, "migration_complete"), "green");

    // The history: dated changes in words, newest first.
    let (_, posture) = get_json(&db, "/api/v1/posture").await;
    let changes = posture["changes"].as_array().expect("changes");
    let all_details: Vec<&str> = changes
        .iter()
        .flat_map(|c| c["details"].as_array().expect("details"))
        .filter_map(Value::as_str)
        .collect();
    assert!(
        all_details.contains(&"Voice › state: enabled → disabled"),
        "{all_details:?}"
    );
    assert!(
        all_details.contains(&"policyMigrationState: migrationInProgress → migrationComplete"),
        "{all_details:?}"
    );
    let seen: Vec<&str> = changes
        .iter()
        .map(|c| c["seen_at"].as_str().expect("seen_at"))
        .collect();
    assert!(seen.windows(2).all(|w| w[0] >= w[1]), "newest first");
    // The same policy read again unchanged adds nothing.
    let again = synced(&db, &sim, &none).await;
    assert_eq!(again.posture.policy_changes, 0);
    let (status, page) = get(&db, "/posture").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Voice › state: enabled → disabled"));
    assert!(page.contains("Voice calls"));
}

#[tokio::test]
async fn a_group_among_the_exclusion_groups_members_is_not_a_person() {
    let db = TestDb::new().await;
    let sim = Sim::start(300, 100).await;
    let story = sim.fake.policy_story().clone();
    assert_eq!(story.nested_groups(EXCLUSION_GROUP_ID).len(), 1);
    sim.fake.set_day(0);
    let report = synced(&db, &sim, &PostureOptions::default()).await;
    assert_eq!(report.posture.joins, 0);

    let (_, exclusions) = get_json(&db, "/api/v1/exclusions").await;
    let group = exclusions["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["id"] == EXCLUSION_GROUP_ID)
        .expect("the exclusion group")
        .clone();
    let listed: std::collections::BTreeSet<&str> = group["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["id"].as_str().expect("id"))
        .collect();
    let people = story.members(EXCLUSION_GROUP_ID, 0).expect("group");
    assert_eq!(
        listed,
        people.iter().map(|m| m.id.as_str()).collect(),
        "the people, not the nested group {NESTED_GROUP_ID}"
    );
    let size = count(
        &db,
        &format!("SELECT member_count::bigint FROM watched_groups WHERE group_id = '{EXCLUSION_GROUP_ID}'"),
    )
    .await;
    assert_eq!(size, people.len() as i64, "the group's size counts people");

    // Read again: still nobody joined or left.
    let again = synced(&db, &sim, &PostureOptions::default()).await;
    assert_eq!((again.posture.joins, again.posture.leaves), (0, 0));
}

/// The story's policies with one thing changed, for the colours the story never shows.
#[tokio::test]
async fn each_checklist_item_in_each_colour() {
    let db = TestDb::new().await;
    let sim = Sim::start(300, 100).await;
    let story = sim.fake.policy_story().clone();
    let k = story.key_days();
    let none = PostureOptions::default();
    let base = story.methods_policy(k.migration_complete);
    let ca = story.conditional_access(k.migration_complete);
    let strengths = story.strength_policies(k.migration_complete);
    sim.fake.set_day(k.migration_complete);

    let with = |f: &dyn Fn(&mut AuthenticationMethodsPolicy)| {
        let mut m = base.clone();
        f(&mut m);
        m
    };
    let config = |m: &mut AuthenticationMethodsPolicy, id: &str| -> usize {
        m.authentication_method_configurations
            .iter()
            .position(|c| c.id.eq_ignore_ascii_case(id))
            .expect("configuration")
    };
    type Case = (
        &'static str,
        Box<dyn Fn(&mut AuthenticationMethodsPolicy) + Send + Sync>,
        &'static str,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "voice for one group",
            Box::new(move |m| {
                let i = config(m, "Voice");
                m.authentication_method_configurations[i].state = "Enabled".into();
                m.authentication_method_configurations[i].include_targets[0].id =
                    EXCLUSION_GROUP_ID.into();
            }),
            "voice_disabled",
            "amber",
        ),
        (
            "voice for everyone",
            Box::new(move |m| {
                let i = config(m, "voice");
                m.authentication_method_configurations[i].state = "enabled".into();
            }),
            "voice_disabled",
            "red",
        ),
        (
            "SMS sign-in for a group",
            Box::new(move |m| {
                let i = config(m, "Sms");
                m.authentication_method_configurations[i].include_targets[0]
                    .is_usable_for_sign_in = Some(true);
            }),
            "sms_restricted",
            "amber",
        ),
        (
            "SMS for everyone",
            Box::new(move |m| {
                let i = config(m, "Sms");
                m.authentication_method_configurations[i].include_targets[0].id =
                    "all_users".into();
            }),
            "sms_restricted",
            "red",
        ),
        (
            "Authenticator off",
            Box::new(move |m| {
                let i = config(m, "MicrosoftAuthenticator");
                m.authentication_method_configurations[i].state = "disabled".into();
            }),
            "authenticator_enabled",
            "red",
        ),
        (
            "Authenticator for a group",
            Box::new(move |m| {
                let i = config(m, "MicrosoftAuthenticator");
                m.authentication_method_configurations[i].include_targets[0].id =
                    EXCLUSION_GROUP_ID.into();
            }),
            "authenticator_enabled",
            "amber",
        ),
        (
            "passkeys off",
            Box::new(move |m| {
                let i = config(m, "Fido2");
                m.authentication_method_configurations[i].state = "disabled".into();
            }),
            "passkeys_enabled",
            "amber",
        ),
        (
            "TAP off",
            Box::new(move |m| {
                let i = config(m, "TemporaryAccessPass");
                m.authentication_method_configurations[i].state = "disabled".into();
            }),
            "tap_enabled",
            "amber",
        ),
        (
            "campaign off",
            Box::new(move |m| {
                if let Some(c) = m
                    .registration_enforcement
                    .as_mut()
                    .and_then(|r| r.authentication_methods_registration_campaign.as_mut())
                {
                    c.state = "disabled".into();
                }
            }),
            "registration_campaign",
            "amber",
        ),
        (
            "pre-migration, as the docs spell it",
            Box::new(move |m| m.policy_migration_state = Some("premigration".into())),
            "migration_complete",
            "amber",
        ),
    ];
    // Every case starts from the finished story, where each of these items is green.
    synced(&db, &sim, &none).await;
    let c = colours(&db).await;
    for key in [
        "voice_disabled",
        "sms_restricted",
        "strength_enforced",
        "authenticator_enabled",
        "passkeys_enabled",
        "tap_enabled",
        "registration_campaign",
        "migration_complete",
    ] {
        assert_eq!(colour(&c, key), "green", "{key} at the end of the story");
    }
    for (what, change, key, expected) in &cases {
        sim.fake.set_policy_override(PolicyOverride {
            methods: Some(with(&|m| change(m))),
            ..PolicyOverride::default()
        });
        synced(&db, &sim, &none).await;
        assert_eq!(colour(&colours(&db).await, key), *expected, "{what}");
    }

    // Conditional Access: report-only is amber; no policy with a no-phone strength is red.
    let report_only: Vec<ConditionalAccessPolicy> = ca
        .iter()
        .cloned()
        .map(|mut p| {
            if p.grant_controls
                .as_ref()
                .is_some_and(|g| g.authentication_strength.is_some())
            {
                p.state = "enabledForReportingButNotEnforced".into();
            }
            p
        })
        .collect();
    let mfa_only: Vec<ConditionalAccessPolicy> = ca
        .iter()
        .filter(|p| {
            p.grant_controls
                .as_ref()
                .is_none_or(|g| g.authentication_strength.is_none())
        })
        .cloned()
        .collect();
    for (policies, expected) in [(report_only, "amber"), (mfa_only, "red"), (ca, "green")] {
        sim.fake.set_policy_override(PolicyOverride {
            conditional_access: Some(policies),
            strengths: Some(strengths.clone()),
            ..PolicyOverride::default()
        });
        synced(&db, &sim, &none).await;
        assert_eq!(colour(&colours(&db).await, "strength_enforced"), expected);
    }

    // Exclusion groups: too many members is red; else watched (a webhook is set) and small is
    // green, unwatched amber. The SSPR group SMS alone is switched on for is an allowlist too.
    let members = count(
        &db,
        "SELECT count(*) FROM group_memberships m JOIN watched_groups g USING (group_id)
         WHERE g.watched AND m.left_run IS NULL",
    )
    .await;
    let in_scope = count(
        &db,
        "SELECT users::bigint FROM run_rollups WHERE dimension = 'tenant' ORDER BY run_id DESC LIMIT 1",
    )
    .await;
    let too_many = members * 100 > in_scope * 5;
    let c = colours(&db).await;
    assert_eq!(
        colour(&c, "exclusions_small"),
        if too_many { "red" } else { "amber" },
        "no webhook"
    );
    let hooks = parse_webhooks("json=http://127.0.0.1:9/hook").expect("webhooks");
    let mut state = common::web_state(&db);
    let mut config = (*state.config).clone();
    config.alert_targets = Deliverer::targets(&hooks);
    state.config = Arc::new(config);
    let (_, body) = common::get_in(&state, "/api/v1/posture").await;
    let body: Value = serde_json::from_str(&body).expect("json");
    let item = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["key"] == "exclusions_small")
        .expect("item")
        .clone();
    let expected = if too_many {
        "red"
    } else if members * 100 > in_scope {
        "amber"
    } else {
        "green"
    };
    assert_eq!(item["status"], expected, "{members} of {in_scope}: {item}");
}

#[tokio::test]
async fn a_member_added_between_syncs_is_one_alert_delivered_once_even_after_a_restart() {
    let db = TestDb::new().await;
    let sim = Sim::start(300, 100).await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let hooks = parse_webhooks(&url).expect("webhooks");
    let posture = PostureOptions {
        exclusion_groups: Vec::new(),
        alert_targets: Deliverer::targets(&hooks),
        ..Default::default()
    };
    // The story's first join into the exclusion group after day 0.
    let join = sim
        .fake
        .policy_story()
        .membership_events()
        .iter()
        .find(|e| {
            e.day > 0
                && e.group_id == EXCLUSION_GROUP_ID
                && e.change == phoneless::sim::policy::MembershipChange::Added
        })
        .expect("a join in the story")
        .clone();

    sim.fake.set_day(join.day - 1);
    synced(&db, &sim, &posture).await;
    sim.fake.set_day(join.day);
    let r = synced(&db, &sim, &posture).await;
    assert_eq!(r.posture.joins, 1);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM alerts WHERE kind = 'member_joined'"
        )
        .await,
        1
    );
    // Synced again: no second alert for the same join.
    synced(&db, &sim, &posture).await;
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM alerts WHERE kind = 'member_joined'"
        )
        .await,
        1
    );
    assert!(
        receiver.bodies().is_empty(),
        "the sync itself sends nothing"
    );

    // "Restart": a new process's deliverer, knowing only the database and the configuration.
    let deliverer = Deliverer::new(
        db.pool.clone(),
        hooks.clone(),
        Some("https://phoneless.example"),
        quick_retries(),
    )
    .expect("deliverer");
    let pass = deliverer.deliver_due(Utc::now()).await.expect("deliver");
    assert_eq!(pass.delivered, 1);
    let again = Deliverer::new(db.pool.clone(), hooks, None, quick_retries()).expect("deliverer");
    assert_eq!(
        again
            .deliver_due(Utc::now())
            .await
            .expect("deliver")
            .delivered,
        0
    );
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let body = &bodies[0];
    assert_eq!(body["kind"], "member_joined");
    let text = body.to_string();
    assert!(text.contains(&join.member.display_name), "{text}");
    assert!(text.contains(EXCLUSION_GROUP_NAME), "{text}");
    assert!(
        text.contains(&join.by.display_name),
        "who added them, from the audit log: {text}"
    );
    assert_eq!(body["link"], "https://phoneless.example/alerts");
    let headers = receiver.got.lock().expect("lock")[0].0.clone();
    assert!(headers.get("idempotency-key").is_some_and(|v| {
        v.to_str()
            .unwrap_or_default()
            .starts_with("phoneless-alert-")
    }));

    // The page and the JSON list it as delivered; the allowlist shows who added the member.
    let (_, alerts) = get_json(&db, "/api/v1/alerts").await;
    assert_eq!(alerts["alerts"][0]["deliveries"][0]["status"], "delivered");
    let (_, exclusions) = get_json(&db, "/api/v1/exclusions").await;
    let group = exclusions["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["id"] == EXCLUSION_GROUP_ID)
        .expect("the exclusion group")
        .clone();
    let member = group["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["id"] == join.member.id)
        .expect("the new member")
        .clone();
    assert!(
        member["added_by"]
            .as_str()
            .is_some_and(|b| b.contains(&join.by.display_name)),
        "{member}"
    );
    assert_eq!(member["there_at_first_read"], false);
    assert_eq!(member["state"], "phone_only", "joined while phone-only");
    let initial = group["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter(|m| m["there_at_first_read"] == true)
        .count();
    assert!(initial >= 1, "{group}");
    let (status, page) = get(&db, "/exclusions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(EXCLUSION_GROUP_NAME));
    assert!(page.contains("phone-only"));
}

#[tokio::test]
async fn a_failing_receiver_is_retried_and_never_holds_up_the_sync() {
    let db = TestDb::new().await;
    let sim = Sim::start(300, 100).await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let hooks = parse_webhooks(&format!("json={url}")).expect("webhooks");
    let posture = PostureOptions {
        exclusion_groups: Vec::new(),
        alert_targets: Deliverer::targets(&hooks),
        ..Default::default()
    };
    let joins: Vec<u32> = sim
        .fake
        .policy_story()
        .membership_events()
        .iter()
        .filter(|e| {
            e.day > 0
                && e.group_id == EXCLUSION_GROUP_ID
                && e.change == phoneless::sim::policy::MembershipChange::Added
        })
        .map(|e| e.day)
        .collect();
    assert!(joins.len() >= 2);
    sim.fake.set_day(joins[0] - 1);
    synced(&db, &sim, &posture).await;
    sim.fake.set_day(joins[0]);
    synced(&db, &sim, &posture).await;

    // The receiver holds the request: the worker waits on it while the next sync runs.
    receiver.hold.store(true, Ordering::SeqCst);
    receiver.fail.store(2, Ordering::SeqCst);
    let cancel = CancellationToken::new();
    let worker = tokio::spawn(
        Deliverer::new(db.pool.clone(), hooks, None, quick_retries())
            .expect("deliverer")
            .run(cancel.clone()),
    );
    while receiver.held.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sim.fake.set_day(joins[1]);
    let r = synced(&db, &sim, &posture).await;
    assert!(r.posture.joins >= 1);
    assert!(
        receiver.bodies().is_empty(),
        "the sync finished while the delivery was still waiting on the receiver"
    );
    // Released: two failures (500), then delivered, for both alerts.
    receiver.hold.store(false, Ordering::SeqCst);
    receiver.release.notify_waiters();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while count(
        &db,
        "SELECT count(*) FROM alert_deliveries WHERE status = 'delivered'",
    )
    .await
        < 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "not delivered: {:?}",
            get_json(&db, "/api/v1/alerts").await.1
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel.cancel();
    worker.await.expect("worker");
    assert_eq!(receiver.bodies().len(), 2);
    assert!(
        count(&db, "SELECT max(attempts)::bigint FROM alert_deliveries").await >= 2,
        "a failed delivery was attempted again"
    );
}

#[tokio::test]
async fn missing_permissions_leave_the_rest_of_the_sync_intact() {
    let db = TestDb::new().await;
    let sim = Sim::start(300, 100).await;
    sim.fake.set_day(5);
    sim.fake.set_faults(Faults {
        deny_policies: true,
        deny_group_members: true,
        deny_audit: true,
        ..Faults::default()
    });
    // With the policies unreadable, only the configured group is known to be watched.
    let configured = PostureOptions {
        exclusion_groups: vec![EXCLUSION_GROUP_ID.parse().expect("uuid")],
        alert_targets: Vec::new(),
        ..Default::default()
    };
    let r = synced(&db, &sim, &configured).await;
    assert!(r.counts.users > 0, "the users were stored");
    let (_, posture) = get_json(&db, "/api/v1/posture").await;
    let unavailable = posture["unavailable"].as_array().expect("parts");
    let text = Value::from(unavailable.clone()).to_string();
    assert!(text.contains("Policy.Read.All"), "{text}");
    assert!(text.contains("GroupMember.Read.All"), "{text}");
    assert!(text.contains("AuditLog.Read.All"), "{text}");
    let c = colours(&db).await;
    assert_eq!(colour(&c, "voice_disabled"), "unavailable");
    assert_eq!(colour(&c, "exclusions_small"), "unavailable");
    let (status, page) = get(&db, "/posture").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("could not be read"));

    // Permission granted: the next sync reads everything.
    sim.fake.set_faults(Faults::default());
    synced(&db, &sim, &configured).await;
    let (_, posture) = get_json(&db, "/api/v1/posture").await;
    assert_eq!(posture["unavailable"], Value::Array(Vec::new()));
    assert_eq!(colour(&colours(&db).await, "voice_disabled"), "red");
}

#[tokio::test]
async fn a_sync_failing_twice_in_a_row_is_one_alert() {
    let db = TestDb::new().await;
    let sim = Sim::start(200, 100).await;
    synced(&db, &sim, &PostureOptions::default()).await;
    sim.fake.set_faults(Faults {
        deny_report: true,
        ..Faults::default()
    });
    for _ in 0..4 {
        assert!(
            sync_at(&db, &sim, &PostureOptions::default())
                .await
                .is_err()
        );
    }
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM alerts WHERE kind = 'sync_failing'"
        )
        .await,
        1
    );
    sim.fake.set_faults(Faults::default());
    synced(&db, &sim, &PostureOptions::default()).await;
    sim.fake.set_faults(Faults {
        deny_report: true,
        ..Faults::default()
    });
    for _ in 0..2 {
        assert!(
            sync_at(&db, &sim, &PostureOptions::default())
                .await
                .is_err()
        );
    }
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM alerts WHERE kind = 'sync_failing'"
        )
        .await,
        2,
        "a new spell of failures"
    );
}

#[tokio::test]
async fn conditional_access_is_read_at_one_request_a_second() {
    let db = TestDb::new().await;
    // The fake enforces Graph's real limit here, and the client paces to it.
    let sim = Sim::start_with(200, phoneless::sim::FakeSettings::default()).await;
    let mut settings = sim.settings();
    settings.conditional_access_rate = phoneless::graph::DEFAULT_CONDITIONAL_ACCESS_RATE;
    let client = Arc::new(phoneless::graph::Client::new(settings).expect("client"));
    for _ in 0..3 {
        match common::sync_with(&db, &sim, client.clone()).await {
            Ok(Outcome::Succeeded(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    let served = sim.fake.served();
    assert_eq!(served.conditional_access_requests, 3);
    assert_eq!(served.conditional_access_throttled, 0, "never bounced off");
}
