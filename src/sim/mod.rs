//! The simulated tenant that stands in for Microsoft Graph in tests, benchmarks and the demo:
//! a deterministic population with a day-by-day migration story ([`tenant`]), served over HTTP
//! as a fake Graph and token endpoint with switchable faults ([`server`]), and signs people in
//! as a fake Entra ID identity provider (OpenID Connect, [`idp`]). Its security configuration
//! (methods policy, strengths, Conditional Access, the exclusion group, the audit log) has a
//! story of its own ([`policy`]), served by [`policy_api`]; its Global Administrators by
//! [`roles_api`]; its interactive sign-in log, drawn day by day from the registration story,
//! by [`signins`]. The write endpoints (a Temporary Access Pass, group members through `/$ref`)
//! lay what they change over the story ([`write_api`]).

pub mod idp;
pub mod policy;
pub mod policy_api;
pub mod roles_api;
pub mod server;
pub mod signins;
pub mod tenant;
pub mod write_api;

pub use idp::{IdTokenFault, SimSignIn};
pub use policy::PolicyStory;
pub use server::{FakeGraph, FakeSettings, Faults, PolicyOverride};
pub use tenant::Tenant;
pub use write_api::WriteRecord;
