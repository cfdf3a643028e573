//! Unused and missing dependencies: the manifest must declare exactly the
//! packages its modules import (`purs graph`).

use std::collections::BTreeSet;

use registry_compiler::CompilerFailure;
use registry_compiler::graph::parse_installed_module_path;
use registry_compiler::purs::GRAPH_SINCE;
use registry_core::{Manifest, PackageName, Version};

use super::{Dirs, Publisher, blocking};
use crate::{Failure, JobEnv};

impl Publisher {
    pub(super) async fn check_dependencies(
        &self,
        env: &JobEnv,
        manifest: &Manifest,
        compiler: Version,
        dirs: &Dirs,
    ) -> Result<(), Failure> {
        let log = env.log();
        if compiler < GRAPH_SINCE {
            log.warn(&format!(
                "Unused and missing dependencies are not checked with compilers before {GRAPH_SINCE}"
            ));
            return Ok(());
        }
        let own_src = format!("{}/src/", dirs.package.display());
        let deps_prefix = dirs.deps.display().to_string();
        let globs = vec![format!("{own_src}**/*.purs"), format!("{deps_prefix}/*/src/**/*.purs")];
        let purs = self.purs(env);
        let cwd = env.work_dir.clone();
        let graph = match blocking(move || purs.graph(Some(compiler), Some(cwd), globs)).await? {
            Ok(graph) => graph,
            Err(CompilerFailure::CompilationError(errors)) => {
                log.warn(&format!(
                    "purs graph could not read the sources ({} errors), so unused and missing dependencies were \
                     not checked; compiling will report the problem if there is one",
                    errors.len()
                ));
                return Ok(());
            }
            Err(other) => {
                return Err(Failure(format!(
                    "Checking the dependencies of {} failed: {other}",
                    manifest.id()
                )));
            }
        };
        let own: BTreeSet<String> = graph
            .modules
            .iter()
            .filter(|(_, n)| n.path.starts_with(&own_src))
            .map(|(m, _)| m.clone())
            .collect();
        let used: BTreeSet<PackageName> = graph
            .direct_dependencies_of(&own)
            .iter()
            .filter_map(|module| graph.modules.get(module))
            .filter_map(|node| parse_installed_module_path(&deps_prefix, &node.path).ok())
            .map(|(package, _)| package)
            .collect();
        let declared: BTreeSet<PackageName> = manifest.dependencies.keys().cloned().collect();
        let list =
            |set: BTreeSet<&PackageName>| set.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ");
        let unused = list(declared.difference(&used).collect());
        let missing = list(used.difference(&declared).collect());
        let id = manifest.id();
        match (unused.is_empty(), missing.is_empty()) {
            (true, true) => {
                log.info("Every declared dependency is imported, and every imported package is declared");
                Ok(())
            }
            (false, true) => Err(Failure(format!(
                "Unused dependencies ({unused}): {id} declares them but none of its modules imports them. Remove \
                 them from the manifest's dependencies and publish again."
            ))),
            (true, false) => Err(Failure(format!(
                "Missing dependencies ({missing}): modules of {id} import them but the manifest does not declare \
                 them. Add them to the manifest's dependencies and publish again."
            ))),
            (false, false) => Err(Failure(format!(
                "Unused dependencies ({unused}) and missing dependencies ({missing}) in {id}: the manifest's \
                 dependencies must be exactly the packages its modules import. Fix the manifest and publish again."
            ))),
        }
    }
}
