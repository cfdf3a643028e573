//! API v1 over HTTP against the real binary: every route, status code, query
//! parameter and kind of bad input.

mod support;

use std::time::Duration;

use support::*;

/// Publish jobs run a program logging at every level (failing for packages named
/// `broken`); transfer and unpublish jobs run a program that takes 30 s (so they stay
/// unfinished); other kinds have no handler and stay queued.
async fn server(registry: &Registry) -> Server {
    let slow = registry.script("slow.sh", "sleep 30");
    let publish = registry.script(
        "publish.sh",
        r#"input=$(cat)
echo "DEBUG: debug line"
echo "INFO: info line"
echo "WARN: warn line"
echo "NOTICE: notice line"
echo "to stderr" >&2
case "$input" in *'"name":"broken"'*) echo "ERROR: it broke"; exit 1;; esac
echo "ERROR: error line""#,
    );
    registry
        .serve(&[
            &format!("--job-command=publish={}", publish.display()),
            &format!("--job-command=transfer={}", slow.display()),
            &format!("--job-command=unpublish={}", slow.display()),
            // Listings are checked while the package-set job is unfinished.
            &format!("--job-command=packageset={}", slow.display()),
        ])
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn status_cors_and_unknown_routes() {
    let registry = Registry::init();
    let server = server(&registry).await;

    let status = server.get("/api/v1/status").await;
    assert_eq!((status.status, status.text.as_str()), (200, ""));
    assert_eq!(server.request("HEAD", "/api/v1/status", None).await.status, 200);
    assert_eq!(status.header("access-control-allow-origin"), Some("*"));
    assert_eq!(status.header("access-control-allow-methods"), Some("GET, HEAD, POST, OPTIONS"));
    assert_eq!(status.header("vary"), Some("Origin"));

    for path in [
        "/api/v1/publish",
        "/api/v1/unpublish",
        "/api/v1/transfer",
        "/api/v1/package-sets",
        "/api/v1/jobs",
        "/api/v1/jobs/x",
        "/api/v1/status",
    ] {
        let preflight = server.request("OPTIONS", path, None).await;
        assert_eq!(preflight.status, 204, "{path}");
        assert_eq!(preflight.header("access-control-allow-headers"), Some("Content-Type"));
        assert_eq!(preflight.header("access-control-max-age"), Some("86400"));
        assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    }

    // Unknown route and unsupported method: 404 (as upstream), with CORS and a JSON reason.
    for (method, path) in [
        ("GET", "/api/v1/nothing"),
        ("GET", "/api/v1/publish"),
        ("POST", "/api/v1/jobs"),
        ("DELETE", "/api/v1/jobs/x"),
    ] {
        let answer = server.request(method, path, None).await;
        assert_eq!(answer.status, 404, "{method} {path}");
        assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
        assert!(answer.json()["error"].as_str().unwrap().contains("No such route"), "{}", answer.text);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn enqueue_answers_200_marks_duplicates_and_rejects_bad_bodies() {
    let registry = Registry::init();
    let server = server(&registry).await;

    // None of these jobs finishes during the test, so the second submission is a duplicate.
    for (path, body) in [
        ("/api/v1/unpublish", unpublish_body("aff", "1.0.0")),
        ("/api/v1/transfer", transfer_body("aff")),
        ("/api/v1/package-sets", package_set_body(r#"{"packages":{"aff":"8.0.0"}}"#, None)),
    ] {
        let first = server.post(path, &body).await;
        assert_eq!(first.status, 200, "{path}: {}", first.text);
        assert_eq!(first.header("registry-duplicate-job"), None);
        let id = first.json()["jobId"].as_str().unwrap().to_owned();
        assert_eq!(first.text, format!(r#"{{"jobId":"{id}"}}"#), "compact body");
        let again = server.post(path, &body).await;
        assert_eq!((again.status, again.json()["jobId"].as_str().unwrap()), (200, id.as_str()), "{path}");
        assert_eq!(again.header("registry-duplicate-job"), Some("true"));
    }
    // Package sets are compared on the canonical payload, not the raw text.
    let canonical_twin = package_set_body(r#"{ "packages" : { "aff" : "8.0.0" } }"#, None);
    assert_eq!(
        server.post("/api/v1/package-sets", &canonical_twin).await.header("registry-duplicate-job"),
        Some("true")
    );

    let bad = |answer: &Answer, status: u16, needle: &str, path: Option<&str>| {
        assert_eq!(answer.status, status, "{}", answer.text);
        let body = answer.json();
        assert!(body["error"].as_str().unwrap().contains(needle), "{} lacks {needle:?}", answer.text);
        assert_eq!(body["path"].as_str(), path, "{}", answer.text);
    };
    bad(&server.post("/api/v1/publish", "{not json").await, 400, "not valid JSON", None);
    bad(&server.post("/api/v1/publish", "").await, 400, "body is empty", None);
    bad(&server.post("/api/v1/publish", "[]").await, 400, "Expected an object", Some("$"));
    bad(
        &server.post("/api/v1/publish", r#"{"name":"aff","ref":"v1","version":"1.0"}"#).await,
        400,
        "X.Y.Z",
        Some("$.version"),
    );
    bad(
        &server.post("/api/v1/publish", r#"{"name":"Aff","ref":"v1","version":"1.0.0"}"#).await,
        400,
        "Package name",
        Some("$.name"),
    );
    bad(
        &server.post("/api/v1/publish", r#"{"name":"aff","version":"1.0.0"}"#).await,
        400,
        "Missing required field 'ref'",
        Some("$"),
    );
    bad(
        &server.post("/api/v1/unpublish", &transfer_body("aff")).await,
        400,
        "Expected unpublish operation.",
        None,
    );
    bad(
        &server.post("/api/v1/transfer", &unpublish_body("aff", "1.0.0")).await,
        400,
        "Expected transfer operation.",
        None,
    );
    bad(
        &server.post("/api/v1/transfer", r#"{"payload":"{oops","signature":"00"}"#).await,
        400,
        "payload string is not valid JSON",
        Some("$.payload"),
    );
    let long_reason = serde_json::json!({"payload": format!(r#"{{"name":"a","version":"1.0.0","reason":"{}"}}"#, "x".repeat(301)), "signature": "00"});
    bad(
        &server.post("/api/v1/unpublish", &long_reason.to_string()).await,
        400,
        "Exceeds limit of 300",
        Some("$.payload.reason"),
    );
    bad(
        &server.post("/api/v1/package-sets", &package_set_body(r#"{"packages":{"aff":"x"}}"#, None)).await,
        400,
        "X.Y.Z",
        Some("$.payload.packages.aff"),
    );
    bad(
        &server.post("/api/v1/package-sets", &package_set_body(r#"{"packages":{"aff":null}}"#, None)).await,
        400,
        "requires a signature for restricted operations",
        None,
    );
    bad(
        &server
            .post(
                "/api/v1/package-sets",
                &package_set_body(r#"{"compiler":"0.15.15","packages":{}}"#, Some("abcd")),
            )
            .await,
        400,
        "pacchettibotti signature is not valid",
        None,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_serve_their_json_logs_and_filters() {
    let registry = Registry::init();
    let server = server(&registry).await;

    let id = server.submit("/api/v1/publish", &publish_body("aff", "1.0.0")).await;
    let job = server.wait_finished(&id, Duration::from_secs(20)).await;
    assert_eq!(job["success"], true, "{job}");
    // Keys in alphabetical order, as upstream's codecs print them.
    let raw = server.get(&format!("/api/v1/jobs/{id}?level=ERROR")).await.text;
    let keys: Vec<String> = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&raw)
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        keys,
        [
            "createdAt",
            "finishedAt",
            "jobId",
            "jobType",
            "logs",
            "packageName",
            "packageVersion",
            "payload",
            "startedAt",
            "success"
        ]
    );
    assert!(
        raw.contains(r#""payload":{"compiler":"0.15.15","name":"aff","ref":"v1.0.0","version":"1.0.0"}"#),
        "{raw}"
    );
    assert!(
        raw.contains(r#"{"jobId":""#)
            && raw.contains(r#","level":"ERROR","message":"error line","timestamp":""#),
        "{raw}"
    );

    // level: the minimum level shown; default INFO.
    let count = |path: String| {
        let server = &server;
        async move { server.get(&path).await.json()["logs"].as_array().unwrap().len() }
    };
    let all = server.job(&id).await;
    let all_logs = all["logs"].as_array().unwrap();
    let at_least =
        |min: u8| all_logs.iter().filter(|l| level_rank(l["level"].as_str().unwrap()) >= min).count();
    assert_eq!(count(format!("/api/v1/jobs/{id}")).await, at_least(1));
    for (name, rank) in [("DEBUG", 0), ("INFO", 1), ("WARN", 2), ("NOTICE", 3), ("ERROR", 4)] {
        assert_eq!(count(format!("/api/v1/jobs/{id}?level={name}")).await, at_least(rank), "level={name}");
    }
    assert!(messages(&all).contains(&"to stderr".to_owned()));
    // Timestamps strictly increase, so paging by `since = last + 1 ms` loses nothing.
    let stamps: Vec<&str> = all_logs.iter().map(|l| l["timestamp"].as_str().unwrap()).collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
    let third = stamps[2];
    let since = server.get(&format!("/api/v1/jobs/{id}?level=DEBUG&since={third}")).await.json();
    assert_eq!(since["logs"].as_array().unwrap().len(), stamps.len() - 2);
    let until = server.get(&format!("/api/v1/jobs/{id}?level=DEBUG&until={third}")).await.json();
    assert_eq!(until["logs"].as_array().unwrap().len(), 2);
    let desc = server.get(&format!("/api/v1/jobs/{id}?level=DEBUG&order=DESC")).await.json();
    assert_eq!(desc["logs"][0]["timestamp"].as_str(), stamps.last().copied());
    let encoded = server
        .get(&format!("/api/v1/jobs/{id}?level=DEBUG&since={}", third.replace(':', "%3A")))
        .await
        .json();
    assert_eq!(encoded["logs"].as_array().unwrap().len(), stamps.len() - 2, "URL-encoded timestamps work");

    // Bad query values: 404 like upstream's router, with the reason.
    for query in ["level=info", "level=TRACE", "order=asc", "since=2026-01-01", "until=2026-01-01T00:00:00Z"]
    {
        let answer = server.get(&format!("/api/v1/jobs/{id}?{query}")).await;
        assert_eq!(answer.status, 404, "{query}");
        assert!(answer.json()["error"].as_str().unwrap().contains("Invalid value"), "{}", answer.text);
    }
    let missing = server.get("/api/v1/jobs/00000000-0000-0000-0000-000000000000").await;
    assert_eq!(missing.status, 404);
    assert!(missing.json()["error"].as_str().unwrap().contains("No job with id"));

    // Settled finished jobs are answered from memory: the same bytes as before.
    let queries = ["level=DEBUG", "level=NOTICE&order=DESC", &format!("level=DEBUG&since={third}")];
    let mut fresh = Vec::new();
    for q in queries {
        fresh.push(server.get(&format!("/api/v1/jobs/{id}?{q}")).await.text);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..2 {
        for (q, expected) in queries.iter().zip(&fresh) {
            assert_eq!(&server.get(&format!("/api/v1/jobs/{id}?{q}")).await.text, expected, "{q}");
        }
    }

    // A failed job does not block a new submission of the same request.
    let broken = server.submit("/api/v1/publish", &publish_body("broken", "1.0.0")).await;
    let failed = server.wait_finished(&broken, Duration::from_secs(20)).await;
    assert_eq!(failed["success"], false);
    assert!(messages(&failed).iter().any(|m| m.contains("failed (exit status: 1)")), "{failed}");
    let retry = server.post("/api/v1/publish", &publish_body("broken", "1.0.0")).await;
    assert_ne!(retry.json()["jobId"].as_str().unwrap(), broken);
    assert_eq!(retry.header("registry-duplicate-job"), None);
    // A successful publish of the same version does not answer for a new request
    // (which would repair missing documentation): a new job is queued.
    let same = server.post("/api/v1/publish", &publish_body("aff", "1.0.0")).await;
    assert_ne!(same.json()["jobId"].as_str().unwrap(), id.as_str());
    assert_eq!(same.header("registry-duplicate-job"), None);
}

fn level_rank(level: &str) -> u8 {
    ["DEBUG", "INFO", "WARN", "NOTICE", "ERROR"].iter().position(|l| *l == level).unwrap() as u8
}

#[tokio::test(flavor = "multi_thread")]
async fn job_lists_filter_by_time_completion_and_order() {
    let registry = Registry::init();
    let server = server(&registry).await;
    let done = server.submit("/api/v1/publish", &publish_body("aff", "1.0.0")).await;
    server.wait_finished(&done, Duration::from_secs(20)).await;
    let transfer = server.submit("/api/v1/transfer", &transfer_body("aff")).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let set = server
        .submit("/api/v1/package-sets", &package_set_body(r#"{"packages":{"aff":"8.0.0"}}"#, None))
        .await;

    let ids = |answer: Answer| -> Vec<String> {
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json().as_array().unwrap().iter().map(|j| j["jobId"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(
        ids(server.get("/api/v1/jobs").await),
        [transfer.clone(), set.clone()],
        "pending only by default"
    );
    assert_eq!(
        ids(server.get("/api/v1/jobs?include_completed=false").await),
        [transfer.clone(), set.clone()]
    );
    assert_eq!(
        ids(server.get("/api/v1/jobs?include_completed=true").await),
        [done.clone(), transfer.clone(), set.clone()]
    );
    assert_eq!(
        ids(server.get("/api/v1/jobs?include_completed=true&order=DESC").await),
        [set.clone(), transfer.clone(), done.clone()]
    );
    assert_eq!(ids(server.get("/api/v1/jobs?order=ASC").await), [transfer.clone(), set.clone()]);
    let listed = server.get("/api/v1/jobs?include_completed=true").await.json();
    assert!(
        listed.as_array().unwrap().iter().all(|j| j["logs"] == serde_json::json!([])),
        "lists carry no logs"
    );
    let set_created = listed[2]["createdAt"].as_str().unwrap().to_owned();
    assert_eq!(
        ids(server.get(&format!("/api/v1/jobs?since={set_created}")).await),
        std::slice::from_ref(&set)
    );
    assert_eq!(
        ids(server.get(&format!("/api/v1/jobs?until={set_created}")).await),
        std::slice::from_ref(&transfer)
    );
    assert!(
        ids(server.get("/api/v1/jobs?until=2026-01-31T00:00:00.000Z").await).is_empty(),
        "default since is the launch"
    );
    assert!(
        ids(server.get("/api/v1/jobs?since=2000-01-01T00:00:00.000Z&until=2026-01-31T00:00:00.000Z").await)
            .is_empty()
    );
    for query in ["include_completed=yes", "order=desc", "since=yesterday", "until=2026-13-01T00:00:00.000Z"]
    {
        let answer = server.get(&format!("/api/v1/jobs?{query}")).await;
        assert_eq!(answer.status, 404, "{query}: {}", answer.text);
        assert!(answer.json()["error"].as_str().unwrap().contains("Invalid value"));
    }
    // The job kinds' JSON shapes.
    let t = server.job(&transfer).await;
    assert_eq!((t["jobType"].as_str(), t["packageName"].as_str()), (Some("transfer"), Some("aff")));
    assert!(
        t["payload"]["payload"].as_str().unwrap().contains("newLocation")
            && t["payload"]["signature"] == "00"
    );
    let s = server.job(&set).await;
    assert_eq!(s["jobType"], "packageset");
    assert_eq!(s["payload"], serde_json::json!({"packages": {"aff": "8.0.0"}}));
    // Package-set jobs run the slow program here: this one has not finished.
    assert!(s.get("finishedAt").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn local_storage_is_served_like_the_storage_host() {
    let registry = Registry::init();
    let server = server(&registry).await;
    let dir = registry.data().join("storage/prelude");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("6.0.1.tar.gz"), b"tarball bytes").unwrap();
    let found = server.get("/prelude/6.0.1.tar.gz").await;
    assert_eq!((found.status, found.text.as_str()), (200, "tarball bytes"));
    assert_eq!(found.header("content-type"), Some("application/gzip"));
    assert_eq!(server.get("/prelude/6.0.2.tar.gz").await.status, 404);
    assert_eq!(server.get("/prelude/6.0.1.zip").await.status, 404);
    assert_eq!(server.get("/Prelude/6.0.1.tar.gz").await.status, 404);
    assert_eq!(server.get("/prelude/..%2F..%2Fdb.tar.gz").await.status, 404);
}
