//! The product's domain, pure (no I/O): the vocabulary (method classes, migration states and
//! every other fixed word phoneless stores), the counts of a group, and a user's stored
//! version. Everything above it (sync, db, web) speaks in these types.

pub mod availability;
pub mod classify;
pub mod counts;
pub mod phone_use;
pub mod reasons;
pub mod retirement;
pub mod scope;
pub mod usage;
pub mod version;
pub mod vocab;

pub use classify::{DefaultMethod, State};
pub use counts::{Counts, Standing};
pub use reasons::{ClearedBy, PhoneReason};
pub use version::UserVersion;
pub use vocab::{Action, Dimension, PolicyKind, RunPart, RunStatus, UnknownWord, UserType, Word};
