//! Who may use the web front: OpenID Connect sign-in with Microsoft Entra ID ([`oidc`]) and the
//! roles that decide what a signed-in person may do ([`roles`]). Nothing here knows about
//! browsers or cookies; `web::auth` and `web::access` do.

pub mod oidc;
pub mod roles;

pub use oidc::{Oidc, SignInError, SignInSettings};
pub use roles::{Role, RoleMap};

use uuid::Uuid;

/// A person as a verified ID token names them. Keyed by `tenant_id` + `object_id`; the name and
/// username are for display only (a UPN can be reassigned to someone else).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub tenant_id: Uuid,
    pub object_id: Uuid,
    /// `name`, or the username when the token has none.
    pub name: String,
    /// `preferred_username` (usually the UPN).
    pub username: String,
    /// App-role values (`roles` claim).
    pub roles: Vec<String>,
    /// Group object ids (`groups` claim).
    pub groups: Vec<String>,
    /// The person is in more groups than fit in a token, so `groups` is incomplete (Entra's
    /// overage: `_claim_names` or `hasgroups`). Map roles by app role for such people.
    pub groups_overage: bool,
}
