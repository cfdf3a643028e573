//! The fewest modules a job can compile, counted two ways.
//!
//! * By package: every module of the changed packages and of every package that
//!   depends on one, directly or transitively. Build keys are per package, so this
//!   is the minimum for a strategy that trusts outputs per package (ours).
//! * By import: every module of the changed packages and every module that imports
//!   one of them, directly or transitively. This is what purs itself rebuilds when
//!   `output/` is kept (it has no early cutoff, and a module whose imports reach no
//!   changed module is reused), so keep-output compiles exactly this in a job whose
//!   attempt passes, and it can be below the package count: a generated package's
//!   internal module `M0` imports only some of the package's dependencies, so an
//!   update of another dependency leaves it alone. That is why keep-output compiled
//!   278 modules in the 20 newest transitions while the package closure held 293:
//!   the counting was right, the "minimum" was the package-granular one.
//!
//! A job that changes the compiler first compiles the whole old set with the new
//! compiler (upstream's rule: the starting set must compile with the target
//! compiler, or the job fails), so every module of the old set is added to both.

use std::collections::{BTreeMap, BTreeSet};

use registry_build::source::module_name_of;
use registry_core::build_plan::affected_closure;
use registry_core::{ManifestIndex, PackageName};

use super::{Generated, Job, apply};

/// Module counts of one job (see the module doc).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Minimum {
    pub by_package: usize,
    pub by_import: usize,
    /// Modules of the old set compiled again because the compiler changes (in both).
    pub baseline: usize,
    /// Modules of the set the job ends with.
    pub set_modules: usize,
}

/// The modules a generated source imports (`import A.B (x)` starts a line).
fn imports_of(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter_map(|l| l.strip_prefix("import ")?.split_whitespace().next())
}

pub fn minimum(job: &Job, index: &ManifestIndex, source: &Generated<'_>) -> Minimum {
    let new = apply(&job.old, &job.changes);
    let changed: BTreeSet<PackageName> = job.changes.keys().cloned().collect();
    let baseline: usize = if job.compiler != job.old_compiler {
        job.old.iter().map(|(n, v)| source.module_count(n, *v)).sum()
    } else {
        0
    };
    let by_package: usize =
        affected_closure(&new, index, &changed).iter().map(|n| source.module_count(n, new[n])).sum();

    // Reverse import graph of the new set, then everything reachable from the
    // modules of changed packages.
    let mut importers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut reached: BTreeSet<String> = BTreeSet::new();
    let mut queue: Vec<String> = Vec::new();
    let mut set_modules = 0;
    for (name, version) in &new {
        for (path, bytes) in source.files(name, *version) {
            if !path.ends_with(".purs") {
                continue;
            }
            let text = String::from_utf8_lossy(&bytes);
            let Some(module) = module_name_of(&text) else { continue };
            set_modules += 1;
            for imported in imports_of(&text) {
                importers.entry(imported.to_owned()).or_default().push(module.clone());
            }
            if changed.contains(name) && reached.insert(module.clone()) {
                queue.push(module);
            }
        }
    }
    while let Some(module) = queue.pop() {
        for importer in importers.get(&module).into_iter().flatten() {
            if reached.insert(importer.clone()) {
                queue.push(importer.clone());
            }
        }
    }
    Minimum { by_package: baseline + by_package, by_import: baseline + reached.len(), baseline, set_modules }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_import_lines() {
        let text = "module A.Api\n  ( x ) where\n\nimport A.Internal.M0 (item0)\nimport B.Api (value, Thing) as Dep0\n\nx = 1\n";
        assert_eq!(super::imports_of(text).collect::<Vec<_>>(), ["A.Internal.M0", "B.Api"]);
    }
}
