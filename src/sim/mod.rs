//! The simulated tenant that stands in for Microsoft Graph in tests, benchmarks and the demo:
//! a deterministic population with a day-by-day migration story ([`tenant`]), served over HTTP
//! as a fake Graph and token endpoint with switchable faults ([`server`]), and signs people in
//! as a fake Entra ID identity provider (OpenID Connect, [`idp`]).

pub mod idp;
pub mod server;
pub mod tenant;

pub use idp::{IdTokenFault, SimSignIn};
pub use server::{FakeGraph, FakeSettings, Faults};
pub use tenant::Tenant;
