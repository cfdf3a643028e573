//! Publishing a package version (upstream `API.publish`, inventory §3.1).
//!
//! Steps, each failing with a sentence that says what to fix:
//! location gate → fetch the source at `ref` → manifest (`purs.json`, else
//! `spago.yaml`) → name, version and location agree with the request → licence →
//! build plan (solve, or check the given resolutions) → module names →
//! install dependencies (verified) → unused/missing dependencies (`purs graph`) →
//! package files → compile exactly what ships → reproducible tarball within the
//! size limits → upload (never overwrite) → metadata commit → index commit →
//! documentation (best effort).
//!
//! Durable effects happen in the order storage, metadata, index, so a retried job
//! finds one of these states and completes it:
//! - tarball stored, metadata not written: the fresh tarball is compared with the
//!   stored one (size and hash) and the stored one is reused;
//! - metadata written, index entry missing: the stored tarball is downloaded with
//!   integrity checks and its `purs.json` must equal the manifest received now;
//!   then the index entry is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use registry_adapters::{FileChange, StorageError, tarball_key};
use registry_compiler::graph::parse_installed_module_path;
use registry_compiler::purs::{GRAPH_SINCE, PURSUIT_PUBLISH_SINCE};
use registry_compiler::{CompilerFailure, Purs};
use registry_core::json::{self, Codec};
use registry_core::license_detect::{self, RepoFile};
use registry_core::manifest_index::{entry_path, print_entry};
use registry_core::metadata::PublishedMetadata;
use registry_core::operation::PublishData;
use registry_core::package_files::{include_modules_error, select_package_files};
use registry_core::solver::{ManifestDeps, build_compiler_index, published_compilers, solve_with_compiler};
use registry_core::spago_yaml::{SpagoYaml, spago_yaml_to_manifest};
use registry_core::validation::{
    TarballSize, UnresolvedDependency, format_pursuit_resolutions, get_unresolved_dependencies,
    validate_purs_modules, validate_tarball_size,
};
use registry_core::{
    IncludeRanges, License, Location, Manifest, ManifestIndex, Metadata, PackageName, Range, Sha256, Version,
    commit,
};

use crate::files::{copy_tree, list_tree, purs_files, root_text_files};
use crate::registry::{metadata_path, reachable, read_entry, read_metadata};
use crate::{Context, Failure, JobEnv};

/// Module names are enforced from this compiler on (older code may not parse).
const MODULE_CHECK_SINCE: Version = Version::new(0, 15, 0);
/// A gzip stream of an empty tar is larger than this: anything smaller is broken.
const MIN_TARBALL_BYTES: usize = 30;

/// What a successful publish wrote: the version and the compiler it was verified
/// with, which the compiler matrix starts from (upstream's `{ compiler,
/// dependencies, version }` result of `API.publish`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub name: PackageName,
    pub version: Version,
    pub compiler: Version,
    /// The manifest's dependency ranges.
    pub dependencies: BTreeMap<PackageName, Range>,
    /// The build plan it was compiled with.
    pub resolutions: BTreeMap<PackageName, Version>,
}

/// Runs publish jobs with a compiler driver (its installed compilers are the
/// registry's supported compilers).
#[derive(Clone)]
pub struct Publisher {
    pub purs: Purs,
}

/// Where the job's files are.
struct Dirs {
    /// The checkout's package directory (the clone, or its `subdir`).
    package: PathBuf,
    /// The clone itself (where `purs publish` runs).
    clone: PathBuf,
    /// `<work>/.registry`: installed dependencies, `<name>-<version>/` each.
    deps: PathBuf,
    /// `<work>/<name>-<version>`: exactly what ships.
    packaging: PathBuf,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        Failure(format!("Internal error: a publishing step crashed ({e}). This is a bug in the registry."))
    })
}

fn location_text(location: &Location) -> String {
    json::print_compact(&location.encode())
}

impl Publisher {
    pub fn new(purs: Purs) -> Self {
        Publisher { purs }
    }

    /// Publishes, or completes an earlier attempt that stopped before the index
    /// entry; either way the version is then in the registry as returned.
    pub async fn run(&self, env: &JobEnv, data: &PublishData) -> Result<Published, Failure> {
        let log = env.log();
        let name = &data.name;
        let version = data.version;
        let id = format!("{name}@{version}");
        if name.as_str() == "metadata" {
            return Err(Failure::new(
                "The package name 'metadata' is reserved by the registry; choose another name.",
            ));
        }

        // 1. Location gate.
        let mut metadata = match (read_metadata(env.registry.as_ref(), name).await?, &data.location) {
            (None, None) => {
                return Err(Failure(format!(
                    "Cannot register {name} because the payload did not include a 'location' field. Add \
                     \"location\" (for example {{\"githubOwner\": \"me\", \"githubRepo\": \"purescript-{name}\"}}) \
                     to the request."
                )));
            }
            (None, Some(location)) => Metadata::new(location.clone()),
            (Some(existing), Some(location)) if existing.location != *location => {
                return Err(Failure(format!(
                    "{name} is registered at {} but the request gives the location {}. To move the package, \
                     submit a transfer; otherwise omit 'location' or give the registered one.",
                    location_text(&existing.location),
                    location_text(location)
                )));
            }
            (Some(existing), _) => existing,
        };
        if metadata.unpublished.contains_key(&version) {
            return Err(Failure(format!(
                "{id} was unpublished and a version cannot be published twice; publish a new version instead."
            )));
        }

        // 2. Fetch.
        let dirs = self.fetch(env, &metadata.location, data).await?;

        // 3. Some modules.
        let src = dirs.package.join("src");
        let modules = {
            let src = src.clone();
            blocking(move || purs_files(&src)).await?
        };
        if modules.is_empty() {
            return Err(Failure(format!(
                "{id} has no PureScript modules: the src directory at ref '{}' must contain at least one .purs file.",
                data.git_ref
            )));
        }

        // 4–6. Manifest, checked against the request and the registered location.
        let manifest = read_manifest(&dirs.package, &data.git_ref)?;
        check_manifest(&manifest, data, &metadata.location)?;
        log.info(&format!("Read the manifest of {id}"));
        // The manifest is trusted for owners only.
        metadata.owners = manifest.owners.clone();

        // 7. Licence.
        check_licence(&dirs.package, &manifest.license)?;

        // 8. The index must not hold a different manifest for this version.
        let entry = read_entry(env.index.as_ref(), name).await?;
        let indexed = entry.iter().find(|m| m.version == version);
        if let Some(indexed) = indexed
            && indexed != &manifest
        {
            return Err(Failure(format!(
                "{id} is already in the registry index with a different manifest, and published versions \
                 cannot change; publish a new version instead."
            )));
        }
        let published = metadata.published.get(&version).cloned();
        if published.is_some() && indexed.is_some() {
            return Err(Failure(format!(
                "{id} has already been published; versions cannot be published twice, so bump the version to \
                 publish a change."
            )));
        }

        // 10. Build plan.
        let installed = self.purs.locator.installed_versions();
        let (compiler, resolutions) = self.build_plan(env, &manifest, data, &installed).await?;
        log.info(&format!(
            "Build plan for {id} with compiler {compiler}: {}",
            if resolutions.is_empty() {
                "no dependencies".to_owned()
            } else {
                resolutions.iter().map(|(n, v)| format!("{n}@{v}")).collect::<Vec<_>>().join(", ")
            }
        ));

        // 11. Module names.
        check_modules(&src, &modules, compiler, log)?;

        // 12. A version already in the metadata: an earlier attempt stored the
        // tarball and wrote the metadata; finish it.
        let outcome = Published {
            name: name.clone(),
            version,
            compiler,
            dependencies: manifest.dependencies.clone(),
            resolutions: resolutions.clone(),
        };
        if let Some(published) = published {
            self.complete_earlier_attempt(env, &manifest, metadata, &published).await?;
            return Ok(outcome);
        }

        // 13a. Dependencies.
        self.install(env, &resolutions, &dirs.deps).await?;
        // 13b. Unused or missing dependencies.
        self.check_dependencies(env, &manifest, compiler, &dirs).await?;
        // 13c–d. purs.json in the source; the files that ship.
        std::fs::write(dirs.package.join("purs.json"), manifest.to_pretty())
            .context(|| "Writing purs.json into the source failed".to_owned())?;
        self.copy_package_files(env, &manifest, &dirs).await?;
        // 13e. Compile what ships.
        self.compile(env, &manifest, compiler).await?;
        // 13f–g. Tarball.
        let tarball = self.tarball(env, &manifest, &dirs).await?;
        let hash = Sha256::of_bytes(&tarball);
        let bytes = tarball.len() as u64;
        log.info(&format!("Packaged {id}: {bytes} bytes, {}", hash.as_str()));
        // 13h. Upload.
        upload(env, &manifest, Bytes::from(tarball), &hash).await?;
        // 13i. Metadata.
        metadata.published.insert(
            version,
            PublishedMetadata {
                bytes,
                compilers: vec![compiler],
                hash,
                published_time: (env.clock)(),
                git_ref: Some(String::new()),
            },
        );
        write_metadata(env, name, &metadata).await?;
        // 13j. Index.
        write_index_entry(env, &manifest, entry).await?;
        // 13k. Documentation, best effort.
        if compiler >= PURSUIT_PUBLISH_SINCE {
            if let Err(failure) = self.publish_docs(env, &manifest, compiler, &resolutions, &dirs).await {
                log.notice(&format!(
                    "The documentation of {id} was not published to {}: {failure} The package itself is published.",
                    env.docs.describe()
                ));
            }
        } else {
            log.info(&format!("No documentation is published for compilers before {PURSUIT_PUBLISH_SINCE}"));
        }
        log.notice(&format!("Published {id} with compiler {compiler}."));
        Ok(outcome)
    }

    async fn fetch(&self, env: &JobEnv, location: &Location, data: &PublishData) -> Result<Dirs, Failure> {
        let (whole_repo, subdir) = match location.clone() {
            Location::GitHub { owner, repo, subdir } => {
                (Location::GitHub { owner, repo, subdir: None }, subdir)
            }
            Location::Git { url, subdir } => (Location::Git { url, subdir: None }, subdir),
        };
        let parent = env.work_dir.join("source");
        std::fs::create_dir_all(&parent).context(|| format!("Creating {} failed", parent.display()))?;
        let clone = env
            .sources
            .fetch(&whole_repo, &data.git_ref, &parent, env.log())
            .await
            .map_err(|e| Failure(format!("Could not fetch the source of {}: {e}.", data.name)))?;
        let package = match subdir.as_deref() {
            None => clone.clone(),
            Some(sub) => {
                let bad = sub.starts_with('/') || sub.split('/').any(|s| s == "..");
                let dir = clone.join(sub);
                let inside = dir
                    .canonicalize()
                    .ok()
                    .zip(clone.canonicalize().ok())
                    .is_some_and(|(d, c)| d.starts_with(c) && d.is_dir());
                if bad || !inside {
                    return Err(Failure(format!(
                        "The location's subdir '{sub}' is not a directory inside the repository at ref '{}'; fix \
                         the subdir (with a transfer) or the repository.",
                        data.git_ref
                    )));
                }
                dir
            }
        };
        Ok(Dirs {
            package,
            clone,
            deps: env.work_dir.join(".registry"),
            packaging: env.work_dir.join(format!("{}-{}", data.name, data.version)),
        })
    }

    async fn build_plan(
        &self,
        env: &JobEnv,
        manifest: &Manifest,
        data: &PublishData,
        installed: &[Version],
    ) -> Result<(Version, BTreeMap<PackageName, Version>), Failure> {
        let id = manifest.id();
        let supported = || installed.iter().map(Version::to_string).collect::<Vec<_>>().join(", ");
        let (Some(lowest), Some(highest)) = (installed.first(), installed.last()) else {
            return Err(Failure::new(
                "This registry has no compiler installed, so nothing can be published; the registry's \
                 operators must install one.",
            ));
        };
        if let Some(compiler) = data.compiler
            && !installed.contains(&compiler)
        {
            return Err(Failure(format!(
                "Compiler {compiler} is not supported by this registry; choose one of: {}.",
                supported()
            )));
        }
        if let (Some(compiler), Some(resolutions)) = (data.compiler, &data.resolutions) {
            let unresolved = get_unresolved_dependencies(manifest, resolutions);
            if unresolved.is_empty() {
                return Ok((compiler, resolutions.clone()));
            }
            let described: Vec<String> = unresolved
                .iter()
                .map(|u| match u {
                    UnresolvedDependency::Missing { name, range } => format!("{name} ({range}) is missing"),
                    UnresolvedDependency::OutOfRange { name, range, version } => {
                        format!("{name}@{version} is outside {range}")
                    }
                })
                .collect();
            return Err(Failure(format!(
                "The resolutions given for {id} do not satisfy its manifest: {}. Fix the resolutions or leave \
                 them out to let the registry solve.",
                described.join("; ")
            )));
        }
        let reach =
            reachable(env.registry.as_ref(), env.index.as_ref(), manifest.dependencies.keys().cloned())
                .await?;
        let deps: Vec<ManifestDeps> = reach.manifests.iter().map(ManifestDeps::from).collect();
        let index = build_compiler_index(installed, &deps, &published_compilers(&reach.metadata))
            .map_err(|e| Failure(e.to_string()))?;
        let (purs_range, required) = match data.compiler {
            Some(compiler) => (Range::exact(compiler), manifest.dependencies.clone()),
            None => {
                let range = Range::new(*lowest, highest.bump_patch()).unwrap_or(Range::exact(*lowest));
                let required = match &data.resolutions {
                    Some(resolutions) => {
                        resolutions.iter().map(|(n, v)| (n.clone(), Range::exact(*v))).collect()
                    }
                    None => manifest.dependencies.clone(),
                };
                (range, required)
            }
        };
        let index_for_solver = index;
        let solved = blocking(move || solve_with_compiler(purs_range, &index_for_solver, &required)).await?;
        solved.map_err(|e| {
            Failure(format!(
                "Could not find versions of the dependencies of {id} that work together{}: {e}. Loosen the \
                 dependency ranges in the manifest, or choose another compiler.",
                data.compiler.map(|c| format!(" with compiler {c}")).unwrap_or_default()
            ))
        })
    }

    async fn install(
        &self,
        env: &JobEnv,
        resolutions: &BTreeMap<PackageName, Version>,
        deps_dir: &Path,
    ) -> Result<(), Failure> {
        std::fs::create_dir_all(deps_dir).context(|| format!("Creating {} failed", deps_dir.display()))?;
        for (dep, version) in resolutions {
            let dep_id = format!("{dep}@{version}");
            let published = read_metadata(env.registry.as_ref(), dep)
                .await?
                .and_then(|m| m.published.get(version).cloned())
                .ok_or_else(|| {
                    Failure(format!(
                        "{dep_id} is in the build plan but is not published in the registry; fix the resolutions."
                    ))
                })?;
            let tarball = download_verified(env, dep, *version, &published).await?;
            let dest = deps_dir.to_path_buf();
            let top = format!("{dep}-{version}");
            blocking(move || {
                registry_tarball::extract_tarball(
                    tarball.as_ref(),
                    &dest,
                    Some(&top),
                    &registry_tarball::Limits::default(),
                )
            })
            .await?
            .context(|| format!("Unpacking the tarball of {dep_id} failed"))?;
        }
        env.log().info(&format!("Installed {} dependencies", resolutions.len()));
        Ok(())
    }

    async fn check_dependencies(
        &self,
        env: &JobEnv,
        manifest: &Manifest,
        compiler: Version,
        dirs: &Dirs,
    ) -> Result<(), Failure> {
        let log = env.log();
        if compiler < GRAPH_SINCE {
            log.warn(&format!(
                "Unused and missing dependencies are not checked with compilers before {GRAPH_SINCE}"
            ));
            return Ok(());
        }
        let own_src = format!("{}/src/", dirs.package.display());
        let deps_prefix = dirs.deps.display().to_string();
        let globs = vec![format!("{own_src}**/*.purs"), format!("{deps_prefix}/*/src/**/*.purs")];
        let purs = self.purs.clone();
        let cwd = env.work_dir.clone();
        let graph = match blocking(move || purs.graph(Some(compiler), Some(cwd), globs)).await? {
            Ok(graph) => graph,
            Err(CompilerFailure::CompilationError(errors)) => {
                log.warn(&format!(
                    "purs graph could not read the sources ({} errors), so unused and missing dependencies were \
                     not checked; compiling will report the problem if there is one",
                    errors.len()
                ));
                return Ok(());
            }
            Err(other) => {
                return Err(Failure(format!(
                    "Checking the dependencies of {} failed: {other}",
                    manifest.id()
                )));
            }
        };
        let own: BTreeSet<String> = graph
            .modules
            .iter()
            .filter(|(_, n)| n.path.starts_with(&own_src))
            .map(|(m, _)| m.clone())
            .collect();
        let used: BTreeSet<PackageName> = graph
            .direct_dependencies_of(&own)
            .iter()
            .filter_map(|module| graph.modules.get(module))
            .filter_map(|node| parse_installed_module_path(&deps_prefix, &node.path).ok())
            .map(|(package, _)| package)
            .collect();
        let declared: BTreeSet<PackageName> = manifest.dependencies.keys().cloned().collect();
        let list =
            |set: BTreeSet<&PackageName>| set.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ");
        let unused = list(declared.difference(&used).collect());
        let missing = list(used.difference(&declared).collect());
        let id = manifest.id();
        match (unused.is_empty(), missing.is_empty()) {
            (true, true) => {
                log.info("Every declared dependency is imported, and every imported package is declared");
                Ok(())
            }
            (false, true) => Err(Failure(format!(
                "Unused dependencies ({unused}): {id} declares them but none of its modules imports them. Remove \
                 them from the manifest's dependencies and publish again."
            ))),
            (true, false) => Err(Failure(format!(
                "Missing dependencies ({missing}): modules of {id} import them but the manifest does not declare \
                 them. Add them to the manifest's dependencies and publish again."
            ))),
            (false, false) => Err(Failure(format!(
                "Unused dependencies ({unused}) and missing dependencies ({missing}) in {id}: the manifest's \
                 dependencies must be exactly the packages its modules import. Fix the manifest and publish again."
            ))),
        }
    }

    async fn copy_package_files(
        &self,
        env: &JobEnv,
        manifest: &Manifest,
        dirs: &Dirs,
    ) -> Result<(), Failure> {
        let log = env.log();
        let package = dirs.package.clone();
        let tree = blocking(move || list_tree(&package)).await??;
        let selected =
            select_package_files(&tree, manifest.include_files.as_deref(), manifest.exclude_files.as_deref())
                .map_err(|e| Failure(format!("{e} Fix 'includeFiles' in the manifest and publish again.")))?;
        for warning in &selected.warnings {
            log.warn(warning);
        }
        if !selected.modules_to_check.is_empty() {
            let contents: Vec<(String, Result<String, String>)> = selected
                .modules_to_check
                .iter()
                .map(|p| {
                    (p.clone(), std::fs::read_to_string(dirs.package.join(p)).map_err(|e| e.to_string()))
                })
                .collect();
            validate_purs_modules(
                contents.iter().map(|(p, c)| (p.as_str(), c.as_deref().map_err(Clone::clone))),
            )
            .map_err(|report| Failure(include_modules_error(&report)))?;
        }
        let (package, packaging) = (dirs.package.clone(), dirs.packaging.clone());
        let tree = selected.tree;
        let count = tree.len();
        blocking(move || copy_tree(&tree, &package, &packaging)).await??;
        log.info(&format!("Selected {count} files and directories to package"));
        Ok(())
    }

    async fn compile(&self, env: &JobEnv, manifest: &Manifest, compiler: Version) -> Result<(), Failure> {
        let top = format!("{}-{}", manifest.name, manifest.version);
        let globs = vec![format!("{top}/src/**/*.purs"), ".registry/*/src/**/*.purs".to_owned()];
        let purs = self.purs.clone();
        let cwd = env.work_dir.clone();
        let output = env.work_dir.join("output");
        match blocking(move || purs.compile(Some(compiler), Some(cwd), globs, Some(output))).await? {
            Ok(_) => {
                env.log().info(&format!("Compiled {} with {compiler}", manifest.id()));
                Ok(())
            }
            Err(CompilerFailure::CompilationError(errors)) => {
                env.log().info(&format!(
                    "Compiler errors:\n{}",
                    CompilerFailure::CompilationError(errors.clone())
                ));
                let first = &errors[0];
                let file = relative_source(&first.filename, &env.work_dir, &top);
                let message = first
                    .message
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .unwrap_or("")
                    .trim_end_matches('.');
                Err(Failure(format!(
                    "{} does not compile with {compiler}: error {} in file {file} at line {}: {message}{} Fix the \
                     code, tag a new ref and publish again.",
                    manifest.id(),
                    first.error_code,
                    first.position.start_line,
                    if errors.len() > 1 {
                        format!(" ({} errors in all; see the log).", errors.len())
                    } else {
                        ".".into()
                    }
                )))
            }
            Err(other) => {
                Err(Failure(format!("Compiling {} with {compiler} failed: {other}", manifest.id())))
            }
        }
    }

    async fn tarball(&self, env: &JobEnv, manifest: &Manifest, dirs: &Dirs) -> Result<Vec<u8>, Failure> {
        let top = format!("{}-{}", manifest.name, manifest.version);
        let packaging = dirs.packaging.clone();
        let tarball = blocking(move || registry_tarball::create_tarball(&packaging, &top))
            .await?
            .context(|| format!("Packaging {} failed", manifest.id()))?;
        let size = tarball.len() as u64;
        match validate_tarball_size(size) {
            TarballSize::ExceedsMaximum => Err(Failure(format!(
                "The tarball of {} is {size} bytes, more than the limit of {} bytes. Leave large files out with \
                 'excludeFiles' in the manifest and publish again.",
                manifest.id(),
                registry_core::validation::MAX_PACKAGE_BYTES
            ))),
            _ if tarball.len() < MIN_TARBALL_BYTES => Err(Failure(format!(
                "The tarball of {} is only {size} bytes, which means packaging went wrong; please report this.",
                manifest.id()
            ))),
            TarballSize::Warn => {
                env.log().notice(&format!(
                    "The tarball of {} is {size} bytes, more than {} bytes: consider leaving large files out with \
                     'excludeFiles'.",
                    manifest.id(),
                    registry_core::validation::WARN_PACKAGE_BYTES
                ));
                Ok(tarball)
            }
            TarballSize::Acceptable => Ok(tarball),
        }
    }

    /// The version is in the metadata but not the index: an earlier attempt stopped
    /// after writing the metadata. The stored tarball must be intact and hold the
    /// manifest received now; then the metadata (owners may have changed) and the
    /// index entry are written.
    async fn complete_earlier_attempt(
        &self,
        env: &JobEnv,
        manifest: &Manifest,
        metadata: Metadata,
        published: &PublishedMetadata,
    ) -> Result<(), Failure> {
        let id = manifest.id();
        let log = env.log();
        log.info(&format!("{id} is in the metadata but not in the index: completing an earlier attempt"));
        let tarball = download_verified(env, &manifest.name, manifest.version, published).await?;
        let dest = env.work_dir.join("existing");
        std::fs::create_dir_all(&dest).context(|| format!("Creating {} failed", dest.display()))?;
        let top = format!("{}-{}", manifest.name, manifest.version);
        let (dest_for_extract, top_for_extract) = (dest.clone(), top.clone());
        blocking(move || {
            registry_tarball::extract_tarball(
                tarball.as_ref(),
                &dest_for_extract,
                Some(&top_for_extract),
                &registry_tarball::Limits::default(),
            )
        })
        .await?
        .context(|| format!("Unpacking the stored tarball of {id} failed"))?;
        let stored = std::fs::read_to_string(dest.join(&top).join("purs.json"))
            .ok()
            .and_then(|text| Manifest::from_json_str(&text).ok());
        if stored.as_ref() != Some(manifest) {
            return Err(Failure(format!(
                "The source manifest differs from the manifest in the existing tarball of {id}, which an earlier \
                 attempt stored: restore the source at ref '{}' to what was published then, or publish a new version.",
                manifest.git_ref
            )));
        }
        write_metadata(env, &manifest.name, &metadata).await?;
        let entry = read_entry(env.index.as_ref(), &manifest.name).await?;
        write_index_entry(env, manifest, entry).await?;
        log.notice(&format!(
            "Published {id}, completing an earlier attempt that had stored the tarball and the metadata. Its \
             documentation was not published by this retry."
        ));
        Ok(())
    }

    async fn publish_docs(
        &self,
        env: &JobEnv,
        manifest: &Manifest,
        compiler: Version,
        resolutions: &BTreeMap<PackageName, Version>,
        dirs: &Dirs,
    ) -> Result<(), Failure> {
        let resolutions_file = env.work_dir.join("resolutions.json");
        let deps = dirs.deps.display().to_string();
        std::fs::write(
            &resolutions_file,
            json::print_compact(&format_pursuit_resolutions(resolutions, &deps)),
        )
        .context(|| "Writing the resolutions file failed".to_owned())?;
        // purs publish wants a clean tree: what the registry added is not the author's change.
        let exclude = dirs.clone.join(".git/info/exclude");
        let mut excluded = std::fs::read_to_string(&exclude).unwrap_or_default();
        excluded.push_str("\noutput\npurs.json\n");
        let _ = std::fs::create_dir_all(dirs.clone.join(".git/info"));
        std::fs::write(&exclude, excluded).context(|| "Writing .git/info/exclude failed".to_owned())?;
        // The clone may come from a mirror; the docs name the package's real repository.
        if let Location::GitHub { owner, repo, .. } = &manifest.location {
            let _ = std::process::Command::new("git")
                .current_dir(&dirs.clone)
                .args(["remote", "set-url", "origin", &format!("https://github.com/{owner}/{repo}.git")])
                .output();
        }
        let purs = self.purs.clone();
        let cwd = dirs.package.clone();
        let docs = blocking(move || purs.publish(Some(compiler), cwd, resolutions_file))
            .await?
            .map_err(|e| Failure(format!("purs publish failed: {e}")))?;
        env.docs
            .publish(&manifest.name, &manifest.version, docs.as_bytes(), env.log())
            .await
            .map_err(|e| Failure(format!("{e}.")))?;
        Ok(())
    }
}

fn relative_source(filename: &str, work_dir: &Path, top: &str) -> String {
    let work = format!("{}/", work_dir.display());
    let rel = filename.strip_prefix(&work).unwrap_or(filename);
    rel.strip_prefix(&format!("{top}/")).unwrap_or(rel).to_owned()
}

/// `purs.json`, else `spago.yaml` (with `ref` from the request).
fn read_manifest(dir: &Path, git_ref: &str) -> Result<Manifest, Failure> {
    let read = |file: &str| std::fs::read_to_string(dir.join(file)).ok();
    if let Some(text) = read("purs.json") {
        let value = json::parse(&text).map_err(|e| {
            Failure(format!(
                "purs.json at ref '{git_ref}' is not valid JSON ({e}); fix it and publish again."
            ))
        })?;
        if value.get("license").is_none() {
            return Err(Failure(format!(
                "purs.json at ref '{git_ref}' has no 'license' field: add an SPDX licence identifier such as \
                 \"MIT\" and publish again."
            )));
        }
        return Manifest::decode_authored(&value).map_err(|e| {
            Failure(format!(
                "purs.json at ref '{git_ref}' is not a valid manifest: {e}. Fix it and publish again."
            ))
        });
    }
    if let Some(text) = read("spago.yaml") {
        let config = SpagoYaml::parse(&text).map_err(|e| {
            Failure(format!("spago.yaml at ref '{git_ref}' cannot be read: {e}. Fix it and publish again."))
        })?;
        return spago_yaml_to_manifest(git_ref, &config).map_err(|e| {
            Failure(format!(
                "spago.yaml at ref '{git_ref}' does not describe a publishable package: {e} Fix it and publish again."
            ))
        });
    }
    if read("bower.json").is_some() || read("spago.dhall").is_some() {
        return Err(Failure(format!(
            "The source at ref '{git_ref}' has only a legacy manifest (bower.json or spago.dhall), which this \
             registry does not read yet; add a purs.json or a spago.yaml with a 'publish' section and publish again."
        )));
    }
    Err(Failure(format!(
        "No manifest found at ref '{git_ref}': add a purs.json (or a spago.yaml with a 'publish' section) at the \
         package's root and publish again."
    )))
}

/// Name, version and location of the manifest must be the request's (upstream
/// forgets the version).
fn check_manifest(manifest: &Manifest, data: &PublishData, registered: &Location) -> Result<(), Failure> {
    let at = &data.git_ref;
    if manifest.name != data.name {
        return Err(Failure(format!(
            "The manifest at ref '{at}' is for package {}, but the request is for {}; make them agree.",
            manifest.name, data.name
        )));
    }
    if manifest.version != data.version {
        return Err(Failure(format!(
            "The manifest at ref '{at}' has version {}, but the request is for version {}; publish a ref whose \
             manifest says {}, or request version {}.",
            manifest.version, data.version, data.version, manifest.version
        )));
    }
    if manifest.location != *registered {
        return Err(Failure(format!(
            "The manifest's location {} differs from the registered location {} of {}; fix the manifest's \
             location, or transfer the package first.",
            location_text(&manifest.location),
            location_text(registered),
            data.name
        )));
    }
    Ok(())
}

/// The licences found in the package's own files must be covered by the
/// manifest's. Licence texts of GNU licences do not say "only" or "or later", so
/// one detected from a text counts as either (upstream would demand `-only`).
fn check_licence(dir: &Path, licence: &License) -> Result<(), Failure> {
    let files = root_text_files(dir);
    let repo_files: Vec<RepoFile> = files.iter().map(|(n, c)| RepoFile { name: n, contents: c }).collect();
    let manifest_ids = licence.extract_ids();
    let detected: Vec<String> = license_detect::detect(&repo_files)
        .into_iter()
        .map(|id| {
            let or_later = format!("{id}-or-later");
            if is_bare_gnu_id(&id) && manifest_ids.contains(&or_later.to_uppercase()) { or_later } else { id }
        })
        .collect();
    license_detect::validate_license(licence, &detected).map_err(|e| Failure(e.to_string()))
}

/// `GPL-3.0`, `LGPL-2.1`, `AGPL-3.0`: what licence texts are detected as.
fn is_bare_gnu_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("GPL-").or(id.strip_prefix("LGPL-")).or(id.strip_prefix("AGPL-")) else {
        return false;
    };
    rest.split('.').count() == 2
        && rest.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn check_modules(
    src: &Path,
    modules: &[String],
    compiler: Version,
    log: &dyn registry_adapters::ActivityLog,
) -> Result<(), Failure> {
    let contents: Vec<(String, Result<String, String>)> = modules
        .iter()
        .map(|m| (format!("src/{m}"), std::fs::read_to_string(src.join(m)).map_err(|e| e.to_string())))
        .collect();
    match validate_purs_modules(
        contents.iter().map(|(p, c)| (p.as_str(), c.as_deref().map_err(Clone::clone))),
    ) {
        Ok(()) => Ok(()),
        Err(report) if compiler >= MODULE_CHECK_SINCE => Err(Failure(format!(
            "Some modules have malformed or disallowed names (libraries cannot publish Main or Test.Main); rename \
             them and publish again:{report}"
        ))),
        Err(report) => {
            log.warn(&format!(
                "Module header problems (not fatal before compiler {MODULE_CHECK_SINCE}):{report}"
            ));
            Ok(())
        }
    }
}

/// Downloads a stored tarball and checks it against its metadata (size, then hash).
pub(crate) async fn download_verified(
    env: &JobEnv,
    name: &PackageName,
    version: Version,
    published: &PublishedMetadata,
) -> Result<Bytes, Failure> {
    let id = format!("{name}@{version}");
    let bytes = env
        .storage
        .download(name, &version)
        .await
        .context(|| format!("Downloading {id} from {} failed", env.storage.describe()))?
        .ok_or_else(|| {
            Failure(format!(
                "{id} is published but its tarball is missing from {}; this is a registry fault, please report it.",
                env.storage.describe()
            ))
        })?;
    if bytes.len() as u64 != published.bytes {
        return Err(Failure(format!(
            "Integrity check failed for {id}: size mismatch (got {}, expected {}). The stored tarball is damaged; \
             please report this to the registry's maintainers.",
            bytes.len(),
            published.bytes
        )));
    }
    let hash = Sha256::of_bytes(&bytes);
    if hash != published.hash {
        return Err(Failure(format!(
            "Integrity check failed for {id}: hash mismatch (got {}, expected {}). The stored tarball is damaged; \
             please report this to the registry's maintainers.",
            hash.as_str(),
            published.hash.as_str()
        )));
    }
    Ok(bytes)
}

/// Uploads, never overwriting: a stored object equal to this tarball (an earlier
/// attempt's) is reused; a different one stops the job.
async fn upload(env: &JobEnv, manifest: &Manifest, tarball: Bytes, hash: &Sha256) -> Result<(), Failure> {
    let (name, version) = (&manifest.name, manifest.version);
    let key = tarball_key(name, &version);
    let size = tarball.len();
    let error = match env.storage.upload(name, &version, tarball, env.log()).await {
        Ok(()) => return Ok(()),
        Err(err) => err,
    };
    let existing = env
        .storage
        .download(name, &version)
        .await
        .context(|| format!("Uploading {key} failed ({error}) and reading it back failed"))?;
    match existing {
        Some(stored) if stored.len() == size && Sha256::of_bytes(&stored) == *hash => {
            env.log().info(&format!(
                "{key} is already in {} with the same contents (an earlier attempt stored it): reusing it",
                env.storage.describe()
            ));
            Ok(())
        }
        Some(stored) => Err(Failure(format!(
            "The existing tarball in storage could not be verified: {key} is already stored ({} bytes) with \
             different contents than this publication produced ({size} bytes). Stored tarballs are never \
             replaced; please ask the registry's maintainers to look at it.",
            stored.len()
        ))),
        None => Err(Failure(match error {
            StorageError::AlreadyExists { .. } => format!("Uploading {key} failed: {error}"),
            _ => format!("Uploading {key} failed: {error}. Submit the publication again later."),
        })),
    }
}

async fn write_metadata(env: &JobEnv, name: &PackageName, metadata: &Metadata) -> Result<(), Failure> {
    let message = commit::append_job_id(&commit::update_metadata(name.as_str()), Some(&env.job_id));
    env.registry
        .commit(&[FileChange::write(metadata_path(name), metadata.to_pretty())], &message, env.log())
        .await
        .context(|| format!("Writing the metadata of {name} to the {} failed", env.registry.describe()))?;
    Ok(())
}

/// Adds the manifest to the package's index entry; every dependency must have a
/// version in the index within its range.
async fn write_index_entry(env: &JobEnv, manifest: &Manifest, entry: Vec<Manifest>) -> Result<(), Failure> {
    let reach =
        reachable(env.registry.as_ref(), env.index.as_ref(), manifest.dependencies.keys().cloned()).await?;
    let mut index = ManifestIndex::maximal(IncludeRanges::IgnoreRanges, reach.manifests.iter()).1;
    for existing in entry {
        let _ = index.insert(IncludeRanges::IgnoreRanges, existing);
    }
    if let Err(unsatisfied) = index.insert(IncludeRanges::ConsiderRanges, manifest.clone()) {
        let described: Vec<String> = unsatisfied.iter().map(|(n, r)| format!("{n} {r}")).collect();
        return Err(Failure(format!(
            "{} cannot enter the registry index: no published version satisfies {}. Publish those first or \
             loosen the ranges.",
            manifest.id(),
            described.join(", ")
        )));
    }
    let versions = index.versions(&manifest.name).map(|v| v.values().collect::<Vec<_>>()).unwrap_or_default();
    let message = commit::append_job_id(
        &commit::update_manifest(manifest.name.as_str(), &manifest.version.to_string()),
        Some(&env.job_id),
    );
    env.index
        .commit(&[FileChange::write(entry_path(&manifest.name), print_entry(versions))], &message, env.log())
        .await
        .context(|| {
            format!("Writing the index entry of {} to the {} failed", manifest.id(), env.index.describe())
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gnu_ids_from_texts_are_recognised() {
        assert!(is_bare_gnu_id("GPL-3.0"));
        assert!(is_bare_gnu_id("LGPL-2.1"));
        assert!(is_bare_gnu_id("AGPL-3.0"));
        assert!(!is_bare_gnu_id("GPL-3.0-only"));
        assert!(!is_bare_gnu_id("MIT"));
        assert!(!is_bare_gnu_id("GPL-3"));
    }

    fn licence_check(manifest: &str, text: &str) -> Result<(), Failure> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("LICENSE"), text).unwrap();
        check_licence(dir.path(), &License::parse_canonical(manifest).unwrap())
    }

    #[test]
    fn a_gnu_text_matches_only_and_or_later() {
        let gpl3 = "GNU GENERAL PUBLIC LICENSE\n   Version 3, 29 June 2007\n";
        if license_detect::detect_text(gpl3) != Some("GPL-3.0") {
            panic!("the detector no longer reads this GPL text: {:?}", license_detect::detect_text(gpl3));
        }
        assert!(licence_check("GPL-3.0-only", gpl3).is_ok());
        assert!(licence_check("GPL-3.0-or-later", gpl3).is_ok());
        let err = licence_check("MIT", gpl3).unwrap_err();
        assert!(err.0.starts_with("License mismatch"), "{err}");
        assert!(licence_check("GPL-2.0-or-later", gpl3).is_err());
    }

    #[test]
    fn compiler_file_names_are_shown_relative_to_the_package() {
        let work = Path::new("/tmp/job");
        assert_eq!(relative_source("/tmp/job/a-1.0.0/src/A.purs", work, "a-1.0.0"), "src/A.purs");
        assert_eq!(
            relative_source(".registry/b-1.0.0/src/B.purs", work, "a-1.0.0"),
            ".registry/b-1.0.0/src/B.purs"
        );
    }
}
