//! Command-line behaviour of the stand-in: `--version`, help, option errors, `graph`.

mod common;

use std::process::Command;

use common::{Project, STANDIN};

#[test]
fn version_from_name_then_environment_then_default() {
    let p = Project::new("cli-version");
    let named = p.run("0.14.7", &["--version"]);
    assert_eq!((named.code, named.stdout.as_str(), named.stderr.as_str()), (0, "0.14.7\n", ""));
    let plain = |env: Option<&str>| {
        let mut cmd = Command::new(p.install(None));
        cmd.arg("--version").env_remove("PURS_STANDIN_VERSION");
        if let Some(v) = env {
            cmd.env("PURS_STANDIN_VERSION", v);
        }
        cmd.output().unwrap()
    };
    assert_eq!(String::from_utf8(plain(Some("0.13.6")).stdout).unwrap(), "0.13.6\n");
    assert_eq!(String::from_utf8(plain(None).stdout).unwrap(), "0.15.15\n");
    let bad = plain(Some("zero"));
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("PURS_STANDIN_VERSION"));
    let direct = Command::new(STANDIN).arg("--version").env_remove("PURS_STANDIN_VERSION").output().unwrap();
    assert_eq!(String::from_utf8(direct.stdout).unwrap(), "0.15.15\n");
}

#[test]
fn help_and_usage_errors() {
    let p = Project::new("cli-usage");
    let help = p.run("0.15.15", &[]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("NOT a compiler"), "{}", help.stdout);
    let bad = p.run("0.15.15", &["compile", "--no-such-flag"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.starts_with("Invalid option `--no-such-flag'"), "{}", bad.stderr);
    let bad_target = p.run("0.15.15", &["compile", "-g", "wasm", "x"]);
    assert_eq!(bad_target.code, 1);
    let other = p.run("0.15.15", &["bundle"]);
    assert_eq!(other.code, 1);
    assert!(other.stderr.contains("not available in purs-standin"));
    assert_eq!(p.run("0.13.6", &["graph", "x"]).code, 1, "graph arrived in 0.13.8");
}

#[test]
fn runtime_options_and_input_selection() {
    let p = Project::new("cli-inputs");
    p.write("src/A.purs", "module A where\n");
    p.write("src/B.purs", "module B where\n\nimport A\n");
    p.write("src/Skip.purs", "module Skip where\n\nimport Nowhere\n");
    p.write("globs.txt", "# sources\n\nsrc/A.purs\nsrc/B.purs\n");
    let excluded = p.run("0.15.15", &["compile", "src/*.purs", "-x", "src/Skip.purs", "+RTS", "-N2", "-RTS"]);
    assert_eq!((excluded.code, excluded.compiled().len()), (0, 2), "{excluded:?}");
    let from_file = p.run("0.15.15", &["compile", "--source-globs-file", "globs.txt", "-o", "out2"]);
    assert_eq!((from_file.code, from_file.compiled().len()), (0, 2), "{from_file:?}");
    let miss = p.run("0.15.15", &["compile", "src/A.purs", "nothing/*.purs"]);
    assert_eq!(miss.code, 0);
    assert!(miss.stderr.contains("purs compile: No files found using pattern: nothing/*.purs"));
    let old = p.run("0.15.14", &["compile", "--source-globs-file", "globs.txt"]);
    assert_eq!(old.code, 1, "--source-globs-file arrived in 0.15.15");
}

#[test]
fn no_prefix_drops_the_generated_by_line() {
    let p = Project::new("cli-prefix");
    p.write("src/A.purs", "module A where\n\nx = 1\n");
    assert_eq!(p.run("0.15.15", &["compile", "src/A.purs", "--no-prefix"]).code, 0);
    assert!(p.read("output/A/index.js").starts_with("var x = "), "{}", p.read("output/A/index.js"));
}

#[test]
fn graph_prints_direct_imports_compactly() {
    let p = Project::new("cli-graph");
    p.write("src/A.purs", "module A where\n\nimport C\nimport B\nimport Prim.Row\nimport C as C2\n");
    p.write("src/B.purs", "module B where\n\nimport C\n");
    p.write("src/C.purs", "module C where\n");
    let run = p.run("0.15.15", &["graph", "src/A.purs", "src/B.purs", "src/C.purs", "--json-errors"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        r#"{"A":{"depends":["C","B"],"path":"src/A.purs"},"B":{"depends":["C"],"path":"src/B.purs"},"C":{"depends":[],"path":"src/C.purs"}}"#
    );
    assert_eq!(run.stderr, "{\"warnings\":[],\"errors\":[]}\n");
    let quiet = p.run("0.15.15", &["graph", "src/*.purs"]);
    assert_eq!((quiet.code, quiet.stderr.as_str()), (0, ""));
    assert!(!p.exists("output"), "graph writes nothing");

    // Duplicates are not an error for graph: the last file wins.
    p.write("lib/C.purs", "module C where\n\nimport B\n");
    p.write("lib/B.purs", "module B where\n");
    let dup = p.run("0.15.15", &["graph", "src/A.purs", "src/C.purs", "lib/C.purs", "lib/B.purs"]);
    assert_eq!(dup.code, 0, "{dup:?}");
    assert!(dup.stdout.contains(r#""C":{"depends":["B"],"path":"lib/C.purs"}"#), "{}", dup.stdout);

    let empty = p.run("0.15.15", &["graph", "none/*.purs", "--json-errors"]);
    assert_eq!((empty.code, empty.stdout.as_str()), (0, "{}"));
    let empty_human = p.run("0.15.15", &["graph", "none/*.purs"]);
    assert_eq!(empty_human.code, 1);
    assert!(empty_human.stderr.contains("purs graph: No input files."));

    p.write("src/D.purs", "module D where\n\nimport Missing\n");
    let broken = p.run("0.15.15", &["graph", "src/*.purs", "--json-errors"]);
    assert_eq!((broken.code, broken.stdout.as_str()), (1, ""));
    let report: serde_json::Value = serde_json::from_str(broken.stderr.trim()).unwrap();
    assert_eq!(report["errors"][0]["errorCode"], "ModuleNotFound");
}
