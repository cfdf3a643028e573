//! Versions (`X.Y.Z`, each a non-negative 32-bit integer without leading zeros).

use std::fmt;

use crate::json::{self, Codec, DecodeError, Value};

/// A registry version. Ordered by (major, minor, patch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

/// Upstream stores each place as a 32-bit signed int.
const MAX_PLACE: u32 = i32::MAX as u32;

impl Version {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Version { major, minor, patch }
    }

    pub fn parse(input: &str) -> Result<Self, String> {
        let parts: Vec<&str> = input.split('.').collect();
        if parts.len() != 3 {
            return Err(format!(
                "Expected a version of the form X.Y.Z with exactly three places, but received '{input}'"
            ));
        }
        let mut places = [0u32; 3];
        for (slot, part) in places.iter_mut().zip(&parts) {
            *slot = parse_place(part).map_err(|why| format!("Invalid version '{input}': {why}"))?;
        }
        Ok(Version::new(places[0], places[1], places[2]))
    }

    pub fn bump_major(self) -> Self {
        Version::new(self.major + 1, 0, 0)
    }

    pub fn bump_minor(self) -> Self {
        Version::new(self.major, self.minor + 1, 0)
    }

    pub fn bump_patch(self) -> Self {
        Version::new(self.major, self.minor, self.patch + 1)
    }

    /// Bumps the first non-zero place: 1.x → major, 0.y → minor, 0.0.z → patch.
    pub fn bump_highest(self) -> Self {
        if self.major > 0 {
            self.bump_major()
        } else if self.minor > 0 {
            self.bump_minor()
        } else {
            self.bump_patch()
        }
    }
}

fn parse_place(part: &str) -> Result<u32, &'static str> {
    if part.is_empty() {
        return Err("a place is empty");
    }
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err("places may contain only the digits 0-9");
    }
    if part.len() > 1 && part.starts_with('0') {
        return Err("places may not have leading zeros");
    }
    match part.parse::<u64>() {
        Ok(n) if n <= MAX_PLACE as u64 => Ok(n as u32),
        _ => Err("places must fit in a 32-bit signed integer"),
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl std::str::FromStr for Version {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl Codec for Version {
    fn encode(&self) -> Value {
        Value::String(self.to_string())
    }
    fn decode(value: &Value) -> Result<Self, DecodeError> {
        json::parsed(value, Self::parse)
    }
}
