//! Webhooks that receive alerts: parsing `PHONELESS_WEBHOOKS`, the request body for each kind
//! (plain JSON, a Microsoft Teams card, a Slack message) and the POST itself.
//!
//! A Teams or Slack webhook URL is a credential: whoever holds it can post to the channel. So
//! the URL lives in a [`SecretString`] and only [`Webhook::label`] (kind and host) ever reaches
//! Debug output, logs and error messages.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::CONTENT_TYPE;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// How much of a refusing receiver's answer goes into the error, in characters: enough to read
/// "invalid_payload" or a Power Automate error code, short enough for one log line.
const ERROR_BODY_CHARS: usize = 200;

/// Slack refuses a section whose text is longer than this.
const SLACK_TEXT_MAX: usize = 3000;
/// Slack refuses a section with more fields than this.
const SLACK_FIELDS_MAX: usize = 10;
/// Slack refuses a field whose text is longer than this; name and value share it.
const SLACK_FIELD_NAME_MAX: usize = 200;
const SLACK_FIELD_VALUE_MAX: usize = 1700;

/// Teams has no per-block limit but refuses a message over about 28 KB; these keep one alert
/// far below that whatever the names in it.
const TEAMS_TITLE_MAX: usize = 200;
const TEAMS_TEXT_MAX: usize = 3000;
const TEAMS_FACT_NAME_MAX: usize = 200;
const TEAMS_FACT_VALUE_MAX: usize = 1000;

/// What a webhook expects in the request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookKind {
    /// Our own JSON document (see [`body`]), for scripts and automation.
    Json,
    /// A Microsoft Teams Workflows ("when a webhook request is received") or incoming webhook.
    Teams,
    /// A Slack incoming webhook.
    Slack,
}

impl WebhookKind {
    /// The name used in `PHONELESS_WEBHOOKS` and in the stored key.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookKind::Json => "json",
            WebhookKind::Teams => "teams",
            WebhookKind::Slack => "slack",
        }
    }

    fn from_name(name: &str) -> Option<WebhookKind> {
        match name.to_ascii_lowercase().as_str() {
            "json" => Some(WebhookKind::Json),
            "teams" => Some(WebhookKind::Teams),
            "slack" => Some(WebhookKind::Slack),
            _ => None,
        }
    }
}

/// One configured webhook. Debug shows kind and host only, because the URL is a credential.
#[derive(Clone)]
pub struct Webhook {
    /// Which body the receiver expects.
    pub kind: WebhookKind,
    /// The URL as the URL parser writes it back (scheme and host in lower case), so the key does
    /// not change with the way it was typed.
    url: SecretString,
    /// Host, and port when it is not the scheme's default: the part of the URL that may be shown.
    host: String,
}

impl Webhook {
    /// Checks that `url` is an absolute http or https URL with a host. The error never repeats
    /// the URL, since its path or query is the secret.
    pub fn new(kind: WebhookKind, url: &str) -> Result<Webhook, String> {
        let parsed = reqwest::Url::parse(url.trim())
            .map_err(|e| format!("not an absolute http(s) URL ({e})"))?;
        if parsed.scheme() != "https" && parsed.scheme() != "http" {
            return Err(format!(
                "scheme {:?} is not allowed; the URL must start with https:// (or http://)",
                parsed.scheme()
            ));
        }
        let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
            return Err("the URL has no host".into());
        };
        let host = match parsed.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        Ok(Webhook {
            kind,
            url: SecretString::from(parsed.to_string()),
            host,
        })
    }

    /// A stable key for this webhook (kind + URL), safe to store: the first 16 hex characters
    /// of SHA-256 of "kind=url". Lets the database remember what was sent where without
    /// holding the secret URL.
    pub fn key(&self) -> String {
        let digest = Sha256::digest(format!(
            "{}={}",
            self.kind.as_str(),
            self.url.expose_secret()
        ));
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// "teams → example.webhook.office.com": kind and host, never the path or query, so it is
    /// safe for logs and pages.
    pub fn label(&self) -> String {
        format!("{} → {}", self.kind.as_str(), self.host)
    }

    /// The full URL, for the request only.
    pub fn url(&self) -> &SecretString {
        &self.url
    }

    /// Removes the URL, its path and its query from a message that may quote them (an HTTP
    /// library's error, a receiver echoing the request).
    fn redact(&self, message: &str) -> String {
        let full = self.url.expose_secret();
        let mut out = message.replace(full, "…");
        if let Ok(u) = reqwest::Url::parse(full) {
            let path = u.path();
            if let Some(query) = u.query().filter(|q| !q.is_empty()) {
                out = out.replace(&format!("{path}?{query}"), "…");
                out = out.replace(query, "…");
            }
            if path.len() > 1 {
                out = out.replace(path, "…");
            }
        }
        out
    }
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Webhook({})", self.label())
    }
}

/// Parses `PHONELESS_WEBHOOKS`: comma-separated `kind=url` items with kind `json`, `teams` or
/// `slack` (any case); a bare URL means `json`.
///
/// Empty or whitespace-only → no webhooks. Spaces around items, kinds and URLs are ignored, and
/// so are empty items (a trailing or doubled comma). An unknown kind, a URL that is not http(s)
/// and the same webhook twice are errors. Errors name the item by its 1-based position among the
/// comma-separated items, and its kind, never the URL. A comma inside a URL must be written
/// `%2C`.
pub fn parse_webhooks(value: &str) -> Result<Vec<Webhook>, String> {
    let mut hooks: Vec<Webhook> = Vec::new();
    for (i, item) in value.split(',').enumerate() {
        let n = i + 1;
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        // "kind=url" only when the part before '=' is a plain word: a bare URL may hold '=' in
        // its query.
        let (kind, url) = match item.split_once('=') {
            Some((word, url)) if is_word(word.trim()) => {
                let word = word.trim();
                let kind = WebhookKind::from_name(word).ok_or_else(|| {
                    format!(
                        "PHONELESS_WEBHOOKS item {n}: unknown kind {:?}; use json, teams or slack",
                        word.chars().take(20).collect::<String>()
                    )
                })?;
                (kind, url)
            }
            _ => (WebhookKind::Json, item),
        };
        let hook = Webhook::new(kind, url)
            .map_err(|e| format!("PHONELESS_WEBHOOKS item {n} ({}): {e}", kind.as_str()))?;
        if hooks.iter().any(|h| h.key() == hook.key()) {
            return Err(format!(
                "PHONELESS_WEBHOOKS item {n} ({}) repeats an earlier webhook; each alert would be posted twice",
                kind.as_str()
            ));
        }
        hooks.push(hook);
    }
    Ok(hooks)
}

fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// An alert as the webhooks see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AlertMessage {
    /// The alert's id in phoneless; a repeat of the same alert has the same id.
    pub id: i64,
    /// "member_joined" | "policy_changed" | "sync_failing"
    pub kind: String,
    /// One line that says what happened.
    pub title: String,
    /// One or two sentences in plain words.
    pub text: String,
    /// Name/value pairs shown as a table (e.g. "Group" → "Phone MFA exceptions", "Added by" →
    /// "Ada (ada@contoso.com)").
    pub facts: Vec<(String, String)>,
    /// When phoneless noticed it.
    pub created_at: DateTime<Utc>,
    /// Absolute link to the page in phoneless that shows it (e.g.
    /// <https://phoneless.example/alerts>), if the public URL is known.
    pub link: Option<String>,
}

/// The request body for this kind of webhook.
///
/// `json` sends one stable document for integrators:
///
/// ```json
/// {
///   "id": 42,
///   "kind": "member_joined",
///   "title": "New member in Phone MFA exceptions",
///   "text": "Ada was added to a group that lets its members keep phone MFA.",
///   "facts": [{"name": "Group", "value": "Phone MFA exceptions"}],
///   "created_at": "2025-03-01T09:30:00Z",
///   "link": "https://phoneless.example/alerts"
/// }
/// ```
///
/// `id` is unique per alert and repeats if the same alert is sent again (it is also in the
/// `Idempotency-Key` header). `facts` is an array, not an object, so the order shown in
/// phoneless is kept and a name may repeat. `created_at` is RFC 3339 in UTC, to the second.
/// `link` is null when phoneless does not know its public URL. The text is sent as written,
/// with no markup.
///
/// `teams` and `slack` send the same content laid out for the channel, cut to the platforms'
/// size limits.
pub fn body(kind: WebhookKind, alert: &AlertMessage) -> Value {
    match kind {
        WebhookKind::Json => json_body(alert),
        WebhookKind::Teams => teams_body(alert),
        WebhookKind::Slack => slack_body(alert),
    }
}

fn json_body(alert: &AlertMessage) -> Value {
    let facts: Vec<Value> = alert
        .facts
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    json!({
        "id": alert.id,
        "kind": alert.kind,
        "title": alert.title,
        "text": alert.text,
        "facts": facts,
        "created_at": alert.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "link": alert.link,
    })
}

/// The message envelope that both a Teams Workflows webhook ("Post to a channel when a webhook
/// request is received") and a classic incoming webhook accept: one Adaptive Card attachment.
/// Card version 1.4 is what Teams renders on desktop and mobile alike.
fn teams_body(alert: &AlertMessage) -> Value {
    let mut card_body = vec![json!({
        "type": "TextBlock",
        "text": teams_text(&alert.title, TEAMS_TITLE_MAX),
        "weight": "bolder",
        "size": "medium",
        "wrap": true,
    })];
    if !alert.text.is_empty() {
        card_body.push(json!({
            "type": "TextBlock",
            "text": teams_text(&alert.text, TEAMS_TEXT_MAX),
            "wrap": true,
        }));
    }
    if !alert.facts.is_empty() {
        let facts: Vec<Value> = alert
            .facts
            .iter()
            .map(|(name, value)| {
                json!({
                    "title": teams_text(name, TEAMS_FACT_NAME_MAX),
                    "value": teams_text(value, TEAMS_FACT_VALUE_MAX),
                })
            })
            .collect();
        card_body.push(json!({"type": "FactSet", "facts": facts}));
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": card_body,
    });
    if let Some(link) = &alert.link {
        card["actions"] = json!([{
            "type": "Action.OpenUrl",
            "title": "Open in phoneless",
            "url": link,
        }]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

/// Text for a Teams TextBlock or Fact, cut to `max` characters. Teams reads Markdown there, and
/// a display name such as "[Reset your MFA](https://…)" would become a link with a hidden
/// target; an invisible zero-width space between "]" and "(" keeps it plain text. Other
/// Markdown (bold, italics) is left alone: at worst it changes how a name looks.
fn teams_text(s: &str, max: usize) -> String {
    truncate(s, max).replace("](", "]\u{200B}(")
}

/// A Slack message: `text` is the notification and fallback, `blocks` the message itself.
/// Every string we did not write ourselves is escaped, since Slack reads `<…>` as links and
/// mentions (`<!channel>` would ping everyone).
fn slack_body(alert: &AlertMessage) -> Value {
    let fallback = if alert.text.is_empty() {
        alert.title.clone()
    } else {
        format!("{} — {}", alert.title, alert.text)
    };
    let mut blocks = vec![json!({
        "type": "section",
        "text": {
            "type": "mrkdwn",
            // Two characters for the asterisks.
            "text": format!("*{}*", slack_escape(&alert.title, SLACK_TEXT_MAX - 2)),
        },
    })];
    if !alert.text.is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": slack_escape(&alert.text, SLACK_TEXT_MAX)},
        }));
    }
    if !alert.facts.is_empty() {
        let field = |name: &str, value: &str| {
            json!({
                "type": "mrkdwn",
                "text": format!(
                    "*{}*\n{}",
                    slack_escape(name, SLACK_FIELD_NAME_MAX),
                    slack_escape(value, SLACK_FIELD_VALUE_MAX)
                ),
            })
        };
        let mut fields: Vec<Value> = Vec::new();
        if alert.facts.len() <= SLACK_FIELDS_MAX {
            fields.extend(alert.facts.iter().map(|(n, v)| field(n, v)));
        } else {
            // The last field says how many were left out; phoneless and the json webhook have
            // them all.
            let shown = SLACK_FIELDS_MAX - 1;
            fields.extend(alert.facts.iter().take(shown).map(|(n, v)| field(n, v)));
            let more = alert.facts.len() - shown;
            fields.push(json!({
                "type": "mrkdwn",
                "text": format!("*…*\n{more} more in phoneless"),
            }));
        }
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    if let Some(link) = &alert.link {
        // A link in a context block rather than a button: a button on an incoming webhook
        // shows a warning unless the Slack app handles interactions.
        let url = slack_escape(link, SLACK_TEXT_MAX).replace('|', "%7C");
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": format!("<{url}|Open in phoneless>")}],
        }));
    }
    json!({
        "text": slack_escape(&fallback, SLACK_TEXT_MAX),
        "blocks": blocks,
    })
}

/// Escapes `&`, `<` and `>` for Slack mrkdwn and cuts the result, with "…", to `max` UTF-16
/// code units (never fewer characters than Slack counts, whichever way it counts), on a
/// character boundary so no entity is split.
fn slack_escape(s: &str, max: usize) -> String {
    fn piece(c: char) -> Option<&'static str> {
        match c {
            '&' => Some("&amp;"),
            '<' => Some("&lt;"),
            '>' => Some("&gt;"),
            _ => None,
        }
    }
    let units = |c: char| piece(c).map_or(c.len_utf16(), str::len);
    let total: usize = s.chars().map(units).sum();
    let budget = if total <= max {
        max
    } else {
        max.saturating_sub(1)
    };
    let mut out = String::with_capacity(s.len());
    let mut used = 0;
    for c in s.chars() {
        let n = units(c);
        if used + n > budget {
            out.push('…');
            break;
        }
        used += n;
        match piece(c) {
            Some(p) => out.push_str(p),
            None => out.push(c),
        }
    }
    out
}

/// `s` cut to `max` characters, the last one "…" when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// POSTs the alert; Ok on any 2xx. Sends `Content-Type: application/json` and
/// `Idempotency-Key: phoneless-alert-{id}`, so a receiver can drop a repeat after a retry.
///
/// Errors are short plain words with the HTTP status and the start of the receiver's answer,
/// never the URL's path or query; the caller names the webhook with [`Webhook::label`].
pub async fn send(
    http: &reqwest::Client,
    hook: &Webhook,
    alert: &AlertMessage,
) -> Result<(), String> {
    let response = http
        .post(hook.url.expose_secret())
        .header(CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", format!("phoneless-alert-{}", alert.id))
        .json(&body(hook.kind, alert))
        .send()
        .await
        .map_err(|e| hook.redact(&describe(e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let answer = answer_start(response).await;
    let message = if answer.is_empty() {
        format!("the webhook answered HTTP {status}")
    } else {
        format!("the webhook answered HTTP {status}: {answer}")
    };
    Err(hook.redact(&message))
}

/// A request error in words, with the URL taken out (reqwest's Display includes it).
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer in time".to_owned();
    }
    let e = e.without_url();
    let mut out = format!("could not send: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The first [`ERROR_BODY_CHARS`] characters of a response, on one line. Reads only a few
/// kilobytes, whatever the receiver sends.
async fn answer_start(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < ERROR_BODY_CHARS * 4 {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cleaned: String = one_line.chars().filter(|c| !c.is_control()).collect();
    truncate(&cleaned, ERROR_BODY_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    use chrono::TimeZone;

    const TEAMS_URL: &str = "https://example.webhook.office.com/webhookb2/SECRETPATH?sig=SECRETSIG";

    fn alert() -> AlertMessage {
        AlertMessage {
            id: 42,
            kind: "member_joined".into(),
            title: "New member in Phone MFA exceptions".into(),
            text: "Ada was added to a group that lets its members keep phone MFA.".into(),
            facts: vec![
                ("Group".into(), "Phone MFA exceptions".into()),
                ("Added by".into(), "Grace (grace@contoso.com)".into()),
            ],
            created_at: Utc
                .with_ymd_and_hms(2025, 3, 1, 9, 30, 0)
                .single()
                .expect("valid time"),
            link: Some("https://phoneless.example/alerts".into()),
        }
    }

    fn parse_err(value: &str) -> String {
        parse_webhooks(value).expect_err("should be refused")
    }

    #[test]
    fn empty_value_means_no_webhooks() {
        assert!(parse_webhooks("").expect("empty").is_empty());
        assert!(parse_webhooks("  \t ").expect("blank").is_empty());
        assert!(parse_webhooks(" , ,").expect("only commas").is_empty());
    }

    #[test]
    fn bare_url_is_json_and_kinds_are_read() {
        let hooks = parse_webhooks(
            " https://example.com/hook?a=b , teams = https://example.webhook.office.com/x,SLACK=https://hooks.slack.com/services/T/B/X,json=http://127.0.0.1:8080/in,",
        )
        .expect("valid");
        let kinds: Vec<_> = hooks.iter().map(|h| h.kind).collect();
        assert_eq!(
            kinds,
            [
                WebhookKind::Json,
                WebhookKind::Teams,
                WebhookKind::Slack,
                WebhookKind::Json
            ]
        );
        assert_eq!(
            hooks[0].url().expose_secret(),
            "https://example.com/hook?a=b"
        );
        assert_eq!(
            hooks[1].url().expose_secret(),
            "https://example.webhook.office.com/x"
        );
        assert_eq!(hooks[3].label(), "json → 127.0.0.1:8080");
    }

    #[test]
    fn unknown_kind_is_refused_with_its_position() {
        let e = parse_err("https://example.com/a,discord=https://discord.com/api/webhooks/SECRET");
        assert!(e.contains("item 2"), "{e}");
        assert!(e.contains("\"discord\""), "{e}");
        assert!(!e.contains("SECRET"), "{e}");
    }

    #[test]
    fn bad_urls_are_refused_without_showing_them() {
        for (value, expect) in [
            ("teams=not a url/SECRET?sig=SECRET", "item 1 (teams)"),
            (
                "json=https://example.com/a, slack=/services/SECRET",
                "item 2 (slack)",
            ),
            ("ftp://example.com/SECRET?x=SECRET", "item 1 (json)"),
            ("slack=mailto:SECRET@example.com", "item 1 (slack)"),
            ("teams=https://", "item 1 (teams)"),
        ] {
            let e = parse_err(value);
            assert!(e.contains(expect), "{value}: {e}");
            assert!(!e.contains("SECRET"), "{value}: {e}");
        }
        assert!(parse_err("ftp://example.com/x").contains("\"ftp\""));
    }

    #[test]
    fn a_repeated_webhook_is_refused() {
        let e = parse_err(
            "slack=https://hooks.slack.com/s/SECRET,SLACK=HTTPS://HOOKS.slack.com/s/SECRET",
        );
        assert!(e.contains("item 2 (slack)"), "{e}");
        assert!(!e.contains("SECRET"), "{e}");
        // The same URL for two kinds is two webhooks.
        assert_eq!(
            parse_webhooks("json=https://example.com/h,teams=https://example.com/h")
                .expect("two kinds")
                .len(),
            2
        );
    }

    #[test]
    fn key_is_stable_and_depends_on_kind() {
        let json = Webhook::new(WebhookKind::Json, "https://example.com/hook").expect("valid");
        // Pinned: keys are stored, so the recipe must not drift.
        assert_eq!(json.key(), "7870abd737337836");
        assert_eq!(
            json.key(),
            Webhook::new(WebhookKind::Json, " HTTPS://Example.COM/hook ")
                .expect("valid")
                .key()
        );
        let teams = Webhook::new(WebhookKind::Teams, "https://example.com/hook").expect("valid");
        assert_ne!(json.key(), teams.key());
        let other = Webhook::new(WebhookKind::Json, "https://example.com/hook2").expect("valid");
        assert_ne!(json.key(), other.key());
    }

    #[test]
    fn label_and_debug_hide_path_and_query() {
        let hook = Webhook::new(WebhookKind::Teams, TEAMS_URL).expect("valid");
        assert_eq!(hook.label(), "teams → example.webhook.office.com");
        let debug = format!("{hook:?}");
        assert_eq!(debug, "Webhook(teams → example.webhook.office.com)");
        let list = format!("{:?}", vec![hook]);
        assert!(!list.contains("SECRET"), "{list}");
    }

    #[test]
    fn json_body_is_the_documented_document() {
        let b = body(WebhookKind::Json, &alert());
        assert_eq!(
            b,
            json!({
                "id": 42,
                "kind": "member_joined",
                "title": "New member in Phone MFA exceptions",
                "text": "Ada was added to a group that lets its members keep phone MFA.",
                "facts": [
                    {"name": "Group", "value": "Phone MFA exceptions"},
                    {"name": "Added by", "value": "Grace (grace@contoso.com)"},
                ],
                "created_at": "2025-03-01T09:30:00Z",
                "link": "https://phoneless.example/alerts",
            })
        );
        let mut no_link = alert();
        no_link.link = None;
        assert_eq!(body(WebhookKind::Json, &no_link)["link"], Value::Null);
    }

    #[test]
    fn teams_body_is_a_message_with_an_adaptive_card() {
        let b = body(WebhookKind::Teams, &alert());
        assert_eq!(b["type"], "message");
        let attachments = b["attachments"].as_array().expect("attachments");
        assert_eq!(attachments.len(), 1);
        let a = &attachments[0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        assert!(a["contentUrl"].is_null());
        let card = &a["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.4");
        assert_eq!(
            card["$schema"],
            "http://adaptivecards.io/schemas/adaptive-card.json"
        );
        let blocks = card["body"].as_array().expect("card body");
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0]["type"], "TextBlock");
        assert_eq!(blocks[0]["text"], "New member in Phone MFA exceptions");
        assert_eq!(blocks[0]["weight"], "bolder");
        assert_eq!(blocks[0]["size"], "medium");
        assert_eq!(blocks[0]["wrap"], true);
        assert_eq!(blocks[1]["type"], "TextBlock");
        assert_eq!(blocks[1]["wrap"], true);
        assert_eq!(blocks[2]["type"], "FactSet");
        assert_eq!(
            blocks[2]["facts"],
            json!([
                {"title": "Group", "value": "Phone MFA exceptions"},
                {"title": "Added by", "value": "Grace (grace@contoso.com)"},
            ])
        );
        assert_eq!(
            card["actions"],
            json!([{
                "type": "Action.OpenUrl",
                "title": "Open in phoneless",
                "url": "https://phoneless.example/alerts",
            }])
        );

        let mut bare = alert();
        bare.link = None;
        bare.facts.clear();
        let b = body(WebhookKind::Teams, &bare);
        let card = &b["attachments"][0]["content"];
        assert!(card.get("actions").is_none());
        assert_eq!(card["body"].as_array().expect("card body").len(), 2);
    }

    #[test]
    fn teams_text_cannot_make_a_hidden_link() {
        let mut a = alert();
        a.facts = vec![(
            "Added by".into(),
            "[Reset your MFA](https://evil.example)".into(),
        )];
        let b = body(WebhookKind::Teams, &a);
        let value = b["attachments"][0]["content"]["body"][2]["facts"][0]["value"]
            .as_str()
            .expect("value")
            .to_owned();
        assert!(!value.contains("]("), "{value}");
        assert_eq!(
            value.replace('\u{200B}', ""),
            "[Reset your MFA](https://evil.example)"
        );
    }

    #[test]
    fn slack_body_has_fallback_text_and_blocks() {
        let b = body(WebhookKind::Slack, &alert());
        assert_eq!(
            b["text"],
            "New member in Phone MFA exceptions — Ada was added to a group that lets its members keep phone MFA."
        );
        let blocks = b["blocks"].as_array().expect("blocks");
        assert_eq!(blocks.len(), 4);
        assert_eq!(blocks[0]["text"]["type"], "mrkdwn");
        assert_eq!(
            blocks[0]["text"]["text"],
            "*New member in Phone MFA exceptions*"
        );
        assert_eq!(
            blocks[1]["text"]["text"],
            "Ada was added to a group that lets its members keep phone MFA."
        );
        assert_eq!(
            blocks[2]["fields"],
            json!([
                {"type": "mrkdwn", "text": "*Group*\nPhone MFA exceptions"},
                {"type": "mrkdwn", "text": "*Added by*\nGrace (grace@contoso.com)"},
            ])
        );
        assert_eq!(blocks[3]["type"], "context");
        assert_eq!(
            blocks[3]["elements"][0]["text"],
            "<https://phoneless.example/alerts|Open in phoneless>"
        );
    }

    #[test]
    fn slack_escapes_everything_it_did_not_write() {
        let mut a = alert();
        a.title = "<script>&".into();
        a.text = "<!channel> ping".into();
        a.facts = vec![("<b>".into(), "Ada & <Co>".into())];
        a.link = Some("https://phoneless.example/alerts?a=1&b=|x".into());
        let b = body(WebhookKind::Slack, &a);
        let all = b.to_string();
        assert!(!all.contains("<script>"), "{all}");
        assert!(!all.contains("<!channel>"), "{all}");
        assert_eq!(b["blocks"][0]["text"]["text"], "*&lt;script&gt;&amp;*");
        assert_eq!(b["blocks"][1]["text"]["text"], "&lt;!channel&gt; ping");
        assert_eq!(
            b["blocks"][2]["fields"][0]["text"],
            "*&lt;b&gt;*\nAda &amp; &lt;Co&gt;"
        );
        assert_eq!(
            b["blocks"][3]["elements"][0]["text"],
            "<https://phoneless.example/alerts?a=1&amp;b=%7Cx|Open in phoneless>"
        );
        assert!(
            b["text"]
                .as_str()
                .expect("text")
                .starts_with("&lt;script&gt;&amp; — ")
        );
    }

    #[test]
    fn slack_keeps_to_ten_fields() {
        let mut a = alert();
        a.facts = (1..=12)
            .map(|i| (format!("N{i}"), format!("v{i}")))
            .collect();
        let b = body(WebhookKind::Slack, &a);
        let fields = b["blocks"][2]["fields"].as_array().expect("fields");
        assert_eq!(fields.len(), 10);
        assert_eq!(fields[8]["text"], "*N9*\nv9");
        assert_eq!(fields[9]["text"], "*…*\n3 more in phoneless");

        a.facts.truncate(10);
        let b = body(WebhookKind::Slack, &a);
        let fields = b["blocks"][2]["fields"].as_array().expect("fields");
        assert_eq!(fields.len(), 10);
        assert_eq!(fields[9]["text"], "*N10*\nv10");
    }

    #[test]
    fn slack_text_is_cut_to_its_limit_without_splitting_an_entity() {
        let mut a = alert();
        a.text = "&".repeat(1000);
        let b = body(WebhookKind::Slack, &a);
        let text = b["blocks"][1]["text"]["text"].as_str().expect("text");
        assert!(text.encode_utf16().count() <= SLACK_TEXT_MAX);
        assert!(text.ends_with("&amp;…"), "{}", &text[text.len() - 20..]);

        // Exactly at the limit: nothing cut.
        assert_eq!(slack_escape(&"x".repeat(3000), 3000).len(), 3000);
        assert_eq!(slack_escape("abc&", 6), "abc…");
        assert_eq!(slack_escape("ab&", 7), "ab&amp;");
    }

    type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

    async fn record(State(seen): State<Seen>, headers: HeaderMap, body: Bytes) -> StatusCode {
        seen.lock().expect("lock").push((headers, body));
        StatusCode::NO_CONTENT
    }

    /// A receiver on a random local port: `/ok/…` records and answers 204, `/fail/…` answers
    /// 500 with a body that quotes the secret path.
    async fn receiver() -> (std::net::SocketAddr, Seen) {
        let seen = Seen::default();
        let app = Router::new()
            .route("/ok/SECRETPATH", post(record))
            .route(
                "/fail/SECRETPATH",
                post(|| async {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "flow failed\nfor /fail/SECRETPATH?sig=SECRETSIG",
                    )
                }),
            )
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (addr, seen)
    }

    #[tokio::test]
    async fn send_posts_the_body_with_headers_and_reports_refusals() {
        let (addr, seen) = receiver().await;
        let http = reqwest::Client::new();

        let hook = Webhook::new(
            WebhookKind::Teams,
            &format!("http://{addr}/ok/SECRETPATH?sig=SECRETSIG"),
        )
        .expect("valid");
        send(&http, &hook, &alert()).await.expect("204 is success");
        let requests = seen.lock().expect("lock").clone();
        assert_eq!(requests.len(), 1);
        let (headers, sent) = &requests[0];
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["idempotency-key"], "phoneless-alert-42");
        let sent: Value = serde_json::from_slice(sent).expect("JSON body");
        assert_eq!(sent, body(WebhookKind::Teams, &alert()));

        let failing = Webhook::new(
            WebhookKind::Json,
            &format!("http://{addr}/fail/SECRETPATH?sig=SECRETSIG"),
        )
        .expect("valid");
        let e = send(&http, &failing, &alert())
            .await
            .expect_err("500 is a failure");
        assert!(e.contains("500"), "{e}");
        assert!(e.contains("flow failed for"), "{e}");
        assert!(!e.contains("SECRET"), "{e}");
    }

    #[tokio::test]
    async fn send_error_without_an_answer_hides_the_url() {
        // A port that was free a moment ago: nothing listens there now.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        drop(listener);
        let hook = Webhook::new(
            WebhookKind::Slack,
            &format!("http://{addr}/services/SECRETPATH?sig=SECRETSIG"),
        )
        .expect("valid");
        let e = send(&reqwest::Client::new(), &hook, &alert())
            .await
            .expect_err("nothing listens");
        assert!(e.starts_with("could not send"), "{e}");
        assert!(!e.contains("SECRET"), "{e}");
    }
}
