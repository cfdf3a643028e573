//! Installing the build plan's dependencies from storage, each verified against
//! its metadata.

use std::collections::BTreeMap;
use std::path::Path;

use registry_core::{PackageName, Version};

use super::Publisher;
use crate::builds::OnDisk;
use crate::registry::{read_entry, read_metadata};
use crate::verified::install_verified;
use crate::{Context, Failure, JobEnv};

impl Publisher {
    pub(super) async fn install(
        &self,
        env: &JobEnv,
        resolutions: &BTreeMap<PackageName, Version>,
        deps_dir: &Path,
    ) -> Result<Vec<OnDisk>, Failure> {
        let mut installed = Vec::new();
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
            install_verified(env, dep, *version, &published, deps_dir).await?;
            let manifest =
                read_entry(env.index.as_ref(), dep).await?.into_iter().find(|m| m.version == *version);
            installed.push(OnDisk {
                name: dep.clone(),
                version: *version,
                manifest,
                dir: deps_dir.join(format!("{dep}-{version}")),
                hash: Some(published.hash),
            });
        }
        env.log().info(&format!("Installed {} dependencies", resolutions.len()));
        Ok(installed)
    }
}
