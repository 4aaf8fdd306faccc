//! Configuration: command-line flags over environment variables (docs/design.md §5), checked at
//! start-up with every problem listed at once. Secrets are held in `SecretString` and never
//! printed, not even in `Debug` output.

//!
//! A leaf: it holds plain, validated values and knows nothing of the layers that use them
//! (only the value types it validates: a credential, a rate, a role map). `cli` assembles the
//! sync, alert and sign-in settings from them, in one place.

use crate::auth::roles::{Role, RoleMap};
use crate::credential::Credential;
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
        let credential = match (
            &self.client_secret,
            &self.client_secret_file,
            &self.client_certificate_file,
            &self.client_key_file,
        ) {
            (Some(s), None, None, None) if !s.trim().is_empty() => {
                Some(Credential::Secret(SecretString::from(s.trim().to_owned())))
            }
            (None, Some(path), None, None) => {
                read_secret_file("PHONELESS_CLIENT_SECRET_FILE", path, problems)
                    .map(|s| Credential::Secret(SecretString::from(s)))
            }
            (None, None, Some(cert), Some(key)) => {
                let certificate_pem =
                    read_secret_file("PHONELESS_CLIENT_CERTIFICATE_FILE", cert, problems);
                let private_key_pem = read_secret_file("PHONELESS_CLIENT_KEY_FILE", key, problems);
                match (certificate_pem, private_key_pem) {
                    (Some(c), Some(k)) => Some(Credential::Certificate {
                        certificate_pem: c,
                        private_key_pem: SecretString::from(k),
                    }),
                    _ => None,
                }
            }
            (None, None, Some(_), None) | (None, None, None, Some(_)) => {
                problems.push("a certificate needs both PHONELESS_CLIENT_CERTIFICATE_FILE and PHONELESS_CLIENT_KEY_FILE".into());
                None
            }
            (None, None, None, None) | (Some(_), None, None, None) => {
                problems.push(
                    "no credential: set PHONELESS_CLIENT_SECRET (or PHONELESS_CLIENT_SECRET_FILE), or \
                     PHONELESS_CLIENT_CERTIFICATE_FILE with PHONELESS_CLIENT_KEY_FILE"
                        .into(),
                );
                None
            }
            _ => {
                problems.push("choose one credential: a client secret (or its file) or a certificate, not several".into());
                None
            }
        };
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
        if problems.len() > before {
            return None;
        }
        Some(GraphConfig {
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
}
