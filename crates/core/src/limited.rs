//! Strings with a maximum length counted in Unicode code points.

use std::fmt;

/// A string of at most `N` code points (upstream `LimitedString`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LimitedString<const N: usize>(String);

impl<const N: usize> LimitedString<N> {
    pub fn parse(input: &str) -> Result<Self, String> {
        if input.chars().count() > N {
            return Err(format!("LimitedString: Exceeds limit of {N} characters."));
        }
        Ok(LimitedString(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const N: usize> fmt::Display for LimitedString<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Manifest descriptions.
pub type Description = LimitedString<500>;
/// Unpublish reasons.
pub type UnpublishReason = LimitedString<300>;
