//! Manifests from the legacy formats, `bower.json` and `spago.dhall` (upstream
//! reads them until some time after August 2026). The file gives the licence,
//! description and dependencies; name, version, location and ref come from the
//! request, as upstream does, so they cannot disagree with it.
//!
//! `spago.dhall` is evaluated by the third-party `dhall-to-json` program, as
//! upstream does: standard input is the file, the working directory the package,
//! so that its `./packages.dhall` import resolves. Remote imports in
//! `packages.dhall` make the program download them; a time limit stops a hang.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use registry_adapters::process::{self, GroupChild};
use registry_core::Manifest;
use registry_core::json::Codec;
use registry_core::legacy::manifest::{
    Bowerfile, LegacyFields, SpagoDhallJson, bowerfile_to_purs_json, spago_dhall_to_purs_json,
};

use super::manifest_file::{ManifestRequest, read_manifest_file};
use crate::Failure;

/// The program that turns a Dhall expression into JSON: `dhall-to-json` from
/// PATH unless the publisher was given another.
pub const DHALL_TO_JSON: &str = "dhall-to-json";

/// How long `dhall-to-json` may take (it may download a package set's imports).
const DHALL_TIME_LIMIT: Duration = Duration::from_secs(120);

/// What goes wrong running `dhall-to-json`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum DhallError {
    /// The program is not installed (or not executable) on this server.
    NotInstalled(String),
    /// It ran and failed; its standard error.
    Failed(String),
    TimedOut,
    /// It wrote more than [`MAX_DHALL_OUTPUT_BYTES`].
    TooLarge,
}

/// Most bytes of JSON read from `dhall-to-json`: Dhall expressions can expand
/// far beyond their size, and a manifest's JSON is a few kilobytes.
const MAX_DHALL_OUTPUT_BYTES: u64 = 1_000_000;

/// Most bytes of its standard error kept for the job log.
const MAX_DHALL_STDERR_BYTES: u64 = 16_000;

/// Runs `program` with `input` as standard input in `cwd` and returns its
/// standard output (upstream `dhallToJson`). The output is read up to
/// [`MAX_DHALL_OUTPUT_BYTES`]; beyond that the program is stopped.
pub(super) async fn dhall_to_json(program: &Path, input: &Path, cwd: &Path) -> Result<String, DhallError> {
    use tokio::io::AsyncReadExt;

    let stdin = std::fs::File::open(input)
        .map_err(|e| DhallError::Failed(format!("spago.dhall cannot be read ({})", e.kind())))?;
    let mut command = tokio::process::Command::new(program);
    command.current_dir(cwd).stdin(Stdio::from(stdin)).stdout(Stdio::piped()).stderr(Stdio::piped());
    // Its own process group, killed with whatever it started when the time limit
    // passes, the output grows too large or the job ends (the guard is dropped
    // with this future).
    let GroupChild { mut child, mut guard } = process::spawn(&mut command)
        .map_err(|e| DhallError::NotInstalled(format!("{}: {e}", program.display())))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(DhallError::Failed("its output could not be read".to_owned()));
    };
    let run = async {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut stdout = stdout.take(MAX_DHALL_OUTPUT_BYTES + 1);
        let mut stderr = stderr.take(MAX_DHALL_STDERR_BYTES);
        let (read_out, _) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        read_out.map_err(|e| DhallError::Failed(e.to_string()))?;
        if out.len() as u64 > MAX_DHALL_OUTPUT_BYTES {
            return Err(DhallError::TooLarge);
        }
        let status = child.wait().await.map_err(|e| DhallError::Failed(e.to_string()))?;
        Ok((status, out, err))
    };
    let (status, stdout, stderr) =
        tokio::time::timeout(DHALL_TIME_LIMIT, run).await.map_err(|_| DhallError::TimedOut)??;
    guard.kill_now();
    if status.success() {
        Ok(String::from_utf8_lossy(&stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&stderr).trim().to_owned();
        Err(DhallError::Failed(if stderr.is_empty() { format!("it exited with {status}") } else { stderr }))
    }
}

fn manifest_of(fields: LegacyFields, request: &ManifestRequest) -> Manifest {
    Manifest {
        name: request.name.clone(),
        version: request.version,
        license: fields.license,
        description: fields.description,
        location: request.location.clone(),
        git_ref: request.git_ref.to_owned(),
        owners: None,
        include_files: None,
        exclude_files: None,
        dependencies: fields.dependencies,
    }
}

/// What the author can do instead of fixing the legacy file.
const OR_ADD_PURS_JSON: &str =
    "or add a purs.json (or a spago.yaml with a 'publish' section) to the package, and publish again";

/// The manifest a `bower.json` describes (upstream `bowerfileToPursJson`).
pub(super) fn from_bower_json(text: &str, request: &ManifestRequest) -> Result<Manifest, Failure> {
    let at = request.git_ref;
    let bowerfile = Bowerfile::from_json_str(text).map_err(|e| {
        Failure(format!("bower.json at ref '{at}' could not be decoded ({e}); fix it, {OR_ADD_PURS_JSON}."))
    })?;
    let fields = bowerfile_to_purs_json(&bowerfile).map_err(|e| {
        let hint = if e.contains("license") {
            "give 'license' as an SPDX identifier such as \"MIT\" (or a list of them)"
        } else if e.contains("range") {
            "give each dependency a version range such as \"^1.0.0\""
        } else {
            "fix bower.json"
        };
        Failure(format!(
            "bower.json at ref '{at}' cannot be converted to a manifest: {e}. In bower.json, {hint}; {OR_ADD_PURS_JSON}."
        ))
    })?;
    Ok(manifest_of(fields, request))
}

/// The manifest a `spago.dhall` (with its `packages.dhall`) describes (upstream
/// `spagoDhallToPursJson`), evaluated with `program`.
pub(super) async fn from_spago_dhall(
    request: &ManifestRequest<'_>,
    program: &Path,
) -> Result<Manifest, Failure> {
    let at = request.git_ref;
    if read_manifest_file(request.dir, "packages.dhall", at)?.is_none() {
        return Err(Failure(format!(
            "The source at ref '{at}' has a spago.dhall but no packages.dhall next to it, and the registry needs \
             the package set to know the dependencies' versions; commit packages.dhall, {OR_ADD_PURS_JSON}."
        )));
    }
    let json = match dhall_to_json(program, &request.dir.join("spago.dhall"), request.dir).await {
        Ok(json) => json,
        Err(DhallError::NotInstalled(reason)) => {
            return Err(Failure(format!(
                "The source at ref '{at}' has only a spago.dhall manifest, which the registry reads with the \
                 dhall-to-json program, but this server does not have dhall-to-json ({reason}). Add a purs.json \
                 (or a spago.yaml with a 'publish' section) to the package and publish again."
            )));
        }
        Err(DhallError::Failed(stderr)) => {
            return Err(Failure(format!(
                "dhall-to-json could not evaluate spago.dhall at ref '{at}': {stderr}\nFix spago.dhall and \
                 packages.dhall (every import must resolve), {OR_ADD_PURS_JSON}."
            )));
        }
        Err(DhallError::TooLarge) => {
            return Err(Failure(format!(
                "dhall-to-json turned spago.dhall at ref '{at}' into more than {MAX_DHALL_OUTPUT_BYTES} bytes of \
                 JSON, more than a manifest can be (its expressions expand too far); simplify spago.dhall, {}.",
                OR_ADD_PURS_JSON
            )));
        }
        Err(DhallError::TimedOut) => {
            return Err(Failure(format!(
                "dhall-to-json did not finish evaluating spago.dhall at ref '{at}' within {} seconds (its \
                 imports may be unreachable); {}.",
                DHALL_TIME_LIMIT.as_secs(),
                OR_ADD_PURS_JSON.trim_start_matches("or ")
            )));
        }
    };
    let spago = SpagoDhallJson::from_json_str(&json).map_err(|e| {
        Failure(format!(
            "The JSON that dhall-to-json made of spago.dhall at ref '{at}' is not a spago configuration ({e}); fix \
             spago.dhall, {OR_ADD_PURS_JSON}."
        ))
    })?;
    let fields = spago_dhall_to_purs_json(&spago).map_err(|e| {
        let hint = if e.contains("license") || e.contains("SPDX") {
            "set 'license' to an SPDX identifier such as \"MIT\""
        } else {
            "make every dependency an entry of the package set in packages.dhall, with a version such as \"v1.2.3\""
        };
        Failure(format!(
            "spago.dhall at ref '{at}' cannot be converted to a manifest: {e}. In spago.dhall, {hint}; \
             {OR_ADD_PURS_JSON}."
        ))
    })?;
    Ok(manifest_of(fields, request))
}

#[cfg(test)]
mod tests {
    use registry_core::{Location, PackageName, Version};

    use super::*;

    /// Runs `f` with a request for legacy@1.2.3 at ref v1.2.3.
    fn with_request<T>(f: impl FnOnce(&ManifestRequest) -> T) -> T {
        let name = PackageName::parse("legacy").unwrap();
        let location = Location::GitHub { owner: "o".into(), repo: "purescript-legacy".into(), subdir: None };
        f(&ManifestRequest {
            dir: Path::new("/nonexistent"),
            name: &name,
            version: Version::new(1, 2, 3),
            git_ref: "v1.2.3",
            location: &location,
            outside_links: &[],
        })
    }

    #[test]
    fn bower_json_takes_identity_from_the_request() {
        let text = r#"{"name": "other", "version": "9.9.9", "license": ["Nonsense", "MIT"],
                       "dependencies": {"purescript-prelude": "^6.0.0"}}"#;
        let manifest = with_request(|r| from_bower_json(text, r)).unwrap();
        assert_eq!(manifest.name.as_str(), "legacy");
        assert_eq!(manifest.version, Version::new(1, 2, 3));
        assert_eq!(manifest.git_ref, "v1.2.3");
        assert_eq!(manifest.license.to_string(), "MIT");
        let deps: Vec<String> = manifest.dependencies.iter().map(|(n, r)| format!("{n} {r}")).collect();
        assert_eq!(deps, ["prelude >=6.0.0 <7.0.0"]);
    }

    #[test]
    fn bower_json_errors_say_what_to_change() {
        let err = with_request(|r| from_bower_json(r#"{"license": "Nonsense"}"#, r)).unwrap_err();
        assert!(err.0.contains("No valid SPDX license found in bower.json"), "{err}");
        assert!(err.0.contains("\"MIT\""), "{err}");
        let err = with_request(|r| from_bower_json("{", r)).unwrap_err();
        assert!(err.0.contains("could not be decoded"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_program_is_not_installed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("spago.dhall"), "{=}").unwrap();
        let missing = dir.path().join("no-such-program");
        let result = dhall_to_json(&missing, &dir.path().join("spago.dhall"), dir.path()).await;
        assert!(matches!(result, Err(DhallError::NotInstalled(_))), "{result:?}");
    }
}
