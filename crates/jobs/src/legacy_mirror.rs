//! Mirroring a new package set to the legacy package-sets repository (upstream:
//! purescript/package-sets, still read by older spago versions and other tools),
//! as upstream's `MirrorPackageSet` does (inventory §6.2).
//!
//! The set is converted (every package at a location without `subdir`, plus the
//! `metadata` entry naming the compiler; a `subdir` package and its dependants are
//! left out with a NOTICE each, where upstream fails every later mirror), its full tag `psc-<compiler>-<YYYYMMDD>`
//! must not exist yet, and `src/packages.dhall`, `packages.json` and
//! `latest-compatible-sets.json` (only ever raised) are committed as
//! `Update to the <version> package set.`; then the full tag, and the bare compiler
//! tag if the repository lacks it, are pushed. As upstream, any failure fails the
//! job — after the registry has committed the set, which stays committed.

use registry_adapters::{ActivityLog, CommitOutcome, FileChange, GitRepo, TagsOutcome};
use registry_core::commit::append_job_id;
use registry_core::json::Codec;
use registry_core::legacy::package_sets::{
    LATEST_COMPATIBLE_SETS_PATH, LatestCompatibleSets, Raise, convert_package_set, mirror_commit_message,
    mirror_files, mirror_tags,
};
use registry_core::{ManifestIndex, PackageSet};

use crate::Failure;

/// Mirrors `set` (whose manifests are all in `index`) to `repo`. `job_id` is
/// appended to the commit message as upstream does for every commit of a job.
pub async fn mirror_package_set(
    repo: &dyn GitRepo,
    index: &ManifestIndex,
    set: &PackageSet,
    job_id: Option<&str>,
    log: &dyn ActivityLog,
) -> Result<(), Failure> {
    let name = set.version;
    let fail = |message: String| Failure(message);
    log.info(&format!("Mirroring legacy package set {name} to the legacy package sets repo"));
    let converted = convert_package_set(index, set)
        .map_err(|e| fail(format!("Failed to convert package set {name} to a legacy package set: {e}")))?;
    for (_, reason) in &converted.left_out {
        log.notice(reason);
    }
    let tag = converted.tag.to_string();

    let existing = repo.tags().await.map_err(|e| {
        fail(format!(
            "Could not mirror package set {name} because fetching tags from the {} failed: {e}",
            repo.describe()
        ))
    })?;
    if existing.contains(&tag) {
        return Err(fail(format!(
            "Could not mirror package set {name} because the tag {tag} already exists."
        )));
    }

    // As upstream pulls before it writes: start from the remote's current files.
    repo.refresh().await.map_err(|e| {
        fail(format!(
            "Could not mirror package set {name} because the {} could not be updated: {e}",
            repo.describe()
        ))
    })?;
    let unreadable = |why: String| {
        fail(format!(
            "Could not mirror package set because reading the latest compatible sets file from \
             {LATEST_COMPATIBLE_SETS_PATH} failed: {why}"
        ))
    };
    let text = repo
        .read(LATEST_COMPATIBLE_SETS_PATH)
        .await
        .map_err(|e| unreadable(e.to_string()))?
        .ok_or_else(|| unreadable(format!("the {} has no such file", repo.describe())))?;
    let mut latest = LatestCompatibleSets::from_json_str(&text).map_err(|e| unreadable(e.to_string()))?;
    match latest.raise(converted.tag) {
        Raise::Raised => {}
        Raise::AlreadyThere => log.warn(&format!(
            "Not updating {LATEST_COMPATIBLE_SETS_PATH} because the tag {tag} already exists."
        )),
        Raise::Higher(existing) => log.warn(&format!(
            "Not updating {LATEST_COMPATIBLE_SETS_PATH} because an existing tag ({existing}) is higher than \
             the tag we are pushing ({tag})."
        )),
    }

    let changes: Vec<FileChange> = mirror_files(&converted, &latest)
        .into_iter()
        .map(|(path, text)| FileChange::write(path, text))
        .collect();
    let message = append_job_id(&mirror_commit_message(name), job_id);
    let committed = repo
        .commit(&changes, &message, log)
        .await
        .map_err(|e| fail(format!("Failed to commit to legacy registry: {e}")))?;
    match committed {
        CommitOutcome::NoChange => {
            log.info("Did not commit legacy registry files because nothing has changed.");
            return Ok(());
        }
        CommitOutcome::Committed { .. } => log.info("Committed legacy registry files."),
        // READONLY: the tags are still "pushed", so that their NOTICEs say what would have been.
        CommitOutcome::Skipped => {}
    }

    // The tags start the legacy repository's release workflow.
    let tags = mirror_tags(&converted.tag, &existing);
    let pushed = repo
        .push_tags(&tags, log)
        .await
        .map_err(|e| fail(format!("Failed to push tags to legacy registry: {e}")))?;
    match pushed {
        TagsOutcome::Pushed(_) => log.info("Pushed new tags to legacy registry."),
        TagsOutcome::NoChange => {
            log.warn("Tried to push tags to legacy registry, but there was no effect (they already existed).")
        }
        TagsOutcome::Skipped => return Ok(()),
    }
    log.notice("Mirrored a new legacy package set.");
    Ok(())
}
