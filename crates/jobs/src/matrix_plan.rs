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
    CascadeOutcome, CompilerIndex, DependantStatus, ManifestDeps, MatrixNote, MatrixSolverResult,
    build_compiler_index, published_compilers, solve_dependants_after_failure, solve_dependants_for_compiler,
    solve_for_all_compilers, update_compiler_index,
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
    notes: QueueNotes,
    /// Whether a dependant awaits the queued jobs of versions its ranges accept
    /// ([`DependantStatus::Awaiting`]) before it is solved.
    await_queued: bool,
}

impl MatrixView {
    pub fn new(manifests: Vec<ManifestDeps>, metadata: BTreeMap<PackageName, Metadata>) -> Self {
        let mut view = MatrixView {
            manifests: BTreeMap::new(),
            metadata,
            depending_on: HashMap::new(),
            index: None,
            notes: QueueNotes::default(),
            await_queued: true,
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
    /// queue never takes the same version and compiler again). Dependants do not
    /// await them: they may have ended before this process saw them.
    pub fn note_queued<'a>(&mut self, jobs: impl IntoIterator<Item = &'a MatrixSolverResult>) {
        self.notes.queued(jobs, false);
    }

    /// Records that these jobs were just queued, as new jobs, by this process:
    /// dependants await them until they compile or fail ([`MatrixView::note_failed`]).
    pub fn note_enqueued<'a>(&mut self, jobs: impl IntoIterator<Item = &'a MatrixSolverResult>) {
        self.notes.queued(jobs, true);
    }

    /// Records that the job of `name@version` with `compiler` failed: it is settled,
    /// so no dependant awaits it any more (it stays queued: the queue never takes
    /// it again).
    pub fn note_failed(&mut self, name: &PackageName, version: Version, compiler: Version) {
        self.notes.failed(name, version, compiler);
    }

    /// Whether dependants await the queued jobs of versions their ranges accept
    /// before they are solved (the default). Off, a dependant is solved as soon as
    /// its plan works, as upstream does: for a view that cannot learn every failure
    /// of the jobs it saw queued (jobs run by other processes).
    pub fn set_await_queued(&mut self, on: bool) {
        self.await_queued = on;
    }

    fn is_queued(&self, name: &PackageName, version: Version, compiler: Version) -> bool {
        self.notes.queued.get(name).is_some_and(|jobs| jobs.contains(&(version, compiler)))
    }

    /// A version of a dependency of `name@version` that its range accepts and whose
    /// job with `compiler` is queued and not settled (neither compiled nor failed),
    /// the highest such if several.
    fn awaited(
        &self,
        name: &PackageName,
        version: Version,
        compiler: Version,
    ) -> Option<(PackageName, Version)> {
        if !self.await_queued {
            return None;
        }
        let manifest = self.manifests.get(name)?.get(&version)?;
        let mut found: Option<(PackageName, Version)> = None;
        for (dependency, range) in &manifest.dependencies {
            let Some(jobs) = self.notes.awaitable.get(dependency) else { continue };
            let failed = self.notes.failed.get(dependency);
            let published = self.metadata.get(dependency).map(|m| &m.published);
            for &(queued, for_compiler) in jobs {
                let unsettled = for_compiler == compiler
                    && range.includes(queued)
                    && !failed.is_some_and(|f| f.contains(&(queued, compiler)))
                    && published
                        .and_then(|p| p.get(&queued))
                        .is_some_and(|entry| !entry.compilers.contains(&compiler));
                if unsettled && found.as_ref().is_none_or(|(n, v)| (n, *v) < (dependency, queued)) {
                    found = Some((dependency.clone(), queued));
                }
            }
        }
        found
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

    /// After a matrix job failed to compile `name@version` with `compiler`
    /// (nothing recorded): notes the failure, then solves its direct dependants
    /// that were awaiting it ([`solve_dependants_after_failure`]).
    pub fn after_matrix_failure(
        &mut self,
        compilers: &[Version],
        name: &PackageName,
        version: Version,
        compiler: Version,
        log: &dyn ActivityLog,
    ) -> Result<BTreeSet<MatrixSolverResult>, Failure> {
        self.note_failed(name, version, compiler);
        self.prepare(compilers)?;
        let index = &self.index.as_ref().expect("prepared").1;
        let outcome = solve_dependants_after_failure(
            index,
            compiler,
            name,
            version,
            |n, v| self.status(n, v, compiler),
            |n, v| self.dependants_of(n, v),
        );
        log_outcome(&outcome, &format!("After the failure of {name}@{version}"), "direct dependants", log);
        Ok(outcome.results)
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
        self.note_enqueued(&queue);
        let mut order = Vec::new();
        while order.len() < max_jobs.unwrap_or(usize::MAX)
            && let Some(job) = queue.pop_front()
        {
            self.assume_compiles(&job.name, job.version, compiler);
            let next = self.after_matrix(compilers, &job.name, job.version, compiler, log)?;
            self.note_enqueued(&next);
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
            |n, v| self.status(n, v, compiler),
            |n, v| self.dependants_of(n, v),
        );
        log_outcome(&outcome, &format!("Cascade from {name}@{version}"), "dependants", log);
        outcome.results
    }
}

impl MatrixView {
    /// What the cascade needs to know of a dependant: its metadata, unless it
    /// still needs `compiler` and its job is queued, or it awaits a queued job.
    fn status(&self, name: &PackageName, version: Version, compiler: Version) -> DependantStatus {
        match DependantStatus::from_metadata(&self.metadata, name, version) {
            DependantStatus::Published(compilers) if !compilers.contains(&compiler) => {
                if self.is_queued(name, version, compiler) {
                    DependantStatus::Queued
                } else if let Some((dependency, version)) = self.awaited(name, version, compiler) {
                    DependantStatus::Awaiting { dependency, version }
                } else {
                    DependantStatus::Published(compilers)
                }
            }
            status => status,
        }
    }
}

/// The notes of a cascade, then one line: `<what>: N planned out of M <visited> visited`.
fn log_outcome(outcome: &CascadeOutcome, what: &str, visited: &str, log: &dyn ActivityLog) {
    log_notes(&outcome.notes, log);
    log.info(&format!(
        "{what}: {} planned out of {} {visited} visited{}",
        outcome.results.len(),
        outcome.visited.len(),
        match outcome.queued {
            0 => String::new(),
            n => format!(" ({n} already queued)"),
        }
    ));
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
            MatrixNote::Awaiting { name, version, compiler, dependency, dependency_version } => {
                log.info(&format!(
                    "Not solving {name}@{version} with compiler {compiler} yet: the job of {dependency}@{dependency_version}, \
                     which it accepts, is still queued"
                ))
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

/// What a process knows of the matrix jobs in the queue beyond the registry's
/// files: which it saw queued, which of those it queued itself, and which of
/// those it saw fail.
#[derive(Clone, Default)]
struct QueueNotes {
    /// Per package: (version, compiler).
    queued: HashMap<PackageName, HashSet<(Version, Version)>>,
    /// The jobs of `queued` this process queued as new jobs: it sees each of them
    /// end (they may be awaited). A job found queued already may have failed
    /// before, unseen, and would be awaited for ever.
    awaitable: HashMap<PackageName, HashSet<(Version, Version)>>,
    /// Jobs of `queued` that failed, per package: (version, compiler).
    failed: HashMap<PackageName, HashSet<(Version, Version)>>,
}

impl QueueNotes {
    fn queued<'a>(&mut self, jobs: impl IntoIterator<Item = &'a MatrixSolverResult>, new: bool) {
        for job in jobs {
            let key = (job.version, job.compiler);
            self.queued.entry(job.name.clone()).or_default().insert(key);
            if new {
                self.awaitable.entry(job.name.clone()).or_default().insert(key);
            }
        }
    }

    fn failed(&mut self, name: &PackageName, version: Version, compiler: Version) {
        self.failed.entry(name.clone()).or_default().insert((version, compiler));
    }
}

/// The [`MatrixView`] kept across jobs (clones share it). Planning takes it in
/// turns; a view being used by a planner that crashed is simply read again.
#[derive(Clone)]
pub struct MatrixIndex {
    held: Arc<tokio::sync::Mutex<Option<Held>>>,
    /// Kept apart from the view, which is read again whenever the registry cannot
    /// say what changed: jobs noted before the first read, or before a re-read,
    /// are still known queued (and a dependant still awaits them).
    notes: Arc<std::sync::Mutex<QueueNotes>>,
    reads: Arc<std::sync::atomic::AtomicUsize>,
    /// [`MatrixView::set_await_queued`] for every view read.
    await_queued: bool,
}

impl Default for MatrixIndex {
    fn default() -> Self {
        MatrixIndex {
            held: Default::default(),
            notes: Default::default(),
            reads: Default::default(),
            await_queued: true,
        }
    }
}

impl MatrixIndex {
    /// Dependants await the queued jobs of versions they accept before they are
    /// solved: for one process that runs every matrix job it queues, so that it
    /// sees each of them succeed or fail ([`MatrixView::after_matrix_failure`]).
    pub fn new() -> Self {
        MatrixIndex::default()
    }

    /// Dependants are solved as soon as their plan works, as upstream does: for
    /// processes sharing a job queue, where a job noted queued here may fail in
    /// another process, unseen by this one's views.
    pub fn without_awaiting() -> Self {
        MatrixIndex { await_queued: false, ..MatrixIndex::default() }
    }

    /// Records that these jobs are in the queue, for the view kept now and every
    /// view read later; `new`: those of them this process has just queued as new
    /// jobs ([`MatrixView::note_enqueued`]; the others, [`MatrixView::note_queued`]).
    pub async fn note_queued(&self, jobs: &[MatrixSolverResult], new: &[MatrixSolverResult]) {
        let mut held = self.held.lock().await;
        let mut notes = self.notes.lock().expect("queue notes");
        notes.queued(jobs, false);
        notes.queued(new, true);
        if let Some(held) = held.as_mut() {
            held.view.note_queued(jobs);
            held.view.note_enqueued(new);
        }
    }

    /// Records that the job of `name@version` with `compiler` failed, for the view
    /// kept now and every view read later.
    pub async fn note_failed(&self, name: &PackageName, version: Version, compiler: Version) {
        let mut held = self.held.lock().await;
        self.notes.lock().expect("queue notes").failed(name, version, compiler);
        if let Some(held) = held.as_mut() {
            held.view.note_failed(name, version, compiler);
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
        let mut view = MatrixView::read(registry, index).await?;
        view.set_await_queued(self.await_queued);
        view.notes = self.notes.lock().expect("queue notes").clone();
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
    use registry_adapters::NullLog;
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

    /// `base` 1.0.0 and 1.1.0 (no dependencies, both published with `old`), and
    /// `mid` 1.0.0 accepting either.
    fn two_bases_and_mid() -> MatrixView {
        let range = Range::parse(">=1.0.0 <2.0.0").unwrap();
        let name = |s: &str| PackageName::parse(s).unwrap();
        let deps = |n: &str, version: &str, on: &[&str]| ManifestDeps {
            name: name(n),
            version: v(version),
            dependencies: on.iter().map(|d| (name(d), range)).collect(),
        };
        let metadata = |versions: &[&str]| {
            let entry = serde_json::json!({
                "bytes": 1, "compilers": ["0.15.0"],
                "hash": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
                "publishedTime": "2024-01-01T00:00:00.000Z", "ref": "v1.0.0" });
            let published: serde_json::Map<String, serde_json::Value> =
                versions.iter().map(|version| (version.to_string(), entry.clone())).collect();
            Metadata::decode(&serde_json::json!({
                "location": { "githubOwner": "o", "githubRepo": "r" },
                "published": published,
                "unpublished": {},
            }))
            .unwrap()
        };
        MatrixView::new(
            vec![deps("base", "1.0.0", &[]), deps("base", "1.1.0", &[]), deps("mid", "1.0.0", &["base"])],
            BTreeMap::from([
                (name("base"), metadata(&["1.0.0", "1.1.0"])),
                (name("mid"), metadata(&["1.0.0"])),
            ]),
        )
    }

    fn root(name: &str, version: &str, compiler: Version) -> MatrixSolverResult {
        MatrixSolverResult {
            compiler,
            name: PackageName::parse(name).unwrap(),
            resolutions: BTreeMap::new(),
            version: v(version),
        }
    }

    #[test]
    fn a_dependant_awaits_the_queued_job_of_a_newer_version_it_accepts() {
        let (old, new) = (v("0.15.0"), v("0.15.1"));
        let base = PackageName::parse("base").unwrap();
        let plan_of_mid = |view: &mut MatrixView| {
            let roots = [(base.clone(), v("1.0.0")), (base.clone(), v("1.1.0"))];
            let order = view.plan_flood(&[old, new], new, &roots, None, &NullLog).unwrap();
            let names: Vec<String> =
                order.iter().map(|job| format!("{}@{}", job.name, job.version)).collect();
            assert_eq!(names, ["base@1.0.0", "base@1.1.0", "mid@1.0.0"]);
            order[2].resolutions.clone()
        };
        // Planned after base@1.0.0's job, mid's plan could only pick base@1.0.0, and
        // every later dependant's plan picks base@1.1.0: mid would compile twice.
        assert_eq!(plan_of_mid(&mut two_bases_and_mid()), BTreeMap::from([(base.clone(), v("1.1.0"))]));

        // Without awaiting (upstream's order), it is planned after base@1.0.0's job.
        let mut upstream = two_bases_and_mid();
        upstream.set_await_queued(false);
        assert_eq!(plan_of_mid(&mut upstream), BTreeMap::from([(base, v("1.0.0"))]));
    }

    #[test]
    fn a_dependant_awaiting_a_job_that_fails_is_planned_without_it() {
        let (old, new) = (v("0.15.0"), v("0.15.1"));
        let base = PackageName::parse("base").unwrap();
        let mut view = two_bases_and_mid();
        let log = Lines::default();
        view.note_enqueued(&[root("base", "1.0.0", new), root("base", "1.1.0", new)]);
        view.assume_compiles(&base, v("1.0.0"), new);
        let after_first = view.after_matrix(&[old, new], &base, v("1.0.0"), new, &log).unwrap();
        assert!(after_first.is_empty(), "mid awaits base@1.1.0: {after_first:?}");
        assert!(log.0.lock().unwrap().iter().any(|line| line
            == "Not solving mid@1.0.0 with compiler 0.15.1 yet: the job of base@1.1.0, which it accepts, is still queued"));

        // base@1.1.0's job fails: mid is planned with what compiles.
        let after_failure = view.after_matrix_failure(&[old, new], &base, v("1.1.0"), new, &log).unwrap();
        let planned: Vec<(String, BTreeMap<PackageName, Version>)> =
            after_failure.iter().map(|job| (job.name.to_string(), job.resolutions.clone())).collect();
        assert_eq!(planned, [("mid".to_string(), BTreeMap::from([(base.clone(), v("1.0.0"))]))]);

        // Once mid is queued, a cascade reaching it again leaves it alone.
        view.note_queued(&after_failure);
        assert!(view.after_matrix_failure(&[old, new], &base, v("1.1.0"), new, &log).unwrap().is_empty());
    }

    #[test]
    fn a_dependant_never_awaits_a_job_that_was_queued_before_this_process_saw_it() {
        // base@1.1.0's job was found in the queue already: it may have failed in a
        // process before this one, and no end of it would ever come back here.
        let (old, new) = (v("0.15.0"), v("0.15.1"));
        let base = PackageName::parse("base").unwrap();
        let mut view = two_bases_and_mid();
        view.note_enqueued(&[root("base", "1.0.0", new)]);
        view.note_queued(&[root("base", "1.1.0", new)]);
        view.assume_compiles(&base, v("1.0.0"), new);
        let planned = view.after_matrix(&[old, new], &base, v("1.0.0"), new, &NullLog).unwrap();
        let planned: Vec<(String, BTreeMap<PackageName, Version>)> =
            planned.iter().map(|job| (job.name.to_string(), job.resolutions.clone())).collect();
        assert_eq!(planned, [("mid".to_string(), BTreeMap::from([(base, v("1.0.0"))]))]);
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
