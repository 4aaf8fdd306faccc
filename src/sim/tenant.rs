//! A simulated tenant: people, their directory attributes and a day-by-day migration story.
//!
//! Deterministic: person `i` of seed `s` is drawn from its own ChaCha stream, so the same seed
//! gives the same tenant everywhere, and adding users does not change the existing ones. Each
//! person carries a plan (the days on which they register an app, switch their default, drop
//! their phone, …); [`Tenant::report_row`] and [`Tenant::directory_row`] compute any day from it
//! in constant time, which lets the fake serve a 100,000-user tenant page by page.

use crate::graph::model::{DirectoryUser, UserRegistrationDetails};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Default number of simulated users.
pub const DEFAULT_USERS: usize = 5_000;
/// Default length of the story in days (the fake serves its last day unless told otherwise).
pub const DEFAULT_DAYS: u32 = 365;

/// Departments with their relative size and migration pace (1.0 = average).
const DEPARTMENTS: &[(&str, u32, f64)] = &[
    ("Engineering", 18, 1.3),
    ("Sales", 14, 0.8),
    ("Customer Support", 10, 0.7),
    ("Operations", 9, 0.9),
    ("Research & Development", 8, 1.2),
    ("Marketing", 7, 1.0),
    ("Finance", 6, 1.1),
    ("IT", 5, 1.8),
    ("Logistics", 5, 0.5),
    ("Human Resources", 4, 1.0),
    ("Legal", 3, 0.9),
    ("Procurement", 3, 0.8),
    ("Facilities", 2, 0.4),
    ("Executive Office", 1, 1.4),
];

const JOB_TITLES: &[&str] = &[
    "Analyst",
    "Specialist",
    "Manager",
    "Senior Manager",
    "Coordinator",
    "Engineer",
    "Senior Engineer",
    "Director",
    "Associate",
    "Team Lead",
    "Consultant",
    "Technician",
];

/// Offices: (office location, country code, company).
const OFFICES: &[(&str, &str, &str)] = &[
    ("London", "GB", "Contoso Ltd"),
    ("Manchester", "GB", "Contoso Ltd"),
    ("Dublin", "IE", "Contoso Ltd"),
    ("München", "DE", "Contoso GmbH"),
    ("Berlin", "DE", "Contoso GmbH"),
    ("Zürich", "CH", "Contoso GmbH"),
    ("Paris", "FR", "Contoso SAS"),
    ("Kraków", "PL", "Contoso Sp. z o.o."),
    ("Seattle", "US", "Contoso, Inc."),
    ("New York", "US", "Contoso, Inc."),
    ("Austin", "US", "Contoso, Inc."),
    ("Toronto", "CA", "Contoso, Inc."),
    ("São Paulo", "BR", "Contoso Brasil Ltda."),
    ("Bengaluru", "IN", "Contoso India Pvt. Ltd."),
    ("Tokyo", "JP", "Contoso K.K."),
    ("Sydney", "AU", "Contoso Pty Ltd"),
];

const FIRST_NAMES: &[&str] = &[
    "Ana",
    "José",
    "Zoë",
    "Łukasz",
    "Søren",
    "Chloé",
    "Øyvind",
    "François",
    "Mei",
    "Hiroshi",
    "Priya",
    "Oluwaseun",
    "Siobhán",
    "Björn",
    "Renée",
    "Jürgen",
    "Ines",
    "Mateo",
    "Aisha",
    "Noah",
    "Emma",
    "Liam",
    "Olivia",
    "Lucas",
    "Sofía",
    "Ethan",
    "Amélie",
    "Kofi",
    "Yuki",
    "Dmitri",
    "Fatima",
    "Raj",
    "Grace",
    "Tomás",
    "Ingrid",
    "Chen",
    "Leila",
    "Marco",
    "Nadia",
    "Pedro",
];

const LAST_NAMES: &[&str] = &[
    "García",
    "Müller",
    "O'Brien",
    "Nowak",
    "Johansson",
    "Dubois",
    "Tanaka",
    "Sharma",
    "Okafor",
    "Smith",
    "Jones",
    "D'Souza",
    "Rossi",
    "Kowalski",
    "Nguyen",
    "Fernández",
    "Schmidt",
    "Brown",
    "Martin",
    "Lefèvre",
    "Andersson",
    "Kim",
    "Patel",
    "Silva",
    "Novák",
    "Murphy",
    "Ivanova",
    "Hernández",
    "Wójcik",
    "Larsen",
    "Costa",
    "Yamamoto",
    "Byrne",
    "Weiß",
    "Çelik",
    "Ó Súilleabháin",
];

/// Method strings Graph may send that this product does not know (kept and shown raw).
const UNKNOWN_METHODS: &[&str] = &["qrCodePin", "externalAuthMethod", "platformCredential"];

/// How a person came to exist in the tenant and how they migrate.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub upn: String,
    pub display_name: String,
    pub given_name: String,
    pub surname: String,
    /// `userType` Guest. An *internal* guest (not [`Self::external`]) is an account made in the
    /// tenant with the Guest type: no `#EXT#`, no `externalUserState`.
    pub guest: bool,
    /// Invited through B2B (graph-api.md §12): `#EXT#` in the UPN, `creationType`
    /// `Invitation`, an `externalUserState`. A guest or, for some, a member.
    pub external: bool,
    /// `Accepted` or `PendingAcceptance` for an external user; `None` otherwise.
    pub external_user_state: Option<&'static str>,
    /// Holds an admin role (drawn with the person); the report's `isAdmin` is this or a
    /// Global Administrator role of [`Self::global_admin`] ([`Self::is_admin`]).
    pub admin: bool,
    /// How the person holds the Global Administrator role, if at all (the story's days are in
    /// [`super::policy::PolicyStory`]).
    pub global_admin: Option<GlobalAdmin>,
    pub department: Option<String>,
    /// Day on which the person moves to another department.
    pub department_change: Option<(u32, Option<String>)>,
    pub job_title: Option<String>,
    pub company: Option<String>,
    pub office: Option<String>,
    pub country: Option<String>,
    /// First day in the tenant (0 for most).
    pub joins: u32,
    /// Day from which the person is gone (left the company).
    pub leaves: Option<u32>,
    /// Disabled accounts are in /users but not in the report (as Graph documents); a few are
    /// still in the report, as happens while the report lags.
    pub disabled: bool,
    pub disabled_still_in_report: bool,
    /// In the report but missing from /users (deleted since the report refreshed).
    pub missing_from_directory: bool,
    /// A guest as first drawn, before [`label`] made some members guests: the story's groups
    /// are drawn on it, so they stay as they were.
    drawn_guest: bool,
    plan: Plan,
}

/// How a person holds the Global Administrator role (graph-api.md §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalAdmin {
    /// Assigned directly, active for the whole story.
    Direct,
    /// A member of the role-assignable group that holds the role.
    Group,
    /// Eligible through PIM only, never active.
    Eligible,
    /// Assigned directly on the story's `global_admin_granted` day.
    Granted,
    /// Assigned directly until the story's `global_admin_revoked` day.
    Revoked,
}

/// What a person has registered on one day of the story, and which they prefer: the one
/// reading of a [`Plan`] that the registration report and the sign-in log share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registered {
    /// A phone of any kind (mobile, alternate mobile, office).
    pub phone: bool,
    /// The phone includes a mobile (text messages possible); without one, voice only.
    pub mobile: bool,
    /// The user's own preference among the phone methods: `sms`, `voiceMobile`,
    /// `voiceAlternateMobile` or `voiceOffice`.
    pub phone_preference: &'static str,
    /// An authenticator app (the Microsoft Authenticator, or a passcode app).
    pub app: bool,
    /// The app also gives one-time passcodes.
    pub passcodes: bool,
    /// The app is a third-party passcode app only (no notifications).
    pub passcode_app_only: bool,
    /// A passkey or Windows Hello, by its report name (`fido2SecurityKey`, …).
    pub passkey: Option<&'static str>,
    /// A Temporary Access Pass while a lost app is replaced.
    pub temporary_access_pass: bool,
    /// The user's default has moved to the app (and the app is there).
    pub prefers_app: bool,
}

/// The registration story of one person, as days (inclusive) on which things happen.
#[derive(Debug, Clone, Default)]
struct Plan {
    mobile: bool,
    alternate: bool,
    office_phone: bool,
    /// Day a phone is first registered (a no-MFA person who starts with a phone later).
    phone_from: u32,
    phone_removed: Option<u32>,
    app_from: Option<u32>,
    /// The app is lost (new handset) on this day and re-registered `app_back` days later.
    app_lost: Option<(u32, u32)>,
    otp: bool,
    /// The app is a third-party one-time-passcode app, not the Authenticator: the report lists
    /// `softwareOneTimePasscode` without `microsoftAuthenticatorPush`.
    otp_app_only: bool,
    passkey_from: Option<(u32, &'static str)>,
    /// Day the user's own preference moves from the phone to push.
    default_to_app: Option<u32>,
    phone_pref: &'static str,
    system_preferred: bool,
    email: bool,
    security_questions: bool,
    unknown: Option<&'static str>,
    /// Graph occasionally changes letter case or order; neither is a change.
    noisy_spelling: bool,
    tap_days: Option<u32>,
}

/// A deterministic simulated tenant.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub seed: u64,
    pub days: u32,
    /// The date of day 0.
    pub start: NaiveDate,
    pub domain: String,
    pub people: Vec<Person>,
}

impl Tenant {
    /// `users` people over a story of `days` days starting on `start`.
    pub fn generate(seed: u64, users: usize, days: u32, start: NaiveDate) -> Tenant {
        let domain = "contoso.com".to_owned();
        let mut people: Vec<Person> = (0..users)
            .map(|i| Person::generate(seed, i as u64, days.max(1), &domain))
            .collect();
        label(seed, &mut people, &domain);
        Tenant {
            seed,
            days,
            start,
            domain,
            people,
        }
    }

    /// A story that ends today: the fake's default.
    pub fn ending_today(seed: u64, users: usize, days: u32) -> Tenant {
        let today = Utc::now().date_naive();
        Tenant::generate(seed, users, days, today - Duration::days(i64::from(days)))
    }

    pub fn date(&self, day: u32) -> NaiveDate {
        self.start + Duration::days(i64::from(day))
    }

    /// When the report was refreshed on `day` (it lags: early morning UTC).
    pub fn report_refreshed(&self, day: u32) -> DateTime<Utc> {
        self.date(day)
            .and_hms_opt(2, 0, 0)
            .map_or_else(Utc::now, |t| t.and_utc())
    }

    /// The person's row in the registration report on `day`, if they are in it.
    pub fn report_row(&self, index: usize, day: u32) -> Option<UserRegistrationDetails> {
        let p = self.people.get(index)?;
        if !p.present(day) || (p.disabled && !p.disabled_still_in_report) {
            return None;
        }
        let plan = &p.plan;
        let registered = p.registered(day);
        let has_phone = registered.phone;
        let has_app = registered.app;
        let has_passkey = registered.passkey.is_some();
        let tap = registered.temporary_access_pass;

        let mut methods: Vec<String> = Vec::new();
        if plan.email {
            methods.push("email".into());
        }
        if plan.security_questions {
            methods.push("securityQuestion".into());
        }
        if has_phone {
            if plan.mobile {
                methods.push("mobilePhone".into());
            }
            if plan.alternate && plan.mobile {
                methods.push("alternateMobilePhone".into());
            }
            if plan.office_phone {
                methods.push("officePhone".into());
            }
        }
        if has_app && plan.otp_app_only {
            methods.push("softwareOneTimePasscode".into());
        } else if has_app {
            methods.push("microsoftAuthenticatorPush".into());
            if plan.otp {
                methods.push("softwareOneTimePasscode".into());
            }
        }
        if has_passkey && let Some((_, kind)) = plan.passkey_from {
            methods.push(kind.into());
        }
        if tap {
            methods.push("temporaryAccessPass".into());
        }
        if let Some(u) = plan.unknown {
            methods.push(u.into());
        }
        if plan.noisy_spelling {
            // Order and letter case move from day to day; the facts do not.
            let len = methods.len().max(1);
            methods.rotate_left(day as usize % len);
            if day % 2 == 1
                && let Some(first) = methods.first_mut()
            {
                *first = first.to_ascii_uppercase();
            }
        }

        let prefers_app = registered.prefers_app;
        let user_preferred = if prefers_app && plan.otp_app_only {
            "oath"
        } else if prefers_app {
            "push"
        } else if has_phone {
            plan.phone_pref
        } else if has_app {
            "oath"
        } else if index.is_multiple_of(3) {
            ""
        } else {
            "none"
        };
        // Graph sends system-preferred methods outside the documented set and its spelling:
        // `Fido2` always, and for a fifth of people `PhoneAppNotification` and `Sms` instead
        // of `push` and `sms` (fixed per person, so no day differs from the next by it).
        let (push, sms) = if index % 5 == 2 {
            ("PhoneAppNotification", "Sms")
        } else {
            ("push", "sms")
        };
        let system_preferred: Vec<String> = if !plan.system_preferred {
            Vec::new()
        } else if has_passkey {
            vec!["Fido2".into()]
        } else if has_app && plan.otp_app_only {
            vec!["oath".into()]
        } else if has_app {
            vec![push.into()]
        } else if has_phone && plan.mobile {
            vec![sms.into()]
        } else if has_phone {
            vec!["voiceOffice".into()]
        } else {
            Vec::new()
        };
        let strong = has_app || has_passkey;
        let refreshed = self.report_refreshed(day) - Duration::minutes((index % 97) as i64);
        Some(UserRegistrationDetails {
            id: p.id.clone(),
            user_principal_name: p.upn.clone(),
            user_display_name: p.display_name.clone(),
            user_type: Some(if p.guest { "guest" } else { "member" }.to_owned()),
            is_admin: p.is_admin(day, self.days),
            is_mfa_capable: strong || has_phone,
            is_mfa_registered: strong || has_phone,
            is_passwordless_capable: has_passkey,
            is_sspr_capable: plan.email || has_phone,
            is_sspr_enabled: true,
            is_sspr_registered: plan.email || has_phone,
            is_system_preferred_authentication_method_enabled: plan.system_preferred,
            system_preferred_authentication_methods: system_preferred,
            user_preferred_method_for_secondary_authentication: Some(user_preferred.to_owned()),
            methods_registered: methods,
            last_updated_date_time: Some(refreshed),
        })
    }

    /// The person's `/users` row on `day`, if the directory has them.
    pub fn directory_row(&self, index: usize, day: u32) -> Option<DirectoryUser> {
        let p = self.people.get(index)?;
        if !p.present(day) || p.missing_from_directory {
            return None;
        }
        let department = match &p.department_change {
            Some((d, new)) if day >= *d => new.clone(),
            _ => p.department.clone(),
        };
        Some(DirectoryUser {
            id: p.id.clone(),
            user_principal_name: Some(p.upn.clone()),
            display_name: Some(p.display_name.clone()),
            department,
            company_name: p.company.clone(),
            office_location: p.office.clone(),
            usage_location: p.country.clone(),
            job_title: p.job_title.clone(),
            account_enabled: Some(!p.disabled),
            user_type: Some(if p.guest { "Guest" } else { "Member" }.to_owned()),
            external_user_state: p.external_user_state.map(str::to_owned),
            creation_type: p.external.then(|| "Invitation".to_owned()),
        })
    }

    /// Every report row of a day (tests and benchmarks; the fake pages through them).
    pub fn report(&self, day: u32) -> Vec<UserRegistrationDetails> {
        (0..self.people.len())
            .filter_map(|i| self.report_row(i, day))
            .collect()
    }

    /// Every `/users` row of a day.
    pub fn directory(&self, day: u32) -> Vec<DirectoryUser> {
        (0..self.people.len())
            .filter_map(|i| self.directory_row(i, day))
            .collect()
    }

    /// The tenant's policies, groups and audit log, day by day ([`super::policy`]).
    pub fn policy_story(&self) -> super::policy::PolicyStory {
        super::policy::PolicyStory::new(self)
    }
}

impl Person {
    /// The `mail` of their directory entry: a guest's is their own address, which their UPN
    /// spells with `_` for `@`.
    pub fn mail(&self) -> Option<String> {
        match self.upn.split_once("#EXT#") {
            Some((local, _)) => local.rsplit_once('_').map(|(l, d)| format!("{l}@{d}")),
            None => Some(self.upn.clone()),
        }
    }

    /// The `preferredLanguage` of their directory entry (guests have none).
    pub fn preferred_language(&self) -> Option<&'static str> {
        (!self.guest).then_some("en-US")
    }

    /// The report's `isAdmin` on `day` of a story of `days` days: an admin role of any kind,
    /// a Global Administrator's only while it is assigned or eligible.
    pub fn is_admin(&self, day: u32, days: u32) -> bool {
        let k = super::policy::KeyDays::new(days);
        self.admin
            || match self.global_admin {
                None => false,
                Some(GlobalAdmin::Direct | GlobalAdmin::Group | GlobalAdmin::Eligible) => true,
                Some(GlobalAdmin::Granted) => day >= k.global_admin_granted,
                Some(GlobalAdmin::Revoked) => day < k.global_admin_revoked,
            }
    }

    /// What the person has registered on `day` (whether or not they are in the tenant then).
    pub fn registered(&self, day: u32) -> Registered {
        let plan = &self.plan;
        let phone = plan.mobile || plan.alternate || plan.office_phone;
        let has_phone =
            phone && day >= plan.phone_from && plan.phone_removed.is_none_or(|r| day < r);
        let has_app = plan.app_from.is_some_and(|a| day >= a)
            && plan
                .app_lost
                .is_none_or(|(lost, back)| day < lost || day >= lost + back);
        let passkey = plan
            .passkey_from
            .and_then(|(d, kind)| (day >= d).then_some(kind));
        let tap = plan.tap_days.is_some()
            && plan
                .app_lost
                .is_some_and(|(lost, back)| day >= lost && day < lost + back);
        Registered {
            phone: has_phone,
            mobile: has_phone && plan.mobile,
            phone_preference: plan.phone_pref,
            app: has_app,
            passcodes: has_app && (plan.otp || plan.otp_app_only),
            passcode_app_only: has_app && plan.otp_app_only,
            passkey,
            temporary_access_pass: tap,
            prefers_app: plan.default_to_app.is_some_and(|d| day >= d) && has_app,
        }
    }

    /// There for the whole story: joined on day 0, never leaves, enabled, in `/users`.
    pub fn steady(&self) -> bool {
        self.joins == 0 && self.leaves.is_none() && !self.disabled && !self.missing_from_directory
    }

    /// A phone from day 0 and nothing stronger on any day of the story.
    pub fn phone_only_throughout(&self) -> bool {
        let p = &self.plan;
        (p.mobile || p.office_phone)
            && p.phone_from == 0
            && p.phone_removed.is_none()
            && p.app_from.is_none()
            && p.passkey_from.is_none()
    }

    /// A guest as first drawn (the story's groups are drawn on it).
    pub(super) fn drawn_guest(&self) -> bool {
        self.drawn_guest
    }

    /// In the tenant on `day`: joined and not yet left.
    pub fn present(&self, day: u32) -> bool {
        day >= self.joins && self.leaves.is_none_or(|l| day < l)
    }

    fn generate(seed: u64, index: u64, days: u32, domain: &str) -> Person {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(index);
        let id = uuid::Builder::from_random_bytes(rng.random())
            .into_uuid()
            .to_string();

        let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
        let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
        let guest = rng.random_bool(0.06);
        let flavour: f64 = rng.random();
        let display_name = if flavour < 0.004 {
            format!("{first} {last} <Contractor>")
        } else if flavour < 0.009 {
            format!(
                "{first} \"{}\" {last}",
                &first[..first.char_indices().nth(2).map_or(first.len(), |(i, _)| i)]
            )
        } else if flavour < 0.02 {
            format!("{last}, {first}")
        } else if flavour < 0.03 {
            // Display names are free text (guests choose their own): some look like
            // spreadsheet formulas or hold a line break, which exports must defuse.
            match index % 5 {
                0 => format!("=HYPERLINK(\"https://example.invalid\",\"{first}\")"),
                1 => format!("+{first} {last}"),
                2 => format!("@{first} {last}"),
                3 => format!("-{first} {last}"),
                _ => format!("{first}\n{last}"),
            }
        } else {
            format!("{first} {last}")
        };
        let local = format!("{}.{}{}", ascii_fold(first), ascii_fold(last), index);
        let upn = if guest {
            format!("{local}_fabrikam.com#EXT#@contoso.onmicrosoft.com")
        } else {
            format!("{local}@{domain}")
        };

        let weights: u32 = DEPARTMENTS.iter().map(|d| d.1).sum();
        let mut pick = rng.random_range(0..weights);
        let mut dept = DEPARTMENTS[0];
        for d in DEPARTMENTS {
            if pick < d.1 {
                dept = *d;
                break;
            }
            pick -= d.1;
        }
        let no_dept: f64 = rng.random();
        let department = if guest && rng.random_bool(0.7) || no_dept < 0.03 {
            None
        } else if no_dept < 0.035 {
            Some(String::new())
        } else if no_dept < 0.038 {
            Some("  ".to_owned())
        } else {
            Some(dept.0.to_owned())
        };
        let pace = if department.as_deref().is_some_and(|d| !d.trim().is_empty()) {
            dept.2
        } else {
            0.8
        };
        let (office, country, company) = OFFICES[rng.random_range(0..OFFICES.len())];
        let acquired = rng.random_bool(0.08);
        let company = if guest {
            None
        } else if acquired {
            Some("Fabrikam, Inc.".to_owned())
        } else {
            Some(company.to_owned())
        };
        let job_title =
            (!guest).then(|| JOB_TITLES[rng.random_range(0..JOB_TITLES.len())].to_owned());
        let admin = !guest && rng.random_bool(0.03);
        let pace = if admin { pace * 1.5 } else { pace };

        let joins = if rng.random_bool(0.06) {
            rng.random_range(1..=days)
        } else {
            0
        };
        let leaves = rng
            .random_bool(0.05)
            .then(|| rng.random_range(joins + 1..=days + 1))
            .filter(|l| *l <= days);
        let disabled = !guest && rng.random_bool(0.012);
        let disabled_still_in_report = disabled && rng.random_bool(0.3);
        let missing_from_directory = rng.random_bool(0.002);
        let department_change = (!guest && rng.random_bool(0.03)).then(|| {
            let d = DEPARTMENTS[rng.random_range(0..DEPARTMENTS.len())]
                .0
                .to_owned();
            (rng.random_range(joins + 1..=days.max(joins + 1)), Some(d))
        });

        let plan = Plan::generate(&mut rng, days, joins, pace, guest);
        // Drawn last, so everything above stays as it was. Graph sends `null` for what nobody
        // filled in: many guests have no office and no usage location (no licence), a few
        // members neither.
        let office = (!rng.random_bool(if guest { 0.6 } else { 0.04 })).then(|| office.to_owned());
        let country =
            (!rng.random_bool(if guest { 0.5 } else { 0.03 })).then(|| country.to_owned());
        Person {
            id,
            upn,
            display_name,
            given_name: first.to_owned(),
            surname: last.to_owned(),
            guest,
            external: false,
            external_user_state: None,
            admin,
            global_admin: None,
            department,
            department_change,
            job_title,
            company,
            office,
            country,
            joins,
            leaves,
            disabled,
            disabled_still_in_report,
            missing_from_directory,
            drawn_guest: guest,
            plan,
        }
    }
}

impl Plan {
    fn generate(rng: &mut ChaCha8Rng, days: u32, joins: u32, pace: f64, guest: bool) -> Plan {
        let mut plan = Plan {
            email: rng.random_bool(0.5),
            security_questions: rng.random_bool(0.05),
            system_preferred: rng.random_bool(0.6),
            noisy_spelling: rng.random_bool(0.05),
            unknown: rng
                .random_bool(0.015)
                .then(|| UNKNOWN_METHODS[rng.random_range(0..UNKNOWN_METHODS.len())]),
            otp: rng.random_bool(0.3),
            ..Plan::default()
        };
        // A day in the story, later days more likely (a campaign that gathers pace).
        let some_day = |rng: &mut ChaCha8Rng, from: u32| -> u32 {
            let a: f64 = rng.random();
            let b: f64 = rng.random();
            let t = a.max(b);
            from + 1 + (t * f64::from(days.saturating_sub(from).max(1))) as u32
        };
        let start: f64 = rng.random();
        let (phone, app_at_start, passkey_at_start) = if guest {
            (start < 0.55, (0.55..0.75).contains(&start), false)
        } else if start < 0.42 {
            (true, false, false) // phone only
        } else if start < 0.62 {
            (true, true, false) // phone and app
        } else if start < 0.76 {
            (true, true, rng.random_bool(0.1))
        } else if start < 0.92 {
            (false, true, rng.random_bool(0.3)) // already phone free
        } else {
            (false, false, false) // no MFA yet
        };
        if phone || !guest && !app_at_start && rng.random_bool(0.4) {
            let office_only = rng.random_bool(0.04);
            plan.mobile = !office_only;
            plan.office_phone = office_only || rng.random_bool(0.05);
            plan.alternate = plan.mobile && rng.random_bool(0.08);
            plan.phone_pref = if plan.office_phone && !plan.mobile {
                "voiceOffice"
            } else if rng.random_bool(0.22) {
                if plan.alternate {
                    "voiceAlternateMobile"
                } else {
                    "voiceMobile"
                }
            } else {
                "sms"
            };
            // Somebody with nothing at the start may register a phone during the story.
            plan.phone_from = if phone { 0 } else { some_day(rng, joins) };
        }
        if app_at_start {
            plan.app_from = Some(joins);
            plan.default_to_app =
                (rng.random_bool(if phone { 0.45 } else { 1.0 })).then_some(joins);
        } else if !guest && rng.random_bool((0.7 * pace).min(0.97)) {
            plan.app_from = Some(some_day(rng, joins.max(plan.phone_from)));
        }
        if let Some(app) = plan.app_from {
            if plan.default_to_app.is_none() && rng.random_bool((0.75 * pace).min(0.95)) {
                plan.default_to_app = Some(app + rng.random_range(1..45));
            }
            if (plan.mobile || plan.office_phone) && rng.random_bool((0.45 * pace).min(0.9)) {
                let from = plan.default_to_app.unwrap_or(app).max(plan.phone_from);
                plan.phone_removed = Some(from + rng.random_range(7..90));
            }
            if rng.random_bool(0.015) {
                let lost = app + rng.random_range(5..120);
                plan.app_lost = Some((lost, rng.random_range(1..10)));
                plan.tap_days = rng.random_bool(0.6).then_some(1);
            }
        }
        let passkeys = [
            "passKeyDeviceBoundAuthenticator",
            "fido2SecurityKey",
            "windowsHelloForBusiness",
            "passKeySynced",
        ];
        if passkey_at_start {
            plan.passkey_from = Some((joins, passkeys[rng.random_range(0..passkeys.len())]));
        } else if plan.app_from.is_some() && rng.random_bool((0.18 * pace).min(0.6)) {
            let from = plan.app_from.unwrap_or(0);
            plan.passkey_from = Some((
                some_day(rng, from),
                passkeys[rng.random_range(0..passkeys.len())],
            ));
        }
        plan
    }
}

/// Separates the labelling draws (external users, roles) from the people's own, so the people
/// stay as they were drawn.
const LABEL_SALT: u64 = 0x6c61_6265_6c73_0001;
/// Share of guests beyond the quotas who were invited (B2B) rather than made in the tenant.
const EXTERNAL_GUEST_SHARE: f64 = 0.7;
/// Share of members beyond the quotas who are external members (invited, then made members).
const EXTERNAL_MEMBER_SHARE: f64 = 0.015;
/// Until this person index, the Global Administrator roles meant for admins wait for one;
/// from it on, any steady member may take them (small tenants have few admins).
const ADMIN_WINDOW: usize = 40;
/// From this person index on, a tenant still without a phone-only external guest makes one of
/// a phone-only member; from [`LATE_GUEST_WINDOW`] on, one without an internal guest or a
/// pending invitation makes one of a member (a tenant with few guests).
const GUEST_WINDOW: usize = 20;
const LATE_GUEST_WINDOW: usize = 30;

/// The Global Administrator roles to hand out, in order: those for phone-only people, and those
/// for admins (see [`GlobalAdmin`]).
const PHONE_ONLY_ROLES: &[GlobalAdmin] = &[
    GlobalAdmin::Direct,
    GlobalAdmin::Granted,
    GlobalAdmin::Eligible,
];
const ADMIN_ROLES: &[GlobalAdmin] = &[
    GlobalAdmin::Direct,
    GlobalAdmin::Group,
    GlobalAdmin::Revoked,
    GlobalAdmin::Group,
    GlobalAdmin::Eligible,
    GlobalAdmin::Direct,
];

/// Labels people, in index order, as external guests, internal guests, external members and
/// Global Administrators, and gives one person a third-party passcode app (with a phone).
///
/// Each decision reads only the people before it and the person's own draw, so a person is
/// labelled the same in a tenant of any size, and every tenant of 50 or more people has each
/// kind: the first fitting people fill a few quotas (a phone-only external guest and member, a
/// pending invitation, an internal guest, each role), and the rest are drawn.
fn label(seed: u64, people: &mut [Person], domain: &str) {
    let mut phone_only_external_guests = 0;
    let mut pending = 0;
    let mut internal_guests = 0;
    let mut external_members = 0;
    let mut otp_only = false;
    let (mut phone_roles, mut admin_roles) = (0, 0);
    for (i, p) in people.iter_mut().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ LABEL_SALT);
        rng.set_stream(i as u64);
        let draw: f64 = rng.random();
        let member_candidate = p.steady() && !p.guest && !p.admin;
        // Too few guests so far: a member becomes one. Nobody's methods change but a pending
        // guest's, who is never in the story's groups (they join or leave during the story).
        let transient = !p.steady() && !p.disabled && !p.missing_from_directory;
        // What a member made a guest here is to be.
        let mut made = None;
        if !p.guest && !p.admin {
            if phone_only_external_guests == 0
                && i >= GUEST_WINDOW
                && member_candidate
                && p.phone_only_throughout()
            {
                made = Some((true, "Accepted"));
            } else if pending == 0 && i >= LATE_GUEST_WINDOW && transient {
                // An invitation never redeemed: nothing registered.
                p.plan = Plan::default();
                made = Some((true, "PendingAcceptance"));
            } else if internal_guests == 0
                && i >= LATE_GUEST_WINDOW
                && member_candidate
                && !p.phone_only_throughout()
            {
                made = Some((false, ""));
            }
            p.guest |= made.is_some();
        }
        let no_methods = !p.plan.mobile && !p.plan.office_phone && p.plan.app_from.is_none();
        let phone_at_start = (p.plan.mobile || p.plan.office_phone) && p.plan.phone_from == 0;
        if p.guest {
            let (external, state) = if let Some(made) = made {
                made
            } else if phone_only_external_guests < 2 && phone_at_start {
                (true, "Accepted")
            } else if pending == 0 && no_methods {
                (true, "PendingAcceptance")
            } else if internal_guests == 0 {
                (false, "")
            } else if draw < EXTERNAL_GUEST_SHARE {
                // Somebody who never redeemed the invitation has registered nothing.
                let pending = no_methods && draw < EXTERNAL_GUEST_SHARE / 4.0;
                (
                    true,
                    if pending {
                        "PendingAcceptance"
                    } else {
                        "Accepted"
                    },
                )
            } else {
                (false, "")
            };
            match (external, state) {
                (true, "PendingAcceptance") => pending += 1,
                (true, _) if phone_at_start => phone_only_external_guests += 1,
                (false, _) => internal_guests += 1,
                _ => {}
            }
            if external {
                p.external = true;
                p.external_user_state = Some(state);
                p.upn = external_upn(&p.upn);
            } else {
                let local = p.upn.split('_').next().unwrap_or_default().to_owned();
                p.upn = format!("{local}@{domain}");
            }
            continue;
        }
        let external_member = member_candidate
            && (external_members == 0 && p.phone_only_throughout()
                || external_members == 1
                || external_members >= 2 && draw < EXTERNAL_MEMBER_SHARE);
        if external_member {
            external_members += 1;
            p.external = true;
            p.external_user_state = Some("Accepted");
            p.upn = external_upn(&p.upn);
            continue;
        }
        if !p.steady() {
            continue;
        }
        if p.phone_only_throughout() {
            if let Some(&role) = PHONE_ONLY_ROLES.get(phone_roles) {
                phone_roles += 1;
                p.global_admin = Some(role);
            }
            continue;
        }
        if (p.admin || i >= ADMIN_WINDOW)
            && let Some(&role) = ADMIN_ROLES.get(admin_roles)
        {
            admin_roles += 1;
            p.global_admin = Some(role);
            continue;
        }
        if !otp_only
            && !p.admin
            && p.plan.app_from == Some(0)
            && !p.plan.mobile
            && !p.plan.office_phone
        {
            // A passcode app the methods policy does not allow (SoftwareOath is off), and a
            // phone: to the policy, phone-only. Never phone-only before either, so the story's
            // draws of phone-only people do not change.
            otp_only = true;
            let plan = &mut p.plan;
            plan.otp_app_only = true;
            plan.mobile = true;
            plan.phone_from = 0;
            plan.phone_pref = "sms";
            plan.phone_removed = None;
            plan.passkey_from = None;
            plan.app_lost = None;
            plan.tap_days = None;
        }
    }
}

/// The UPN of an invited account: `local_fabrikam.com#EXT#@contoso.onmicrosoft.com`.
fn external_upn(upn: &str) -> String {
    if upn.contains("#EXT#") {
        return upn.to_owned();
    }
    let local = upn.split(['@', '_']).next().unwrap_or_default();
    format!("{local}_fabrikam.com#EXT#@contoso.onmicrosoft.com")
}

/// Lower-case ASCII for a UPN: accents dropped, apostrophes and spaces removed.
fn ascii_fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let mapped = match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'Á' => "a",
            'é' | 'è' | 'ê' | 'ë' | 'É' => "e",
            'í' | 'ì' | 'î' | 'ï' => "i",
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'Ø' | 'Ó' => "o",
            'ú' | 'ù' | 'û' | 'ü' => "u",
            'ç' | 'Ç' => "c",
            'ñ' => "n",
            'ł' | 'Ł' => "l",
            'ß' => "ss",
            'š' => "s",
            'ž' => "z",
            c if c.is_ascii_alphanumeric() => {
                out.push(c.to_ascii_lowercase());
                continue;
            }
            _ => "",
        };
        out.push_str(mapped);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::classify::{Registration, State, classify};
    use std::collections::HashMap;

    fn tenant() -> Tenant {
        Tenant::generate(
            7,
            3_000,
            365,
            NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
        )
    }

    fn states(t: &Tenant, day: u32) -> HashMap<String, State> {
        t.report(day)
            .into_iter()
            .map(|r| {
                let state = classify(&Registration::from(&r)).state;
                (r.id, state)
            })
            .collect()
    }

    #[test]
    fn same_seed_same_tenant_and_users_independent_of_size() {
        let a = tenant();
        let b = Tenant::generate(7, 100, 365, a.start);
        assert_eq!(a.report_row(42, 200), b.report_row(42, 200));
        assert_eq!(a.directory_row(42, 200), b.directory_row(42, 200));
        let c = Tenant::generate(8, 100, 365, a.start);
        assert_ne!(a.people[0].id, c.people[0].id);
    }

    #[test]
    fn every_state_and_awkward_data_occur() {
        let t = tenant();
        let day0 = states(&t, 0);
        for &st in State::ALL {
            assert!(day0.values().any(|s| *s == st), "no {st} user on day 0");
        }
        let report = t.report(0);
        assert!(
            report
                .iter()
                .any(|r| r.methods_registered.iter().any(|m| m == "officePhone"))
        );
        assert!(report.iter().any(|r| {
            r.methods_registered
                .iter()
                .any(|m| m == "alternateMobilePhone")
        }));
        assert!(report.iter().any(|r| {
            r.methods_registered
                .iter()
                .any(|m| UNKNOWN_METHODS.contains(&m.as_str()))
        }));
        assert!(
            report
                .iter()
                .any(|r| r.user_type.as_deref() == Some("guest"))
        );
        assert!(report.iter().any(|r| r.is_admin));
        // The spellings Graph really sends, kept on purpose (docs/development.md).
        for odd in ["Fido2", "PhoneAppNotification", "Sms", "push", "sms"] {
            assert!(
                report
                    .iter()
                    .any(|r| r.system_preferred_authentication_methods == [odd]),
                "{odd}"
            );
        }
        assert!(report.iter().any(|r| {
            r.user_preferred_method_for_secondary_authentication
                .as_deref()
                == Some("")
        }));
        // Method names in another letter case on some days (`MOBILEPHONE`).
        assert!(t.report(1).iter().any(|r| {
            r.methods_registered
                .iter()
                .any(|m| m.len() > 1 && !m.chars().any(|c| c.is_ascii_lowercase()))
        }));
        assert!(report.iter().any(|r| r.user_display_name.contains('<')));
        assert!(report.iter().any(|r| r.user_display_name.contains('"')));
        assert!(report.iter().any(|r| r.user_display_name.contains('\'')));
        assert!(report.iter().any(|r| !r.user_display_name.is_ascii()));
        let dir = t.directory(0);
        assert!(dir.iter().any(|u| u.department.is_none()));
        assert!(dir.iter().any(|u| u.department.as_deref() == Some("")));
        // Some offices and usage locations are null, for members too; most are set.
        let members = || {
            dir.iter()
                .filter(|u| u.user_type.as_deref() == Some("Member"))
        };
        let no_office = members().filter(|u| u.office_location.is_none()).count();
        let no_country = members().filter(|u| u.usage_location.is_none()).count();
        let all = members().count();
        for none in [no_office, no_country] {
            assert!(none > 0 && none * 10 < all, "{none} of {all}");
        }
        assert!(
            dir.iter()
                .filter(|u| u.user_type.as_deref() == Some("Guest"))
                .any(|u| u.office_location.is_none() && u.usage_location.is_none())
        );
        assert!(dir.iter().any(|u| u.account_enabled == Some(false)));
        // Disabled accounts are mostly absent from the report.
        let in_report: std::collections::HashSet<_> =
            report.iter().map(|r| r.id.as_str()).collect();
        assert!(
            dir.iter()
                .any(|u| u.account_enabled == Some(false) && !in_report.contains(u.id.as_str()))
        );
    }

    #[test]
    fn the_migration_progresses_day_by_day() {
        let t = tenant();
        let first = states(&t, 0);
        let last = states(&t, 365);
        let migrated = |m: &HashMap<String, State>| {
            m.values().filter(|s| s.is_migrated()).count() as f64 / m.len() as f64
        };
        assert!(
            migrated(&last) > migrated(&first) + 0.2,
            "{} -> {}",
            migrated(&first),
            migrated(&last)
        );
        // Successive days differ, but only a little.
        let d100 = states(&t, 100);
        let d101 = states(&t, 101);
        let changed = d101
            .iter()
            .filter(|(id, s)| d100.get(*id) != Some(s))
            .count();
        assert!(
            changed > 0 && changed < t.people.len() / 20,
            "{changed} changed in a day"
        );
    }

    fn phone_only_row(r: &UserRegistrationDetails) -> bool {
        let has = |m: &str| {
            r.methods_registered
                .iter()
                .any(|x| x.eq_ignore_ascii_case(m))
        };
        (has("mobilePhone") || has("officePhone"))
            && !r.methods_registered.iter().any(|m| {
                let m = m.to_ascii_lowercase();
                m.contains("authenticator") || m.contains("passcode") || m.contains("passkey")
            })
    }

    #[test]
    fn external_users_and_internal_guests_in_small_tenants() {
        for seed in [42, 7] {
            for size in [50, 60, 100, 200] {
                let start = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
                let t = Tenant::generate(seed, size, 60, start);
                let dir = t.directory(0);
                let report: HashMap<String, UserRegistrationDetails> =
                    t.report(0).into_iter().map(|r| (r.id.clone(), r)).collect();
                fn kind(u: &DirectoryUser) -> (Option<&str>, bool, Option<&str>, Option<&str>) {
                    (
                        u.user_type.as_deref(),
                        u.user_principal_name
                            .as_deref()
                            .is_some_and(|n| n.contains("#EXT#")),
                        u.external_user_state.as_deref(),
                        u.creation_type.as_deref(),
                    )
                }
                let phone_only = |u: &DirectoryUser| report.get(&u.id).is_some_and(phone_only_row);
                let what = format!("seed {seed}, {size} people");
                assert!(
                    dir.iter().any(|u| kind(u)
                        == (Some("Guest"), true, Some("Accepted"), Some("Invitation"))
                        && phone_only(u)),
                    "a phone-only external guest: {what}"
                );
                // Invited during the story, or gone before its end: there on some days.
                assert!(
                    [0, 20, 40, 60]
                        .iter()
                        .any(|&day| t.directory(day).iter().any(|u| kind(u)
                            == (
                                Some("Guest"),
                                true,
                                Some("PendingAcceptance"),
                                Some("Invitation")
                            ))),
                    "a pending invitation: {what}"
                );
                assert!(
                    dir.iter()
                        .any(|u| kind(u) == (Some("Guest"), false, None, None)),
                    "an internal guest: {what}"
                );
                assert!(
                    dir.iter().any(|u| kind(u)
                        == (Some("Member"), true, Some("Accepted"), Some("Invitation"))
                        && phone_only(u)),
                    "a phone-only external member: {what}"
                );
                // Members made in the tenant have neither; the report agrees on who is who.
                assert!(
                    dir.iter()
                        .any(|u| kind(u) == (Some("Member"), false, None, None))
                );
                for u in &dir {
                    if let Some(r) = report.get(&u.id) {
                        assert_eq!(Some(&r.user_principal_name), u.user_principal_name.as_ref());
                        assert_eq!(
                            r.user_type.as_deref().map(str::to_owned),
                            u.user_type.as_deref().map(str::to_ascii_lowercase)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_passcode_app_beside_a_phone_and_global_administrators_are_admins() {
        let t = tenant();
        for day in [0, 365] {
            assert!(t.report(day).iter().any(|r| {
                let has = |m: &str| {
                    r.methods_registered
                        .iter()
                        .any(|x| x.eq_ignore_ascii_case(m))
                };
                has("softwareOneTimePasscode")
                    && has("mobilePhone")
                    && !has("microsoftAuthenticatorPush")
            }));
        }
        let k = super::super::policy::KeyDays::new(t.days);
        for (i, p) in t.people.iter().enumerate() {
            let Some(how) = p.global_admin else { continue };
            assert!(p.steady() && !p.guest && !p.external, "{how:?}");
            let admin = |day| t.report_row(i, day).is_some_and(|r| r.is_admin);
            match how {
                GlobalAdmin::Granted if !p.admin => {
                    assert!(!admin(k.global_admin_granted - 1) && admin(k.global_admin_granted));
                }
                GlobalAdmin::Revoked if !p.admin => {
                    assert!(admin(k.global_admin_revoked - 1) && !admin(k.global_admin_revoked));
                }
                _ => assert!(admin(0) && admin(365)),
            }
        }
        let phone_only_admins = t
            .people
            .iter()
            .filter(|p| p.global_admin.is_some() && p.phone_only_throughout())
            .count();
        assert!(phone_only_admins >= 2, "{phone_only_admins}");
    }
}
