//! phoneless: tracks a Microsoft 365 / Entra ID tenant's move off phone-based MFA.
//!
//! Layers point one way (docs/architecture.md): [`cli`] parses the configuration ([`config`],
//! a leaf of plain validated values) and assembles every layer's settings; [`web`] (pages and
//! their JSON, per page area) and [`sync`] (Graph to history) use [`db`], [`graph`] and the
//! pure modules; [`actions`] are the guarded writes to the tenant the web front offers;
//! [`alerts`] delivers what the sync and the actions raised; [`auth`] signs people in.
//!
//! Pure, no I/O: [`domain`] (the vocabulary, a group's counts, a user's stored version),
//! [`advice`], [`timeline`], [`forecast`] and [`posture`]. [`credential`] is the app
//! registration's credential, shared by the syncer and sign-in. [`sim`] stands in for
//! Microsoft Graph.

pub mod actions;
pub mod advice;
pub mod alerts;
pub mod auth;
pub mod cli;
pub mod config;
pub mod credential;
pub mod db;
pub mod demo;
pub mod domain;
pub mod forecast;
pub mod graph;
pub mod posture;
pub mod sim;
pub mod sync;
pub mod timeline;
pub mod web;
