//! Publishing a package version (upstream `API.publish`, inventory §3.1).
//!
//! Steps, each failing with a sentence that says what to fix:
//! location gate → fetch the source at `ref` → manifest (`purs.json`, else
//! `spago.yaml`, else legacy `bower.json`, else `spago.dhall`) → name, version
//! and location agree with the request → licence → build plan (solve, or check the given resolutions) → module names →
//! install dependencies (verified) → unused/missing dependencies (`purs graph`) →
//! package files → reproducible tarball within the size limits → compile exactly
//! what ships (through the build engine, over cached dependencies) → upload (never overwrite) → metadata commit → index commit →
//! documentation (best effort).
//!
//! Durable effects happen in the order storage, metadata, index, so a retried job
//! finds one of these states and completes it:
//! - tarball stored, metadata not written: the fresh tarball is compared with the
//!   stored one (size and hash) and the stored one is reused;
//! - metadata written, index entry missing: the stored tarball is downloaded with
//!   integrity checks and its `purs.json` must equal the manifest received now;
//!   then the index entry is written;
//! - metadata and index entry written by this job (its `Job ID` is on the index
//!   commit; a crash after the push): the same checks, nothing written again.
//!
//! Each then publishes the documentation (best effort, unless the docs site has
//! it already) and succeeds, so the server queues the follow-ups (the queue keeps
//! one matrix job per version and compiler, so queueing them again adds nothing).
//! A version whose index entry another job wrote is refused naming that job.
//!
//! One module per step: `source` (fetch), `manifest` (read), `checks`
//! (request, licence, module names), `legacy` (bower.json, spago.dhall), `plan` (build plan), `install`
//! (dependencies), `imports` (unused/missing dependencies), `package_files`,
//! `compile`, `tarball` (package and upload), `commits` (metadata and
//! index), `retry` (completing an earlier attempt), `docs`.

mod checks;
mod commits;
mod compile;
mod docs;
mod imports;
mod install;
mod legacy;
mod manifest;
mod manifest_file;
mod package_files;
mod plan;
mod retry;
mod source;
mod tarball;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use registry_compiler::Purs;
use registry_core::json::{self, Codec};
use registry_core::metadata::PublishedMetadata;
use registry_core::operation::PublishData;
use registry_core::{Location, Metadata, PackageName, Range, Sha256, Version};

use crate::files::purs_files;
use crate::registry::{read_entry, read_metadata};
use crate::{Context, Failure, JobEnv};
use checks::{check_licence, check_manifest, check_modules};
use commits::{index_entry_writer, write_index_entry, write_metadata};
pub use legacy::DHALL_TO_JSON;
use manifest::{ManifestOrigin, ManifestRequest, read_manifest};
use retry::EarlierAttempt;
use tarball::upload;

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

/// Runs publish jobs over the environment's installed compilers (the registry's
/// supported compilers).
#[derive(Clone)]
pub struct Publisher {
    /// Each compiler call's limit (`None`: only the job's own limit applies).
    pub compile_timeout: Option<Duration>,
    /// The program that evaluates a legacy `spago.dhall` ([`DHALL_TO_JSON`] from
    /// PATH by default); without it such packages are refused with a message.
    pub dhall_to_json: PathBuf,
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
    /// Links removed from `package` because they lead outside it (see `crate::secure`).
    outside_links: Vec<String>,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Failure> {
    // The compiler runs here: its process group must die with the job.
    registry_adapters::process::blocking(f).await.map_err(|e| {
        Failure(format!("Internal error: a publishing step crashed ({e}). This is a bug in the registry."))
    })
}

fn location_text(location: &Location) -> String {
    json::print_compact(&location.encode())
}

impl Default for Publisher {
    fn default() -> Self {
        Publisher::new()
    }
}

impl Publisher {
    pub fn new() -> Self {
        Publisher { compile_timeout: None, dhall_to_json: PathBuf::from(DHALL_TO_JSON) }
    }

    /// Limits each compiler call to `limit`.
    pub fn with_compile_timeout(mut self, limit: Duration) -> Self {
        self.compile_timeout = Some(limit);
        self
    }

    /// The compiler driver for this job.
    fn purs(&self, env: &JobEnv) -> Purs {
        env.purs(self.compile_timeout)
    }

    /// Evaluates `spago.dhall` files with `program` instead of `dhall-to-json`
    /// from PATH.
    pub fn with_dhall_to_json(mut self, program: impl Into<PathBuf>) -> Self {
        self.dhall_to_json = program.into();
        self
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
        let request = ManifestRequest {
            dir: &dirs.package,
            name,
            version,
            git_ref: &data.git_ref,
            location: &metadata.location,
            outside_links: &dirs.outside_links,
        };
        let (manifest, origin) = read_manifest(&request, &self.dhall_to_json).await?;
        check_manifest(&manifest, data, &metadata.location)?;
        match origin {
            ManifestOrigin::PursJson => log.info(&format!("Read the manifest of {id}")),
            ManifestOrigin::SpagoYaml | ManifestOrigin::BowerJson | ManifestOrigin::SpagoDhall => {
                log.notice(&format!(
                    "{id} has no purs.json: converted its {} into this manifest, which the published package \
                     will contain as purs.json:\n{}",
                    origin.file(),
                    manifest.to_pretty().trim_end()
                ))
            }
        }
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
        let indexed = indexed.is_some();
        // Another job's complete publication: only its documentation may be missing
        // (upstream's publish repairs it; anything else is refused).
        let mut docs_repair = false;
        if published.is_some() && indexed {
            // Only this job, run again after a crash, may find its own publication.
            let writer = index_entry_writer(env, name, version).await?;
            if writer.as_deref() != Some(env.job_id.as_str()) {
                let by = writer.map(|job| format!(" by job {job}")).unwrap_or_default();
                if self.has_docs(env, name, version, &by).await? {
                    return Err(Failure(format!(
                        "{id} has already been published{by} and its documentation is on {}; versions cannot \
                         be published twice, so bump the version to publish a change.",
                        env.docs.describe()
                    )));
                }
                log.notice(&format!(
                    "{id} has already been published{by}, but its documentation is missing from {}: \
                     publishing the documentation.",
                    env.docs.describe()
                ));
                docs_repair = true;
            }
        }

        // 10. Build plan.
        let installed = env.compilers.installed_versions();
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
        // tarball and wrote the metadata (and, if it was this job's, perhaps the
        // index entry); finish it.
        let outcome = Published {
            name: name.clone(),
            version,
            compiler,
            dependencies: manifest.dependencies.clone(),
            resolutions: resolutions.clone(),
        };
        if let Some(published) = published.as_ref().filter(|_| docs_repair) {
            self.repair_docs(env, &manifest, published, compiler, &resolutions, &dirs).await?;
            return Ok(outcome);
        }
        if let Some(published) = published {
            let attempt = EarlierAttempt { manifest: &manifest, published: &published, indexed };
            self.complete_earlier_attempt(env, &attempt, metadata).await?;
            self.finish_docs(env, &manifest, compiler, &resolutions, &dirs).await;
            log.notice(&format!(
                "Published {id} with compiler {compiler}, completing an earlier attempt that was interrupted after \
                 writing the {}.",
                if indexed { "index entry" } else { "metadata" }
            ));
            return Ok(outcome);
        }

        // 13a. Dependencies.
        let deps = self.install(env, &resolutions, &dirs.deps).await?;
        // 13b. Unused or missing dependencies.
        self.check_dependencies(env, &manifest, compiler, &dirs).await?;
        // 13c–d. purs.json in the source; the files that ship.
        std::fs::write(dirs.package.join("purs.json"), manifest.to_pretty())
            .context(|| "Writing purs.json into the source failed".to_owned())?;
        self.copy_package_files(env, &manifest, &dirs).await?;
        // 13e–f. Tarball, made before compiling: its hash names the build result.
        let tarball = self.tarball(env, &manifest, &dirs).await?;
        let hash = Sha256::of_bytes(&tarball);
        let bytes = tarball.len() as u64;
        log.info(&format!("Packaged {id}: {bytes} bytes, {}", hash.as_str()));
        // 13g. Compile what ships, over its dependencies' cached build results.
        self.compile(env, &manifest, compiler, deps, &dirs, &hash).await?;
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
        self.docs_best_effort(env, &manifest, compiler, &resolutions, &dirs).await;
        log.notice(&format!("Published {id} with compiler {compiler}."));
        Ok(outcome)
    }
}
