//! Installing the build plan's dependencies from storage, each verified against
//! its metadata.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use registry_core::metadata::PublishedMetadata;
use registry_core::{PackageName, Sha256, Version};

use super::{Publisher, blocking};
use crate::registry::read_metadata;
use crate::{Context, Failure, JobEnv};

impl Publisher {
    pub(super) async fn install(
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
            install_verified(env, dep, *version, &published, deps_dir).await?;
        }
        env.log().info(&format!("Installed {} dependencies", resolutions.len()));
        Ok(())
    }
}

/// Downloads a stored tarball and checks it against its metadata (size, then hash).
/// Downloads `name@version`, checks it against `published` and unpacks it into
/// `dir/<name>-<version>/`.
pub(crate) async fn install_verified(
    env: &JobEnv,
    name: &PackageName,
    version: Version,
    published: &PublishedMetadata,
    dir: &Path,
) -> Result<(), Failure> {
    let tarball = download_verified(env, name, version, published).await?;
    let (dest, top) = (dir.to_path_buf(), format!("{name}-{version}"));
    blocking(move || {
        registry_tarball::extract_tarball(
            tarball.as_ref(),
            &dest,
            Some(&top),
            &registry_tarball::Limits::default(),
        )
    })
    .await?
    .context(|| format!("Unpacking the tarball of {name}@{version} failed"))?;
    Ok(())
}

pub(super) async fn download_verified(
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
