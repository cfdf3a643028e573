//! Publishing documentation (best effort: the package is published either way).

use std::collections::BTreeMap;

use registry_compiler::purs::PURSUIT_PUBLISH_SINCE;
use registry_core::json::{self, Codec};
use registry_core::validation::format_pursuit_resolutions;
use registry_core::{Location, Manifest, PackageName, Version};

use super::{Dirs, Publisher, blocking};
use crate::{Context, Failure, JobEnv};

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
            log.notice(&format!(
                "The documentation of {id} was not published to {}: {failure} The package itself is published.",
                env.docs.describe()
            ));
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
                return log.notice(&format!(
                    "The documentation of {id} was not published to {}: {failure} The package itself is published.",
                    env.docs.describe()
                ));
            }
        }
        self.docs_best_effort(env, manifest, compiler, resolutions, dirs).await;
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
            .context(|| "Writing purs.json into the source failed".to_owned())
    }
}
