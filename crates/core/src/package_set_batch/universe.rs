//! Everything a batch's states can contain: dependencies of every candidate
//! version, the relevance sets Base(i), neighbours, and module owners.

use std::collections::{BTreeMap, BTreeSet};

use super::{Batch, PackageMap, apply};
use crate::name::PackageName;
use crate::package_set_rules::Change;
use crate::version::Version;

pub(super) struct Universe {
    pub old: PackageMap,
    pub changes: Vec<(PackageName, Change)>,
    deps: BTreeMap<(PackageName, Version), Vec<PackageName>>,
    change_of: BTreeMap<PackageName, usize>,
    /// Per change, its neighbours (sorted).
    pub neighbours: Vec<Vec<usize>>,
    /// Per change, Base(i).
    pub base: Vec<BTreeSet<PackageName>>,
    /// Module → candidate versions providing it; `None` without module names.
    owners: Option<BTreeMap<String, Vec<(PackageName, Version)>>>,
}

impl Universe {
    /// Expects a validated batch (every candidate version has dependencies).
    pub fn new(batch: &Batch<'_>) -> Self {
        let changes = batch.changes.to_vec();
        let mut versions: BTreeMap<PackageName, Vec<Version>> = BTreeMap::new();
        for (name, version) in batch.old {
            versions.entry(name.clone()).or_default().push(*version);
        }
        for (name, change) in &changes {
            if let Change::Update(version) = change {
                versions.entry(name.clone()).or_default().push(*version);
            }
        }
        let mut deps = BTreeMap::new();
        let mut forward: BTreeMap<PackageName, BTreeSet<PackageName>> = BTreeMap::new();
        let mut reverse: BTreeMap<PackageName, BTreeSet<PackageName>> = BTreeMap::new();
        for (name, list) in &versions {
            for version in list {
                let names = batch.graph.dependencies(name, *version).unwrap_or_default();
                for dep in &names {
                    forward.entry(name.clone()).or_default().insert(dep.clone());
                    reverse.entry(dep.clone()).or_default().insert(name.clone());
                }
                deps.insert((name.clone(), *version), names);
            }
        }
        let change_of: BTreeMap<PackageName, usize> =
            changes.iter().enumerate().map(|(i, (name, _))| (name.clone(), i)).collect();
        let base: Vec<BTreeSet<PackageName>> = changes
            .iter()
            .map(|(name, _)| {
                let dependants = reach(&reverse, [name.clone()]);
                reach(&forward, dependants)
            })
            .collect();

        let owners = batch.modules.map(|modules| {
            let mut owners: BTreeMap<String, Vec<(PackageName, Version)>> = BTreeMap::new();
            for (name, list) in &versions {
                for version in list {
                    let provided = modules.get(name).and_then(|by_version| by_version.get(version));
                    for module in provided.into_iter().flatten() {
                        owners.entry(module.clone()).or_default().push((name.clone(), *version));
                    }
                }
            }
            owners
        });
        let mut colliding: BTreeSet<(PackageName, PackageName)> = BTreeSet::new();
        for list in owners.iter().flat_map(|o| o.values()) {
            for (a, _) in list {
                for (b, _) in list {
                    if a != b {
                        colliding.insert((a.clone(), b.clone()));
                    }
                }
            }
        }

        let k = changes.len();
        let mut neighbours = vec![Vec::new(); k];
        for i in 0..k {
            for j in 0..k {
                let (pi, pj) = (&changes[i].0, &changes[j].0);
                if i != j
                    && (base[i].contains(pj)
                        || base[j].contains(pi)
                        || colliding.contains(&(pi.clone(), pj.clone())))
                {
                    neighbours[i].push(j);
                }
            }
        }
        Universe { old: batch.old.clone(), changes, deps, change_of, neighbours, base, owners }
    }

    pub fn len(&self) -> usize {
        self.changes.len()
    }

    pub fn name(&self, i: usize) -> &PackageName {
        &self.changes[i].0
    }

    /// S₀ with the changes `applied` (indices) applied.
    pub fn state(&self, applied: &[usize]) -> PackageMap {
        let mut out = self.old.clone();
        for &j in applied {
            let (name, change) = &self.changes[j];
            apply(&mut out, name, *change);
        }
        out
    }

    fn deps_in<'s>(&'s self, state: &PackageMap, name: &PackageName) -> &'s [PackageName] {
        match state.get(name) {
            Some(version) => self.deps.get(&(name.clone(), *version)).map(Vec::as_slice).unwrap_or_default(),
            None => &[],
        }
    }

    /// The changes whose names lie in `package`'s dependency closure in `state`
    /// (absent names included), `package` itself included.
    pub fn changes_in_closure(&self, state: &PackageMap, package: &PackageName) -> BTreeSet<usize> {
        let mut seen = BTreeSet::from([package.clone()]);
        let mut queue = vec![package.clone()];
        while let Some(name) = queue.pop() {
            for dep in self.deps_in(state, &name) {
                if seen.insert(dep.clone()) {
                    queue.push(dep.clone());
                }
            }
        }
        seen.iter().filter_map(|name| self.change_of.get(name).copied()).collect()
    }

    /// Whether some package of `state` other than `name` depends on `name`.
    pub fn has_dependants(&self, state: &PackageMap, name: &PackageName) -> bool {
        state.keys().any(|other| other != name && self.deps_in(state, other).contains(name))
    }

    /// A module `name@version` provides that another package of `state` provides too.
    pub fn collision(
        &self,
        state: &PackageMap,
        name: &PackageName,
        version: Version,
    ) -> Option<(String, PackageName)> {
        let owners = self.owners.as_ref()?;
        owners.iter().find_map(|(module, list)| {
            if !list.iter().any(|(n, v)| n == name && *v == version) {
                return None;
            }
            list.iter()
                .find(|(n, v)| n != name && state.get(n) == Some(v))
                .map(|(other, _)| (module.clone(), other.clone()))
        })
    }

    /// Some module two packages of `state` both provide.
    pub fn any_collision(&self, state: &PackageMap) -> Option<(String, PackageName, PackageName)> {
        let owners = self.owners.as_ref()?;
        owners.iter().find_map(|(module, list)| {
            let present: Vec<&PackageName> =
                list.iter().filter(|(n, v)| state.get(n) == Some(v)).map(|(n, _)| n).collect();
            match present.as_slice() {
                [a, b, ..] => Some((module.clone(), (*a).clone(), (*b).clone())),
                _ => None,
            }
        })
    }
}

fn reach(
    edges: &BTreeMap<PackageName, BTreeSet<PackageName>>,
    start: impl IntoIterator<Item = PackageName>,
) -> BTreeSet<PackageName> {
    let mut seen: BTreeSet<PackageName> = BTreeSet::new();
    let mut queue: Vec<PackageName> = Vec::new();
    for name in start {
        if seen.insert(name.clone()) {
            queue.push(name);
        }
    }
    while let Some(name) = queue.pop() {
        for next in edges.get(&name).into_iter().flatten() {
            if seen.insert(next.clone()) {
                queue.push(next.clone());
            }
        }
    }
    seen
}
