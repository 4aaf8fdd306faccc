//! Microsoft Graph payloads, as documented (graph-api.md §1, §3, §5–§8). The simulated tenant
//! serialises the same types, so the client and the fake cannot drift apart.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
    /// `PendingAcceptance` or `Accepted` for an invited (B2B) account; null otherwise
    /// (graph-api.md §12).
    #[serde(default)]
    pub external_user_state: Option<String>,
    /// `Invitation` for a B2B invitation; null for an account made in the tenant.
    #[serde(default)]
    pub creation_type: Option<String>,
}

/// The `$select` list for `/users`.
pub const USER_SELECT: &str = "id,userPrincipalName,displayName,department,companyName,officeLocation,usageLocation,jobTitle,accountEnabled,userType,externalUserState,creationType";

/// The Global Administrator role's template and definition id (the same in every tenant).
pub const GLOBAL_ADMINISTRATOR_ROLE: &str = "62e90394-69f5-4237-9190-012177145e10";

/// `optOutSettings` of the beta methods policy.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OptOutSettings {
    #[serde(default)]
    pub passkey_dynamic_migration: Option<bool>,
}

/// One entry of `GET /roleManagement/directory/roleAssignments` (active) or
/// `…/roleEligibilitySchedules` (eligible through PIM), with `$expand=principal`
/// (graph-api.md §12). The principal is a user, a role-assignable group (its members hold the
/// role) or a service principal.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoleGrant {
    pub id: String,
    #[serde(default)]
    pub role_definition_id: String,
    #[serde(default)]
    pub principal_id: String,
    /// `/` for the whole directory.
    #[serde(default)]
    pub directory_scope_id: Option<String>,
    /// Eligibility schedules only: `Provisioned`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default)]
    pub principal: Option<DirectoryObject>,
}

/// A page of a Graph collection.
#[derive(Debug, Deserialize, Serialize)]
pub struct Page<T> {
    /// What the page holds, as a metadata URL: `…/v1.0/$metadata#users(id,displayName)`.
    #[serde(
        rename = "@odata.context",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub context: Option<String>,
    #[serde(
        rename = "@odata.count",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub count: Option<u64>,
    #[serde(
        rename = "@odata.nextLink",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_link: Option<String>,
    pub value: Vec<T>,
}

/// Graph's error body: `{"error": {"code", "message", "innerError"}}`.
#[derive(Debug, Deserialize, Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct ErrorDetail {
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(
        rename = "innerError",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub inner_error: Option<InnerError>,
}

/// When and for which request Graph answered with an error (the ids Microsoft support asks
/// for); the same ids come as the `request-id` and `client-request-id` headers.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct InnerError {
    /// UTC, without a zone: `2026-01-01T12:00:00`.
    #[serde(default)]
    pub date: Option<String>,
    #[serde(rename = "request-id", default)]
    pub request_id: Option<String>,
    #[serde(rename = "client-request-id", default)]
    pub client_request_id: Option<String>,
}

/// The token endpoint's error body: the OAuth `error` and `error_description` (an `AADSTS…`
/// code first, then trace lines), with Entra's additions.
#[derive(Debug, Deserialize, Serialize)]
pub struct TokenErrorBody {
    pub error: String,
    #[serde(default)]
    pub error_description: String,
    /// The `AADSTS` numbers, e.g. `[7000215]`.
    #[serde(default)]
    pub error_codes: Vec<u32>,
    /// UTC as `2026-01-01 12:00:00Z`.
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub trace_id: Option<String>,
    #[serde(default)]
    pub correlation_id: Option<String>,
    #[serde(default)]
    pub error_uri: Option<String>,
}

/// `GET /policies/authenticationMethodsPolicy`: the tenant singleton with its method
/// configurations expanded (graph-api.md §5).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationMethodsPolicy {
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub last_modified_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub policy_version: Option<String>,
    /// `preMigration`, `migrationInProgress`, `migrationComplete`; compare case-insensitively.
    #[serde(default)]
    pub policy_migration_state: Option<String>,
    #[serde(default)]
    pub registration_enforcement: Option<RegistrationEnforcement>,
    /// Beta only, and missing from the metadata: the temporary opt-out of the passkey
    /// auto-enablement (graph-api.md §12). Absent means not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_out_settings: Option<OptOutSettings>,
    #[serde(default)]
    pub authentication_method_configurations: Vec<AuthenticationMethodConfiguration>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationEnforcement {
    #[serde(default)]
    pub authentication_methods_registration_campaign: Option<RegistrationCampaign>,
}

/// The nudge to register the Authenticator app at sign-in.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationCampaign {
    #[serde(default)]
    pub snooze_duration_in_days: u32,
    /// `default` (behaves as disabled), `enabled`, `disabled`.
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub exclude_targets: Vec<ExcludeTarget>,
    #[serde(default)]
    pub include_targets: Vec<CampaignTarget>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CampaignTarget {
    pub id: String,
    #[serde(default)]
    pub target_type: String,
    #[serde(default)]
    pub targeted_authentication_method: String,
}

/// One method's configuration (`Sms`, `Voice`, `MicrosoftAuthenticator`, …). The fields the
/// phone migration cares about are typed; the rest of each derived type is kept in `extra`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationMethodConfiguration {
    /// The derived type, e.g. `#microsoft.graph.voiceAuthenticationMethodConfiguration`.
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
    pub id: String,
    /// `enabled` or `disabled`.
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub include_targets: Vec<MethodTarget>,
    #[serde(default)]
    pub exclude_targets: Vec<ExcludeTarget>,
    /// Voice only: calls to office phones are allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_office_phone_allowed: Option<bool>,
    /// Properties of the derived type not named above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An include target of a method configuration (authenticationMethodTarget and its derived
/// types: SMS adds `isUsableForSignIn`, Authenticator adds `authenticationMode`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MethodTarget {
    /// A group id, or `all_users`.
    pub id: String,
    /// `group` or `user`.
    #[serde(default)]
    pub target_type: String,
    #[serde(default)]
    pub is_registration_required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_usable_for_sign_in: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_mode: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExcludeTarget {
    pub id: String,
    #[serde(default)]
    pub target_type: String,
}

/// An authentication strength (graph-api.md §6); inlined in a Conditional Access policy's
/// grant controls as well.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationStrengthPolicy {
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `builtIn` or `custom`.
    #[serde(default)]
    pub policy_type: String,
    /// `none` or `mfa`.
    #[serde(default)]
    pub requirements_satisfied: String,
    /// Comma-separated method combinations, e.g. `password,sms`.
    #[serde(default)]
    pub allowed_combinations: Vec<String>,
    #[serde(default)]
    pub created_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub modified_date_time: Option<DateTime<Utc>>,
}

/// `GET /identity/conditionalAccess/policies` (graph-api.md §6); only what the migration needs
/// is typed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConditionalAccessPolicy {
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    /// `enabled`, `disabled` or `enabledForReportingButNotEnforced`.
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub created_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub modified_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub conditions: ConditionalAccessConditions,
    #[serde(default)]
    pub grant_controls: Option<GrantControls>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConditionalAccessConditions {
    #[serde(default)]
    pub users: Option<ConditionalAccessUsers>,
    #[serde(default)]
    pub applications: Option<Value>,
    #[serde(default)]
    pub client_app_types: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConditionalAccessUsers {
    #[serde(default)]
    pub include_users: Vec<String>,
    #[serde(default)]
    pub exclude_users: Vec<String>,
    #[serde(default)]
    pub include_groups: Vec<String>,
    #[serde(default)]
    pub exclude_groups: Vec<String>,
    #[serde(default)]
    pub include_roles: Vec<String>,
    #[serde(default)]
    pub exclude_roles: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GrantControls {
    /// `AND` or `OR`.
    #[serde(default)]
    pub operator: String,
    /// `mfa`, `block`, `compliantDevice`, …
    #[serde(default)]
    pub built_in_controls: Vec<String>,
    #[serde(default)]
    pub custom_authentication_factors: Vec<String>,
    #[serde(default)]
    pub terms_of_use: Vec<String>,
    /// Inlined in list responses (id, displayName, allowedCombinations, …).
    #[serde(default)]
    pub authentication_strength: Option<AuthenticationStrengthPolicy>,
}

/// `GET /groups/{id}` (graph-api.md §7).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub security_enabled: bool,
    #[serde(default)]
    pub mail_enabled: bool,
    #[serde(default)]
    pub mail_nickname: Option<String>,
    #[serde(default)]
    pub group_types: Vec<String>,
    #[serde(default)]
    pub created_date_time: Option<DateTime<Utc>>,
}

/// A member of a group (`GET /groups/{id}/members`): usually `#microsoft.graph.user`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryObject {
    #[serde(rename = "@odata.type", default)]
    pub odata_type: String,
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
}

/// One entry of `GET /auditLogs/directoryAudits` (graph-api.md §8).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryAudit {
    pub id: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// `success`, `failure`, `timeout`.
    #[serde(default)]
    pub result: String,
    #[serde(default)]
    pub result_reason: Option<String>,
    #[serde(default)]
    pub activity_display_name: String,
    pub activity_date_time: DateTime<Utc>,
    #[serde(default)]
    pub logged_by_service: String,
    #[serde(default)]
    pub operation_type: String,
    #[serde(default)]
    pub initiated_by: AuditInitiator,
    #[serde(default)]
    pub target_resources: Vec<TargetResource>,
    #[serde(default)]
    pub additional_details: Vec<KeyValue>,
}

/// Who did it: a user or an app (the other is `null`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AuditInitiator {
    #[serde(default)]
    pub user: Option<AuditUser>,
    #[serde(default)]
    pub app: Option<AuditApp>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuditUser {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub ip_address: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuditApp {
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub service_principal_id: Option<String>,
}

/// What an audited activity touched. For `Add member to group` Entra lists the user first,
/// carrying `Group.ObjectID` and `Group.DisplayName` as modified properties, then the group.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TargetResource {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// `User`, `Group`, `Policy`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub group_type: Option<String>,
    #[serde(default)]
    pub modified_properties: Vec<ModifiedProperty>,
}

/// Old and new values are JSON text (a string value arrives quoted: `"\"…\""`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ModifiedProperty {
    pub display_name: String,
    #[serde(default)]
    pub old_value: Option<String>,
    #[serde(default)]
    pub new_value: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct KeyValue {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
}

/// One interactive sign-in of `GET /beta/auditLogs/signIns` (graph-api.md §8): only what
/// phoneless reads; Graph sends many more properties (the collection allows no `$select`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignIn {
    pub id: String,
    pub created_date_time: DateTime<Utc>,
    #[serde(default)]
    pub user_id: String,
    /// The steps in order: the first factor (`Primary authentication`), then any `MFA` steps.
    #[serde(default)]
    pub authentication_details: Vec<AuthenticationDetail>,
}

/// One step of a sign-in. The method used for MFA is the step whose requirement is `MFA` and
/// that succeeded, unless it is `Previously satisfied` or `Satisfied by token` (a reuse).
/// Method strings are display text (`Text message`, `Voice call`, `Mobile app notification`,
/// …), not an enum: match them loosely and keep unknown ones.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationDetail {
    pub authentication_method: Option<String>,
    /// `Primary authentication` or `MFA`.
    pub authentication_step_requirement: Option<String>,
    pub succeeded: Option<bool>,
}

/// A Temporary Access Pass of a person (`temporaryAccessPassAuthenticationMethod`,
/// graph-api.md §4). `temporaryAccessPass`, the pass itself, comes only in the answer to its
/// creation (a list answers `null`), and `Debug` never shows it.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TemporaryAccessPassMethod {
    #[serde(
        rename = "@odata.type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub odata_type: Option<String>,
    pub id: String,
    #[serde(default)]
    pub temporary_access_pass: Option<String>,
    #[serde(default)]
    pub created_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub start_date_time: Option<DateTime<Utc>>,
    /// 10 to 43200, within the policy's minimum and maximum.
    #[serde(default)]
    pub lifetime_in_minutes: Option<i32>,
    #[serde(default)]
    pub is_usable_once: Option<bool>,
    #[serde(default)]
    pub is_usable: Option<bool>,
    /// `EnabledByPolicy`, `DisabledByPolicy`, `Expired`, `NotYetValid`, `OneTimeUsed`.
    #[serde(default)]
    pub method_usability_reason: Option<String>,
}

impl std::fmt::Debug for TemporaryAccessPassMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporaryAccessPassMethod")
            .field("id", &self.id)
            .field(
                "temporary_access_pass",
                &self.temporary_access_pass.as_ref().map(|_| "[hidden]"),
            )
            .field("created_date_time", &self.created_date_time)
            .field("start_date_time", &self.start_date_time)
            .field("lifetime_in_minutes", &self.lifetime_in_minutes)
            .field("is_usable_once", &self.is_usable_once)
            .field("is_usable", &self.is_usable)
            .field("method_usability_reason", &self.method_usability_reason)
            .finish()
    }
}

/// The body of `POST /users/{id}/authentication/temporaryAccessPassMethods`; every field is
/// optional (the policy's defaults apply).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TemporaryAccessPassRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_in_minutes: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_usable_once: Option<bool>,
}

/// The body of `POST /users/{id}/checkMemberGroups` (up to [`CHECK_MEMBER_GROUPS_MAX`] ids);
/// the answer is a `{"value": [...]}` of the ids the person is in, transitively.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CheckMemberGroups {
    pub group_ids: Vec<String>,
}

/// How many group ids one `checkMemberGroups` request may name.
pub const CHECK_MEMBER_GROUPS_MAX: usize = 20;

/// The body of `POST /groups/{id}/members/$ref`: the member as a directory object's URL,
/// `https://graph.microsoft.com/v1.0/directoryObjects/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ObjectReference {
    #[serde(rename = "@odata.id")]
    pub odata_id: String,
}
