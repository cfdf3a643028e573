//! Choosing the files that ship and copying them to the packaging directory.

use std::path::Path;

use registry_core::Manifest;
use registry_core::glob::{EntryKind, Tree};
use registry_core::package_files::{include_modules_error, select_package_files};
use registry_tarball::Limits;

use super::checks::module_header_report;
use super::{Dirs, Publisher, blocking};
use crate::files::{copy_tree, list_tree};
use crate::{Failure, JobEnv};

impl Publisher {
    pub(super) async fn copy_package_files(
        &self,
        env: &JobEnv,
        manifest: &Manifest,
        dirs: &Dirs,
    ) -> Result<(), Failure> {
        let log = env.log();
        let (package, outside) = (dirs.package.clone(), dirs.outside_links.clone());
        let tree = blocking(move || list_tree(&package, &outside)).await??;
        let selected =
            select_package_files(&tree, manifest.include_files.as_deref(), manifest.exclude_files.as_deref())
                .map_err(|e| Failure(format!("{e} Fix 'includeFiles' in the manifest and publish again.")))?;
        for warning in &selected.warnings {
            log.warn(warning);
        }
        if !selected.modules_to_check.is_empty() {
            module_header_report(&dirs.package, "", &selected.modules_to_check)
                .map_err(|report| Failure(include_modules_error(&report)))?;
        }
        let (package, packaging) = (dirs.package.clone(), dirs.packaging.clone());
        let tree = selected.tree;
        let id = manifest.id().to_string();
        let checked = tree.clone();
        let package_dir = package.clone();
        blocking(move || within_install_limits(&checked, &package_dir, &id, &Limits::default())).await??;
        let count = tree.len();
        blocking(move || copy_tree(&tree, &package, &packaging)).await??;
        log.info(&format!("Selected {count} files and directories to package"));
        Ok(())
    }
}

/// What ships must be installable: the tarball's entries (its top directory
/// included) and file sizes are held to the limits that installation applies,
/// before anything is copied or packaged.
fn within_install_limits(tree: &Tree, package: &Path, id: &str, limits: &Limits) -> Result<(), Failure> {
    const FIX: &str = "Leave files out with 'excludeFiles' in the manifest and publish again.";
    let entries = tree.len() + 1;
    if entries > limits.max_entries {
        return Err(Failure(format!(
            "{id} would ship {entries} files and directories (its top directory included), more than the {} a \
             package may hold when it is installed. {FIX}",
            limits.max_entries
        )));
    }
    let mut total = 0u64;
    for (rel, kind) in tree.entries() {
        if kind != EntryKind::File {
            continue;
        }
        let size = std::fs::symlink_metadata(package.join(rel))
            .map_err(|e| Failure(format!("Reading {rel} in the package failed ({}).", e.kind())))?
            .len();
        if size > limits.max_file_bytes {
            return Err(Failure(format!(
                "{rel} is {size} bytes, more than the {} bytes a file of a package may have when it is \
                 installed. {FIX}",
                limits.max_file_bytes
            )));
        }
        total += size;
        if total > limits.max_total_bytes {
            return Err(Failure(format!(
                "The files {id} would ship add up to more than the {} bytes a package may hold when it is \
                 installed. {FIX}",
                limits.max_total_bytes
            )));
        }
    }
    Ok(())
}
