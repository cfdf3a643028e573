//! One manifest file of a package, and what reading a manifest needs to know: the
//! ground both the modern formats ([`super::manifest`]) and the legacy ones
//! ([`super::legacy`]) stand on.

use std::path::Path;

use registry_core::{Location, PackageName, Version};

use crate::Failure;
use crate::files::read_package_text;

/// Largest manifest file read (`purs.json`, `spago.yaml`, `bower.json`,
/// `spago.dhall`, `packages.dhall`): real ones are a few kilobytes, a package
/// set's `packages.dhall` some hundreds.
pub(super) const MAX_MANIFEST_BYTES: u64 = 1_000_000;

/// The text of the manifest file `file` in `dir`, `None` when there is none; the
/// error names the file and what is wrong with it.
pub(super) fn read_manifest_file(dir: &Path, file: &str, git_ref: &str) -> Result<Option<String>, Failure> {
    read_package_text(dir, file, MAX_MANIFEST_BYTES).map_err(|why| {
        Failure(format!(
            "{file} at ref '{git_ref}' {why} (a manifest file may have at most {MAX_MANIFEST_BYTES} bytes of \
             UTF-8 text); fix it and publish again."
        ))
    })
}

/// Where the manifest is, and what the request and the metadata say about the
/// package (legacy formats take name, version, location and ref from here).
pub(super) struct ManifestRequest<'a> {
    pub dir: &'a Path,
    pub name: &'a PackageName,
    pub version: Version,
    pub git_ref: &'a str,
    /// The registered location (the metadata's).
    pub location: &'a Location,
    /// Links removed from `dir` because they lead outside the package.
    pub outside_links: &'a [String],
}
