//! Query-string parameters, read so that every mistake is a 400 that says what is allowed.

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
            pairs.push((k.into_owned(), v.trim().to_owned()));
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
}
