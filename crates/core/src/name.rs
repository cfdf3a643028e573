//! Package names (`PackageName`): lower-case ASCII words joined by single dashes.

use std::fmt;

use crate::json::{self, Codec, DecodeError, Value};

/// A registry package name. Ordering is plain string ordering, as upstream.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageName(String);

const MAX_LENGTH: usize = 150;
const BLESSED_PREFIXED: &[&str] = &["purescript-compiler-backend-utilities"];

const END_ERR: &str = "Package name should end with a lower case char or digit";
const CHAR_ERR: &str = "Package name can contain lower case chars, digits and non-consecutive dashes";
const START_ERR: &str = "Package name should start with a lower case char or a digit";
const PREFIX_ERR: &str = "Package names should not begin with 'purescript-'";
const DASHES_ERR: &str = "Package names cannot contain consecutive dashes";

fn is_name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

impl PackageName {
    /// Parses a name, failing with upstream's exact error messages.
    ///
    /// The checks run in the order of upstream's parser, so the first problem found
    /// is the one reported (e.g. a non-BMP character right after a dash surfaces as
    /// `Expected EOF`, because upstream's one-character look-ahead cannot read it).
    pub fn parse(input: &str) -> Result<Self, String> {
        if input.starts_with("purescript-") && !BLESSED_PREFIXED.contains(&input) {
            return Err(PREFIX_ERR.into());
        }
        let chars: Vec<char> = input.chars().collect();
        let mut i = 0;
        let take_chunk = |i: &mut usize| {
            let start = *i;
            while *i < chars.len() && is_name_char(chars[*i]) {
                *i += 1;
            }
            *i > start
        };
        if !take_chunk(&mut i) {
            return Err(START_ERR.into());
        }
        while i < chars.len() {
            if chars[i] != '-' {
                return Err(CHAR_ERR.into());
            }
            i += 1;
            match chars.get(i) {
                None => return Err(END_ERR.into()),
                Some('-') => return Err(DASHES_ERR.into()),
                Some(c) if (*c as u32) > 0xFFFF => return Err("Expected EOF".into()),
                Some(_) => {}
            }
            if !take_chunk(&mut i) {
                return Err(END_ERR.into());
            }
        }
        if input.len() > MAX_LENGTH {
            return Err("Package name cannot be longer than 150 characters".into());
        }
        Ok(PackageName(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `purescript-numbers` → `numbers`; other strings unchanged.
    pub fn strip_purescript_prefix(raw: &str) -> &str {
        raw.strip_prefix("purescript-").unwrap_or(raw)
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for PackageName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl Codec for PackageName {
    fn encode(&self) -> Value {
        Value::String(self.0.clone())
    }
    fn decode(value: &Value) -> Result<Self, DecodeError> {
        json::parsed(value, Self::parse)
    }
}

impl std::borrow::Borrow<str> for PackageName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dash_followed_by_uppercase_reports_end_error() {
        assert_eq!(PackageName::parse("a-B").unwrap_err(), END_ERR);
    }
}
