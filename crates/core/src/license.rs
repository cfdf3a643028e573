//! SPDX licence expressions (`License`).
//!
//! Placeholder interface: the text is kept verbatim until the SPDX parser lands.
//! The interface (`parse`, `parse_canonical`, `Display`) is what the rest of the
//! crate relies on.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct License(String);

impl License {
    /// Lenient parse for stored data: deprecated identifiers are canonicalised.
    pub fn parse(input: &str) -> Result<Self, String> {
        if input.trim().is_empty() {
            return Err("License expression is empty".into());
        }
        Ok(License(input.to_owned()))
    }

    /// Strict parse for authored input: every identifier must be current and canonical.
    pub fn parse_canonical(input: &str) -> Result<Self, String> {
        Self::parse(input)
    }
}

impl fmt::Display for License {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
