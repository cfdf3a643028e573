//! The one way a job gets a published tarball: downloaded from storage and checked
//! against its metadata entry (size, then sha256) before a single byte is unpacked.
//! Publish (its dependencies and a retry's stored tarball), matrix jobs and package
//! sets all install through here, so a damaged or swapped object is refused alike.

use std::path::Path;

use bytes::Bytes;
use registry_core::metadata::PublishedMetadata;
use registry_core::{PackageName, Sha256, Version};

use crate::{Context, Failure, JobEnv};

/// Checks `bytes` against `published`: the size first (cheap, and a truncated or
/// padded object is caught even if someone forged a matching hash entry), then the
/// hash. The error names the package, what was expected and what was found.
pub fn verify_tarball(
    name: &PackageName,
    version: Version,
    bytes: &[u8],
    published: &PublishedMetadata,
) -> Result<(), String> {
    let id = format!("{name}@{version}");
    if bytes.len() as u64 != published.bytes {
        return Err(format!(
            "Integrity check failed for {id}: size mismatch (got {}, expected {}). The stored tarball is damaged; \
             please report this to the registry's maintainers.",
            bytes.len(),
            published.bytes
        ));
    }
    let hash = Sha256::of_bytes(bytes);
    if hash != published.hash {
        return Err(format!(
            "Integrity check failed for {id}: hash mismatch (got {}, expected {}). The stored tarball is damaged; \
             please report this to the registry's maintainers.",
            hash.as_str(),
            published.hash.as_str()
        ));
    }
    Ok(())
}

/// Downloads `name@version` from the job's storage and verifies it.
pub async fn download_verified(
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
    verify_tarball(name, version, &bytes, published).map_err(Failure)?;
    Ok(bytes)
}

/// Unpacks a verified tarball into `dest` itself (its top directory
/// `<name>-<version>` removed), within the package limits. `dest` must be empty.
pub fn unpack_verified(
    name: &PackageName,
    version: Version,
    bytes: &[u8],
    dest: &Path,
) -> Result<(), String> {
    let top = format!("{name}-{version}");
    let extracted =
        registry_tarball::extract_tarball(bytes, dest, Some(&top), &registry_tarball::Limits::default())
            .map_err(|e| format!("Unpacking the tarball of {name}@{version} failed: {e}"))?;
    let top_dir = dest.join(&extracted.top_dir);
    let moved = |e: std::io::Error| format!("Unpacking the tarball of {name}@{version} failed: {e}");
    for entry in std::fs::read_dir(&top_dir).map_err(moved)? {
        let entry = entry.map_err(moved)?;
        std::fs::rename(entry.path(), dest.join(entry.file_name())).map_err(moved)?;
    }
    std::fs::remove_dir(&top_dir).map_err(moved)
}

/// Downloads, verifies and unpacks `name@version` into `dir/<name>-<version>/`.
pub async fn install_verified(
    env: &JobEnv,
    name: &PackageName,
    version: Version,
    published: &PublishedMetadata,
    dir: &Path,
) -> Result<(), Failure> {
    let tarball = download_verified(env, name, version, published).await?;
    let (dest, top) = (dir.to_path_buf(), format!("{name}-{version}"));
    registry_adapters::process::blocking(move || {
        registry_tarball::extract_tarball(
            tarball.as_ref(),
            &dest,
            Some(&top),
            &registry_tarball::Limits::default(),
        )
    })
    .await
    .map_err(|e| Failure(format!("Internal error: unpacking crashed ({e}). This is a bug in the registry.")))?
    .context(|| format!("Unpacking the tarball of {name}@{version} failed"))?;
    Ok(())
}
