//! The unmodified spago 1.0.4 client (npm) against the real `registry serve`, over
//! HTTPS on loopback inside a private network namespace (see harness/mod.rs).
//!
//! Needs root, `unshare`, `../shared` (snapshot and the spago kit's TLS front) and the
//! tools `scripts/setup.sh` installs; prints SKIPPED and passes otherwise.

mod harness;

use std::path::Path;
use std::process::Command;

use harness::*;
use registry_core::json::{Codec, parse, print_pretty};
use registry_core::sha256::Sha256;
use registry_core::{Manifest, Version};
use registry_workload::{Variant, api_module, package_files, write_files};

/// The newest manifest of `name` in the snapshot's index.
fn newest_manifest(snapshot: &Path, name: &str) -> Manifest {
    let file = snapshot.join("index").join(&name[..2]).join(&name[2..4]).join(name);
    let text = std::fs::read_to_string(&file).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Manifest::decode(&parse(l).unwrap()).unwrap())
        .max_by(|a, b| a.version.cmp(&b.version))
        .unwrap()
}

/// Builds a real tarball for `manifest` (workload sources), puts it in the server's
/// local storage, and commits its size and hash to the metadata in the registry repo.
/// Returns (bytes, hash).
fn seed_tarball(world: &World, manifest: &Manifest) -> (usize, String) {
    let id = format!("{}-{}", manifest.name, manifest.version);
    let source = world.path().join("sources").join(&id);
    write_files(&source, &package_files(manifest, Variant::Normal)).unwrap();
    let tarball = registry_tarball::create_tarball(&source, &id).unwrap();
    let hash = Sha256::of_bytes(&tarball).as_str().to_owned();
    let stored = world
        .data()
        .join("storage")
        .join(manifest.name.as_str())
        .join(format!("{}.tar.gz", manifest.version));
    std::fs::create_dir_all(stored.parent().unwrap()).unwrap();
    std::fs::write(&stored, &tarball).unwrap();

    let name = manifest.name.as_str().to_owned();
    let version = manifest.version.to_string();
    world.commit_to("registry.git", &format!("Tarball of {id} for the spago test"), |work| {
        let file = work.join("metadata").join(format!("{name}.json"));
        let mut metadata = parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let published = &mut metadata["published"][&version];
        assert!(published.is_object(), "{name}@{version} is not in the snapshot's metadata");
        published["bytes"] = tarball.len().into();
        published["hash"] = hash.clone().into();
        std::fs::write(&file, print_pretty(&metadata)).unwrap();
    });
    (tarball.len(), hash)
}

#[test]
fn spago_reads_the_registry_installs_and_talks_to_the_job_api() {
    run_in_namespace("inner_reads_and_installs");
}

#[test]
#[ignore = "inner half of spago_reads_the_registry_installs_and_talks_to_the_job_api"]
fn inner_reads_and_installs() {
    if !inside_namespace("inner_reads_and_installs") {
        return;
    }
    let tools = find_tools().unwrap();
    let snapshot = tools.snapshot();
    let mut clock = Clock::start();
    let world = World::new();
    clock.lap("namespace, hosts, certificates");
    world.init_registry(&snapshot);
    clock.lap("registry init --seed");
    let prelude = newest_manifest(&snapshot, "prelude");
    assert!(prelude.dependencies.is_empty(), "the test expects prelude to have no dependencies");
    let (bytes, hash) = seed_tarball(&world, &prelude);
    clock.lap("tarball seeded");
    let script = world.path().join("publish.sh");
    std::fs::write(&script, SCRIPTED_PUBLISH).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let _served = world.serve(&tools, &[&format!("--job-command=publish={}", script.display())], &[]);
    clock.lap("server and TLS front up");
    let env = world.spago_env(&tools, &[]);
    let project = world.path().join("consumer");
    std::fs::create_dir_all(project.join("src")).unwrap();

    // (a) Registry reads come from our registry-index and registry repositories.
    let info = spago_ok(&tools, &env, &project, &["registry", "info", "prelude", "--json"]);
    assert!(info.stdout.contains(&hash), "spago did not show the metadata we committed:\n{}", info.all());
    assert!(info.stdout.contains("purescript-prelude"), "{}", info.all());
    let sets = spago_ok(&tools, &env, &project, &["registry", "package-sets", "--json"]);
    let newest_set = std::fs::read_dir(snapshot.join("package-sets"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_string_lossy().strip_suffix(".json").map(str::to_owned))
        .filter_map(|v| Version::parse(&v).ok())
        .max()
        .unwrap();
    assert!(
        sets.stdout.contains(&format!("\"{newest_set}\"")),
        "the newest package set {newest_set} is missing:\n{}",
        sets.all()
    );

    // (b) Install and build a dependency whose tarball our storage serves.
    std::fs::write(
        project.join("spago.yaml"),
        "package:\n  name: e2e-consumer\n  dependencies: []\nworkspace:\n  extraPackages: {}\n",
    )
    .unwrap();
    let prelude_api = api_module(&prelude.name);
    std::fs::write(
        project.join("src/Main.purs"),
        format!("module Main where\n\nimport {prelude_api} (value)\n\nanswer :: Int\nanswer = value\n"),
    )
    .unwrap();
    let install = spago_ok(&tools, &env, &project, &["install", "prelude"]);
    let yaml = std::fs::read_to_string(project.join("spago.yaml")).unwrap();
    assert!(yaml.contains("prelude"), "spago install did not add prelude:\n{yaml}\n{}", install.all());
    let lock = std::fs::read_to_string(project.join("spago.lock")).unwrap();
    assert!(lock.contains(&hash), "spago.lock lacks our tarball's hash {hash}:\n{lock}");
    let cached = world.path().join(format!("cache/spago-nodejs/packages/prelude/{}.tar.gz", prelude.version));
    assert_eq!(
        std::fs::metadata(&cached).map(|m| m.len() as usize).ok(),
        Some(bytes),
        "{}",
        cached.display()
    );

    let build = spago_ok(&tools, &env, &project, &["build"]);
    for module in ["Main", prelude_api.as_str()] {
        let externs = project.join("output").join(module).join("externs.cbor");
        assert!(externs.exists(), "{} was not compiled:\n{}", externs.display(), build.all());
    }
    clock.lap("(a) registry reads, (b) install and build");

    // (c0) The publish exchange with our API, the pipeline replaced by a script.
    publish_exchange_with_scripted_program(&world, &tools);
    clock.lap("(c0) publish exchange with a scripted job program");
}

/// A package an author would publish: a project with a git history, the tag
/// `v<version>` checked out, `spago.lock` committed, and `origin` on GitHub whose pushes
/// go to a local bare repository under `<world>/gh/example/`.
struct Author {
    dir: std::path::PathBuf,
    env: Vec<(String, String)>,
}

/// `licence` goes into spago.yaml; the LICENSE file always holds the MIT text.
fn author_package(
    world: &World,
    tools: &Tools,
    name: &str,
    version: &str,
    licence: &str,
    dependency: &str,
    source: &str,
) -> Author {
    let repo = format!("purescript-{name}");
    let remote = world.path().join("gh/example").join(format!("{repo}.git"));
    std::fs::create_dir_all(&remote).unwrap();
    sh("git", &["init", "--quiet", "--bare", "--initial-branch=main"], Some(&remote));
    let github = format!("https://github.com/example/{repo}.git");
    let push = (format!("url.file://{}.pushInsteadOf", remote.display()), github.clone());
    let env = world.spago_env(tools, &[push]);
    let dependency = if dependency.is_empty() { " []".to_owned() } else { format!("\n    - {dependency}") };

    let dir = world.path().join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("spago.yaml"),
        format!(
            "package:\n  name: {name}\n  description: A package published by the spago end-to-end test\n  dependencies:{dependency}\n  publish:\n    version: {version}\n    license: {licence}\n    location:\n      githubOwner: example\n      githubRepo: {repo}\nworkspace:\n  extraPackages: {{}}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src/Published.purs"), source).unwrap();
    std::fs::write(dir.join("LICENSE"), MIT_TEXT).unwrap();
    std::fs::write(dir.join(".gitignore"), ".spago\noutput\n").unwrap();
    let git = |args: &[&str]| {
        sh("git", &[&["-c", "user.name=e2e", "-c", "user.email=e2e@localhost"], args].concat(), Some(&dir))
    };
    git(&["init", "--quiet", "--initial-branch=main"]);
    git(&["remote", "add", "origin", &github]);
    spago_ok(tools, &env, &dir, &["build"]);
    git(&["add", "--all"]);
    git(&["commit", "--quiet", "-m", "First release"]);
    git(&["tag", &format!("v{version}")]);
    let mut push_env = Command::new("git");
    push_env.args(["push", "--quiet", "origin", "main", &format!("v{version}")]).current_dir(&dir);
    for (k, v) in &env {
        push_env.env(k, v);
    }
    let pushed = push_env.output().unwrap();
    assert!(pushed.status.success(), "git push: {}", String::from_utf8_lossy(&pushed.stderr));
    Author { dir, env }
}

/// A job program standing in for the publish pipeline: logs, then accepts every package
/// except `e2e-rejected`, which it refuses with a reason.
const SCRIPTED_PUBLISH: &str = r#"#!/bin/sh
input=$(cat)
echo "INFO: scripted publish program running job $REGISTRY_JOB_ID"
case "$input" in *'"name":"e2e-rejected"'*)
  echo "ERROR: e2e-rejected cannot be published: scripted refusal 7f3a"; exit 1;; esac
echo "NOTICE: scripted publish program accepted the package""#;

/// spago's half of publishing against our job API (POST, 200 + jobId, polling with
/// `since`/`level`, logs, `finishedAt`/`success`), with a scripted job program instead of
/// the real publish pipeline: proves the exchange, not publishing.
fn publish_exchange_with_scripted_program(world: &World, tools: &Tools) {
    let ok = author_package(
        world,
        tools,
        "e2e-scripted",
        "0.1.0",
        "MIT",
        &prelude_range(tools),
        &consumer_module(tools),
    );
    let run = spago(tools, &ok.env, &ok.dir, &["publish"], std::time::Duration::from_secs(180));
    let text = run.all();
    assert!(run.ok, "spago publish failed:\n{text}");
    assert!(text.contains("scripted publish program running job"), "job logs not shown:\n{text}");
    assert!(text.contains("scripted publish program accepted the package"), "{text}");
    assert!(text.contains("published successfully"), "{text}");
    assert_eq!(text.matches("scripted publish program running job").count(), 1, "log line repeated:\n{text}");

    let refused = author_package(
        world,
        tools,
        "e2e-rejected",
        "0.1.0",
        "MIT",
        &prelude_range(tools),
        &consumer_module(tools),
    );
    let run = spago(tools, &refused.env, &refused.dir, &["publish"], std::time::Duration::from_secs(180));
    let text = run.all();
    assert!(!run.ok, "spago publish of a refused package succeeded:\n{text}");
    assert!(text.contains("scripted refusal 7f3a"), "the reason was not printed:\n{text}");
    assert!(text.contains("failed"), "{text}");
}

/// `prelude: ">=X.Y.Z <X+1.0.0"` for the newest prelude: spago rewrites a looser lower
/// bound in the lock file to the resolved version, which would dirty the git tree.
fn prelude_range(tools: &Tools) -> String {
    let v = newest_manifest(&tools.snapshot(), "prelude").version;
    format!("prelude: \">={v} <{}.0.0\"", v.major + 1)
}

/// A module importing prelude's generated API module.
fn consumer_module(tools: &Tools) -> String {
    let prelude = newest_manifest(&tools.snapshot(), "prelude");
    format!(
        "module Published where\n\nimport {} (value)\n\nanswer :: Int\nanswer = value\n",
        api_module(&prelude.name)
    )
}

const MIT_TEXT: &str = "MIT License

Copyright (c) 2026 e2e

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the \"Software\"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
";

#[test]
fn spago_publishes_and_a_second_project_installs_it() {
    run_in_namespace("inner_publish");
}

/// `git show main:PATH` in one of the server's bare repositories.
fn show(world: &World, bare: &str, path: &str) -> String {
    let git_dir = world.data().join("git").join(bare);
    sh("git", &["--git-dir", git_dir.to_str().unwrap(), "show", &format!("main:{path}")], None)
}

#[test]
#[ignore = "inner half of spago_publishes_and_a_second_project_installs_it"]
fn inner_publish() {
    if !inside_namespace("inner_publish") {
        return;
    }
    let tools = find_tools().unwrap();
    let snapshot = tools.snapshot();
    let mut clock = Clock::start();
    let world = World::new();
    world.init_registry(&snapshot);
    let prelude = newest_manifest(&snapshot, "prelude");
    seed_tarball(&world, &prelude);
    let compilers = world.path().join("compilers");
    std::fs::create_dir_all(&compilers).unwrap();
    std::os::unix::fs::symlink(purs_bin(), compilers.join("purs-0_15_15")).unwrap();
    let github = format!("--github-url=file://{}", world.path().join("gh").display());
    let compilers_arg = format!("--compilers={}", compilers.display());
    // No documentation site here: fail at once (connection refused), not by a timeout.
    let _served = world.serve(&tools, &[&github, &compilers_arg, "--docs-url=http://127.0.0.1:9"], &[]);
    clock.lap("registry with a seeded tarball, server and TLS front up");

    // Publish a package with a registry dependency.
    let author = author_package(
        &world,
        &tools,
        "e2e-published",
        "0.1.0",
        "MIT",
        &prelude_range(&tools),
        &consumer_module(&tools),
    );
    let run = spago(&tools, &author.env, &author.dir, &["publish"], std::time::Duration::from_secs(180));
    println!("{}", run.all());
    assert!(run.ok && run.all().contains("published successfully"), "spago publish failed:\n{}", run.all());
    clock.lap("spago publish");

    // The version is in the index, the metadata and the storage, and they agree.
    let entry = show(&world, "registry-index.git", "e2/e-/e2e-published");
    assert!(entry.contains("\"version\":\"0.1.0\""), "index entry: {entry}");
    let metadata = parse(&show(&world, "registry.git", "metadata/e2e-published.json")).unwrap();
    let published = &metadata["published"]["0.1.0"];
    let stored = std::fs::read(world.data().join("storage/e2e-published/0.1.0.tar.gz")).unwrap();
    assert_eq!(published["bytes"].as_u64(), Some(stored.len() as u64), "metadata: {metadata}");
    let hash = Sha256::of_bytes(&stored).as_str().to_owned();
    assert_eq!(published["hash"].as_str(), Some(hash.as_str()), "metadata: {metadata}");

    // A second project installs and builds it (--refresh: spago caches the repos 15 minutes).
    let project = world.path().join("second");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(
        project.join("spago.yaml"),
        "package:\n  name: e2e-second\n  dependencies: []\nworkspace:\n  extraPackages: {}\n",
    )
    .unwrap();
    std::fs::write(
        project.join("src/Second.purs"),
        "module Second where\n\nimport Published (answer)\n\ntwice :: Int\ntwice = answer\n",
    )
    .unwrap();
    let env = world.spago_env(&tools, &[]);
    spago_ok(&tools, &env, &project, &["install", "--refresh", "e2e-published"]);
    let lock = std::fs::read_to_string(project.join("spago.lock")).unwrap();
    assert!(lock.contains(&hash), "spago.lock lacks the published tarball's hash {hash}:\n{lock}");
    let build = spago_ok(&tools, &env, &project, &["build"]);
    for module in ["Second", "Published"] {
        let externs = project.join("output").join(module).join("externs.cbor");
        assert!(externs.exists(), "{} was not compiled:\n{}", externs.display(), build.all());
    }
    clock.lap("second project: install and build");

    // A package only the registry can refuse (spago checks locations, names and the
    // build itself, not licence files): spago.yaml says Apache-2.0, LICENSE is MIT.
    let mislicensed = author_package(
        &world,
        &tools,
        "e2e-mislicensed",
        "0.1.0",
        "Apache-2.0",
        &prelude_range(&tools),
        &consumer_module(&tools),
    );
    let run =
        spago(&tools, &mislicensed.env, &mislicensed.dir, &["publish"], std::time::Duration::from_secs(180));
    let text = run.all();
    println!("{}", run.all());
    assert!(!run.ok, "publishing a mislicensed package succeeded:\n{text}");
    assert!(
        text.contains("License mismatch") && text.contains("'Apache-2.0'"),
        "spago did not print the registry's reason:\n{text}"
    );
    assert!(text.contains("Registry finished processing the package, but it failed"), "{text}");
    let registry_git = world.data().join("git/registry.git");
    let listed = sh(
        "git",
        &["--git-dir", registry_git.to_str().unwrap(), "ls-tree", "--name-only", "main", "metadata/"],
        None,
    );
    assert!(!listed.contains("e2e-mislicensed"), "a refused package got metadata");
    assert!(!world.data().join("storage/e2e-mislicensed").exists(), "a refused package got a tarball");
    clock.lap("refused publish");
}

#[test]
fn spago_publishes_to_a_fresh_unseeded_registry_and_installs_from_it() {
    run_in_namespace("inner_fresh_registry");
}

/// A registry made by `registry init` alone: spago's first publish and a second
/// project's install must work (they need `package-sets/` to exist).
#[test]
#[ignore = "inner half of spago_publishes_to_a_fresh_unseeded_registry_and_installs_from_it"]
fn inner_fresh_registry() {
    if !inside_namespace("inner_fresh_registry") {
        return;
    }
    let tools = find_tools().unwrap();
    let mut clock = Clock::start();
    let world = World::new();
    world.init_fresh_registry();
    let compilers = world.path().join("compilers");
    std::fs::create_dir_all(&compilers).unwrap();
    std::os::unix::fs::symlink(purs_bin(), compilers.join("purs-0_15_15")).unwrap();
    let github = format!("--github-url=file://{}", world.path().join("gh").display());
    let compilers_arg = format!("--compilers={}", compilers.display());
    let _served = world.serve(&tools, &[&github, &compilers_arg, "--docs-url=http://127.0.0.1:9"], &[]);
    clock.lap("fresh registry, server and TLS front up");

    let env = world.spago_env(&tools, &[]);
    let sets = spago_ok(&tools, &env, world.path(), &["registry", "package-sets", "--json"]);
    assert!(sets.stdout.contains("\"0.0.1\""), "the initial package set is not listed:\n{}", sets.all());

    let author = author_package(
        &world,
        &tools,
        "e2e-first",
        "1.0.0",
        "MIT",
        "",
        "module Published where\n\nanswer :: Int\nanswer = 42\n",
    );
    let run = spago(&tools, &author.env, &author.dir, &["publish"], std::time::Duration::from_secs(180));
    println!("{}", run.all());
    assert!(run.ok && run.all().contains("published successfully"), "spago publish failed:\n{}", run.all());
    let stored = std::fs::read(world.data().join("storage/e2e-first/1.0.0.tar.gz")).unwrap();
    let hash = Sha256::of_bytes(&stored).as_str().to_owned();
    clock.lap("first publish");

    let project = world.path().join("second");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(
        project.join("spago.yaml"),
        "package:\n  name: e2e-second\n  dependencies: []\nworkspace:\n  extraPackages: {}\n",
    )
    .unwrap();
    std::fs::write(
        project.join("src/Second.purs"),
        "module Second where\n\nimport Published (answer)\n\ntwice :: Int\ntwice = answer\n",
    )
    .unwrap();
    spago_ok(&tools, &env, &project, &["install", "--refresh", "e2e-first"]);
    let lock = std::fs::read_to_string(project.join("spago.lock")).unwrap();
    assert!(lock.contains(&hash), "spago.lock lacks the published tarball's hash {hash}:\n{lock}");
    let build = spago_ok(&tools, &env, &project, &["build"]);
    for module in ["Second", "Published"] {
        let externs = project.join("output").join(module).join("externs.cbor");
        assert!(externs.exists(), "{} was not compiled:\n{}", externs.display(), build.all());
    }
    clock.lap("second project: install and build");
}
