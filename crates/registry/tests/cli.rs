//! `registry init`, `config show` and start-up behaviour of `serve`.

mod support;

use std::process::Command;

use support::*;

fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("READONLY").env_remove("PACCHETTIBOTTI_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn git_files(bare: &std::path::Path) -> Vec<String> {
    let out = Command::new("git")
        .args(["ls-tree", "-r", "--name-only", "main"])
        .current_dir(bare)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn init_is_idempotent_and_can_seed_from_a_snapshot_layout() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed");
    for (path, text) in [
        ("index/1/a", "{}\n"),
        ("index/pr/el/prelude", "{}\n"),
        ("metadata/prelude.json", "{}\n"),
        ("package-sets/1.0.0.json", "{}\n"),
        ("README.md", "x"),
    ] {
        std::fs::create_dir_all(seed.join(path).parent().unwrap()).unwrap();
        std::fs::write(seed.join(path), text).unwrap();
    }
    let data = dir.path().join("data");
    let data_arg = data.display().to_string();
    let seed_arg = seed.display().to_string();
    let (ok, out, err) = run(&["init", "--data-dir", &data_arg, "--seed", &seed_arg], &[]);
    assert!(ok, "{err}");
    assert!(out.contains("created  registry repository") && out.contains("seeded with 2 files"), "{out}");
    assert_eq!(
        git_files(&data.join("git/registry.git")),
        ["metadata/prelude.json", "package-sets/1.0.0.json"]
    );
    assert_eq!(git_files(&data.join("git/registry-index.git")), ["1/a", "pr/el/prelude"]);
    assert_eq!(git_files(&data.join("git/package-sets.git")), ["latest-compatible-sets.json"]);
    for dir in ["storage", "scratch", "db/registry.sqlite3"] {
        assert!(data.join(dir).exists(), "{dir}");
    }
    let refs =
        |repo: &str| std::fs::read_to_string(data.join("git").join(repo).join("refs/heads/main")).unwrap();
    let before = (refs("registry.git"), refs("registry-index.git"));

    let (ok, out, err) = run(&["init", "--data-dir", &data_arg, "--seed", &seed_arg], &[]);
    assert!(ok, "{err}");
    assert!(!out.contains("created"), "second run creates nothing: {out}");
    assert!(out.contains("not re-seeded"), "{out}");
    assert_eq!((refs("registry.git"), refs("registry-index.git")), before);

    let (ok, _, err) = run(
        &["init", "--data-dir", &data_arg, "--seed", &dir.path().join("nothing").display().to_string()],
        &[],
    );
    assert!(!ok && err.contains("is not laid out like a registry snapshot"), "{err}");
}

#[test]
fn init_seeds_from_the_real_snapshot_when_present() {
    let Some(snapshot) = ["../../../shared/data/registry-snapshot"]
        .iter()
        .map(|p| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(p))
        .find(|p| p.is_dir())
    else {
        eprintln!("SKIPPED: ../shared/data/registry-snapshot is absent");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let (ok, out, err) = run(&["init", "--data-dir", &data, "--seed", &snapshot.display().to_string()], &[]);
    assert!(ok, "{err}");
    let count = |repo: &str| git_files(&dir.path().join("data/git").join(repo)).len();
    let on_disk = |sub: &str| walk(&snapshot.join(sub));
    assert_eq!(count("registry.git"), on_disk("metadata") + on_disk("package-sets"), "{out}");
    assert_eq!(count("registry-index.git"), on_disk("index"));
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                usize::from(!e.file_name().to_string_lossy().starts_with('.'))
            }
        })
        .sum()
}

#[test]
fn config_show_prints_effective_settings_with_secrets_masked() {
    let env = [
        ("REGISTRY_DATA_DIR", "/srv/registry"),
        ("SERVER_PORT", "9000"),
        ("READONLY", "1"),
        ("PACCHETTIBOTTI_TOKEN", "ghp_topsecret"),
        ("REGISTRY_REMOTE", "https://pacchettibotti:ghp_topsecret@github.com/purescript/registry.git"),
        ("REGISTRY_JOB_TIMEOUTS", "publish=5m,packageset=2h"),
    ];
    let (ok, out, err) = run(&["config", "show", "--compilers", "/opt/purs"], &env);
    assert!(ok, "{err}");
    assert!(!out.contains("ghp_topsecret"), "{out}");
    for needle in [
        "data-dir:                   /srv/registry",
        "port:                       9000",
        "readonly:                   true",
        "compilers:                  /opt/purs",
        "https://pacchettibotti:***@github.com/purescript/registry.git",
        "/srv/registry/git/registry-index.git",
        "pacchettibotti-token:       ****** (set)",
        "job-timeout.publish:        300s",
        "job-timeout.packageset:     7200s",
        "job-timeout.matrix:         3600s",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    let (ok, _, err) = run(&["config", "show", "--data-dir", "/x"], &[("READONLY", "yes")]);
    assert!(!ok && err.contains("expected true, false, 1 or 0"), "{err}");
}

#[test]
fn serve_refuses_an_uninitialized_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(&["serve", "--data-dir", &dir.path().display().to_string(), "--port", "0"], &[]);
    assert!(!ok);
    assert!(err.contains("run `registry init --data-dir"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn readonly_prints_a_banner_at_start_up() {
    let registry = Registry::init();
    let server = registry.serve_env(&[], &[("READONLY", "true")]).await;
    assert!(server.log().contains("READONLY MODE"), "{}", server.log());
    let plain = registry.serve(&[]).await;
    assert!(!plain.log().contains("READONLY MODE"));
    drop(server);
}

#[test]
fn init_and_config_take_a_data_directory_relative_to_the_current_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["init", "--data-dir", "relative-data"])
        .current_dir(dir.path())
        .env_remove("READONLY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new("git")
        .args(["rev-parse", "--verify", "main"])
        .current_dir(dir.path().join("relative-data/git/registry.git"))
        .output()
        .unwrap();
    assert!(out.status.success(), "the registry repository has no main branch after init");
}

/// A production build carries no benchmarks (nor the source generator they use);
/// asking for one says how to build them instead of "unrecognized subcommand".
#[test]
fn bench_without_the_bench_feature_says_how_to_build_it() {
    for args in [&["bench", "package-sets", "--small"][..], &["bench", "api"][..], &["bench"][..]] {
        let (ok, _, stderr) = run(args, &[]);
        assert!(!ok, "{args:?} should fail in a build without benchmarks");
        assert!(stderr.contains("built without its benchmarks"), "{args:?}: {stderr}");
        assert!(stderr.contains("--features bench"), "{args:?}: {stderr}");
    }
}

/// spago refuses a registry without `package-sets/`, and package-set jobs need a latest
/// set: an unseeded registry starts with an empty set for the chosen compiler.
#[test]
fn init_without_a_seed_writes_an_empty_initial_package_set() {
    let dir = tempfile::tempdir().unwrap();
    let show = |data: &std::path::Path| {
        let out = Command::new("git")
            .args(["show", "main:package-sets/0.0.1.json"])
            .current_dir(data.join("git/registry.git"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        registry_core::json::parse(&String::from_utf8_lossy(&out.stdout)).unwrap()
    };

    let data = dir.path().join("default");
    let empty_compilers = dir.path().join("no-compilers");
    std::fs::create_dir_all(&empty_compilers).unwrap();
    let (ok, _, err) = run(
        &["init", "--data-dir", &data.display().to_string()],
        &[("REGISTRY_COMPILERS", &empty_compilers.display().to_string()), ("PATH", "/usr/bin:/bin")],
    );
    assert!(ok, "{err}");
    let set = show(&data);
    assert_eq!(set["version"], "0.0.1");
    assert_eq!(set["compiler"], "0.15.15");
    assert_eq!(set["packages"], serde_json::json!({}));
    assert!(registry_core::time::Date::parse(set["published"].as_str().unwrap()).is_ok(), "{set}");
    assert_eq!(git_files(&data.join("git/registry.git")), ["package-sets/0.0.1.json"]);

    // The newest installed compiler, when there is one.
    let compilers = dir.path().join("compilers");
    std::fs::create_dir_all(&compilers).unwrap();
    for name in ["purs-0_15_9", "purs-0_15_16", "purs-0_14_5"] {
        std::fs::write(compilers.join(name), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(compilers.join(name), std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    let data = dir.path().join("installed");
    let (ok, _, err) = run(
        &["init", "--data-dir", &data.display().to_string(), "--compilers", &compilers.display().to_string()],
        &[],
    );
    assert!(ok, "{err}");
    assert_eq!(show(&data)["compiler"], "0.15.16");

    // The flag wins; a bad one is refused with the reason.
    let data = dir.path().join("flag");
    let (ok, _, err) =
        run(&["init", "--data-dir", &data.display().to_string(), "--compiler", "0.15.10"], &[]);
    assert!(ok, "{err}");
    assert_eq!(show(&data)["compiler"], "0.15.10");
    let (ok, _, err) = run(&["init", "--data-dir", &data.display().to_string(), "--compiler", "0.15"], &[]);
    assert!(!ok && err.contains("--compiler"), "{err}");

    // A seed brings its own package sets: no initial set is added.
    let data = dir.path().join("seeded");
    let seed = dir.path().join("seed");
    std::fs::create_dir_all(seed.join("package-sets")).unwrap();
    std::fs::write(seed.join("package-sets/1.0.0.json"), "{}\n").unwrap();
    let (ok, _, err) =
        run(&["init", "--data-dir", &data.display().to_string(), "--seed", &seed.display().to_string()], &[]);
    assert!(ok, "{err}");
    assert_eq!(git_files(&data.join("git/registry.git")), ["package-sets/1.0.0.json"]);
}

/// Upstream's `.env` in the current directory gives defaults; the real environment wins,
/// and a secret from it is never printed, not even when the file is malformed.
#[test]
fn dotenv_in_the_current_directory_gives_defaults_the_environment_overrides() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "# as upstream's .env.example\nSERVER_PORT=9000\nPACCHETTIBOTTI_TOKEN=\"ghp_from_dotenv\"\nREGISTRY_DATA_DIR=/srv/from-dotenv\n",
    )
    .unwrap();
    let show = |env: &[(&str, &str)]| {
        let mut cmd = Command::new(BIN);
        cmd.args(["config", "show"]).current_dir(dir.path());
        for key in
            ["READONLY", "PACCHETTIBOTTI_TOKEN", "SERVER_PORT", "REGISTRY_DATA_DIR", "REGISTRY_DOTENV_LOADED"]
        {
            cmd.env_remove(key);
        }
        cmd.envs(env.iter().copied());
        let out = cmd.output().unwrap();
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    };
    let (ok, out) = show(&[]);
    assert!(ok, "{out}");
    assert!(out.contains("port:                       9000"), "{out}");
    assert!(out.contains("data-dir:                   /srv/from-dotenv"), "{out}");
    assert!(out.contains("pacchettibotti-token:       ****** (set)"), "{out}");
    assert!(!out.contains("ghp_from_dotenv"), "{out}");

    let (ok, out) = show(&[("SERVER_PORT", "7000")]);
    assert!(ok, "{out}");
    assert!(out.contains("port:                       7000"), "{out}");

    std::fs::write(dir.path().join(".env"), "SERVER_PORT=9000\nPACCHETTIBOTTI_TOKEN \"ghp_from_dotenv\"\n")
        .unwrap();
    let (ok, out) = show(&[]);
    assert!(!ok && out.contains(".env") && out.contains("line 2 is not KEY=value"), "{out}");
    assert!(!out.contains("ghp_from_dotenv"), "{out}");
}

/// As upstream, the server's log is also kept in `scratch/logs/<YYYY-MM-DD>.log`.
#[tokio::test]
async fn serve_keeps_a_daily_log_file_under_scratch_logs() {
    let registry = Registry::init();
    let server = registry.serve(&[]).await;
    let status = server.terminate().await;
    assert!(status.success(), "{status:?}");
    let logs = registry.data().join("scratch/logs");
    let files: Vec<_> = std::fs::read_dir(&logs).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].to_string_lossy().into_owned();
    let date = name.strip_suffix(".log").unwrap();
    assert!(registry_core::time::Date::parse(date).is_ok(), "{name}");
    let text = std::fs::read_to_string(logs.join(&name)).unwrap();
    assert!(text.contains("SIGTERM received: shutting down") && text.contains("stopped"), "{text}");
}
