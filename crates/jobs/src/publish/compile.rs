//! Compiling exactly what ships, through the build engine, with errors told
//! relative to the package.

use registry_build::EngineError;
use registry_compiler::CompilerFailure;
use registry_core::{Manifest, Sha256, Version};

use super::{Dirs, Publisher};
use crate::builds::{BuildPlace, OnDisk, build_packages, shown_file};
use crate::{Failure, JobEnv};

impl Publisher {
    /// Builds the dependencies (restored from the build cache when their key is
    /// there), then the package from what ships, whose build result is keyed by
    /// `hash`, the tarball's.
    pub(super) async fn compile(
        &self,
        env: &JobEnv,
        manifest: &Manifest,
        compiler: Version,
        deps: Vec<OnDisk>,
        dirs: &Dirs,
        hash: &Sha256,
    ) -> Result<(), Failure> {
        let own = OnDisk {
            name: manifest.name.clone(),
            version: manifest.version,
            manifest: Some(manifest.clone()),
            dir: dirs.packaging.clone(),
            hash: Some(hash.clone()),
        };
        let mut packages = deps;
        packages.push(own);
        let report = match build_packages(env, &self.purs(env), compiler, packages, BuildPlace::JobDir)
            .await?
        {
            Ok(report) => report,
            Err(EngineError::Compiler(failure)) => {
                return Err(Failure(format!(
                    "Compiling {} with {compiler} failed: {failure}",
                    manifest.id()
                )));
            }
            Err(other) => {
                return Err(Failure(format!("Compiling {} with {compiler} failed: {other}", manifest.id())));
            }
        };
        if report.outcome.is_ok() {
            env.log().info(&format!("Compiled {} with {compiler}", manifest.id()));
            return Ok(());
        }
        let errors = report.errors;
        let Some(first) = errors.first() else {
            return Err(Failure(format!(
                "{} does not compile with {compiler}, but the compiler named no error; see the log.",
                manifest.id()
            )));
        };
        env.log().info(&format!("Compiler errors:\n{}", CompilerFailure::CompilationError(errors.clone())));
        let own_dir = format!("{}@{}", manifest.name, manifest.version);
        let file = shown_file(&first.filename, env, compiler, Some(&own_dir), ".registry/");
        let message =
            first.message.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").trim_end_matches('.');
        Err(Failure(format!(
            "{} does not compile with {compiler}: error {} in file {file} at line {}: {message}{} Fix the \
             code, tag a new ref and publish again.",
            manifest.id(),
            first.error_code,
            first.position.start_line,
            if errors.len() > 1 {
                format!(" ({} errors in all; see the log).", errors.len())
            } else {
                ".".into()
            }
        )))
    }
}
