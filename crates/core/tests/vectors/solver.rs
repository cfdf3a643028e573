//! The dependency solver, the compiler index and the matrix-job cascade.

use std::collections::BTreeMap;

use registry_core::solver::{
    self, CompilerIndex, DependantStatus, DependencyIndex, Intersection, LocalPosition, ManifestDeps,
    SolverError, SolverPosition, Sourced,
};
use registry_core::{PackageName, Range, Version};
use serde_json::{Value, json};

use crate::support::*;

type PublishedCompilers = BTreeMap<PackageName, BTreeMap<Version, Vec<Version>>>;

#[test]
fn solver() {
    let Some(doc) = load("solver.json") else { return };
    let shared_index = parse_index(&doc["index"]).expect("solver.json has a valid top-level index");
    run_cases("solver.json", |function, input, expect, _| {
        let index = || -> Result<DependencyIndex, String> {
            match &input["index"] {
                Value::String(s) if s == "INDEX" => Ok(shared_index.clone()),
                other => parse_index(other),
            }
        };
        match function {
            "Solver.solve" => check_solve(&index()?, &parse_ranges(&input["goals"])?, expect),
            f if f.starts_with("Solver.solveSteps") => {
                let expanded = solver::expanded_requirements(&index()?, &parse_ranges(&input["goals"])?);
                let as_ranges: BTreeMap<String, String> = expanded
                    .iter()
                    .map(|(name, i)| {
                        (name.to_string(), format!(">={} <{}", i.lower.version, i.upper.version))
                    })
                    .collect();
                let want: BTreeMap<String, String> =
                    serde_json::from_value(expect["required_as_ranges"].clone())
                        .map_err(|e| e.to_string())?;
                same(as_ranges, want)
            }
            "Solver.buildCompilerIndex + solveWithCompiler" => check_solve_with_compiler(input, expect),
            "Solver.updateCompilerIndex" => check_update_compiler_index(input),
            "MatrixBuilder.solveDependantsForCompiler" => check_cascade(input, expect),
            "MatrixBuilder.solveDependantsForCompiler (cascade sequence)" => {
                check_cascade_sequence(input, expect)
            }
            _ => Ok(false),
        }
    });
}

fn check_solve(
    index: &DependencyIndex,
    goals: &BTreeMap<PackageName, Range>,
    expect: &Value,
) -> Result<bool, String> {
    // The free function and a prepared solver must agree.
    let result = solver::solve(index, goals);
    same(&solver::Solver::new(index).solve(goals), &result)?;
    match (expect["ok"].as_bool(), result) {
        (Some(true), Ok(solution)) => {
            let got: BTreeMap<String, String> =
                solution.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
            let want: BTreeMap<String, String> =
                serde_json::from_value(expect["solution"].clone()).map_err(|e| e.to_string())?;
            same(got, want)
        }
        (Some(false), Err(error)) => {
            let wanted = expect["errors"].as_array().ok_or("expect.errors is not a list")?;
            // Upstream's solver reports exactly one error; the vectors list one.
            same(wanted.len(), 1)?;
            same(error_json(&error), wanted[0]["error"].clone())?;
            same(error.to_string().as_str(), wanted[0]["message"].as_str().ok_or("no message")?)
        }
        (_, Ok(solution)) => Err(format!("solved as {solution:?}, expected failure")),
        (_, Err(error)) => Err(format!("failed with:\n{error}\nexpected a solution")),
    }
}

fn check_solve_with_compiler(input: &Value, expect: &Value) -> Result<bool, String> {
    let index = build_index(input, &input["metadata_compilers"])?;
    let range = compiler_range(&input["compiler_range"])?;
    let result = solver::solve_with_compiler(range, &index, &parse_ranges(&input["dependencies"])?);
    match (expect["ok"].as_bool(), result) {
        (Some(false), Err(_)) => Ok(true),
        (Some(true), Ok((compiler, resolutions))) => {
            if !range.includes(compiler) {
                return Err(format!("chose compiler {compiler} outside {range}"));
            }
            if resolutions.contains_key(&solver::purs_package_name()) {
                return Err("resolutions still contain purs".into());
            }
            let want = expect["resolutions_include"].as_object().ok_or("no resolutions_include")?;
            for (name, version) in want {
                let got = resolutions.get(&PackageName::parse(name)?).map(|v| v.to_string());
                same(got.as_deref(), version.as_str())?;
            }
            Ok(true)
        }
        (_, Ok(solved)) => Err(format!("solved as {solved:?}, expected failure")),
        (_, Err(error)) => Err(format!("failed with:\n{error}\nexpected a solution")),
    }
}

fn check_update_compiler_index(input: &Value) -> Result<bool, String> {
    let compilers = parse_versions(&input["compilers"])?;
    let manifests = parse_manifests(&input["manifests"])?;
    let old = parse_published(&input["old_metadata_compilers"])?;
    let (name, version) =
        input["update"]["manifest"].as_str().and_then(|s| s.split_once('@')).ok_or("bad update")?;
    let (name, version) = (PackageName::parse(name)?, Version::parse(version)?);
    let updated_entry = parse_published_versions(&input["update"]["metadata_compilers"])?;
    let manifest =
        manifests.iter().find(|m| m.name == name && m.version == version).ok_or("no such manifest")?;

    let mut incremental =
        solver::build_compiler_index(&compilers, &manifests, &old).map_err(|e| e.to_string())?;
    let before = incremental.clone();
    solver::update_compiler_index(&mut incremental, manifest, &updated_entry);

    let mut new_metadata = old.clone();
    new_metadata.insert(name.clone(), updated_entry);
    let rebuilt =
        solver::build_compiler_index(&compilers, &manifests, &new_metadata).map_err(|e| e.to_string())?;
    if incremental == before {
        return Err("the update changed nothing, so the comparison proves nothing".into());
    }
    same(incremental, rebuilt)
}

fn check_cascade(input: &Value, expect: &Value) -> Result<bool, String> {
    let manifests = parse_manifests(&input["manifests"])?;
    let published = parse_published(&input["metadata_compilers"])?;
    let index = build_index(input, &input["metadata_compilers"])?;
    let data = &input["solverData"];
    let compiler = Version::parse(data["compiler"].as_str().unwrap_or(""))?;
    let name = PackageName::parse(data["name"].as_str().unwrap_or(""))?;
    let version = Version::parse(data["version"].as_str().unwrap_or(""))?;
    let names = cascade_names(&index, &manifests, &published, compiler, &name, version);
    check_names(&names, expect)
}

fn check_cascade_sequence(input: &Value, expect: &Value) -> Result<bool, String> {
    let compilers = parse_versions(&input["compilers"])?;
    let manifests = parse_manifests(&input["manifests"])?;
    let mut published = parse_published(&input["initial_metadata_compilers"])?;
    let new_compiler = *compilers.iter().max().ok_or("no compilers")?;
    for step in expect["steps"].as_array().ok_or("no steps")? {
        let label = step["step"].as_str().ok_or("step without a name")?;
        let (name, version) = label.split_once('@').ok_or("bad step")?;
        let (name, version) = (PackageName::parse(name)?, Version::parse(version)?);
        published
            .get_mut(&name)
            .and_then(|versions| versions.get_mut(&version))
            .ok_or_else(|| format!("{label} has no metadata"))?
            .push(new_compiler);
        let index =
            solver::build_compiler_index(&compilers, &manifests, &published).map_err(|e| e.to_string())?;
        let names = cascade_names(&index, &manifests, &published, new_compiler, &name, version);
        if step["result"].as_str() == Some("not asserted") {
            eprintln!("solver.json cascade step {label}: result not asserted upstream (got {names:?})");
            continue;
        }
        check_names(&names, step).map_err(|why| format!("step {label}: {why}"))?;
    }
    Ok(true)
}

fn cascade_names(
    index: &CompilerIndex,
    manifests: &[ManifestDeps],
    published: &PublishedCompilers,
    compiler: Version,
    name: &PackageName,
    version: Version,
) -> Vec<String> {
    let outcome = solver::solve_dependants_for_compiler(
        &index.solver(),
        compiler,
        name,
        version,
        |n, v| match published.get(n) {
            None => DependantStatus::NoMetadata,
            Some(versions) => {
                versions.get(&v).cloned().map_or(DependantStatus::NotPublished, DependantStatus::Published)
            }
        },
        |n, v| solver::dependants_in(manifests, n, v),
    );
    outcome.results.iter().map(|r| r.name.to_string()).collect()
}

fn check_names(names: &[String], expect: &Value) -> Result<bool, String> {
    let listed = |key: &str| -> Vec<String> {
        expect[key]
            .as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
            .unwrap_or_default()
    };
    let mut checked = false;
    if expect["result_empty"].as_bool() == Some(true) {
        checked = true;
        if !names.is_empty() {
            return Err(format!("expected no jobs, got {names:?}"));
        }
    }
    for wanted in listed("result_names_contain") {
        checked = true;
        if !names.contains(&wanted) {
            return Err(format!("expected a job for {wanted}, got {names:?}"));
        }
    }
    for unwanted in listed("result_names_exclude") {
        checked = true;
        if names.contains(&unwanted) {
            return Err(format!("expected no job for {unwanted}, got {names:?}"));
        }
    }
    if checked { Ok(true) } else { Err(format!("no expectation understood in {expect}")) }
}

fn build_index(input: &Value, published: &Value) -> Result<CompilerIndex, String> {
    solver::build_compiler_index(
        &parse_versions(&input["compilers"])?,
        &parse_manifests(&input["manifests"])?,
        &parse_published(published)?,
    )
    .map_err(|e| e.to_string())
}

/// `"Range.exact 0.15.16 (>=0.15.16 <0.15.17)"`: the range in parentheses.
fn compiler_range(value: &Value) -> Result<Range, String> {
    let text = value.as_str().ok_or("compiler_range is not a string")?;
    let inner =
        text.split_once('(').and_then(|(_, rest)| rest.strip_suffix(')')).ok_or("no range in parentheses")?;
    let range = Range::parse(inner)?;
    let exact_of =
        text.strip_prefix("Range.exact ").and_then(|rest| rest.split(' ').next()).ok_or("not Range.exact")?;
    same(Range::exact(Version::parse(exact_of)?), range)?;
    Ok(range)
}

fn parse_index(value: &Value) -> Result<DependencyIndex, String> {
    let packages = value.as_object().ok_or("index is not an object")?;
    packages
        .iter()
        .map(|(name, versions)| {
            let versions = versions.as_object().ok_or("versions is not an object")?;
            let versions = versions
                .iter()
                .map(|(v, deps)| Ok((Version::parse(v)?, parse_ranges(deps)?)))
                .collect::<Result<_, String>>()?;
            Ok((PackageName::parse(name)?, versions))
        })
        .collect()
}

fn parse_ranges(value: &Value) -> Result<BTreeMap<PackageName, Range>, String> {
    let deps = value.as_object().ok_or("ranges are not an object")?;
    deps.iter()
        .map(|(name, range)| {
            Ok((PackageName::parse(name)?, Range::parse(range.as_str().ok_or("range not a string")?)?))
        })
        .collect()
}

fn parse_versions(value: &Value) -> Result<Vec<Version>, String> {
    value
        .as_array()
        .ok_or("versions are not a list")?
        .iter()
        .map(|v| Version::parse(v.as_str().unwrap_or("")))
        .collect()
}

fn parse_manifests(value: &Value) -> Result<Vec<ManifestDeps>, String> {
    value
        .as_array()
        .ok_or("manifests are not a list")?
        .iter()
        .map(|m| {
            Ok(ManifestDeps {
                name: PackageName::parse(m["name"].as_str().unwrap_or(""))?,
                version: Version::parse(m["version"].as_str().unwrap_or(""))?,
                dependencies: parse_ranges(&m["dependencies"])?,
            })
        })
        .collect()
}

fn parse_published(value: &Value) -> Result<PublishedCompilers, String> {
    value
        .as_object()
        .ok_or("metadata compilers are not an object")?
        .iter()
        .map(|(name, versions)| Ok((PackageName::parse(name)?, parse_published_versions(versions)?)))
        .collect()
}

fn parse_published_versions(value: &Value) -> Result<BTreeMap<Version, Vec<Version>>, String> {
    value
        .as_object()
        .ok_or("published versions are not an object")?
        .iter()
        .map(|(v, compilers)| Ok((Version::parse(v)?, parse_versions(compilers)?)))
        .collect()
}

/// The vectors' JSON shape of a structured solver error.
fn error_json(error: &SolverError) -> Value {
    match error {
        SolverError::Conflicts(conflicts) => {
            let entries: serde_json::Map<String, Value> =
                conflicts.iter().map(|(name, i)| (name.to_string(), intersection_json(i))).collect();
            json!({ "Conflicts": entries })
        }
        SolverError::WhileSolving { package, versions } => {
            let entries: serde_json::Map<String, Value> =
                versions.iter().map(|(v, nested)| (v.to_string(), error_json(nested))).collect();
            json!({ "WhileSolving": { "package": package.to_string(), "versions": entries } })
        }
    }
}

fn intersection_json(i: &Intersection) -> Value {
    let sourced =
        |s: &Sourced| json!({ "version": s.version.to_string(), "position": position_json(&s.position) });
    json!({ "lower": sourced(&i.lower), "upper": sourced(&i.upper) })
}

fn position_json(p: &SolverPosition) -> Value {
    let local = match &p.local {
        LocalPosition::Root => json!("Root"),
        LocalPosition::Trial => json!("Trial"),
        LocalPosition::Solving(seen) => json!({
            "Solving": seen.iter().map(|pv| json!({ "package": pv.package.to_string(), "version": pv.version.to_string() })).collect::<Vec<_>>()
        }),
    };
    json!({ "local": local, "global": p.global.iter().map(|n| n.to_string()).collect::<Vec<_>>() })
}
