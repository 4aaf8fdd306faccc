//! Query-string parameters, read so that every mistake is a 400 that says what is allowed.
//!
//! One rule for every text parameter of every route: no control characters (U+0000–U+001F,
//! U+007F–U+009F) in a name or a value, after the value is trimmed. PostgreSQL cannot store a
//! NUL in text at all, and no name, department or search text has a line break or a bell in
//! it; a tab or line break pasted at either end of a search is trimmed, not refused.

use super::AppError;
use std::str::FromStr;

/// The parameters of one request. Empty values count as absent, so an HTML form's blank
/// fields mean "any".
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Reads `raw`; a key outside `allowed`, or a key given twice, is a 400.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Params, AppError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if let Some(c) = k.chars().find(|c| c.is_control()) {
                return Err(AppError::BadRequest(format!(
                    "a parameter name contains the control character U+{:04X}; remove it",
                    u32::from(c)
                )));
            }
            if !allowed.contains(&k.as_ref()) {
                return Err(AppError::BadRequest(if allowed.is_empty() {
                    format!("unknown parameter {k:?}; this address takes no parameters")
                } else {
                    format!(
                        "unknown parameter {k:?}; this address takes {}",
                        allowed.join(", ")
                    )
                }));
            }
            if pairs.iter().any(|(seen, _)| *seen == k) {
                return Err(AppError::BadRequest(format!(
                    "parameter {k:?} is given more than once"
                )));
            }
            let v = v.trim();
            if let Some(c) = v.chars().find(|c| c.is_control()) {
                return Err(AppError::BadRequest(format!(
                    "{k} contains the control character U+{:04X}, which no value may hold; \
                     remove it",
                    u32::from(c)
                )));
            }
            pairs.push((k.into_owned(), v.to_owned()));
        }
        Ok(Params(pairs))
    }

    /// The value of `key`, trimmed; `None` when absent or empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// A whole number in `range`, or `default` when absent.
    pub fn number<T>(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<T>,
        default: T,
    ) -> Result<T, AppError>
    where
        T: FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.parse::<T>() {
                Ok(n) if range.contains(&n) => Ok(n),
                _ => Err(AppError::BadRequest(format!(
                    "{key} must be a whole number from {} to {}, not {v:?}",
                    range.start(),
                    range.end()
                ))),
            },
        }
    }

    /// `true`/`false` (also `yes`/`no`, `1`/`0`), or `None` when absent.
    pub fn flag(&self, key: &str) -> Result<Option<bool>, AppError> {
        match self.get(key).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(None),
            Some("true" | "yes" | "1") => Ok(Some(true)),
            Some("false" | "no" | "0") => Ok(Some(false)),
            Some(_) => Err(AppError::BadRequest(format!(
                "{key} must be true or false, not {:?}",
                self.get(key).unwrap_or_default()
            ))),
        }
    }

    /// One of `choices`, or `None` when absent.
    pub fn choice<'c>(&self, key: &str, choices: &[&'c str]) -> Result<Option<&'c str>, AppError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => choices
                .iter()
                .find(|c| **c == v)
                .map(|c| Some(*c))
                .ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "{key} must be one of {}, not {v:?}",
                        choices.join(", ")
                    ))
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Params;

    #[test]
    fn unknown_repeated_and_malformed_parameters_are_refused() {
        assert!(Params::parse(Some("a=1&b=2"), &["a"]).is_err());
        assert!(Params::parse(Some("a=1&a=2"), &["a"]).is_err());
        let p = Params::parse(Some("a=%ZZ&b=+&c=%E2%9C%93"), &["a", "b", "c"]).expect("lenient");
        assert_eq!(p.get("a"), Some("%ZZ"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("✓"));
        assert!(p.number("a", 1..=5, 3).is_err());
        assert_eq!(p.number("z", 1..=5, 3).ok(), Some(3));
        assert!(p.flag("a").is_err());
        assert!(p.choice("c", &["x"]).is_err());
    }

    #[test]
    fn control_characters_are_refused_by_name_and_edges_trimmed() {
        for bad in [
            "q=a%00b",
            "q=%01",
            "q=a%0Ab",
            "q=a%7Fb",
            "q=a%C2%85b",
            "q%00=x",
        ] {
            let e = Params::parse(Some(bad), &["q"]).expect_err(bad).to_string();
            assert!(e.contains("control character U+00"), "{bad}: {e}");
        }
        let e = Params::parse(Some("q=ok&department=x%00"), &["q", "department"]).expect_err("NUL");
        assert!(e.to_string().starts_with("department "), "{e}");
        let p = Params::parse(Some("q=%09ann%0D%0A"), &["q"]).expect("trimmed");
        assert_eq!(p.get("q"), Some("ann"));
    }
}
