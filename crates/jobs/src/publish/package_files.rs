//! Choosing the files that ship and copying them to the packaging directory.

use registry_core::Manifest;
use registry_core::package_files::{include_modules_error, select_package_files};
use registry_core::validation::validate_purs_modules;

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
        let package = dirs.package.clone();
        let tree = blocking(move || list_tree(&package)).await??;
        let selected =
            select_package_files(&tree, manifest.include_files.as_deref(), manifest.exclude_files.as_deref())
                .map_err(|e| Failure(format!("{e} Fix 'includeFiles' in the manifest and publish again.")))?;
        for warning in &selected.warnings {
            log.warn(warning);
        }
        if !selected.modules_to_check.is_empty() {
            let contents: Vec<(String, Result<String, String>)> = selected
                .modules_to_check
                .iter()
                .map(|p| {
                    (p.clone(), std::fs::read_to_string(dirs.package.join(p)).map_err(|e| e.to_string()))
                })
                .collect();
            validate_purs_modules(
                contents.iter().map(|(p, c)| (p.as_str(), c.as_deref().map_err(Clone::clone))),
            )
            .map_err(|report| Failure(include_modules_error(&report)))?;
        }
        let (package, packaging) = (dirs.package.clone(), dirs.packaging.clone());
        let tree = selected.tree;
        let count = tree.len();
        blocking(move || copy_tree(&tree, &package, &packaging)).await??;
        log.info(&format!("Selected {count} files and directories to package"));
        Ok(())
    }
}
