//! The manifest index (the `registry-index` repository): every manifest of every
//! published version, one JSON Lines file per package.
//!
//! Invariant: with `ConsiderRanges`, every dependency range of every manifest in a
//! `ManifestIndex` is satisfied by some version in the index. `insert` and `delete`
//! refuse to break it.

use std::collections::{BTreeMap, HashMap};

use crate::json::{self, Codec};
use crate::manifest::Manifest;
use crate::name::PackageName;
use crate::range::Range;
use crate::version::Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeRanges {
    /// A dependency is satisfied by a version inside its range.
    ConsiderRanges,
    /// A dependency is satisfied by any version of the package.
    IgnoreRanges,
}

/// Dependencies that could not be satisfied, by package and version.
pub type Unsatisfied = BTreeMap<PackageName, BTreeMap<Version, BTreeMap<PackageName, Range>>>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestIndex {
    packages: BTreeMap<PackageName, BTreeMap<Version, Manifest>>,
}

impl ManifestIndex {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn packages(&self) -> &BTreeMap<PackageName, BTreeMap<Version, Manifest>> {
        &self.packages
    }

    pub fn versions(&self, name: &PackageName) -> Option<&BTreeMap<Version, Manifest>> {
        self.packages.get(name)
    }

    pub fn lookup(&self, name: &PackageName, version: Version) -> Option<&Manifest> {
        self.packages.get(name)?.get(&version)
    }

    pub fn manifests(&self) -> impl Iterator<Item = &Manifest> {
        self.packages.values().flat_map(|versions| versions.values())
    }

    pub fn len(&self) -> usize {
        self.packages.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    /// Dependencies of `manifest` with no satisfying version in this index.
    fn unsatisfied(&self, mode: IncludeRanges, manifest: &Manifest) -> BTreeMap<PackageName, Range> {
        manifest
            .dependencies
            .iter()
            .filter(|(dep, range)| match (self.packages.get(*dep), mode) {
                (None, _) => true,
                (Some(_), IncludeRanges::IgnoreRanges) => false,
                (Some(versions), IncludeRanges::ConsiderRanges) => {
                    !versions.keys().any(|v| range.includes(*v))
                }
            })
            .map(|(dep, range)| (dep.clone(), *range))
            .collect()
    }

    /// Inserts (or replaces) a manifest, refusing one whose dependencies the index
    /// cannot satisfy.
    pub fn insert(
        &mut self,
        mode: IncludeRanges,
        manifest: Manifest,
    ) -> Result<(), BTreeMap<PackageName, Range>> {
        let unsatisfied = self.unsatisfied(mode, &manifest);
        if !unsatisfied.is_empty() {
            return Err(unsatisfied);
        }
        self.packages.entry(manifest.name.clone()).or_default().insert(manifest.version, manifest);
        Ok(())
    }

    /// Removes a version, refusing when a remaining manifest would be left with an
    /// unsatisfiable dependency.
    pub fn delete(
        &mut self,
        mode: IncludeRanges,
        name: &PackageName,
        version: Version,
    ) -> Result<(), Unsatisfied> {
        let Some(versions) = self.packages.get_mut(name) else { return Ok(()) };
        let Some(removed) = versions.remove(&version) else { return Ok(()) };
        if versions.is_empty() {
            self.packages.remove(name);
        }
        // Only manifests depending on `name` can lose satisfaction, so only they are checked.
        let mut broken = Unsatisfied::new();
        for manifest in self.manifests().filter(|m| m.dependencies.contains_key(name)) {
            let unsatisfied = self.unsatisfied(mode, manifest);
            if !unsatisfied.is_empty() {
                broken.entry(manifest.name.clone()).or_default().insert(manifest.version, unsatisfied);
            }
        }
        if broken.is_empty() {
            Ok(())
        } else {
            self.packages.entry(name.clone()).or_default().insert(version, removed);
            Err(broken)
        }
    }

    /// The largest index that can be built from `manifests`, and what had to be left out.
    pub fn maximal<'a>(
        mode: IncludeRanges,
        manifests: impl IntoIterator<Item = &'a Manifest>,
    ) -> (Unsatisfied, Self) {
        let (failed, accepted) = maximal_subset(mode, manifests);
        let mut index = ManifestIndex::new();
        for m in accepted {
            index.packages.entry(m.name.clone()).or_default().insert(m.version, m.clone());
        }
        (failed, index)
    }

    /// Builds an index from manifests, failing with every unsatisfied dependency.
    pub fn from_manifests<'a>(
        mode: IncludeRanges,
        manifests: impl IntoIterator<Item = &'a Manifest>,
    ) -> Result<Self, Unsatisfied> {
        let (failed, index) = Self::maximal(mode, manifests);
        if failed.is_empty() { Ok(index) } else { Err(failed) }
    }

    /// All manifests, dependencies before dependants.
    pub fn sorted(&self, mode: IncludeRanges) -> Vec<&Manifest> {
        topological_sort(mode, self.manifests())
    }

    /// Manifests whose range for `name` includes `version`, in topological order.
    pub fn dependants(&self, name: &PackageName, version: Version) -> Vec<&Manifest> {
        self.sorted(IncludeRanges::ConsiderRanges)
            .into_iter()
            .filter(|m| m.dependencies.get(name).is_some_and(|r| r.includes(version)))
            .collect()
    }
}

/// Inserts `manifests` one by one in topological order, as upstream builds an
/// index, returning what failed and what was accepted (without copying manifests).
pub fn maximal_subset<'a>(
    mode: IncludeRanges,
    manifests: impl IntoIterator<Item = &'a Manifest>,
) -> (Unsatisfied, Vec<&'a Manifest>) {
    let mut inserted: HashMap<&PackageName, Vec<Version>> = HashMap::new();
    let mut accepted = Vec::new();
    let mut failed = Unsatisfied::new();
    for manifest in topological_sort(mode, manifests) {
        let unsatisfied: BTreeMap<PackageName, Range> = manifest
            .dependencies
            .iter()
            .filter(|(dep, range)| match (inserted.get(*dep), mode) {
                (None, _) => true,
                (Some(_), IncludeRanges::IgnoreRanges) => false,
                (Some(versions), IncludeRanges::ConsiderRanges) => {
                    !versions.iter().any(|v| range.includes(*v))
                }
            })
            .map(|(dep, range)| (dep.clone(), *range))
            .collect();
        if unsatisfied.is_empty() {
            inserted.entry(&manifest.name).or_default().push(manifest.version);
            accepted.push(manifest);
        } else {
            failed.entry(manifest.name.clone()).or_default().insert(manifest.version, unsatisfied);
        }
    }
    (failed, accepted)
}

/// Orders manifests so each comes after every package version it may depend on.
///
/// Reproduces upstream's order exactly (it decides which of several candidate
/// versions wins in `maximal`): a depth-first walk from the smallest unvisited
/// name@version, visiting dependencies in name order and, within a package, newest
/// version first, emitting each manifest after its dependencies. Cycles are cut
/// where the walk meets a vertex already on its way.
pub fn topological_sort<'a>(
    mode: IncludeRanges,
    manifests: impl IntoIterator<Item = &'a Manifest>,
) -> Vec<&'a Manifest> {
    let mut sorted: Vec<&Manifest> = manifests.into_iter().collect();
    sorted.sort_by(|a, b| (&a.name, a.version).cmp(&(&b.name, b.version)));
    sorted.dedup_by(|a, b| a.name == b.name && a.version == b.version);
    // The versions of one package are contiguous in `sorted`.
    let mut spans: HashMap<&PackageName, (usize, usize)> = HashMap::new();
    for (i, m) in sorted.iter().enumerate() {
        spans.entry(&m.name).and_modify(|span| span.1 = i + 1).or_insert((i, i + 1));
    }
    let edges =
        |i: usize| -> Vec<usize> {
            let mut out = Vec::new();
            for (dep, range) in &sorted[i].dependencies {
                if let Some(&(start, end)) = spans.get(dep) {
                    out.extend((start..end).rev().filter(|&j| {
                        mode == IncludeRanges::IgnoreRanges || range.includes(sorted[j].version)
                    }));
                }
            }
            out
        };

    enum Step {
        Visit(usize),
        Emit(usize),
    }
    let mut visited = vec![false; sorted.len()];
    let mut order = Vec::with_capacity(sorted.len());
    for root in 0..sorted.len() {
        if visited[root] {
            continue;
        }
        let mut stack = vec![Step::Visit(root)];
        while let Some(step) = stack.pop() {
            match step {
                Step::Emit(i) => order.push(sorted[i]),
                Step::Visit(i) if !visited[i] => {
                    visited[i] = true;
                    stack.push(Step::Emit(i));
                    stack.extend(edges(i).into_iter().rev().map(Step::Visit));
                }
                Step::Visit(_) => {}
            }
        }
    }
    order
}

/// Path of a package's entry file: `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…`.
pub fn entry_path(name: &PackageName) -> String {
    let n = name.as_str();
    match n.len() {
        1 => format!("1/{n}"),
        2 => format!("2/{n}"),
        3 => format!("3/{}/{n}", &n[..1]),
        _ => format!("{}/{}/{n}", &n[..2], &n[2..4]),
    }
}

/// Parses an entry file: one manifest per line, surrounding whitespace ignored.
pub fn parse_entry(text: &str) -> Result<Vec<Manifest>, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("No entries exist.".into());
    }
    trimmed
        .split('\n')
        .enumerate()
        .map(|(i, line)| Manifest::from_json_str(line).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// Prints an entry file: compact manifests sorted by version, each ending in `\n`.
pub fn print_entry<'a>(manifests: impl IntoIterator<Item = &'a Manifest>) -> String {
    let mut sorted: Vec<&Manifest> = manifests.into_iter().collect();
    sorted.sort_by_key(|m| m.version);
    let mut out = String::new();
    for manifest in sorted {
        out.push_str(&json::print_compact(&manifest.encode()));
        out.push('\n');
    }
    out
}
