//! Publishing packages whose only manifest is a legacy `bower.json` or
//! `spago.dhall`, in-process against real local repositories and storage with the
//! stand-in compiler.
//!
//! `spago.dhall` is evaluated by the third-party `dhall-to-json` program, which
//! this machine does not have. The tests stand in for it with a shell script
//! (written below) that checks what upstream's call contract promises it — the
//! spago.dhall text on standard input, the package directory as the working
//! directory, so `./packages.dhall` resolves — and prints the JSON that
//! `dhall-to-json` prints for the test's spago.dhall and packages.dhall. The
//! publisher is pointed at the script with `Publisher::with_dhall_to_json`
//! rather than through PATH, because changing PATH would affect every test
//! running in this process.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use registry_core::manifest_index::entry_path;
use registry_core::{Manifest, PackageName};
use registry_workload::{GitIdentity, Variant, write_git_repo};
use support::*;

/// Publishes alpha@1.0.0 (from a purs.json), the dependency of every legacy package here.
async fn registry_with_alpha() -> TestRegistry {
    let reg = TestRegistry::new();
    let alpha = manifest("alpha", "1.0.0", &[]);
    write_git_repo(&reg.source_repo("alpha"), &[(&alpha, Variant::Normal)], &GitIdentity::default()).unwrap();
    reg.publish(&request(&alpha, true)).await.ok();
    reg
}

/// The sources of `manifest` (importing its dependencies) with `legacy` files
/// instead of a purs.json.
fn legacy_sources(manifest: &Manifest, legacy: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    let mut files = files(manifest, Variant::Normal);
    files.remove("purs.json");
    for (path, text) in legacy {
        files.insert((*path).to_owned(), text.as_bytes().to_vec());
    }
    files
}

/// The index line of `name@version`, parsed.
fn index_line(reg: &TestRegistry, name: &str, version: &str) -> serde_json::Value {
    let entry = reg
        .remote_file("index.git", &entry_path(&PackageName::parse(name).unwrap()))
        .unwrap_or_else(|| panic!("no index entry for {name}"));
    entry
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|m| m["version"] == version)
        .unwrap_or_else(|| panic!("no {name}@{version} in the index entry:\n{entry}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_package_with_only_a_bower_json_publishes_with_the_requests_identity() {
    let reg = registry_with_alpha().await;
    let bower = manifest("bower", "1.2.0", &[("alpha", ">=1.0.0 <2.0.0")]);
    // Name and version in bower.json are ignored: upstream takes them from the request.
    let bower_json = r#"{
        "name": "purescript-something-else",
        "version": "0.0.1",
        "description": "A package from the Bower era.",
        "license": ["Apache 2", "MIT"],
        "dependencies": {"purescript-alpha": "^1.0.0"}
    }"#;
    reg.commit_source("bower", &legacy_sources(&bower, &[("bower.json", bower_json)]), "v1.2.0");

    let outcome = reg.publish(&request(&bower, true)).await;
    outcome.ok();
    assert!(
        outcome.log.iter().any(|(_, m)| m.contains("converted its bower.json into this manifest")),
        "{}",
        outcome.printed()
    );
    let line = index_line(&reg, "bower", "1.2.0");
    assert_eq!(line["name"], "bower");
    assert_eq!(line["ref"], "v1.2.0");
    assert_eq!(
        line["location"],
        serde_json::json!({"githubOwner": "test", "githubRepo": "purescript-bower"})
    );
    assert_eq!(line["license"], "MIT", "'Apache 2' is not canonical SPDX and is dropped");
    assert_eq!(line["dependencies"], serde_json::json!({"alpha": ">=1.0.0 <2.0.0"}));
    assert_eq!(line["description"], "A package from the Bower era.");
    assert!(reg.metadata_has("bower", "1.2.0"));
    // The shipped purs.json is the converted manifest.
    let tarball = reg.stored("bower", "1.2.0").unwrap();
    let unpacked = tempfile::tempdir().unwrap();
    registry_tarball::extract_tarball(
        tarball.as_slice(),
        unpacked.path(),
        Some("bower-1.2.0"),
        &Default::default(),
    )
    .unwrap();
    let shipped: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(unpacked.path().join("bower-1.2.0/purs.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(shipped, line);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bower_json_without_a_canonical_licence_is_refused() {
    let reg = registry_with_alpha().await;
    let bower = manifest("bower", "1.0.0", &[("alpha", ">=1.0.0 <2.0.0")]);
    let bower_json =
        r#"{"license": ["MIT License", "GPL v3"], "dependencies": {"purescript-alpha": "^1.0.0"}}"#;
    reg.commit_source("bower", &legacy_sources(&bower, &[("bower.json", bower_json)]), "v1.0.0");

    let outcome = reg.publish(&request(&bower, true)).await;
    let error = outcome.error();
    assert!(error.contains("No valid SPDX license found in bower.json"), "{error}");
    assert!(error.contains("SPDX identifier such as \"MIT\""), "{error}");
    assert!(reg.stored("bower", "1.0.0").is_none());
    assert!(!reg.index_has("bower", "1.0.0"));
}

const SPAGO_DHALL: &str = r#"let upstream = ./packages.dhall
in  { name = "dhall"
    , license = "BSD-3-Clause"
    , dependencies = [ "purescript-alpha" ]
    , packages = upstream
    , sources = [ "src/**/*.purs" ]
    }
"#;

const PACKAGES_DHALL: &str = r#"{ alpha =
  { dependencies = [] : List Text
  , repo = "https://github.com/test/purescript-alpha.git"
  , version = "v1.0.0"
  }
}
"#;

/// The output of `dhall-to-json` for [`SPAGO_DHALL`] importing [`PACKAGES_DHALL`].
const SPAGO_DHALL_AS_JSON: &str = r#"{"dependencies":["purescript-alpha"],"license":"BSD-3-Clause","name":"dhall","packages":{"alpha":{"dependencies":[],"repo":"https://github.com/test/purescript-alpha.git","version":"v1.0.0"}},"sources":["src/**/*.purs"]}"#;

/// Writes the stand-in `dhall-to-json` (see the crate comment) into `dir`.
fn fake_dhall_to_json(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let script = dir.join("dhall-to-json");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             # Stand-in for dhall-to-json: input on stdin, imports relative to the working directory.\n\
             input=$(cat)\n\
             case \"$input\" in *'./packages.dhall'*) ;; *) echo 'stdin is not the spago.dhall' >&2; exit 1 ;; esac\n\
             [ -f packages.dhall ] || {{ echo '↳ ./packages.dhall: Missing file' >&2; exit 1; }}\n\
             printf '%s\\n' '{SPAGO_DHALL_AS_JSON}'\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spago_dhall_publishes_through_dhall_to_json() {
    let mut reg = registry_with_alpha().await;
    let script = fake_dhall_to_json(&reg.root().join("bin"));
    reg.publisher = reg.publisher.clone().with_dhall_to_json(script);
    let dhall = manifest("dhall", "2.0.0", &[("alpha", ">=1.0.0 <2.0.0")]);
    let sources = legacy_sources(&dhall, &[("spago.dhall", SPAGO_DHALL), ("packages.dhall", PACKAGES_DHALL)]);
    reg.commit_source("dhall", &sources, "v2.0.0");

    reg.publish(&request(&dhall, true)).await.ok();
    let line = index_line(&reg, "dhall", "2.0.0");
    assert_eq!(line["ref"], "v2.0.0");
    assert_eq!(line["license"], "BSD-3-Clause");
    // The package set's version becomes an exact range.
    assert_eq!(line["dependencies"], serde_json::json!({"alpha": ">=1.0.0 <1.0.1"}));
    assert!(line.get("description").is_none());
    assert!(reg.stored("dhall", "2.0.0").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spago_dhall_needs_its_packages_dhall_and_dhall_to_json() {
    let mut reg = registry_with_alpha().await;
    let script = fake_dhall_to_json(&reg.root().join("bin"));
    reg.publisher = reg.publisher.clone().with_dhall_to_json(script);

    // Without packages.dhall: refused before dhall-to-json runs.
    let lone = manifest("lone", "1.0.0", &[("alpha", ">=1.0.0 <2.0.0")]);
    reg.commit_source("lone", &legacy_sources(&lone, &[("spago.dhall", SPAGO_DHALL)]), "v1.0.0");
    let outcome = reg.publish(&request(&lone, true)).await;
    let error = outcome.error();
    assert!(error.contains("has a spago.dhall but no packages.dhall"), "{error}");
    assert!(error.contains("commit packages.dhall"), "{error}");
    assert!(!reg.index_has("lone", "1.0.0"));

    // Without dhall-to-json on the server: the author is told to add a purs.json.
    reg.publisher = reg.publisher.clone().with_dhall_to_json(reg.root().join("bin/not-installed"));
    let dhall = manifest("dhall", "2.0.0", &[("alpha", ">=1.0.0 <2.0.0")]);
    let sources = legacy_sources(&dhall, &[("spago.dhall", SPAGO_DHALL), ("packages.dhall", PACKAGES_DHALL)]);
    reg.commit_source("dhall", &sources, "v2.0.0");
    let outcome = reg.publish(&request(&dhall, true)).await;
    let error = outcome.error();
    assert!(error.contains("this server does not have dhall-to-json"), "{error}");
    assert!(error.contains("Add a purs.json"), "{error}");
    assert!(!reg.index_has("dhall", "2.0.0"));
}
