//! A model compiler for tests: package versions with dependency compatibility
//! sets, broken versions and module names, compiled the way `purs` reports.

use std::collections::{BTreeMap, BTreeSet};

use super::{Batch, CompileOutcome, ModuleNames, PackageMap};
use crate::name::PackageName;
use crate::package_set_rules::Change;
use crate::version::Version;

pub fn name(s: &str) -> PackageName {
    PackageName::parse(s).expect("valid test name")
}

pub const V1: Version = Version::new(1, 0, 0);
pub const V2: Version = Version::new(2, 0, 0);

#[derive(Debug, Clone, Default)]
pub struct ModelVersion {
    /// Dependency → the versions of it this version compiles against.
    pub deps: BTreeMap<PackageName, BTreeSet<Version>>,
    /// Has errors of its own whatever its dependencies.
    pub broken: bool,
    pub modules: BTreeSet<String>,
}

/// How the model reports failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reporting {
    /// Like `purs` with file names mapped to packages.
    Attributed,
    /// Only whether the state compiles.
    Blind,
}

#[derive(Debug, Clone, Default)]
pub struct World {
    /// Dependencies before dependants.
    pub order: Vec<PackageName>,
    pub versions: BTreeMap<PackageName, BTreeMap<Version, ModelVersion>>,
    pub old: PackageMap,
    pub changes: Vec<(PackageName, Change)>,
}

impl World {
    pub fn add(&mut self, package: &str, version: Version, spec: ModelVersion) {
        let package = name(package);
        if !self.order.contains(&package) {
            self.order.push(package.clone());
        }
        self.versions.entry(package).or_default().insert(version, spec);
    }

    pub fn graph(&self) -> BTreeMap<PackageName, BTreeMap<Version, BTreeSet<PackageName>>> {
        self.versions
            .iter()
            .map(|(n, vs)| {
                (n.clone(), vs.iter().map(|(v, m)| (*v, m.deps.keys().cloned().collect())).collect())
            })
            .collect()
    }

    pub fn modules(&self) -> ModuleNames {
        self.versions
            .iter()
            .map(|(n, vs)| (n.clone(), vs.iter().map(|(v, m)| (*v, m.modules.clone())).collect()))
            .collect()
    }

    pub fn batch<'a>(
        &'a self,
        graph: &'a BTreeMap<PackageName, BTreeMap<Version, BTreeSet<PackageName>>>,
        modules: Option<&'a ModuleNames>,
    ) -> Batch<'a> {
        Batch { old: &self.old, changes: &self.changes, graph, modules }
    }

    fn spec(&self, package: &PackageName, state: &PackageMap) -> &ModelVersion {
        &self.versions[package][&state[package]]
    }

    /// Compiles a state: duplicate modules and missing dependencies stop the run
    /// before building; otherwise packages build in dependency order, dependants of
    /// a failing package are skipped silently.
    pub fn compile(&self, state: &PackageMap, reporting: Reporting) -> CompileOutcome {
        let outcome = self.compile_attributed(state);
        match (reporting, outcome) {
            (Reporting::Blind, CompileOutcome::Ok) => CompileOutcome::Ok,
            (Reporting::Blind, _) => CompileOutcome::Unattributed,
            (Reporting::Attributed, outcome) => outcome,
        }
    }

    fn compile_attributed(&self, state: &PackageMap) -> CompileOutcome {
        let mut providers: BTreeMap<&str, usize> = BTreeMap::new();
        for package in state.keys() {
            for module in &self.spec(package, state).modules {
                *providers.entry(module.as_str()).or_default() += 1;
            }
        }
        if providers.values().any(|&count| count > 1) {
            return CompileOutcome::Unattributed;
        }
        let missing: BTreeSet<PackageName> = state
            .keys()
            .filter(|p| self.spec(p, state).deps.keys().any(|d| !state.contains_key(d)))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return CompileOutcome::Aborted { failing: missing };
        }
        let mut built: BTreeSet<&PackageName> = BTreeSet::new();
        let mut failing = BTreeSet::new();
        for package in self.order.iter().filter(|p| state.contains_key(*p)) {
            let spec = self.spec(package, state);
            if !spec.deps.keys().all(|d| built.contains(d)) {
                continue; // skipped: a dependency failed or was skipped
            }
            if spec.broken || spec.deps.iter().any(|(d, ok)| !ok.contains(&state[d])) {
                failing.insert(package.clone());
            } else {
                built.insert(package);
            }
        }
        if failing.is_empty() { CompileOutcome::Ok } else { CompileOutcome::Failed { failing } }
    }
}

/// An oracle over the model that counts compiles and refuses to see a state twice.
pub struct Recorder<'w> {
    pub world: &'w World,
    pub reporting: Reporting,
    pub seen: BTreeSet<PackageMap>,
    pub repeated: bool,
}

impl<'w> Recorder<'w> {
    pub fn new(world: &'w World, reporting: Reporting) -> Self {
        Recorder { world, reporting, seen: BTreeSet::new(), repeated: false }
    }

    pub fn compile(&mut self, state: &PackageMap) -> Result<CompileOutcome, String> {
        self.repeated |= !self.seen.insert(state.clone());
        Ok(self.world.compile(state, self.reporting))
    }
}

/// `deps` as a spec where every dependency accepts the given versions.
pub fn on(deps: &[(&str, &[Version])]) -> ModelVersion {
    ModelVersion {
        deps: deps.iter().map(|(d, vs)| (name(d), vs.iter().copied().collect())).collect(),
        ..ModelVersion::default()
    }
}
