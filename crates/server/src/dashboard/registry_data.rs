//! The registry's files as the dashboard shows them: metadata, manifests, dependants
//! and package sets, read through the server's own checkouts and kept in memory.
//!
//! Pages never wait for git or the disk: they read the last loaded [`RegistryData`].
//! A request notices when the checkouts changed (their git index file was rewritten,
//! which every commit, fetch-and-reset and clone does) and starts one reload in the
//! background; a reload that fails keeps the previous data and reports why.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use registry_adapters::GitRepo;
use registry_core::json::Codec;
use registry_core::{Manifest, Metadata, PackageName, PackageSet, Version};

/// Checkouts are looked at (two `stat`s) at most this often.
const CHECK_EVERY: Duration = Duration::from_secs(2);
/// Reloaded at least this often even when nothing seemed to change, so a checkout
/// that only the remote moved (read through the adapters, which fetch) catches up.
const RELOAD_AT_LEAST_EVERY: Duration = Duration::from_secs(120);

#[derive(Default)]
pub struct RegistryData {
    pub metadata: BTreeMap<PackageName, Metadata>,
    pub manifests: BTreeMap<PackageName, BTreeMap<Version, Manifest>>,
    /// Packages with some version depending on the key.
    pub dependants: BTreeMap<PackageName, BTreeSet<PackageName>>,
    /// Ascending by version.
    pub sets: Vec<PackageSet>,
    /// Per set of `sets`: packages added, updated and removed against the one before.
    pub set_changes: Vec<(usize, usize, usize)>,
    pub loaded_in: Duration,
}

impl RegistryData {
    pub fn set(&self, version: &Version) -> Option<(usize, &PackageSet)> {
        self.sets.iter().enumerate().find(|(_, s)| &s.version == version)
    }
}

pub struct RegistrySource {
    pub registry: Arc<dyn GitRepo>,
    pub index: Arc<dyn GitRepo>,
    /// The checkouts' git index files, whose change means the files changed.
    pub watched: Vec<PathBuf>,
    /// Where clients download tarballs (`S3_API_URL` with S3 storage); empty for this
    /// server's own `/<name>/<version>.tar.gz`.
    pub tarball_base: String,
}

impl RegistrySource {
    pub fn with_tarball_base(mut self, base: Option<&str>) -> Self {
        self.tarball_base = base.unwrap_or_default().trim_end_matches('/').to_owned();
        self
    }
}

pub struct RegistryCache {
    source: RegistrySource,
    current: RwLock<Option<Arc<RegistryData>>>,
    last_error: Mutex<Option<String>>,
    check: Mutex<Check>,
    loading: AtomicBool,
}

struct Check {
    at: Option<Instant>,
    loaded_at: Option<Instant>,
    fingerprint: Vec<Option<SystemTime>>,
}

impl RegistryCache {
    pub fn tarball_base(&self) -> &str {
        &self.source.tarball_base
    }

    pub fn new(source: RegistrySource) -> Arc<Self> {
        Arc::new(RegistryCache {
            source,
            current: RwLock::new(None),
            last_error: Mutex::new(None),
            check: Mutex::new(Check { at: None, loaded_at: None, fingerprint: Vec::new() }),
            loading: AtomicBool::new(false),
        })
    }

    /// The data last loaded (`None` until the first load ends), starting a reload
    /// in the background when the checkouts changed.
    pub fn get(self: &Arc<Self>) -> Option<Arc<RegistryData>> {
        self.reload_if_changed();
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Why the last reload failed, if it did.
    pub fn error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn fingerprint(&self) -> Vec<Option<SystemTime>> {
        self.source.watched.iter().map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok()).collect()
    }

    fn reload_if_changed(self: &Arc<Self>) {
        let mut check = self.check.lock().unwrap_or_else(|e| e.into_inner());
        if check.at.is_some_and(|at| at.elapsed() < CHECK_EVERY) {
            return;
        }
        check.at = Some(Instant::now());
        let fingerprint = self.fingerprint();
        let due = check.loaded_at.is_none_or(|at| at.elapsed() >= RELOAD_AT_LEAST_EVERY);
        if fingerprint == check.fingerprint && !due {
            return;
        }
        if self.loading.swap(true, Ordering::SeqCst) {
            return;
        }
        check.fingerprint = fingerprint;
        check.loaded_at = Some(Instant::now());
        drop(check);
        let this = self.clone();
        tokio::spawn(async move {
            this.reload().await;
            this.loading.store(false, Ordering::SeqCst);
        });
    }

    /// Loads everything now (start-up, and tests that want fresh data).
    pub async fn reload(&self) {
        let started = Instant::now();
        match load(&self.source).await {
            Ok(mut data) => {
                data.loaded_in = started.elapsed();
                tracing::debug!("dashboard: registry data loaded in {:?}", data.loaded_in);
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(data));
                *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
            Err(err) => {
                tracing::warn!("dashboard: reading the registry data failed: {err}");
                *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(err);
            }
        }
    }
}

async fn load(source: &RegistrySource) -> Result<RegistryData, String> {
    let metadata = registry_jobs::registry::all_metadata(source.registry.as_ref()).await.map_err(|e| e.0)?;
    let mut manifests: BTreeMap<PackageName, BTreeMap<Version, Manifest>> = BTreeMap::new();
    let mut dependants: BTreeMap<PackageName, BTreeSet<PackageName>> = BTreeMap::new();
    for manifest in registry_jobs::registry::all_manifests(source.index.as_ref()).await.map_err(|e| e.0)? {
        for dependency in manifest.dependencies.keys() {
            dependants.entry(dependency.clone()).or_default().insert(manifest.name.clone());
        }
        manifests.entry(manifest.name.clone()).or_default().insert(manifest.version, manifest);
    }
    let mut sets = Vec::new();
    let files =
        source.registry.list("package-sets").await.map_err(|e| format!("listing package-sets/: {e}"))?;
    for file in files.iter().filter(|f| f.ends_with(".json")) {
        let path = format!("package-sets/{file}");
        let Some(text) = source.registry.read(&path).await.map_err(|e| format!("reading {path}: {e}"))?
        else {
            continue;
        };
        match PackageSet::from_json_str(&text) {
            Ok(set) => sets.push(set),
            // One bad file must not hide the others; the server log names it.
            Err(e) => tracing::warn!("dashboard: {path} cannot be read: {e}"),
        }
    }
    sets.sort_by_key(|s| s.version);
    let set_changes = sets
        .iter()
        .enumerate()
        .map(|(i, set)| change_counts(i.checked_sub(1).map(|p| &sets[p]), set))
        .collect();
    Ok(RegistryData { metadata, manifests, dependants, sets, set_changes, loaded_in: Duration::ZERO })
}

/// How many packages `set` added, updated and removed against `previous`.
fn change_counts(previous: Option<&PackageSet>, set: &PackageSet) -> (usize, usize, usize) {
    let Some(previous) = previous else { return (set.packages.len(), 0, 0) };
    let (mut added, mut updated) = (0, 0);
    for (name, version) in &set.packages {
        match previous.packages.get(name) {
            None => added += 1,
            Some(old) if old != version => updated += 1,
            Some(_) => {}
        }
    }
    let kept = set.packages.len() - added;
    (added, updated, previous.packages.len() - kept)
}

impl RegistryCache {
    /// The registry repository, for questions the loaded files do not answer (history).
    pub fn repo(&self) -> &dyn GitRepo {
        self.source.registry.as_ref()
    }
}
