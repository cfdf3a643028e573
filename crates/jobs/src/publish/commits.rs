//! The durable registry writes: the metadata commit and the index commit.

use registry_adapters::FileChange;
use registry_core::manifest_index::{entry_path, print_entry};
use registry_core::{IncludeRanges, Manifest, ManifestIndex, Metadata, PackageName, Version, commit};

use registry_core::json::Codec;

use crate::registry::{metadata_path, reachable};
use crate::{Context, Failure, JobEnv};

pub(super) async fn write_metadata(
    env: &JobEnv,
    name: &PackageName,
    metadata: &Metadata,
) -> Result<(), Failure> {
    let message = commit::append_job_id(&commit::update_metadata(name.as_str()), Some(&env.job_id));
    env.registry
        .commit(&[FileChange::write(metadata_path(name), metadata.to_pretty())], &message, env.log())
        .await
        .context(|| format!("Writing the metadata of {name} to the {} failed", env.registry.describe()))?;
    Ok(())
}

/// Adds the manifest to the package's index entry; every dependency must have a
/// version in the index within its range.
pub(super) async fn write_index_entry(
    env: &JobEnv,
    manifest: &Manifest,
    entry: Vec<Manifest>,
) -> Result<(), Failure> {
    let reach =
        reachable(env.registry.as_ref(), env.index.as_ref(), manifest.dependencies.keys().cloned()).await?;
    let mut index = ManifestIndex::maximal(IncludeRanges::IgnoreRanges, reach.manifests.iter()).1;
    for existing in entry {
        let _ = index.insert(IncludeRanges::IgnoreRanges, existing);
    }
    if let Err(unsatisfied) = index.insert(IncludeRanges::ConsiderRanges, manifest.clone()) {
        let described: Vec<String> = unsatisfied.iter().map(|(n, r)| format!("{n} {r}")).collect();
        return Err(Failure(format!(
            "{} cannot enter the registry index: no published version satisfies {}. Publish those first or \
             loosen the ranges.",
            manifest.id(),
            described.join(", ")
        )));
    }
    let versions = index.versions(&manifest.name).map(|v| v.values().collect::<Vec<_>>()).unwrap_or_default();
    let message = commit::append_job_id(
        &commit::update_manifest(manifest.name.as_str(), &manifest.version.to_string()),
        Some(&env.job_id),
    );
    env.index
        .commit(&[FileChange::write(entry_path(&manifest.name), print_entry(versions))], &message, env.log())
        .await
        .context(|| {
            format!("Writing the index entry of {} to the {} failed", manifest.id(), env.index.describe())
        })?;
    Ok(())
}

/// The job that wrote `name@version`'s index entry, from the `Job ID` line of the
/// newest commit adding it (`None` if that commit names no job).
pub(super) async fn index_entry_writer(
    env: &JobEnv,
    name: &PackageName,
    version: Version,
) -> Result<Option<String>, Failure> {
    let subject = commit::update_manifest(name.as_str(), &version.to_string());
    let messages = env.index.commit_messages(&entry_path(name), &subject).await.context(|| {
        format!("Reading the history of {name}'s index entry in the {} failed", env.index.describe())
    })?;
    Ok(messages
        .iter()
        .find(|m| m.lines().next() == Some(subject.as_str()))
        .and_then(|m| job_id_of(m))
        .map(str::to_owned))
}

/// The job named by a message made with [`commit::append_job_id`].
fn job_id_of(message: &str) -> Option<&str> {
    message
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("Job ID: "))
        .map(str::trim)
        .filter(|id| !id.is_empty())
}
