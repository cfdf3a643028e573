//! Solving with compiler compatibility: a pseudo-package `purs` whose versions are
//! the supported compilers, and which every published package version depends on
//! with the range of compilers it is known to work with (upstream's `CompilerIndex`).

use std::collections::BTreeMap;

use super::{DependencyIndex, Resolutions, Solver, SolverError};
use crate::name::PackageName;
use crate::range::Range;
use crate::version::Version;

/// The dependencies of one manifest: all the solver needs from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestDeps {
    pub name: PackageName,
    pub version: Version,
    pub dependencies: BTreeMap<PackageName, Range>,
}

/// A dependency index in which every published version also depends on `purs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompilerIndex(DependencyIndex);

impl CompilerIndex {
    pub fn as_dependency_index(&self) -> &DependencyIndex {
        &self.0
    }

    pub fn into_dependency_index(self) -> DependencyIndex {
        self.0
    }

    /// A package of `required` none of whose versions in range can be used with
    /// `compiler`: then no solve with exactly `compiler` can succeed. Cheap, so a
    /// planner can skip the solves that must fail (most of them in a new-compiler
    /// flood, where a dependant waits for its slowest dependency).
    pub fn blocked_dependency(
        &self,
        compiler: Version,
        required: &BTreeMap<PackageName, Range>,
    ) -> Option<PackageName> {
        let purs = purs_package_name();
        required
            .iter()
            .find(|(name, range)| {
                let Some(versions) = self.0.get(*name) else { return true };
                !versions
                    .range(range.lower()..range.upper())
                    .any(|(_, deps)| deps.get(&purs).is_none_or(|r| r.includes(compiler)))
            })
            .map(|(name, _)| name.clone())
    }

    /// Drops every version of `name` (before its manifests are entered again).
    pub fn forget_package(&mut self, name: &PackageName) {
        self.0.remove(name);
    }

    /// Prepares this index for solving many times (see [`Solver`]).
    pub fn solver(&self) -> Solver {
        Solver::new(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompilerIndexError {
    #[error(
        "Cannot build a compiler index without any supported compiler: pass at least one compiler version"
    )]
    NoCompilers,
    #[error(
        "buildCompilerIndex: no metadata for {0} (present in ManifestIndex). Every indexed package needs \
         metadata: restore metadata/{0}.json or remove {0} from the manifest index"
    )]
    MissingMetadata(PackageName),
}

/// The pseudo-package standing for the compiler.
pub fn purs_package_name() -> PackageName {
    PackageName::parse("purs").expect("'purs' is a valid package name")
}

/// Builds the index from every manifest and, per package, the compilers each
/// published version is known to work with (`metadata.published[v].compilers`).
///
/// A version depends on `purs >=min <bumpPatch(max)` of its compilers, so
/// compilers between the two that were never tried count as compatible. A version
/// missing from its package's published map keeps its plain dependencies and so
/// works with every compiler. Every manifest's package must have an entry in
/// `published_compilers`, as every indexed package has metadata.
pub fn build_compiler_index<'a>(
    compilers: &[Version],
    manifests: impl IntoIterator<Item = &'a ManifestDeps>,
    published_compilers: &BTreeMap<PackageName, BTreeMap<Version, Vec<Version>>>,
) -> Result<CompilerIndex, CompilerIndexError> {
    if compilers.is_empty() {
        return Err(CompilerIndexError::NoCompilers);
    }
    let purs = compilers.iter().map(|compiler| (*compiler, BTreeMap::new())).collect();
    let mut index = CompilerIndex(BTreeMap::from([(purs_package_name(), purs)]));
    for manifest in manifests {
        let published = published_compilers
            .get(&manifest.name)
            .ok_or_else(|| CompilerIndexError::MissingMetadata(manifest.name.clone()))?;
        update_compiler_index(&mut index, manifest, published);
    }
    Ok(index)
}

/// Recomputes the entry of one manifest from its package's published compilers,
/// leaving every other entry alone; the result equals a full rebuild.
pub fn update_compiler_index(
    index: &mut CompilerIndex,
    manifest: &ManifestDeps,
    published_compilers: &BTreeMap<Version, Vec<Version>>,
) {
    let mut dependencies = manifest.dependencies.clone();
    if let Some(range) = published_compilers.get(&manifest.version).and_then(|list| compiler_range(list)) {
        dependencies.insert(purs_package_name(), range);
    }
    index.0.entry(manifest.name.clone()).or_default().insert(manifest.version, dependencies);
}

/// `>=min <bumpPatch(max)`, or `None` for an empty list.
fn compiler_range(compilers: &[Version]) -> Option<Range> {
    let min = compilers.iter().min()?;
    let max = compilers.iter().max()?;
    Range::new(*min, max.bump_patch())
}

/// Solves `required` plus `purs` in `purs_range`; returns the chosen compiler and
/// the resolutions without `purs`.
pub fn solve_with_compiler(
    purs_range: Range,
    index: &CompilerIndex,
    required: &BTreeMap<PackageName, Range>,
) -> Result<(Version, Resolutions), SolverError> {
    let with_purs = with_compiler(purs_range, required);
    split_compiler(super::solve(&index.0, &with_purs)?)
}

fn with_compiler(purs_range: Range, required: &BTreeMap<PackageName, Range>) -> BTreeMap<PackageName, Range> {
    let mut required = required.clone();
    required.insert(purs_package_name(), purs_range);
    required
}

fn split_compiler(mut resolutions: Resolutions) -> Result<(Version, Resolutions), SolverError> {
    let compiler =
        resolutions.remove(&purs_package_name()).expect("a solution resolves every required package");
    Ok((compiler, resolutions))
}

impl Solver {
    /// [`solve_with_compiler`] on a prepared compiler index.
    pub fn solve_with_compiler(
        &self,
        purs_range: Range,
        required: &BTreeMap<PackageName, Range>,
    ) -> Result<(Version, Resolutions), SolverError> {
        split_compiler(self.solve(&with_compiler(purs_range, required))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn n(s: &str) -> PackageName {
        PackageName::parse(s).unwrap()
    }

    fn manifest(name: &str, version: &str, deps: &[(&str, &str)]) -> ManifestDeps {
        ManifestDeps {
            name: n(name),
            version: v(version),
            dependencies: deps.iter().map(|(d, r)| (n(d), Range::parse(r).unwrap())).collect(),
        }
    }

    #[test]
    fn published_versions_depend_on_their_compiler_span() {
        let manifests = [manifest("prelude", "6.0.0", &[]), manifest("prelude", "7.0.0", &[])];
        let published = BTreeMap::from([(
            n("prelude"),
            BTreeMap::from([(v("6.0.0"), vec![v("0.15.2"), v("0.15.0"), v("0.15.9")])]),
        )]);
        let compilers = [v("0.15.0"), v("0.15.2"), v("0.15.9")];
        let index = build_compiler_index(&compilers, &manifests, &published).unwrap();
        let prelude = &index.as_dependency_index()[&n("prelude")];
        // Untested compilers between the extremes count as compatible.
        assert_eq!(prelude[&v("6.0.0")][&n("purs")].to_string(), ">=0.15.0 <0.15.10");
        // Not published: no compiler constraint at all.
        assert!(prelude[&v("7.0.0")].is_empty());
        let purs: Vec<Version> = index.as_dependency_index()[&n("purs")].keys().copied().collect();
        assert_eq!(purs, compilers);
    }

    #[test]
    fn the_solution_names_the_compiler_separately() {
        let manifests = [manifest("prelude", "6.0.0", &[])];
        let published = BTreeMap::from([(n("prelude"), BTreeMap::from([(v("6.0.0"), vec![v("0.15.0")])]))]);
        let index = build_compiler_index(&[v("0.15.0"), v("0.15.1")], &manifests, &published).unwrap();
        let required = BTreeMap::from([(n("prelude"), Range::parse(">=6.0.0 <7.0.0").unwrap())]);
        let any = Range::parse(">=0.0.0 <1.0.0").unwrap();
        let (compiler, resolutions) = solve_with_compiler(any, &index, &required).unwrap();
        assert_eq!(compiler, v("0.15.0"));
        assert_eq!(resolutions, BTreeMap::from([(n("prelude"), v("6.0.0"))]));
        assert_eq!(index.solver().solve_with_compiler(any, &required), Ok((compiler, resolutions)));
        let error = solve_with_compiler(Range::exact(v("0.15.1")), &index, &required).unwrap_err();
        assert!(error.to_string().contains("purs"), "{error}");
    }

    #[test]
    fn missing_metadata_and_missing_compilers_are_reported() {
        let manifests = [manifest("prelude", "6.0.0", &[])];
        let error = build_compiler_index(&[v("0.15.0")], &manifests, &BTreeMap::new()).unwrap_err();
        assert_eq!(error, CompilerIndexError::MissingMetadata(n("prelude")));
        assert!(error.to_string().contains("metadata/prelude.json"));
        let published = BTreeMap::from([(n("prelude"), BTreeMap::new())]);
        assert_eq!(build_compiler_index(&[], &manifests, &published), Err(CompilerIndexError::NoCompilers));
    }
}
