//! Package-set update jobs (upstream `API.packageSetUpdate`, inventory §3.6 and §5).
//!
//! Validation as upstream (latest set, no compiler or package downgrades, the latest
//! set valid, every candidate valid or the whole job fails). The batch is decided by
//! `registry_build::run_batch`: the same accepted changes as upstream's atomic-then-
//! one-at-a-time algorithm, with few compiles, in a working directory per compiler
//! reused across jobs. The new set is committed as `package-sets/<version>.json`,
//! then mirrored to the legacy package-sets repository (`legacy_mirror`).
//!
//! [`PackageSetUpdater::update`] is the whole update, for the job handler and for the
//! `registry package-set update` command alike. Updates of one data directory run one at
//! a time, across processes: each holds `<env.build_root>/update.lock` from reading the
//! latest set to committing (and mirroring) the new one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use registry_adapters::{CommitOutcome, FileChange, GitRepo, Storage};
use registry_build::{
    BuildCache, BuildEvent, Engine, EventFn, PackageSource, Stats, StorageCache, run_batch,
};
use registry_core::json::Codec;
use registry_core::manifest_index::{self, IncludeRanges};
use registry_core::metadata::{Metadata, PublishedMetadata};
use registry_core::operation::PackageSetUpdateData;
use registry_core::package_set_batch::Rejection;
use registry_core::package_set_rules::{
    Change, ChangeSet, commit_message, compute_new_version, order_changes, print_rejections,
    validate_candidates, validate_package_set,
};
use registry_core::{Manifest, ManifestIndex, PackageName, PackageSet, Sha256, Version, commit};

use crate::legacy_mirror::mirror_package_set;
use crate::registry::metadata_path;
use crate::verified::{unpack_verified, verify_tarball};
use crate::{Failure, JobEnv};

/// Runs package-set updates in the environment's build root (one working directory
/// per compiler version, kept across jobs) with its installed compilers.
#[derive(Clone, Default)]
pub struct PackageSetUpdater {
    /// Each compiler call's limit (`None`: only the job's own limit applies).
    pub compile_timeout: Option<Duration>,
    /// Extra environment variables for the compiler (tests slow the stand-in down).
    pub compiler_env: Vec<(String, String)>,
}

/// What a package-set update did.
#[derive(Debug)]
pub struct UpdateOutcome {
    /// The set the update started from (the latest one).
    pub previous: PackageSet,
    pub new_set: PackageSet,
    pub accepted: ChangeSet,
    /// Changes that did not compile, in batch order.
    pub rejected: Vec<Rejection>,
    /// What the builds cost.
    pub stats: Stats,
    /// `Skipped` in read-only mode.
    pub commit: CommitOutcome,
}

/// The lock file serializing package-set updates of one build root.
pub const UPDATE_LOCK: &str = "update.lock";

fn fail(message: impl Into<String>) -> Failure {
    Failure(message.into())
}

/// Tarballs from storage, each verified against its metadata entry (size and hash),
/// extracted into `packages/<name>@<version>/`.
struct StorageSource {
    storage: Arc<dyn Storage>,
    runtime: tokio::runtime::Handle,
    published: BTreeMap<(PackageName, Version), PublishedMetadata>,
}

impl PackageSource for StorageSource {
    fn install(&self, name: &PackageName, version: Version, dest: &Path) -> Result<(), String> {
        let published = self
            .published
            .get(&(name.clone(), version))
            .ok_or_else(|| format!("{name}@{version} is not published in the registry's metadata"))?;
        let bytes = self
            .runtime
            .block_on(self.storage.download(name, &version))
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{name}@{version} has no tarball in {}", self.storage.describe()))?;
        verify_tarball(name, version, &bytes, published)?;
        unpack_verified(name, version, &bytes, dest)
    }

    fn hash(&self, name: &PackageName, version: Version) -> Option<Sha256> {
        self.published.get(&(name.clone(), version)).map(|p| p.hash.clone())
    }
}

impl PackageSetUpdater {
    /// The highest-versioned `package-sets/<version>.json` of the registry repository.
    pub async fn latest_set(registry: &dyn GitRepo) -> Result<PackageSet, Failure> {
        let files = registry.list("package-sets").await?;
        let latest = files
            .iter()
            .filter_map(|f| {
                let file = f.rsplit('/').next()?;
                Version::parse(file.strip_suffix(".json")?).ok()
            })
            .max()
            .ok_or_else(|| fail("The registry has no package set yet, so there is nothing to update."))?;
        let path = format!("package-sets/{latest}.json");
        let text = registry.read(&path).await?.ok_or_else(|| fail(format!("{path} vanished")))?;
        PackageSet::from_json_str(&text).map_err(|e| fail(format!("{path} cannot be read: {e}")))
    }

    /// Manifests of `names` and everything they depend on, from the index repository.
    pub async fn load_index(
        index: &dyn GitRepo,
        names: BTreeSet<PackageName>,
    ) -> Result<ManifestIndex, Failure> {
        let mut manifests: Vec<Manifest> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut queue: Vec<PackageName> = names.into_iter().collect();
        while let Some(name) = queue.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let path = manifest_index::entry_path(&name);
            let Some(text) = index.read(&path).await? else { continue };
            let entries =
                manifest_index::parse_entry(&text).map_err(|e| fail(format!("index entry {path}: {e}")))?;
            for m in entries {
                queue.extend(m.dependencies.keys().filter(|d| !seen.contains(*d)).cloned());
                manifests.push(m);
            }
        }
        Ok(ManifestIndex::maximal(IncludeRanges::IgnoreRanges, &manifests).1)
    }

    async fn published(
        registry: &dyn GitRepo,
        wanted: &BTreeSet<(PackageName, Version)>,
    ) -> Result<BTreeMap<(PackageName, Version), PublishedMetadata>, Failure> {
        let mut out = BTreeMap::new();
        let mut metadata: BTreeMap<PackageName, Option<Metadata>> = BTreeMap::new();
        for (name, version) in wanted {
            if !metadata.contains_key(name) {
                let text = registry.read(&metadata_path(name)).await?;
                let parsed = text
                    .map(|t| Metadata::from_json_str(&t))
                    .transpose()
                    .map_err(|e| fail(format!("The registry's metadata for {name} cannot be read: {e}")))?;
                metadata.insert(name.clone(), parsed);
            }
            let entry = metadata[name].as_ref().and_then(|m| m.published.get(version)).cloned();
            let entry = entry.ok_or_else(|| {
                fail(format!("{name}@{version} is not published in the registry's metadata."))
            })?;
            out.insert((name.clone(), *version), entry);
        }
        Ok(out)
    }
}

/// A validated request: what the build starts from and what it tries.
struct Plan {
    latest: PackageSet,
    compiler: Version,
    index: ManifestIndex,
    /// The accepted candidates in upstream's order.
    ordered: Vec<(PackageName, Change)>,
    /// The metadata entry (size and hash) of every version the build may install.
    published: BTreeMap<(PackageName, Version), PublishedMetadata>,
}

/// What the build decided and what it cost.
struct Built {
    run: registry_build::BatchRun,
    stats: Stats,
    index: ManifestIndex,
}

impl PackageSetUpdater {
    /// One package-set update, exactly as a job runs it: validation against the latest
    /// set, the batch decided by compiling, `package-sets/<version>.json` committed
    /// through `env` (so read-only adapters commit nothing), dated by `env`'s clock.
    /// Progress goes to `env.log` (the build's phases as [`BuildEvent::log_line`]s) and
    /// every build event also to `events`. The job's id, if any, ends the commit
    /// message. No signature is checked here: whoever calls this acts as a trustee.
    pub async fn update(
        &self,
        env: &JobEnv,
        payload: &PackageSetUpdateData,
        events: Option<EventFn>,
    ) -> Result<UpdateOutcome, Failure> {
        let _serialized = self.lock_updates(env).await?;
        let plan = Self::plan(env, payload).await?;
        let built = self.build(env, &plan, events).await?;
        Self::release(env, plan, built).await
    }

    /// Reads the latest set and index fresh and validates the request against them.
    /// Invariant: nothing is built or written unless every candidate is valid and the
    /// batch changes something (upstream fails the whole job otherwise).
    async fn plan(env: &JobEnv, payload: &PackageSetUpdateData) -> Result<Plan, Failure> {
        let log = env.log.clone();
        // The update before this one may have run in another process.
        env.registry.refresh().await?;
        env.index.refresh().await?;
        let latest = Self::latest_set(env.registry.as_ref()).await?;
        log.info(&format!("Latest package set: {} (compiler {})", latest.version, latest.compiler));
        let compiler = payload.compiler.unwrap_or(latest.compiler);
        if compiler < latest.compiler {
            return Err(fail(format!(
                "Downgrading the compiler is not allowed: the latest set uses {}, the request asks for {compiler}.",
                latest.compiler
            )));
        }
        let downgrades: Vec<String> = payload
            .packages
            .iter()
            .filter_map(|(n, v)| match (v, latest.packages.get(n)) {
                (Some(v), Some(old)) if v < old => Some(format!("{n} ({old} -> {v})")),
                _ => None,
            })
            .collect();
        if !downgrades.is_empty() {
            return Err(fail(format!("Package downgrades are not allowed: {}", downgrades.join(", "))));
        }
        let names: BTreeSet<PackageName> =
            latest.packages.keys().chain(payload.packages.keys()).cloned().collect();
        let index = Self::load_index(env.index.as_ref(), names).await?;
        validate_package_set(&latest, &index)
            .map_err(|e| fail(format!("The latest package set {} is not valid: {e}", latest.version)))?;
        let validated = validate_candidates(&index, &latest, &payload.packages);
        if !validated.rejected.is_empty() {
            return Err(fail(print_rejections(&validated.rejected)));
        }
        let changes: ChangeSet = validated
            .accepted
            .iter()
            .map(|(n, v)| (n.clone(), v.map_or(Change::Remove, Change::Update)))
            .collect();
        if changes.is_empty() && compiler == latest.compiler {
            return Err(fail(
                "No packages in the suggested batch can be processed and the compiler is unchanged.",
            ));
        }
        let ordered = order_changes(&index, &latest, &changes);
        let mut wanted: BTreeSet<(PackageName, Version)> =
            latest.packages.iter().map(|(n, v)| (n.clone(), *v)).collect();
        wanted.extend(changes.iter().filter_map(|(n, c)| match c {
            Change::Update(v) => Some((n.clone(), *v)),
            Change::Remove => None,
        }));
        let published = Self::published(env.registry.as_ref(), &wanted).await?;
        log.info(&format!(
            "Building {} packages with {} changes using purs {compiler}",
            latest.packages.len(),
            ordered.len()
        ));
        Ok(Plan { latest, compiler, index, ordered, published })
    }

    /// Decides the batch by compiling in this compiler's working directory.
    /// Invariant: build results are read from and stored to the job's storage adapter
    /// only (READONLY's storage keeps them from the real one), and the compiler runs in
    /// blocking work the job owns, so a job that ends kills it.
    async fn build(&self, env: &JobEnv, plan: &Plan, events: Option<EventFn>) -> Result<Built, Failure> {
        let log = env.log.clone();
        let source = StorageSource {
            storage: env.storage.clone(),
            runtime: tokio::runtime::Handle::current(),
            published: plan.published.clone(),
        };
        let cache: Arc<dyn BuildCache> =
            Arc::new(StorageCache::new(env.storage.clone(), tokio::runtime::Handle::current(), log.clone()));
        let purs = self
            .compiler_env
            .iter()
            .fold(env.purs(self.compile_timeout), |purs, (key, value)| purs.with_env(key, value));
        let (root, compiler) = (env.build_root.clone(), plan.compiler);
        let (old, ordered, index) = (plan.latest.packages.clone(), plan.ordered.clone(), plan.index.clone());
        let progress_log = log.clone();
        let observer = events;
        let (run, stats, index) = registry_adapters::process::blocking(move || {
            // The observer first: a progress display ends its bar before the phase line.
            let events: EventFn = Arc::new(move |e: &BuildEvent| {
                if let Some(observer) = &observer {
                    observer(e)
                }
                match e.log_line() {
                    Some(line) if e.is_warning() => progress_log.warn(&line),
                    Some(line) => progress_log.info(&line),
                    None => {}
                }
            });
            let mut engine =
                Engine::open(&root, compiler, purs, cache).map_err(|e| e.to_string())?.with_events(events);
            let run = run_batch(&mut engine, &old, &ordered, &index, &source).map_err(|e| e.to_string())?;
            Ok::<_, String>((run, engine.stats.clone(), index))
        })
        .await
        .map_err(|e| fail(format!("The build task stopped: {e}")))?
        .map_err(fail)?;
        for rejection in &run.result.rejected {
            log.warn(&format!("{} was not added to the set: {}", rejection.name, rejection.reason));
        }
        log.info(&format!(
            "Build finished: {} compiler invocations, {} modules compiled, {} packages installed, {} restored from the cache, {} culprits found",
            stats.compiles,
            stats.modules_compiled,
            stats.packages_installed,
            stats.packages_restored,
            run.result.rejected.len()
        ));
        Ok(Built { run, stats, index })
    }

    /// Commits the new set, then mirrors it to the legacy repository.
    /// Invariant: a set is released only if it changes something, and it is committed
    /// before it is mirrored, so the mirror never names a set the registry lacks.
    async fn release(env: &JobEnv, plan: Plan, built: Built) -> Result<UpdateOutcome, Failure> {
        let log = env.log.clone();
        let Plan { latest, compiler, .. } = plan;
        let Built { run, stats, index } = built;
        let accepted = run.result.accepted_changes();
        if accepted.is_empty() && compiler == latest.compiler {
            return Err(fail("No packages could be added to the set: every change failed to compile."));
        }
        let version = compute_new_version(compiler, &latest, &accepted);
        let new_set = PackageSet {
            version,
            compiler,
            published: (env.clock)().date(),
            packages: run.result.packages(&latest.packages),
        };
        let job_id = env.job();
        let message = commit::append_job_id(&commit_message(&latest, &accepted, version), job_id);
        let commit = env
            .registry
            .commit(
                &[FileChange::write(format!("package-sets/{version}.json"), new_set.to_pretty())],
                &message,
                log.as_ref(),
            )
            .await?;
        if !matches!(commit, CommitOutcome::Skipped) {
            log.notice(&format!("Released package set {version}."));
        }
        mirror_package_set(env.legacy_package_sets.as_ref(), &index, &new_set, job_id, log.as_ref()).await?;
        Ok(UpdateOutcome {
            previous: latest,
            new_set,
            accepted,
            rejected: run.result.rejected,
            stats,
            commit,
        })
    }

    /// Waits until no other update of this build root runs (another job, or the
    /// command in another process), then holds the lock until the guard is dropped.
    async fn lock_updates(&self, env: &JobEnv) -> Result<std::fs::File, Failure> {
        let log = env.log();
        let path = env.build_root.join(UPDATE_LOCK);
        let cannot = |e: std::io::Error| fail(format!("Cannot lock {}: {e}", path.display()));
        std::fs::create_dir_all(&env.build_root).map_err(cannot)?;
        let file =
            std::fs::File::options().create(true).truncate(false).write(true).open(&path).map_err(cannot)?;
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::Error(e)) => return Err(cannot(e)),
            Err(std::fs::TryLockError::WouldBlock) => {}
        }
        log.info(&format!(
            "Another package-set update of this data directory is running (a job, or `registry package-set update`); waiting for it to finish ({})",
            path.display()
        ));
        tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .map_err(|e| fail(format!("Waiting for {} stopped: {e}", path.display())))?
            .map_err(cannot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry_core::Timestamp;

    /// Real local storage holding one real tarball of `tiny@1.0.0`.
    fn stored_tiny(dir: &Path) -> (Arc<dyn Storage>, Vec<u8>) {
        let src = dir.join("tiny-src");
        std::fs::create_dir_all(src.join("src")).unwrap();
        std::fs::write(src.join("src/Tiny.purs"), "module Tiny where\n\nx :: Int\nx = 1\n").unwrap();
        let mut tarball = Vec::new();
        registry_tarball::write_tarball(&src, "tiny-1.0.0", &mut tarball).unwrap();
        let storage: Arc<dyn Storage> = Arc::new(registry_adapters::LocalStorage::new(dir.join("storage")));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let name = PackageName::parse("tiny").unwrap();
        runtime
            .block_on(storage.upload(
                &name,
                &Version::new(1, 0, 0),
                bytes::Bytes::from(tarball.clone()),
                &registry_adapters::NullLog,
            ))
            .unwrap();
        (storage, tarball)
    }

    fn entry(bytes: u64, hash: Sha256) -> PublishedMetadata {
        PublishedMetadata {
            bytes,
            compilers: vec![Version::new(0, 15, 15)],
            hash,
            published_time: Timestamp::from_unix_millis(0),
            git_ref: Some(String::new()),
        }
    }

    #[test]
    fn the_package_set_source_refuses_a_tarball_whose_size_differs_from_its_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let (storage, tarball) = stored_tiny(dir.path());
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let (name, version) = (PackageName::parse("tiny").unwrap(), Version::new(1, 0, 0));
        let hash = Sha256::of_bytes(&tarball);
        let source = |bytes: u64| StorageSource {
            storage: storage.clone(),
            runtime: runtime.handle().clone(),
            published: [((name.clone(), version), entry(bytes, hash.clone()))].into_iter().collect(),
        };

        // The hash is right, the recorded size is not: refused before unpacking.
        let dest = dir.path().join("wrong-size");
        std::fs::create_dir_all(&dest).unwrap();
        let err = source(tarball.len() as u64 + 1).install(&name, version, &dest).unwrap_err();
        assert!(
            err.contains(&format!(
                "Integrity check failed for tiny@1.0.0: size mismatch (got {}, expected {})",
                tarball.len(),
                tarball.len() + 1
            )),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(&dest).unwrap().count(), 0, "nothing may be unpacked");

        // A wrong hash with the right size is refused too.
        let forged = StorageSource {
            published: [((name.clone(), version), entry(tarball.len() as u64, Sha256::of_bytes(b"other")))]
                .into_iter()
                .collect(),
            ..source(0)
        };
        let err = forged.install(&name, version, &dest).unwrap_err();
        assert!(err.contains("Integrity check failed for tiny@1.0.0: hash mismatch"), "{err}");

        // Size and hash as recorded: installed as the package directory itself.
        source(tarball.len() as u64).install(&name, version, &dest).unwrap();
        assert!(dest.join("src/Tiny.purs").is_file());
    }
}
