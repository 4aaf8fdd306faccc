//! The fake Graph's Global Administrator endpoints, serving the role holders of
//! [`super::policy::PolicyStory`] on the day the fake is set to (graph-api.md §12):
//!
//! - `GET /v1.0/roleManagement/directory/roleAssignments` (active assignments),
//! - `GET /v1.0/roleManagement/directory/roleEligibilitySchedules` (PIM eligibilities),
//!
//! both with `$filter=roleDefinitionId eq '…'` and `$expand=principal`, which the fake insists
//! on (a client that leaves either out would read every role, or nobody's name), paged with
//! `@odata.nextLink` ([`ROLE_PAGE_SIZE`] by default, `$top` 1–999). Principals are users and
//! the role-assignable group, each with its `@odata.type`.
//!
//! Faults: `deny_roles` (both answer 403, RoleManagement.Read.Directory missing) and `no_pim`
//! (the eligibilities answer 400 `AadPremiumLicenseRequired`, as a tenant without Entra ID P2
//! does).

use super::policy_api::{MAX_PAGE_SIZE, internal_error, page, unsupported};
use super::server::{
    FakeGraph, Paged, admit, bad_skiptoken, base_url, graph_error, lock, page_start, query_value,
    skiptoken,
};
use crate::graph::model::RoleGrant;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Grants per page without `$top`: small, so a client's paging is exercised with the few
/// holders a tenant has (Graph's own default is larger).
pub const ROLE_PAGE_SIZE: usize = 3;

/// The error a tenant without Entra ID P2 gets from the PIM APIs. Code and message as
/// third-party tools report them (docs/development.md); Learn documents no error.
const NO_PIM_CODE: &str = "AadPremiumLicenseRequired";
const NO_PIM_MESSAGE: &str = "The tenant needs an AAD Premium 2 license.";

pub(super) fn routes() -> Router<FakeGraph> {
    Router::new()
        .route(
            "/v1.0/roleManagement/directory/roleAssignments",
            get(role_assignments),
        )
        .route(
            "/v1.0/roleManagement/directory/roleEligibilitySchedules",
            get(role_eligibility_schedules),
        )
}

async fn role_assignments(
    State(fake): State<FakeGraph>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    role_page(&fake, &headers, &q, false).await
}

async fn role_eligibility_schedules(
    State(fake): State<FakeGraph>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    role_page(&fake, &headers, &q, true).await
}

/// The role definition id of `roleDefinitionId eq '<id>'`; any other filter is refused.
fn role_filter(filter: Option<&String>) -> Result<String, String> {
    let Some(filter) = filter else {
        return Err(
            "The fake serves role grants filtered by role only: add $filter=roleDefinitionId eq '<id>'."
                .to_owned(),
        );
    };
    let mut words = filter.split_whitespace();
    let (Some(property), Some(op), Some(value), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(format!("Invalid filter clause: '{filter}'."));
    };
    let id = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .filter(|v| uuid::Uuid::parse_str(v).is_ok());
    match id {
        Some(id)
            if property.eq_ignore_ascii_case("roleDefinitionId")
                && op.eq_ignore_ascii_case("eq") =>
        {
            Ok(id.to_ascii_lowercase())
        }
        _ => Err(format!("Invalid filter clause: '{filter}'.")),
    }
}

async fn role_page(
    fake: &FakeGraph,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    eligible: bool,
) -> Response {
    if let Some(refused) = admit(fake, headers, |f| f.deny_roles).await {
        return refused;
    }
    if eligible && fake.faults().no_pim {
        return graph_error(StatusCode::BAD_REQUEST, NO_PIM_CODE, NO_PIM_MESSAGE);
    }
    let role = match role_filter(q.get("$filter")) {
        Ok(role) => role,
        Err(message) => return unsupported(&message),
    };
    let entity = if eligible {
        "microsoft.graph.unifiedRoleEligibilitySchedule"
    } else {
        "microsoft.graph.unifiedRoleAssignment"
    };
    match q.get("$expand").map(|e| e.trim()) {
        Some(e) if e.eq_ignore_ascii_case("principal") => {}
        Some(other) => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!(
                    "Parsing OData Select and Expand failed: Could not find a property named '{other}' on type '{entity}'."
                ),
            );
        }
        None => {
            return unsupported(
                "The fake serves role grants with their principals only: add $expand=principal.",
            );
        }
    }
    let top = match q.get("$top") {
        None => ROLE_PAGE_SIZE,
        Some(raw) => match raw.parse::<usize>() {
            Ok(top) if (1..=MAX_PAGE_SIZE).contains(&top) => top,
            _ => {
                return unsupported(&format!(
                    "Invalid page size specified: '{raw}'. Must be between 1 and 999 inclusive."
                ));
            }
        },
    };
    let paged = if eligible {
        Paged::Eligibility
    } else {
        Paged::Roles
    };
    let Some((day, from)) = page_start(fake, q, paged) else {
        return bad_skiptoken();
    };
    let story = fake.policy_story();
    let grants: Vec<RoleGrant> = if role != crate::graph::model::GLOBAL_ADMINISTRATOR_ROLE {
        // The fake holds no other role's grants.
        Vec::new()
    } else if eligible {
        story.role_eligibilities(day)
    } else {
        story.role_assignments(day)
    };
    let total = grants.len();
    let mut value = Vec::new();
    for g in grants.into_iter().skip(from).take(top) {
        match grant_value(fake, g, eligible) {
            Ok(v) => value.push(v),
            Err(e) => return internal_error(&e),
        }
    }
    let next = from + value.len();
    let (segment, what) = if eligible {
        (
            "roleEligibilitySchedules",
            "roleManagement/directory/roleEligibilitySchedules(principal())",
        )
    } else {
        (
            "roleAssignments",
            "roleManagement/directory/roleAssignments(principal())",
        )
    };
    let mut carried = String::new();
    for key in ["$filter", "$expand", "$top"] {
        if let Some(v) = q.get(key) {
            carried.push_str(&format!("{key}={}&", query_value(v)));
        }
    }
    let next_link = (next < total).then(|| {
        format!(
            "{}/v1.0/roleManagement/directory/{segment}?{carried}$skiptoken={}",
            base_url(headers),
            query_value(&skiptoken(paged, day, next))
        )
    });
    {
        let mut served = lock(&fake.inner.served);
        if eligible {
            served.eligibility_pages += 1;
        } else {
            served.role_pages += 1;
        }
    }
    page(headers, what, value, next_link)
}

/// A grant as Graph sends it: a group principal with a group's properties (and no
/// `userPrincipalName`); an eligibility with its member type and schedule.
fn grant_value(fake: &FakeGraph, g: RoleGrant, eligible: bool) -> Result<Value, serde_json::Error> {
    let story = fake.policy_story();
    let group = g
        .principal
        .as_ref()
        .filter(|p| p.odata_type == "#microsoft.graph.group")
        .and_then(|p| story.group(&p.id));
    let mut value = serde_json::to_value(&g)?;
    if let Some(group) = group {
        let mut principal = super::policy_api::group_value(story, group)?;
        principal["@odata.type"] = json!("#microsoft.graph.group");
        value["principal"] = principal;
    }
    if eligible {
        let start = story
            .start()
            .and_hms_opt(9, 0, 0)
            .unwrap_or_default()
            .and_utc()
            - chrono::Duration::days(90);
        let fields = [
            ("memberType", json!("Direct")),
            ("createdUsing", json!(g.id)),
            ("createdDateTime", json!(start)),
            ("modifiedDateTime", Value::Null),
            ("appScopeId", Value::Null),
            (
                "scheduleInfo",
                json!({
                    "startDateTime": start,
                    "recurrence": null,
                    "expiration": {"type": "noExpiration", "endDateTime": null, "duration": null},
                }),
            ),
        ];
        if let Value::Object(map) = &mut value {
            for (k, v) in fields {
                map.insert(k.to_owned(), v);
            }
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::model::GLOBAL_ADMINISTRATOR_ROLE;
    use crate::sim::Faults;
    use crate::sim::policy::ROLE_GROUP_ID;
    use crate::sim::server::testing::{fake, get, send};
    use std::collections::BTreeSet;

    fn filter() -> String {
        query_value(&format!(
            "roleDefinitionId eq '{GLOBAL_ADMINISTRATOR_ROLE}'"
        ))
    }

    fn uri(collection: &str) -> String {
        format!(
            "/v1.0/roleManagement/directory/{collection}?$filter={}&$expand=principal",
            filter()
        )
    }

    /// Every grant of a collection, following its pages; and how many pages.
    async fn all(fake: &FakeGraph, collection: &str) -> (Vec<Value>, u32) {
        let mut uri = uri(collection);
        let (mut out, mut pages) = (Vec::new(), 0);
        loop {
            let (status, _, body) = get(fake, &uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {body}");
            pages += 1;
            out.extend(body["value"].as_array().expect("value").iter().cloned());
            match body["@odata.nextLink"].as_str() {
                Some(next) => uri = next.to_owned(),
                None => break,
            }
        }
        (out, pages)
    }

    #[tokio::test]
    async fn active_assignments_paged_with_users_and_the_role_group() {
        let fake = fake();
        let story = fake.policy_story().clone();
        let k = story.key_days();
        let (status, _, _) = send(&fake, &uri("roleAssignments"), &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        fake.set_day(k.global_admin_granted);
        let (grants, pages) = all(&fake, "roleAssignments").await;
        assert!(pages > 1, "paged");
        assert_eq!(fake.served().role_pages, pages);
        let mut users = BTreeSet::new();
        let mut groups = Vec::new();
        for g in &grants {
            assert_eq!(g["roleDefinitionId"], GLOBAL_ADMINISTRATOR_ROLE);
            assert_eq!(g["directoryScopeId"], "/");
            assert!(g.get("status").is_none(), "{g}");
            let principal = &g["principal"];
            assert_eq!(principal["id"], g["principalId"]);
            match principal["@odata.type"].as_str() {
                Some("#microsoft.graph.user") => {
                    assert!(principal["userPrincipalName"].is_string());
                    users.insert(principal["id"].as_str().expect("id").to_owned());
                }
                Some("#microsoft.graph.group") => {
                    assert!(principal.get("userPrincipalName").is_none(), "{principal}");
                    assert_eq!(principal["isAssignableToRole"], true);
                    groups.push(principal["id"].as_str().expect("id").to_owned());
                }
                other => panic!("a principal of type {other:?}"),
            }
        }
        assert_eq!(groups, [ROLE_GROUP_ID]);
        // With the group's members, the story's Global Administrators of the day.
        let (_, _, members) = get(&fake, &format!("/v1.0/groups/{ROLE_GROUP_ID}/members")).await;
        for m in members["value"].as_array().expect("members") {
            users.insert(m["id"].as_str().expect("id").to_owned());
        }
        let expected: BTreeSet<String> = story
            .global_admins(k.global_admin_granted)
            .into_iter()
            .collect();
        assert_eq!(users, expected);

        // One fewer before the grant; another gone from the revoke day on.
        fake.set_day(k.global_admin_granted - 1);
        assert_eq!(
            all(&fake, "roleAssignments").await.0.len(),
            grants.len() - 1
        );
        fake.set_day(k.global_admin_revoked - 1);
        let before = all(&fake, "roleAssignments").await.0.len();
        fake.set_day(k.global_admin_revoked);
        assert_eq!(all(&fake, "roleAssignments").await.0.len(), before - 1);

        // Another role: nothing the fake holds.
        let other = query_value("roleDefinitionId eq 'fe930be7-5e62-47db-91af-98c3a49a38b1'");
        let (status, _, body) = get(
            &fake,
            &format!(
                "/v1.0/roleManagement/directory/roleAssignments?$filter={other}&$expand=principal"
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["value"].as_array().map(Vec::len), Some(0));
    }

    #[tokio::test]
    async fn eligibilities_are_provisioned_schedules_of_people_not_active() {
        let fake = fake();
        let story = fake.policy_story().clone();
        let (grants, _) = all(&fake, "roleEligibilitySchedules").await;
        assert!(!grants.is_empty());
        let active = story.global_admins(fake.day());
        for g in &grants {
            assert_eq!(g["status"], "Provisioned");
            assert_eq!(g["memberType"], "Direct");
            assert_eq!(g["scheduleInfo"]["expiration"]["type"], "noExpiration");
            assert_eq!(g["principal"]["@odata.type"], "#microsoft.graph.user");
            let id = g["principalId"].as_str().expect("id").to_owned();
            assert!(!active.contains(&id));
        }
        let ids: Vec<String> = grants
            .iter()
            .map(|g| g["principalId"].as_str().expect("id").to_owned())
            .collect();
        assert_eq!(ids, story.eligible_admins(fake.day()));
        assert!(fake.served().eligibility_pages >= 1);
    }

    #[tokio::test]
    async fn only_the_role_filter_and_the_principal_expanded() {
        let fake = fake();
        let base = "/v1.0/roleManagement/directory/roleAssignments";
        for bad in [
            format!("{base}?$expand=principal"),
            format!("{base}?$filter={}", filter()),
            format!("{base}?$filter={}&$expand=roleDefinition", filter()),
            format!(
                "{base}?$filter={}&$expand=principal",
                query_value("principalId eq 'x'")
            ),
            format!(
                "{base}?$filter={}&$expand=principal",
                query_value("roleDefinitionId eq 'Global Administrator'")
            ),
            format!("{base}?$filter={}&$expand=principal&$top=1000", filter()),
        ] {
            let (status, _, body) = get(&fake, &bad).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(body["error"]["code"].is_string());
        }
        // A nextLink works as sent; its token is not the eligibilities'.
        let (_, _, body) = get(&fake, &uri("roleAssignments")).await;
        let next = body["@odata.nextLink"].as_str().expect("nextLink");
        assert_eq!(get(&fake, next).await.0, StatusCode::OK);
        let swapped = next.replace("roleAssignments", "roleEligibilitySchedules");
        assert_eq!(get(&fake, &swapped).await.0, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn deny_roles_and_no_pim() {
        let fake = fake();
        fake.set_faults(Faults {
            deny_roles: true,
            ..Faults::default()
        });
        for collection in ["roleAssignments", "roleEligibilitySchedules"] {
            let (status, _, body) = get(&fake, &uri(collection)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{collection}");
            assert_eq!(body["error"]["code"], "Authorization_RequestDenied");
        }
        fake.set_faults(Faults {
            no_pim: true,
            ..Faults::default()
        });
        assert_eq!(get(&fake, &uri("roleAssignments")).await.0, StatusCode::OK);
        let (status, _, body) = get(&fake, &uri("roleEligibilitySchedules")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], NO_PIM_CODE);
        assert!(body["error"]["innerError"]["request-id"].is_string());
        let faults: Faults =
            serde_json::from_str(r#"{"deny_roles":true,"no_pim":true}"#).expect("faults");
        assert!(faults.deny_roles && faults.no_pim);
    }
}
