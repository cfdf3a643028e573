//! Upstream's compiler vectors: purs-json-errors.json, purs-graph.json, compilers.json.
//!
//! Cases that need a real `purs` run against the binaries found on `PATH` and are skipped,
//! saying so, when those are absent; the stand-in's own test suite runs the same cases
//! against `purs-standin` (crates/purs-standin/tests/vectors.rs).

#[allow(dead_code)]
#[path = "../../core/tests/vectors/support.rs"]
mod support;

#[path = "common/purs_cases.rs"]
mod purs_cases;

use std::collections::BTreeSet;

use registry_compiler::{CompilerError, CompilerFailure, CompilerLocator, Purs, PursGraph};
use registry_core::json::Codec;
use registry_core::{PackageName, Version};
use serde_json::Value;

use purs_cases::{case_compiler, check_compile_case, check_graph_case, check_version_case, compiler_label};
use support::{run_cases, same};

/// The driver with compilers from `PATH`, as the registry finds them.
fn real_compilers() -> Purs {
    Purs::new(CompilerLocator::default())
}

fn skip(function: &str, reason: &str) -> Result<bool, String> {
    eprintln!("SKIPPED {function}: {reason}");
    Ok(true)
}

#[test]
fn purs_json_errors() {
    if let Some(doc) = support::load("purs-json-errors.json") {
        // The documented error shape decodes and re-encodes to the same JSON.
        let example = &doc["compiler_error_example"];
        let decoded: Vec<CompilerError> =
            example.as_array().unwrap().iter().map(|e| CompilerError::decode(e).unwrap()).collect();
        let encoded: Vec<Value> = decoded.iter().map(Codec::encode).collect();
        assert_eq!(&Value::from(encoded), example);
    }
    let purs = real_compilers();
    run_cases("purs-json-errors.json", |function, input, expect, _| match function {
        "Purs.isCompilerRaceCondition" => {
            let failure = if let Some(text) = input.get("UnknownError").and_then(Value::as_str) {
                CompilerFailure::UnknownError(text.to_owned())
            } else if let Some(errors) = input.get("CompilationError") {
                CompilerFailure::decode(errors).map_err(|e| e.to_string())?
            } else {
                return Err(format!("unexpected input {input}"));
            };
            same(failure.is_race_condition(), expect["value"].as_bool().ok_or("no boolean value")?)
        }
        "Purs.callCompiler Compile" | "Purs.callCompiler Graph + PursGraph.pursGraphCodec" => {
            let version = case_compiler(input)?;
            if purs.locator.find(version).is_none() {
                return skip(
                    function,
                    &format!(
                        "no {} on PATH; crates/purs-standin/tests/vectors.rs runs this case against the stand-in",
                        compiler_label(version)
                    ),
                );
            }
            if function == "Purs.callCompiler Compile" {
                check_compile_case(&purs, input, expect)
            } else {
                check_graph_case(&purs, input, expect)
            }
        }
        _ => Ok(false),
    });
}

#[test]
fn compilers() {
    let purs = real_compilers();
    run_cases("compilers.json", |function, input, expect, _| match function {
        "Purs.callCompiler Version" => {
            let version = Version::parse(input.as_str().ok_or("input is not a string")?)?;
            let wants_success = expect["ok"].as_bool() == Some(true);
            if wants_success && purs.locator.find(Some(version)).is_none() {
                return skip(
                    function,
                    &format!("{} is not installed on PATH", compiler_label(Some(version))),
                );
            }
            // A missing-compiler case is checkable anywhere: the executable must not be found.
            check_version_case(&purs, input, expect)
        }
        "PursVersions.pursVersions" => {
            let installed: Vec<String> =
                purs.locator.installed_versions().iter().map(Version::to_string).collect();
            if installed.is_empty() {
                return skip(function, "no purs-X_Y_Z executables on PATH");
            }
            let want: Vec<String> = expect["sorted_equals"]
                .as_array()
                .ok_or("no sorted_equals")?
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            same(installed, want)
        }
        _ => Ok(false),
    });
}

fn load_graph(name: &str) -> Result<PursGraph, String> {
    let dir = support::shared_dir().ok_or("shared dir missing")?;
    let text =
        std::fs::read_to_string(dir.join("data/vectors").join(name)).map_err(|e| format!("{name}: {e}"))?;
    PursGraph::parse(&text).map_err(|e| format!("{name}: {e}"))
}

fn names(value: &Value) -> Result<BTreeSet<String>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("expected a list, got {value}"))?
        .iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| format!("expected a string, got {v}")))
        .collect()
}

#[test]
fn purs_graph() {
    run_cases("purs-graph.json", |function, input, expect, _| {
        let graph_file = input.get("graph").unwrap_or(input).as_str().ok_or("no graph file")?;
        let graph = load_graph(graph_file)?;
        let module = input.get("module").and_then(Value::as_str).unwrap_or("");
        match function {
            "pursGraphCodec decode" => {
                same(graph.len() as u64, expect["size"].as_u64().ok_or("no size")?)?;
                // The codec prints back what it read (modulo key order, which purs sorts).
                same(PursGraph::parse(&graph.to_compact()).as_ref(), Ok(&graph))?;
                match expect.get("keys") {
                    Some(keys) => same(graph.modules.keys().cloned().collect::<BTreeSet<_>>(), names(keys)?),
                    None => Ok(true),
                }
            }
            "PursGraph.associateModules (package = first path segment)" => {
                let associated = graph
                    .associate_modules(|path| PackageName::parse(path.split('/').next().unwrap_or("")))
                    .map_err(|errors| format!("{errors:?}"))?;
                let packages: BTreeSet<String> = associated.values().map(|p| p.to_string()).collect();
                same(packages, names(&expect["package_names"])?)
            }
            "PursGraph.directDependencies" => {
                same(graph.direct_dependencies(module), Some(names(&expect["value"])?))
            }
            "PursGraph.allDependencies" => {
                same(graph.all_dependencies(module), Some(names(&expect["value"])?))
            }
            "PursGraph.allDependenciesOf" => {
                let sources: BTreeSet<String> = match &input["modules"] {
                    Value::String(rule) if rule.contains("path starts with 'src'") => graph
                        .modules
                        .iter()
                        .filter(|(_, node)| node.path.starts_with("src"))
                        .map(|(m, _)| m.clone())
                        .collect(),
                    list => names(list)?,
                };
                let deps = graph.all_dependencies_of(&sources);
                if let Some(value) = expect.get("value") {
                    return same(deps, names(value)?);
                }
                if expect["non_empty"] == true && deps.is_empty() {
                    return Err("no dependencies found".into());
                }
                if expect["disjoint_from_input"] == true && !deps.is_disjoint(&sources) {
                    return Err("result overlaps the input modules".into());
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    });
}
