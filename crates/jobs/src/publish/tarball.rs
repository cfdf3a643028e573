//! The reproducible tarball within the size limits, and its upload (never
//! overwriting).

use bytes::Bytes;
use registry_adapters::{StorageError, tarball_key};
use registry_core::validation::{MAX_PACKAGE_BYTES, TarballSize, validate_tarball_size};
use registry_core::{Manifest, Sha256};

use super::{Dirs, Publisher, blocking};
use crate::{Context, Failure, JobEnv};

/// A gzip stream of an empty tar is larger than this: anything smaller is broken.
const MIN_TARBALL_BYTES: usize = 30;

/// A tarball in memory that refuses to grow past `cap`: one over the limit is
/// refused anyway, so packaging stops there instead of holding all of it.
struct CappedVec {
    bytes: Vec<u8>,
    cap: usize,
}

impl std::io::Write for CappedVec {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.cap.saturating_sub(self.bytes.len());
        if room == 0 {
            return Err(std::io::Error::other("the tarball is over the size limit"));
        }
        let n = buf.len().min(room);
        self.bytes.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Publisher {
    pub(super) async fn tarball(
        &self,
        env: &JobEnv,
        manifest: &Manifest,
        dirs: &Dirs,
    ) -> Result<Vec<u8>, Failure> {
        let top = format!("{}-{}", manifest.name, manifest.version);
        let packaging = dirs.packaging.clone();
        let written = blocking(move || {
            let mut out = CappedVec { bytes: Vec::new(), cap: MAX_PACKAGE_BYTES as usize + 1 };
            let result = registry_tarball::write_tarball(&packaging, &top, &mut out);
            (result, out)
        })
        .await?;
        let tarball = match written {
            (Ok(()), out) => out.bytes,
            (Err(_), out) if out.bytes.len() > MAX_PACKAGE_BYTES as usize => {
                return Err(Failure(format!(
                    "The tarball of {} is more than the limit of {MAX_PACKAGE_BYTES} bytes. Leave large files out \
                     with 'excludeFiles' in the manifest and publish again.",
                    manifest.id()
                )));
            }
            (Err(e), _) => return Err(e).context(|| format!("Packaging {} failed", manifest.id())),
        };
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
}

/// Uploads, never overwriting: a stored object equal to this tarball (an earlier
/// attempt's) is reused; a different one stops the job.
pub(super) async fn upload(
    env: &JobEnv,
    manifest: &Manifest,
    tarball: Bytes,
    hash: &Sha256,
) -> Result<(), Failure> {
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
