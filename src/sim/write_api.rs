//! The fake Graph's write endpoints, and the reads that go with them (graph-api.md §4, §7):
//!
//! - `GET /v1.0/users/{id}/authentication/temporaryAccessPassMethods`: the person's Temporary
//!   Access Pass, `temporaryAccessPass` always `null`; `isUsable` false once it has expired.
//! - `POST` to the same: a new pass, checked against the day's `TemporaryAccessPass`
//!   configuration of the methods policy the fake serves (enabled, the person included and
//!   not excluded, the lifetime within its minimum and maximum and within 10–43200, multi-use
//!   only if it allows it; never for a guest or an external user). One pass per person: a new
//!   one replaces the old.
//! - `POST /v1.0/users/{id}/checkMemberGroups` (`{"groupIds": [...]}`, at most 20): the ids the
//!   person is in, nested groups counted.
//! - `POST /v1.0/groups/{id}/members/$ref` (204; 400 when already a member; 404 for an unknown
//!   person or group) and `DELETE /v1.0/groups/{id}/members/{member}/$ref` (204; 404 when not a
//!   member). A role-assignable group answers 403: it needs RoleManagement.ReadWrite.Directory,
//!   which the simulated apps never hold.
//! - `DELETE /v1.0/groups/{id}/members/{member}` **without** `/$ref`, which would delete the
//!   person's directory object in Graph: recorded as a dangerous call and refused.
//!
//! Membership writes are laid over the day-by-day story from the day they are made
//! ([`MembershipWrite`]): `/members`, `/transitiveMembers`, `checkMemberGroups` and the audit
//! log (an `Add member to group` / `Remove member from group` entry whose initiator is the app)
//! show them. Writes are allowed to the clients of [`FakeSettings::write_clients`] unless a
//! `deny_tap_write` / `deny_member_write` fault says the app lacks the permission; the shared
//! faults (throttling, outages) apply as everywhere. Every write is recorded
//! ([`WriteRecord`]), the pass never.
//!
//! [`FakeSettings::write_clients`]: super::server::FakeSettings::write_clients

use super::policy::{Member, MembershipChange, MembershipWrite};
use super::server::{
    FakeGraph, SIM_APP_NAME, SIM_SERVICE_PRINCIPAL_ID, SIM_WRITE_APP_NAME,
    SIM_WRITE_SERVICE_PRINCIPAL_ID, bearer_client, context, graph_error, guard, lock, not_found,
    permission_denied,
};
use crate::graph::model::{
    AuditApp, CHECK_MEMBER_GROUPS_MAX, CheckMemberGroups, ObjectReference, Page,
    TemporaryAccessPassMethod, TemporaryAccessPassRequest,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chrono::{DateTime, Utc};
use rand::Rng as _;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// Graph's bounds on any Temporary Access Pass lifetime, whatever the policy says (§4, §5).
const TAP_LIFETIME_BOUNDS: (i32, i32) = (10, 43_200);
/// Graph's defaults for a configuration that leaves them out (graph-api.md §12).
const TAP_DEFAULT_LIFETIME: i32 = 60;
const TAP_DEFAULT_MINIMUM: i32 = 60;
const TAP_DEFAULT_MAXIMUM: i32 = 480;
const TAP_DEFAULT_LENGTH: usize = 8;
/// The characters of a generated pass: letters and digits without look-alikes, and a few
/// symbols, as Entra's passes mix them.
const PASS_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789#@%&$!";

const ALREADY_A_MEMBER: &str = "One or more added object references already exist for the following modified properties: 'members'.";

pub(super) fn routes() -> Router<FakeGraph> {
    Router::new()
        .route(
            "/v1.0/users/{id}/authentication/temporaryAccessPassMethods",
            get(list_passes).post(create_pass),
        )
        .route(
            "/v1.0/users/{id}/checkMemberGroups",
            post(check_member_groups),
        )
        .route("/v1.0/groups/{id}/members/$ref", post(add_member))
        .route(
            "/v1.0/groups/{id}/members/{member}/$ref",
            delete(remove_member),
        )
        .route(
            "/v1.0/groups/{id}/members/{member}",
            delete(delete_member_object),
        )
}

/// What the write endpoints hold: the passes issued, the membership changes, and every write
/// asked.
#[derive(Debug, Default)]
pub(super) struct WriteState {
    /// Each person's pass (one at most), by lower-case object id; never the pass itself.
    passes: HashMap<String, IssuedPass>,
    pub(super) members: Vec<MembershipWrite>,
    pub(super) records: Vec<WriteRecord>,
}

/// A Temporary Access Pass the fake issued (without the pass, which only its creation's
/// answer carries).
#[derive(Debug, Clone)]
struct IssuedPass {
    id: String,
    created: DateTime<Utc>,
    start: DateTime<Utc>,
    lifetime_minutes: i32,
    usable_once: bool,
}

/// One write request as the fake received and answered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteRecord {
    /// `POST` or `DELETE`.
    pub method: String,
    /// The request's path, e.g. `/v1.0/groups/{id}/members/{member}/$ref`.
    pub path: String,
    /// The app registration the bearer token was issued to (`None` without a valid token).
    pub client_id: Option<String>,
    /// The status the fake answered.
    pub status: u16,
    /// A Temporary Access Pass's `lifetimeInMinutes` and `isUsableOnce` as asked (`None`: not
    /// in the request).
    pub lifetime_minutes: Option<i32>,
    pub usable_once: Option<bool>,
    /// A request that would have deleted a directory object (a member `DELETE` without
    /// `/$ref`).
    pub dangerous: bool,
}

/// Records a write and its answer, and counts it.
fn record(
    fake: &FakeGraph,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    asked: Option<&TemporaryAccessPassRequest>,
    dangerous: bool,
    resp: Response,
) -> Response {
    let status = resp.status();
    lock(&fake.inner.writes).records.push(WriteRecord {
        method: method.to_string(),
        path: uri.path().to_owned(),
        client_id: bearer_client(fake, headers),
        status: status.as_u16(),
        lifetime_minutes: asked.and_then(|a| a.lifetime_in_minutes),
        usable_once: asked.and_then(|a| a.is_usable_once),
        dangerous,
    });
    let mut served = lock(&fake.inner.served);
    served.writes += 1;
    if status.is_success() {
        served.writes_done += 1;
    }
    if dangerous {
        served.dangerous_calls += 1;
    }
    resp
}

/// The bearer check and the shared faults, then whether the caller's app holds the write
/// permission (`denied` reads the fault that takes it away). `None` means go on.
async fn admit_write(
    fake: &FakeGraph,
    headers: &HeaderMap,
    denied: impl Fn(&super::server::Faults) -> bool,
) -> Option<Response> {
    if let Some(refused) = guard(fake, headers).await {
        return Some(refused);
    }
    let client = bearer_client(fake, headers);
    let granted = match &fake.inner.settings.write_clients {
        None => true,
        Some(clients) => client
            .as_deref()
            .is_some_and(|c| clients.iter().any(|w| w.eq_ignore_ascii_case(c))),
    };
    (!granted || denied(&fake.faults())).then(permission_denied)
}

/// Graph's 400 for a body it cannot read.
fn unreadable_body() -> Response {
    graph_error(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
    )
}

/// The answer to a Temporary Access Pass request Graph refuses (code `badRequest`).
fn pass_refused(message: &str) -> Response {
    graph_error(StatusCode::BAD_REQUEST, "badRequest", message)
}

/// A body as JSON of `T`; an empty body is `T`'s default.
fn parse_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Option<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(T::default());
    }
    serde_json::from_slice(body).ok()
}

/// The `TemporaryAccessPass` configuration of the methods policy the fake serves today.
#[derive(Debug, Clone, PartialEq)]
struct PassPolicy {
    enabled: bool,
    /// Include targets (`all_users` or group ids) and exclude targets.
    include: Vec<String>,
    exclude: Vec<String>,
    default_lifetime: i32,
    minimum_lifetime: i32,
    maximum_lifetime: i32,
    /// Every pass must be one-time (multi-use passes not allowed).
    usable_once: bool,
    length: usize,
}

impl PassPolicy {
    fn of(fake: &FakeGraph) -> PassPolicy {
        let policy = fake
            .policy_override()
            .methods
            .unwrap_or_else(|| fake.policy_story().methods_policy(fake.day()));
        let config = policy
            .authentication_method_configurations
            .into_iter()
            .find(|c| c.id.eq_ignore_ascii_case("TemporaryAccessPass"));
        let Some(c) = config else {
            // No configuration at all: the method is off.
            return PassPolicy {
                enabled: false,
                include: Vec::new(),
                exclude: Vec::new(),
                default_lifetime: TAP_DEFAULT_LIFETIME,
                minimum_lifetime: TAP_DEFAULT_MINIMUM,
                maximum_lifetime: TAP_DEFAULT_MAXIMUM,
                usable_once: false,
                length: TAP_DEFAULT_LENGTH,
            };
        };
        let number =
            |key: &str, default: i64| c.extra.get(key).and_then(Value::as_i64).unwrap_or(default);
        let minutes = |key: &str, default: i32| {
            i32::try_from(number(key, i64::from(default))).unwrap_or(default)
        };
        PassPolicy {
            enabled: c.state.eq_ignore_ascii_case("enabled"),
            include: c.include_targets.into_iter().map(|t| t.id).collect(),
            exclude: c.exclude_targets.into_iter().map(|t| t.id).collect(),
            default_lifetime: minutes("defaultLifetimeInMinutes", TAP_DEFAULT_LIFETIME),
            minimum_lifetime: minutes("minimumLifetimeInMinutes", TAP_DEFAULT_MINIMUM),
            maximum_lifetime: minutes("maximumLifetimeInMinutes", TAP_DEFAULT_MAXIMUM),
            usable_once: c
                .extra
                .get("isUsableOnce")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            length: usize::try_from(number("defaultLength", TAP_DEFAULT_LENGTH as i64))
                .unwrap_or(TAP_DEFAULT_LENGTH)
                .clamp(8, 48),
        }
    }

    /// The lifetimes a pass may have: the policy's, within Graph's bounds.
    fn lifetimes(&self) -> (i32, i32) {
        (
            self.minimum_lifetime.max(TAP_LIFETIME_BOUNDS.0),
            self.maximum_lifetime.min(TAP_LIFETIME_BOUNDS.1),
        )
    }
}

/// Whether a target (`all_users`, a group id or a user id) takes in the person, with the
/// fake's membership writes laid over the story.
fn targets(fake: &FakeGraph, target: &str, person_id: &str, writes: &[MembershipWrite]) -> bool {
    target.eq_ignore_ascii_case("all_users")
        || target.eq_ignore_ascii_case(person_id)
        || fake
            .policy_story()
            .transitive_members_with(target, fake.day(), writes)
            .is_some_and(|members| members.iter().any(|m| m.id.eq_ignore_ascii_case(person_id)))
}

/// A pass's usability at `now`: usable, or why not.
fn usability(pass: &IssuedPass, now: DateTime<Utc>, enabled: bool) -> (bool, &'static str) {
    let end = pass.start + chrono::Duration::minutes(i64::from(pass.lifetime_minutes));
    if !enabled {
        (false, "DisabledByPolicy")
    } else if now < pass.start {
        (false, "NotYetValid")
    } else if now >= end {
        (false, "Expired")
    } else {
        (true, "EnabledByPolicy")
    }
}

fn pass_method(
    pass: &IssuedPass,
    secret: Option<String>,
    now: DateTime<Utc>,
    enabled: bool,
) -> TemporaryAccessPassMethod {
    let (usable, reason) = usability(pass, now, enabled);
    TemporaryAccessPassMethod {
        odata_type: Some("#microsoft.graph.temporaryAccessPassAuthenticationMethod".to_owned()),
        id: pass.id.clone(),
        temporary_access_pass: secret,
        created_date_time: Some(pass.created),
        start_date_time: Some(pass.start),
        lifetime_in_minutes: Some(pass.lifetime_minutes),
        is_usable_once: Some(pass.usable_once),
        is_usable: Some(usable),
        method_usability_reason: Some(reason.to_owned()),
    }
}

/// A JSON answer with this status, its `@odata.context` first.
fn answer<T: Serialize>(
    status: StatusCode,
    headers: &HeaderMap,
    what: &str,
    value: &T,
) -> Response {
    let mut body = match serde_json::to_value(value) {
        Ok(Value::Object(fields)) => fields,
        Ok(_) | Err(_) => {
            return graph_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "generalException",
                "the answer could not be written",
            );
        }
    };
    body.insert(
        "@odata.context".to_owned(),
        Value::String(context(headers, what)),
    );
    match serde_json::to_vec(&body) {
        Ok(bytes) => (
            status,
            [(
                axum::http::header::CONTENT_TYPE,
                "application/json; odata.metadata=minimal",
            )],
            bytes,
        )
            .into_response(),
        Err(e) => graph_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generalException",
            &e.to_string(),
        ),
    }
}

async fn list_passes(
    State(fake): State<FakeGraph>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(refused) = guard(&fake, &headers).await {
        return refused;
    }
    let Some(index) = fake.person_index(&id) else {
        return not_found(&id);
    };
    let person_id = fake.tenant().people[index].id.to_ascii_lowercase();
    let enabled = PassPolicy::of(&fake).enabled;
    let now = fake.now();
    let value: Vec<TemporaryAccessPassMethod> = lock(&fake.inner.writes)
        .passes
        .get(&person_id)
        .map(|p| pass_method(p, None, now, enabled))
        .into_iter()
        .collect();
    lock(&fake.inner.served).tap_lists += 1;
    let page = Page {
        context: None,
        count: None,
        next_link: None,
        value,
    };
    answer(
        StatusCode::OK,
        &headers,
        &format!("users('{id}')/authentication/temporaryAccessPassMethods"),
        &page,
    )
}

async fn create_pass(
    State(fake): State<FakeGraph>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let asked = parse_body::<TemporaryAccessPassRequest>(&body);
    let resp = issue_pass(&fake, &headers, &id, asked.as_ref()).await;
    record(&fake, &method, &uri, &headers, asked.as_ref(), false, resp)
}

async fn issue_pass(
    fake: &FakeGraph,
    headers: &HeaderMap,
    id: &str,
    asked: Option<&TemporaryAccessPassRequest>,
) -> Response {
    if let Some(refused) = admit_write(fake, headers, |f| f.deny_tap_write).await {
        return refused;
    }
    let Some(index) = fake.person_index(id) else {
        return not_found(id);
    };
    let Some(asked) = asked else {
        return unreadable_body();
    };
    let person = &fake.tenant().people[index];
    if person.guest || person.external || person.upn.contains("#EXT#") {
        return pass_refused("Temporary Access Pass cannot be added to an external or guest user.");
    }
    let policy = PassPolicy::of(fake);
    let writes = lock(&fake.inner.writes).members.clone();
    let included = policy
        .include
        .iter()
        .any(|t| targets(fake, t, &person.id, &writes));
    let excluded = policy
        .exclude
        .iter()
        .any(|t| targets(fake, t, &person.id, &writes));
    if !policy.enabled || !included || excluded {
        return pass_refused(
            "The user is not enabled for the Temporary Access Pass authentication method by the authentication methods policy.",
        );
    }
    let (shortest, longest) = policy.lifetimes();
    let lifetime_minutes = asked.lifetime_in_minutes.unwrap_or(policy.default_lifetime);
    if !(shortest..=longest).contains(&lifetime_minutes) {
        return pass_refused(&format!(
            "Invalid LifetimeInMinutes specified. The valid range between {shortest} and {longest}."
        ));
    }
    if asked.is_usable_once == Some(false) && policy.usable_once {
        return pass_refused(
            "Multi-use Temporary Access Pass is not allowed by the authentication methods policy: isUsableOnce must be true.",
        );
    }
    let now = fake.now();
    let issued = IssuedPass {
        id: uuid::Uuid::new_v4().to_string(),
        created: now,
        start: asked.start_date_time.unwrap_or(now),
        lifetime_minutes,
        usable_once: asked.is_usable_once.unwrap_or(policy.usable_once),
    };
    let mut rng = rand::rng();
    let secret: String = (0..policy.length)
        .map(|_| char::from(PASS_ALPHABET[rng.random_range(0..PASS_ALPHABET.len())]))
        .collect();
    // One pass per person: the new one replaces the old.
    lock(&fake.inner.writes)
        .passes
        .insert(person.id.to_ascii_lowercase(), issued.clone());
    answer(
        StatusCode::CREATED,
        headers,
        &format!("users('{id}')/authentication/temporaryAccessPassMethods/$entity"),
        &pass_method(&issued, Some(secret), now, true),
    )
}

async fn check_member_groups(
    State(fake): State<FakeGraph>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(refused) = guard(&fake, &headers).await {
        return refused;
    }
    if fake.faults().deny_group_members {
        return permission_denied();
    }
    let Some(index) = fake.person_index(&id) else {
        return not_found(&id);
    };
    let Ok(asked) = serde_json::from_slice::<CheckMemberGroups>(&body) else {
        return unreadable_body();
    };
    if asked.group_ids.len() > CHECK_MEMBER_GROUPS_MAX {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            &format!(
                "The number of group ids is more than the maximum allowed ({CHECK_MEMBER_GROUPS_MAX})."
            ),
        );
    }
    let person_id = fake.tenant().people[index].id.clone();
    let writes = lock(&fake.inner.writes).members.clone();
    let value: Vec<String> = asked
        .group_ids
        .iter()
        .filter(|g| !g.eq_ignore_ascii_case("all_users"))
        .filter(|g| targets(&fake, g, &person_id, &writes))
        .map(|g| g.to_ascii_lowercase())
        .collect();
    lock(&fake.inner.served).member_group_checks += 1;
    answer(
        StatusCode::OK,
        &headers,
        "Collection(Edm.String)",
        &Page {
            context: None,
            count: None,
            next_link: None,
            value,
        },
    )
}

/// The app registration a write came from, as the audit log names it.
fn app_of(fake: &FakeGraph, client_id: Option<String>) -> AuditApp {
    let s = &fake.inner.settings;
    let (name, principal) = match client_id.as_deref() {
        Some(c) if c == s.write_client_id => (SIM_WRITE_APP_NAME, SIM_WRITE_SERVICE_PRINCIPAL_ID),
        _ => (SIM_APP_NAME, SIM_SERVICE_PRINCIPAL_ID),
    };
    AuditApp {
        app_id: client_id,
        display_name: Some(name.to_owned()),
        service_principal_id: Some(principal.to_owned()),
    }
}

/// The group a membership write names, and the person, checked as Graph checks them: the
/// write permission, the group (404; 403 for a role-assignable one), the person (404).
/// `Err` is the refusal to answer with.
async fn membership_target(
    fake: &FakeGraph,
    headers: &HeaderMap,
    group_id: &str,
    member_id: Result<String, Response>,
) -> Result<(&'static str, Member), Response> {
    if let Some(refused) = admit_write(fake, headers, |f| f.deny_member_write).await {
        return Err(refused);
    }
    let Some(group) = fake.policy_story().group(group_id) else {
        return Err(not_found(group_id));
    };
    if group.role_assignable {
        // Also needs RoleManagement.ReadWrite.Directory (graph-api.md §7).
        return Err(permission_denied());
    }
    let member_id = member_id?;
    let Some(index) = fake.person_index(&member_id) else {
        return Err(not_found(&member_id));
    };
    let p = &fake.tenant().people[index];
    Ok((
        group.id,
        Member {
            id: p.id.clone(),
            display_name: p.display_name.clone(),
            user_principal_name: p.upn.clone(),
        },
    ))
}

/// Whether the person is a direct member of the group today, writes laid over the story.
fn is_member(fake: &FakeGraph, group_id: &str, member: &Member) -> bool {
    let writes = lock(&fake.inner.writes).members.clone();
    fake.policy_story()
        .members_with(group_id, fake.day(), &writes)
        .is_some_and(|members| members.iter().any(|m| m.id == member.id))
}

/// Lays a membership change over the story, dated now on the story's clock.
fn write_membership(
    fake: &FakeGraph,
    headers: &HeaderMap,
    group_id: &'static str,
    member: Member,
    change: MembershipChange,
) {
    let app = app_of(fake, bearer_client(fake, headers));
    let write = MembershipWrite {
        day: fake.day(),
        at: fake.now(),
        group_id,
        member,
        change,
        app,
        audit_id: uuid::Uuid::new_v4().to_string(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
    };
    lock(&fake.inner.writes).members.push(write);
}

async fn add_member(
    State(fake): State<FakeGraph>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(group_id): Path<String>,
    body: Bytes,
) -> Response {
    let resp = async {
        // `…/v1.0/directoryObjects/{id}` (or `…/users/{id}`); refused only after the
        // permission and the group are checked, as Graph does.
        let reference = match serde_json::from_slice::<ObjectReference>(&body) {
            Err(_) => Err(unreadable_body()),
            Ok(r) => r
                .odata_id
                .rsplit_once('/')
                .filter(|(collection, id)| {
                    !id.is_empty()
                        && (collection.ends_with("/directoryObjects")
                            || collection.ends_with("/users"))
                })
                .map(|(_, id)| id.to_owned())
                .ok_or_else(|| {
                    graph_error(
                        StatusCode::BAD_REQUEST,
                        "Request_BadRequest",
                        &format!("Invalid object identifier '{}'.", r.odata_id),
                    )
                }),
        };
        let (group, member) = match membership_target(&fake, &headers, &group_id, reference).await {
            Ok(target) => target,
            Err(refused) => return refused,
        };
        if is_member(&fake, group, &member) {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
                ALREADY_A_MEMBER,
            );
        }
        write_membership(&fake, &headers, group, member, MembershipChange::Added);
        StatusCode::NO_CONTENT.into_response()
    }
    .await;
    record(&fake, &method, &uri, &headers, None, false, resp)
}

async fn remove_member(
    State(fake): State<FakeGraph>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((group_id, member_id)): Path<(String, String)>,
) -> Response {
    let resp = async {
        let (group, member) =
            match membership_target(&fake, &headers, &group_id, Ok(member_id.clone())).await {
                Ok(target) => target,
                Err(refused) => return refused,
            };
        if !is_member(&fake, group, &member) {
            return not_found(&member_id);
        }
        write_membership(&fake, &headers, group, member, MembershipChange::Removed);
        StatusCode::NO_CONTENT.into_response()
    }
    .await;
    record(&fake, &method, &uri, &headers, None, false, resp)
}

/// `DELETE /groups/{id}/members/{member}` without `/$ref`: in Graph, with write rights on
/// users, this deletes the person. Recorded so a test can show phoneless never sends it, and
/// refused.
async fn delete_member_object(
    State(fake): State<FakeGraph>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    tracing::error!(
        path = uri.path(),
        "a member DELETE without /$ref: Graph would delete the directory object"
    );
    let resp = graph_error(
        StatusCode::BAD_REQUEST,
        "Request_BadRequest",
        "The simulated tenant refuses DELETE /groups/{id}/members/{id} without /$ref: Graph would delete the directory object itself, not the membership.",
    );
    record(&fake, &method, &uri, &headers, None, true, resp)
}

#[cfg(test)]
mod tests {
    use super::super::policy::{
        ADD_MEMBER, EXCLUSION_GROUP_ID, NESTED_GROUP_ID, REMOVE_MEMBER, ROLE_GROUP_ID,
        SSPR_GROUP_ID,
    };
    use super::super::server::testing::{BASE, TOKEN, fake, get, send_with};
    use super::super::server::{FakeSettings, Faults, PolicyOverride, SIM_CLIENT_ID};
    use super::*;
    use serde_json::json;

    fn passes_uri(id: &str) -> String {
        format!("/v1.0/users/{id}/authentication/temporaryAccessPassMethods")
    }

    async fn post(fake: &FakeGraph, uri: &str, body: Value) -> (StatusCode, Value) {
        let (status, _, body) = send_with(fake, Method::POST, uri, TOKEN, Some(body)).await;
        (status, body)
    }

    async fn delete_(fake: &FakeGraph, uri: &str) -> (StatusCode, Value) {
        let (status, _, body) = send_with(fake, Method::DELETE, uri, TOKEN, None).await;
        (status, body)
    }

    /// A steady member (not a guest, not external) who is in none of the story's groups on
    /// any day.
    fn outsider(fake: &FakeGraph) -> String {
        let story = fake.policy_story();
        let mut ever = std::collections::HashSet::new();
        for g in story.groups() {
            for d in 0..=fake.tenant().days {
                for m in story.members(g.id, d).unwrap_or_default() {
                    ever.insert(m.id);
                }
            }
        }
        fake.tenant()
            .people
            .iter()
            .find(|p| p.steady() && !p.guest && !p.external && !ever.contains(&p.id))
            .map(|p| p.id.clone())
            .expect("an outsider")
    }

    fn member_ref(id: &str) -> Value {
        json!({"@odata.id": format!("{BASE}/v1.0/directoryObjects/{id}")})
    }

    /// The methods policy of today with the Temporary Access Pass configuration changed.
    fn with_pass_config(
        fake: &FakeGraph,
        change: impl Fn(&mut crate::graph::model::AuthenticationMethodConfiguration),
    ) {
        let mut policy = fake.policy_story().methods_policy(fake.day());
        for c in &mut policy.authentication_method_configurations {
            if c.id == "TemporaryAccessPass" {
                change(c);
            }
        }
        fake.set_policy_override(PolicyOverride {
            methods: Some(policy),
            ..PolicyOverride::default()
        });
    }

    #[tokio::test]
    async fn a_pass_follows_the_policy_limits_and_defaults() {
        let fake = fake();
        let id = outsider(&fake);
        // The story's policy: 60 to 480 minutes, 60 by default, multi-use allowed.
        let (status, body) = post(&fake, &passes_uri(&id), json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(
            body["@odata.type"],
            "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
        );
        assert_eq!(body["lifetimeInMinutes"], 60);
        assert_eq!(body["isUsableOnce"], false);
        assert_eq!(body["isUsable"], true);
        assert_eq!(body["methodUsabilityReason"], "EnabledByPolicy");
        let pass = body["temporaryAccessPass"].as_str().expect("the pass");
        assert!(pass.len() >= 8, "{pass}");
        for key in ["id", "createdDateTime", "startDateTime"] {
            assert!(body[key].is_string(), "{key}: {body}");
        }

        for (lifetime, ok) in [(59, false), (60, true), (480, true), (481, false)] {
            let (status, body) = post(
                &fake,
                &passes_uri(&id),
                json!({"lifetimeInMinutes": lifetime}),
            )
            .await;
            if ok {
                assert_eq!(status, StatusCode::CREATED, "{lifetime}: {body}");
                assert_eq!(body["lifetimeInMinutes"], lifetime);
            } else {
                assert_eq!(status, StatusCode::BAD_REQUEST, "{lifetime}");
                assert_eq!(body["error"]["code"], "badRequest");
                assert_eq!(
                    body["error"]["message"],
                    "Invalid LifetimeInMinutes specified. The valid range between 60 and 480."
                );
            }
        }

        // A policy that wants one-time passes refuses multi-use, and makes one-time the
        // default; Graph's own bounds hold whatever the policy says.
        with_pass_config(&fake, |c| {
            c.extra.insert("isUsableOnce".into(), json!(true));
            c.extra.insert("minimumLifetimeInMinutes".into(), json!(1));
            c.extra
                .insert("maximumLifetimeInMinutes".into(), json!(100_000));
        });
        let (status, body) = post(&fake, &passes_uri(&id), json!({"isUsableOnce": false})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("Multi-use"))
        );
        let (status, body) = post(&fake, &passes_uri(&id), json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["isUsableOnce"], true);
        for (lifetime, ok) in [(9, false), (10, true), (43_200, true), (43_201, false)] {
            let (status, _) = post(
                &fake,
                &passes_uri(&id),
                json!({"lifetimeInMinutes": lifetime}),
            )
            .await;
            assert_eq!(status.is_success(), ok, "{lifetime}");
        }
    }

    #[tokio::test]
    async fn a_pass_only_for_people_the_policy_takes_in_and_never_for_guests() {
        let fake = fake();
        let id = outsider(&fake);
        let guest = fake
            .tenant()
            .people
            .iter()
            .find(|p| p.steady() && p.guest)
            .map(|p| p.id.clone())
            .expect("a guest");
        let external_member = fake
            .tenant()
            .people
            .iter()
            .find(|p| p.steady() && !p.guest && p.external)
            .map(|p| p.id.clone())
            .expect("an external member");
        for who in [&guest, &external_member] {
            let (status, body) = post(&fake, &passes_uri(who), json!({})).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("guest"))
            );
        }
        let (status, body) = post(
            &fake,
            &passes_uri("00000000-0000-4000-8000-00000000dead"),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(body["error"]["code"], "Request_ResourceNotFound");

        // Targeted at the SSPR group only: someone outside it is refused until they join.
        with_pass_config(&fake, |c| {
            c.include_targets[0].id = SSPR_GROUP_ID.to_owned();
        });
        let (status, body) = post(&fake, &passes_uri(&id), json!({})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("not enabled"))
        );
        let uri = format!("/v1.0/groups/{SSPR_GROUP_ID}/members/$ref");
        assert_eq!(
            post(&fake, &uri, member_ref(&id)).await.0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            post(&fake, &passes_uri(&id), json!({})).await.0,
            StatusCode::CREATED
        );
        // Excluded wins over included; a disabled method takes in nobody.
        with_pass_config(&fake, |c| {
            c.exclude_targets.push(crate::graph::model::ExcludeTarget {
                id: SSPR_GROUP_ID.to_owned(),
                target_type: "group".to_owned(),
            });
        });
        assert_eq!(
            post(&fake, &passes_uri(&id), json!({})).await.0,
            StatusCode::BAD_REQUEST
        );
        with_pass_config(&fake, |c| c.state = "disabled".to_owned());
        assert_eq!(
            post(&fake, &passes_uri(&id), json!({})).await.0,
            StatusCode::BAD_REQUEST
        );
    }

    #[tokio::test]
    async fn one_pass_per_person_and_the_list_hides_it_and_sees_it_expire() {
        let fake = fake();
        fake.set_day(10);
        let id = outsider(&fake);
        let (status, _, list) = get(&fake, &passes_uri(&id)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list["value"], json!([]));
        let (_, first) = post(&fake, &passes_uri(&id), json!({})).await;
        let (_, second) = post(&fake, &passes_uri(&id), json!({"lifetimeInMinutes": 120})).await;
        assert_ne!(first["id"], second["id"]);
        let (status, _, list) = get(&fake, &passes_uri(&id)).await;
        assert_eq!(status, StatusCode::OK);
        let value = list["value"].as_array().expect("value");
        assert_eq!(value.len(), 1, "the new one replaced the old: {list}");
        let method = &value[0];
        assert_eq!(method["id"], second["id"]);
        assert!(method["temporaryAccessPass"].is_null(), "{method}");
        assert!(
            !list
                .to_string()
                .contains(second["temporaryAccessPass"].as_str().expect("pass")),
            "the pass is never listed"
        );
        assert_eq!(method["lifetimeInMinutes"], 120);
        assert_eq!(method["isUsable"], true);
        // The next day of the story it has expired.
        fake.set_day(11);
        let (_, _, list) = get(&fake, &passes_uri(&id)).await;
        assert_eq!(list["value"][0]["isUsable"], false);
        assert_eq!(list["value"][0]["methodUsabilityReason"], "Expired");
        // Recorded as asked, without the pass.
        let writes = fake.writes();
        assert_eq!(writes.len(), 2);
        assert_eq!(writes[1].lifetime_minutes, Some(120));
        assert_eq!(writes[0].lifetime_minutes, None);
        assert_eq!(writes[1].client_id.as_deref(), Some(SIM_CLIENT_ID));
        assert_eq!(writes[1].status, 201);
        assert_eq!(fake.served().writes_done, 2);
        assert_eq!(fake.served().tap_lists, 3);
    }

    #[tokio::test]
    async fn members_are_added_and_removed_over_the_story() {
        let fake = fake();
        let day = fake.day();
        let id = outsider(&fake);
        let add = format!("/v1.0/groups/{NESTED_GROUP_ID}/members/$ref");
        let remove = format!("/v1.0/groups/{NESTED_GROUP_ID}/members/{id}/$ref");
        let in_list = |body: &Value| {
            body["value"]
                .as_array()
                .is_some_and(|v| v.iter().any(|m| m["id"] == id.as_str()))
        };
        let check = format!("/v1.0/users/{id}/checkMemberGroups");
        let groups = json!({"groupIds": [EXCLUSION_GROUP_ID, NESTED_GROUP_ID, SSPR_GROUP_ID]});

        // Not a member: removing is 404; checkMemberGroups finds nothing.
        assert_eq!(delete_(&fake, &remove).await.0, StatusCode::NOT_FOUND);
        let (status, body) = post(&fake, &check, groups.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["value"], json!([]));

        let (status, body) = post(&fake, &add, member_ref(&id)).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let (status, body) = post(&fake, &add, member_ref(&id)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["message"], ALREADY_A_MEMBER);

        // Seen by /members of the group, /transitiveMembers of the group it is nested in, and
        // checkMemberGroups, transitively.
        let (_, _, members) = get(&fake, &format!("/v1.0/groups/{NESTED_GROUP_ID}/members")).await;
        assert!(in_list(&members), "{members}");
        let (_, _, parent) = get(
            &fake,
            &format!("/v1.0/groups/{EXCLUSION_GROUP_ID}/members?$top=999"),
        )
        .await;
        assert!(!in_list(&parent), "not a direct member of the parent");
        let transitive = format!("/v1.0/groups/{EXCLUSION_GROUP_ID}/transitiveMembers?$top=999");
        let (_, _, all) = get(&fake, &transitive).await;
        assert!(in_list(&all), "{all}");
        let (_, body) = post(&fake, &check, groups.clone()).await;
        assert_eq!(body["value"], json!([EXCLUSION_GROUP_ID, NESTED_GROUP_ID]));

        // The audit log has the join, made by the app.
        let audit = fake
            .policy_story()
            .audits_with(day, &fake.membership_writes());
        let entry = audit
            .iter()
            .find(|a| a.target_resources[0].id == id)
            .expect("an audit entry");
        assert_eq!(entry.activity_display_name, ADD_MEMBER);
        assert_eq!(entry.category, "GroupManagement");
        assert!(entry.initiated_by.user.is_none());
        let app = entry.initiated_by.app.as_ref().expect("the app");
        assert_eq!(app.app_id.as_deref(), Some(SIM_CLIENT_ID));
        assert_eq!(app.display_name.as_deref(), Some(SIM_APP_NAME));
        assert_eq!(
            entry.target_resources[0].modified_properties[0]
                .new_value
                .as_deref(),
            Some(format!("\"{NESTED_GROUP_ID}\"").as_str())
        );
        let uri = format!(
            "/v1.0/auditLogs/directoryAudits?$filter={}",
            super::super::server::query_value(&format!("activityDisplayName eq '{ADD_MEMBER}'"))
        );
        let (_, _, served) = get(&fake, &uri).await;
        assert!(
            served["value"]
                .as_array()
                .is_some_and(|v| v.iter().any(|a| a["id"] == entry.id.as_str())),
            "served by the audit endpoint"
        );

        // Earlier days of the story do not have it.
        if day > 0 {
            fake.set_day(day - 1);
            let (_, _, members) =
                get(&fake, &format!("/v1.0/groups/{NESTED_GROUP_ID}/members")).await;
            assert!(!in_list(&members));
            fake.set_day(day);
        }

        assert_eq!(delete_(&fake, &remove).await.0, StatusCode::NO_CONTENT);
        assert_eq!(delete_(&fake, &remove).await.0, StatusCode::NOT_FOUND);
        let (_, _, members) = get(&fake, &format!("/v1.0/groups/{NESTED_GROUP_ID}/members")).await;
        assert!(!in_list(&members));
        let (_, body) = post(&fake, &check, groups).await;
        assert_eq!(body["value"], json!([]));
        let audit = fake
            .policy_story()
            .audits_with(day, &fake.membership_writes());
        assert_eq!(
            audit
                .iter()
                .find(|a| a.target_resources[0].id == id)
                .map(|a| a.activity_display_name.as_str()),
            Some(REMOVE_MEMBER),
            "newest first"
        );

        let statuses: Vec<u16> = fake.writes().iter().map(|w| w.status).collect();
        assert_eq!(statuses, [404, 204, 400, 204, 404]);
        assert_eq!(fake.served().dangerous_calls, 0);
    }

    #[tokio::test]
    async fn unknown_people_and_groups_are_404_and_role_groups_403() {
        let fake = fake();
        let id = outsider(&fake);
        let missing = "00000000-0000-4000-8000-00000000dead";
        let add = |g: &str| format!("/v1.0/groups/{g}/members/$ref");
        assert_eq!(
            post(&fake, &add(EXCLUSION_GROUP_ID), member_ref(missing))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            post(&fake, &add(missing), member_ref(&id)).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            post(&fake, &add(ROLE_GROUP_ID), member_ref(&id)).await.0,
            StatusCode::FORBIDDEN
        );
        let (status, body) = post(&fake, &add(EXCLUSION_GROUP_ID), json!({"@odata.id": id})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            post(&fake, &add(EXCLUSION_GROUP_ID), json!("x")).await.0,
            StatusCode::BAD_REQUEST
        );
        let check = format!("/v1.0/users/{missing}/checkMemberGroups");
        assert_eq!(
            post(&fake, &check, json!({"groupIds": []})).await.0,
            StatusCode::NOT_FOUND
        );
        let too_many: Vec<String> = (0..21).map(|_| EXCLUSION_GROUP_ID.to_owned()).collect();
        let check = format!("/v1.0/users/{id}/checkMemberGroups");
        assert_eq!(
            post(&fake, &check, json!({"groupIds": too_many})).await.0,
            StatusCode::BAD_REQUEST
        );
        let (status, _, body) = get(&fake, &format!("/v1.0/users/{missing}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "Request_ResourceNotFound");
        let (status, _, body) = get(
            &fake,
            &format!("/v1.0/users/{id}?$select=id,userType,creationType"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["id"], id.as_str());
        assert_eq!(body["userType"], "Member");
        assert!(
            body["creationType"].is_null() && body.get("department").is_none(),
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_member_delete_without_ref_is_recorded_as_dangerous_and_refused() {
        let fake = fake();
        let member = fake
            .policy_story()
            .members(EXCLUSION_GROUP_ID, fake.day())
            .expect("group")[0]
            .clone();
        let uri = format!("/v1.0/groups/{EXCLUSION_GROUP_ID}/members/{}", member.id);
        let (status, _) = delete_(&fake, &uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let writes = fake.writes();
        assert_eq!(writes.len(), 1);
        assert!(writes[0].dangerous && writes[0].path == uri, "{writes:?}");
        assert_eq!(fake.served().dangerous_calls, 1);
        // Nothing happened to the membership.
        assert!(is_member(&fake, EXCLUSION_GROUP_ID, &member));
    }

    #[tokio::test]
    async fn writes_need_the_permission_and_obey_the_shared_faults() {
        let fake = fake();
        let id = outsider(&fake);
        let add = format!("/v1.0/groups/{EXCLUSION_GROUP_ID}/members/$ref");
        fake.set_faults(Faults {
            deny_tap_write: true,
            ..Faults::default()
        });
        let (status, body) = post(&fake, &passes_uri(&id), json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error"]["code"], "Authorization_RequestDenied");
        assert_eq!(
            body["error"]["message"],
            "Insufficient privileges to complete the operation."
        );
        assert_eq!(
            get(&fake, &passes_uri(&id)).await.0,
            StatusCode::OK,
            "reading is not writing"
        );
        assert_eq!(
            post(&fake, &add, member_ref(&id)).await.0,
            StatusCode::NO_CONTENT
        );
        fake.set_faults(Faults {
            deny_member_write: true,
            ..Faults::default()
        });
        let remove = format!("/v1.0/groups/{EXCLUSION_GROUP_ID}/members/{id}/$ref");
        assert_eq!(delete_(&fake, &remove).await.0, StatusCode::FORBIDDEN);
        assert_eq!(
            post(&fake, &passes_uri(&id), json!({})).await.0,
            StatusCode::CREATED
        );
        fake.set_faults(Faults {
            throttle: 1,
            ..Faults::default()
        });
        assert_eq!(
            delete_(&fake, &remove).await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(delete_(&fake, &remove).await.0, StatusCode::NO_CONTENT);
        let statuses: Vec<u16> = fake.writes().iter().map(|w| w.status).collect();
        assert_eq!(statuses, [403, 204, 403, 201, 429, 204]);

        // Only the clients granted the write permissions may write.
        let only_others = FakeGraph::new(
            fake.tenant().clone(),
            FakeSettings {
                write_clients: Some(vec!["someone-else".to_owned()]),
                ..FakeSettings::default()
            },
        );
        super::super::server::testing::give_token(&only_others, TOKEN, SIM_CLIENT_ID);
        assert_eq!(
            post(&only_others, &passes_uri(&id), json!({})).await.0,
            StatusCode::FORBIDDEN
        );
        let (status, _, _) = send_with(
            &only_others,
            Method::POST,
            &add,
            "sim.not-a-token",
            Some(member_ref(&id)),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(only_others.writes()[1].client_id, None);
    }
}
