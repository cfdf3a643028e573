//! The pure rules of package-set updates: which candidates are acceptable, in
//! which order changes are tried, the new set's version and its commit message.

use std::collections::{BTreeMap, BTreeSet};

use crate::manifest_index::{IncludeRanges, ManifestIndex};
use crate::name::PackageName;
use crate::package_set::PackageSet;
use crate::version::Version;

pub mod daily;
pub use daily::{DailyCandidates, daily_candidates};

/// One change to a package set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Update(Version),
    Remove,
}

pub type ChangeSet = BTreeMap<PackageName, Change>;

/// `name@version`.
pub fn format_package_version(name: &PackageName, version: Version) -> String {
    format!("{name}@{version}")
}

/// The version of the set made from `old` by applying `applied` with `compiler`.
///
/// Major for a compiler minor bump, any removal or any major package bump; minor for
/// a compiler patch bump, a new package or a minor bump; patch for a patch bump.
pub fn compute_new_version(compiler: Version, old: &PackageSet, applied: &ChangeSet) -> Version {
    let updates: Vec<(&PackageName, Version)> = applied
        .iter()
        .filter_map(|(name, change)| match change {
            Change::Update(v) => Some((name, *v)),
            Change::Remove => None,
        })
        .collect();
    let bumped = |bump: fn(Version) -> Version, new_package: bool| {
        updates.iter().any(|(name, version)| match old.packages.get(*name) {
            Some(previous) => *version >= bump(*previous),
            None => new_package,
        })
    };
    if compiler.minor > old.compiler.minor
        || updates.len() < applied.len()
        || bumped(Version::bump_major, false)
    {
        old.version.bump_major()
    } else if compiler.patch > old.compiler.patch || bumped(Version::bump_minor, true) {
        old.version.bump_minor()
    } else if bumped(Version::bump_patch, false) {
        old.version.bump_patch()
    } else {
        old.version
    }
}

/// The commit message for releasing `new_version` made from `old` with `accepted`.
pub fn commit_message(old: &PackageSet, accepted: &ChangeSet, new_version: Version) -> String {
    let mut added = Vec::new();
    let mut updated = Vec::new();
    let mut removed = Vec::new();
    for (name, change) in accepted {
        match (change, old.packages.get(name)) {
            (Change::Update(v), None) => added.push(format!("  - {}", format_package_version(name, *v))),
            (Change::Update(v), Some(prev)) => {
                updated.push(format!("  - {} -> {v}", format_package_version(name, *prev)))
            }
            (Change::Remove, Some(prev)) => {
                removed.push(format!("  - {}", format_package_version(name, *prev)))
            }
            (Change::Remove, None) => {}
        }
    }
    let mut parts = vec![format!("Release {new_version} package set.\n")];
    for (title, lines) in
        [("New packages:", added), ("Updated packages:", updated), ("Removed packages:", removed)]
    {
        if !lines.is_empty() {
            parts.push(format!("{title}\n{}\n", lines.join("\n")));
        }
    }
    parts.join("\n")
}

/// Orders changes as upstream tries them one at a time: updates in dependency order
/// (over the whole index, ignoring ranges), then removals in reverse dependency order.
pub fn order_changes(
    index: &ManifestIndex,
    old: &PackageSet,
    changes: &ChangeSet,
) -> Vec<(PackageName, Change)> {
    let sorted = index.sorted(IncludeRanges::IgnoreRanges);
    let updates = sorted.iter().filter_map(|m| match changes.get(&m.name) {
        Some(Change::Update(v)) if *v == m.version => Some((m.name.clone(), Change::Update(*v))),
        _ => None,
    });
    let removals = sorted.iter().rev().filter_map(|m| match changes.get(&m.name) {
        Some(Change::Remove) if old.packages.get(&m.name) == Some(&m.version) => {
            Some((m.name.clone(), Change::Remove))
        }
        _ => None,
    });
    updates.chain(removals.collect::<Vec<_>>()).collect()
}

/// Directories of `packages/` (named `name@version`) that are not in `target`,
/// in the order given.
pub fn extraneous_package_dirs(target: &BTreeMap<PackageName, Version>, existing: &[String]) -> Vec<String> {
    let expected: BTreeSet<String> = target.iter().map(|(n, v)| format_package_version(n, *v)).collect();
    existing.iter().filter(|dir| !expected.contains(*dir)).cloned().collect()
}

/// Why a package set is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidPackageSet {
    /// Package versions with no manifest in the index.
    Unregistered(Vec<(PackageName, Version)>),
    /// Package versions with dependencies missing from the set.
    Unsatisfied(Vec<(PackageName, Version, Vec<PackageName>)>),
}

impl std::fmt::Display for InvalidPackageSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvalidPackageSet::Unregistered(missing) => {
                write!(f, "some package versions are not registered in the manifest index:")?;
                for (name, version) in missing {
                    write!(f, "\n  - {}", format_package_version(name, *version))?;
                }
                Ok(())
            }
            InvalidPackageSet::Unsatisfied(failures) => {
                write!(f, "some package versions have unsatisfied dependencies:")?;
                for (name, version, deps) in failures {
                    let deps: Vec<&str> = deps.iter().map(PackageName::as_str).collect();
                    write!(f, "\n  - {}({})", format_package_version(name, *version), deps.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

/// A set is valid when every package version has a manifest and the set is
/// self-contained by name (ranges are not considered).
pub fn validate_package_set(set: &PackageSet, index: &ManifestIndex) -> Result<(), InvalidPackageSet> {
    let mut manifests = Vec::new();
    let mut unregistered = Vec::new();
    for (name, version) in &set.packages {
        match index.lookup(name, *version) {
            Some(m) => manifests.push(m),
            None => unregistered.push((name.clone(), *version)),
        }
    }
    if !unregistered.is_empty() {
        return Err(InvalidPackageSet::Unregistered(unregistered));
    }
    let (failed, _) = crate::manifest_index::maximal_subset(IncludeRanges::IgnoreRanges, manifests);
    if failed.is_empty() {
        return Ok(());
    }
    let failures = failed
        .into_iter()
        .flat_map(|(name, versions)| {
            versions.into_iter().map(move |(v, deps)| (name.clone(), v, deps.into_keys().collect()))
        })
        .collect();
    Err(InvalidPackageSet::Unsatisfied(failures))
}

/// The outcome of candidate validation: `None` means removal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidatedCandidates {
    pub accepted: BTreeMap<PackageName, Option<Version>>,
    pub rejected: BTreeMap<PackageName, (String, Option<Version>)>,
}

/// Checks each requested change against the previous set and the index.
pub fn validate_candidates(
    index: &ManifestIndex,
    previous: &PackageSet,
    candidates: &BTreeMap<PackageName, Option<Version>>,
) -> ValidatedCandidates {
    let mut out = ValidatedCandidates::default();
    let previous_packages = &previous.packages;
    let dependency_exists = |dep: &PackageName| match candidates.get(dep) {
        None => previous_packages.contains_key(dep),
        Some(None) => false,
        Some(Some(_)) => true,
    };
    let validate_update = |name: &PackageName, version: Version| -> Result<(), String> {
        match previous_packages.get(name) {
            Some(v) if *v == version => return Err("This version already exists in the package set.".into()),
            Some(v) if *v > version => {
                return Err(format!("A higher version already exists in the package set: {v}"));
            }
            _ => {}
        }
        let manifest =
            index.lookup(name, version).ok_or("No manifest entry exists in the registry index.")?;
        let missing: Vec<&str> =
            manifest.dependencies.keys().filter(|d| !dependency_exists(d)).map(PackageName::as_str).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("Missing dependencies ({})", missing.join(", ")))
        }
    };
    let mut updated_packages = previous_packages.clone();
    let removals: BTreeSet<&PackageName> =
        candidates.iter().filter(|(_, v)| v.is_none()).map(|(n, _)| n).collect();
    for (name, version) in candidates.iter().filter_map(|(n, v)| v.map(|v| (n, v))) {
        match validate_update(name, version) {
            Ok(()) => {
                out.accepted.insert(name.clone(), Some(version));
                updated_packages.insert(name.clone(), version);
            }
            Err(reason) => {
                out.rejected.insert(name.clone(), (reason, Some(version)));
            }
        }
    }
    for name in &removals {
        let blocking: Vec<String> = updated_packages
            .iter()
            .filter(|(other, _)| other != name && !removals.contains(other))
            .filter(|(other, v)| index.lookup(other, **v).is_some_and(|m| m.dependencies.contains_key(*name)))
            .map(|(other, v)| format_package_version(other, *v))
            .collect();
        if blocking.is_empty() {
            out.accepted.insert((*name).clone(), None);
        } else {
            let reason = format!("Has dependents that aren't also being removed ({})", blocking.join(", "));
            out.rejected.insert((*name).clone(), (reason, None));
        }
    }
    out
}

/// Upstream's text listing rejected candidates.
pub fn print_rejections(rejected: &BTreeMap<PackageName, (String, Option<Version>)>) -> String {
    let removals: Vec<String> = rejected
        .iter()
        .filter(|(_, (_, v))| v.is_none())
        .map(|(name, (reason, _))| format!("\n  - {name}: {reason}"))
        .collect();
    let updates: Vec<String> = rejected
        .iter()
        .filter_map(|(name, (reason, v))| {
            v.map(|v| format!("\n  - {}: {reason}", format_package_version(name, v)))
        })
        .collect();
    let mut out = String::new();
    if !removals.is_empty() {
        out.push_str("Cannot be removed:");
        out.extend(removals);
    }
    if !updates.is_empty() {
        out.push_str("Cannot be added or updated:");
        out.extend(updates);
    }
    out
}
