//! Completing an earlier attempt of a publication: one that wrote the metadata but
//! not the index entry, or this job's own attempt that wrote both and was
//! interrupted before it could say so.

use registry_core::json::Codec;
use registry_core::metadata::PublishedMetadata;
use registry_core::{Manifest, Metadata};

use super::commits::{write_index_entry, write_metadata};
use super::manifest_file::MAX_MANIFEST_BYTES;
use super::{Publisher, blocking};
use crate::registry::read_entry;
use crate::verified::download_verified;
use crate::{Context, Failure, JobEnv};

/// What an earlier attempt left: the version in the metadata and, if `indexed`,
/// `manifest` in the index (written by this job).
pub(super) struct EarlierAttempt<'a> {
    pub manifest: &'a Manifest,
    pub published: &'a PublishedMetadata,
    pub indexed: bool,
}

impl Publisher {
    /// The stored tarball must be intact and hold the manifest received now; then
    /// the metadata (owners may have changed) and the index entry are written if
    /// the earlier attempt had not written the index entry.
    pub(super) async fn complete_earlier_attempt(
        &self,
        env: &JobEnv,
        attempt: &EarlierAttempt<'_>,
        metadata: Metadata,
    ) -> Result<(), Failure> {
        let manifest = attempt.manifest;
        let id = manifest.id();
        let log = env.log();
        if attempt.indexed {
            log.info(&format!(
                "{id} is in the metadata and in the index, written by this job before it was interrupted: checking \
                 and finishing that attempt"
            ));
        } else {
            log.info(&format!("{id} is in the metadata but not in the index: completing an earlier attempt"));
        }
        self.check_stored_tarball(env, manifest, attempt.published).await?;
        if attempt.indexed {
            return Ok(());
        }
        write_metadata(env, &manifest.name, &metadata).await?;
        let entry = read_entry(env.index.as_ref(), &manifest.name).await?;
        write_index_entry(env, manifest, entry).await?;
        Ok(())
    }

    /// The stored tarball matches the metadata's size and hash and its `purs.json`
    /// is `manifest`.
    pub(super) async fn check_stored_tarball(
        &self,
        env: &JobEnv,
        manifest: &Manifest,
        published: &PublishedMetadata,
    ) -> Result<(), Failure> {
        let id = manifest.id();
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
        let stored = crate::files::read_package_text(&dest.join(&top), "purs.json", MAX_MANIFEST_BYTES)
            .ok()
            .flatten()
            .and_then(|text| Manifest::from_json_str(&text).ok());
        if stored.as_ref() != Some(manifest) {
            return Err(Failure(format!(
                "The source manifest differs from the manifest in the existing tarball of {id}, which an earlier \
                 attempt stored: restore the source at ref '{}' to what was published then, or publish a new version.",
                manifest.git_ref
            )));
        }
        Ok(())
    }
}
