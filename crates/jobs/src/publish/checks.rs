//! Checks of the manifest and the sources against the request: name, version,
//! location, licence, module names.

use std::path::Path;

use registry_core::license_detect::{self, RepoFile};
use registry_core::operation::PublishData;
use registry_core::validation::validate_purs_modules;
use registry_core::{License, Location, Manifest, Version};

use super::location_text;
use crate::Failure;
use crate::files::{read_package_text, root_text_files};

/// Module names are enforced from this compiler on (older code may not parse).
const MODULE_CHECK_SINCE: Version = Version::new(0, 15, 0);

/// Name, version and location of the manifest must be the request's (upstream
/// forgets the version).
pub(super) fn check_manifest(
    manifest: &Manifest,
    data: &PublishData,
    registered: &Location,
) -> Result<(), Failure> {
    let at = &data.git_ref;
    if manifest.name != data.name {
        return Err(Failure(format!(
            "The manifest at ref '{at}' is for package {}, but the request is for {}; make them agree.",
            manifest.name, data.name
        )));
    }
    if manifest.version != data.version {
        return Err(Failure(format!(
            "The manifest at ref '{at}' has version {}, but the request is for version {}; publish a ref whose \
             manifest says {}, or request version {}.",
            manifest.version, data.version, data.version, manifest.version
        )));
    }
    if let Some(owners) = &manifest.owners {
        registry_core::auth::check_owner_keys(owners).map_err(Failure)?;
    }
    if manifest.location != *registered {
        return Err(Failure(format!(
            "The manifest's location {} differs from the registered location {} of {}; fix the manifest's \
             location, or transfer the package first.",
            location_text(&manifest.location),
            location_text(registered),
            data.name
        )));
    }
    Ok(())
}

/// The licences found in the package's own files must be covered by the
/// manifest's. Licence texts of GNU licences do not say "only" or "or later", so
/// one detected from a text counts as either (upstream would demand `-only`).
pub(super) fn check_licence(dir: &Path, licence: &License) -> Result<(), Failure> {
    let files = root_text_files(dir);
    let repo_files: Vec<RepoFile> = files.iter().map(|(n, c)| RepoFile { name: n, contents: c }).collect();
    let manifest_ids = licence.extract_ids();
    let detected: Vec<String> = license_detect::detect(&repo_files)
        .into_iter()
        .map(|id| {
            let or_later = format!("{id}-or-later");
            if is_bare_gnu_id(&id) && manifest_ids.contains(&or_later.to_uppercase()) { or_later } else { id }
        })
        .collect();
    license_detect::validate_license(licence, &detected).map_err(|e| Failure(e.to_string()))
}

/// `GPL-3.0`, `LGPL-2.1`, `AGPL-3.0`: what licence texts are detected as.
pub(super) fn is_bare_gnu_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("GPL-").or(id.strip_prefix("LGPL-")).or(id.strip_prefix("AGPL-")) else {
        return false;
    };
    rest.split('.').count() == 2
        && rest.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

pub(super) fn check_modules(
    src: &Path,
    modules: &[String],
    compiler: Version,
    log: &dyn registry_adapters::ActivityLog,
) -> Result<(), Failure> {
    match module_header_report(src, "src/", modules) {
        Ok(()) => Ok(()),
        Err(report) if compiler >= MODULE_CHECK_SINCE => Err(Failure(format!(
            "Some modules have malformed or disallowed names (libraries cannot publish Main or Test.Main); rename \
             them and publish again:{report}"
        ))),
        Err(report) => {
            log.warn(&format!(
                "Module header problems (not fatal before compiler {MODULE_CHECK_SINCE}):{report}"
            ));
            Ok(())
        }
    }
}

/// The module-header report of `modules` (inside `dir`, shown after `shown_prefix`).
/// Files are read one at a time, each up to the largest file a package may hold,
/// so memory stays bounded whatever the package holds.
pub(super) fn module_header_report(dir: &Path, shown_prefix: &str, modules: &[String]) -> Result<(), String> {
    let max = registry_tarball::Limits::default().max_file_bytes;
    let mut report = String::new();
    for module in modules {
        let shown = format!("{shown_prefix}{module}");
        let contents = match read_package_text(dir, module, max) {
            Ok(Some(text)) => Ok(text),
            Ok(None) => Err("the file does not exist".to_owned()),
            Err(why) => Err(format!("the file {why}")),
        };
        if let Err(part) =
            validate_purs_modules([(shown.as_str(), contents.as_deref().map_err(Clone::clone))])
        {
            report.push_str(&part);
        }
    }
    if report.is_empty() { Ok(()) } else { Err(report) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gnu_ids_from_texts_are_recognised() {
        assert!(is_bare_gnu_id("GPL-3.0"));
        assert!(is_bare_gnu_id("LGPL-2.1"));
        assert!(is_bare_gnu_id("AGPL-3.0"));
        assert!(!is_bare_gnu_id("GPL-3.0-only"));
        assert!(!is_bare_gnu_id("MIT"));
        assert!(!is_bare_gnu_id("GPL-3"));
    }

    fn licence_check(manifest: &str, text: &str) -> Result<(), Failure> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("LICENSE"), text).unwrap();
        check_licence(dir.path(), &License::parse_canonical(manifest).unwrap())
    }

    #[test]
    fn a_gnu_text_matches_only_and_or_later() {
        let gpl3 = "GNU GENERAL PUBLIC LICENSE\n   Version 3, 29 June 2007\n";
        if license_detect::detect_text(gpl3) != Some("GPL-3.0") {
            panic!("the detector no longer reads this GPL text: {:?}", license_detect::detect_text(gpl3));
        }
        assert!(licence_check("GPL-3.0-only", gpl3).is_ok());
        assert!(licence_check("GPL-3.0-or-later", gpl3).is_ok());
        let err = licence_check("MIT", gpl3).unwrap_err();
        assert!(err.0.starts_with("License mismatch"), "{err}");
        assert!(licence_check("GPL-2.0-or-later", gpl3).is_err());
    }
}
