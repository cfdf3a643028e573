//! The REST client against the loopback stand-in: answers, errors, renames,
//! pagination and rate limits as GitHub gives them.

use std::time::{Duration, Instant};

use registry_core::Timestamp;
use registry_github::standin::StandIn;
use registry_github::{Address, GitHub, GitHubError, Repository};

fn client(standin: &StandIn) -> GitHub {
    GitHub::new(&standin.url, Some("ghp_test")).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limited_answer_is_waited_out_then_retried() {
    let standin = StandIn::start().await.unwrap();
    standin.set_team("purescript", "packaging", &["trustee"]);
    standin.rate_limit(1, 2);
    let started = Instant::now();
    let members = client(&standin).team_members("purescript", "packaging").await.unwrap();
    assert_eq!(members, ["trustee"]);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "answered before the reset: {:?}",
        started.elapsed()
    );
    assert_eq!(standin.requests().len(), 2, "one refused, one retried");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_beyond_the_bound_is_a_clear_error_without_waiting() {
    let standin = StandIn::start().await.unwrap();
    standin.set_team("purescript", "packaging", &["trustee"]);
    standin.rate_limit(1, 3600);
    let started = Instant::now();
    let err = client(&standin)
        .with_max_rate_limit_wait(Duration::from_secs(5))
        .team_members("purescript", "packaging")
        .await
        .unwrap_err();
    assert!(matches!(err, GitHubError::RateLimited { .. }), "{err:?}");
    assert!(err.to_string().contains("run it again later"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_say_what_to_fix() {
    let standin = StandIn::start().await.unwrap();
    standin.require_token("ghp_right");
    standin.add_repo("o/r");
    let wrong = GitHub::new(&standin.url, Some("ghp_wrong")).unwrap();
    let err = wrong.tags(&Address::new("o", "r")).await.unwrap_err();
    assert!(matches!(err, GitHubError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("GITHUB_TOKEN"), "{err}");

    let right = GitHub::new(&standin.url, Some("ghp_right")).unwrap();
    let err = right.tags(&Address::new("o", "missing")).await.unwrap_err();
    assert!(matches!(err, GitHubError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("GET /repos/o/missing/tags"), "{err}");

    let err = right.create_comment(&Address::new("o", "r"), 1, "").await.unwrap_err();
    assert!(matches!(err, GitHubError::Unprocessable { .. }), "{err:?}");
    assert!(err.to_string().contains("body is missing"), "{err}");

    let err = right.tags(&Address::new("o", "../../orgs")).await.unwrap_err();
    assert!(matches!(err, GitHubError::BadInput { .. }), "{err:?}");
    assert!(GitHub::new("ftp://example.org", None).is_err());
    assert!(standin.requests().iter().all(|r| !r.uri.contains("..")), "a bad name was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn renames_are_followed_and_lists_are_read_to_the_end() {
    let standin = StandIn::start().await.unwrap();
    let github = client(&standin);
    for i in 0..250 {
        standin.add_tag("old-owner/purescript-aff", &format!("v1.0.{i}"), &format!("{i:040x}"));
    }
    standin.add_commit("old-owner/purescript-aff", "aaa", Timestamp::from_unix_millis(1_000));
    standin.add_commit("old-owner/purescript-aff", "bbb", Timestamp::from_unix_millis(5_000));
    standin.rename("old-owner/purescript-aff", "new-owner/purescript-aff");

    let old = Address::new("old-owner", "purescript-aff");
    assert_eq!(
        github.repository(&old).await.unwrap(),
        Repository { owner: "new-owner".into(), name: "purescript-aff".into() }
    );
    let tags = github.tags(&old).await.unwrap();
    assert_eq!(tags.len(), 250, "all three pages");
    assert!(tags[0].url.contains("/repos/new-owner/purescript-aff/commits/"), "{:?}", tags[0]);
    let commits = github.commits_since(&old, Timestamp::from_unix_millis(2_000)).await.unwrap();
    assert_eq!(commits, ["bbb"]);
    let tag_commit = &tags.iter().find(|t| t.name == "v1.0.7").unwrap().sha;
    standin.add_commit("new-owner/purescript-aff", tag_commit, Timestamp::from_unix_millis(9_000));
    assert_eq!(github.commit_date(&old, tag_commit).await.unwrap(), Timestamp::from_unix_millis(9_000));
    let err = github.commit_date(&old, "ccc0").await.unwrap_err();
    assert!(matches!(err, GitHubError::Unprocessable { .. }), "{err:?}");
    assert!(matches!(github.commit_date(&old, "HEAD/../x").await, Err(GitHubError::BadInput { .. })));
    assert!(standin.requests().iter().all(|r| r.authorization.as_deref() == Some("Bearer ghp_test")));
}

#[tokio::test(flavor = "multi_thread")]
async fn comments_and_closing_reach_the_issue() {
    let standin = StandIn::start().await.unwrap();
    standin.add_repo("purescript/registry");
    let github = client(&standin);
    let repo = Address::parse("purescript/registry").unwrap();
    github.create_comment(&repo, 7, "hello").await.unwrap();
    github.close_issue(&repo, 7).await.unwrap();
    assert_eq!(standin.comments()[0].body, "hello");
    assert_eq!(standin.closed(), [("purescript/registry".to_owned(), 7)]);
}
