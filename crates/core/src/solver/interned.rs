//! The dependency index with package names replaced by small integer ids.
//!
//! Ids are positions in the sorted list of every name the index mentions (as a
//! package or as a dependency), so id order is name order: the solver's
//! "alphabetically smallest package" and its sorted error maps stay correct without
//! comparing strings.

use std::collections::{BTreeMap, BTreeSet};

use super::DependencyIndex;
use super::bounds::Id;
use crate::name::PackageName;
use crate::range::Range;
use crate::version::Version;

/// Some packages and versions of a [`DependencyIndex`], borrowed from it: what a
/// single solve can reach, gathered without copying any dependency map.
pub(crate) type IndexPart<'a> =
    BTreeMap<&'a PackageName, BTreeMap<Version, &'a BTreeMap<PackageName, Range>>>;

#[derive(Debug, Clone)]
pub(crate) struct IndexedVersion {
    pub version: Version,
    /// Sorted by id.
    pub deps: Vec<(Id, Range)>,
}

#[derive(Debug, Clone)]
pub(crate) struct InternedIndex {
    names: Vec<PackageName>,
    /// Per id: its versions, ascending. Empty for names that are only ever
    /// depended upon.
    packages: Vec<Vec<IndexedVersion>>,
    /// Per id: whether the name is a key of the index (even with no versions).
    listed: Vec<bool>,
}

impl InternedIndex {
    /// Interns `index`, also giving ids to `extra` names (packages a caller may
    /// require that the index does not know).
    pub fn build<'a>(index: &'a DependencyIndex, extra: impl IntoIterator<Item = &'a PackageName>) -> Self {
        let borrowed: IndexPart<'a> = index
            .iter()
            .map(|(name, versions)| (name, versions.iter().map(|(version, deps)| (*version, deps)).collect()))
            .collect();
        InternedIndex::build_part(&borrowed, extra)
    }

    /// Interns a part of an index held by reference (see [`IndexPart`]).
    pub fn build_part<'a>(index: &IndexPart<'a>, extra: impl IntoIterator<Item = &'a PackageName>) -> Self {
        let mut all: BTreeSet<&PackageName> = index.keys().copied().collect();
        for versions in index.values() {
            for deps in versions.values() {
                all.extend(deps.keys());
            }
        }
        all.extend(extra);
        let names: Vec<PackageName> = all.into_iter().cloned().collect();
        let id_of = |name: &PackageName| names.binary_search(name).expect("every name was collected") as Id;
        let mut packages = vec![Vec::new(); names.len()];
        let mut listed = vec![false; names.len()];
        for (name, versions) in index {
            let id = id_of(name) as usize;
            listed[id] = true;
            packages[id] = versions
                .iter()
                .map(|(version, deps)| IndexedVersion {
                    version: *version,
                    // BTreeMap order is name order, hence id order.
                    deps: deps.iter().map(|(dep, range)| (id_of(dep), *range)).collect(),
                })
                .collect();
        }
        InternedIndex { names, packages, listed }
    }

    /// The same index with ids for `extra` names too (ids are renumbered).
    pub fn with_extra_names(&self, extra: &[PackageName]) -> Self {
        let mut all: BTreeSet<&PackageName> = self.names.iter().collect();
        all.extend(extra);
        let names: Vec<PackageName> = all.into_iter().cloned().collect();
        let renumber: Vec<Id> =
            self.names.iter().map(|name| names.binary_search(name).expect("kept every name") as Id).collect();
        let mut packages = vec![Vec::new(); names.len()];
        let mut listed = vec![false; names.len()];
        for (old, versions) in self.packages.iter().enumerate() {
            let new = renumber[old] as usize;
            listed[new] = self.listed[old];
            packages[new] = versions
                .iter()
                .map(|entry| IndexedVersion {
                    version: entry.version,
                    deps: entry.deps.iter().map(|(dep, range)| (renumber[*dep as usize], *range)).collect(),
                })
                .collect();
        }
        InternedIndex { names, packages, listed }
    }

    pub fn id(&self, name: &PackageName) -> Option<Id> {
        self.names.binary_search(name).ok().map(|i| i as Id)
    }

    pub fn name(&self, id: Id) -> &PackageName {
        &self.names[id as usize]
    }

    pub fn versions(&self, id: Id) -> &[IndexedVersion] {
        &self.packages[id as usize]
    }

    /// The ids of the index's own keys, ascending.
    pub fn listed_ids(&self) -> impl Iterator<Item = Id> + '_ {
        self.listed.iter().enumerate().filter(|(_, listed)| **listed).map(|(id, _)| id as Id)
    }

    /// Ids for the names of `required`, or the names the index does not know.
    pub fn ids_of<T: Copy>(
        &self,
        required: &BTreeMap<PackageName, T>,
    ) -> Result<Vec<(Id, T)>, Vec<PackageName>> {
        let mut unknown = Vec::new();
        let mut found = Vec::with_capacity(required.len());
        for (name, value) in required {
            match self.id(name) {
                Some(id) => found.push((id, *value)),
                None => unknown.push(name.clone()),
            }
        }
        if unknown.is_empty() { Ok(found) } else { Err(unknown) }
    }
}
