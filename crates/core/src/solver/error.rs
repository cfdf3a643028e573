//! Solver errors and their printed form (upstream's `printSolverError`, byte for byte).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write};

use super::bounds::{self, Local, Pos};
use super::engine::Failure;
use super::interned::InternedIndex;
use crate::name::PackageName;
use crate::version::Version;

/// Why the requirements cannot be solved.
///
/// Upstream returns a non-empty list of these, but its solver only ever produces
/// one, so this API returns that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SolverError {
    /// Requirements that no registry version satisfies, or whose bounds conflict.
    Conflicts(BTreeMap<PackageName, Intersection>),
    /// Every version of `package` that was tried failed, for the reason given per version.
    WhileSolving { package: PackageName, versions: BTreeMap<Version, SolverError> },
}

/// Bounds `>= lower.version` and `< upper.version`, each with its provenance. Empty
/// (a conflict) when `lower.version >= upper.version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intersection {
    pub lower: Sourced,
    pub upper: Sourced,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced {
    pub version: Version,
    pub position: SolverPosition,
}

/// Where a bound came from: locally, and which declared dependencies led there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolverPosition {
    pub local: LocalPosition,
    pub global: BTreeSet<PackageName>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalPosition {
    /// A dependency the caller declared.
    Root,
    /// The version the solver was trying while branching.
    Trial,
    /// Dependency ranges seen in these package versions.
    Solving(BTreeSet<PackageVersion>),
}

/// `package@version`; ordered by name, then version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PackageVersion {
    pub package: PackageName,
    pub version: Version,
}

impl fmt::Display for SolverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        print_at(&mut out, "", self);
        f.write_str(&out)
    }
}

impl std::error::Error for SolverError {}

impl fmt::Display for SolverPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.local {
            LocalPosition::Root => f.write_str(" (declared dependency)"),
            LocalPosition::Trial => f.write_str(" (attempted version)"),
            LocalPosition::Solving(seen) => {
                let seen_list: Vec<String> =
                    seen.iter().map(|pv| format!("{}@{}", pv.package, pv.version)).collect();
                write!(f, " seen in {}", seen_list.join(", "))?;
                let seen_names: BTreeSet<&PackageName> = seen.iter().map(|pv| &pv.package).collect();
                let roots: Vec<&str> = self
                    .global
                    .iter()
                    .filter(|name| !seen_names.contains(name))
                    .map(|n| n.as_str())
                    .collect();
                if !roots.is_empty() {
                    write!(f, " from declared dependencies {}", roots.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Sourced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.version, self.position)
    }
}

fn print_at(out: &mut String, indent: &str, error: &SolverError) {
    match error {
        SolverError::Conflicts(conflicts) => {
            for (i, (package, range)) in conflicts.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                    out.push_str(indent);
                }
                let headline = if range.lower.version >= range.upper.version {
                    format!("Conflict in version ranges for {package}:")
                } else {
                    format!("No versions found in the registry for {package} in range")
                };
                let _ = write!(out, "{headline}\n{indent}  >={}\n{indent}  <{}", range.lower, range.upper);
            }
        }
        SolverError::WhileSolving { package, versions } => {
            let _ = write!(out, "While solving {package} each version could not be solved:");
            let nested_indent = format!("{indent}  ");
            for (version, nested) in versions {
                let _ = write!(out, "\n{indent}- {version}: \n{nested_indent}");
                print_at(out, &nested_indent, nested);
            }
        }
    }
}

/// Names the ids of an engine failure.
pub(crate) fn from_failure(index: &InternedIndex, failure: &Failure<Pos>) -> SolverError {
    match failure {
        Failure::Conflicts(conflicts) => SolverError::Conflicts(
            conflicts
                .iter()
                .map(|(id, bounds)| (index.name(*id).clone(), intersection(index, bounds)))
                .collect(),
        ),
        Failure::WhileSolving(id, versions) => SolverError::WhileSolving {
            package: index.name(*id).clone(),
            versions: versions.iter().map(|(v, nested)| (*v, from_failure(index, nested))).collect(),
        },
    }
}

pub(crate) fn intersection(index: &InternedIndex, bounds: &bounds::Bounds<Pos>) -> Intersection {
    let sourced =
        |s: &bounds::Sourced<Pos>| Sourced { version: s.version, position: position(index, &s.pos) };
    Intersection { lower: sourced(&bounds.lower), upper: sourced(&bounds.upper) }
}

fn position(index: &InternedIndex, pos: &Pos) -> SolverPosition {
    let local = match &pos.local {
        Local::Root => LocalPosition::Root,
        Local::Trial => LocalPosition::Trial,
        Local::Solving(seen) => LocalPosition::Solving(
            seen.iter()
                .map(|(id, version)| PackageVersion { package: index.name(*id).clone(), version: *version })
                .collect(),
        ),
    };
    SolverPosition { local, global: pos.global.iter().map(|id| index.name(*id).clone()).collect() }
}
