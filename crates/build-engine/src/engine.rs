//! The build engine: makes a persistent working directory hold a package set and
//! compiles it, trusting only outputs whose build key is known (see the crate docs).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use registry_compiler::{CompilerError, CompilerFailure, Purs};
use registry_core::build_plan::{BuildKey, Toolchain, build_keys};
use registry_core::package_set_batch::{CompileOutcome, PackageMap};
use registry_core::{ManifestIndex, PackageName, Version};
use sha2::{Digest, Sha256};

use crate::cache::{BuildCache, CachedOutput};
use crate::cachedb::{self, CacheDb};
use crate::progress::{BuildEvent, EventFn};
use crate::source::{PackageSource, module_name_of};
use crate::state::{self, Installed, JOURNAL_FILE, State};

/// Bump when the layout of working directories or cache entries changes (2: cache
/// entries record their content digest; the compiler's identity is memoised).
pub const ENGINE_VERSION: u32 = 2;

/// The source globs handed to purs (cwd = the working directory).
pub const SOURCE_GLOB: &str = "packages/*/src/**/*.purs";

/// Errors that stop a build (not compilation errors, which are an outcome).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the build working directory {dir} cannot be used: {reason}")]
    Io { dir: String, reason: String },
    #[error("installing {package} failed: {reason}")]
    Install { package: String, reason: String },
    #[error("the compiler could not run: {0}")]
    Compiler(CompilerFailure),
}

/// Totals over the engine's lifetime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub compiles: usize,
    pub modules_compiled: usize,
    pub packages_installed: usize,
    pub packages_restored: usize,
    /// Bytes copied from the cache into `output/` (restores and rollbacks).
    pub bytes_restored: u64,
    /// Bytes copied from `output/` into the cache.
    pub bytes_cached: u64,
}

/// What one [`Engine::build`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildReport {
    pub outcome: CompileOutcome,
    /// The compiler's errors when it failed.
    pub errors: Vec<CompilerError>,
    /// Whether purs ran (no run is needed when every package's output is known).
    pub compiled: bool,
    pub modules_compiled: usize,
    pub packages_installed: usize,
    pub packages_restored: usize,
    /// Packages handed to the compiler (neither trusted in the directory nor restored).
    pub packages_compiled: usize,
    pub bytes_restored: u64,
}

pub struct Engine {
    dir: PathBuf,
    compiler: Version,
    purs: Purs,
    cache: Arc<dyn BuildCache>,
    toolchain: Toolchain,
    state: State,
    pub stats: Stats,
    events: Option<EventFn>,
    /// Held (an exclusive lock on `lock`) while the engine lives: a job whose task
    /// outlived its timeout finishes before the next one touches the directory.
    _lock: std::fs::File,
}

fn io_err(dir: &Path, e: impl std::fmt::Display) -> EngineError {
    EngineError::Io { dir: dir.display().to_string(), reason: e.to_string() }
}

fn remove_dir_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

impl Engine {
    /// Opens (creating if needed) the working directory for `compiler` under `base`,
    /// repairing it if a previous job stopped in the middle of an attempt.
    pub fn open(
        base: &Path,
        compiler: Version,
        purs: Purs,
        cache: Arc<dyn BuildCache>,
    ) -> Result<Engine, EngineError> {
        let dir = base.join(format!("purs-{compiler}"));
        let binary = purs
            .locator
            .find(Some(compiler))
            .ok_or(EngineError::Compiler(CompilerFailure::MissingCompiler))?;
        let toolchain = Toolchain {
            compiler,
            compiler_digest: compiler_identity(&binary).map_err(|e| io_err(&binary, e))?,
            flags: "compile --json-errors (codegen js)".into(),
            engine_version: ENGINE_VERSION,
        };
        std::fs::create_dir_all(dir.join("packages")).map_err(|e| io_err(&dir, e))?;
        std::fs::create_dir_all(dir.join("output")).map_err(|e| io_err(&dir, e))?;
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))
            .map_err(|e| io_err(&dir, e))?;
        lock.lock().map_err(|e| io_err(&dir, e))?;
        let mut engine = Engine {
            _lock: lock,
            state: State::new(),
            dir,
            compiler,
            purs,
            cache,
            toolchain,
            stats: Stats::default(),
            events: None,
        };
        engine.recover()?;
        Ok(engine)
    }

    /// Reports what the engine does, as [`BuildEvent`]s, from now on.
    pub fn with_events(mut self, events: EventFn) -> Self {
        self.events = Some(events);
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn output_dir(&self) -> PathBuf {
        self.dir.join("output")
    }

    pub fn compiler(&self) -> Version {
        self.compiler
    }

    pub(crate) fn emit(&self, event: BuildEvent) {
        if let Some(events) = &self.events {
            events(&event);
        }
    }

    /// The compiler driver, reporting each module it starts as an event.
    fn observed_purs(&self) -> Purs {
        match &self.events {
            Some(events) => {
                let events = Arc::clone(events);
                self.purs.clone().with_progress(Arc::new(move |p| events(&BuildEvent::ModuleStarted(p))))
            }
            None => self.purs.clone(),
        }
    }

    fn io(&self, e: impl std::fmt::Display) -> EngineError {
        io_err(&self.dir, e)
    }

    /// Loads the record and, after an interrupted attempt (or without a readable
    /// record), brings the directory back to a state the record describes.
    fn recover(&mut self) -> Result<(), EngineError> {
        let journal = self.dir.join(JOURNAL_FILE);
        match state::read(&self.dir) {
            Some(state) => self.state = state,
            None => {
                // Without a record nothing in the directory can be trusted.
                remove_dir_if_present(&self.dir.join("output")).map_err(|e| self.io(e))?;
                remove_dir_if_present(&self.dir.join("packages")).map_err(|e| self.io(e))?;
                std::fs::create_dir_all(self.dir.join("packages")).map_err(|e| self.io(e))?;
                std::fs::create_dir_all(self.dir.join("output")).map_err(|e| self.io(e))?;
                self.state = State::new();
                state::write(&self.dir, &self.state).map_err(|e| self.io(e))?;
            }
        }
        if journal.exists() {
            self.emit(BuildEvent::Repairing);
            self.remove_unknown_entries()?;
            let db = self.trusted_cache_db(cachedb::read(&self.output_dir()).unwrap_or_default())?;
            cachedb::write(&self.output_dir(), &db).map_err(|e| self.io(e))?;
            std::fs::remove_file(&journal).map_err(|e| self.io(e))?;
        }
        Ok(())
    }

    /// Deletes `packages/` entries and output module directories that no recorded
    /// package owns (half-installed packages, outputs of packages that left).
    fn remove_unknown_entries(&self) -> Result<(), EngineError> {
        let known: BTreeSet<String> = self.state.iter().map(|(n, p)| p.dir_name(n)).collect();
        for entry in std::fs::read_dir(self.dir.join("packages")).map_err(|e| self.io(e))? {
            let entry = entry.map_err(|e| self.io(e))?;
            if !known.contains(&*entry.file_name().to_string_lossy()) {
                remove_dir_if_present(&entry.path()).map_err(|e| self.io(e))?;
            }
        }
        let owned: BTreeSet<&String> = self.state.values().flat_map(|p| p.modules.keys()).collect();
        for entry in std::fs::read_dir(self.output_dir()).map_err(|e| self.io(e))? {
            let entry = entry.map_err(|e| self.io(e))?;
            let is_dir = entry.file_type().map_err(|e| self.io(e))?.is_dir();
            if is_dir && !owned.contains(&entry.file_name().to_string_lossy().into_owned()) {
                remove_dir_if_present(&entry.path()).map_err(|e| self.io(e))?;
            }
        }
        Ok(())
    }

    /// `db` reduced to the trusted packages' modules; a trusted module without an
    /// entry gets one from its sources as they are now (its output is the key's).
    fn trusted_cache_db(&self, db: CacheDb) -> Result<CacheDb, EngineError> {
        let mut out = CacheDb::new();
        for (name, p) in &self.state {
            if p.key.is_none() {
                continue;
            }
            for (module, files) in &p.modules {
                match db.get(module) {
                    Some(entry)
                        if entry
                            .keys()
                            .all(|k| k.starts_with(&format!("packages/{}/", p.dir_name(name)))) =>
                    {
                        out.insert(module.clone(), entry.clone());
                    }
                    _ => {
                        out.insert(module.clone(), self.stamps(name, p, files)?);
                    }
                }
            }
        }
        Ok(out)
    }

    fn stamps(
        &self,
        name: &PackageName,
        p: &Installed,
        files: &[String],
    ) -> Result<cachedb::ModuleEntry, EngineError> {
        let mut entry = cachedb::ModuleEntry::new();
        for file in files {
            let rel = format!("packages/{}/{file}", p.dir_name(name));
            entry.insert(rel.clone(), cachedb::stamp(&self.dir.join(&rel)).map_err(|e| self.io(e))?);
        }
        Ok(entry)
    }

    fn save_state(&self) -> Result<(), EngineError> {
        state::write(&self.dir, &self.state).map_err(|e| self.io(e))
    }

    /// Makes the working directory hold exactly `target` and compiles it if any
    /// package's output is not known. Compilation errors are an outcome, not an `Err`.
    pub fn build(
        &mut self,
        target: &PackageMap,
        index: &ManifestIndex,
        source: &dyn PackageSource,
    ) -> Result<BuildReport, EngineError> {
        state::write_atomic(&self.dir, JOURNAL_FILE, "{\"attempt\":\"in progress\"}")
            .map_err(|e| self.io(e))?;
        let before = self.stats.clone();
        let keys = keys_for(target, index, source, &self.toolchain);
        let deps = dependencies_in(target, index);
        let order = topological_order(target, &deps);
        let output = self.output_dir();
        let mut db = cachedb::read(&output).unwrap_or_default();

        // 1. Packages that leave (or change version): forget them first, then delete.
        let leaving: Vec<(PackageName, Installed)> = self
            .state
            .iter()
            .filter(|(n, p)| target.get(*n) != Some(&p.version))
            .map(|(n, p)| (n.clone(), p.clone()))
            .collect();
        if !leaving.is_empty() {
            for (name, _) in &leaving {
                self.state.remove(name);
            }
            self.save_state()?;
            for (name, p) in &leaving {
                for module in p.modules.keys() {
                    remove_dir_if_present(&output.join(module)).map_err(|e| self.io(e))?;
                    db.remove(module);
                }
                remove_dir_if_present(&self.dir.join("packages").join(p.dir_name(name)))
                    .map_err(|e| self.io(e))?;
            }
            self.emit(BuildEvent::Removed { packages: leaving.len() });
        }

        // 2. Install what is missing (aside, then renamed into place).
        let missing: Vec<(&PackageName, Version)> =
            target.iter().filter(|(n, _)| !self.state.contains_key(*n)).map(|(n, v)| (n, *v)).collect();
        for (i, (name, version)) in missing.iter().enumerate() {
            let package = format!("{name}@{version}");
            self.emit(BuildEvent::Installing { index: i + 1, total: missing.len(), package });
            let installed = self.install(name, *version, source)?;
            self.state.insert((*name).clone(), installed);
        }
        if !missing.is_empty() {
            self.stats.packages_installed += missing.len();
            self.save_state()?;
            self.emit(BuildEvent::Installed { packages: missing.len() });
        }

        // 3. Trust only recorded keys that match, over trusted dependencies.
        let mut trusted: BTreeSet<PackageName> = BTreeSet::new();
        for name in &order {
            let p = &self.state[name];
            let matches = p.key.is_some() && p.key.as_ref() == keys.get(name);
            let deps_ok = deps[name].iter().all(|d| trusted.contains(d));
            let modules_ok = p.modules.keys().all(|m| db.contains_key(m));
            if matches && deps_ok && modules_ok {
                trusted.insert(name.clone());
            }
        }
        let mut untrusted_changed = false;
        for (name, p) in self.state.iter_mut() {
            if !trusted.contains(name) && p.key.is_some() {
                p.key = None;
                untrusted_changed = true;
            }
        }
        if untrusted_changed {
            self.save_state()?;
        }

        // 4. Restore from the cache, dependencies first.
        let restore_time = SystemTime::now();
        let mut restored = 0usize;
        for name in &order {
            if trusted.contains(name) || !deps[name].iter().all(|d| trusted.contains(d)) {
                continue;
            }
            let Some(key) = keys.get(name) else { continue };
            let cached = match self.cache.get(key) {
                Ok(Some(cached)) => cached,
                Ok(None) => continue,
                // Never trusted: thrown away so the rebuilt result can be stored.
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    let package = format!("{name}@{}", self.state[name].version);
                    self.emit(BuildEvent::CacheEntryDamaged { package, reason: e.to_string() });
                    self.cache.discard(key).map_err(|e| self.io(e))?;
                    continue;
                }
                Err(e) => return Err(self.io(e)),
            };
            let p = self.state[name].clone();
            let cached_modules: BTreeSet<&str> =
                cached.files.keys().filter_map(|f| f.split('/').next()).collect();
            if p.modules.keys().any(|m| !cached_modules.contains(m.as_str())) {
                continue; // An entry that does not cover the package is not used.
            }
            for module in p.modules.keys() {
                remove_dir_if_present(&output.join(module)).map_err(|e| self.io(e))?;
            }
            for (rel, bytes) in &cached.files {
                let path = output.join(rel);
                std::fs::create_dir_all(path.parent().expect("module dir")).map_err(|e| self.io(e))?;
                std::fs::write(&path, bytes).map_err(|e| self.io(e))?;
                let file = std::fs::File::options().write(true).open(&path).map_err(|e| self.io(e))?;
                file.set_modified(restore_time).map_err(|e| self.io(e))?;
            }
            for (module, files) in &p.modules {
                db.insert(module.clone(), self.stamps(name, &p, files)?);
            }
            self.stats.bytes_restored += cached.size();
            self.state.get_mut(name).expect("installed").key = Some(key.clone());
            trusted.insert(name.clone());
            restored += 1;
        }
        self.stats.packages_restored += restored;
        if restored > 0 {
            self.emit(BuildEvent::Restored { packages: restored });
        }

        // 5. Compile unless every package's output is known and no module is provided twice.
        let untrusted: Vec<&PackageName> = order.iter().filter(|n| !trusted.contains(*n)).collect();
        let db_trusted = self.trusted_cache_db(db)?;
        cachedb::write(&output, &db_trusted).map_err(|e| self.io(e))?;
        self.save_state()?;
        let mut report = BuildReport {
            outcome: CompileOutcome::Ok,
            errors: Vec::new(),
            compiled: false,
            modules_compiled: 0,
            packages_installed: missing.len(),
            packages_restored: restored,
            packages_compiled: 0,
            bytes_restored: self.stats.bytes_restored - before.bytes_restored,
        };
        if untrusted.is_empty() && !has_duplicate_modules(&self.state) {
            self.ensure_package_json()?;
            std::fs::remove_file(self.dir.join(JOURNAL_FILE)).map_err(|e| self.io(e))?;
            return Ok(report);
        }
        let to_compile: usize = untrusted.iter().map(|n| self.state[*n].modules.len()).sum();
        self.emit(BuildEvent::Compiling { packages: untrusted.len(), modules: to_compile });
        let externs_before = self.externs_mtimes();
        self.stats.compiles += 1;
        report.compiled = true;
        report.packages_compiled = untrusted.len();
        let result = self.observed_purs().compile(
            Some(self.compiler),
            Some(self.dir.clone()),
            vec![SOURCE_GLOB.into()],
            None,
        );
        match result {
            Ok(_) => {}
            Err(CompilerFailure::CompilationError(errors)) => {
                let dirs = self.state.iter().map(|(n, p)| p.dir_name(n)).collect();
                report.outcome = outcome_of(&errors, &dirs);
                report.errors = errors;
            }
            Err(other) => return Err(EngineError::Compiler(other)),
        }

        // 6. Trust what compiled, and keep it in the cache.
        let db_after = cachedb::read(&output).unwrap_or_default();
        for name in untrusted {
            let p = self.state[name].clone();
            let Some(key) = keys.get(name) else { continue };
            let prefix = format!("packages/{}/", p.dir_name(name));
            let compiled = p
                .modules
                .keys()
                .all(|m| db_after.get(m).is_some_and(|entry| entry.keys().all(|k| k.starts_with(&prefix))));
            if !compiled {
                continue;
            }
            if !self.cache.contains(key).map_err(|e| self.io(e))? {
                let mut files = BTreeMap::new();
                for module in p.modules.keys() {
                    collect_files(&output.join(module), module, &mut files).map_err(|e| self.io(e))?;
                }
                let out = CachedOutput { files };
                self.stats.bytes_cached += out.size();
                self.cache.put(key, &out).map_err(|e| self.io(e))?;
            }
            self.state.get_mut(name).expect("installed").key = Some(key.clone());
        }
        let externs_after = self.externs_mtimes();
        report.modules_compiled =
            externs_after.iter().filter(|(m, t)| externs_before.get(*m) != Some(*t)).count();
        self.stats.modules_compiled += report.modules_compiled;
        self.save_state()?;
        std::fs::remove_file(self.dir.join(JOURNAL_FILE)).map_err(|e| self.io(e))?;
        self.emit(BuildEvent::Compiled { modules: report.modules_compiled });
        Ok(report)
    }

    fn install(
        &self,
        name: &PackageName,
        version: Version,
        source: &dyn PackageSource,
    ) -> Result<Installed, EngineError> {
        let dir_name = format!("{name}@{version}");
        let staging = self.dir.join("packages").join(format!(".partial-{dir_name}"));
        remove_dir_if_present(&staging).map_err(|e| self.io(e))?;
        std::fs::create_dir_all(&staging).map_err(|e| self.io(e))?;
        source
            .install(name, version, &staging)
            .map_err(|reason| EngineError::Install { package: dir_name.clone(), reason })?;
        let modules = read_modules(&staging).map_err(|e| self.io(e))?;
        let dest = self.dir.join("packages").join(&dir_name);
        remove_dir_if_present(&dest).map_err(|e| self.io(e))?;
        std::fs::rename(&staging, &dest).map_err(|e| self.io(e))?;
        Ok(Installed { version, modules, key: None })
    }

    /// Since 0.15.0 purs writes `output/package.json` on every run; a build that needed
    /// no run writes it too, so the output equals a clean build's.
    fn ensure_package_json(&self) -> Result<(), EngineError> {
        let path = self.output_dir().join("package.json");
        if self.compiler >= Version::new(0, 15, 0) && !path.exists() {
            std::fs::write(path, "{\"type\":\"module\"}").map_err(|e| self.io(e))?;
        }
        Ok(())
    }

    fn externs_mtimes(&self) -> BTreeMap<String, SystemTime> {
        let output = self.output_dir();
        let mut out = BTreeMap::new();
        for p in self.state.values() {
            for module in p.modules.keys() {
                for file in ["externs.cbor", "externs.json"] {
                    if let Ok(t) =
                        std::fs::metadata(output.join(module).join(file)).and_then(|m| m.modified())
                    {
                        out.insert(module.clone(), t);
                        break;
                    }
                }
            }
        }
        out
    }

    /// The module names of every installed package (for tests and the bench).
    pub fn installed_modules(&self) -> BTreeMap<PackageName, BTreeSet<String>> {
        self.state.iter().map(|(n, p)| (n.clone(), p.modules.keys().cloned().collect())).collect()
    }
}

/// The sha256 of the compiler binary's bytes: two binaries that call themselves the
/// same version never share build keys. Hashing a purs binary costs a fraction of a
/// second, so it is done once per (canonical path, size, mtime) in this process; a
/// binary replaced in place changes its size or mtime and is hashed again.
pub fn compiler_identity(binary: &Path) -> std::io::Result<String> {
    type Seen = HashMap<(PathBuf, u64, SystemTime), String>;
    static SEEN: OnceLock<Mutex<Seen>> = OnceLock::new();
    let path = std::fs::canonicalize(binary)?;
    let meta = std::fs::metadata(&path)?;
    let id = (path, meta.len(), meta.modified()?);
    let seen = SEEN.get_or_init(Default::default);
    if let Some(digest) = seen.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
        return Ok(digest.clone());
    }
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(&id.0)?, &mut hasher)?;
    let digest = hex::encode(hasher.finalize());
    seen.lock().unwrap_or_else(|p| p.into_inner()).insert(id, digest.clone());
    Ok(digest)
}

fn collect_files(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) -> std::io::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let rel = format!("{prefix}/{}", entry.file_name().to_string_lossy());
        if entry.file_type()?.is_dir() {
            collect_files(&entry.path(), &rel, out)?;
        } else {
            out.insert(rel, std::fs::read(entry.path())?);
        }
    }
    Ok(())
}

/// Module name → input files (relative to the package dir) of `src/**/*.purs`.
fn read_modules(package_dir: &Path) -> std::io::Result<BTreeMap<String, Vec<String>>> {
    let mut modules = BTreeMap::new();
    let mut stack = vec![package_dir.join("src")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "purs") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let Some(module) = module_name_of(&text) else { continue };
                let rel =
                    path.strip_prefix(package_dir).expect("under the package").to_string_lossy().into_owned();
                let mut files = vec![rel.clone()];
                let js = path.with_extension("js");
                if js.exists() {
                    files.push(
                        js.strip_prefix(package_dir)
                            .expect("under the package")
                            .to_string_lossy()
                            .into_owned(),
                    );
                }
                modules.insert(module, files);
            }
        }
    }
    Ok(modules)
}

fn has_duplicate_modules(state: &State) -> bool {
    let mut seen = BTreeSet::new();
    state.values().flat_map(|p| p.modules.keys()).any(|m| !seen.insert(m))
}

/// Dependencies of each target package that are in the target.
pub fn dependencies_in(
    target: &PackageMap,
    index: &ManifestIndex,
) -> BTreeMap<PackageName, Vec<PackageName>> {
    target
        .iter()
        .map(|(n, v)| {
            let deps = index
                .lookup(n, *v)
                .map(|m| m.dependencies.keys().filter(|d| target.contains_key(*d)).cloned().collect())
                .unwrap_or_default();
            (n.clone(), deps)
        })
        .collect()
}

/// Dependencies first; members of a cycle last, in name order.
pub fn topological_order(
    target: &PackageMap,
    deps: &BTreeMap<PackageName, Vec<PackageName>>,
) -> Vec<PackageName> {
    let mut done: BTreeSet<PackageName> = BTreeSet::new();
    let mut order = Vec::new();
    loop {
        let ready: Vec<PackageName> = target
            .keys()
            .filter(|n| !done.contains(*n) && deps[*n].iter().all(|d| done.contains(d)))
            .cloned()
            .collect();
        if ready.is_empty() {
            break;
        }
        done.extend(ready.iter().cloned());
        order.extend(ready);
    }
    order.extend(target.keys().filter(|n| !done.contains(*n)).cloned());
    order
}

/// Build keys of the packages whose dependency closure is inside the target (the
/// others can never be cached: purs fails them with `ModuleNotFound`).
pub fn keys_for(
    target: &PackageMap,
    index: &ManifestIndex,
    source: &dyn PackageSource,
    toolchain: &Toolchain,
) -> BTreeMap<PackageName, BuildKey> {
    let mut complete = target.clone();
    loop {
        let incomplete: Vec<PackageName> = complete
            .iter()
            .filter(|(n, v)| {
                index.lookup(n, **v).is_none_or(|m| m.dependencies.keys().any(|d| !complete.contains_key(d)))
            })
            .map(|(n, _)| n.clone())
            .collect();
        if incomplete.is_empty() {
            break;
        }
        for n in incomplete {
            complete.remove(&n);
        }
    }
    build_keys(&complete, index, &|n, v| source.hash(n, v), toolchain).unwrap_or_default()
}

/// Error codes with which purs stops before building anything (contract §3.4).
const ABORTING: [&str; 4] =
    ["ModuleNotFound", "CycleInModules", "ErrorParsingModule", "CannotDefinePrimModules"];

/// The package an error's file belongs to: `packages/<name>@<version>/…`.
pub fn package_of_file(filename: &str, state_names: &BTreeSet<String>) -> Option<String> {
    let rest = filename.strip_prefix("packages/")?;
    let dir = rest.split('/').next()?;
    state_names.contains(dir).then(|| dir.rsplit_once('@').map_or(dir, |(n, _)| n).to_owned())
}

/// Maps purs's errors to the planner's outcome; `dirs` are the installed
/// `<name>@<version>` directory names.
pub fn outcome_of(errors: &[CompilerError], dirs: &BTreeSet<String>) -> CompileOutcome {
    let mut failing = BTreeSet::new();
    let mut aborted = false;
    for e in errors {
        if e.error_code == "DuplicateModule" {
            return CompileOutcome::Unattributed;
        }
        let Some(name) = package_of_file(&e.filename, dirs).and_then(|n| PackageName::parse(&n).ok()) else {
            return CompileOutcome::Unattributed;
        };
        failing.insert(name);
        aborted |= ABORTING.contains(&e.error_code.as_str());
    }
    if aborted { CompileOutcome::Aborted { failing } } else { CompileOutcome::Failed { failing } }
}
