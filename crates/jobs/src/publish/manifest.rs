//! Reading the package's manifest from its source.

use std::path::Path;

use registry_core::Manifest;
use registry_core::json;
use registry_core::spago_yaml::{SpagoYaml, spago_yaml_to_manifest};

use crate::Failure;

/// `purs.json`, else `spago.yaml` (with `ref` from the request).
pub(super) fn read_manifest(dir: &Path, git_ref: &str) -> Result<Manifest, Failure> {
    let read = |file: &str| std::fs::read_to_string(dir.join(file)).ok();
    if let Some(text) = read("purs.json") {
        let value = json::parse(&text).map_err(|e| {
            Failure(format!(
                "purs.json at ref '{git_ref}' is not valid JSON ({e}); fix it and publish again."
            ))
        })?;
        if value.get("license").is_none() {
            return Err(Failure(format!(
                "purs.json at ref '{git_ref}' has no 'license' field: add an SPDX licence identifier such as \
                 \"MIT\" and publish again."
            )));
        }
        return Manifest::decode_authored(&value).map_err(|e| {
            Failure(format!(
                "purs.json at ref '{git_ref}' is not a valid manifest: {e}. Fix it and publish again."
            ))
        });
    }
    if let Some(text) = read("spago.yaml") {
        let config = SpagoYaml::parse(&text).map_err(|e| {
            Failure(format!("spago.yaml at ref '{git_ref}' cannot be read: {e}. Fix it and publish again."))
        })?;
        return spago_yaml_to_manifest(git_ref, &config).map_err(|e| {
            Failure(format!(
                "spago.yaml at ref '{git_ref}' does not describe a publishable package: {e} Fix it and publish again."
            ))
        });
    }
    if read("bower.json").is_some() || read("spago.dhall").is_some() {
        return Err(Failure(format!(
            "The source at ref '{git_ref}' has only a legacy manifest (bower.json or spago.dhall), which this \
             registry does not read yet; add a purs.json or a spago.yaml with a 'publish' section and publish again."
        )));
    }
    Err(Failure(format!(
        "No manifest found at ref '{git_ref}': add a purs.json (or a spago.yaml with a 'publish' section) at the \
         package's root and publish again."
    )))
}
