//! The GitHub commands against the loopback GitHub stand-in (`registry-github`'s
//! `standin`) and a real `registry serve`: the issue bridge, the daily importer and
//! the transferrer of renamed repositories. No request leaves loopback.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use registry_github::standin::StandIn;
use support::*;

const REGISTRY_REPO: &str = "purescript/registry";

/// Runs `registry <args>` with exactly the GitHub/registry variables given.
async fn registry(args: &[&str], env: &[(&str, &str)]) -> Output {
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
        async move {
            let event = event.to_str().unwrap().to_owned();
            registry(
                &["github-issue", "--poll-interval-ms", "200", "--max-polls", "600"],
                &[
                    ("GITHUB_EVENT_PATH", event.as_str()),
                    ("GITHUB_API_URL", github_url.as_str()),
                    ("GITHUB_TOKEN", "ghs_actions"),
                    ("GITHUB_REPOSITORY", REGISTRY_REPO),
                    ("REGISTRY_API_URL", api.as_str()),
                    ("PACCHETTIBOTTI_ED25519", key.as_str()),
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
            registry(
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
    let out = registry(&["github-issue"], &[("GITHUB_EVENT_PATH", "/nonexistent")]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--github-token"), "{}", text(&out));
}
