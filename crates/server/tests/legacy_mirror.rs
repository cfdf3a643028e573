//! Mirroring a package set to the legacy package-sets repository, against the real
//! bare repository `registry init` makes and the adapter `serve` picks for it
//! (READONLY or not).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use registry_adapters::activity::MemoryLog;
use registry_adapters::{FileChange, GitRepo, NullLog};
use registry_core::job::LogLevel;
use registry_core::json::Codec;
use registry_core::legacy::package_sets::{LegacyPackageSet, convert_package_set, print_dhall};
use registry_core::manifest_index::IncludeRanges;
use registry_core::{Manifest, ManifestIndex, PackageSet};
use registry_jobs::legacy_mirror::mirror_package_set;
use registry_server::app::build_adapters;
use registry_server::config::defaults_for;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn manifest(name: &str, version: &str, location: &str, deps: &[&str]) -> Manifest {
    let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\":\">=1.0.0 <2.0.0\"")).collect();
    Manifest::from_json_str(&format!(
        r#"{{"name":"{name}","version":"{version}","license":"MIT","location":{location},"ref":"v{version}","dependencies":{{{}}}}}"#,
        deps.join(",")
    ))
    .unwrap()
}

/// prelude (GitHub), alpha (GitHub, depends on prelude), then (a Dhall keyword; plain git URL).
fn index() -> ManifestIndex {
    let manifests = [
        manifest(
            "prelude",
            "1.0.0",
            r#"{"githubOwner":"purescript","githubRepo":"purescript-prelude"}"#,
            &[],
        ),
        manifest("alpha", "1.2.0", r#"{"githubOwner":"o","githubRepo":"alpha"}"#, &["prelude"]),
        manifest("then", "1.0.0", r#"{"gitUrl":"https://example.org/then.git"}"#, &["prelude", "alpha"]),
        manifest("mono", "1.0.0", r#"{"githubOwner":"o","githubRepo":"mono","subdir":"lib"}"#, &[]),
        manifest("user", "1.0.0", r#"{"githubOwner":"o","githubRepo":"user"}"#, &["mono", "prelude"]),
    ];
    ManifestIndex::from_manifests(IncludeRanges::IgnoreRanges, &manifests).unwrap()
}

fn set(published: &str, packages: &str) -> PackageSet {
    PackageSet::from_json_str(&format!(
        r#"{{"version":"0.2.0","compiler":"0.15.15","published":"{published}","packages":{{{packages}}}}}"#
    ))
    .unwrap()
}

const PACKAGES: &str = r#""alpha":"1.2.0","prelude":"1.0.0","then":"1.0.0""#;

/// A data directory made by `registry init`; the legacy repository adapter of `serve`.
struct Legacy {
    _dir: tempfile::TempDir,
    bare: PathBuf,
    repo: Arc<dyn GitRepo>,
}

fn legacy(readonly: bool) -> Legacy {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    registry_server::init::init(&data, None).unwrap();
    let mut settings = defaults_for(&data);
    settings.readonly = readonly;
    let bare = settings.layout().legacy_package_sets_bare();
    let repo = build_adapters(&settings).unwrap().legacy_package_sets;
    Legacy { _dir: dir, bare, repo }
}

impl Legacy {
    fn show(&self, path: &str) -> String {
        git(&self.bare, &["show", &format!("main:{path}")])
    }
    fn refs(&self) -> String {
        git(&self.bare, &["for-each-ref"])
    }
    fn rev(&self, name: &str) -> String {
        git(&self.bare, &["rev-parse", name]).trim().to_owned()
    }
    /// A commit made directly on the remote through a second, real adapter.
    async fn seed(&self, changes: &[FileChange], tags: &[&str]) {
        let scratch = tempfile::tempdir().unwrap();
        let checkout = registry_adapters::GitCheckout::new(
            "seed",
            scratch.path().join("c"),
            self.bare.display().to_string(),
        );
        checkout.commit(changes, "seed", &NullLog).await.unwrap();
        for tag in tags {
            git(&self.bare, &["tag", tag, "main"]);
        }
    }
}

async fn mirror(legacy: &Legacy, set: &PackageSet) -> (Result<(), String>, Vec<(LogLevel, String)>) {
    let log = MemoryLog::default();
    let result = mirror_package_set(legacy.repo.as_ref(), &index(), set, Some("job-1"), &log).await;
    (result.map_err(|e| e.0), log.lines())
}

#[tokio::test]
async fn a_new_set_is_committed_in_legacy_form_and_tagged() {
    let legacy = legacy(false);
    let set = set("2024-01-05", PACKAGES);
    let (result, log) = mirror(&legacy, &set).await;
    result.unwrap_or_else(|e| panic!("{e}\n{log:#?}"));

    let message = git(&legacy.bare, &["log", "-1", "--format=%B", "main"]);
    assert_eq!(message.trim_end(), "Update to the 0.2.0 package set.\n\nJob ID: job-1");
    let packages_json = legacy.show("packages.json");
    let converted = convert_package_set(&index(), &set).unwrap();
    assert_eq!(packages_json, converted.package_set.to_pretty());
    assert_eq!(legacy.show("src/packages.dhall"), format!("{}\n", print_dhall(&converted.package_set)));
    // The entries themselves, independently of the printers.
    let written = LegacyPackageSet::from_json_str(&packages_json).unwrap();
    let entry = |name: &str| {
        let e = &written.0[&registry_core::PackageName::parse(name).unwrap()];
        let deps: Vec<&str> = e.dependencies.iter().map(|d| d.as_str()).collect();
        (deps.join(","), e.repo.clone(), e.version.clone())
    };
    assert_eq!(entry("alpha"), ("prelude".into(), "https://github.com/o/alpha.git".into(), "v1.2.0".into()));
    assert_eq!(
        entry("then"),
        ("alpha,prelude".into(), "https://example.org/then.git".into(), "v1.0.0".into())
    );
    assert_eq!(
        entry("metadata"),
        ("".into(), "https://github.com/purescript/purescript-metadata.git".into(), "v0.15.15".into())
    );
    assert_eq!(written.0.len(), 4);
    assert!(legacy.show("src/packages.dhall").contains("\n, `then` =\n"));
    assert_eq!(legacy.show("latest-compatible-sets.json"), "{\n  \"0.15.15\": \"psc-0.15.15-20240105\"\n}\n");

    let head = legacy.rev("main");
    for tag in ["psc-0.15.15-20240105", "0.15.15"] {
        assert_eq!(legacy.rev(tag), head, "{tag} is on the mirror commit");
        assert_eq!(git(&legacy.bare, &["cat-file", "-t", &format!("refs/tags/{tag}")]).trim(), "commit");
    }
    let infos: Vec<&str> =
        log.iter().filter(|(l, _)| *l == LogLevel::Info).map(|(_, m)| m.as_str()).collect();
    for line in ["Committed legacy registry files.", "Pushed new tags to legacy registry."] {
        assert!(infos.contains(&line), "{log:#?}");
    }
    assert!(log.contains(&(LogLevel::Notice, "Mirrored a new legacy package set.".into())), "{log:#?}");
}

#[tokio::test]
async fn an_existing_compiler_tag_and_a_newer_compatible_set_are_left_alone() {
    let legacy = legacy(false);
    let latest = "{\n  \"0.15.14\": \"psc-0.15.14-20231201\",\n  \"0.15.15\": \"psc-0.15.15-20240201\"\n}\n";
    legacy.seed(&[FileChange::write("latest-compatible-sets.json", latest)], &["0.15.15"]).await;
    let stable_before = legacy.rev("0.15.15");

    let (result, log) = mirror(&legacy, &set("2024-01-05", PACKAGES)).await;
    result.unwrap_or_else(|e| panic!("{e}\n{log:#?}"));
    assert_eq!(legacy.show("latest-compatible-sets.json"), latest, "never lowered");
    assert!(
        log.contains(&(
            LogLevel::Warn,
            "Not updating latest-compatible-sets.json because an existing tag (psc-0.15.15-20240201) is higher \
             than the tag we are pushing (psc-0.15.15-20240105)."
                .into()
        )),
        "{log:#?}"
    );
    assert_eq!(legacy.rev("0.15.15"), stable_before, "the bare compiler tag is not moved");
    assert_eq!(legacy.rev("psc-0.15.15-20240105"), legacy.rev("main"));
    assert!(legacy.show("packages.json").contains("\"alpha\""));
}

#[tokio::test]
async fn a_set_whose_tag_exists_is_not_mirrored() {
    let legacy = legacy(false);
    legacy.seed(&[FileChange::write("packages.json", "{}\n")], &["psc-0.15.15-20240105"]).await;
    let before = legacy.refs();
    let (result, _) = mirror(&legacy, &set("2024-01-05", PACKAGES)).await;
    assert_eq!(
        result.unwrap_err(),
        "Could not mirror package set 0.2.0 because the tag psc-0.15.15-20240105 already exists."
    );
    assert_eq!(legacy.refs(), before);
    assert_eq!(legacy.show("packages.json"), "{}\n");
}

#[tokio::test]
async fn a_package_in_a_subdirectory_and_its_dependants_are_left_out_with_a_notice() {
    let legacy = legacy(false);
    let with_mono = format!(r#"{PACKAGES},"mono":"1.0.0","user":"1.0.0""#);
    let (result, log) = mirror(&legacy, &set("2024-01-05", &with_mono)).await;
    result.unwrap_or_else(|e| panic!("{e}\n{log:#?}"));
    let written = LegacyPackageSet::from_json_str(&legacy.show("packages.json")).unwrap();
    let names: Vec<&str> = written.0.keys().map(|n| n.as_str()).collect();
    assert_eq!(names, ["alpha", "metadata", "prelude", "then"]);
    let notices: Vec<&str> =
        log.iter().filter(|(l, _)| *l == LogLevel::Notice).map(|(_, m)| m.as_str()).collect();
    assert!(
        notices.contains(
            &"mono is left out of the legacy package set: it lives in a subdirectory ('subdir') of its \
              repository, which legacy package sets cannot express."
        ),
        "{notices:#?}"
    );
    assert!(
        notices.contains(
            &"user is left out of the legacy package set: it depends on mono, which the legacy package set \
              does not contain."
        ),
        "{notices:#?}"
    );
    // The next set mirrors too: nothing about mono blocks later jobs.
    let (next, log) = mirror(&legacy, &set("2024-01-06", &with_mono)).await;
    next.unwrap_or_else(|e| panic!("{e}\n{log:#?}"));
}

#[tokio::test]
async fn a_repository_without_latest_compatible_sets_is_refused() {
    let legacy = legacy(false);
    legacy.seed(&[FileChange::delete("latest-compatible-sets.json")], &[]).await;
    let before = legacy.refs();
    let (result, _) = mirror(&legacy, &set("2024-01-05", PACKAGES)).await;
    let error = result.unwrap_err();
    assert!(
        error.starts_with(
            "Could not mirror package set because reading the latest compatible sets file from \
             latest-compatible-sets.json failed: the legacy package-sets repository at "
        ),
        "{error}"
    );
    assert_eq!(legacy.refs(), before);
}

#[tokio::test]
async fn readonly_writes_and_tags_nothing_and_says_what_it_would_have_done() {
    let legacy = legacy(true);
    let before = legacy.refs();
    let (result, log) = mirror(&legacy, &set("2024-01-05", PACKAGES)).await;
    result.unwrap_or_else(|e| panic!("{e}\n{log:#?}"));
    assert_eq!(legacy.refs(), before, "nothing reached the legacy repository");
    let notices: Vec<&str> =
        log.iter().filter(|(l, _)| *l == LogLevel::Notice).map(|(_, m)| m.as_str()).collect();
    assert_eq!(notices.len(), 3, "{notices:#?}");
    assert!(
        notices[0].starts_with("READONLY: would commit and push to the legacy package-sets repository at ")
    );
    for needle in [
        "write src/packages.dhall (",
        "write packages.json (",
        "write latest-compatible-sets.json (",
        "commit message: \"Update to the 0.2.0 package set.\n\nJob ID: job-1\"",
    ] {
        assert!(notices[0].contains(needle), "{needle} in {}", notices[0]);
    }
    assert!(notices[1].starts_with("READONLY: would create the tag psc-0.15.15-20240105 "), "{}", notices[1]);
    assert!(notices[2].starts_with("READONLY: would create the tag 0.15.15 "), "{}", notices[2]);
}
