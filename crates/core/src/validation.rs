//! Checks run on a package before it is published or unpublished (upstream
//! `Registry.Operation.Validation` and a few helpers of `App.API`).

use std::collections::BTreeMap;

use crate::json::{Map, Value};
use crate::manifest::Manifest;
use crate::metadata::{Metadata, PublishedMetadata};
use crate::name::PackageName;
use crate::range::Range;
use crate::time::Timestamp;
use crate::version::Version;

/// Module names libraries may not publish: they are too common in applications.
pub const FORBIDDEN_MODULES: &[&str] = &["Main", "Test.Main"];

/// Checks a PureScript source file's module header: it must parse, and the module
/// must not have a forbidden name. Only the header is read (comments before it are
/// skipped; nothing after `where` matters).
pub fn validate_purs_module(source: &str) -> Result<(), String> {
    let name = module_name(source).map_err(|e| format!("Failed to parse PureScript module: {e}"))?;
    if FORBIDDEN_MODULES.contains(&name.as_str()) {
        return Err(format!(
            "Module name is {name} but PureScript libraries cannot publish modules named: {}",
            FORBIDDEN_MODULES.join(", ")
        ));
    }
    Ok(())
}

/// Checks several modules, given as `(path, contents or read error)`, and reports
/// every failure at once in upstream's format (`\n  - <path>: <error>` each).
pub fn validate_purs_modules<'a>(
    files: impl IntoIterator<Item = (&'a str, Result<&'a str, String>)>,
) -> Result<(), String> {
    let mut report = String::new();
    for (path, contents) in files {
        let outcome = contents
            .map_err(|e| format!("Could not read PureScript module from disk at path {path}: {e}"))
            .and_then(validate_purs_module);
        if let Err(e) = outcome {
            report.push_str(&format!("\n  - {path}: {e}"));
        }
    }
    if report.is_empty() { Ok(()) } else { Err(report) }
}

/// The name in `module A.B (exports) where`, after any whitespace and comments.
fn module_name(source: &str) -> Result<String, String> {
    let mut header = Header { rest: source };
    header.skip_trivia()?;
    header.keyword("module")?;
    header.skip_trivia()?;
    let name = header.qualified_proper_name()?;
    header.skip_trivia()?;
    if header.rest.starts_with('(') {
        header.balanced_parens()?;
        header.skip_trivia()?;
    }
    header.keyword("where")?;
    Ok(name)
}

struct Header<'a> {
    rest: &'a str,
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '\''
}

impl Header<'_> {
    fn unexpected(&self, wanted: &str) -> String {
        match self.rest.split_whitespace().next() {
            Some(token) => {
                format!("Expected {wanted}, found '{}'", token.chars().take(40).collect::<String>())
            }
            None => format!("Expected {wanted}, found the end of the file"),
        }
    }

    /// Whitespace, `-- line` comments and `{- block -}` comments (not nested, as in
    /// PureScript).
    fn skip_trivia(&mut self) -> Result<(), String> {
        loop {
            let trimmed = self.rest.trim_start();
            if let Some(comment) = trimmed.strip_prefix("--") {
                self.rest = comment.find('\n').map_or("", |i| &comment[i..]);
            } else if let Some(comment) = trimmed.strip_prefix("{-") {
                let end = comment.find("-}").ok_or("Unterminated block comment")?;
                self.rest = &comment[end + 2..];
            } else {
                self.rest = trimmed;
                return Ok(());
            }
        }
    }

    fn keyword(&mut self, word: &str) -> Result<(), String> {
        match self.rest.strip_prefix(word) {
            Some(after) if !after.starts_with(is_ident_char) => {
                self.rest = after;
                Ok(())
            }
            _ => Err(self.unexpected(&format!("'{word}'"))),
        }
    }

    /// `Proper(.Proper)*` with no spaces around the dots.
    fn qualified_proper_name(&mut self) -> Result<String, String> {
        let mut segments = Vec::new();
        loop {
            let first = self.rest.chars().next().filter(|c| c.is_uppercase());
            if first.is_none() {
                return Err(self.unexpected("a module name (capitalised words separated by dots)"));
            }
            let end = self.rest.find(|c: char| !is_ident_char(c)).unwrap_or(self.rest.len());
            segments.push(&self.rest[..end]);
            self.rest = &self.rest[end..];
            match self.rest.strip_prefix('.') {
                Some(after) if after.starts_with(char::is_uppercase) => self.rest = after,
                _ => return Ok(segments.join(".")),
            }
        }
    }

    fn balanced_parens(&mut self) -> Result<(), String> {
        let mut depth = 0usize;
        for (i, c) in self.rest.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        self.rest = &self.rest[i + 1..];
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
        Err("Unterminated export list".into())
    }
}

/// Why a version cannot be unpublished.
#[derive(Debug, Clone, PartialEq)]
pub enum UnpublishError {
    NotPublished,
    AlreadyUnpublished,
    /// Listed as both published and unpublished, which should be impossible.
    InternalError,
    PastTimeLimit {
        limit_hours: f64,
        difference_hours: f64,
    },
}

/// Versions can be unpublished for this long after publication.
pub const UNPUBLISH_LIMIT_HOURS: f64 = 48.0;
const MS_PER_HOUR: f64 = 3_600_000.0;

impl UnpublishError {
    /// The message upstream shows, for `package` printed as `name@version`.
    pub fn message(&self, package: &str) -> String {
        match self {
            UnpublishError::NotPublished => {
                format!("Cannot unpublish {package} because this version has not been published.")
            }
            UnpublishError::AlreadyUnpublished => {
                format!("Cannot unpublish {package} because it has already been unpublished.")
            }
            UnpublishError::InternalError => format!("Cannot unpublish {package} due to an internal error."),
            UnpublishError::PastTimeLimit { limit_hours, difference_hours } => format!(
                "Cannot unpublish {package} because it was published {difference_hours} hours ago. \
                 Packages can only be unpublished for {limit_hours} hours after publication."
            ),
        }
    }
}

/// A version may be unpublished when it is published, not unpublished, and at most
/// 48 hours old at `now`; the published record is returned.
pub fn validate_unpublish(
    now: Timestamp,
    version: Version,
    metadata: &Metadata,
) -> Result<PublishedMetadata, UnpublishError> {
    match (metadata.published.get(&version), metadata.unpublished.contains_key(&version)) {
        (None, false) => Err(UnpublishError::NotPublished),
        (None, true) => Err(UnpublishError::AlreadyUnpublished),
        (Some(_), true) => Err(UnpublishError::InternalError),
        (Some(published), false) => {
            let difference_hours =
                (now.unix_millis() - published.published_time.unix_millis()) as f64 / MS_PER_HOUR;
            if difference_hours > UNPUBLISH_LIMIT_HOURS {
                Err(UnpublishError::PastTimeLimit { limit_hours: UNPUBLISH_LIMIT_HOURS, difference_hours })
            } else {
                Ok(published.clone())
            }
        }
    }
}

/// A manifest dependency that a build plan does not satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnresolvedDependency {
    /// Not in the plan at all.
    Missing { name: PackageName, range: Range },
    /// In the plan at a version outside the manifest's range.
    OutOfRange { name: PackageName, range: Range, version: Version },
}

/// The manifest's direct dependencies that `resolutions` leaves unsatisfied, in
/// name order. Extra entries in the plan are fine.
pub fn get_unresolved_dependencies(
    manifest: &Manifest,
    resolutions: &BTreeMap<PackageName, Version>,
) -> Vec<UnresolvedDependency> {
    manifest
        .dependencies
        .iter()
        .filter_map(|(name, range)| match resolutions.get(name) {
            None => Some(UnresolvedDependency::Missing { name: name.clone(), range: *range }),
            Some(version) if !range.includes(*version) => Some(UnresolvedDependency::OutOfRange {
                name: name.clone(),
                range: *range,
                version: *version,
            }),
            Some(_) => None,
        })
        .collect()
}

/// The resolutions file given to `purs publish --resolutions`: for each package,
/// keyed by its Bower name (`purescript-<name>`, as Pursuit expects), the version
/// and the directory it is installed in (`<installed_dir>/<name>-<version>`).
pub fn format_pursuit_resolutions(
    resolutions: &BTreeMap<PackageName, Version>,
    installed_dir: &str,
) -> Value {
    let dir = installed_dir.trim_end_matches('/');
    let entries = resolutions
        .iter()
        .map(|(name, version)| {
            let package_dir = format!("{name}-{version}");
            let path = if dir.is_empty() && !installed_dir.starts_with('/') {
                package_dir
            } else {
                format!("{dir}/{package_dir}")
            };
            let mut entry = Map::new();
            entry.insert("path".into(), Value::String(path));
            entry.insert("version".into(), Value::String(version.to_string()));
            (format!("purescript-{name}"), Value::Object(entry))
        })
        .collect();
    Value::Object(entries)
}

/// Tarballs above this many bytes are refused.
pub const MAX_PACKAGE_BYTES: u64 = 2_000_000;
/// Tarballs above this many bytes are published with a warning.
pub const WARN_PACKAGE_BYTES: u64 = 200_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TarballSize {
    Acceptable,
    /// Over [`WARN_PACKAGE_BYTES`]: flag for review.
    Warn,
    /// Over [`MAX_PACKAGE_BYTES`]: refuse.
    ExceedsMaximum,
}

pub fn validate_tarball_size(bytes: u64) -> TarballSize {
    if bytes > MAX_PACKAGE_BYTES {
        TarballSize::ExceedsMaximum
    } else if bytes > WARN_PACKAGE_BYTES {
        TarballSize::Warn
    } else {
        TarballSize::Acceptable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_with_exports_and_comments_parse() {
        assert_eq!(
            module_name(
                "-- | Docs\n{- x -}\nmodule Data.Foo'.Bar_ (class C, (+), type (~>)) where\nimport X"
            )
            .unwrap(),
            "Data.Foo'.Bar_"
        );
        assert_eq!(module_name("module Main where").unwrap(), "Main");
        assert_eq!(module_name("module Main(main)where").unwrap(), "Main");
    }

    #[test]
    fn malformed_headers_are_parse_errors() {
        for bad in [
            "",
            "import Prelude",
            "module main where",
            "module Foo",
            "module Foo (bar where",
            "{- open",
            "modules Foo where",
            "module Foo . Bar where",
        ] {
            let err = validate_purs_module(bad).unwrap_err();
            assert!(err.starts_with("Failed to parse PureScript module: "), "{bad:?}: {err}");
        }
    }

    #[test]
    fn module_reports_list_every_failing_file() {
        let files = [
            ("a.purs", Ok("module Main where")),
            ("b.purs", Ok("module B where")),
            ("c.purs", Err("gone".to_owned())),
        ];
        assert_eq!(
            validate_purs_modules(files).unwrap_err(),
            "\n  - a.purs: Module name is Main but PureScript libraries cannot publish modules named: Main, Test.Main\n  - c.purs: Could not read PureScript module from disk at path c.purs: gone"
        );
    }

    #[test]
    fn tarball_size_thresholds_are_exclusive() {
        assert_eq!(validate_tarball_size(200_000), TarballSize::Acceptable);
        assert_eq!(validate_tarball_size(200_001), TarballSize::Warn);
        assert_eq!(validate_tarball_size(2_000_001), TarballSize::ExceedsMaximum);
    }

    #[test]
    fn unpublish_messages_print_hours_like_javascript() {
        let late = UnpublishError::PastTimeLimit { limit_hours: 48.0, difference_hours: 49.5 };
        assert_eq!(
            late.message("foo@1.0.0"),
            "Cannot unpublish foo@1.0.0 because it was published 49.5 hours ago. Packages can only be unpublished for 48 hours after publication."
        );
    }
}
