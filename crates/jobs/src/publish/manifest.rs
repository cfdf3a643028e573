//! Reading the package's manifest from its source, in upstream's order of
//! preference: `purs.json`, `spago.yaml`, then the legacy `bower.json` and
//! `spago.dhall` (see [`super::legacy`]).

use std::path::Path;

use registry_core::Manifest;
use registry_core::json;
use registry_core::spago_yaml::{SpagoYaml, spago_yaml_to_manifest};

use super::legacy;
pub(super) use super::manifest_file::ManifestRequest;
use super::manifest_file::read_manifest_file;
use crate::Failure;

/// Which file the manifest came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ManifestOrigin {
    PursJson,
    SpagoYaml,
    BowerJson,
    SpagoDhall,
}

impl ManifestOrigin {
    /// The file's name, for a converted manifest's log line.
    pub(super) fn file(self) -> &'static str {
        match self {
            ManifestOrigin::PursJson => "purs.json",
            ManifestOrigin::SpagoYaml => "spago.yaml",
            ManifestOrigin::BowerJson => "bower.json",
            ManifestOrigin::SpagoDhall => "spago.dhall",
        }
    }
}

/// The package's manifest and where it came from; `dhall_to_json` is the program
/// that evaluates a `spago.dhall`.
pub(super) async fn read_manifest(
    request: &ManifestRequest<'_>,
    dhall_to_json: &Path,
) -> Result<(Manifest, ManifestOrigin), Failure> {
    if let Some(manifest) = read_modern(request.dir, request.git_ref)? {
        return Ok(manifest);
    }
    let dir = request.dir;
    if let Some(text) = read_manifest_file(dir, "bower.json", request.git_ref)? {
        return Ok((legacy::from_bower_json(&text, request)?, ManifestOrigin::BowerJson));
    }
    if read_manifest_file(dir, "spago.dhall", request.git_ref)?.is_some() {
        let manifest = legacy::from_spago_dhall(request, dhall_to_json).await?;
        return Ok((manifest, ManifestOrigin::SpagoDhall));
    }
    let links: Vec<&str> = ["purs.json", "spago.yaml", "bower.json", "spago.dhall"]
        .into_iter()
        .filter(|f| request.outside_links.iter().any(|l| l == f))
        .collect();
    if !links.is_empty() {
        return Err(Failure(format!(
            "{} at ref '{}' is a link leading outside the package directory, which the registry does not read; \
             commit the manifest itself instead of a link and publish again.",
            links.join(", "),
            request.git_ref
        )));
    }
    Err(Failure(format!(
        "No manifest found at ref '{}': add a purs.json (or a spago.yaml with a 'publish' section) at the \
         package's root and publish again.",
        request.git_ref
    )))
}

/// `purs.json`, else `spago.yaml` (with `ref` from the request); `None` when
/// there is neither.
fn read_modern(dir: &Path, git_ref: &str) -> Result<Option<(Manifest, ManifestOrigin)>, Failure> {
    if let Some(text) = read_manifest_file(dir, "purs.json", git_ref)? {
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
        return Manifest::decode_authored(&value).map(|m| Some((m, ManifestOrigin::PursJson))).map_err(|e| {
            Failure(format!(
                "purs.json at ref '{git_ref}' is not a valid manifest: {e}. Fix it and publish again."
            ))
        });
    }
    if let Some(text) = read_manifest_file(dir, "spago.yaml", git_ref)? {
        let config = SpagoYaml::parse(&text).map_err(|e| {
            Failure(format!("spago.yaml at ref '{git_ref}' cannot be read: {e}. Fix it and publish again."))
        })?;
        return spago_yaml_to_manifest(git_ref, &config)
            .map(|m| Some((m, ManifestOrigin::SpagoYaml)))
            .map_err(|e| {
                Failure(format!(
                    "spago.yaml at ref '{git_ref}' does not describe a publishable package: {e} Fix it and publish \
                     again."
                ))
            });
    }
    Ok(None)
}
