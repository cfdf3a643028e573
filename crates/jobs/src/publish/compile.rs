//! Compiling exactly what ships, with errors told relative to the package.

use std::path::Path;

use registry_compiler::CompilerFailure;
use registry_core::{Manifest, Version};

use super::{Publisher, blocking};
use crate::{Failure, JobEnv};

impl Publisher {
    pub(super) async fn compile(
        &self,
        env: &JobEnv,
        manifest: &Manifest,
        compiler: Version,
    ) -> Result<(), Failure> {
        let top = format!("{}-{}", manifest.name, manifest.version);
        let globs = vec![format!("{top}/src/**/*.purs"), ".registry/*/src/**/*.purs".to_owned()];
        let purs = self.purs.clone();
        let cwd = env.work_dir.clone();
        let output = env.work_dir.join("output");
        match blocking(move || purs.compile(Some(compiler), Some(cwd), globs, Some(output))).await? {
            Ok(_) => {
                env.log().info(&format!("Compiled {} with {compiler}", manifest.id()));
                Ok(())
            }
            Err(CompilerFailure::CompilationError(errors)) => {
                env.log().info(&format!(
                    "Compiler errors:\n{}",
                    CompilerFailure::CompilationError(errors.clone())
                ));
                let first = &errors[0];
                let file = relative_source(&first.filename, &env.work_dir, &top);
                let message = first
                    .message
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .unwrap_or("")
                    .trim_end_matches('.');
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
            Err(other) => {
                Err(Failure(format!("Compiling {} with {compiler} failed: {other}", manifest.id())))
            }
        }
    }
}

pub(super) fn relative_source(filename: &str, work_dir: &Path, top: &str) -> String {
    let work = format!("{}/", work_dir.display());
    let rel = filename.strip_prefix(&work).unwrap_or(filename);
    rel.strip_prefix(&format!("{top}/")).unwrap_or(rel).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiler_file_names_are_shown_relative_to_the_package() {
        let work = Path::new("/tmp/job");
        assert_eq!(relative_source("/tmp/job/a-1.0.0/src/A.purs", work, "a-1.0.0"), "src/A.purs");
        assert_eq!(
            relative_source(".registry/b-1.0.0/src/B.purs", work, "a-1.0.0"),
            ".registry/b-1.0.0/src/B.purs"
        );
    }
}
