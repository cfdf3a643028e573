//! The GitHub commands against the loopback GitHub stand-in (`registry-github`'s
//! `standin`) and a real `registry serve`: the issue bridge, the daily importer and
//! the transferrer of renamed repositories. No request leaves loopback.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use std::time::Duration;

use registry_core::Timestamp;
use registry_github::standin::StandIn;
use registry_workload::{GitIdentity, Variant, write_git_repo};
use support::*;

const REGISTRY_REPO: &str = "purescript/registry";

/// Runs `registry <args>` with exactly the GitHub/registry variables given.
async fn run_registry(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args);
    for var in [
        "GITHUB_EVENT_PATH",
        "GITHUB_API_URL",
        "GITHUB_TOKEN",
        "GITHUB_REPOSITORY",
        "REGISTRY_API_URL",
        "PACCHETTIBOTTI_ED25519",
        "PACCHETTIBOTTI_ED25519_PUB",
        "READONLY",
        "REGISTRY_TRUSTEES_TEAM",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.kill_on_drop(true).output().await.unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn compilers(root: &Path) -> PathBuf {
    let dir = root.join("compilers");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(standin(), dir.join("purs-0_15_15")).unwrap();
    dir
}

/// A registry seeded with the four-package fixture and its package set 0.1.0.
fn seeded() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let (seed, storage) = (dir.path().join("seed"), dir.path().join("storage"));
    registry_workload::write_small_registry(&seed, &storage).unwrap();
    let registry = Registry { dir: tempfile::tempdir().unwrap() };
    std::fs::create_dir_all(registry.markers()).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["init", "--data-dir"])
        .arg(registry.data())
        .arg("--seed")
        .arg(&seed)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(registry.data().join("storage")).unwrap();
    std::fs::rename(&storage, registry.data().join("storage")).unwrap();
    (dir, registry)
}

fn event(dir: &Path, number: u64, login: &str, body: &str) -> PathBuf {
    let path = dir.join(format!("event-{number}-{login}.json"));
    let event = serde_json::json!({
        "action": "opened",
        "issue": {"number": number, "title": "Package set update", "body": body},
        "sender": {"login": login},
    });
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn the_issue_bridge_re_signs_a_trustees_request_and_refuses_others() {
    let (dir, seeded) = seeded();
    let trustee = keygen(dir.path(), "pacchettibotti", "pacchettibotti@purescript.org");
    let compilers = compilers(dir.path());
    let server = seeded
        .serve_env(
            &["--compilers", compilers.to_str().unwrap()],
            &[
                ("PACCHETTIBOTTI_ED25519_PUB", trustee.public_line.as_str()),
                ("PURSUIT_API_URL", "http://127.0.0.1:9"),
            ],
        )
        .await;
    let github = StandIn::start().await.unwrap();
    github.require_token("ghs_actions");
    github.add_repo(REGISTRY_REPO);
    github.set_team("purescript", "packaging", &["a-trustee"]);
    let api = format!("{}/api", server.url);
    let bridge = |event: PathBuf| {
        let (api, github_url, key) = (api.clone(), github.url.clone(), trustee.private.clone());
        let public = trustee.public_line.clone();
        async move {
            let event = event.to_str().unwrap().to_owned();
            run_registry(
                &["github-issue", "--poll-interval-ms", "200", "--max-polls", "600"],
                &[
                    ("GITHUB_EVENT_PATH", event.as_str()),
                    ("GITHUB_API_URL", github_url.as_str()),
                    ("GITHUB_TOKEN", "ghs_actions"),
                    ("GITHUB_REPOSITORY", REGISTRY_REPO),
                    ("REGISTRY_API_URL", api.as_str()),
                    ("PACCHETTIBOTTI_ED25519", key.as_str()),
                    ("PACCHETTIBOTTI_ED25519_PUB", public.as_str()),
                ],
            )
            .await
        }
    };
    let removal = "Please drop gamma.\n\n```json\n{ \"packages\": { \"gamma\": null } }\n```\nThanks!";

    // A non-trustee's removal goes unsigned; the registry refuses it and the issue says why.
    let out = bridge(event(dir.path(), 3, "someone", removal)).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let comments = github.comments();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert_eq!(comments[0].issue, 3);
    assert!(comments[0].body.starts_with("❌ Failed to submit job: HTTP 400"), "{comments:?}");
    assert!(comments[0].body.contains("requires a signature for restricted operations"), "{comments:?}");
    assert!(github.closed().is_empty());

    // A trustee's is re-signed, runs, its logs are relayed and the issue is closed.
    let out = bridge(event(dir.path(), 4, "a-trustee", removal)).await;
    assert!(out.status.success(), "{}\nserver:\n{}", text(&out), server.log());
    let comments: Vec<String> =
        github.comments().into_iter().filter(|c| c.issue == 4).map(|c| c.body).collect();
    let started = comments[0].strip_prefix("Job started: `").unwrap_or_else(|| panic!("{comments:#?}"));
    let job_id = started.split('`').next().unwrap();
    assert!(comments[0].ends_with(&format!("Logs: https://www.purescript.org/registry-dev/#/jobs/{job_id}")));
    assert!(comments.iter().any(|c| c.starts_with("```\n[NOTICE] ")), "{comments:#?}");
    assert_eq!(comments.last().unwrap(), "✅ Job completed successfully", "{comments:#?}");
    assert_eq!(github.closed(), [(REGISTRY_REPO.to_owned(), 4)]);
    let job = server.job(job_id).await;
    assert_eq!(job["success"], true, "{job}");
    // The registry only runs a removal whose pacchettibotti signature verifies (the
    // unsigned one above was refused), so this success is the re-signing at work.
    assert_eq!(job["payload"], serde_json::json!({"packages": {"gamma": null}}), "{job}");
    // Every GitHub call carried the token and stayed on the stand-in.
    assert!(github.requests().iter().all(|r| r.authorization.as_deref() == Some("Bearer ghs_actions")));

    // The same removal again runs and fails (gamma is gone): the reason is relayed, the
    // issue stays open and the command exits 1.
    let out = bridge(event(dir.path(), 5, "a-trustee", removal)).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let comments: Vec<String> =
        github.comments().into_iter().filter(|c| c.issue == 5).map(|c| c.body).collect();
    assert_eq!(comments.last().unwrap(), "❌ Job failed", "{comments:#?}");
    assert!(comments.iter().any(|c| c.starts_with("```\n[ERROR] ")), "{comments:#?}");
    assert_eq!(github.closed().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_gets_a_comment_and_exit_1_and_prose_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "pacchettibotti", "pacchettibotti@purescript.org");
    let github = StandIn::start().await.unwrap();
    github.add_repo(REGISTRY_REPO);
    let run = |event: PathBuf| {
        let (url, key) = (github.url.clone(), key.private.clone());
        async move {
            let event = event.to_str().unwrap().to_owned();
            run_registry(
                &["github-issue"],
                &[
                    ("GITHUB_EVENT_PATH", event.as_str()),
                    ("GITHUB_API_URL", url.as_str()),
                    ("GITHUB_TOKEN", "t"),
                    ("GITHUB_REPOSITORY", REGISTRY_REPO),
                    // Nothing listens here: these events never reach the registry.
                    ("REGISTRY_API_URL", "http://127.0.0.1:9/api"),
                    ("PACCHETTIBOTTI_ED25519", key.as_str()),
                ],
            )
            .await
        }
    };
    let out = run(event(
        dir.path(),
        8,
        "someone",
        r#"```json
{"name": "aff", "version": "1.0.0"}
```"#,
    ))
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let comment = &github.comments()[0];
    assert_eq!(comment.issue, 8);
    assert!(comment.body.starts_with("The JSON input for this package update is malformed:"), "{comment:?}");
    assert!(comment.body.contains("Received keys: name, version"), "{comment:?}");

    let out = run(event(dir.path(), 9, "someone", "Is the registry down?")).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run(event(dir.path(), 10, "pacchettibotti", "{\"oops\": 1}")).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(github.comments().len(), 1, "no comment on prose nor on pacchettibotti's own");

    // Bad configuration: a sentence saying what to fix.
    let out = run_registry(&["github-issue"], &[("GITHUB_EVENT_PATH", "/nonexistent")]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--github-token"), "{}", text(&out));
}

fn job_id_in(out: &Output, prefix: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}`: {}", text(out)));
    line[prefix.len()..].split_whitespace().next().unwrap().to_owned()
}

fn rev_parse(repo: &Path, what: &str) -> String {
    let out = std::process::Command::new("git").current_dir(repo).args(["rev-parse", what]).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// alpha@1.0.0 is published from GitHub `test/purescript-alpha`; then v1.1.0 is tagged
/// (plus a second tag of that version and a tag that is no version), the daily
/// importer publishes it once; the repository moves to `new-owner`, the transferrer
/// moves the package, and the next tag publishes from the new location.
#[tokio::test(flavor = "multi_thread")]
async fn new_tags_are_imported_once_and_a_renamed_repository_is_transferred() {
    let registry = Registry::init();
    let root = registry.dir.path().to_path_buf();
    let trustee = keygen(&root, "pacchettibotti", "pacchettibotti@purescript.org");
    let compilers = compilers(&root);
    let who = GitIdentity::default();
    let manifest = |version: &str, owner: &str| {
        let mut m = chain_manifest("alpha", version, &[]);
        m.location = registry_core::Location::GitHub {
            owner: owner.into(),
            repo: "purescript-alpha".into(),
            subdir: None,
        };
        m
    };
    let old_repo = root.join("github/test/purescript-alpha.git");
    write_git_repo(&old_repo, &[(&manifest("1.0.0", "test"), Variant::Normal)], &who).unwrap();
    let github_files = format!("file://{}", root.join("github").display());
    let server = registry
        .serve_env(
            &["--compilers", compilers.to_str().unwrap()],
            &[
                ("GITHUB_URL", github_files.as_str()),
                ("PURSUIT_API_URL", "http://127.0.0.1:9"),
                ("PACCHETTIBOTTI_ED25519_PUB", trustee.public_line.as_str()),
            ],
        )
        .await;
    let first = server
        .submit(
            "/api/v1/publish",
            r#"{"name":"alpha","ref":"v1.0.0","version":"1.0.0","compiler":"0.15.15","location":{"githubOwner":"test","githubRepo":"purescript-alpha"}}"#,
        )
        .await;
    assert_eq!(
        server.wait_finished(&first, Duration::from_secs(60)).await["success"],
        true,
        "{}",
        server.log()
    );

    // GitHub: v1.0.0 is two days old; v1.1.0 (also tagged `1.1.0`) and `latest` are new.
    write_git_repo(&old_repo, &[(&manifest("1.1.0", "test"), Variant::Normal)], &who).unwrap();
    let (old_sha, new_sha) =
        (rev_parse(&old_repo, "v1.0.0^{commit}"), rev_parse(&old_repo, "v1.1.0^{commit}"));
    let github = StandIn::start().await.unwrap();
    github.require_token("ghp_daily");
    let gh = "test/purescript-alpha";
    github.add_commit(gh, &old_sha, Timestamp::from_unix_millis(now_ms() - 48 * 3_600_000));
    github.add_commit(gh, &new_sha, Timestamp::from_unix_millis(now_ms() - 3_600_000));
    for (tag, sha) in [("v1.0.0", &old_sha), ("v1.1.0", &new_sha), ("1.1.0", &new_sha), ("latest", &new_sha)]
    {
        github.add_tag(gh, tag, sha);
    }
    let api = format!("{}/api", server.url);
    let data = registry.data();
    let key = trustee.private.clone();
    let command = |args: Vec<&'static str>| {
        let (api, github_url, data, key) =
            (api.clone(), github.url.clone(), data.to_str().unwrap().to_owned(), key.clone());
        async move {
            let mut all: Vec<&str> = args;
            all.extend(["--data-dir", data.as_str()]);
            run_registry(
                &all,
                &[
                    ("GITHUB_API_URL", github_url.as_str()),
                    ("GITHUB_TOKEN", "ghp_daily"),
                    ("REGISTRY_API_URL", api.as_str()),
                    ("PACCHETTIBOTTI_ED25519", key.as_str()),
                    ("GITHUB_URL", "http://127.0.0.1:9"),
                ],
            )
            .await
        }
    };

    let dry = command(vec!["import", "daily", "--dry-run"]).await;
    assert!(dry.status.success(), "{}", text(&dry));
    let stdout = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert_eq!(stdout.matches("[DRY RUN] Would submit publish job for").count(), 1, "{stdout}");
    assert!(stdout.contains("[DRY RUN] Would submit publish job for alpha@1.1.0"), "{stdout}");

    // A rate-limited answer on the way is waited out.
    github.rate_limit(1, 1);
    let submitted = command(vec!["import", "daily", "--submit"]).await;
    assert!(submitted.status.success(), "{}", text(&submitted));
    assert!(String::from_utf8_lossy(&submitted.stderr).contains("rate limit"), "{}", text(&submitted));
    let id = job_id_in(&submitted, "Submitted publish job ");
    let job = server.wait_finished(&id, Duration::from_secs(60)).await;
    assert_eq!(job["success"], true, "{job}");
    assert_eq!(job["payload"]["ref"], "v1.1.0", "{job}");
    let again = command(vec!["import", "daily", "--submit"]).await;
    assert!(again.status.success(), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("Submitted 0 publish jobs"), "{}", text(&again));

    // The repository moves; nothing else is registered there, so it is transferred.
    github.rename(gh, "new-owner/purescript-alpha");
    let new_repo = root.join("github/new-owner/purescript-alpha.git");
    std::fs::create_dir_all(new_repo.parent().unwrap()).unwrap();
    std::fs::rename(&old_repo, &new_repo).unwrap();
    let dry = command(vec!["transfer-renamed", "--dry-run"]).await;
    assert!(dry.status.success(), "{}", text(&dry));
    assert!(
        String::from_utf8_lossy(&dry.stdout)
            .contains("[DRY RUN] Would submit transfer job for alpha to new-owner/purescript-alpha"),
        "{}",
        text(&dry)
    );
    let moved = command(vec!["transfer-renamed", "--submit"]).await;
    assert!(moved.status.success(), "{}", text(&moved));
    let id = job_id_in(&moved, "Submitted transfer job ");
    let job = server.wait_finished(&id, Duration::from_secs(60)).await;
    assert_eq!(job["success"], true, "{job}\n{}", server.log());
    let after = command(vec!["transfer-renamed", "--dry-run"]).await;
    assert!(
        String::from_utf8_lossy(&after.stdout).contains("No packages require transferring."),
        "{}",
        text(&after)
    );

    // The next tag publishes from the new location.
    write_git_repo(&new_repo, &[(&manifest("1.2.0", "new-owner"), Variant::Normal)], &who).unwrap();
    let sha = rev_parse(&new_repo, "v1.2.0^{commit}");
    github.add_commit("new-owner/purescript-alpha", &sha, Timestamp::from_unix_millis(now_ms()));
    github.add_tag("new-owner/purescript-alpha", "v1.2.0", &sha);
    let submitted = command(vec!["import", "daily", "--submit"]).await;
    assert!(submitted.status.success(), "{}", text(&submitted));
    let id = job_id_in(&submitted, "Submitted publish job ");
    let job = server.wait_finished(&id, Duration::from_secs(60)).await;
    assert_eq!(job["success"], true, "{job}");

    // An author publishes from an issue: no trustee question, the job runs, the issue closes.
    write_git_repo(&new_repo, &[(&manifest("1.3.0", "new-owner"), Variant::Normal)], &who).unwrap();
    github.add_repo(REGISTRY_REPO);
    let asked_before = github.requests().len();
    let body = "```json\n{\"name\": \"alpha\", \"ref\": \"v1.3.0\", \"version\": \"1.3.0\"}\n```";
    let event = event(&root, 21, "an-author", body);
    let out = run_registry(
        &["github-issue", "--poll-interval-ms", "200"],
        &[
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_API_URL", github.url.as_str()),
            ("GITHUB_TOKEN", "ghp_daily"),
            ("GITHUB_REPOSITORY", REGISTRY_REPO),
            ("REGISTRY_API_URL", api.as_str()),
            ("PACCHETTIBOTTI_ED25519", trustee.private.as_str()),
        ],
    )
    .await;
    assert!(out.status.success(), "{}\n{}", text(&out), server.log());
    let comments: Vec<String> = github.comments().into_iter().map(|c| c.body).collect();
    assert!(comments.iter().any(|c| c.contains("[NOTICE] Published alpha@1.3.0")), "{comments:#?}");
    assert_eq!(github.closed(), [(REGISTRY_REPO.to_owned(), 21)]);
    assert!(
        github.requests()[asked_before..].iter().all(|r| !r.uri.starts_with("/orgs/")),
        "a publish needs no trustee"
    );
    assert!(github.requests().iter().all(|r| r.authorization.as_deref() == Some("Bearer ghp_daily")));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_configuration_is_a_sentence_saying_what_to_fix() {
    let registry = Registry::init();
    let data = registry.data();
    let data = data.to_str().unwrap();
    let out = run_registry(&["import", "daily", "--submit", "--data-dir", data], &[]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--github-token"), "{}", text(&out));

    let out = run_registry(
        &["transfer-renamed", "--submit", "--data-dir", data],
        &[("GITHUB_TOKEN", "t"), ("GITHUB_API_URL", "http://127.0.0.1:9")],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("PACCHETTIBOTTI_ED25519 is required with --submit")
    );

    let out = run_registry(
        &["import", "daily", "--dry-run", "--data-dir", data],
        &[("GITHUB_TOKEN", "t"), ("GITHUB_API_URL", "api.github.com")],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("GITHUB_API_URL must be an http(s) URL"),
        "{}",
        text(&out)
    );

    let right = keygen(registry.dir.path(), "right", "pacchettibotti@purescript.org");
    let wrong = keygen(registry.dir.path(), "wrong", "pacchettibotti@purescript.org");
    let out = run_registry(
        &["transfer-renamed", "--submit", "--data-dir", data],
        &[
            ("GITHUB_TOKEN", "t"),
            ("GITHUB_API_URL", "http://127.0.0.1:9"),
            ("PACCHETTIBOTTI_ED25519", wrong.private.as_str()),
            ("PACCHETTIBOTTI_ED25519_PUB", right.public_line.as_str()),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not the private key of PACCHETTIBOTTI_ED25519_PUB"),
        "{}",
        text(&out)
    );

    let event = registry.dir.path().join("event.json");
    std::fs::write(&event, "{}").unwrap();
    let out = run_registry(
        &["github-issue"],
        &[
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_TOKEN", "t"),
            ("GITHUB_API_URL", "http://127.0.0.1:9"),
            ("PACCHETTIBOTTI_ED25519", "not a key"),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("OpenSSH private key"), "{}", text(&out));
}
