//! The compiler-calling vector cases of purs-json-errors.json and compilers.json, run
//! through the registry's driver against the stand-in installed under each version's name.

#[allow(dead_code)]
#[path = "../../core/tests/vectors/support.rs"]
mod support;

#[path = "../../compiler/tests/common/purs_cases.rs"]
mod purs_cases;

mod common;

use registry_compiler::{CompilerLocator, Purs};
use registry_core::Version;

use common::Project;
use purs_cases::{case_compiler, check_compile_case, check_graph_case, check_version_case};
use support::{run_cases, same};

/// A bin directory holding the stand-in as `purs` and as every `purs-X_Y_Z` the cases name
/// with a successful outcome; the driver looks nowhere else.
fn standin_compilers(p: &Project, versions: &[&str]) -> Purs {
    p.install(None);
    for v in versions {
        p.install(Some(v));
    }
    Purs::new(CompilerLocator::only_in(p.path("bin")))
}

#[test]
fn purs_json_errors_against_the_standin() {
    let p = Project::new("vectors-errors");
    let purs = standin_compilers(&p, &["0.13.0", "0.13.8", "0.14.0", "0.15.0"]);
    run_cases("purs-json-errors.json", |function, input, expect, _| match function {
        "Purs.isCompilerRaceCondition" => {
            eprintln!("(pure case, checked in crates/compiler/tests/vectors.rs)");
            Ok(true)
        }
        "Purs.callCompiler Compile" => {
            // The stand-in must really be found for the version, so a pass is not a fluke.
            case_compiler(input).map(|v| assert!(purs.locator.find(v).is_some()))?;
            check_compile_case(&purs, input, expect)
        }
        "Purs.callCompiler Graph + PursGraph.pursGraphCodec" => check_graph_case(&purs, input, expect),
        _ => Ok(false),
    });
}

#[test]
fn compilers_against_the_standin() {
    let p = Project::new("vectors-compilers");
    let installed = ["0.13.0", "0.14.0", "0.14.7", "0.15.4"];
    let purs = standin_compilers(&p, &installed);
    run_cases("compilers.json", |function, input, expect, _| match function {
        "Purs.callCompiler Version" => check_version_case(&purs, input, expect),
        "PursVersions.pursVersions" => {
            eprintln!(
                "(the full list needs every real compiler; checking the listing of what is installed here)"
            );
            let want: Vec<Version> = installed.iter().map(|v| Version::parse(v).unwrap()).collect();
            same(purs.locator.installed_versions(), want)
        }
        _ => Ok(false),
    });
}
