//! Lenient versions and ranges for legacy (Bower-era and spago.dhall) data.
//!
//! Old manifests wrote `v1.0.0`, `01.02.03`, `^1.2`, `1.0 - 2.0` and the like. Upstream
//! accepts them by normalising first and then parsing strictly; these parsers repeat
//! the same normalisation so the registry range derived from a given legacy string
//! is the one upstream derives.

use std::fmt;

use super::npm_semver::{js_trim, valid_range_loose};
use crate::range::Range;
use crate::version::Version;

/// A version parsed leniently, remembering the text it came from.
#[derive(Debug, Clone)]
pub struct LenientVersion {
    version: Version,
    raw: String,
}

/// Equal when the versions are equal, whatever their raw text (as upstream).
impl PartialEq for LenientVersion {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version
    }
}
impl Eq for LenientVersion {}

impl LenientVersion {
    /// Trims spaces, drops one `v` prefix and leading zeros of each place, then
    /// parses the result as a registry version. Prereleases and build metadata stay
    /// errors.
    pub fn parse(input: &str) -> Result<Self, String> {
        let version = Version::parse(&normalise_version(input))?;
        Ok(LenientVersion { version, raw: input.to_owned() })
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// The text the version was parsed from.
    pub fn raw(&self) -> &str {
        &self.raw
    }
}

/// Prints the normalised registry version.
impl fmt::Display for LenientVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.version.fmt(f)
    }
}

fn normalise_version(input: &str) -> String {
    let trimmed = js_trim(input);
    let unprefixed = trimmed.strip_prefix('v').unwrap_or(trimmed);
    unprefixed
        .split('.')
        .map(|place| purescript_int(place).map_or_else(|| place.to_owned(), |n| n.to_string()))
        .collect::<Vec<_>>()
        .join(".")
}

/// PureScript's `Int.fromString`: optional sign, decimal digits, 32-bit range.
fn purescript_int(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Leading zeros are fine here; only the value's range matters.
    let value: i64 = match digits.trim_start_matches('0') {
        "" => 0,
        significant if significant.len() > 10 => return None,
        significant => significant.parse().ok()?,
    };
    let value = if s.starts_with('-') { -value } else { value };
    i32::try_from(value).ok()
}

/// A range parsed leniently, remembering the text it came from.
#[derive(Debug, Clone)]
pub struct LenientRange {
    range: Range,
    raw: String,
}

impl PartialEq for LenientRange {
    fn eq(&self, other: &Self) -> bool {
        self.range == other.range
    }
}
impl Eq for LenientRange {}

impl LenientRange {
    /// Desugars npm/Bower range syntax, applies upstream's repairs (`>X`, `<=Y`,
    /// upper-only and exact ranges; prerelease and build tags dropped; an empty
    /// range after dropping them widened by one patch), then parses the result as
    /// a registry range. Unbounded ranges (`*`, `>=1.0.0`) stay errors.
    pub fn parse(input: &str) -> Result<Self, String> {
        let converted = convert_range(input);
        let rest = converted.strip_prefix(">=").ok_or("Ranges must begin with >=")?;
        let (lhs_text, rest) = rest
            .split_once(' ')
            .ok_or_else(|| format!("Expected a space after the lower bound in '{converted}'"))?;
        let lhs = lenient_version_prefix(lhs_text)?;
        let rhs_text = rest.strip_prefix('<').ok_or("Ranges must end with <")?;
        let rhs = lenient_version_prefix(rhs_text)?;
        // Dropping prerelease tags can turn `>=1.0.0-rc.1 <1.0.0-rc.5` into an empty
        // range; upstream widens it to the one version.
        let rhs = if lhs == rhs { rhs.bump_patch() } else { rhs };
        let range = Range::parse(&format!(">={lhs} <{rhs}"))?;
        Ok(LenientRange { range, raw: input.to_owned() })
    }

    pub fn range(&self) -> Range {
        self.range
    }

    /// The text the range was parsed from.
    pub fn raw(&self) -> &str {
        &self.raw
    }
}

/// Prints the registry range (`>=X.Y.Z <X.Y.Z`).
impl fmt::Display for LenientRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.range.fmt(f)
    }
}

/// The leading letters, digits and dots of `text`, parsed leniently: this is how
/// upstream cuts prerelease/build tags (`1.0.0-rc.1` → `1.0.0`) off range bounds.
fn lenient_version_prefix(text: &str) -> Result<Version, String> {
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '.')).unwrap_or(text.len());
    Ok(LenientVersion::parse(&text[..end])?.version)
}

/// npm's desugaring followed by upstream's fixes; the input unchanged if npm
/// rejects it.
fn convert_range(input: &str) -> String {
    match npm_range(input) {
        None => input.to_owned(),
        Some(desugared) => fix_exact_version(fix_upper_only(fix_lt_rhs(fix_gt_lhs(desugared)))),
    }
}

/// `validRange`, retrying on the part after `#` for Bower's `owner/repo#1.0.0` form.
fn npm_range(input: &str) -> Option<String> {
    valid_range_loose(input).or_else(|| match input.split('#').collect::<Vec<_>>()[..] {
        [_, version] => valid_range_loose(version),
        _ => None,
    })
}

/// `>X rest` → `>=X+patch rest`.
fn fix_gt_lhs(s: String) -> String {
    let attempt = || -> Option<String> {
        let rest = s.strip_prefix('>')?;
        if rest.starts_with('=') {
            return None;
        }
        let (lhs, suffix) = rest.split_once(' ')?;
        let lhs = lenient_version_prefix(lhs).ok()?;
        Some(format!(">={} {suffix}", lhs.bump_patch()))
    };
    attempt().unwrap_or(s)
}

/// `>=X <=Y` → `>=X <Y+patch`.
fn fix_lt_rhs(s: String) -> String {
    let attempt = || -> Option<String> {
        let (lhs, rest) = s.strip_prefix(">=")?.split_once(' ')?;
        let lhs = lenient_version_prefix(lhs).ok()?;
        let rhs = lenient_version_prefix(rest.strip_prefix("<=")?).ok()?;
        Some(format!(">={lhs} <{}", rhs.bump_patch()))
    };
    attempt().unwrap_or(s)
}

/// `<Y` → `>=0.0.0 <Y`; `<=Y` → `>=0.0.0 <Y+patch`.
fn fix_upper_only(s: String) -> String {
    let attempt = || -> Option<String> {
        let rest = s.strip_prefix('<')?;
        let (inclusive, rest) = match rest.strip_prefix('=') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let upper = lenient_version_prefix(rest).ok()?;
        Some(format!(">=0.0.0 <{}", if inclusive { upper.bump_patch() } else { upper }))
    };
    attempt().unwrap_or(s)
}

/// `X` → `>=X <X+patch`.
fn fix_exact_version(s: String) -> String {
    match LenientVersion::parse(&s) {
        Ok(v) => format!(">={} <{}", v.version, v.version.bump_patch()),
        Err(_) => s,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn version() -> impl Strategy<Value = Version> {
        let place = prop_oneof![0u32..20, 0u32..=i32::MAX as u32];
        (place.clone(), place.clone(), place).prop_map(|(a, b, c)| Version::new(a, b, c))
    }

    fn range() -> impl Strategy<Value = Range> {
        (version(), version()).prop_filter_map("needs lower < upper", |(a, b)| Range::new(a.min(b), a.max(b)))
    }

    proptest! {
        #[test]
        fn printing_a_parsed_version_gives_it_back(v in version()) {
            let printed = v.to_string();
            prop_assert_eq!(LenientVersion::parse(&printed).unwrap().to_string(), printed);
        }

        #[test]
        fn decorated_versions_normalise(v in version(), zeros in 0usize..3, prefix in prop::bool::ANY) {
            let pad = "0".repeat(zeros);
            let decorated = format!(
                " {}{pad}{}.{pad}{}.{pad}{}\t",
                if prefix { "v" } else { "" },
                v.major, v.minor, v.patch
            );
            let parsed = LenientVersion::parse(&decorated).unwrap();
            prop_assert_eq!(parsed.version(), v);
            prop_assert_eq!(parsed.raw(), decorated.as_str());
        }

        #[test]
        fn printing_a_parsed_range_gives_it_back(r in range()) {
            let printed = r.to_string();
            prop_assert_eq!(LenientRange::parse(&printed).unwrap().to_string(), printed);
        }

        #[test]
        fn npm_shorthands_match_registry_constructors(v in version()) {
            prop_assume!(v.patch < i32::MAX as u32 && v.minor < i32::MAX as u32 && v.major < i32::MAX as u32);
            prop_assert_eq!(LenientRange::parse(&format!("^{v}")).unwrap().range(), Range::caret(v));
            prop_assert_eq!(LenientRange::parse(&v.to_string()).unwrap().range(), Range::exact(v));
            let tilde = Range::new(v, Version::new(v.major, v.minor + 1, 0)).unwrap();
            prop_assert_eq!(LenientRange::parse(&format!("~{v}")).unwrap().range(), tilde);
        }
    }

    #[test]
    fn purescript_int_follows_int_from_string() {
        assert_eq!(purescript_int("007"), Some(7));
        assert_eq!(purescript_int("+5"), Some(5));
        assert_eq!(purescript_int("-0"), Some(0));
        assert_eq!(purescript_int("2147483647"), Some(i32::MAX));
        assert_eq!(purescript_int("2147483648"), None);
        assert_eq!(purescript_int("1a"), None);
        assert_eq!(purescript_int(""), None);
    }

    #[test]
    fn union_ranges_keep_their_first_alternative() {
        assert_eq!(LenientRange::parse("^1.0.0 || ^2.0.0").unwrap().to_string(), ">=1.0.0 <2.0.0");
    }

    #[test]
    fn bower_git_references_use_the_version_after_the_hash() {
        let parsed = LenientRange::parse("purescript/purescript-prelude#^3.1.0").unwrap();
        assert_eq!(parsed.to_string(), ">=3.1.0 <4.0.0");
        assert_eq!(parsed.raw(), "purescript/purescript-prelude#^3.1.0");
    }
}
