//! The build plan: the compiler and the dependency versions to compile with,
//! solved or checked against resolutions the request gave.

use std::collections::BTreeMap;

use registry_core::operation::PublishData;
use registry_core::solver::{ManifestDeps, build_compiler_index, published_compilers, solve_with_compiler};
use registry_core::validation::{UnresolvedDependency, get_unresolved_dependencies};
use registry_core::{Manifest, PackageName, Range, Version};

use super::{Publisher, blocking};
use crate::registry::reachable;
use crate::{Failure, JobEnv};

impl Publisher {
    pub(super) async fn build_plan(
        &self,
        env: &JobEnv,
        manifest: &Manifest,
        data: &PublishData,
        installed: &[Version],
    ) -> Result<(Version, BTreeMap<PackageName, Version>), Failure> {
        let id = manifest.id();
        let supported = || installed.iter().map(Version::to_string).collect::<Vec<_>>().join(", ");
        let (Some(lowest), Some(highest)) = (installed.first(), installed.last()) else {
            return Err(Failure::new(
                "This registry has no compiler installed, so nothing can be published; the registry's \
                 operators must install one.",
            ));
        };
        if let Some(compiler) = data.compiler
            && !installed.contains(&compiler)
        {
            return Err(Failure(format!(
                "Compiler {compiler} is not supported by this registry; choose one of: {}.",
                supported()
            )));
        }
        // Given resolutions are checked against the manifest whether or not a
        // compiler is given (upstream validates them in both cases).
        if let Some(resolutions) = &data.resolutions {
            let unresolved = get_unresolved_dependencies(manifest, resolutions);
            match (unresolved.is_empty(), data.compiler) {
                (true, Some(compiler)) => return Ok((compiler, resolutions.clone())),
                (true, None) => {}
                (false, _) => return Err(unresolved_failure(&id, &unresolved)),
            }
        }
        let reach =
            reachable(env.registry.as_ref(), env.index.as_ref(), manifest.dependencies.keys().cloned())
                .await?;
        let deps: Vec<ManifestDeps> = reach.manifests.iter().map(ManifestDeps::from).collect();
        let index = build_compiler_index(installed, &deps, &published_compilers(&reach.metadata))
            .map_err(|e| Failure(e.to_string()))?;
        let (purs_range, required) = match data.compiler {
            Some(compiler) => (Range::exact(compiler), manifest.dependencies.clone()),
            None => {
                let range = Range::new(*lowest, highest.bump_patch()).unwrap_or(Range::exact(*lowest));
                let required = match &data.resolutions {
                    Some(resolutions) => {
                        resolutions.iter().map(|(n, v)| (n.clone(), Range::exact(*v))).collect()
                    }
                    None => manifest.dependencies.clone(),
                };
                (range, required)
            }
        };
        let index_for_solver = index;
        let solved = blocking(move || solve_with_compiler(purs_range, &index_for_solver, &required)).await?;
        solved.map_err(|e| {
            Failure(format!(
                "Could not find versions of the dependencies of {id} that work together{}: {e}. Loosen the \
                 dependency ranges in the manifest, or choose another compiler.",
                data.compiler.map(|c| format!(" with compiler {c}")).unwrap_or_default()
            ))
        })
    }
}

fn unresolved_failure(id: &str, unresolved: &[UnresolvedDependency]) -> Failure {
    let described: Vec<String> = unresolved
        .iter()
        .map(|u| match u {
            UnresolvedDependency::Missing { name, range } => format!("{name} ({range}) is missing"),
            UnresolvedDependency::OutOfRange { name, range, version } => {
                format!("{name}@{version} is outside {range}")
            }
        })
        .collect();
    Failure(format!(
        "The resolutions given for {id} do not satisfy its manifest: {}. Fix the resolutions or leave them out \
         to let the registry solve.",
        described.join("; ")
    ))
}
