//! Unpublishing a version (upstream `API.authenticated`, inventory §3.3).
//!
//! The signature must verify against the trustee's key or an owner's key from
//! the metadata. A version can be unpublished for 48 hours after publication;
//! a trustee-signed request may pass that limit (upstream applies it to the
//! trustee too). Effects, in an order a retried job completes:
//! 1. remove the manifest from the index (refused while any other manifest
//!    needs this version to satisfy a dependency range);
//! 2. delete the tarball (already gone counts as done);
//! 3. move the version from `published` to `unpublished` in the metadata.

use registry_adapters::{FileChange, StorageError};
use registry_core::auth;
use registry_core::json::Codec as _;
use registry_core::location::Owner;
use registry_core::manifest_index::{entry_path, print_entry};
use registry_core::metadata::UnpublishedMetadata;
use registry_core::operation::{AuthenticatedData, AuthenticatedOperation};
use registry_core::validation::{UnpublishError, validate_unpublish};
use registry_core::{IncludeRanges, ManifestIndex, PackageName, Version, commit};

use crate::registry::{all_manifests, metadata_path, read_entry, read_metadata};
use crate::{Context, Failure, JobEnv};

pub struct Unpublisher {
    /// pacchettibotti, who may sign for any package; `None` if not configured.
    pub trustee: Option<Owner>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signer {
    Trustee,
    Owner,
}

impl Unpublisher {
    pub fn new(trustee: Option<Owner>) -> Self {
        Unpublisher { trustee }
    }

    fn signer(&self, owners: &[Owner], data: &AuthenticatedData) -> Result<Signer, String> {
        if let Some(trustee) = &self.trustee
            && auth::verify(trustee, &[], &data.raw_payload, &data.signature).is_ok()
        {
            return Ok(Signer::Trustee);
        }
        match owners.split_first() {
            Some((first, rest)) => auth::verify(first, rest, &data.raw_payload, &data.signature)
                .map(|()| Signer::Owner)
                // The reason is a sentence of its own; the failure adds the full stop.
                .map_err(|e| e.to_string().trim_end_matches('.').to_owned()),
            None => Err(
                "the package lists no owners in its metadata, so only the registry's trustee can sign for it"
                    .into(),
            ),
        }
    }

    pub async fn run(&self, env: &JobEnv, data: &AuthenticatedData) -> Result<(), Failure> {
        let AuthenticatedOperation::Unpublish(request) = &data.operation else {
            return Err(Failure::new("The unpublish handler received another kind of operation."));
        };
        let log = env.log();
        let (name, version) = (&request.name, request.version);
        let id = format!("{name}@{version}");
        let mut metadata = read_metadata(env.registry.as_ref(), name).await?.ok_or_else(|| {
            Failure(format!(
                "Cannot unpublish {id}: the registry has no metadata for {name} (it was never published)."
            ))
        })?;
        let owners = metadata.owners.clone().unwrap_or_default();
        let signer = self.signer(&owners, data).map_err(|reason| {
            Failure(format!(
                "Failed to authenticate the unpublishing of {id}: {reason}. Sign the exact payload with the private \
                 key of one of the owners listed in the package's metadata."
            ))
        })?;
        log.info(&format!("The signature of the unpublishing of {id} is valid"));

        let now = (env.clock)();
        let published = match validate_unpublish(now, version, &metadata) {
            Ok(published) => published,
            Err(UnpublishError::PastTimeLimit { difference_hours, .. }) if signer == Signer::Trustee => {
                log.notice(&format!(
                    "{id} was published {difference_hours:.1} hours ago, past the owners' limit; unpublishing it \
                     because the registry's trustee signed the request."
                ));
                metadata.published[&version].clone()
            }
            Err(err @ UnpublishError::PastTimeLimit { .. }) => {
                return Err(Failure(format!(
                    "{} Ask the registry's maintainers if it must still be removed.",
                    err.message(&id)
                )));
            }
            Err(err) => return Err(Failure(err.message(&id))),
        };

        // 1. Index (a retry may find the entry already gone).
        let in_index = read_entry(env.index.as_ref(), name).await?.iter().any(|m| m.version == version);
        if in_index {
            self.remove_from_index(env, name, version).await?;
        } else {
            log.info(&format!("{id} is not in the registry index (an earlier attempt removed it)"));
        }

        // 2. Storage.
        match env.storage.delete(name, &version, log).await {
            Ok(()) => {}
            Err(StorageError::NotFound { .. }) => {
                log.info(&format!("The tarball of {id} is not in storage (an earlier attempt deleted it)"));
            }
            Err(err) => {
                return Err(Failure(format!(
                    "Deleting the tarball of {id} failed: {err}. Submit the request again later."
                )));
            }
        }

        // 3. Metadata.
        metadata.published.remove(&version);
        metadata.unpublished.insert(
            version,
            UnpublishedMetadata {
                published_time: published.published_time,
                reason: request.reason.clone(),
                unpublished_time: now,
            },
        );
        let message = commit::append_job_id(&commit::update_metadata(name.as_str()), Some(&env.job_id));
        env.registry
            .commit(&[FileChange::write(metadata_path(name), metadata.to_pretty())], &message, log)
            .await
            .context(|| format!("Writing the metadata of {name} failed"))?;
        log.notice(&format!("Unpublished {id}."));
        Ok(())
    }

    async fn remove_from_index(
        &self,
        env: &JobEnv,
        name: &PackageName,
        version: Version,
    ) -> Result<(), Failure> {
        let id = format!("{name}@{version}");
        let manifests = all_manifests(env.index.as_ref()).await?;
        let mut index = ManifestIndex::maximal(IncludeRanges::ConsiderRanges, manifests.iter()).1;
        if let Err(broken) = index.delete(IncludeRanges::ConsiderRanges, name, version) {
            let dependants: Vec<String> = broken
                .iter()
                .flat_map(|(n, versions)| versions.keys().map(move |v| format!("{n}@{v}")))
                .collect();
            return Err(Failure(format!(
                "Cannot unpublish {id}: {} depend on it and no other version satisfies their ranges. Those \
                 packages must be unpublished first (or publish a compatible version of {name}).",
                dependants.join(", ")
            )));
        }
        let path = entry_path(name);
        let change = match index.versions(name) {
            Some(rest) if !rest.is_empty() => FileChange::write(&path, print_entry(rest.values())),
            _ => FileChange::delete(&path),
        };
        let message = commit::append_job_id(
            &commit::remove_manifest(name.as_str(), &version.to_string()),
            Some(&env.job_id),
        );
        env.index
            .commit(&[change], &message, env.log())
            .await
            .context(|| format!("Removing {id} from the {} failed", env.index.describe()))?;
        Ok(())
    }
}
