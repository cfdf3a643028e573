//! Planning matrix jobs over an in-memory view of the registry ([`MatrixView`]),
//! kept across jobs by [`MatrixIndex`].
//!
//! Reading every manifest and metadata file and preparing a solver over the whole
//! compiler index costs about half a second plus up to a few hundred milliseconds
//! per call on the real registry; a new-compiler flood plans once per finished job,
//! thousands of times. So the view is read once, and before each use it asks both
//! repositories which files changed since the commit it was read at
//! ([`GitRepo::changed_since`]) and re-reads only those packages. Whatever wrote
//! them (this job, another job, a person) is picked up the same way; when a
//! repository cannot say (no revision, history rewritten), the view is read again
//! from scratch. Solving goes through the compiler index itself, which prepares
//! only what each solve can reach, so an update never forces a whole-index
//! preparation.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use registry_adapters::{ActivityLog, GitRepo};
use registry_core::manifest_index::entry_path;
use registry_core::metadata::Metadata;
use registry_core::solver::{
    CompilerIndex, DependantStatus, ManifestDeps, MatrixNote, MatrixSolverResult, build_compiler_index,
    published_compilers, solve_dependants_for_compiler, solve_for_all_compilers, update_compiler_index,
};
use registry_core::{PackageName, Range, Version};

use crate::publish::Published;
use crate::registry::{all_manifests, all_metadata, read_entry, read_metadata};
use crate::{Context, Failure};

/// The registry as the planner needs it: every manifest's dependencies, every
/// package's metadata, who depends on each package, and the compiler index built
/// from them (for the compilers it was last asked about).
#[derive(Clone)]
pub struct MatrixView {
    manifests: BTreeMap<PackageName, BTreeMap<Version, ManifestDeps>>,
    metadata: BTreeMap<PackageName, Metadata>,
    /// The manifests depending on a package (any range).
    depending_on: HashMap<PackageName, BTreeSet<(PackageName, Version)>>,
    index: Option<(Vec<Version>, CompilerIndex)>,
    /// Jobs known to be in the queue: (package, version, compiler).
    queued: HashSet<(PackageName, Version, Version)>,
}

impl MatrixView {
    pub fn new(manifests: Vec<ManifestDeps>, metadata: BTreeMap<PackageName, Metadata>) -> Self {
        let mut view = MatrixView {
            manifests: BTreeMap::new(),
            metadata,
            depending_on: HashMap::new(),
            index: None,
            queued: HashSet::new(),
        };
        for manifest in manifests {
            view.enter(manifest);
        }
        view
    }

    fn enter(&mut self, manifest: ManifestDeps) {
        for dependency in manifest.dependencies.keys() {
            self.depending_on
                .entry(dependency.clone())
                .or_default()
                .insert((manifest.name.clone(), manifest.version));
        }
        self.manifests.entry(manifest.name.clone()).or_default().insert(manifest.version, manifest);
    }

    /// Reads every manifest of the index and every metadata file.
    pub async fn read(registry: &dyn GitRepo, index: &dyn GitRepo) -> Result<Self, Failure> {
        let manifests = all_manifests(index).await?.iter().map(ManifestDeps::from).collect();
        Ok(MatrixView::new(manifests, all_metadata(registry).await?))
    }

    /// Replaces everything known about `name`: its manifests and its metadata.
    pub fn replace_package(
        &mut self,
        name: &PackageName,
        manifests: Vec<ManifestDeps>,
        metadata: Option<Metadata>,
    ) {
        for old in self.manifests.remove(name).unwrap_or_default().into_values() {
            for dependency in old.dependencies.keys() {
                if let Some(set) = self.depending_on.get_mut(dependency) {
                    set.remove(&(old.name.clone(), old.version));
                }
            }
        }
        match metadata {
            Some(metadata) => self.metadata.insert(name.clone(), metadata),
            None => self.metadata.remove(name),
        };
        for manifest in manifests.into_iter().filter(|m| m.name == *name) {
            self.enter(manifest);
        }
        let Some((_, index)) = self.index.as_mut() else { return };
        index.forget_package(name);
        let Some(entered) = self.manifests.get(name) else { return };
        let Some(metadata) = self.metadata.get(name) else {
            // A full build reports the missing metadata.
            self.index = None;
            return;
        };
        let compilers: BTreeMap<Version, Vec<Version>> =
            metadata.published.iter().map(|(v, p)| (*v, p.compilers.clone())).collect();
        for manifest in entered.values() {
            update_compiler_index(index, manifest, &compilers);
        }
    }

    /// Records that these jobs are in the queue (whatever becomes of them, the
    /// queue never takes the same version and compiler again).
    pub fn note_queued<'a>(&mut self, jobs: impl IntoIterator<Item = &'a MatrixSolverResult>) {
        self.queued.extend(jobs.into_iter().map(|job| (job.name.clone(), job.version, job.compiler)));
    }

    /// How many manifests the view holds.
    pub fn manifest_count(&self) -> usize {
        self.manifests.values().map(BTreeMap::len).sum()
    }

    fn prepare(&mut self, compilers: &[Version]) -> Result<&CompilerIndex, Failure> {
        let fresh = matches!(&self.index, Some((built_for, _)) if built_for.as_slice() == compilers);
        if !fresh {
            let built = build_compiler_index(
                compilers,
                self.manifests.values().flat_map(BTreeMap::values),
                &published_compilers(&self.metadata),
            )
            .map_err(|e| Failure(e.to_string()))?;
            self.index = Some((compilers.to_vec(), built));
        }
        Ok(&self.index.as_ref().expect("prepared just above").1)
    }

    /// Manifests depending on `name` with a range that includes `version`.
    fn dependants_of(&self, name: &PackageName, version: Version) -> Vec<&ManifestDeps> {
        let Some(found) = self.depending_on.get(name) else { return Vec::new() };
        found
            .iter()
            .filter_map(|(n, v)| self.manifests.get(n)?.get(v))
            .filter(|m| m.dependencies.get(name).is_some_and(|range: &Range| range.includes(version)))
            .collect()
    }

    /// After `name@version` was published with `compiler`: the same version with
    /// every other compiler whose solve picks exactly that compiler, and its
    /// dependants with `compiler`.
    pub fn after_publish(
        &mut self,
        compilers: &[Version],
        published: &Published,
        log: &dyn ActivityLog,
    ) -> Result<BTreeSet<MatrixSolverResult>, Failure> {
        self.prepare(compilers)?;
        let index = &self.index.as_ref().expect("prepared").1;
        let manifest = ManifestDeps {
            name: published.name.clone(),
            version: published.version,
            dependencies: published.dependencies.clone(),
        };
        let same_package = solve_for_all_compilers(index, compilers, published.compiler, &manifest);
        log_notes(&same_package.notes, log);
        let mut planned = same_package.results;
        planned.extend(self.cascade(index, published.compiler, &published.name, published.version, log));
        Ok(planned)
    }

    /// After a matrix job compiled `name@version` with `compiler`: its dependants
    /// with `compiler`.
    pub fn after_matrix(
        &mut self,
        compilers: &[Version],
        name: &PackageName,
        version: Version,
        compiler: Version,
        log: &dyn ActivityLog,
    ) -> Result<BTreeSet<MatrixSolverResult>, Failure> {
        self.prepare(compilers)?;
        let index = &self.index.as_ref().expect("prepared").1;
        Ok(self.cascade(index, compiler, name, version, log))
    }

    /// Records in the view alone that `name@version` compiles with `compiler`, as
    /// its matrix job's commit would (no effect if the version is not published).
    pub fn assume_compiles(&mut self, name: &PackageName, version: Version, compiler: Version) {
        let Some(published) = self.metadata.get_mut(name).and_then(|m| m.published.get_mut(&version)) else {
            return;
        };
        published.add_compiler(compiler);
        // Only this version's entry of the compiler index depends on its compilers.
        let (Some((_, index)), Some(manifest)) =
            (self.index.as_mut(), self.manifests.get(name).and_then(|m| m.get(&version)))
        else {
            return;
        };
        let compilers = BTreeMap::from([(version, published.compilers.clone())]);
        update_compiler_index(index, manifest, &compilers);
    }

    /// The whole flood for a new compiler planned in memory, as if every job
    /// succeeded: `roots` (planned with empty build plans), then each job's cascade
    /// in the order the queue would get them. Every job comes after the jobs of
    /// its whole build plan, since a dependant only solves with `compiler` once
    /// each version it needs is known to compile with it. With `max_jobs`, stops
    /// after that many jobs, the rest still waiting at the end of the list.
    pub fn plan_flood(
        &mut self,
        compilers: &[Version],
        compiler: Version,
        roots: &[(PackageName, Version)],
        max_jobs: Option<usize>,
        log: &dyn ActivityLog,
    ) -> Result<Vec<MatrixSolverResult>, Failure> {
        let mut queue: std::collections::VecDeque<MatrixSolverResult> = roots
            .iter()
            .map(|(name, version)| MatrixSolverResult {
                compiler,
                name: name.clone(),
                resolutions: BTreeMap::new(),
                version: *version,
            })
            .collect();
        let mut queued: BTreeSet<(PackageName, Version)> =
            roots.iter().map(|(name, version)| (name.clone(), *version)).collect();
        self.note_queued(&queue);
        let mut order = Vec::new();
        while order.len() < max_jobs.unwrap_or(usize::MAX)
            && let Some(job) = queue.pop_front()
        {
            self.assume_compiles(&job.name, job.version, compiler);
            let next = self.after_matrix(compilers, &job.name, job.version, compiler, log)?;
            self.note_queued(&next);
            for next in next {
                if queued.insert((next.name.clone(), next.version)) {
                    queue.push_back(next);
                }
            }
            order.push(job);
        }
        order.extend(queue);
        Ok(order)
    }

    fn cascade(
        &self,
        index: &CompilerIndex,
        compiler: Version,
        name: &PackageName,
        version: Version,
        log: &dyn ActivityLog,
    ) -> BTreeSet<MatrixSolverResult> {
        let outcome = solve_dependants_for_compiler(
            index,
            compiler,
            name,
            version,
            |n, v| match DependantStatus::from_metadata(&self.metadata, n, v) {
                DependantStatus::Published(compilers)
                    if !compilers.contains(&compiler) && self.queued.contains(&(n.clone(), v, compiler)) =>
                {
                    DependantStatus::Queued
                }
                status => status,
            },
            |n, v| self.dependants_of(n, v),
        );
        log_notes(&outcome.notes, log);
        log.info(&format!(
            "Cascade from {name}@{version}: {} planned out of {} dependants visited{}",
            outcome.results.len(),
            outcome.visited.len(),
            match outcome.queued {
                0 => String::new(),
                n => format!(" ({n} already queued)"),
            }
        ));
        outcome.results
    }
}

fn log_notes(notes: &[MatrixNote], log: &dyn ActivityLog) {
    for note in notes {
        match note {
            MatrixNote::NoMetadata { name } => log.warn(&format!("No metadata for dependant {name}, skipping")),
            MatrixNote::NotPublished { name, version } => {
                log.warn(&format!("Dependant {name}@{version} not in metadata.published, skipping"))
            }
            MatrixNote::Unsolvable { name, version, compiler, error } => {
                log.info(&format!("Failed to solve with compiler {compiler}: {name}@{version}"));
                log.debug(&format!("Solver error for {name}@{version} with compiler {compiler}: {error}"));
            }
            MatrixNote::Waiting { name, version, compiler, dependency } => {
                log.info(&format!("Failed to solve with compiler {compiler}: {name}@{version}"));
                log.debug(&format!(
                    "No version of {dependency} that {name}@{version} accepts is known to compile with {compiler} yet"
                ));
            }
            MatrixNote::CompilerMismatch { name, version, compiler, solved } => log.debug(&format!(
                "Produced a compiler-derived build plan for {name}@{version} that selects a compiler ({solved}) \
                 that differs from the target compiler ({compiler})."
            )),
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Failure> {
    // Solving is CPU work: keep it off the async workers.
    registry_adapters::process::blocking(f).await.map_err(|e| {
        Failure(format!(
            "Internal error: planning compiler-matrix jobs crashed ({e}). This is a bug in the registry."
        ))
    })
}

/// The commits of the two repositories a view was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    registry: String,
    index: String,
}

struct Held {
    view: MatrixView,
    stamp: Stamp,
}

/// The [`MatrixView`] kept across jobs (clones share it). Planning takes it in
/// turns; a view being used by a planner that crashed is simply read again.
#[derive(Clone, Default)]
pub struct MatrixIndex {
    held: Arc<tokio::sync::Mutex<Option<Held>>>,
    reads: Arc<std::sync::atomic::AtomicUsize>,
}

impl MatrixIndex {
    pub fn new() -> Self {
        MatrixIndex::default()
    }

    /// Records that these jobs are in the queue, in the view kept now (none kept:
    /// nothing to do; a view read later simply solves them again).
    pub async fn note_queued(&self, jobs: &[MatrixSolverResult]) {
        if let Some(held) = self.held.lock().await.as_mut() {
            held.view.note_queued(jobs);
        }
    }

    /// How many times the whole registry was read (for tests and benchmarks).
    pub fn full_reads(&self) -> usize {
        self.reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `plan` on a view equal to the repositories as they are now.
    pub async fn with_view<T: Send + 'static>(
        &self,
        registry: &dyn GitRepo,
        index: &dyn GitRepo,
        plan: impl FnOnce(&mut MatrixView) -> T + Send + 'static,
    ) -> Result<T, Failure> {
        let mut held = self.held.lock().await;
        let current = held.take();
        let Held { mut view, stamp } = match current {
            Some(current) => match catch_up(current, registry, index).await? {
                Some(caught_up) => caught_up,
                None => self.read_all(registry, index).await?,
            },
            None => self.read_all(registry, index).await?,
        };
        let (result, view) = blocking(move || {
            let result = plan(&mut view);
            (result, view)
        })
        .await?;
        *held = Some(Held { view, stamp });
        Ok(result)
    }

    async fn read_all(&self, registry: &dyn GitRepo, index: &dyn GitRepo) -> Result<Held, Failure> {
        // The stamp is read first: a write landing during the read shows as changed next time.
        let stamp = stamp_of(registry, index).await?;
        let view = MatrixView::read(registry, index).await?;
        self.reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match stamp {
            Some(stamp) => Ok(Held { view, stamp }),
            // Cannot tell later whether it moved on: an empty stamp never matches.
            None => Ok(Held { view, stamp: Stamp { registry: String::new(), index: String::new() } }),
        }
    }
}

async fn stamp_of(registry: &dyn GitRepo, index: &dyn GitRepo) -> Result<Option<Stamp>, Failure> {
    let registry_at =
        registry.revision().await.context(|| format!("Reading the {} failed", registry.describe()))?;
    let index_at = index.revision().await.context(|| format!("Reading the {} failed", index.describe()))?;
    Ok(registry_at.zip(index_at).map(|(registry, index)| Stamp { registry, index }))
}

async fn changed_in(repo: &dyn GitRepo, at: &str) -> Result<Option<Vec<String>>, Failure> {
    repo.changed_since(at).await.context(|| format!("Reading the {} failed", repo.describe()))
}

/// Brings `held` up to date by re-reading the packages whose files changed, or
/// `None` when the repositories cannot say what changed.
async fn catch_up(held: Held, registry: &dyn GitRepo, index: &dyn GitRepo) -> Result<Option<Held>, Failure> {
    let Held { mut view, stamp } = held;
    if stamp.registry.is_empty() || stamp.index.is_empty() {
        return Ok(None);
    }
    let Some(now) = stamp_of(registry, index).await? else { return Ok(None) };
    if now == stamp {
        return Ok(Some(Held { view, stamp }));
    }
    let Some(metadata_files) = changed_in(registry, &stamp.registry).await? else { return Ok(None) };
    let Some(entry_files) = changed_in(index, &stamp.index).await? else { return Ok(None) };
    let mut packages = BTreeSet::new();
    for path in &metadata_files {
        if let Some(name) = path
            .strip_prefix("metadata/")
            .and_then(|f| f.strip_suffix(".json"))
            .and_then(|n| PackageName::parse(n).ok())
        {
            packages.insert(name);
        }
    }
    for path in &entry_files {
        let base = path.rsplit('/').next().unwrap_or(path);
        if let Ok(name) = PackageName::parse(base)
            && entry_path(&name) == *path
        {
            packages.insert(name);
        }
    }
    for name in packages {
        let manifests = read_entry(index, &name).await?.iter().map(ManifestDeps::from).collect();
        let metadata = read_metadata(registry, &name).await?;
        view.replace_package(&name, manifests, metadata);
    }
    Ok(Some(Held { view, stamp: now }))
}

#[cfg(test)]
mod tests {
    use registry_core::json::Codec;

    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    /// Collects log lines.
    #[derive(Default)]
    struct Lines(std::sync::Mutex<Vec<String>>);

    impl ActivityLog for Lines {
        fn log(&self, _level: registry_core::job::LogLevel, message: &str) {
            self.0.lock().unwrap().push(message.to_owned());
        }
    }

    #[test]
    fn a_dependant_noted_as_queued_is_not_planned_again() {
        let range = Range::parse(">=1.0.0 <2.0.0").unwrap();
        let deps = |name: &str, on: &[&str]| ManifestDeps {
            name: PackageName::parse(name).unwrap(),
            version: v("1.0.0"),
            dependencies: on.iter().map(|d| (PackageName::parse(d).unwrap(), range)).collect(),
        };
        let metadata = |compilers: &[&str]| {
            Metadata::decode(&serde_json::json!({
                "location": { "githubOwner": "o", "githubRepo": "r" },
                "published": { "1.0.0": {
                    "bytes": 1, "compilers": compilers,
                    "hash": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
                    "publishedTime": "2024-01-01T00:00:00.000Z", "ref": "v1.0.0" } },
                "unpublished": {},
            }))
            .unwrap()
        };
        let (old, new) = (v("0.15.0"), v("0.15.1"));
        let name = |s: &str| PackageName::parse(s).unwrap();
        let mut view = MatrixView::new(
            vec![deps("base", &[]), deps("left", &["base"]), deps("right", &["base"])],
            BTreeMap::from([
                (name("base"), metadata(&["0.15.0", "0.15.1"])),
                (name("left"), metadata(&["0.15.0"])),
                (name("right"), metadata(&["0.15.0"])),
            ]),
        );
        let log = Lines::default();
        let first = view.after_matrix(&[old, new], &name("base"), v("1.0.0"), new, &log).unwrap();
        let planned: Vec<&str> = first.iter().map(|job| job.name.as_str()).collect();
        assert_eq!(planned, ["left", "right"]);

        let left: Vec<MatrixSolverResult> =
            first.iter().filter(|job| job.name == name("left")).cloned().collect();
        view.note_queued(&left);
        let again = view.after_matrix(&[old, new], &name("base"), v("1.0.0"), new, &log).unwrap();
        let planned: Vec<&str> = again.iter().map(|job| job.name.as_str()).collect();
        assert_eq!(planned, ["right"], "left's job is queued already");
        let last = log.0.lock().unwrap().last().cloned();
        assert_eq!(
            last.as_deref(),
            Some("Cascade from base@1.0.0: 1 planned out of 2 dependants visited (1 already queued)")
        );

        // Once left compiles with the compiler, the cascade goes through it as before.
        view.assume_compiles(&name("left"), v("1.0.0"), new);
        assert!(
            view.after_matrix(&[old, new], &name("base"), v("1.0.0"), new, &log)
                .unwrap()
                .iter()
                .all(|job| job.name != name("left"))
        );
    }

    #[test]
    fn dependants_are_found_by_range() {
        let range = |s: &str| Range::parse(s).unwrap();
        let deps = |name: &str, version: &str, on: &[(&str, &str)]| ManifestDeps {
            name: PackageName::parse(name).unwrap(),
            version: v(version),
            dependencies: on.iter().map(|(d, r)| (PackageName::parse(d).unwrap(), range(r))).collect(),
        };
        let view = MatrixView::new(
            vec![
                deps("base", "1.0.0", &[]),
                deps("old", "1.0.0", &[("base", ">=0.1.0 <1.0.0")]),
                deps("new", "1.0.0", &[("base", ">=1.0.0 <2.0.0")]),
                deps("new", "1.1.0", &[("base", ">=1.0.0 <2.0.0"), ("other", ">=1.0.0 <2.0.0")]),
            ],
            BTreeMap::new(),
        );
        let found: Vec<String> = view
            .dependants_of(&PackageName::parse("base").unwrap(), v("1.0.0"))
            .iter()
            .map(|m| format!("{}@{}", m.name, m.version))
            .collect();
        assert_eq!(found, ["new@1.0.0", "new@1.1.0"]);
        assert!(view.dependants_of(&PackageName::parse("new").unwrap(), v("1.0.0")).is_empty());
    }
}
