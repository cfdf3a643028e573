//! The API against hostile input over real TCP: stalled and idle connections, huge
//! fields, locations that are not names or point at other hosts, URLs that are not
//! UTF-8, and server paths in public job logs.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use support::*;

/// A server started under `ulimit -n <nofile>`, as on a host with a low limit.
struct Limited {
    _child: tokio::process::Child,
    address: String,
}

async fn serve_with_fd_limit(registry: &Registry, nofile: u32, args: &[&str]) -> Limited {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir"])
        .arg(registry.data())
        .args(args)
        .env_remove("REGISTRY_JOB_COMMANDS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix("Listening on http://") {
                return url.to_owned();
            }
        }
        panic!("the server did not start");
    })
    .await
    .unwrap();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Limited { _child: child, address: url }
}

/// One plain request on a new connection; the status line's code.
async fn status_of(address: &str, path: &str) -> u16 {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: registry\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

/// Opens `n` connections that send half a request line and stall.
async fn stalled(address: &str, n: usize) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(b"GET /api/v1/sta").await.unwrap();
        streams.push(stream);
    }
    streams
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_connections_cannot_make_the_api_unanswerable() {
    let registry = Registry::init();
    // 256 descriptors: the default connection bound (512) is lowered to 128.
    let server = serve_with_fd_limit(&registry, 256, &["--http-header-timeout=2s"]).await;
    assert_eq!(status_of(&server.address, "/api/v1/status").await, 200);

    let mut attackers = stalled(&server.address, 300).await;
    let start = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(5), status_of(&server.address, "/api/v1/status"))
        .await
        .expect("the API answers while 300 connections stall");
    let answered = start.elapsed();
    assert_eq!(status, 200);
    eprintln!("answered in {answered:?} with 300 stalled connections");
    assert!(answered < Duration::from_secs(3), "{answered:?}");

    // A client that stalls mid-head is disconnected once the header timeout passes.
    let mut late = TcpStream::connect(&server.address).await.unwrap();
    late.write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: regi").await.unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(6), late.read(&mut buf)).await;
    let closed_after = start.elapsed();
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "still open after {closed_after:?}: {read:?}");
    eprintln!("a client stalled mid-head was disconnected after {closed_after:?}");
    assert!(closed_after >= Duration::from_millis(1500), "{closed_after:?}");

    // Every stalled connection is closed by now (evicted or timed out).
    let mut open = 0;
    for stream in &mut attackers {
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(5), stream.read(&mut buf)).await
            && n > 0
        {
            open += 1;
        }
    }
    assert_eq!(open, 0);
    assert_eq!(status_of(&server.address, "/api/v1/status").await, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_fields_and_bad_urls_get_a_json_400_naming_the_field() {
    let registry = Registry::init();
    let server = registry.serve(&[]).await;
    let bad = |answer: &Answer, status: u16, needle: &str, path: Option<&str>| {
        assert_eq!(answer.status, status, "{}", answer.text);
        assert_eq!(answer.header("content-type"), Some("application/json"), "{}", answer.text);
        let body = answer.json();
        assert!(body["error"].as_str().unwrap().contains(needle), "{} lacks {needle:?}", answer.text);
        assert_eq!(body["path"].as_str(), path, "{}", answer.text);
    };
    let huge_ref = format!(r#"{{"name":"aff","ref":"{}","version":"1.0.0"}}"#, "v".repeat(2_000_000));
    bad(&server.post("/api/v1/publish", &huge_ref).await, 413, "length limit", None);
    let long_ref = format!(r#"{{"name":"aff","ref":"{}","version":"1.0.0"}}"#, "v".repeat(256));
    bad(&server.post("/api/v1/publish", &long_ref).await, 400, "Exceeds limit of 255 bytes", Some("$.ref"));
    let payload = r#"{"name":"aff","newLocation":{"githubOwner":"o","githubRepo":"r"}}"#;
    let long_signature = serde_json::json!({"payload": payload, "signature": "ab".repeat(2049)}).to_string();
    bad(
        &server.post("/api/v1/transfer", &long_signature).await,
        400,
        "Exceeds limit of 4096",
        Some("$.signature"),
    );
    let long_payload =
        serde_json::json!({"payload": format!("{payload}{}", " ".repeat(70_000)), "signature": "00"});
    bad(&server.post("/api/v1/unpublish", &long_payload.to_string()).await, 400, "65536", Some("$.payload"));
    assert!(server.get("/api/v1/jobs?include_completed=true").await.json().as_array().unwrap().is_empty());

    let not_utf8 = server.get("/api/v1/jobs/%FF%FE").await;
    bad(&not_utf8, 400, "The job id in the path is not valid", None);
    bad(&server.get("/%FF/1.0.0.tar.gz").await, 400, "UTF-8", None);
}

fn publish_at(location: serde_json::Value) -> String {
    serde_json::json!({"name": "aff", "ref": "v1.0.0", "version": "1.0.0", "location": location}).to_string()
}

fn transfer_to(location: serde_json::Value) -> String {
    let payload = serde_json::json!({"name": "aff", "newLocation": location}).to_string();
    serde_json::json!({"payload": payload, "signature": "00"}).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn locations_must_be_github_names_or_allowed_git_hosts() {
    let registry = Registry::init();
    let slow = registry.script("slow.sh", "sleep 30");
    let publish = format!("--job-command=publish={}", slow.display());
    let transfer = format!("--job-command=transfer={}", slow.display());
    let server = registry
        .serve_env(&[&publish, &transfer], &[("REGISTRY_GIT_HOSTS", "github.com,git.example.org")])
        .await;
    let bad = |answer: Answer, needle: &str, path: &str| {
        assert_eq!(answer.status, 400, "{}", answer.text);
        let body = answer.json();
        assert!(body["error"].as_str().unwrap().contains(needle), "{} lacks {needle:?}", answer.text);
        assert_eq!(body["path"].as_str(), Some(path), "{}", answer.text);
    };
    for owner in ["a/../../etc", "..", "owner/repo", "-x"] {
        let location = serde_json::json!({"githubOwner": owner, "githubRepo": "purescript-aff"});
        bad(
            server.post("/api/v1/publish", &publish_at(location)).await,
            "not a GitHub user",
            "$.location.githubOwner",
        );
    }
    for repo in ["..", "r/../x", "r?x=1"] {
        let location = serde_json::json!({"githubOwner": "owner", "githubRepo": repo});
        bad(
            server.post("/api/v1/transfer", &transfer_to(location)).await,
            "not a GitHub repository name",
            "$.payload.newLocation.githubRepo",
        );
    }
    for url in [
        "https://127.0.0.1/x.git",
        "https://localhost/x.git",
        "https://169.254.169.254/x",
        "http://github.com/o/r.git",
    ] {
        let location = serde_json::json!({ "gitUrl": url });
        let answer = server.post("/api/v1/publish", &publish_at(location.clone())).await;
        assert!(
            answer.json()["error"].as_str().unwrap().contains("github.com, git.example.org")
                || url.starts_with("http:")
        );
        bad(
            answer,
            if url.starts_with("http:") { "Only https://" } else { "is not allowed" },
            "$.location.gitUrl",
        );
        bad(
            server.post("/api/v1/transfer", &transfer_to(location)).await,
            "",
            "$.payload.newLocation.gitUrl",
        );
    }
    let allowed = serde_json::json!({"gitUrl": "https://git.example.org/aff.git"});
    assert_eq!(server.post("/api/v1/publish", &publish_at(allowed)).await.status, 200);
    let named = serde_json::json!({"githubOwner": "purescript-contrib", "githubRepo": "purescript-aff.js"});
    assert_eq!(server.post("/api/v1/transfer", &transfer_to(named)).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn job_logs_never_show_the_servers_own_paths() {
    let registry = Registry::init();
    let compilers = registry.dir.path().join("compilers");
    std::fs::create_dir_all(&compilers).unwrap();
    let data = registry.data();
    let fails = registry.script(
        "fails.sh",
        &format!(
            "echo \"ERROR: could not write $(pwd)/output: see {data}/db/registry.sqlite3, {canonical}/storage and {compilers}/purs-0_15_15 (not {data}base)\"\nexit 1",
            data = data.display(),
            canonical = data.canonicalize().unwrap().display(),
            compilers = compilers.display()
        ),
    );
    let server = registry
        .serve(&[
            &format!("--job-command=publish={}", fails.display()),
            &format!("--compilers={}", compilers.display()),
        ])
        .await;
    let id = server.submit("/api/v1/publish", &publish_body("aff", "1.0.0")).await;
    let job = server.wait_finished(&id, Duration::from_secs(20)).await;
    assert_eq!(job["success"], false);
    let all = messages(&job).join("\n");
    let line = messages(&job).into_iter().find(|m| m.starts_with("could not write")).unwrap_or_default();
    assert_eq!(
        line,
        format!(
            "could not write <work-dir>/output: see <data-dir>/db/registry.sqlite3, <data-dir>/storage and \
             <compilers-dir>/purs-0_15_15 (not {}base)",
            data.display()
        ),
        "{all}"
    );
    assert!(!all.contains(&format!("{}/", data.display())), "{all}");
}
