//! Configuration: command-line flags over environment variables (docs/design.md §5), checked at
//! start-up with every problem listed at once. Secrets are held in `SecretString` and never
//! printed, not even in `Debug` output.

//!
//! A leaf: it holds plain, validated values and knows nothing of the layers that use them
//! (only the value types it validates: a credential, a rate, a role map). `cli` assembles the
//! sync, alert and sign-in settings from them, in one place.

use crate::auth::roles::{Role, RoleMap};
use crate::credential::Credential;
use crate::domain::Action;
use crate::domain::Word as _;
use crate::domain::retirement::Dates;
use crate::domain::scope::OutOfScope;
use crate::graph::pacing::Rate;
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default deadline: Microsoft stops delivering SMS and voice MFA codes (public cloud).
pub const DEFAULT_DEADLINE: &str = "2027-02-01";
/// Default late deadline: the same for Global Administrators and external users.
pub const DEFAULT_DEADLINE_LATE: &str = "2027-07-01";
/// Default time between background syncs.
pub const DEFAULT_SYNC_INTERVAL: &str = "6h";

/// Problems found in the configuration, one line each.
#[derive(Debug, thiserror::Error)]
#[error("the configuration is not usable:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError(pub Vec<String>);

/// How the Graph app registration is reached (`sync`, and `serve` unless `--no-sync`).
#[derive(Args, Clone)]
pub struct GraphArgs {
    /// Directory (tenant) id of the Entra tenant: a GUID or a verified domain.
    #[arg(long, env = "PHONELESS_TENANT_ID")]
    pub tenant_id: Option<String>,
    /// Application (client) id of the app registration.
    #[arg(long, env = "PHONELESS_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Client secret of the app registration (prefer PHONELESS_CLIENT_SECRET_FILE).
    #[arg(long, env = "PHONELESS_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// File holding the client secret.
    #[arg(long, env = "PHONELESS_CLIENT_SECRET_FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// PEM certificate registered on the app, to sign in with a certificate instead of a secret.
    #[arg(long, env = "PHONELESS_CLIENT_CERTIFICATE_FILE")]
    pub client_certificate_file: Option<PathBuf>,
    /// PEM RSA private key of that certificate.
    #[arg(long, env = "PHONELESS_CLIENT_KEY_FILE")]
    pub client_key_file: Option<PathBuf>,
    /// Microsoft Graph host (national clouds: https://graph.microsoft.us, https://microsoftgraph.chinacloudapi.cn, …).
    #[arg(
        long,
        env = "PHONELESS_GRAPH_URL",
        default_value = "https://graph.microsoft.com"
    )]
    pub graph_url: String,
    /// Sign-in (token) host (national clouds: https://login.microsoftonline.us, …).
    #[arg(
        long,
        env = "PHONELESS_LOGIN_URL",
        default_value = "https://login.microsoftonline.com"
    )]
    pub login_url: String,
    /// Pace for the reports API, requests per window (Graph allows about 5/10s per tenant); 0 for none.
    #[arg(long, env = "PHONELESS_REPORT_RATE", default_value = "4/10s")]
    pub report_rate: String,
    /// How long one Graph request may take.
    #[arg(long, env = "PHONELESS_GRAPH_TIMEOUT", default_value = "60s")]
    pub graph_timeout: String,
    /// How long one request may keep being retried (throttling, outages) before the sync fails.
    #[arg(long, env = "PHONELESS_GRAPH_RETRY_BUDGET", default_value = "10m")]
    pub graph_retry_budget: String,
    /// Days of sign-ins the first read of the sign-in log goes back (1–30).
    #[arg(long, env = "PHONELESS_SIGNIN_DAYS", default_value_t = 7)]
    pub signin_days: u32,
}

/// Allowlist oversight and alerts (`sync` and `serve`).
#[derive(Args, Clone)]
pub struct AlertArgs {
    /// Exclusion groups (allowlists) to watch, comma-separated group object ids. The groups the
    /// policies exclude are watched too.
    #[arg(long, env = "PHONELESS_EXCLUSION_GROUPS", default_value = "")]
    pub exclusion_groups: String,
    /// Where alerts are sent: comma-separated `kind=url`, kind `json`, `teams` or `slack` (a
    /// bare URL is `json`). The URLs are secrets and are never printed.
    #[arg(
        long,
        env = "PHONELESS_WEBHOOKS",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub webhooks: String,
    /// Accounts left out of every count and list (break-glass, service, room accounts):
    /// members of these groups, comma-separated object ids (nested members included).
    #[arg(long, env = "PHONELESS_OUT_OF_SCOPE_GROUPS", default_value = "")]
    pub out_of_scope_groups: String,
    /// Accounts left out of every count and list by sign-in name: comma-separated patterns
    /// such as `svc-*@contoso.com` (`*`, `?`, `[…]`; letter case ignored).
    #[arg(long, env = "PHONELESS_OUT_OF_SCOPE_UPNS", default_value = "")]
    pub out_of_scope_upns: String,
}

/// Default cap on the passes one agent may issue (`PHONELESS_TAP_LIMIT`).
pub const DEFAULT_TAP_LIMIT: &str = "10/1h";
/// Default longest time-boxed allowlist entry a helpdesk agent may give
/// (`PHONELESS_ALLOWLIST_MAX`; security leads may go further).
pub const DEFAULT_ALLOWLIST_MAX: &str = "14d";
/// The longest entry anyone may give: a place on the allowlist is never open-ended.
pub const ALLOWLIST_HARD_MAX: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// Write actions (`serve`): off unless listed. docs/design.md §6a.
#[derive(Args, Clone)]
pub struct ActionArgs {
    /// Write actions to switch on, comma-separated: `tap`, `allowlist`. Empty (the default)
    /// keeps phoneless read-only.
    #[arg(long, env = "PHONELESS_ACTIONS", default_value = "")]
    pub actions: String,
    /// Application (client) id of a second app registration that holds the write permissions,
    /// so the syncer's registration stays read-only. Unset: writes use PHONELESS_CLIENT_ID.
    #[arg(long, env = "PHONELESS_WRITE_CLIENT_ID")]
    pub write_client_id: Option<String>,
    /// Client secret of the write registration (prefer PHONELESS_WRITE_CLIENT_SECRET_FILE).
    #[arg(long, env = "PHONELESS_WRITE_CLIENT_SECRET", hide_env_values = true)]
    pub write_client_secret: Option<String>,
    /// File holding the write registration's client secret.
    #[arg(long, env = "PHONELESS_WRITE_CLIENT_SECRET_FILE")]
    pub write_client_secret_file: Option<PathBuf>,
    /// PEM certificate registered on the write registration.
    #[arg(long, env = "PHONELESS_WRITE_CLIENT_CERTIFICATE_FILE")]
    pub write_client_certificate_file: Option<PathBuf>,
    /// PEM RSA private key of that certificate.
    #[arg(long, env = "PHONELESS_WRITE_CLIENT_KEY_FILE")]
    pub write_client_key_file: Option<PathBuf>,
    /// Passes one agent may issue per window, e.g. 10/1h.
    #[arg(long, env = "PHONELESS_TAP_LIMIT", default_value = DEFAULT_TAP_LIMIT)]
    pub tap_limit: String,
    /// Longest allowlist entry a helpdesk agent may give, e.g. 14d.
    #[arg(long, env = "PHONELESS_ALLOWLIST_MAX", default_value = DEFAULT_ALLOWLIST_MAX)]
    pub allowlist_max: String,
}

/// Validated write-action settings.
#[derive(Debug, Clone)]
pub struct ActionConfig {
    /// The actions switched on (empty: read-only).
    pub enabled: Vec<Action>,
    /// The write registration, when it is not the syncer's.
    pub write_registration: Option<(String, Credential)>,
    pub tap_limit: Rate,
    pub allowlist_max: Duration,
}

impl Default for ActionConfig {
    /// Read-only, with the default limits.
    fn default() -> Self {
        ActionConfig {
            enabled: Vec::new(),
            write_registration: None,
            tap_limit: DEFAULT_TAP_LIMIT.parse().unwrap_or(Rate::UNLIMITED),
            allowlist_max: Duration::from_secs(14 * 24 * 60 * 60),
        }
    }
}

impl ActionConfig {
    pub fn on(&self, action: Action) -> bool {
        self.enabled.contains(&action)
    }
}

impl ActionArgs {
    pub fn config(&self, problems: &mut Vec<String>) -> ActionConfig {
        let mut enabled = Vec::new();
        for item in self
            .actions
            .split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
        {
            match Action::parse(&item.to_ascii_lowercase()) {
                Ok(a) if !enabled.contains(&a) => enabled.push(a),
                Ok(_) => {}
                Err(e) => problems.push(format!("PHONELESS_ACTIONS: {e}")),
            }
        }
        let write_registration = match self.write_client_id.as_deref().map(str::trim) {
            Some(id) if !id.is_empty() => credential(
                "PHONELESS_WRITE_CLIENT",
                [
                    self.write_client_secret.as_deref().map(Source::Value),
                    self.write_client_secret_file.as_deref().map(Source::File),
                    self.write_client_certificate_file
                        .as_deref()
                        .map(Source::File),
                    self.write_client_key_file.as_deref().map(Source::File),
                ],
                problems,
            )
            .map(|c| (id.to_owned(), c)),
            _ => {
                if self.write_client_secret.is_some()
                    || self.write_client_secret_file.is_some()
                    || self.write_client_certificate_file.is_some()
                {
                    problems.push(
                        "a write credential is set but PHONELESS_WRITE_CLIENT_ID is not: set the \
                         write registration's application (client) id too"
                            .into(),
                    );
                }
                None
            }
        };
        let tap_limit = self.tap_limit.parse::<Rate>().unwrap_or_else(|e| {
            problems.push(format!("PHONELESS_TAP_LIMIT: {e}"));
            Rate::UNLIMITED
        });
        let allowlist_max = duration("PHONELESS_ALLOWLIST_MAX", &self.allowlist_max, problems);
        if allowlist_max > ALLOWLIST_HARD_MAX {
            problems.push(format!(
                "PHONELESS_ALLOWLIST_MAX={:?} is longer than 90 days: a place on the allowlist \
                 is meant to be short",
                self.allowlist_max
            ));
        }
        ActionConfig {
            enabled,
            write_registration,
            tap_limit,
            allowlist_max,
        }
    }
}

/// Validated allowlist settings, and the webhook list (read by the alerts, which know its
/// format; a secret: the URLs carry their keys).
#[derive(Debug, Clone, Default)]
pub struct AlertConfig {
    pub exclusion_groups: Vec<uuid::Uuid>,
    pub webhooks: SecretString,
    pub out_of_scope: OutOfScope,
}

impl AlertArgs {
    pub fn config(&self, problems: &mut Vec<String>) -> AlertConfig {
        let mut exclusion_groups = Vec::new();
        for item in self.exclusion_groups.split(',').map(str::trim) {
            if item.is_empty() {
                continue;
            }
            match uuid::Uuid::parse_str(item) {
                Ok(id) if !exclusion_groups.contains(&id) => exclusion_groups.push(id),
                Ok(_) => {}
                Err(_) => problems.push(format!(
                    "PHONELESS_EXCLUSION_GROUPS: {item:?} is not a group object id (a GUID such as 6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f)"
                )),
            }
        }
        AlertConfig {
            exclusion_groups,
            webhooks: SecretString::from(self.webhooks.clone()),
            out_of_scope: OutOfScope::parse(
                &self.out_of_scope_groups,
                &self.out_of_scope_upns,
                problems,
            ),
        }
    }
}

fn duration(name: &str, value: &str, problems: &mut Vec<String>) -> Duration {
    match humantime::parse_duration(value.trim()) {
        Ok(d) if !d.is_zero() => d,
        _ => {
            problems.push(format!(
                "{name}={value:?} is not a duration such as 30s, 10m or 6h"
            ));
            Duration::from_secs(1)
        }
    }
}

fn base_url(name: &str, value: &str, problems: &mut Vec<String>) -> String {
    let v = value.trim().trim_end_matches('/');
    match reqwest::Url::parse(v) {
        Ok(u) if (u.scheme() == "https" || u.scheme() == "http") && u.host().is_some() => {
            v.to_owned()
        }
        _ => {
            problems.push(format!(
                "{name}={value:?} is not an http(s) URL such as https://graph.microsoft.com"
            ));
            String::new()
        }
    }
}

fn read_secret_file(name: &str, path: &PathBuf, problems: &mut Vec<String>) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Ok(_) => {
            problems.push(format!("{name}: {} is empty", path.display()));
            None
        }
        Err(e) => {
            problems.push(format!("{name}: cannot read {}: {e}", path.display()));
            None
        }
    }
}

/// Where a credential part comes from: the variable's value, or a file it names.
#[derive(Clone, Copy)]
enum Source<'a> {
    Value(&'a str),
    File(&'a std::path::Path),
}

/// The credential of an app registration from `{prefix}_SECRET`, `{prefix}_SECRET_FILE`,
/// `{prefix}_CERTIFICATE_FILE` and `{prefix}_KEY_FILE` (in that order): a secret, or a
/// certificate with its key.
fn credential(
    prefix: &str,
    [secret, secret_file, certificate, key]: [Option<Source<'_>>; 4],
    problems: &mut Vec<String>,
) -> Option<Credential> {
    let read = |suffix: &str, source: Source<'_>, problems: &mut Vec<String>| match source {
        Source::Value(v) => Some(v.trim().to_owned()).filter(|v| !v.is_empty()),
        Source::File(path) => {
            read_secret_file(&format!("{prefix}_{suffix}"), &path.to_path_buf(), problems)
        }
    };
    // An empty secret is no secret.
    let secret = secret.filter(|s| !matches!(s, Source::Value(v) if v.trim().is_empty()));
    match (secret, secret_file, certificate, key) {
        (Some(s), None, None, None) => {
            read("SECRET", s, problems).map(|s| Credential::Secret(SecretString::from(s)))
        }
        (None, Some(s), None, None) => {
            read("SECRET_FILE", s, problems).map(|s| Credential::Secret(SecretString::from(s)))
        }
        (None, None, Some(cert), Some(key)) => {
            let certificate_pem = read("CERTIFICATE_FILE", cert, problems);
            let private_key_pem = read("KEY_FILE", key, problems);
            Some(Credential::Certificate {
                certificate_pem: certificate_pem?,
                private_key_pem: SecretString::from(private_key_pem?),
            })
        }
        (None, None, Some(_), None) | (None, None, None, Some(_)) => {
            problems.push(format!(
                "a certificate needs both {prefix}_CERTIFICATE_FILE and {prefix}_KEY_FILE"
            ));
            None
        }
        (None, None, None, None) => {
            problems.push(format!(
                "no credential: set {prefix}_SECRET (or {prefix}_SECRET_FILE), or \
                 {prefix}_CERTIFICATE_FILE with {prefix}_KEY_FILE"
            ));
            None
        }
        _ => {
            problems.push(format!(
                "choose one credential for {prefix}_ID: a client secret (or its file) or a \
                 certificate, not several"
            ));
            None
        }
    }
}

impl GraphArgs {
    /// Validated Graph settings, or every problem found.
    pub fn settings(&self, problems: &mut Vec<String>) -> Option<GraphConfig> {
        let before = problems.len();
        let required =
            |v: &Option<String>, name: &str, what: &str, problems: &mut Vec<String>| match v
                .as_deref()
                .map(str::trim)
            {
                Some(s) if !s.is_empty() => s.to_owned(),
                _ => {
                    problems.push(format!("{name} is not set: {what}"));
                    String::new()
                }
            };
        let tenant_id = required(
            &self.tenant_id,
            "PHONELESS_TENANT_ID",
            "the directory (tenant) id of your Entra tenant",
            problems,
        );
        let client_id = required(
            &self.client_id,
            "PHONELESS_CLIENT_ID",
            "the application (client) id of the app registration",
            problems,
        );
        if tenant_id.contains('/') || tenant_id.contains(' ') {
            problems.push(format!(
                "PHONELESS_TENANT_ID={tenant_id:?} is neither a GUID nor a domain"
            ));
        }
        let credential = credential(
            "PHONELESS_CLIENT",
            [
                self.client_secret.as_deref().map(Source::Value),
                self.client_secret_file.as_deref().map(Source::File),
                self.client_certificate_file.as_deref().map(Source::File),
                self.client_key_file.as_deref().map(Source::File),
            ],
            problems,
        );
        let graph_url = base_url("PHONELESS_GRAPH_URL", &self.graph_url, problems);
        let login_url = base_url("PHONELESS_LOGIN_URL", &self.login_url, problems);
        let report_rate = match self.report_rate.parse::<Rate>() {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("PHONELESS_REPORT_RATE: {e}"));
                Rate::UNLIMITED
            }
        };
        let request_timeout = duration("PHONELESS_GRAPH_TIMEOUT", &self.graph_timeout, problems);
        let retry_budget = duration(
            "PHONELESS_GRAPH_RETRY_BUDGET",
            &self.graph_retry_budget,
            problems,
        );
        if !(1..=30).contains(&self.signin_days) {
            problems.push(format!(
                "PHONELESS_SIGNIN_DAYS={} is outside 1 to 30: the sign-in log keeps 30 days (7 \
                 without Entra ID P1)",
                self.signin_days
            ));
        }
        if problems.len() > before {
            return None;
        }
        Some(GraphConfig {
            signin_days: self.signin_days,
            graph_url,
            login_url,
            tenant_id,
            client_id,
            credential: credential?,
            report_rate,
            request_timeout,
            retry_budget,
        })
    }
}

/// The app registration and how Graph is reached, validated.
#[derive(Debug, Clone)]
pub struct GraphConfig {
    /// Without a trailing slash, as every URL here.
    pub graph_url: String,
    pub login_url: String,
    pub tenant_id: String,
    pub client_id: String,
    pub credential: Credential,
    /// Pace of the reports API.
    pub report_rate: Rate,
    /// How long one request may take.
    pub request_timeout: Duration,
    /// How long one request may keep being retried.
    pub retry_budget: Duration,
    /// Days of sign-ins the first read goes back.
    pub signin_days: u32,
}

/// Who may use the web front.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// Sign-in with Microsoft Entra ID.
    Entra,
    /// No sign-in: only on a loopback address, for trials and the demo.
    None,
}

/// The web server's settings (`serve`).
#[derive(Args, Clone)]
pub struct WebArgs {
    /// Address to listen on.
    #[arg(long, env = "PHONELESS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The URL people use to reach phoneless (for sign-in redirects and secure cookies).
    #[arg(long, env = "PHONELESS_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Sign-in mode: entra, or none (loopback only).
    #[arg(long, env = "PHONELESS_AUTH", value_enum, default_value = "entra")]
    pub auth: AuthMode,
    /// The date Microsoft-provided SMS and voice end for most people.
    #[arg(long, env = "PHONELESS_DEADLINE", default_value = DEFAULT_DEADLINE)]
    pub deadline: String,
    /// The date they end for Global Administrators and external users.
    #[arg(long, env = "PHONELESS_DEADLINE_LATE", default_value = DEFAULT_DEADLINE_LATE)]
    pub deadline_late: String,
    /// App-role values or group object ids (comma-separated) that make someone a security lead.
    #[arg(
        long,
        env = "PHONELESS_ROLE_SECURITY_LEAD",
        default_value = "Phoneless.SecurityLead"
    )]
    pub role_security_lead: String,
    /// App-role values or group object ids (comma-separated) that make someone helpdesk.
    #[arg(
        long,
        env = "PHONELESS_ROLE_HELPDESK",
        default_value = "Phoneless.Helpdesk"
    )]
    pub role_helpdesk: String,
    /// App-role values or group object ids (comma-separated) that make someone a viewer.
    #[arg(
        long,
        env = "PHONELESS_ROLE_VIEWER",
        default_value = "Phoneless.Viewer"
    )]
    pub role_viewer: String,
    /// A session ends after this long without a request.
    #[arg(long, env = "PHONELESS_SESSION_IDLE", default_value = DEFAULT_SESSION_IDLE)]
    pub session_idle: String,
    /// A session ends this long after sign-in, however busy.
    #[arg(long, env = "PHONELESS_SESSION_MAX", default_value = DEFAULT_SESSION_MAX)]
    pub session_max: String,
}

/// Default idle expiry of a session.
pub const DEFAULT_SESSION_IDLE: &str = "1h";
/// Default absolute expiry of a session: a working day.
pub const DEFAULT_SESSION_MAX: &str = "12h";
/// Who the access log names while sign-in is off.
pub const LOCAL_IDENTITY: &str = "local";

/// Validated web settings.
#[derive(Debug, Clone)]
pub struct WebConfig {
    pub listen: SocketAddr,
    /// The address people use to reach phoneless, without a trailing slash.
    pub public_url: Option<String>,
    pub auth: AuthMode,
    /// The two retirement dates.
    pub deadlines: Dates,
    /// Which app roles or groups give which role.
    pub roles: RoleMap,
    pub session_idle: Duration,
    pub session_max: Duration,
}

impl WebConfig {
    /// Served over https: cookies are `Secure` and browsers are told to stay on https (HSTS).
    pub fn https(&self) -> bool {
        is_https(self.public_url.as_deref())
    }
}

impl WebArgs {
    pub fn config(&self, problems: &mut Vec<String>) -> Option<WebConfig> {
        let before = problems.len();
        let listen = match self.listen.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                problems.push(format!(
                    "PHONELESS_LISTEN={:?} is not an address such as 127.0.0.1:8080",
                    self.listen
                ));
                None
            }
        };
        let public_url = self
            .public_url
            .as_deref()
            .map(|u| base_url("PHONELESS_PUBLIC_URL", u, problems));
        let date = |name: &str, value: &str, example: &str, problems: &mut Vec<String>| {
            NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
                .map_err(|_| {
                    problems.push(format!("{name}={value:?} is not a date such as {example}"))
                })
                .ok()
        };
        let early = date(
            "PHONELESS_DEADLINE",
            &self.deadline,
            DEFAULT_DEADLINE,
            problems,
        );
        let late = date(
            "PHONELESS_DEADLINE_LATE",
            &self.deadline_late,
            DEFAULT_DEADLINE_LATE,
            problems,
        );
        if let (Some(e), Some(l)) = (early, late)
            && l < e
        {
            problems.push(format!(
                "PHONELESS_DEADLINE_LATE ({l}) is before PHONELESS_DEADLINE ({e}): the late date \
                 is for Global Administrators and external users, after everyone else's"
            ));
        }
        match (self.auth, listen, public_url.as_deref()) {
            (AuthMode::None, Some(a), _) if !a.ip().is_loopback() => problems.push(format!(
                "PHONELESS_AUTH=none lets anyone in, so it is only allowed on a loopback address; {a} is not one"
            )),
            (AuthMode::Entra, _, None) => problems.push(
                "PHONELESS_PUBLIC_URL is not set: the address people use to reach phoneless \
                 (sign-in sends them back to it, at /auth/callback)"
                    .into(),
            ),
            (AuthMode::Entra, _, Some(url)) if !url.is_empty() && !secure_enough(url) => {
                problems.push(format!(
                    "PHONELESS_PUBLIC_URL={url:?} must be https (plain http only for localhost): \
                     session cookies must not travel in the clear, and Entra ID accepts http \
                     redirect URIs only for localhost"
                ))
            }
            _ => {}
        }
        let roles = RoleMap::parse([
            (Role::SecurityLead, &self.role_security_lead),
            (Role::Helpdesk, &self.role_helpdesk),
            (Role::Viewer, &self.role_viewer),
        ])
        .map_err(|e| problems.push(e))
        .ok();
        let session_idle = duration("PHONELESS_SESSION_IDLE", &self.session_idle, problems);
        let session_max = duration("PHONELESS_SESSION_MAX", &self.session_max, problems);
        if session_idle > session_max {
            problems.push(format!(
                "PHONELESS_SESSION_IDLE ({}) is longer than PHONELESS_SESSION_MAX ({})",
                self.session_idle, self.session_max
            ));
        }
        if problems.len() > before {
            return None;
        }
        Some(WebConfig {
            listen: listen?,
            public_url,
            auth: self.auth,
            deadlines: Dates {
                early: early?,
                late: late?,
            },
            roles: roles?,
            session_idle,
            session_max,
        })
    }
}

/// Whether a public URL is https.
pub fn is_https(public_url: Option<&str>) -> bool {
    public_url.is_some_and(|u| u.starts_with("https://"))
}

/// https, or http to this machine (trials).
fn secure_enough(url: &str) -> bool {
    match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() == "https" => true,
        Ok(u) => match u.host() {
            Some(oauth2::url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(oauth2::url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(oauth2::url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        Err(_) => false,
    }
}

/// Validated sync interval.
pub fn sync_interval(value: &str, problems: &mut Vec<String>) -> Duration {
    let d = duration("PHONELESS_SYNC_INTERVAL", value, problems);
    if d < Duration::from_secs(60) {
        problems.push(format!("PHONELESS_SYNC_INTERVAL={value:?} is shorter than a minute; Graph's report refreshes a few times a day"));
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        graph: GraphArgs,
        #[command(flatten)]
        web: WebArgs,
    }

    fn parse(args: &[&str]) -> T {
        T::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .expect("arguments parse")
    }

    #[test]
    fn lists_every_problem_at_once() {
        let t = parse(&[
            "--report-rate",
            "lots",
            "--graph-url",
            "ftp://x",
            "--graph-timeout",
            "soon",
        ]);
        let mut problems = Vec::new();
        assert!(t.graph.settings(&mut problems).is_none());
        let text = ConfigError(problems).to_string();
        for needle in [
            "PHONELESS_TENANT_ID",
            "PHONELESS_CLIENT_ID",
            "no credential",
            "PHONELESS_REPORT_RATE",
            "PHONELESS_GRAPH_URL",
            "PHONELESS_GRAPH_TIMEOUT",
        ] {
            assert!(text.contains(needle), "{needle} missing from: {text}");
        }
    }

    #[test]
    fn secrets_never_show() {
        let t = parse(&[
            "--tenant-id",
            "t",
            "--client-id",
            "c",
            "--client-secret",
            "hunter2-very-secret",
        ]);
        let mut problems = Vec::new();
        let s = t.graph.settings(&mut problems).expect("valid");
        assert!(problems.is_empty());
        assert!(!format!("{s:?}").contains("hunter2"));
        let both = parse(&[
            "--tenant-id",
            "t",
            "--client-id",
            "c",
            "--client-secret",
            "hunter2-very-secret",
            "--client-key-file",
            "/nonexistent",
        ]);
        let mut problems = Vec::new();
        assert!(both.graph.settings(&mut problems).is_none());
        assert!(!problems.join(" ").contains("hunter2"));
    }

    #[test]
    fn no_sign_in_only_on_loopback() {
        let mut problems = Vec::new();
        assert!(
            parse(&["--auth", "none"])
                .web
                .config(&mut problems)
                .is_some()
        );
        assert!(
            parse(&["--auth", "none", "--listen", "0.0.0.0:8080"])
                .web
                .config(&mut problems)
                .is_none()
        );
        assert!(problems[0].contains("loopback"));
        let mut problems = Vec::new();
        assert!(
            parse(&["--auth", "none", "--deadline", "next year"])
                .web
                .config(&mut problems)
                .is_none()
        );
        assert!(problems[0].contains("PHONELESS_DEADLINE"));
    }

    #[test]
    fn sign_in_needs_a_public_https_address() {
        let problems_of = |args: &[&str]| {
            let mut problems = Vec::new();
            parse(args).web.config(&mut problems);
            problems.join("\n")
        };
        assert!(problems_of(&[]).contains("PHONELESS_PUBLIC_URL is not set"));
        assert!(
            problems_of(&["--public-url", "http://phoneless.contoso.example"])
                .contains("must be https")
        );
        for ok in [
            "https://phoneless.contoso.example",
            "http://localhost:8080",
            "http://127.0.0.1:8080/",
        ] {
            assert_eq!(problems_of(&["--public-url", ok]), "", "{ok}");
        }
        let mut problems = Vec::new();
        let config = parse(&["--public-url", "https://phoneless.contoso.example/"])
            .web
            .config(&mut problems)
            .expect("valid");
        assert!(config.https());
        assert_eq!(
            config.public_url.as_deref(),
            Some("https://phoneless.contoso.example")
        );
    }

    #[test]
    fn sessions_and_roles_are_checked() {
        let mut problems = Vec::new();
        let none = ["--auth", "none"];
        let bad = [
            &none[..],
            &["--session-idle", "13h", "--role-viewer", "Viewers Group"],
        ]
        .concat();
        assert!(parse(&bad).web.config(&mut problems).is_none());
        let text = problems.join("\n");
        assert!(text.contains("PHONELESS_SESSION_IDLE"), "{text}");
        assert!(text.contains("PHONELESS_ROLE_VIEWER"), "{text}");
    }

    #[derive(Parser)]
    struct A {
        #[command(flatten)]
        actions: ActionArgs,
    }

    fn actions(args: &[&str]) -> (ActionConfig, Vec<String>) {
        let a = A::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .expect("arguments parse");
        let mut problems = Vec::new();
        (a.actions.config(&mut problems), problems)
    }

    #[test]
    fn actions_are_off_unless_listed_and_every_mistake_is_named() {
        let (off, problems) = actions(&[]);
        assert!(off.enabled.is_empty() && off.write_registration.is_none() && problems.is_empty());
        assert_eq!(off.tap_limit.to_string(), "10/1h");
        assert_eq!(off.allowlist_max, Duration::from_secs(14 * 86_400));

        let (on, problems) = actions(&[
            "--actions",
            " TAP, allowlist ,tap",
            "--write-client-id",
            "w-id",
            "--write-client-secret",
            "w-secret",
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(on.enabled, vec![Action::Tap, Action::Allowlist]);
        assert!(on.on(Action::Allowlist));
        assert_eq!(
            on.write_registration.as_ref().map(|w| w.0.as_str()),
            Some("w-id")
        );
        assert!(
            !format!("{on:?}").contains("w-secret"),
            "the secret never shows"
        );

        let (_, problems) = actions(&[
            "--actions",
            "tap,bulk_delete",
            "--write-client-secret",
            "orphan",
            "--tap-limit",
            "lots",
            "--allowlist-max",
            "120d",
        ]);
        let text = problems.join("\n");
        for needle in [
            "PHONELESS_ACTIONS: \"bulk_delete\" is not a known action (known: tap, allowlist)",
            "PHONELESS_WRITE_CLIENT_ID is not",
            "PHONELESS_TAP_LIMIT",
            "PHONELESS_ALLOWLIST_MAX",
        ] {
            assert!(text.contains(needle), "{needle} missing from: {text}");
        }
        let (_, problems) = actions(&["--write-client-id", "w-id"]);
        assert!(
            problems.join(" ").contains("PHONELESS_WRITE_CLIENT_SECRET"),
            "{problems:?}"
        );
    }
}
