//! The registry's driver (registry-compiler) running the stand-in: versions, compile
//! errors, graphs and timeouts come back the way the driver expects them from purs.

mod common;

use std::time::{Duration, Instant};

use registry_compiler::{CompilerError, CompilerFailure, CompilerLocator, Purs};
use registry_core::Version;
use registry_core::json::Codec;

use common::Project;

fn driver(p: &Project, versions: &[&str]) -> Purs {
    p.install(None);
    for v in versions {
        p.install(Some(v));
    }
    Purs::new(CompilerLocator::only_in(p.path("bin"))).with_env("PURS_STANDIN_VERSION", "0.15.15")
}

fn broken_project(label: &str) -> Project {
    let p = Project::new(label);
    p.write("src/A.purs", "module A (foo, T(X)) where\n\ndata T = X | Y\n\nfoo = 1\n");
    p.write("src/B.purs", "module B where\n\nimport A (foo, T(Y), bar)\n");
    p
}

#[test]
fn versions_come_from_the_executable_name() {
    let p = Project::new("driver-version");
    let purs = driver(&p, &["0.15.4", "0.13.0"]);
    assert_eq!(purs.version(Some(Version::new(0, 15, 4))), Ok(Version::new(0, 15, 4)));
    assert_eq!(purs.version(Some(Version::new(0, 13, 0))), Ok(Version::new(0, 13, 0)));
    assert_eq!(purs.version(None), Ok(Version::new(0, 15, 15)));
    assert_eq!(purs.version(Some(Version::new(0, 14, 12345))), Err(CompilerFailure::MissingCompiler));
}

#[test]
fn compile_errors_reach_the_driver_intact_on_both_streams() {
    for version in ["0.15.15", "0.13.8"] {
        let p = broken_project("driver-errors");
        // What the stand-in itself prints …
        let direct = p.run(version, &["compile", "src/**/*.purs", "--json-errors"]);
        let report = if version == "0.13.8" { &direct.stderr } else { &direct.stdout };
        let raw: serde_json::Value = serde_json::from_str(report.trim()).unwrap();
        let expected: Vec<CompilerError> =
            raw["errors"].as_array().unwrap().iter().map(|e| CompilerError::decode(e).unwrap()).collect();
        assert_eq!(expected.len(), 2, "{raw}");
        // … is what the driver returns.
        let purs = driver(&p, &[version]);
        let result = purs.compile(
            Some(Version::parse(version).unwrap()),
            Some(p.root.clone()),
            vec!["src/**/*.purs".into()],
            None,
        );
        let Err(CompilerFailure::CompilationError(errors)) = result else { panic!("{version}: {result:?}") };
        assert_eq!(errors, expected, "{version}");
        assert_eq!(errors[0].error_code, "UnknownImportDataConstructor");
        assert_eq!(errors[0].message, "  Module A does not export data constructor Y for type T\n");
        assert_eq!(errors[1].error_code, "UnknownImport");
        assert_eq!(errors[1].filename, "src/B.purs");
        assert_eq!(errors[1].module_name.as_deref(), Some("B"));
        assert_eq!((errors[1].position.start_line, errors[1].position.start_column), (3, 22));
    }
}

#[test]
fn successful_compiles_and_graphs() {
    let p = Project::new("driver-ok");
    p.write("src/A.purs", "module A where\n\nimport B\nimport Prim.Row\n");
    p.write("src/B.purs", "module B where\n");
    let purs = driver(&p, &["0.15.15"]);
    let v = Some(Version::new(0, 15, 15));
    let out = purs.compile(v, Some(p.root.clone()), vec!["src/**/*.purs".into()], Some("out".into()));
    assert_eq!(out, Ok("{\"warnings\":[],\"errors\":[]}".to_owned()));
    assert!(p.exists("out/A/index.js"));
    let graph = purs.graph(v, Some(p.root.clone()), vec!["src/**/*.purs".into()]).unwrap();
    assert_eq!(graph.modules["A"].depends, ["B"]);
    assert_eq!(graph.modules["A"].path, "src/A.purs");

    p.write("src/C.purs", "module C where\n\nimport Gone\n");
    match purs.graph(v, Some(p.root.clone()), vec!["src/**/*.purs".into()]) {
        Err(CompilerFailure::CompilationError(errors)) => assert_eq!(errors[0].error_code, "ModuleNotFound"),
        other => panic!("expected the graph's errors, got {other:?}"),
    }
}

/// Processes (not zombies) whose working directory is `dir`.
fn processes_in(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        if entry.file_name().to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
            .unwrap_or(true);
        if !zombie && std::fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd == dir) {
            found.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    found
}

#[test]
fn a_slow_build_is_killed_at_the_timeout() {
    let p = Project::new("driver-timeout");
    for (name, import) in [("A", ""), ("B", "import A\n"), ("C", "import B\n")] {
        p.write(&format!("src/{name}.purs"), &format!("module {name} where\n\n{import}"));
    }
    let purs = driver(&p, &["0.15.15"])
        .with_env("PURS_STANDIN_DELAY_MS", "5000")
        .with_timeout(Duration::from_millis(500));
    let started = Instant::now();
    let result =
        purs.compile(Some(Version::new(0, 15, 15)), Some(p.root.clone()), vec!["src/**/*.purs".into()], None);
    let elapsed = started.elapsed();
    match result {
        Err(CompilerFailure::TimedOut { output, .. }) => {
            assert!(output.contains("[1 of 3] Compiling A"), "{output}");
            assert!(!output.contains("Compiling B"), "{output}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(elapsed < Duration::from_secs(4), "the 5 s module delay was not cut short: {elapsed:?}");
    let root = p.root.canonicalize().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_in(&root).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(processes_in(&root), Vec::<String>::new(), "the stand-in survived its timeout");
    assert!(!p.exists("output/A/externs.cbor"), "killed before writing A");
}
