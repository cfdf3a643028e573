//! `purs publish` as the registry calls it: in a tagged git clone, with a resolutions file.

mod common;

use std::process::Command;

use common::Project;
use serde_json::Value;

fn git(p: &Project, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(&p.root)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

const MANIFEST: &str = r#"{"name":"foo","version":"1.2.3","license":"MIT","location":{"githubOwner":"someone","githubRepo":"purescript-foo"},"description":"A test package","dependencies":{"dep":">=1.0.0 <2.0.0"}}"#;

/// A package clone tagged v1.2.3 whose only dependency is installed elsewhere.
struct Setup {
    package: Project,
    deps: Project,
}

impl Setup {
    fn new(label: &str, commit_manifest: bool) -> Setup {
        let deps = Project::new(&format!("{label}-deps"));
        deps.write(
            "dep-1.0.0/src/Dep.purs",
            "module Dep (dep, class Show) where\n\nclass Show a\n\ndep = 1\n",
        );
        deps.write(
            "resolutions.json",
            &format!(
                r#"{{"purescript-dep":{{"path":"{}","version":"1.0.0"}}}}"#,
                deps.path("dep-1.0.0").display()
            ),
        );
        let package = Project::new(label);
        package.write(
            "src/Foo.purs",
            "module Foo (foo, Box(..)) where\n\nimport Dep (dep)\n\ndata Box = Box Int\n\nfoo :: Int\nfoo = dep\n",
        );
        package.write("purs.json", MANIFEST);
        git(&package, &["init", "-q"]);
        // As the registry does: the build output and the manifest are locally excluded.
        package.write(".git/info/exclude", "output\nbin\n");
        git(&package, &["add", "src"]);
        if commit_manifest {
            git(&package, &["add", "purs.json"]);
        }
        git(&package, &["commit", "-qm", "v1.2.3"]);
        git(&package, &["tag", "v1.2.3"]);
        Setup { package, deps }
    }

    fn publish(&self) -> common::Run {
        let resolutions = self.deps.path("resolutions.json");
        self.package.run(
            "0.15.15",
            &["publish", "--manifest", "purs.json", "--resolutions", resolutions.to_str().unwrap()],
        )
    }
}

#[test]
fn publishes_documentation_json_as_the_last_line() {
    let setup = Setup::new("publish-ok", false);
    let run = setup.publish();
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[..2],
        ["[1 of 2] Compiling documentation for Dep", "[2 of 2] Compiling documentation for Foo"]
    );
    let last = lines.last().unwrap();
    let doc: Value = serde_json::from_str(last).unwrap();
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "compilerVersion",
            "github",
            "moduleMap",
            "modules",
            "packageMeta",
            "resolvedDependencies",
            "tagTime",
            "uploader",
            "version",
            "versionTag"
        ]
    );
    assert_eq!(doc["compilerVersion"], "0.15.15");
    assert_eq!(doc["github"], serde_json::json!(["someone", "purescript-foo"]));
    assert_eq!(doc["moduleMap"], serde_json::json!({"Dep": "purescript-dep"}));
    assert_eq!(doc["resolvedDependencies"], serde_json::json!({"purescript-dep": "1.0.0"}));
    assert_eq!(doc["version"], "1.2.3");
    assert_eq!(doc["versionTag"], "v1.2.3");
    assert_eq!(doc["uploader"], Value::Null);
    assert!(doc["tagTime"].as_str().unwrap().ends_with("+0000"));
    let meta = &doc["packageMeta"];
    assert_eq!(meta["name"], "purescript-foo");
    assert_eq!(meta["dependencies"], serde_json::json!({"purescript-dep": ">=1.0.0 <2.0.0"}));
    assert_eq!(meta["repository"]["url"], "https://github.com/someone/purescript-foo.git");
    let modules = doc["modules"].as_array().unwrap();
    assert_eq!(modules.len(), 1);
    assert_eq!(modules[0]["name"], "Foo");
    let titles: Vec<&str> =
        modules[0]["declarations"].as_array().unwrap().iter().map(|d| d["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Box", "foo"]);
    // Only the docs target is built.
    assert!(setup.package.exists("output/Foo/docs.json") && !setup.package.exists("output/Foo/index.js"));
}

#[test]
fn a_dirty_tree_is_refused() {
    let setup = Setup::new("publish-dirty", true);
    setup.package.write("src/Foo.purs", "module Foo where\n");
    let run = setup.publish();
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("Your git working tree is dirty"), "{}", run.stderr);
}

#[test]
fn a_tag_is_required() {
    let setup = Setup::new("publish-untagged", true);
    git(&setup.package, &["tag", "-d", "v1.2.3"]);
    let run = setup.publish();
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("requires a tagged version"), "{}", run.stderr);
    git(&setup.package, &["tag", "v1.2.3"]);
    git(&setup.package, &["tag", "v1.2.4"]);
    let ambiguous = setup.publish();
    assert!(ambiguous.stderr.contains("more than 1 version"), "{}", ambiguous.stderr);
}

#[test]
fn every_dependency_needs_a_resolution() {
    let setup = Setup::new("publish-missing-dep", true);
    setup.deps.write("resolutions.json", "{}");
    setup.package.write("src/Foo.purs", "module Foo where\n");
    git(&setup.package, &["commit", "-qam", "no imports"]);
    git(&setup.package, &["tag", "-f", "v1.2.3"]);
    let run = setup.publish();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("The following dependency does not appear to be installed:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("purescript-dep"));
}

#[test]
fn compile_errors_stop_publishing() {
    let setup = Setup::new("publish-broken", true);
    setup.package.write("src/Foo.purs", "module Foo where\n\nimport Dep (nope)\n");
    git(&setup.package, &["commit", "-qam", "broken"]);
    git(&setup.package, &["tag", "-f", "v1.2.3"]);
    let run = setup.publish();
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("Compile error:") && run.stderr.contains("Cannot import value nope"),
        "{}",
        run.stderr
    );
}
