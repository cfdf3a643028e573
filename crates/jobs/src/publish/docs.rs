//! Publishing documentation (best effort: the package is published either way).

use std::collections::BTreeMap;

use registry_core::json;
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
            let mut git = tokio::process::Command::new("git");
            git.current_dir(&dirs.clone).args([
                "remote",
                "set-url",
                "origin",
                &format!("https://github.com/{owner}/{repo}.git"),
            ]);
            let _ = registry_adapters::process::run(&mut git).await;
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
