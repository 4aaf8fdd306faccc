//! phoneless: tracks a Microsoft 365 / Entra ID tenant's move off phone-based MFA.
//!
//! Layers point one way (docs/architecture.md): [`web`] and [`sync`] use [`db`], [`classify`]
//! and [`graph`]; [`classify`] is pure; [`sim`] stands in for Microsoft Graph.

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
