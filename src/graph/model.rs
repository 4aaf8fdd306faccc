//! Microsoft Graph payloads, as documented (graph-api.md §1, §3). The simulated tenant
//! serialises the same types, so the client and the fake cannot drift apart.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One row of `GET /reports/authenticationMethods/userRegistrationDetails`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UserRegistrationDetails {
    pub id: String,
    #[serde(default)]
    pub user_principal_name: String,
    #[serde(default)]
    pub user_display_name: String,
    /// `member`, `guest` or `unknownFutureValue`.
    #[serde(default)]
    pub user_type: Option<String>,
    #[serde(default)]
    pub is_admin: bool,
    #[serde(default)]
    pub is_mfa_capable: bool,
    #[serde(default)]
    pub is_mfa_registered: bool,
    #[serde(default)]
    pub is_passwordless_capable: bool,
    #[serde(default)]
    pub is_sspr_capable: bool,
    #[serde(default)]
    pub is_sspr_enabled: bool,
    #[serde(default)]
    pub is_sspr_registered: bool,
    #[serde(default)]
    pub is_system_preferred_authentication_method_enabled: bool,
    #[serde(default)]
    pub system_preferred_authentication_methods: Vec<String>,
    #[serde(default)]
    pub user_preferred_method_for_secondary_authentication: Option<String>,
    #[serde(default)]
    pub methods_registered: Vec<String>,
    /// When Microsoft's report refreshed this row, not when the user changed anything.
    #[serde(default)]
    pub last_updated_date_time: Option<DateTime<Utc>>,
}

/// One row of `GET /users?$select=…` (only what we select).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryUser {
    pub id: String,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub company_name: Option<String>,
    #[serde(default)]
    pub office_location: Option<String>,
    /// ISO 3166 two-letter country code.
    #[serde(default)]
    pub usage_location: Option<String>,
    #[serde(default)]
    pub job_title: Option<String>,
    #[serde(default)]
    pub account_enabled: Option<bool>,
    /// `Member` or `Guest` (capitalised here, unlike the report).
    #[serde(default)]
    pub user_type: Option<String>,
}

/// The `$select` list for `/users`.
pub const USER_SELECT: &str = "id,userPrincipalName,displayName,department,companyName,officeLocation,usageLocation,jobTitle,accountEnabled,userType";

/// A page of a Graph collection.
#[derive(Debug, Deserialize, Serialize)]
pub struct Page<T> {
    pub value: Vec<T>,
    #[serde(
        rename = "@odata.nextLink",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_link: Option<String>,
    #[serde(
        rename = "@odata.count",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub count: Option<u64>,
}

/// Graph's error body: `{"error": {"code", "message"}}`.
#[derive(Debug, Deserialize, Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct ErrorDetail {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// The token endpoint's error body (`AADSTS…` codes in `error_description`).
#[derive(Debug, Deserialize, Serialize)]
pub struct TokenErrorBody {
    pub error: String,
    #[serde(default)]
    pub error_description: String,
}
