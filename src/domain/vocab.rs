//! The product's fixed words: each value phoneless stores as text and reads back is one enum,
//! spelled once here. Reading a spelling the code does not know is an error ([`UnknownWord`]),
//! never a quiet default. The database maps them as text (`db::words`).

use std::fmt;

/// A stored or given spelling that is not one of a word's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a known {what} (known: {known})")]
pub struct UnknownWord {
    /// What was being read ("migration state", "run status", …).
    pub what: &'static str,
    pub value: String,
    /// The spellings that are known, comma-separated.
    pub known: String,
}

/// An enum whose values are fixed spellings (stored, and in JSON).
pub trait Word: Sized + Copy + 'static {
    /// What a value of it is, in words, for errors.
    const WHAT: &'static str;
    /// Every value, in their natural order.
    const ALL: &'static [Self];
    /// The spelling of this value.
    fn as_str(self) -> &'static str;

    /// The value spelled exactly `s`.
    fn parse(s: &str) -> Result<Self, UnknownWord> {
        Self::ALL
            .iter()
            .copied()
            .find(|w| w.as_str() == s)
            .ok_or_else(|| UnknownWord {
                what: Self::WHAT,
                value: s.to_owned(),
                known: Self::ALL
                    .iter()
                    .map(|w| w.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// Declares a [`Word`] enum: its values and their spellings, once.
macro_rules! words {
    (
        $(#[$meta:meta])*
        pub enum $name:ident: $what:literal {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $crate::domain::vocab::Word for $name {
            const WHAT: &'static str = $what;
            const ALL: &'static [Self] = &[$($name::$variant,)+];
            fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl $name {
            /// Every value, in their natural order.
            pub const ALL: &'static [$name] = <$name as $crate::domain::vocab::Word>::ALL;

            /// The spelling of this value (stored and in JSON).
            pub fn as_str(self) -> &'static str {
                $crate::domain::vocab::Word::as_str(self)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::domain::vocab::UnknownWord;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$name as $crate::domain::vocab::Word>::parse(s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use words;

words! {
    /// A user's kind in the directory: members are in scope, guests are shown apart.
    pub enum UserType: "user type" {
        Member = "member",
        Guest = "guest",
        /// Neither (Graph sent something else, or nothing).
        Unknown = "unknown",
    }
}

impl UserType {
    /// Graph's `userType`, case-insensitively; anything else is [`UserType::Unknown`].
    pub fn from_graph(value: &str) -> UserType {
        if value.eq_ignore_ascii_case("member") {
            UserType::Member
        } else if value.eq_ignore_ascii_case("guest") {
            UserType::Guest
        } else {
            UserType::Unknown
        }
    }
}

words! {
    /// Where a sync run is (the JSON contract of `/api/v1/sync/runs`).
    pub enum RunStatus: "run status" {
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        /// Another syncer held the lock.
        Skipped = "skipped",
    }
}

words! {
    /// An optional part of a run: read when Graph allows, recorded either way.
    pub enum RunPart: "run part" {
        /// The authentication methods policy.
        MethodsPolicy = "methods_policy",
        /// The authentication strengths.
        Strengths = "strengths",
        /// Conditional Access policies that require MFA or a strength.
        ConditionalAccess = "conditional_access",
        /// The named groups and the exclusion groups' members.
        Memberships = "memberships",
        /// The directory audit log (who added or removed a member).
        Audit = "audit",
        /// Who holds the Global Administrator role (active, and eligible through PIM).
        Roles = "roles",
        /// The interactive sign-ins' MFA method use.
        SignIns = "sign_ins",
    }
}

impl RunPart {
    /// The part in words, for people.
    pub fn label(self) -> &'static str {
        match self {
            RunPart::MethodsPolicy => "Authentication methods policy",
            RunPart::Strengths => "Authentication strengths",
            RunPart::ConditionalAccess => "Conditional Access policies",
            RunPart::Memberships => "Exclusion group members",
            RunPart::Audit => "Directory audit log (who added whom)",
            RunPart::Roles => "Global Administrator role holders",
            RunPart::SignIns => "Sign-in log (who uses which method)",
        }
    }
}

words! {
    /// A kind of stored policy object.
    pub enum PolicyKind: "policy kind" {
        MethodsPolicy = "methods_policy",
        Strength = "strength",
        ConditionalAccess = "conditional_access",
    }
}

words! {
    /// A write to the tenant that `PHONELESS_ACTIONS` can switch on (docs/design.md §6a).
    pub enum Action: "action" {
        /// Issue a Temporary Access Pass from the person page.
        Tap = "tap",
        /// A time-boxed place in a watched exclusion group.
        Allowlist = "allowlist",
    }
}

words! {
    /// How counts are grouped: the whole tenant, or by a directory attribute.
    pub enum Dimension: "grouping" {
        Tenant = "tenant",
        Department = "department",
        Company = "company",
        Office = "office",
        Country = "country",
    }
}

impl Dimension {
    /// The groupings a table can be grouped by (all but the tenant).
    pub const GROUPS: [Dimension; 4] = [
        Dimension::Department,
        Dimension::Company,
        Dimension::Office,
        Dimension::Country,
    ];

    /// The column heading: "Department", …
    pub fn heading(self) -> &'static str {
        match self {
            Dimension::Tenant => "Tenant",
            Dimension::Department => "Department",
            Dimension::Company => "Company",
            Dimension::Office => "Office",
            Dimension::Country => "Country",
        }
    }

    /// The name shown for the group without one: "(no department)", …
    pub fn none_label(self) -> &'static str {
        match self {
            Dimension::Tenant => "(everyone)",
            Dimension::Department => "(no department)",
            Dimension::Company => "(no company)",
            Dimension::Office => "(no office)",
            Dimension::Country => "(no country)",
        }
    }
}

/// `Display` of a word list for messages: "a, b or c".
pub struct OneOf<W: Word>(pub &'static [W]);

impl<W: Word> fmt::Display for OneOf<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = self.0.iter().map(|w| w.as_str()).collect();
        match words.as_slice() {
            [] => Ok(()),
            [one] => f.write_str(one),
            [init @ .., last] => write!(f, "{} or {last}", init.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<W: Word + PartialEq + fmt::Debug>() {
        for w in W::ALL {
            assert_eq!(W::parse(w.as_str()), Ok(*w));
        }
        let e = W::parse("no such value").expect_err("unknown");
        assert_eq!(e.what, W::WHAT);
        assert!(e.to_string().contains("\"no such value\""), "{e}");
    }

    #[test]
    fn every_word_reads_back_and_unknown_spellings_are_errors() {
        round_trips::<UserType>();
        round_trips::<RunStatus>();
        round_trips::<RunPart>();
        round_trips::<PolicyKind>();
        round_trips::<Dimension>();
        round_trips::<crate::domain::classify::State>();
        round_trips::<crate::domain::PhoneReason>();
        round_trips::<crate::domain::ClearedBy>();
        // Exact spellings only: what is stored is what was written.
        assert!(RunStatus::parse("Failed").is_err());
    }

    #[test]
    fn serialised_as_spelled() {
        assert_eq!(
            serde_json::to_string(&RunStatus::Succeeded).ok().as_deref(),
            Some("\"succeeded\"")
        );
        assert_eq!(
            serde_json::to_string(&RunPart::ConditionalAccess)
                .ok()
                .as_deref(),
            Some("\"conditional_access\"")
        );
        assert_eq!(UserType::from_graph("Guest"), UserType::Guest);
        assert_eq!(UserType::from_graph(""), UserType::Unknown);
        assert_eq!(
            OneOf(&Dimension::GROUPS).to_string(),
            "department, company, office or country"
        );
    }
}
