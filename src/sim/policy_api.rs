//! The fake Graph's policy, group and audit endpoints, serving the story of [`super::policy`] on
//! the day the fake is set to (graph-api.md §5–§8):
//!
//! - `GET /v1.0/policies/authenticationMethodsPolicy` (configurations expanded),
//! - `GET /v1.0/policies/authenticationStrengthPolicies` (`$filter=policyType eq '…'`),
//! - `GET /v1.0/identity/conditionalAccess/policies`, limited to one request per second per
//!   tenant; a faster request gets 429 **without** `Retry-After`, as Graph does (§6, §9),
//! - `GET /beta/policies/authenticationMethodsPolicy`: the same policy with the beta-only
//!   properties (`optOutSettings`, `systemCredentialPreferences`, the Authenticator's
//!   `numberMatchingRequiredState` and `companionAppAllowedState`),
//! - `GET /v1.0/groups/{id}` and `/v1.0/groups/{id}/members` (`$select`; members paged, `$top`
//!   1–999, users and member groups each with its `@odata.type`), and
//!   `/v1.0/groups/{id}/transitiveMembers` (the users of the group and of its nested groups,
//!   each once, paged the same way),
//! - `GET /v1.0/auditLogs/directoryAudits` (`$filter` on `activityDateTime`,
//!   `activityDisplayName`, `category`, `loggedByService` with `and`, `or` and parentheses;
//!   newest first, paged).
//!
//! Every endpoint wants a bearer token and obeys the shared faults (`admit`); missing
//! permissions are the `deny_policies`, `deny_group_members` and `deny_audit` faults. Answers
//! carry `@odata.context`, and nextLinks opaque skiptokens.

use super::policy::{Member, PolicyStory, SimGroup};
use super::server::{
    FakeGraph, Paged, admit, bad_request, bad_skiptoken, base_url, beta_context, context,
    graph_error, json_bytes, lock, page_start, query_value, selection, skiptoken,
};
use crate::graph::model::{DirectoryAudit, DirectoryObject, Page};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Conditional Access reads: one request per second per tenant (graph-api.md §6, §9).
pub const CONDITIONAL_ACCESS_INTERVAL: Duration = Duration::from_secs(1);
/// Default and largest page of `/members` and the audit log.
pub(super) const DEFAULT_PAGE_SIZE: usize = 100;
pub(super) const MAX_PAGE_SIZE: usize = 999;

pub(super) fn routes() -> Router<FakeGraph> {
    Router::new()
        .route(
            "/v1.0/policies/authenticationMethodsPolicy",
            get(methods_policy),
        )
        .route(
            "/beta/policies/authenticationMethodsPolicy",
            get(beta_methods_policy),
        )
        .route(
            "/v1.0/policies/authenticationStrengthPolicies",
            get(strength_policies),
        )
        .route(
            "/v1.0/identity/conditionalAccess/policies",
            get(conditional_access),
        )
        .route("/v1.0/groups/{id}", get(group))
        .route("/v1.0/groups/{id}/members", get(group_members))
        .route(
            "/v1.0/groups/{id}/transitiveMembers",
            get(group_transitive_members),
        )
        .route("/v1.0/auditLogs/directoryAudits", get(directory_audits))
}

pub(super) fn json<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => json_bytes(body),
        Err(e) => internal_error(&e),
    }
}

pub(super) fn internal_error(e: &serde_json::Error) -> Response {
    graph_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "generalException",
        &e.to_string(),
    )
}

/// One entity (`what` as its `@odata.context` names it, e.g. `groups/$entity`), its context
/// first as Graph sends it.
fn entity<T: Serialize>(headers: &HeaderMap, what: &str, value: &T) -> Response {
    match serde_json::to_value(value) {
        Ok(Value::Object(mut fields)) => {
            fields.insert(
                "@odata.context".to_owned(),
                Value::String(context(headers, what)),
            );
            json(&fields)
        }
        Ok(other) => json(&other),
        Err(e) => internal_error(&e),
    }
}

/// A page of a collection (`what` as its `@odata.context` names it).
pub(super) fn page<T: Serialize>(
    headers: &HeaderMap,
    what: &str,
    value: Vec<T>,
    next_link: Option<String>,
) -> Response {
    json(&Page {
        context: Some(context(headers, what)),
        count: None,
        next_link,
        value,
    })
}

pub(super) fn unsupported(message: &str) -> Response {
    graph_error(StatusCode::BAD_REQUEST, "Request_UnsupportedQuery", message)
}

fn story(fake: &FakeGraph) -> &PolicyStory {
    fake.policy_story()
}

async fn methods_policy(State(fake): State<FakeGraph>, headers: HeaderMap) -> Response {
    if let Some(refused) = admit(&fake, &headers, |f| f.deny_policies).await {
        return refused;
    }
    lock(&fake.inner.served).methods_policy_requests += 1;
    let what = "policies/authenticationMethodsPolicy/$entity";
    match fake.policy_override().methods {
        Some(m) => entity(&headers, what, &m),
        None => entity(&headers, what, &story(&fake).methods_policy(fake.day())),
    }
}

async fn beta_methods_policy(State(fake): State<FakeGraph>, headers: HeaderMap) -> Response {
    if let Some(refused) = admit(&fake, &headers, |f| f.deny_policies).await {
        return refused;
    }
    lock(&fake.inner.served).beta_methods_policy_requests += 1;
    let story = story(&fake);
    let day = fake.day();
    let overridden = fake.policy_override();
    let policy = match (overridden.beta_methods, overridden.methods) {
        (Some(beta), _) => beta,
        (None, Some(v1)) => crate::graph::model::AuthenticationMethodsPolicy {
            opt_out_settings: story.beta_methods_policy(day).opt_out_settings,
            ..v1
        },
        (None, None) => story.beta_methods_policy(day),
    };
    let mut body = match serde_json::to_value(&policy) {
        Ok(body) => body,
        Err(e) => return internal_error(&e),
    };
    with_beta_only_properties(&mut body);
    body["@odata.context"] = Value::String(beta_context(
        &headers,
        "policies/authenticationMethodsPolicy/$entity",
    ));
    json(&body)
}

/// What beta adds to the policy beside `optOutSettings` (graph-api.md §5), so a client reading
/// beta meets them as it would from Graph; added where missing.
fn with_beta_only_properties(body: &mut Value) {
    let Value::Object(fields) = body else {
        return;
    };
    fields
        .entry("systemCredentialPreferences")
        .or_insert_with(|| {
            serde_json::json!({
                "state": "default",
                "excludeTargets": [],
                "includeTargets": [{"id": "all_users", "targetType": "group"}],
            })
        });
    let Some(Value::Array(configs)) = fields.get_mut("authenticationMethodConfigurations") else {
        return;
    };
    for c in configs {
        if c["id"] != "MicrosoftAuthenticator" {
            continue;
        }
        if let Some(Value::Object(features)) = c.get_mut("featureSettings") {
            for name in ["numberMatchingRequiredState", "companionAppAllowedState"] {
                features.entry(name).or_insert_with(|| {
                    serde_json::json!({
                        "state": if name == "numberMatchingRequiredState" { "enabled" } else { "default" },
                        "includeTarget": {"targetType": "group", "id": "all_users"},
                        "excludeTarget": {"targetType": "group", "id": "00000000-0000-0000-0000-000000000000"},
                    })
                });
            }
        }
    }
}

async fn strength_policies(
    State(fake): State<FakeGraph>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = admit(&fake, &headers, |f| f.deny_policies).await {
        return refused;
    }
    let mut value = fake
        .policy_override()
        .strengths
        .unwrap_or_else(|| story(&fake).strength_policies(fake.day()));
    if let Some(filter) = q.get("$filter") {
        let Some(kind) = filter
            .trim()
            .strip_prefix("policyType eq '")
            .and_then(|rest| rest.strip_suffix('\''))
        else {
            return unsupported(&format!("Invalid filter clause: '{filter}'."));
        };
        value.retain(|p| p.policy_type.eq_ignore_ascii_case(kind));
    }
    lock(&fake.inner.served).strength_requests += 1;
    page(
        &headers,
        "policies/authenticationStrengthPolicies",
        value,
        None,
    )
}

async fn conditional_access(State(fake): State<FakeGraph>, headers: HeaderMap) -> Response {
    if let Some(refused) = admit(&fake, &headers, |f| f.deny_policies).await {
        return refused;
    }
    let now = Instant::now();
    // A throttled request counts too (graph-api.md §9): retrying at once keeps failing.
    let too_soon = lock(&fake.inner.last_conditional_access)
        .replace(now)
        .is_some_and(|last| {
            now.duration_since(last) < fake.inner.settings.conditional_access_interval
        });
    if too_soon {
        lock(&fake.inner.served).conditional_access_throttled += 1;
        return graph_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests.",
        );
    }
    lock(&fake.inner.served).conditional_access_requests += 1;
    let value = fake
        .policy_override()
        .conditional_access
        .unwrap_or_else(|| story(&fake).conditional_access(fake.day()));
    page(&headers, "identity/conditionalAccess/policies", value, None)
}

fn group_not_found(id: &str) -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

async fn group(
    State(fake): State<FakeGraph>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = admit(&fake, &headers, |f| f.deny_group_members).await {
        return refused;
    }
    let story = story(&fake);
    let Some(group) = story.group(&id) else {
        return group_not_found(&id);
    };
    let select = match selection(
        q.get("$select"),
        GROUP_PROPERTIES,
        "Microsoft.DirectoryServices.Group",
    ) {
        Ok(select) => select,
        Err(message) => return bad_request(&message),
    };
    lock(&fake.inner.served).group_requests += 1;
    let body = match group_value(story, group) {
        Ok(body) => projected(body, select.as_deref()),
        Err(e) => return internal_error(&e),
    };
    let what = match &select {
        Some(s) => format!("groups({})/$entity", s.join(",")),
        None => "groups/$entity".to_owned(),
    };
    entity(&headers, &what, &body)
}

/// A group as `/groups/{id}` and `/members` show it: its [`crate::graph::model::Group`] and
/// `isAssignableToRole` (`true` for a role-assignable group, `null` for the others).
pub(super) fn group_value(
    story: &PolicyStory,
    group: &SimGroup,
) -> Result<Value, serde_json::Error> {
    let mut value = serde_json::to_value(group.to_graph(story.start()))?;
    if let Value::Object(fields) = &mut value {
        fields.insert(
            "isAssignableToRole".to_owned(),
            if group.role_assignable {
                Value::Bool(true)
            } else {
                Value::Null
            },
        );
    }
    Ok(value)
}

/// The group properties the fake holds (`$select` of any other is Graph's 400).
const GROUP_PROPERTIES: &[&str] = &[
    "createdDateTime",
    "description",
    "displayName",
    "groupTypes",
    "id",
    "isAssignableToRole",
    "mailEnabled",
    "mailNickname",
    "securityEnabled",
];

/// The properties the fake holds for a group's members: a user's names, a group's own.
const MEMBER_PROPERTIES: &[&str] = &[
    "createdDateTime",
    "description",
    "displayName",
    "groupTypes",
    "id",
    "isAssignableToRole",
    "mailEnabled",
    "mailNickname",
    "securityEnabled",
    "userPrincipalName",
];

/// An object's JSON with only the properties asked for (and its `@odata.type`, which Graph
/// always sends for directory objects); all of it without `$select`.
fn projected(value: Value, properties: Option<&[&str]>) -> Value {
    match (value, properties) {
        (Value::Object(fields), Some(properties)) => Value::Object(
            fields
                .into_iter()
                .filter(|(k, _)| k == "@odata.type" || properties.contains(&k.as_str()))
                .collect(),
        ),
        (value, _) => value,
    }
}

/// `$top` as Graph reads it: 1 to 999, [`DEFAULT_PAGE_SIZE`] when absent.
pub(super) fn page_size(q: &HashMap<String, String>) -> Result<usize, String> {
    match q.get("$top") {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(raw) => match raw.parse::<usize>() {
            Ok(top) if (1..=MAX_PAGE_SIZE).contains(&top) => Ok(top),
            _ => Err(format!(
                "Invalid page size specified: '{raw}'. Must be between 1 and 999 inclusive."
            )),
        },
    }
}

/// A group's direct members as `/members` lists them: its people as
/// `#microsoft.graph.user`, and any member group as `#microsoft.graph.group` with a group's
/// properties (second in the list, among the people).
fn member_objects(
    story: &PolicyStory,
    id: &str,
    people: &[Member],
) -> Result<Vec<Value>, serde_json::Error> {
    let mut out = people
        .iter()
        .map(|m| serde_json::to_value(user_object(m)))
        .collect::<Result<Vec<_>, _>>()?;
    for group in story.nested_groups(id) {
        let mut object = group_value(story, group)?;
        if let Value::Object(fields) = &mut object {
            fields.insert(
                "@odata.type".to_owned(),
                Value::String("#microsoft.graph.group".to_owned()),
            );
        }
        out.insert(out.len().min(1), object);
    }
    Ok(out)
}

pub(super) fn user_object(m: &Member) -> DirectoryObject {
    DirectoryObject {
        odata_type: "#microsoft.graph.user".to_owned(),
        id: m.id.clone(),
        display_name: Some(m.display_name.clone()),
        user_principal_name: Some(m.user_principal_name.clone()),
    }
}

async fn group_members(
    State(fake): State<FakeGraph>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    members_page(&fake, &headers, &id, &q, false).await
}

async fn group_transitive_members(
    State(fake): State<FakeGraph>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    members_page(&fake, &headers, &id, &q, true).await
}

/// A page of `/members` (direct members, nested groups among them) or of
/// `/transitiveMembers` (only users, those of nested groups too, each once).
async fn members_page(
    fake: &FakeGraph,
    headers: &HeaderMap,
    id: &str,
    q: &HashMap<String, String>,
    transitive: bool,
) -> Response {
    if let Some(refused) = admit(fake, headers, |f| f.deny_group_members).await {
        return refused;
    }
    let top = match page_size(q) {
        Ok(top) => top,
        Err(message) => return unsupported(&message),
    };
    let (paged, segment) = if transitive {
        (Paged::TransitiveMembers, "transitiveMembers")
    } else {
        (Paged::Members, "members")
    };
    let Some((day, from)) = page_start(fake, q, paged) else {
        return bad_skiptoken();
    };
    let select = match selection(
        q.get("$select"),
        MEMBER_PROPERTIES,
        "Microsoft.DirectoryServices.DirectoryObject",
    ) {
        Ok(select) => select,
        Err(message) => return bad_request(&message),
    };
    let story = story(fake);
    let writes = lock(&fake.inner.writes).members.clone();
    let people = if transitive {
        story.transitive_members_with(id, day, &writes)
    } else {
        story.members_with(id, day, &writes)
    };
    let Some(people) = people else {
        return group_not_found(id);
    };
    let objects = if transitive {
        people
            .iter()
            .map(|m| serde_json::to_value(user_object(m)))
            .collect::<Result<Vec<_>, _>>()
    } else {
        member_objects(story, id, &people)
    };
    let objects = match objects {
        Ok(objects) => objects,
        Err(e) => return internal_error(&e),
    };
    let value: Vec<Value> = objects
        .iter()
        .skip(from)
        .take(top)
        .map(|o| projected(o.clone(), select.as_deref()))
        .collect();
    let next = from + value.len();
    let listed = select.as_ref().map(|s| s.join(","));
    let select_param = listed
        .as_ref()
        .map(|s| format!("$select={s}&"))
        .unwrap_or_default();
    let next_link = (next < objects.len()).then(|| {
        format!(
            "{}/v1.0/groups/{id}/{segment}?{select_param}$top={top}&$skiptoken={}",
            base_url(headers),
            query_value(&skiptoken(paged, day, next))
        )
    });
    {
        let mut served = lock(&fake.inner.served);
        if transitive {
            served.transitive_member_pages += 1;
        } else {
            served.member_pages += 1;
        }
    }
    let what = match &listed {
        Some(s) => format!("directoryObjects({s})"),
        None => "directoryObjects".to_owned(),
    };
    page(headers, &what, value, next_link)
}

async fn directory_audits(
    State(fake): State<FakeGraph>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = admit(&fake, &headers, |f| f.deny_audit).await {
        return refused;
    }
    let filter = match q.get("$filter").map(|f| AuditFilter::parse(f)) {
        None => None,
        Some(Ok(f)) => Some(f),
        Some(Err(message)) => {
            return graph_error(StatusCode::BAD_REQUEST, "BadRequest", &message);
        }
    };
    let oldest_first = match q.get("$orderby").map(|o| o.trim()) {
        None | Some("activityDateTime desc") => false,
        Some("activityDateTime asc" | "activityDateTime") => true,
        Some(other) => {
            return unsupported(&format!("Unsupported $orderby: '{other}'."));
        }
    };
    let top = match page_size(&q) {
        Ok(top) => top,
        Err(message) => return unsupported(&message),
    };
    let Some((day, from)) = page_start(&fake, &q, Paged::Audit) else {
        return bad_skiptoken();
    };
    let writes = lock(&fake.inner.writes).members.clone();
    let mut entries: Vec<DirectoryAudit> = story(&fake)
        .audits_with(day, &writes)
        .into_iter()
        .filter(|a| filter.as_ref().is_none_or(|f| f.matches(a)))
        .collect();
    if oldest_first {
        entries.reverse();
    }
    let total = entries.len();
    let value: Vec<DirectoryAudit> = entries.into_iter().skip(from).take(top).collect();
    let next = from + value.len();
    let mut carried = String::new();
    for key in ["$filter", "$orderby"] {
        if let Some(v) = q.get(key) {
            carried.push_str(&format!("{key}={}&", query_value(v)));
        }
    }
    let next_link = (next < total).then(|| {
        format!(
            "{}/v1.0/auditLogs/directoryAudits?{carried}$top={top}&$skiptoken={}",
            base_url(&headers),
            query_value(&skiptoken(Paged::Audit, day, next))
        )
    });
    lock(&fake.inner.served).audit_pages += 1;
    page(&headers, "auditLogs/directoryAudits", value, next_link)
}

/// The directory-audit `$filter` forms the fake understands: comparisons on
/// `activityDateTime` (`eq ge gt le lt`, an unquoted ISO 8601 instant) and `eq` on
/// `activityDisplayName`, `category` and `loggedByService` (quoted, `''` for a quote),
/// joined by `and`/`or` with parentheses. Anything else is refused with 400, as Graph does.
#[derive(Debug, Clone, PartialEq)]
enum AuditFilter {
    And(Box<AuditFilter>, Box<AuditFilter>),
    Or(Box<AuditFilter>, Box<AuditFilter>),
    Time(Comparison, DateTime<Utc>),
    Text(TextField, String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Comparison {
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TextField {
    ActivityDisplayName,
    Category,
    LoggedByService,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    Open,
    Close,
    Word(String),
    Quoted(String),
}

/// The words, quoted strings and parentheses of an OData `$filter`.
pub(super) fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            '\'' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        None => return Err("Unterminated string literal in $filter.".into()),
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            text.push('\'');
                        }
                        Some('\'') => break,
                        Some(c) => text.push(c),
                    }
                }
                out.push(Token::Quoted(text));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '\'') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

impl AuditFilter {
    fn parse(s: &str) -> Result<AuditFilter, String> {
        let tokens = tokenize(s)?;
        let mut pos = 0;
        let filter = Self::or(&tokens, &mut pos)?;
        if pos != tokens.len() {
            return Err(format!("Invalid filter clause: unexpected text in '{s}'."));
        }
        Ok(filter)
    }

    fn keyword(tokens: &[Token], pos: usize, word: &str) -> bool {
        matches!(tokens.get(pos), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(tokens: &[Token], pos: &mut usize) -> Result<AuditFilter, String> {
        let mut left = Self::and(tokens, pos)?;
        while Self::keyword(tokens, *pos, "or") {
            *pos += 1;
            left = AuditFilter::Or(Box::new(left), Box::new(Self::and(tokens, pos)?));
        }
        Ok(left)
    }

    fn and(tokens: &[Token], pos: &mut usize) -> Result<AuditFilter, String> {
        let mut left = Self::primary(tokens, pos)?;
        while Self::keyword(tokens, *pos, "and") {
            *pos += 1;
            left = AuditFilter::And(Box::new(left), Box::new(Self::primary(tokens, pos)?));
        }
        Ok(left)
    }

    fn primary(tokens: &[Token], pos: &mut usize) -> Result<AuditFilter, String> {
        if tokens.get(*pos) == Some(&Token::Open) {
            *pos += 1;
            let inner = Self::or(tokens, pos)?;
            if tokens.get(*pos) != Some(&Token::Close) {
                return Err("Invalid filter clause: ')' expected.".into());
            }
            *pos += 1;
            return Ok(inner);
        }
        let (Some(Token::Word(field)), Some(Token::Word(op)), Some(value)) =
            (tokens.get(*pos), tokens.get(*pos + 1), tokens.get(*pos + 2))
        else {
            return Err("Invalid filter clause: expected 'property operator value'.".into());
        };
        *pos += 3;
        let op = op.to_ascii_lowercase();
        match (field.as_str(), value) {
            ("activityDateTime", Token::Word(instant)) => {
                let cmp = match op.as_str() {
                    "eq" => Comparison::Eq,
                    "ge" => Comparison::Ge,
                    "gt" => Comparison::Gt,
                    "le" => Comparison::Le,
                    "lt" => Comparison::Lt,
                    _ => return Err(format!("Unsupported operator '{op}' for activityDateTime.")),
                };
                let at = DateTime::parse_from_rfc3339(instant)
                    .map_err(|_| format!("Invalid DateTimeOffset value '{instant}' in $filter."))?;
                Ok(AuditFilter::Time(cmp, at.with_timezone(&Utc)))
            }
            (name, Token::Quoted(text)) if op == "eq" => {
                let field = match name {
                    "activityDisplayName" => TextField::ActivityDisplayName,
                    "category" => TextField::Category,
                    "loggedByService" => TextField::LoggedByService,
                    _ => {
                        return Err(format!(
                            "Unsupported or invalid query filter clause specified for property '{name}' of resource 'DirectoryAudit'."
                        ));
                    }
                };
                Ok(AuditFilter::Text(field, text.clone()))
            }
            (name, _) => Err(format!(
                "Unsupported or invalid query filter clause specified for property '{name}' of resource 'DirectoryAudit'."
            )),
        }
    }

    fn matches(&self, a: &DirectoryAudit) -> bool {
        match self {
            AuditFilter::And(l, r) => l.matches(a) && r.matches(a),
            AuditFilter::Or(l, r) => l.matches(a) || r.matches(a),
            AuditFilter::Time(cmp, at) => {
                let t = a.activity_date_time;
                match cmp {
                    Comparison::Eq => t == *at,
                    Comparison::Ge => t >= *at,
                    Comparison::Gt => t > *at,
                    Comparison::Le => t <= *at,
                    Comparison::Lt => t < *at,
                }
            }
            AuditFilter::Text(field, text) => {
                let value = match field {
                    TextField::ActivityDisplayName => &a.activity_display_name,
                    TextField::Category => &a.category,
                    TextField::LoggedByService => &a.logged_by_service,
                };
                value == text
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Faults;
    use crate::sim::policy::{
        ADD_MEMBER, CA_NO_PHONE_ID, CUSTOM_STRENGTH_ID, EXCLUSION_GROUP_ID, EXCLUSION_GROUP_NAME,
        NESTED_GROUP_ID, NESTED_GROUP_NAME, NO_AUTHENTICATOR_GROUP_ID, NO_SMS_GROUP_ID,
        REMOVE_MEMBER, ROLE_GROUP_ID, SSPR_GROUP_ID,
    };
    use crate::sim::server::testing::{fake, get, send};
    use axum::http::header;
    use std::collections::BTreeSet;

    /// A query value percent-encoded.
    fn q(s: &str) -> String {
        query_value(s)
    }

    fn member_ids(fake: &FakeGraph, group: &str, day: u32) -> BTreeSet<String> {
        fake.policy_story()
            .members(group, day)
            .expect("group")
            .into_iter()
            .map(|m| m.id)
            .collect()
    }

    #[tokio::test]
    async fn methods_policy_as_graph_sends_it() {
        let fake = fake();
        let tighten = fake.policy_story().key_days().tighten;
        let (status, _, _) = send(&fake, "/v1.0/policies/authenticationMethodsPolicy", &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        fake.set_day(tighten - 1);
        let (status, _, body) = get(&fake, "/v1.0/policies/authenticationMethodsPolicy").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["id"], "authenticationMethodsPolicy");
        assert_eq!(body["policyMigrationState"], "migrationInProgress");
        assert_eq!(
            body["registrationEnforcement"]["authenticationMethodsRegistrationCampaign"]["state"],
            "enabled"
        );
        let configs = body["authenticationMethodConfigurations"]
            .as_array()
            .expect("configurations");
        let by_id = |id: &str| {
            configs
                .iter()
                .find(|c| c["id"] == id)
                .cloned()
                .expect("configuration")
        };
        let voice = by_id("Voice");
        assert_eq!(
            voice["@odata.type"],
            "#microsoft.graph.voiceAuthenticationMethodConfiguration"
        );
        assert_eq!(voice["state"], "enabled");
        assert_eq!(
            voice["isOfficePhoneAllowed"], false,
            "off since an earlier day"
        );
        let sms = by_id("Sms");
        assert_eq!(
            sms["@odata.type"],
            "#microsoft.graph.smsAuthenticationMethodConfiguration"
        );
        assert_eq!(sms["includeTargets"][0]["id"], "all_users");
        assert_eq!(sms["includeTargets"][0]["targetType"], "group");
        assert_eq!(sms["includeTargets"][0]["isUsableForSignIn"], true);
        assert_eq!(
            by_id("MicrosoftAuthenticator")["@odata.type"],
            "#microsoft.graph.microsoftAuthenticatorAuthenticationMethodConfiguration"
        );
        assert_eq!(by_id("TemporaryAccessPass")["defaultLength"], 8);
        assert_eq!(
            by_id("Fido2")["keyRestrictions"]["enforcementType"],
            "block"
        );

        fake.set_day(tighten);
        let (_, _, body) = get(&fake, "/v1.0/policies/authenticationMethodsPolicy").await;
        let configs = body["authenticationMethodConfigurations"]
            .as_array()
            .expect("configurations");
        let voice = configs.iter().find(|c| c["id"] == "Voice").expect("voice");
        assert_eq!(voice["state"], "disabled");
        let sms = configs.iter().find(|c| c["id"] == "Sms").expect("sms");
        assert_eq!(sms["includeTargets"][0]["id"], EXCLUSION_GROUP_ID);
        assert_eq!(fake.served().methods_policy_requests, 2);
    }

    #[tokio::test]
    async fn v1_has_no_beta_only_properties() {
        let fake = fake();
        let (_, _, body) = get(&fake, "/v1.0/policies/authenticationMethodsPolicy").await;
        let authenticator = body["authenticationMethodConfigurations"]
            .as_array()
            .expect("configurations")
            .iter()
            .find(|c| c["id"] == "MicrosoftAuthenticator")
            .cloned()
            .expect("Authenticator");
        let features: BTreeSet<&str> = authenticator["featureSettings"]
            .as_object()
            .expect("featureSettings")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            features,
            BTreeSet::from([
                "displayAppInformationRequiredState",
                "displayLocationInformationRequiredState"
            ])
        );
        let text = body.to_string();
        for beta in [
            "companionAppAllowedState",
            "numberMatchingRequiredState",
            "systemCredentialPreferences",
            "reportSuspiciousActivitySettings",
            "microsoftAuthenticatorPlatformSettings",
        ] {
            assert!(!text.contains(beta), "{beta} is beta only");
        }
    }

    #[tokio::test]
    async fn strengths_listed_and_filtered() {
        let fake = fake();
        let (status, _, body) = get(&fake, "/v1.0/policies/authenticationStrengthPolicies").await;
        assert_eq!(status, StatusCode::OK);
        let value = body["value"].as_array().expect("value");
        assert_eq!(value.len(), 4);
        assert_eq!(value[0]["id"], "00000000-0000-0000-0000-000000000002");
        assert_eq!(value[0]["policyType"], "builtIn");
        assert_eq!(value[0]["requirementsSatisfied"], "mfa");
        assert!(
            value[0]["allowedCombinations"]
                .as_array()
                .expect("combinations")
                .contains(&"password,voice".into())
        );
        let uri = format!(
            "/v1.0/policies/authenticationStrengthPolicies?$filter={}",
            q("policyType eq 'custom'")
        );
        let (_, _, body) = get(&fake, &uri).await;
        assert_eq!(body["value"].as_array().map(Vec::len), Some(1));
        assert_eq!(body["value"][0]["id"], CUSTOM_STRENGTH_ID);
        let uri = format!(
            "/v1.0/policies/authenticationStrengthPolicies?$filter={}",
            q("displayName startswith 'x'")
        );
        assert_eq!(get(&fake, &uri).await.0, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn conditional_access_allows_one_request_a_second_and_sends_no_retry_after() {
        let fake = fake();
        let uri = "/v1.0/identity/conditionalAccess/policies";
        let (status, _, body) = get(&fake, uri).await;
        assert_eq!(status, StatusCode::OK);
        let policy = body["value"]
            .as_array()
            .expect("value")
            .iter()
            .find(|p| p["id"] == CA_NO_PHONE_ID)
            .cloned()
            .expect("no-phone policy");
        assert_eq!(policy["state"], "enabled");
        assert_eq!(
            policy["conditions"]["users"]["excludeGroups"][0],
            EXCLUSION_GROUP_ID
        );
        let strength = &policy["grantControls"]["authenticationStrength"];
        assert_eq!(strength["id"], CUSTOM_STRENGTH_ID);
        assert!(strength["allowedCombinations"].is_array());
        assert!(strength["displayName"].is_string());

        let (status, headers, body) = get(&fake, uri).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(headers.get(header::RETRY_AFTER).is_none());
        assert_eq!(body["error"]["code"], "TooManyRequests");

        tokio::time::sleep(CONDITIONAL_ACCESS_INTERVAL + Duration::from_millis(100)).await;
        assert_eq!(get(&fake, uri).await.0, StatusCode::OK);
        let served = fake.served();
        assert_eq!(
            (
                served.conditional_access_requests,
                served.conditional_access_throttled
            ),
            (2, 1)
        );
    }

    #[tokio::test]
    async fn group_and_its_members_paged() {
        let fake = fake();
        let day = fake.day();
        let (status, _, body) = get(&fake, &format!("/v1.0/groups/{EXCLUSION_GROUP_ID}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["displayName"], EXCLUSION_GROUP_NAME);
        assert_eq!(body["securityEnabled"], true);
        assert_eq!(body["mailEnabled"], false);

        let uri = format!("/v1.0/groups/{EXCLUSION_GROUP_ID}?$select=id,DisplayName");
        let (status, _, body) = get(&fake, &uri).await;
        assert_eq!(status, StatusCode::OK);
        let keys: BTreeSet<&str> = body
            .as_object()
            .expect("group")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["@odata.context", "displayName", "id"]),
            "only what was selected, in Graph's spelling"
        );
        let uri = format!("/v1.0/groups/{EXCLUSION_GROUP_ID}?$select=id,members");
        let (status, _, body) = get(&fake, &uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["error"]["message"],
            "Could not find a property named 'members' on type 'Microsoft.DirectoryServices.Group'."
        );

        let (status, _, body) = get(
            &fake,
            "/v1.0/groups/00000000-0000-0000-0000-00000000dead/members",
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "Request_ResourceNotFound");

        let mut uri = format!(
            "/v1.0/groups/{EXCLUSION_GROUP_ID}/members?$select=id,displayName,userPrincipalName&$top=2"
        );
        let (mut seen, mut groups) = (BTreeSet::new(), Vec::new());
        let mut pages = 0;
        loop {
            let (status, _, body) = get(&fake, &uri).await;
            assert_eq!(status, StatusCode::OK);
            pages += 1;
            for m in body["value"].as_array().expect("value") {
                let id = m["id"].as_str().expect("id").to_owned();
                match m["@odata.type"].as_str() {
                    Some("#microsoft.graph.user") => {
                        assert!(m["userPrincipalName"].is_string() && m["displayName"].is_string());
                        seen.insert(id);
                    }
                    Some("#microsoft.graph.group") => {
                        // A group has no userPrincipalName, selected or not.
                        assert!(m.get("userPrincipalName").is_none(), "{m}");
                        assert!(m.get("securityEnabled").is_none(), "not selected: {m}");
                        assert_eq!(m["displayName"], NESTED_GROUP_NAME);
                        groups.push(id);
                    }
                    other => panic!("a member of type {other:?}"),
                }
            }
            match body["@odata.nextLink"].as_str() {
                Some(next) => uri = next.to_owned(),
                None => break,
            }
        }
        assert_eq!(seen, member_ids(&fake, EXCLUSION_GROUP_ID, day));
        assert_eq!(
            groups,
            [NESTED_GROUP_ID],
            "a nested group among the members"
        );
        assert!(pages > 1, "paged");
        assert_eq!(fake.served().member_pages, pages);

        let uri = format!("/v1.0/groups/{SSPR_GROUP_ID}/members?$top=1000");
        assert_eq!(get(&fake, &uri).await.0, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn audit_log_filtered_by_date_and_activity_newest_first() {
        let fake = fake();
        let story = fake.policy_story().clone();
        let since = story.membership_events().get(3).expect("events").at;
        let filter = format!(
            "activityDateTime ge {} and (activityDisplayName eq '{ADD_MEMBER}' or activityDisplayName eq '{REMOVE_MEMBER}')",
            since.format("%Y-%m-%dT%H:%M:%SZ")
        );
        let mut uri = format!(
            "/v1.0/auditLogs/directoryAudits?$filter={}&$top=2",
            q(&filter)
        );
        let mut entries = Vec::new();
        loop {
            let (status, _, body) = get(&fake, &uri).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            entries.extend(body["value"].as_array().expect("value").iter().cloned());
            match body["@odata.nextLink"].as_str() {
                Some(next) => uri = next.to_owned(),
                None => break,
            }
        }
        let expected: Vec<String> = story
            .audits(fake.day())
            .into_iter()
            .filter(|a| a.activity_date_time >= since && a.category == "GroupManagement")
            .map(|a| a.id)
            .collect();
        let got: Vec<String> = entries
            .iter()
            .map(|e| e["id"].as_str().expect("id").to_owned())
            .collect();
        assert_eq!(got, expected);
        assert!(expected.len() >= 4);
        let first = &entries[0];
        assert!(first["activityDateTime"].as_str() > entries[1]["activityDateTime"].as_str());
        assert_eq!(first["loggedByService"], "Core Directory");
        assert!(first["initiatedBy"]["user"]["userPrincipalName"].is_string());
        assert_eq!(first["targetResources"][0]["type"], "User");
        assert_eq!(first["targetResources"][1]["type"], "Group");
        assert_eq!(
            first["targetResources"][0]["modifiedProperties"][1]["displayName"],
            "Group.DisplayName"
        );

        // Only what has happened by the current day.
        fake.set_day(story.key_days().campaign);
        let uri = format!(
            "/v1.0/auditLogs/directoryAudits?$filter={}",
            q("activityDisplayName eq 'Authentication Methods Policy Update'")
        );
        let (_, _, body) = get(&fake, &uri).await;
        assert_eq!(body["value"].as_array().map(Vec::len), Some(1));

        for bad in [
            "targetResources/any(t: t/id eq 'x')",
            "activityDateTime ge yesterday",
            "activityDisplayName eq 'unterminated",
            "(activityDisplayName eq 'x'",
        ] {
            let uri = format!("/v1.0/auditLogs/directoryAudits?$filter={}", q(bad));
            assert_eq!(get(&fake, &uri).await.0, StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[tokio::test]
    async fn every_answer_says_what_it_holds() {
        let fake = fake();
        let metadata = "http://graph.sim.test/v1.0/$metadata#";
        for (uri, what) in [
            (
                "/v1.0/reports/authenticationMethods/userRegistrationDetails".to_owned(),
                "reports/authenticationMethods/userRegistrationDetails",
            ),
            ("/v1.0/users".to_owned(), "users"),
            (
                "/v1.0/users?$select=id,displayName".to_owned(),
                "users(id,displayName)",
            ),
            (
                "/v1.0/policies/authenticationMethodsPolicy".to_owned(),
                "policies/authenticationMethodsPolicy/$entity",
            ),
            (
                "/v1.0/policies/authenticationStrengthPolicies".to_owned(),
                "policies/authenticationStrengthPolicies",
            ),
            (
                "/v1.0/identity/conditionalAccess/policies".to_owned(),
                "identity/conditionalAccess/policies",
            ),
            (
                format!("/v1.0/groups/{EXCLUSION_GROUP_ID}"),
                "groups/$entity",
            ),
            (
                format!("/v1.0/groups/{EXCLUSION_GROUP_ID}/members"),
                "directoryObjects",
            ),
            (
                "/v1.0/auditLogs/directoryAudits".to_owned(),
                "auditLogs/directoryAudits",
            ),
        ] {
            let (status, _, body) = get(&fake, &uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert_eq!(body["@odata.context"], format!("{metadata}{what}"), "{uri}");
        }
    }

    /// For each endpoint in turn (three policy, two group, one audit): refused with 403?
    async fn forbidden(fake: &FakeGraph, faults: Faults) -> Vec<bool> {
        fake.set_faults(faults);
        let uris = [
            "/v1.0/policies/authenticationMethodsPolicy".to_owned(),
            "/v1.0/policies/authenticationStrengthPolicies".to_owned(),
            "/v1.0/identity/conditionalAccess/policies".to_owned(),
            format!("/v1.0/groups/{EXCLUSION_GROUP_ID}"),
            format!("/v1.0/groups/{EXCLUSION_GROUP_ID}/members"),
            "/v1.0/auditLogs/directoryAudits".to_owned(),
        ];
        let mut out = Vec::new();
        for uri in uris {
            let (status, _, body) = get(fake, &uri).await;
            assert!(
                status == StatusCode::OK || status == StatusCode::FORBIDDEN,
                "{uri}: {status}"
            );
            if status == StatusCode::FORBIDDEN {
                assert_eq!(body["error"]["code"], "Authorization_RequestDenied");
            }
            out.push(status == StatusCode::FORBIDDEN);
            // Keep the Conditional Access limit out of the way.
            *lock(&fake.inner.last_conditional_access) = None;
        }
        out
    }

    #[tokio::test]
    async fn missing_permissions_answer_403() {
        let fake = fake();
        let (t, f) = (true, false);
        let faults = |policies, groups, audit| Faults {
            deny_policies: policies,
            deny_group_members: groups,
            deny_audit: audit,
            ..Faults::default()
        };
        assert_eq!(forbidden(&fake, faults(t, f, f)).await, [t, t, t, f, f, f]);
        assert_eq!(forbidden(&fake, faults(f, t, f)).await, [f, f, f, t, t, f]);
        assert_eq!(forbidden(&fake, faults(f, f, t)).await, [f, f, f, f, f, t]);
        assert_eq!(forbidden(&fake, Faults::default()).await, [f; 6]);
    }

    #[test]
    fn faults_deserialize_with_the_new_names() {
        let faults: Faults = serde_json::from_str(
            r#"{"deny_policies":true,"deny_group_members":true,"deny_audit":true}"#,
        )
        .expect("faults");
        assert!(faults.deny_policies && faults.deny_group_members && faults.deny_audit);
        assert!(serde_json::from_str::<Faults>(r#"{"deny_policy":true}"#).is_err());
    }

    #[test]
    fn audit_filters_parse() {
        let f = AuditFilter::parse(
            "activityDateTime ge 2026-01-01T00:00:00Z and (activityDisplayName eq 'O''Brien' or category eq 'Policy')",
        )
        .expect("filter");
        assert!(matches!(f, AuditFilter::And(_, _)));
    }

    #[tokio::test]
    async fn the_beta_policy_adds_its_opt_out_and_v1_does_not() {
        let fake = fake();
        let k = fake.policy_story().key_days();
        let uri = "/beta/policies/authenticationMethodsPolicy";
        let (status, _, _) = send(&fake, uri, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        fake.set_day(k.passkey_opt_out - 1);
        let (status, _, body) = get(&fake, uri).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["@odata.context"],
            "http://graph.sim.test/beta/$metadata#policies/authenticationMethodsPolicy/$entity"
        );
        assert_eq!(body["optOutSettings"]["passkeyDynamicMigration"], false);
        assert!(body["systemCredentialPreferences"].is_object());
        fake.set_day(k.campaign_managed);
        let (_, _, body) = get(&fake, uri).await;
        assert_eq!(body["optOutSettings"]["passkeyDynamicMigration"], true);
        let campaign =
            &body["registrationEnforcement"]["authenticationMethodsRegistrationCampaign"];
        assert_eq!(campaign["state"], "default");
        assert_eq!(
            campaign["includeTargets"][0],
            serde_json::json!({"id": "all_users", "targetType": "group", "targetedAuthenticationMethod": "passkey"})
        );
        let (_, _, v1) = get(&fake, "/v1.0/policies/authenticationMethodsPolicy").await;
        assert!(v1.get("optOutSettings").is_none(), "beta only");
        assert_eq!(
            v1["registrationEnforcement"]["authenticationMethodsRegistrationCampaign"],
            *campaign
        );
        let served = fake.served();
        assert_eq!(
            (
                served.beta_methods_policy_requests,
                served.methods_policy_requests
            ),
            (2, 1)
        );
        fake.set_faults(Faults {
            deny_policies: true,
            ..Faults::default()
        });
        assert_eq!(get(&fake, uri).await.0, StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn transitive_members_are_the_users_of_nested_groups_too_paged() {
        let fake = fake();
        let day = fake.day();
        let story = fake.policy_story().clone();
        let mut uri = format!(
            "/v1.0/groups/{EXCLUSION_GROUP_ID}/transitiveMembers?$select=id,displayName,userPrincipalName&$top=2"
        );
        let (mut ids, mut pages) = (Vec::new(), 0);
        loop {
            let (status, _, body) = get(&fake, &uri).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            pages += 1;
            assert_eq!(
                body["@odata.context"],
                "http://graph.sim.test/v1.0/$metadata#directoryObjects(id,displayName,userPrincipalName)"
            );
            for m in body["value"].as_array().expect("value") {
                assert_eq!(m["@odata.type"], "#microsoft.graph.user", "{m}");
                ids.push(m["id"].as_str().expect("id").to_owned());
            }
            match body["@odata.nextLink"].as_str() {
                Some(next) => {
                    assert!(next.contains("/transitiveMembers?"), "{next}");
                    uri = next.to_owned();
                }
                None => break,
            }
        }
        let expected: Vec<String> = story
            .transitive_members(EXCLUSION_GROUP_ID, day)
            .expect("group")
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(ids, expected);
        let nested = member_ids(&fake, NESTED_GROUP_ID, day);
        assert!(nested.iter().all(|id| ids.contains(id)));
        assert_eq!(
            ids.iter().collect::<BTreeSet<_>>().len(),
            ids.len(),
            "each once"
        );
        assert!(pages > 1);
        assert_eq!(fake.served().transitive_member_pages, pages);

        // A /members skiptoken is not one of /transitiveMembers'.
        let (_, _, body) = get(
            &fake,
            &format!("/v1.0/groups/{EXCLUSION_GROUP_ID}/members?$top=1"),
        )
        .await;
        let next = body["@odata.nextLink"].as_str().expect("nextLink");
        let swapped = next.replace("/members?", "/transitiveMembers?");
        assert_eq!(get(&fake, &swapped).await.0, StatusCode::BAD_REQUEST);

        let missing = "/v1.0/groups/00000000-0000-0000-0000-00000000dead/transitiveMembers";
        assert_eq!(get(&fake, missing).await.0, StatusCode::NOT_FOUND);
        fake.set_faults(Faults {
            deny_group_members: true,
            ..Faults::default()
        });
        let uri = format!("/v1.0/groups/{EXCLUSION_GROUP_ID}/transitiveMembers");
        assert_eq!(get(&fake, &uri).await.0, StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn every_group_a_policy_names_is_served_with_members() {
        let fake = fake();
        let policy = fake.policy_story().methods_policy(fake.day());
        let mut named: BTreeSet<String> = BTreeSet::new();
        for c in &policy.authentication_method_configurations {
            named.extend(c.include_targets.iter().map(|t| t.id.clone()));
            named.extend(c.exclude_targets.iter().map(|t| t.id.clone()));
        }
        named.remove("all_users");
        for id in [NO_AUTHENTICATOR_GROUP_ID, NO_SMS_GROUP_ID] {
            assert!(named.contains(id), "{id}");
        }
        for id in named.iter().map(String::as_str).chain([ROLE_GROUP_ID]) {
            let (status, _, group) = get(&fake, &format!("/v1.0/groups/{id}")).await;
            assert_eq!(status, StatusCode::OK, "{id}");
            assert_eq!(
                group["isAssignableToRole"],
                if id == ROLE_GROUP_ID {
                    Value::Bool(true)
                } else {
                    Value::Null
                }
            );
            let (_, _, members) = get(&fake, &format!("/v1.0/groups/{id}/members")).await;
            assert!(
                members["value"].as_array().is_some_and(|m| !m.is_empty()),
                "{id}"
            );
        }
    }
}
