//! The incremental build, with purs's rules (purs `Make`, `Make.BuildPlan`, `Make.Cache`):
//!
//! 1. Input check per module against `cache-db.json`: a file whose mtime is unchanged is
//!    not hashed; a changed mtime costs a hash and counts as a change only if the bytes
//!    changed; added or removed input files (e.g. the FFI `.js`) are changes.
//! 2. An unchanged module is reusable only if its externs exist for this compiler version
//!    and every requested target file exists with an mtime at least the externs'.
//! 3. Prebuilt propagation: a reusable module is kept only if every transitive dependency
//!    is kept and none has a newer externs file. No early cutoff: a rebuilt module rebuilds
//!    all its dependents.
//! 4. A module that fails makes its dependents skip silently; both lose their cache-db
//!    entries. Entries of modules outside the input set are kept. Nothing is ever deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use registry_core::Version;

use crate::cache_db::{self, CacheDb, CacheInfo, FileStamp};
use crate::diagnostics::{Diagnostic, FileSpan};
use crate::interface::{self, Interface, prim_interface};
use crate::modgraph::{self, Analysis};
use crate::output::{self, ModuleOutput, Targets};
use crate::sources::SourceFile;

/// What a build needs besides the sources.
#[derive(Debug, Clone)]
pub struct MakeRequest {
    pub output: PathBuf,
    pub targets: Targets,
    pub prefix: bool,
    pub compiler: Version,
    /// The directory relative input paths are read from; cache keys are relative to it.
    pub cwd: PathBuf,
    /// Sleep per compiled module (`PURS_STANDIN_DELAY_MS`), to make builds slow in tests.
    pub delay: Duration,
}

/// How a build ended.
#[derive(Debug)]
pub enum MakeOutcome {
    /// Rejected before anything was read from or written to the output directory.
    Aborted(Vec<Diagnostic>),
    /// Built (possibly with per-module errors, in module-name order).
    Built { errors: Vec<Diagnostic>, rebuilt: Vec<String>, interfaces: BTreeMap<String, Interface> },
}

/// First cache-db release.
const CACHE_DB_SINCE: Version = Version::new(0, 13, 4);
const PACKAGE_JSON_SINCE: Version = Version::new(0, 15, 0);

/// Runs a build. `progress(i, n, module)` is called as each rebuilt module starts.
pub fn make(
    files: &[SourceFile],
    request: &MakeRequest,
    progress: &mut dyn FnMut(usize, usize, &str) -> io::Result<()>,
) -> io::Result<MakeOutcome> {
    if let Err(errors) = modgraph::check_module_names(files) {
        return Ok(MakeOutcome::Aborted(errors));
    }
    let analysis = match modgraph::analyse(files, request.compiler) {
        Ok(analysis) => analysis,
        Err(errors) => return Ok(MakeOutcome::Aborted(errors)),
    };
    let uses_cache_db = request.compiler >= CACHE_DB_SINCE;
    let old_db = if uses_cache_db { cache_db::read(&request.output) } else { CacheDb::new() };

    let statuses: Vec<Status> =
        files.iter().map(|f| status(f, &old_db, request, uses_cache_db)).collect::<io::Result<_>>()?;
    let prebuilt = propagate_prebuilt(&statuses, &analysis);

    let mut interfaces: BTreeMap<String, Interface> = BTreeMap::new();
    for &m in &analysis.order {
        if prebuilt.contains(&m)
            && let Some((iface, _)) = &statuses[m].usable
        {
            interfaces.insert(files[m].module.name.clone(), iface.clone());
        }
    }
    let to_rebuild: Vec<usize> = analysis.order.iter().copied().filter(|m| !prebuilt.contains(m)).collect();
    std::fs::create_dir_all(&request.output)?;

    let mut failed: BTreeMap<String, Vec<Diagnostic>> = BTreeMap::new();
    let mut not_built: BTreeSet<usize> = BTreeSet::new();
    let mut rebuilt = Vec::new();
    let mut started = 0;
    for &m in &to_rebuild {
        let file = &files[m];
        // purs parses the body before waiting for dependencies: a syntax error fails the
        // module even when a dependency failed, and before it counts as started.
        if !file.module.body_errors.is_empty() {
            let errors =
                file.module.body_errors.iter().map(|e| Diagnostic::parse_error(&file.path, e)).collect();
            failed.insert(file.module.name.clone(), errors);
            not_built.insert(m);
            continue;
        }
        if analysis.transitive[m].iter().any(|d| not_built.contains(d)) {
            not_built.insert(m);
            continue;
        }
        started += 1;
        progress(started, to_rebuild.len(), &file.module.name)?;
        if !request.delay.is_zero() {
            std::thread::sleep(request.delay);
        }
        match build_one(file, &analysis.direct[m], files, &interfaces, request, &statuses[m])? {
            Ok(iface) => {
                interfaces.insert(file.module.name.clone(), iface);
                rebuilt.push(file.module.name.clone());
            }
            Err(errors) => {
                failed.insert(file.module.name.clone(), errors);
                not_built.insert(m);
            }
        }
    }

    if uses_cache_db {
        let mut db = old_db;
        for (m, f) in files.iter().enumerate() {
            if not_built.contains(&m) {
                db.remove(&f.module.name);
            } else {
                db.insert(f.module.name.clone(), statuses[m].new_info.clone());
            }
        }
        std::fs::write(request.output.join(cache_db::FILE_NAME), cache_db::render(&db))?;
    }
    if request.compiler >= PACKAGE_JSON_SINCE {
        std::fs::write(request.output.join("package.json"), "{\"type\":\"module\"}")?;
    }
    if request.targets.docs {
        output::write_prim_docs(&request.output, &interface::prim_modules(request.compiler))?;
    }
    Ok(MakeOutcome::Built { errors: failed.into_values().flatten().collect(), rebuilt, interfaces })
}

/// What the build plan knows about one module before building.
struct Status {
    /// Inputs unchanged since the cache entry.
    up_to_date: bool,
    /// The new cache entry (mtimes, hashes) for this module's inputs.
    new_info: CacheInfo,
    /// The module's sibling `.js` file, if any.
    foreign: Option<PathBuf>,
    /// Reusable output: exports read from the externs, and the externs' mtime.
    usable: Option<(Interface, SystemTime)>,
}

fn resolve(cwd: &Path, path: &str) -> PathBuf {
    cwd.join(path)
}

fn sibling_js(path: &str) -> Option<String> {
    path.strip_suffix(".purs").map(|stem| format!("{stem}.js"))
}

fn status(
    file: &SourceFile,
    old_db: &CacheDb,
    request: &MakeRequest,
    uses_cache_db: bool,
) -> io::Result<Status> {
    let cwd = &request.cwd;
    let foreign = sibling_js(&file.path).filter(|js| resolve(cwd, js).is_file());
    let inputs: Vec<&str> = std::iter::once(file.path.as_str()).chain(foreign.as_deref()).collect();
    let module_dir = request.output.join(&file.module.name);
    let externs_path = module_dir.join(output::externs_file_name(request.compiler));
    let externs_mtime = std::fs::metadata(&externs_path).and_then(|m| m.modified()).ok();

    let mut new_info = CacheInfo::new();
    let up_to_date = if uses_cache_db {
        let old = old_db.get(&file.module.name).cloned().unwrap_or_default();
        let keys: Vec<String> = inputs.iter().map(|p| cache_db::cache_key(p, cwd)).collect();
        let mut unchanged = old.keys().all(|k| keys.contains(k));
        for (path, key) in inputs.iter().zip(keys) {
            let full = resolve(cwd, path);
            let mtime = cache_db::format_mtime(std::fs::metadata(&full)?.modified()?);
            match old.get(&key) {
                Some(stamp) if stamp.mtime == mtime => {
                    new_info.insert(key, stamp.clone());
                }
                previous => {
                    let sha512 = cache_db::sha512_hex(&std::fs::read(&full)?);
                    unchanged &= previous.is_some_and(|p| p.sha512 == sha512);
                    new_info.insert(key, FileStamp { mtime, sha512 });
                }
            }
        }
        unchanged
    } else {
        // Before the cache-db existed, an input newer than the externs meant a rebuild.
        let mut older = externs_mtime.is_some();
        for path in &inputs {
            let mtime = std::fs::metadata(resolve(cwd, path))?.modified()?;
            older &= externs_mtime.is_some_and(|e| mtime <= e);
        }
        older
    };

    let usable =
        if up_to_date { usable_output(&module_dir, &externs_path, externs_mtime, request) } else { None };
    Ok(Status { up_to_date, new_info, foreign: foreign.map(|js| resolve(cwd, &js)), usable })
}

fn usable_output(
    module_dir: &Path,
    externs_path: &Path,
    externs_mtime: Option<SystemTime>,
    request: &MakeRequest,
) -> Option<(Interface, SystemTime)> {
    let externs_mtime = externs_mtime?;
    let iface = output::read_externs(externs_path, request.compiler)?;
    for file in request.targets.files() {
        let mtime = std::fs::metadata(module_dir.join(file)).and_then(|m| m.modified()).ok()?;
        if mtime < externs_mtime {
            return None;
        }
    }
    Some((iface, externs_mtime))
}

fn propagate_prebuilt(statuses: &[Status], analysis: &Analysis) -> BTreeSet<usize> {
    let mut prebuilt = BTreeSet::new();
    for &m in &analysis.order {
        let Some((_, own)) = &statuses[m].usable else { continue };
        if !statuses[m].up_to_date {
            continue;
        }
        let deps_ok = analysis.transitive[m].iter().all(|d| {
            prebuilt.contains(d) && statuses[*d].usable.as_ref().is_some_and(|(_, dep_time)| dep_time <= own)
        });
        if deps_ok {
            prebuilt.insert(m);
        }
    }
    prebuilt
}

fn build_one(
    file: &SourceFile,
    direct: &[usize],
    files: &[SourceFile],
    interfaces: &BTreeMap<String, Interface>,
    request: &MakeRequest,
    status: &Status,
) -> io::Result<Result<Interface, Vec<Diagnostic>>> {
    let module = &file.module;
    let prims: BTreeMap<String, Interface> = module
        .imports
        .iter()
        .filter_map(|i| Some((i.module.clone(), prim_interface(&i.module, request.compiler)?)))
        .collect();
    let lookup = |name: &str| interfaces.get(name).or_else(|| prims.get(name));

    let mut errors = interface::check_imports(module, &file.path, lookup);
    let needs_ffi = module.has_foreign_values();
    if needs_ffi && status.foreign.is_none() {
        errors.push(Diagnostic {
            code: "MissingFFIModule",
            lines: vec![format!("The foreign module implementation for module {} is missing.", module.name)],
            spans: vec![FileSpan { file: file.path.clone(), span: module.span }],
            module: Some(module.name.clone()),
        });
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let exports = interface::exports(module, lookup);
    let imports: Vec<String> = direct.iter().map(|&d| files[d].module.name.clone()).collect();
    ModuleOutput {
        module,
        path: &file.path,
        exports: &exports,
        imports: &imports,
        foreign: if needs_ffi { status.foreign.as_deref() } else { None },
        compiler: request.compiler,
        targets: request.targets,
        prefix: request.prefix,
    }
    .write(&request.output)?;
    Ok(Ok(exports))
}
