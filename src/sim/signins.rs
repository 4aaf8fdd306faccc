//! The simulated tenant's interactive sign-in log (graph-api.md §8), and the fake
//! `GET /beta/auditLogs/signIns` that serves it.
//!
//! Nothing is stored: a person's sign-ins of a day are drawn from the seed, the person and the
//! day ([`Tenant::sign_ins_of`]), so a tenant of 100,000 people (some 200,000 sign-ins a day)
//! costs no more memory than the index of one or two days while it is paged. What a person
//! uses for MFA follows what they have registered that day in the story
//! ([`super::tenant::Person::registered`]): SMS or voice for the phone-only, the app for those
//! whose default moved to it (and, on some days, the phone they kept), a passkey or Windows
//! Hello for the phishing-resistant.
//!
//! The endpoint reads `$filter` on `createdDateTime` (`ge`, `gt`, `le`, `lt`, `eq`), `userId eq`
//! and `signInEventTypes/any(t: t eq '…')`, joined by `and`; `$top` up to 1,000; `$skiptoken`
//! in its nextLinks. Like Graph it sends the newest sign-ins first, refuses `$select` and
//! `$orderby` (neither is allowed on this collection), serves interactive sign-ins only, and
//! keeps [`RETENTION_DAYS`] days.

use super::policy_api::{Token, internal_error, tokenize};
use super::server::{
    FakeGraph, Paged, SKIPTOKEN_MAGIC, bad_skiptoken, base_url, beta_context, graph_error, guard,
    json_bytes, lock, permission_denied, query_value,
};
use super::tenant::{Person, Registered, Tenant};
use crate::graph::model::{AuthenticationDetail, Page, SignIn};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How many whole days before the current day the log keeps (Entra ID P1/P2: 30 days,
/// graph-api.md §8); older sign-ins are gone.
pub const RETENTION_DAYS: u32 = 30;
/// The largest page of sign-ins, and Graph's default page size.
pub const MAX_SIGN_IN_PAGE_SIZE: usize = 1_000;
/// Most sign-ins one person makes in a day (each of these is drawn with the person's own
/// chance, about two a day on average).
pub const MAX_SIGN_INS_PER_DAY: usize = 4;
/// How many days' indexes the fake keeps while it pages (a page may straddle midnight).
const CACHED_DAYS: usize = 2;

/// Separate the sign-in draws from the story's, so the story stays as it was drawn.
const SIGN_IN_SALT: u64 = 0x7369_676e_696e_0001;
const HABIT_SALT: u64 = 0x7369_676e_696e_0002;

/// The `authenticationStepRequirement` of the first factor, and of the second.
pub const PRIMARY: &str = "Primary authentication";
pub const MFA: &str = "MFA";

/// `authenticationMethod` strings as the sign-in log writes them: display text, not an enum
/// (graph-api.md §8), so a client must match them loosely and keep ones it does not know.
pub const PASSWORD: &str = "Password";
pub const TEXT_MESSAGE: &str = "Text message";
pub const VOICE_CALL: &str = "Voice call";
/// What some clients write for a voice call.
pub const PHONE_CALL: &str = "Phone call";
pub const APP_NOTIFICATION: &str = "Mobile app notification";
pub const APP_CODE: &str = "OATH verification code";
pub const PASSKEY: &str = "Passkey";
pub const SECURITY_KEY: &str = "FIDO2 security key";
pub const WINDOWS_HELLO: &str = "Windows Hello for Business";
pub const TEMPORARY_ACCESS_PASS: &str = "Temporary Access Pass";
/// An MFA step that reused an earlier MFA (a session or a token), not a use of a method.
pub const PREVIOUSLY_SATISFIED: &str = "Previously satisfied";
pub const SATISFIED_BY_TOKEN: &str = "Satisfied by token";
/// Methods this product does not know: a rare MFA step uses one.
pub const UNKNOWN_SIGN_IN_METHODS: &[&str] =
    &["Certificate-based authentication", "Verified ID face check"];

/// The apps people sign in to: (`appId`, `appDisplayName`).
const APPS: &[(&str, &str)] = &[
    (
        "00000002-0000-0ff1-ce00-000000000000",
        "Office 365 Exchange Online",
    ),
    (
        "00000003-0000-0ff1-ce00-000000000000",
        "Office 365 SharePoint Online",
    ),
    ("1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams"),
    ("4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome"),
    ("27922004-5251-4030-b22d-91ecd9a37ea4", "Outlook Mobile"),
    ("c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "Azure Portal"),
];

/// One step of a sign-in's `authenticationDetails`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub method: &'static str,
    pub requirement: &'static str,
    pub succeeded: bool,
    /// `authenticationStepResultDetail`.
    pub result: &'static str,
    /// Seconds after the sign-in began.
    pub after_secs: u32,
}

impl Step {
    /// A method used as the second factor, successfully: what the sign-in log's readers count.
    pub fn is_successful_mfa(&self) -> bool {
        self.requirement == MFA
            && self.succeeded
            && self.method != PREVIOUSLY_SATISFIED
            && self.method != SATISFIED_BY_TOKEN
    }
}

/// One interactive sign-in of the simulated tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSignIn {
    /// The person's index in [`Tenant::people`].
    pub person: usize,
    pub day: u32,
    /// Its place among the person's sign-ins of the day (0-based, in time order).
    pub n: usize,
    /// Stable per seed, person, day and `n`.
    pub id: uuid::Uuid,
    pub created: DateTime<Utc>,
    /// (`appId`, `appDisplayName`).
    pub app: (&'static str, &'static str),
    pub client_app: &'static str,
    pub steps: Vec<Step>,
}

impl SimSignIn {
    /// The last step succeeded: the person got in.
    pub fn succeeded(&self) -> bool {
        self.steps.last().is_some_and(|s| s.succeeded)
    }

    /// Multi-factor: an MFA step, or a first factor that is one (a passkey, a pass).
    fn multi_factor(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.requirement == MFA || s.method != PASSWORD)
    }

    /// The sign-in as the client reads it.
    pub fn to_model(&self, tenant: &Tenant) -> SignIn {
        SignIn {
            id: self.id.to_string(),
            created_date_time: self.created,
            user_id: tenant
                .people
                .get(self.person)
                .map(|p| p.id.clone())
                .unwrap_or_default(),
            authentication_details: self
                .steps
                .iter()
                .map(|s| AuthenticationDetail {
                    authentication_method: Some(s.method.to_owned()),
                    authentication_step_requirement: Some(s.requirement.to_owned()),
                    succeeded: Some(s.succeeded),
                })
                .collect(),
        }
    }
}

/// What a person does by habit, fixed for the story.
#[derive(Debug, Clone, Copy)]
struct Habits {
    /// Chance of each of the [`MAX_SIGN_INS_PER_DAY`] possible sign-ins of a day.
    activity: f64,
    /// With the app as default and a phone kept: the share of days they use the phone.
    phone_days: f64,
    /// With a passkey: the share of sign-ins made without a password.
    passwordless: f64,
}

impl Habits {
    fn of(seed: u64, index: usize) -> Habits {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ HABIT_SALT);
        rng.set_stream(index as u64);
        let activity = rng.random_range(0.15..0.85);
        let phone_days = if rng.random_bool(0.4) {
            rng.random_range(0.05..0.35)
        } else {
            0.0
        };
        let passwordless = rng.random_range(0.3..0.9);
        Habits {
            activity,
            phone_days,
            passwordless,
        }
    }
}

/// The draws of one person on one day, in a fixed order: how many sign-ins and when, then
/// each sign-in in turn.
fn day_rng(seed: u64, index: usize, day: u32) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SIGN_IN_SALT);
    rng.set_stream(((index as u64) << 32) | u64::from(day));
    rng
}

/// The seconds into the UTC day of each sign-in, in order: most during the working day, some
/// at any hour (people are spread over time zones).
fn draw_times(rng: &mut ChaCha8Rng, activity: f64) -> Vec<u32> {
    let count = (0..MAX_SIGN_INS_PER_DAY)
        .filter(|_| rng.random_bool(activity))
        .count();
    let mut times: Vec<u32> = (0..count)
        .map(|_| {
            if rng.random_bool(0.75) {
                rng.random_range(6 * 3600..20 * 3600)
            } else {
                rng.random_range(0..86_400)
            }
        })
        .collect();
    times.sort_unstable();
    times
}

/// In the directory and able to sign in on `day`: there, enabled, and not an invitation that
/// was never redeemed.
fn signs_in(p: &Person, day: u32) -> bool {
    p.present(day)
        && !p.disabled
        && !p.missing_from_directory
        && p.external_user_state != Some("PendingAcceptance")
}

/// What a sign-in offers as its strong factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Means {
    Passkey(&'static str),
    App,
    Phone,
    Pass,
    Nothing,
}

/// The strong factor of one sign-in, from what is registered that day.
fn means(rng: &mut ChaCha8Rng, r: &Registered, phone_day: bool) -> Means {
    if let Some(kind) = r.passkey {
        Means::Passkey(kind)
    } else if r.app && r.prefers_app {
        if r.phone && phone_day {
            Means::Phone
        } else {
            Means::App
        }
    } else if r.phone {
        // The default is the phone; now and then they pick the app instead.
        if r.app && rng.random_bool(0.2) {
            Means::App
        } else {
            Means::Phone
        }
    } else if r.app {
        Means::App
    } else if r.temporary_access_pass {
        Means::Pass
    } else {
        Means::Nothing
    }
}

fn passkey_method(kind: &str) -> &'static str {
    match kind {
        "fido2SecurityKey" => SECURITY_KEY,
        "windowsHelloForBusiness" => WINDOWS_HELLO,
        _ => PASSKEY,
    }
}

fn voice(rng: &mut ChaCha8Rng) -> &'static str {
    if rng.random_bool(0.25) {
        PHONE_CALL
    } else {
        VOICE_CALL
    }
}

/// The method string of a strong factor.
fn method(rng: &mut ChaCha8Rng, r: &Registered, means: Means) -> &'static str {
    match means {
        Means::Passkey(kind) => passkey_method(kind),
        Means::App if r.passcode_app_only || r.passcodes && rng.random_bool(0.15) => APP_CODE,
        Means::App => APP_NOTIFICATION,
        Means::Phone if r.mobile && !r.phone_preference.starts_with("voice") => TEXT_MESSAGE,
        Means::Phone => voice(rng),
        Means::Pass => TEMPORARY_ACCESS_PASS,
        Means::Nothing => PASSWORD,
    }
}

fn failure(method: &str) -> &'static str {
    match method {
        TEXT_MESSAGE | APP_CODE => "Invalid verification code",
        VOICE_CALL | PHONE_CALL => "MFA denied; phone call not answered",
        APP_NOTIFICATION => "MFA denied; user declined the authentication",
        _ => "MFA denied",
    }
}

const PASSWORD_OK: Step = Step {
    method: PASSWORD,
    requirement: PRIMARY,
    succeeded: true,
    result: "Correct password",
    after_secs: 0,
};

/// The steps of one sign-in.
fn steps(rng: &mut ChaCha8Rng, r: &Registered, habits: &Habits, phone_day: bool) -> Vec<Step> {
    let means = means(rng, r, phone_day);
    let strong = method(rng, r, means);
    let mfa = |method, succeeded, result, after_secs| Step {
        method,
        requirement: MFA,
        succeeded,
        result,
        after_secs,
    };
    match means {
        Means::Nothing => return vec![PASSWORD_OK],
        // A pass, a passkey or Windows Hello without a password: one step that is MFA in
        // itself, and no MFA step.
        Means::Pass => {
            return vec![Step {
                method: strong,
                requirement: PRIMARY,
                succeeded: true,
                result: "Temporary Access Pass validated",
                after_secs: 0,
            }];
        }
        // Windows Hello signs in to Windows itself, never after a password.
        Means::Passkey(kind)
            if kind == "windowsHelloForBusiness" || rng.random_bool(habits.passwordless) =>
        {
            return vec![Step {
                method: strong,
                requirement: PRIMARY,
                succeeded: true,
                result: "",
                after_secs: 0,
            }];
        }
        _ => {}
    }
    let after = rng.random_range(5..40);
    let shape: f64 = rng.random();
    if shape < 0.01 {
        vec![Step {
            succeeded: false,
            result: "Invalid username or password or Invalid on-premise username or password.",
            ..PASSWORD_OK
        }]
    } else if shape < 0.05 {
        // No MFA asked (a trusted location, a policy that does not apply).
        vec![PASSWORD_OK]
    } else if shape < 0.17 {
        let satisfied = mfa(
            PREVIOUSLY_SATISFIED,
            true,
            "MFA requirement satisfied by claim in the token",
            0,
        );
        vec![PASSWORD_OK, satisfied]
    } else if shape < 0.21 {
        let satisfied = mfa(
            SATISFIED_BY_TOKEN,
            true,
            "MFA requirement satisfied by claim in the token",
            0,
        );
        vec![PASSWORD_OK, satisfied]
    } else if shape < 0.27 {
        let mut out = vec![PASSWORD_OK, mfa(strong, false, failure(strong), after)];
        if rng.random_bool(0.6) {
            // Tried again: a text message that did not come is often followed by a call.
            let again = if strong == TEXT_MESSAGE && rng.random_bool(0.3) {
                voice(rng)
            } else {
                strong
            };
            let later = after + rng.random_range(20..120);
            out.push(mfa(again, true, "MFA successfully completed", later));
        }
        out
    } else if shape < 0.275 {
        let unknown = UNKNOWN_SIGN_IN_METHODS[rng.random_range(0..UNKNOWN_SIGN_IN_METHODS.len())];
        vec![
            PASSWORD_OK,
            mfa(unknown, true, "MFA successfully completed", after),
        ]
    } else {
        vec![
            PASSWORD_OK,
            mfa(strong, true, "MFA successfully completed", after),
        ]
    }
}

/// One sign-in in the index of a day: when (seconds into the day), who, and which of theirs.
/// Ordered by time, then person, then `n`: the log's order, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    secs: u32,
    person: u32,
    n: u8,
}

impl Tenant {
    /// The person's interactive sign-ins on `day`, in time order: none when they are not in the
    /// directory, disabled, or never redeemed their invitation.
    pub fn sign_ins_of(&self, index: usize, day: u32) -> Vec<SimSignIn> {
        let Some(p) = self.people.get(index) else {
            return Vec::new();
        };
        if day > self.days || !signs_in(p, day) {
            return Vec::new();
        }
        let habits = Habits::of(self.seed, index);
        let mut rng = day_rng(self.seed, index, day);
        let times = draw_times(&mut rng, habits.activity);
        let registered = p.registered(day);
        let phone_day = rng.random_bool(habits.phone_days);
        let midnight = self.midnight(day);
        times
            .into_iter()
            .enumerate()
            .map(|(n, secs)| {
                let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
                let app = APPS[rng.random_range(0..APPS.len())];
                let client_app = if rng.random_bool(0.7) {
                    "Browser"
                } else {
                    "Mobile Apps and Desktop clients"
                };
                let steps = steps(&mut rng, &registered, &habits, phone_day);
                SimSignIn {
                    person: index,
                    day,
                    n,
                    id,
                    created: midnight + Duration::seconds(i64::from(secs)),
                    app,
                    client_app,
                    steps,
                }
            })
            .collect()
    }

    /// Every interactive sign-in of `day`, oldest first (tests; the fake pages through them).
    pub fn sign_ins(&self, day: u32) -> Vec<SignIn> {
        self.day_index(day)
            .iter()
            .filter_map(|k| self.sign_in(day, k))
            .map(|s| s.to_model(self))
            .collect()
    }

    /// The successful MFA steps of `day` per person and method string: `(user id, date,
    /// method, count)`, sorted. Counted as a reader of the log should count them: steps whose
    /// `authenticationStepRequirement` is `MFA` and that succeeded, less `Previously
    /// satisfied` and `Satisfied by token` (a reuse, not a method used).
    pub fn successful_mfa(&self, day: u32) -> Vec<(String, NaiveDate, String, u32)> {
        let date = self.date(day);
        let mut counts: BTreeMap<(&str, &'static str), u32> = BTreeMap::new();
        for (i, p) in self.people.iter().enumerate() {
            for s in self.sign_ins_of(i, day) {
                for step in s.steps.iter().filter(|s| s.is_successful_mfa()) {
                    *counts.entry((p.id.as_str(), step.method)).or_default() += 1;
                }
            }
        }
        counts
            .into_iter()
            .map(|((id, method), n)| (id.to_owned(), date, method.to_owned(), n))
            .collect()
    }

    fn midnight(&self, day: u32) -> DateTime<Utc> {
        self.date(day)
            .and_hms_opt(0, 0, 0)
            .map_or_else(Utc::now, |t| t.and_utc())
    }

    /// When and by whom each sign-in of `day` was made, oldest first: the count and times of
    /// each person only, not the sign-ins themselves.
    fn day_index(&self, day: u32) -> Vec<Key> {
        let mut keys = Vec::new();
        if day > self.days {
            return keys;
        }
        for (i, p) in self.people.iter().enumerate() {
            if !signs_in(p, day) {
                continue;
            }
            let habits = Habits::of(self.seed, i);
            let mut rng = day_rng(self.seed, i, day);
            for (n, secs) in draw_times(&mut rng, habits.activity)
                .into_iter()
                .enumerate()
            {
                keys.push(Key {
                    secs,
                    person: i as u32,
                    n: n as u8,
                });
            }
        }
        keys.sort_unstable();
        keys
    }

    fn sign_in(&self, day: u32, key: &Key) -> Option<SimSignIn> {
        self.sign_ins_of(key.person as usize, day)
            .into_iter()
            .nth(usize::from(key.n))
    }
}

/// The indexes of the days paged most recently.
#[derive(Default)]
pub(super) struct DayCache {
    days: Mutex<Vec<(u32, Arc<Vec<Key>>)>>,
}

impl DayCache {
    /// The index of `day`, made once while it is being paged. Made under the lock, so
    /// concurrent requests for one day wait for one index rather than make several.
    fn get(&self, tenant: &Tenant, day: u32) -> Arc<Vec<Key>> {
        let mut days = lock(&self.days);
        if let Some(pos) = days.iter().position(|(d, _)| *d == day) {
            let entry = days.remove(pos);
            let keys = entry.1.clone();
            days.push(entry);
            return keys;
        }
        let keys = Arc::new(tenant.day_index(day));
        if days.len() >= CACHED_DAYS {
            days.remove(0);
        }
        days.push((day, keys.clone()));
        keys
    }
}

/// A `$filter` of the sign-in log as the fake reads it: the instants allowed (inclusive Unix
/// seconds, the log's resolution), whose sign-ins, and whether interactive ones are asked for.
#[derive(Debug, Clone, PartialEq)]
struct SignInFilter {
    from: i64,
    to: i64,
    user_id: Option<String>,
    interactive: bool,
}

impl Default for SignInFilter {
    fn default() -> Self {
        SignInFilter {
            from: i64::MIN,
            to: i64::MAX,
            user_id: None,
            interactive: true,
        }
    }
}

fn invalid(detail: &str) -> String {
    format!("Invalid filter clause: {detail}")
}

impl SignInFilter {
    fn parse(s: &str) -> Result<SignInFilter, String> {
        let tokens = tokenize(s)?;
        let mut filter = SignInFilter::default();
        let mut pos = 0;
        filter.conjunction(&tokens, &mut pos)?;
        if pos != tokens.len() {
            return Err(invalid(&format!("unexpected text in '{s}'.")));
        }
        Ok(filter)
    }

    fn keyword(tokens: &[Token], pos: usize, word: &str) -> bool {
        matches!(tokens.get(pos), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    /// Clauses joined by `and`; `or` is not read.
    fn conjunction(&mut self, tokens: &[Token], pos: &mut usize) -> Result<(), String> {
        self.clause(tokens, pos)?;
        while Self::keyword(tokens, *pos, "and") {
            *pos += 1;
            self.clause(tokens, pos)?;
        }
        if Self::keyword(tokens, *pos, "or") {
            return Err(invalid(
                "'or' is not supported here; ask for each part separately.",
            ));
        }
        Ok(())
    }

    fn clause(&mut self, tokens: &[Token], pos: &mut usize) -> Result<(), String> {
        if tokens.get(*pos) == Some(&Token::Open) {
            *pos += 1;
            self.conjunction(tokens, pos)?;
            if tokens.get(*pos) != Some(&Token::Close) {
                return Err(invalid("')' expected."));
            }
            *pos += 1;
            return Ok(());
        }
        let Some(Token::Word(field)) = tokens.get(*pos) else {
            return Err(invalid("expected 'property operator value'."));
        };
        if field.eq_ignore_ascii_case("signInEventTypes/any") {
            *pos += 1;
            return self.event_type(tokens, pos);
        }
        let (Some(Token::Word(op)), Some(value)) = (tokens.get(*pos + 1), tokens.get(*pos + 2))
        else {
            return Err(invalid("expected 'property operator value'."));
        };
        *pos += 3;
        let op = op.to_ascii_lowercase();
        match (field.as_str(), value) {
            (f, Token::Word(instant)) if f.eq_ignore_ascii_case("createdDateTime") => {
                let at = parse_instant(instant)?;
                // Sign-ins are stamped to the second: each bound as a whole second, inclusive.
                let (secs, whole) = (at.timestamp(), at.timestamp_subsec_nanos() == 0);
                let up = if whole { secs } else { secs + 1 };
                match op.as_str() {
                    "ge" => self.from = self.from.max(up),
                    "gt" => self.from = self.from.max(secs + 1),
                    "le" => self.to = self.to.min(secs),
                    "lt" => self.to = self.to.min(up - 1),
                    "eq" if whole => {
                        self.from = self.from.max(secs);
                        self.to = self.to.min(secs);
                    }
                    // No sign-in is stamped between two seconds.
                    "eq" => self.to = i64::MIN,
                    _ => return Err(format!("Unsupported operator '{op}' for createdDateTime.")),
                }
                Ok(())
            }
            (f, Token::Quoted(id)) if f.eq_ignore_ascii_case("userId") && op == "eq" => {
                if self
                    .user_id
                    .as_ref()
                    .is_some_and(|u| !u.eq_ignore_ascii_case(id))
                {
                    // Two different people: nobody.
                    self.to = i64::MIN;
                }
                self.user_id = Some(id.clone());
                Ok(())
            }
            (name, _) => Err(format!(
                "Unsupported or invalid query filter clause specified for property '{name}' of resource 'SignIn'."
            )),
        }
    }

    /// `signInEventTypes/any(t: t eq 'interactiveUser')`, already past the property.
    fn event_type(&mut self, tokens: &[Token], pos: &mut usize) -> Result<(), String> {
        let malformed = || invalid("expected signInEventTypes/any(t: t eq '…').");
        if tokens.get(*pos) != Some(&Token::Open) {
            return Err(malformed());
        }
        *pos += 1;
        // The lambda's variable and its use: `t:` `t`, or `t:t`.
        let mut lambda = String::new();
        while let Some(Token::Word(w)) = tokens.get(*pos) {
            if w.eq_ignore_ascii_case("eq") {
                break;
            }
            lambda.push_str(w);
            *pos += 1;
        }
        let valid_lambda = lambda
            .split_once(':')
            .is_some_and(|(var, used)| !var.is_empty() && var == used);
        if !valid_lambda || !Self::keyword(tokens, *pos, "eq") {
            return Err(malformed());
        }
        let Some(Token::Quoted(kind)) = tokens.get(*pos + 1) else {
            return Err(malformed());
        };
        if tokens.get(*pos + 2) != Some(&Token::Close) {
            return Err(malformed());
        }
        *pos += 3;
        // Only interactive sign-ins are simulated: any other kind is an empty answer.
        self.interactive &= kind.eq_ignore_ascii_case("interactiveUser");
        Ok(())
    }
}

/// An OData instant: ISO 8601 with a zone (any number of fractional digits), or a date.
fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("Invalid DateTimeOffset value '{text}' in $filter."))
}

/// Where a page of the log continues: the fake's clock when paging began (so every page
/// sees the same log), and the last sign-in sent (time, person, `n`), newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    now: i64,
    last: Option<(i64, u32, u8)>,
}

impl Cursor {
    /// The `$skiptoken`: standard base64, `+` and `/` in it, as Graph's tokens have.
    fn token(&self) -> String {
        let (at, person, n) = self.last.unwrap_or((i64::MAX, u32::MAX, u8::MAX));
        let mut bytes = Vec::with_capacity(24);
        bytes.extend_from_slice(&SKIPTOKEN_MAGIC);
        bytes.push(Paged::SignIns as u8);
        bytes.extend_from_slice(&self.now.to_be_bytes());
        bytes.extend_from_slice(&at.to_be_bytes());
        bytes.extend_from_slice(&person.to_be_bytes());
        bytes.push(n);
        STANDARD.encode(bytes)
    }

    fn read(token: &str) -> Option<Cursor> {
        let bytes = STANDARD.decode(token).ok()?;
        let (head, rest) = bytes.split_first_chunk::<3>()?;
        if head[..2] != SKIPTOKEN_MAGIC || head[2] != Paged::SignIns as u8 {
            return None;
        }
        let (now, rest) = rest.split_first_chunk::<8>()?;
        let (at, rest) = rest.split_first_chunk::<8>()?;
        let (person, rest) = rest.split_first_chunk::<4>()?;
        let [n] = rest else { return None };
        Some(Cursor {
            now: i64::from_be_bytes(*now),
            last: Some((i64::from_be_bytes(*at), u32::from_be_bytes(*person), *n)),
        })
    }
}

/// Query options this collection does not allow, by their OData names.
const DISALLOWED_OPTIONS: &[(&str, &str)] = &[
    ("$select", "Select"),
    ("$orderby", "OrderBy"),
    ("$expand", "Expand"),
    ("$skip", "Skip"),
    ("$count", "Count"),
    ("$search", "Search"),
];

/// `$top`: 1 to [`MAX_SIGN_IN_PAGE_SIZE`]; the fake's page size when absent.
fn sign_in_page_size(q: &HashMap<String, String>, default: usize) -> Result<usize, String> {
    match q.get("$top") {
        None => Ok(default.clamp(1, MAX_SIGN_IN_PAGE_SIZE)),
        Some(raw) => match raw.parse::<usize>() {
            Ok(top) if (1..=MAX_SIGN_IN_PAGE_SIZE).contains(&top) => Ok(top),
            _ => Err(format!(
                "Invalid page size specified: '{raw}'. Must be between 1 and {MAX_SIGN_IN_PAGE_SIZE} inclusive."
            )),
        },
    }
}

/// A sign-in as Graph's beta `signIn` resource writes it (the properties the fake has).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignInView<'a> {
    id: String,
    created_date_time: DateTime<Utc>,
    user_display_name: &'a str,
    user_principal_name: &'a str,
    user_id: &'a str,
    app_id: &'static str,
    app_display_name: &'static str,
    client_app_used: &'static str,
    is_interactive: bool,
    sign_in_event_types: [&'static str; 1],
    /// `multiFactorAuthentication` or `singleFactorAuthentication`.
    authentication_requirement: &'static str,
    conditional_access_status: &'static str,
    status: StatusView,
    authentication_details: Vec<DetailView>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusView {
    error_code: u32,
    failure_reason: Option<&'static str>,
    additional_details: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DetailView {
    authentication_step_date_time: DateTime<Utc>,
    authentication_method: &'static str,
    /// The masked number of a text or a call; how the password was checked.
    authentication_method_detail: Option<String>,
    succeeded: bool,
    authentication_step_result_detail: &'static str,
    authentication_step_requirement: &'static str,
}

impl<'a> SignInView<'a> {
    fn new(s: &SimSignIn, person: &'a Person, index: usize) -> SignInView<'a> {
        let ok = s.succeeded();
        let mfa = s.multi_factor();
        let password_failed = s.steps.first().is_some_and(|f| !f.succeeded);
        let status = if ok {
            StatusView {
                error_code: 0,
                failure_reason: None,
                additional_details: mfa.then_some("MFA requirement satisfied"),
            }
        } else if password_failed {
            StatusView {
                error_code: 50126,
                failure_reason: Some(
                    "Error validating credentials due to invalid username or password.",
                ),
                additional_details: None,
            }
        } else {
            StatusView {
                error_code: 500121,
                failure_reason: Some("Authentication failed during strong authentication request."),
                additional_details: None,
            }
        };
        SignInView {
            id: s.id.to_string(),
            created_date_time: s.created,
            user_display_name: &person.display_name,
            user_principal_name: &person.upn,
            user_id: &person.id,
            app_id: s.app.0,
            app_display_name: s.app.1,
            client_app_used: s.client_app,
            is_interactive: true,
            sign_in_event_types: ["interactiveUser"],
            authentication_requirement: if mfa {
                "multiFactorAuthentication"
            } else {
                "singleFactorAuthentication"
            },
            conditional_access_status: match (ok, mfa) {
                (true, true) => "success",
                (false, true) => "failure",
                _ => "notApplied",
            },
            status,
            authentication_details: s
                .steps
                .iter()
                .map(|step| DetailView {
                    authentication_step_date_time: s.created
                        + Duration::seconds(i64::from(step.after_secs)),
                    authentication_method: step.method,
                    authentication_method_detail: match step.method {
                        PASSWORD => Some("Password in the cloud".to_owned()),
                        TEXT_MESSAGE | VOICE_CALL | PHONE_CALL => {
                            Some(format!("+X XXXXXXXX{:02}", index % 100))
                        }
                        _ => None,
                    },
                    succeeded: step.succeeded,
                    authentication_step_result_detail: step.result,
                    authentication_step_requirement: step.requirement,
                })
                .collect(),
        }
    }
}

/// `GET /beta/auditLogs/signIns`: the log newest first, within the window of its `$filter`,
/// what the log keeps and the fake's clock.
pub(super) async fn sign_ins(
    State(fake): State<FakeGraph>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    lock(&fake.inner.sign_in_requests).push(Instant::now());
    if let Some(refused) = guard(&fake, &headers).await {
        return refused;
    }
    let faults = fake.faults();
    if faults.no_licence {
        // A tenant without P1/P2 has no sign-in log to read (graph-api.md §8).
        return graph_error(
            StatusCode::FORBIDDEN,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
        );
    }
    if faults.deny_sign_ins {
        return permission_denied();
    }
    for (option, name) in DISALLOWED_OPTIONS {
        if q.keys().any(|k| k.eq_ignore_ascii_case(option)) {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!(
                    "Query option '{name}' is not allowed. To allow it, set the 'AllowedQueryOptions' property on EnableQueryAttribute or QueryValidationSettings."
                ),
            );
        }
    }
    let top = match sign_in_page_size(&q, fake.inner.settings.sign_in_page_size) {
        Ok(top) => top,
        Err(message) => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                &message,
            );
        }
    };
    let filter = match q.get("$filter").map(|f| SignInFilter::parse(f)) {
        None => SignInFilter::default(),
        Some(Ok(f)) => f,
        Some(Err(message)) => return graph_error(StatusCode::BAD_REQUEST, "BadRequest", &message),
    };
    let cursor = match q.get("$skiptoken") {
        None => Cursor {
            now: fake.now().timestamp(),
            last: None,
        },
        Some(token) => match Cursor::read(token) {
            Some(c) => c,
            None => return bad_skiptoken(),
        },
    };
    let tenant = fake.tenant();
    let (found, more) = page_of(&fake, &filter, &cursor, top);
    let value: Vec<SignInView<'_>> = found
        .iter()
        .filter_map(|(day, key)| {
            let s = tenant.sign_in(*day, key)?;
            let index = s.person;
            Some(SignInView::new(&s, tenant.people.get(index)?, index))
        })
        .collect();
    let next_link = match (more, found.last()) {
        (true, Some((day, key))) => {
            let at = tenant.midnight(*day).timestamp() + i64::from(key.secs);
            let next = Cursor {
                now: cursor.now,
                last: Some((at, key.person, key.n)),
            };
            let mut carried = String::new();
            for option in ["$filter", "$top"] {
                if let Some(v) = q.get(option) {
                    carried.push_str(&format!("{option}={}&", query_value(v)));
                }
            }
            Some(format!(
                "{}/beta/auditLogs/signIns?{carried}$skiptoken={}",
                base_url(&headers),
                query_value(&next.token())
            ))
        }
        _ => None,
    };
    lock(&fake.inner.served).sign_in_pages += 1;
    match serde_json::to_vec(&Page {
        context: Some(beta_context(&headers, "auditLogs/signIns")),
        count: None,
        next_link,
        value,
    }) {
        Ok(body) => json_bytes(body),
        Err(e) => internal_error(&e),
    }
}

/// Up to `top` sign-ins after the cursor, newest first, and whether more follow.
fn page_of(
    fake: &FakeGraph,
    filter: &SignInFilter,
    cursor: &Cursor,
    top: usize,
) -> (Vec<(u32, Key)>, bool) {
    let tenant = fake.tenant();
    let start = tenant.midnight(0).timestamp();
    let last_day = i64::from(tenant.days);
    let day_of = |secs: i64| (secs - start).div_euclid(86_400).clamp(0, last_day) as u32;
    // What the log holds: the last RETENTION_DAYS whole days before today, and today until now.
    let kept_from = tenant
        .midnight(day_of(cursor.now).saturating_sub(RETENTION_DAYS))
        .timestamp();
    let from = filter.from.max(kept_from).max(start);
    let to = filter
        .to
        .min(cursor.now)
        .min(tenant.midnight(tenant.days).timestamp() + 86_399);
    let person = match &filter.user_id {
        None => None,
        Some(id) => match tenant
            .people
            .iter()
            .position(|p| p.id.eq_ignore_ascii_case(id))
        {
            Some(i) => Some(i as u32),
            None => return (Vec::new(), false),
        },
    };
    let mut found = Vec::new();
    if !filter.interactive || from > to {
        return (found, false);
    }
    let (first, last) = (day_of(from), day_of(to));
    for day in (first..=last).rev() {
        let keys = fake.inner.sign_in_days.get(tenant, day);
        let midnight = tenant.midnight(day).timestamp();
        let at = |k: &Key| midnight + i64::from(k.secs);
        // The keys are oldest first: those not after the window's end and the cursor.
        let end = keys.partition_point(|k| {
            at(k) <= to && cursor.last.is_none_or(|last| (at(k), k.person, k.n) < last)
        });
        for k in keys[..end].iter().rev() {
            if at(k) < from {
                return (found, false);
            }
            if person.is_some_and(|p| p != k.person) {
                continue;
            }
            if found.len() == top {
                return (found, true);
            }
            found.push((day, *k));
        }
    }
    (found, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Faults;
    use crate::sim::server::testing::{fake, get};
    use std::collections::HashSet;

    fn start() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).expect("date")
    }

    fn tenant() -> Tenant {
        Tenant::generate(7, 1_000, 60, start())
    }

    fn strong_methods() -> [&'static str; 4] {
        [APP_NOTIFICATION, APP_CODE, PASSKEY, SECURITY_KEY]
    }

    #[test]
    fn the_same_seed_gives_the_same_sign_ins_whatever_the_tenant_size() {
        let a = tenant();
        let b = Tenant::generate(7, 100, 60, start());
        let busy = (0..100)
            .find(|&i| a.sign_ins_of(i, 20).len() >= 2)
            .expect("someone signs in twice");
        assert_eq!(a.sign_ins_of(busy, 20), b.sign_ins_of(busy, 20));
        let c = Tenant::generate(8, 100, 60, start());
        assert_ne!(a.sign_ins_of(busy, 20), c.sign_ins_of(busy, 20));
        // Ids are unique across people, days and the sign-ins of a day.
        let mut ids = HashSet::new();
        for day in [20, 21] {
            for s in a.sign_ins(day) {
                assert!(ids.insert(s.id.clone()), "{} twice", s.id);
                assert!(uuid::Uuid::parse_str(&s.id).is_ok());
                assert_eq!(s.created_date_time.date_naive(), a.date(day));
            }
        }
    }

    #[test]
    fn people_sign_in_about_twice_a_day_in_the_directory_only() {
        let t = tenant();
        let day = 30;
        let mut signing_in = 0;
        let mut total = 0;
        let mut most = 0;
        for (i, p) in t.people.iter().enumerate() {
            let n = t.sign_ins_of(i, day).len();
            let in_directory = t
                .directory_row(i, day)
                .is_some_and(|u| u.account_enabled == Some(true))
                && p.external_user_state != Some("PendingAcceptance");
            if !in_directory {
                assert_eq!(n, 0, "person {i} is not in the directory or disabled");
                continue;
            }
            signing_in += 1;
            total += n;
            most = most.max(n);
        }
        let average = total as f64 / f64::from(signing_in);
        assert!((1.6..2.4).contains(&average), "{average} a day");
        assert_eq!(most, MAX_SIGN_INS_PER_DAY);
        // Some enabled people do not sign in at all on a given day.
        let quiet = (0..t.people.len())
            .filter(|&i| {
                t.directory_row(i, day)
                    .is_some_and(|u| u.account_enabled == Some(true))
                    && t.sign_ins_of(i, day).is_empty()
            })
            .count();
        assert!(quiet > 0);
        // Spread over the day.
        let hours: HashSet<u32> = t
            .sign_ins(day)
            .iter()
            .map(|s| chrono::Timelike::hour(&s.created_date_time))
            .collect();
        assert_eq!(hours.len(), 24);
    }

    #[test]
    fn what_people_use_follows_what_they_registered_that_day() {
        let t = tenant();
        let mut p3_phone_days = HashSet::new();
        let mut p3_app_days = HashSet::new();
        let mut voice_people = 0;
        for day in [0, 15, 30, 45, 60] {
            for (i, p) in t.people.iter().enumerate() {
                let r = p.registered(day);
                let used: Vec<&str> = t
                    .sign_ins_of(i, day)
                    .iter()
                    .flat_map(|s| s.steps.clone())
                    .filter(|s| s.succeeded && !UNKNOWN_SIGN_IN_METHODS.contains(&s.method))
                    .map(|s| s.method)
                    .collect();
                let phone_used = used
                    .iter()
                    .any(|m| [TEXT_MESSAGE, VOICE_CALL, PHONE_CALL].contains(m));
                let strong_used = used.iter().any(|m| strong_methods().contains(m));
                if !r.phone {
                    assert!(
                        !phone_used,
                        "person {i} on day {day} has no phone: {used:?}"
                    );
                }
                if r.phone && !r.app && r.passkey.is_none() {
                    assert!(
                        !strong_used && !used.contains(&WINDOWS_HELLO),
                        "phone-only person {i} on day {day}: {used:?}"
                    );
                    if !r.mobile || r.phone_preference.starts_with("voice") {
                        assert!(!used.contains(&TEXT_MESSAGE), "{used:?}");
                        voice_people += usize::from(phone_used);
                    }
                }
                if !r.app {
                    assert!(!used.contains(&APP_NOTIFICATION) && !used.contains(&APP_CODE));
                }
                if r.passkey.is_some() {
                    assert!(!phone_used, "{used:?}");
                }
                // The app as default and the phone kept: the phone on some days only.
                if r.app && r.prefers_app && r.phone && r.passkey.is_none() {
                    if phone_used {
                        assert!(!used.contains(&APP_NOTIFICATION), "one or the other a day");
                        p3_phone_days.insert((i, day));
                    } else if used.contains(&APP_NOTIFICATION) {
                        p3_app_days.insert((i, day));
                    }
                }
            }
        }
        assert!(voice_people > 0);
        let people = |days: &HashSet<(usize, u32)>| -> HashSet<usize> {
            days.iter().map(|(i, _)| *i).collect()
        };
        assert!(
            people(&p3_phone_days)
                .intersection(&people(&p3_app_days))
                .next()
                .is_some(),
            "someone with the app as default uses the phone on some days and the app on others"
        );
        assert!(p3_phone_days.len() * 3 < p3_app_days.len());
    }

    #[test]
    fn every_shape_of_a_sign_in_occurs() {
        let t = tenant();
        let all: Vec<SimSignIn> = (0..t.people.len())
            .flat_map(|i| t.sign_ins_of(i, 40))
            .collect();
        let has = |f: &dyn Fn(&[Step]) -> bool| all.iter().any(|s| f(&s.steps));
        // A password, then an MFA step.
        assert!(has(&|s| s.len() == 2
            && s[0] == PASSWORD_OK
            && s[1].requirement == MFA
            && s[1].succeeded));
        for reuse in [PREVIOUSLY_SATISFIED, SATISFIED_BY_TOKEN] {
            assert!(has(&|s| s
                .iter()
                .any(|x| x.method == reuse && x.requirement == MFA)));
        }
        // A failed MFA step, then one that succeeds; and one without a second try.
        assert!(has(&|s| s.len() == 3 && !s[1].succeeded && s[2].succeeded));
        assert!(has(&|s| s.len() == 2 && !s[1].succeeded));
        // No MFA step: a password alone, a wrong password, or passwordless.
        assert!(has(&|s| s == [PASSWORD_OK]));
        assert!(has(&|s| s.len() == 1
            && s[0].method == PASSWORD
            && !s[0].succeeded));
        assert!(has(&|s| s.len() == 1
            && s[0].method != PASSWORD
            && s[0].requirement == PRIMARY));
        for method in [
            TEXT_MESSAGE,
            VOICE_CALL,
            PHONE_CALL,
            APP_NOTIFICATION,
            APP_CODE,
            PASSKEY,
            SECURITY_KEY,
            WINDOWS_HELLO,
        ] {
            assert!(
                has(&|s| s.iter().any(|x| x.method == method && x.succeeded)),
                "{method}"
            );
        }
        assert!(has(&|s| s
            .iter()
            .any(|x| UNKNOWN_SIGN_IN_METHODS.contains(&x.method))));
        // Most sign-ins succeed; the phone is still common at this point of the story.
        let failed = all.iter().filter(|s| !s.succeeded()).count();
        assert!(
            failed > 0 && failed * 10 < all.len(),
            "{failed} of {}",
            all.len()
        );
    }

    #[test]
    fn successful_mfa_counts_successful_mfa_steps_only() {
        let t = tenant();
        let day = 40;
        let counted = t.successful_mfa(day);
        let mut expected: BTreeMap<(String, String), u32> = BTreeMap::new();
        for s in t.sign_ins(day) {
            for d in &s.authentication_details {
                let method = d.authentication_method.clone().unwrap_or_default();
                if d.authentication_step_requirement.as_deref() == Some(MFA)
                    && d.succeeded == Some(true)
                    && method != PREVIOUSLY_SATISFIED
                    && method != SATISFIED_BY_TOKEN
                {
                    *expected.entry((s.user_id.clone(), method)).or_default() += 1;
                }
            }
        }
        let got: BTreeMap<(String, String), u32> = counted
            .iter()
            .map(|(id, date, method, n)| {
                assert_eq!(*date, t.date(day));
                ((id.clone(), method.clone()), *n)
            })
            .collect();
        assert_eq!(got, expected);
        let methods: HashSet<&str> = counted.iter().map(|(_, _, m, _)| m.as_str()).collect();
        // Reuses are no method used; Windows Hello is a first factor only.
        for absent in [
            PASSWORD,
            PREVIOUSLY_SATISFIED,
            SATISFIED_BY_TOKEN,
            WINDOWS_HELLO,
        ] {
            assert!(!methods.contains(absent), "{absent} counted");
        }
        assert!(methods.contains(TEXT_MESSAGE) && methods.contains(APP_NOTIFICATION));
    }

    /// Instants in a `$filter`, query-encoded.
    fn window(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
        let filter = format!(
            "createdDateTime ge {} and createdDateTime lt {}",
            from.format("%Y-%m-%dT%H:%M:%SZ"),
            to.format("%Y-%m-%dT%H:%M:%SZ")
        );
        query_value(&filter)
    }

    /// Every page from `uri` on: the sign-ins' ids and times, and how many pages.
    async fn fetch(fake: &FakeGraph, uri: &str) -> (Vec<(String, DateTime<Utc>)>, usize) {
        let mut uri = uri.to_owned();
        let mut rows = Vec::new();
        let mut pages = 0;
        loop {
            let (status, _, body) = get(fake, &uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {body}");
            pages += 1;
            let page: Page<SignIn> = serde_json::from_value(body.clone()).expect("a page");
            rows.extend(page.value.into_iter().map(|s| (s.id, s.created_date_time)));
            match page.next_link {
                Some(next) => uri = next,
                None => break,
            }
        }
        (rows, pages)
    }

    #[tokio::test]
    async fn pages_and_windows_give_each_sign_in_once_newest_first() {
        let fake = fake();
        let t = fake.tenant();
        let midnight = |day| t.midnight(day);
        let cut = midnight(40) + Duration::seconds(9 * 3600 + 1_234);
        let mut seen = Vec::new();
        for (from, to) in [(midnight(40), cut), (cut, midnight(41))] {
            let uri = format!(
                "/beta/auditLogs/signIns?$filter={}&$top=97",
                window(from, to)
            );
            let (rows, pages) = fetch(&fake, &uri).await;
            assert!(pages > 2, "{pages} pages");
            for pair in rows.windows(2) {
                assert!(pair[0].1 >= pair[1].1, "newest first");
            }
            assert!(rows.iter().all(|(_, at)| from <= *at && *at < to));
            seen.extend(rows.into_iter().map(|(id, _)| id));
        }
        let expected: Vec<String> = t.sign_ins(40).into_iter().map(|s| s.id).collect();
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "a sign-in sent twice");
        assert_eq!(unique, expected.iter().collect::<HashSet<_>>());

        // Across midnight, with `gt` and `le`, in one go: the same sign-ins, once each.
        let filter = format!(
            "(createdDateTime gt {} and createdDateTime le {})",
            (midnight(40) - Duration::seconds(1)).format("%Y-%m-%dT%H:%M:%SZ"),
            (midnight(42) - Duration::seconds(1)).format("%Y-%m-%dT%H:%M:%SZ"),
        );
        let uri = format!(
            "/beta/auditLogs/signIns?$filter={}&$top=1000",
            query_value(&filter)
        );
        let (rows, _) = fetch(&fake, &uri).await;
        let both: HashSet<String> = t
            .sign_ins(40)
            .into_iter()
            .chain(t.sign_ins(41))
            .map(|s| s.id)
            .collect();
        assert_eq!(rows.len(), both.len());
        assert_eq!(
            rows.into_iter().map(|(id, _)| id).collect::<HashSet<_>>(),
            both
        );
    }

    #[tokio::test]
    async fn the_log_keeps_thirty_days_and_nothing_after_now() {
        let fake = fake();
        let t = fake.tenant();
        let count = |from: DateTime<Utc>, to: DateTime<Utc>| {
            let fake = fake.clone();
            async move {
                let uri = format!("/beta/auditLogs/signIns?$filter={}", window(from, to));
                fetch(&fake, &uri).await.0.len()
            }
        };
        let day = fake.day();
        let whole = |d: u32| count(t.midnight(d), t.midnight(d + 1));
        assert_eq!(whole(day - RETENTION_DAYS - 1).await, 0, "gone");
        assert_eq!(
            whole(day - RETENTION_DAYS).await,
            t.sign_ins(day - RETENTION_DAYS).len()
        );
        // Today until now only.
        let now = fake.now();
        let today = t.sign_ins(day);
        let so_far = today.iter().filter(|s| s.created_date_time <= now).count();
        let served = whole(day).await;
        assert!(
            served >= so_far && served <= so_far + 10,
            "{served} of {so_far}"
        );
        // Another day of the story moves the log with it.
        fake.set_day(35);
        assert_eq!(whole(4).await, 0);
        assert_eq!(whole(5).await, t.sign_ins(5).len());
        assert_eq!(whole(36).await, 0, "not yet");
        // Without a filter: all that is kept.
        let (rows, pages) = fetch(&fake, "/beta/auditLogs/signIns").await;
        assert!(rows.len() > t.sign_ins(5).len() * 25, "{}", rows.len());
        assert!(pages > 25, "{pages} pages of at most 1,000");
    }

    #[tokio::test]
    async fn one_persons_sign_ins_and_only_interactive_ones() {
        let fake = fake();
        let t = fake.tenant();
        let person = (0..t.people.len())
            .find(|&i| t.sign_ins_of(i, 50).len() >= 2)
            .expect("someone");
        let id = &t.people[person].id;
        let filter = format!(
            "userId eq '{id}' and createdDateTime ge 2026-02-20T00:00:00Z and createdDateTime lt 2026-02-21T00:00:00Z and signInEventTypes/any(t: t eq 'interactiveUser')"
        );
        assert_eq!(t.date(50).to_string(), "2026-02-20");
        let (rows, _) = fetch(
            &fake,
            &format!("/beta/auditLogs/signIns?$filter={}", query_value(&filter)),
        )
        .await;
        let expected: Vec<String> = t
            .sign_ins_of(person, 50)
            .iter()
            .rev()
            .map(|s| s.id.to_string())
            .collect();
        assert_eq!(
            rows.into_iter().map(|(id, _)| id).collect::<Vec<_>>(),
            expected
        );
        let filter = "signInEventTypes/any(t:t eq 'nonInteractiveUser')";
        let (rows, _) = fetch(
            &fake,
            &format!("/beta/auditLogs/signIns?$filter={}", query_value(filter)),
        )
        .await;
        assert!(rows.is_empty());
    }

    #[tokio::test]
    async fn what_the_log_cannot_read_is_refused_as_graph_refuses_it() {
        let fake = fake();
        for (query, code, message) in [
            (
                "$filter=createdDateTime%20ge%20yesterday",
                "BadRequest",
                "Invalid DateTimeOffset value 'yesterday' in $filter.",
            ),
            (
                "$filter=appDisplayName%20eq%20'Teams'",
                "BadRequest",
                "Unsupported or invalid query filter clause specified for property 'appDisplayName' of resource 'SignIn'.",
            ),
            (
                "$filter=createdDateTime%20ge%202026-01-01%20or%20userId%20eq%20'x'",
                "BadRequest",
                "Invalid filter clause: 'or' is not supported here; ask for each part separately.",
            ),
            (
                "$select=id,createdDateTime",
                "BadRequest",
                "Query option 'Select' is not allowed. To allow it, set the 'AllowedQueryOptions' property on EnableQueryAttribute or QueryValidationSettings.",
            ),
            (
                "$orderby=createdDateTime",
                "BadRequest",
                "Query option 'OrderBy' is not allowed. To allow it, set the 'AllowedQueryOptions' property on EnableQueryAttribute or QueryValidationSettings.",
            ),
            (
                "$top=1001",
                "Request_UnsupportedQuery",
                "Invalid page size specified: '1001'. Must be between 1 and 1000 inclusive.",
            ),
            (
                "$skiptoken=abc",
                "Request_BadRequest",
                "Invalid skip token.",
            ),
        ] {
            let (status, headers, body) =
                get(&fake, &format!("/beta/auditLogs/signIns?{query}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
            assert_eq!(body["error"]["code"], code, "{query}");
            assert_eq!(body["error"]["message"], message, "{query}");
            assert!(body["error"]["innerError"]["request-id"].is_string());
            assert!(headers.get("request-id").is_some());
        }
        // Another collection's token is not a sign-in token.
        let other = super::super::server::skiptoken(Paged::Audit, 3, 10);
        let (status, _, _) = get(
            &fake,
            &format!("/beta/auditLogs/signIns?$skiptoken={}", query_value(&other)),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn missing_permission_and_licence_answer_403_and_requests_are_timed() {
        let fake = fake();
        fake.set_faults(Faults {
            deny_sign_ins: true,
            ..Faults::default()
        });
        let (status, _, body) = get(&fake, "/beta/auditLogs/signIns").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error"]["code"], "Authorization_RequestDenied");
        fake.set_faults(Faults {
            no_licence: true,
            ..Faults::default()
        });
        let (status, _, body) = get(&fake, "/beta/auditLogs/signIns").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            body["error"]["code"],
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
        );
        // The shared faults apply.
        fake.set_faults(Faults {
            throttle: 1,
            ..Faults::default()
        });
        let (status, headers, _) = get(&fake, "/beta/auditLogs/signIns?$top=5").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(headers.get("retry-after").is_some());
        let (status, _, body) = get(&fake, "/beta/auditLogs/signIns?$top=5").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["value"].as_array().map(Vec::len), Some(5));
        assert!(
            body["@odata.context"]
                .as_str()
                .is_some_and(|c| c.ends_with("/beta/$metadata#auditLogs/signIns"))
        );
        // Graph's properties, with the fake's details.
        let first = &body["value"][0];
        for key in [
            "userPrincipalName",
            "appDisplayName",
            "status",
            "isInteractive",
        ] {
            assert!(first.get(key).is_some(), "{key}");
        }
        assert_eq!(first["signInEventTypes"][0], "interactiveUser");
        assert!(first["authenticationDetails"][0]["authenticationStepDateTime"].is_string());
        assert_eq!(fake.served().sign_in_pages, 1);
        // Sign-ins and the report are timed together: one reports throttle.
        get(
            &fake,
            "/v1.0/reports/authenticationMethods/userRegistrationDetails",
        )
        .await;
        assert_eq!(fake.sign_in_request_times().len(), 4);
        assert_eq!(fake.report_request_times().len(), 1);
        let both = fake.reports_throttle_request_times();
        assert_eq!(both.len(), 5);
        assert!(both.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn sign_in_tokens_round_trip() {
        let c = Cursor {
            now: 1_770_000_000,
            last: Some((1_769_990_000, 4_711, 3)),
        };
        assert_eq!(Cursor::read(&c.token()), Some(c));
        assert!(c.token().contains('+') || c.token().contains('/'));
        assert_eq!(Cursor::read("+/8"), None);
    }
}
