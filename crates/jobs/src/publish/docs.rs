//! Publishing documentation (best effort: the package is published either way).
//!
//! `purs publish` insists on a clean git tree whose HEAD carries exactly the tag
//! `v<version>`. The author's clone is not that: the registry writes `purs.json`
//! into it (dirty when the author tracks one) and it holds whatever the author
//! committed, links included. So the documentation is generated from a fresh
//! repository holding exactly what ships (the packaging directory), committed at
//! the original commit's time so `tagTime` is the author's.

use std::collections::BTreeMap;
use std::path::Path;

use registry_adapters::process;
use registry_compiler::purs::PURSUIT_PUBLISH_SINCE;
use registry_core::json::{self, Codec};
use registry_core::metadata::PublishedMetadata;
use registry_core::validation::format_pursuit_resolutions;
use registry_core::{Manifest, PackageName, Version};
use tokio::process::Command;

use super::{Dirs, Publisher, blocking};
use crate::files::copy_plain_tree;
use crate::{Context, Failure, JobEnv};

/// Runs git in `dir` with a fixed identity and dates, never reading the server's
/// own git configuration for anything that matters here.
async fn git(dir: &Path, args: &[&str], date: Option<&str>) -> Result<String, Failure> {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .args([
            "-c",
            "user.name=registry",
            "-c",
            "user.email=registry@localhost",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args);
    if let Some(date) = date {
        cmd.env("GIT_AUTHOR_DATE", date).env("GIT_COMMITTER_DATE", date);
    }
    let output = process::run(&mut cmd).await.map_err(|e| Failure(format!("git {} failed: {e}", args[0])))?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

impl Publisher {
    pub(super) async fn publish_docs(
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

        let source = env.work_dir.join("docs-source");
        let (packaging, copy_to) = (dirs.packaging.clone(), source.clone());
        blocking(move || copy_plain_tree(&packaging, &copy_to)).await??;
        // The tag's time is the tagged commit's: keep the author's.
        let time = git(&dirs.clone, &["log", "-1", "--format=%ct", "HEAD"], None).await?;
        let date = Some(format!("@{time} +0000"));
        let date = date.as_deref();
        git(&source, &["init", "--quiet"], date).await?;
        git(&source, &["add", "--all"], date).await?;
        git(&source, &["commit", "--quiet", "--message", &manifest.id()], date).await?;
        git(&source, &["tag", &format!("v{}", manifest.version)], date).await?;

        let purs = self.purs(env);
        let docs = blocking(move || purs.publish(Some(compiler), source, resolutions_file))
            .await?
            .map_err(|e| Failure(format!("purs publish failed: {e}")))?;
        env.docs
            .publish(&manifest.name, &manifest.version, docs.as_bytes(), env.log())
            .await
            .map_err(|e| Failure(crate::sentence(e)))?;
        Ok(())
    }

    /// Documentation after a fresh publication: a failure is a NOTICE, the package
    /// is published either way.
    pub(super) async fn docs_best_effort(
        &self,
        env: &JobEnv,
        manifest: &Manifest,
        compiler: Version,
        resolutions: &BTreeMap<PackageName, Version>,
        dirs: &Dirs,
    ) {
        let log = env.log();
        let id = manifest.id();
        if compiler < PURSUIT_PUBLISH_SINCE {
            log.info(&format!("No documentation is published for compilers before {PURSUIT_PUBLISH_SINCE}"));
            return;
        }
        if let Err(failure) = self.publish_docs(env, manifest, compiler, resolutions, dirs).await {
            not_published(env, &id, &failure);
        }
    }

    /// Documentation when completing an earlier attempt, which may have been
    /// interrupted before, during or after publishing it: published unless the docs
    /// site already has it, after installing the build plan as a fresh publication
    /// would have.
    pub(super) async fn finish_docs(
        &self,
        env: &JobEnv,
        manifest: &Manifest,
        compiler: Version,
        resolutions: &BTreeMap<PackageName, Version>,
        dirs: &Dirs,
    ) {
        if compiler >= PURSUIT_PUBLISH_SINCE {
            let log = env.log();
            let id = manifest.id();
            if let Ok(versions) = env.docs.published_versions(&manifest.name).await
                && versions.contains(&manifest.version)
            {
                return log.info(&format!("The documentation of {id} is already on {}", env.docs.describe()));
            }
            if let Err(failure) = self.prepare_docs(env, manifest, resolutions, dirs).await {
                return not_published(env, &id, &failure);
            }
        }
        self.docs_best_effort(env, manifest, compiler, resolutions, dirs).await;
    }

    /// Whether the docs site has `name@version`; a site that cannot answer fails the job,
    /// which can then be submitted again.
    pub(super) async fn has_docs(
        &self,
        env: &JobEnv,
        name: &PackageName,
        version: Version,
        by: &str,
    ) -> Result<bool, Failure> {
        let versions = env.docs.published_versions(name).await.map_err(|e| {
            Failure(format!(
                "{name}@{version} has already been published{by}; checking whether {} has its documentation \
                 failed ({e}), so nothing was done: submit the request again later to publish missing \
                 documentation.",
                env.docs.describe()
            ))
        })?;
        Ok(versions.contains(&version))
    }

    /// A published version whose documentation the docs site lacks (checked by the
    /// caller): the stored tarball must hold this manifest, then the documentation is
    /// generated as for a fresh publication and uploaded. Unlike after a fresh
    /// publication, failing to upload fails the job: uploading is all it is for.
    pub(super) async fn repair_docs(
        &self,
        env: &JobEnv,
        manifest: &Manifest,
        published: &PublishedMetadata,
        compiler: Version,
        resolutions: &BTreeMap<PackageName, Version>,
        dirs: &Dirs,
    ) -> Result<(), Failure> {
        let id = manifest.id();
        let log = env.log();
        self.check_stored_tarball(env, manifest, published).await?;
        if compiler < PURSUIT_PUBLISH_SINCE {
            log.notice(&format!(
                "{id} is published, but its documentation cannot be published with compiler {compiler}: the \
                 documentation site needs {PURSUIT_PUBLISH_SINCE} or later. Ask again with a later compiler."
            ));
            return Ok(());
        }
        self.prepare_docs(env, manifest, resolutions, dirs).await?;
        self.publish_docs(env, manifest, compiler, resolutions, dirs).await.map_err(|failure| {
            Failure(format!(
                "{id} is published, but its missing documentation could not be published to {}: {failure}",
                env.docs.describe()
            ))
        })?;
        log.notice(&format!(
            "Published the missing documentation of {id} to {}; the version itself was already published.",
            env.docs.describe()
        ));
        Ok(())
    }

    /// What a fresh publication has in place before its documentation step.
    async fn prepare_docs(
        &self,
        env: &JobEnv,
        manifest: &Manifest,
        resolutions: &BTreeMap<PackageName, Version>,
        dirs: &Dirs,
    ) -> Result<(), Failure> {
        self.install(env, resolutions, &dirs.deps).await?;
        std::fs::write(dirs.package.join("purs.json"), manifest.to_pretty())
            .context(|| "Writing purs.json into the source failed".to_owned())?;
        // The documentation is made from exactly what ships.
        self.copy_package_files(env, manifest, dirs).await
    }
}

/// Documentation is best effort: its failure is a NOTICE, the package is published.
fn not_published(env: &JobEnv, id: &str, failure: &Failure) {
    env.log().notice(&format!(
        "The documentation of {id} was not published to {}: {failure} The package itself is published.",
        env.docs.describe()
    ));
}
