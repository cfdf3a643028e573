//! Ranges (`>=A <B`, lower bound inclusive, upper bound exclusive, A < B).

use std::fmt;

use crate::json::{self, Codec, DecodeError, Value};
use crate::version::Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Range {
    lower: Version,
    upper: Version,
}

impl Range {
    /// A range `[lower, upper)`; `None` unless `lower < upper`.
    pub fn new(lower: Version, upper: Version) -> Option<Self> {
        (lower < upper).then_some(Range { lower, upper })
    }

    pub fn lower(&self) -> Version {
        self.lower
    }

    pub fn upper(&self) -> Version {
        self.upper
    }

    pub fn parse(input: &str) -> Result<Self, String> {
        let rest = input.strip_prefix(">=").ok_or("Ranges must begin with >=")?;
        let (lhs, rhs) = rest.split_once(' ').ok_or("Ranges must end with <")?;
        let lower = Version::parse(lhs)?;
        let rhs = rhs.strip_prefix('<').ok_or("Ranges must end with <")?;
        let upper = Version::parse(rhs)?;
        Range::new(lower, upper).ok_or_else(|| {
            format!("Left-hand version ({lower}) must be less than right-hand version ({upper})")
        })
    }

    pub fn includes(&self, version: Version) -> bool {
        self.lower <= version && version < self.upper
    }

    /// `>=v <v+patch`: exactly one version.
    pub fn exact(version: Version) -> Self {
        Range { lower: version, upper: version.bump_patch() }
    }

    /// `>=v <bumpHighest(v)`.
    pub fn caret(version: Version) -> Self {
        Range { lower: version, upper: version.bump_highest() }
    }

    /// The versions in both ranges, if any.
    pub fn intersect(&self, other: &Range) -> Option<Range> {
        Range::new(self.lower.max(other.lower), self.upper.min(other.upper))
    }

    /// The smallest range containing both.
    pub fn union(&self, other: &Range) -> Range {
        Range { lower: self.lower.min(other.lower), upper: self.upper.max(other.upper) }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ">={} <{}", self.lower, self.upper)
    }
}

impl std::str::FromStr for Range {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl Codec for Range {
    fn encode(&self) -> Value {
        Value::String(self.to_string())
    }
    fn decode(value: &Value) -> Result<Self, DecodeError> {
        json::parsed(value, Self::parse)
    }
}
