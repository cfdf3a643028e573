//! PACCHETTIBOTTI_TOKEN reaches an HTTP(S) git remote as an `Authorization` header and
//! never appears in an error, against a real `git` talking to a loopback HTTP server
//! that refuses every request.

use std::sync::{Arc, Mutex};

use registry_adapters::GitRepo;
use registry_adapters::git::GitCheckout;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Answers every request 500, keeping each request's head.
async fn refusing_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/purescript/registry.git", listener.local_addr().unwrap());
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                seen.lock().unwrap().push(String::from_utf8_lossy(&head).into_owned());
                let _ = stream
                    .write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (url, heads)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_is_sent_as_a_header_and_kept_out_of_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (url, heads) = refusing_server().await;
    let token = "ghp_TOPSECRET_4242";
    let checkout = GitCheckout::new("registry", dir.path().join("registry"), url.clone())
        .with_token(Some(token.to_owned()));
    let error = checkout.read("metadata/prelude.json").await.unwrap_err().to_string();
    assert!(!error.contains(token), "{error}");
    assert!(error.contains("500") || error.contains("clone"), "{error}");

    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("pacchettibotti:{token}"));
    let heads = heads.lock().unwrap().clone();
    assert!(!heads.is_empty(), "git never reached the server");
    assert!(
        heads.iter().all(|h| h.contains(&format!("Authorization: Basic {basic}"))),
        "a request without the token: {heads:?}"
    );
    // Nothing of it is written into the checkout's configuration either.
    for entry in walk(dir.path()) {
        let text = std::fs::read(&entry).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&text).contains(token), "{} holds the token", entry.display());
    }

    // Without a token, no Authorization header.
    let (url, heads) = refusing_server().await;
    let plain = GitCheckout::new("registry", dir.path().join("plain"), url).with_token(None);
    assert!(plain.read("x").await.is_err());
    assert!(heads.lock().unwrap().iter().all(|h| !h.contains("Authorization")));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
