//! The source fetcher contacts only allowed hosts: a `gitUrl` pointing at loopback
//! (or anywhere else not listed) is refused before git runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use registry_adapters::{GitSourceFetcher, NullLog, SourceError, SourceFetcher};
use registry_core::Location;

/// A loopback listener counting the connections it receives.
async fn listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, connections)
}

#[tokio::test]
async fn git_urls_outside_the_allowed_hosts_are_never_contacted() {
    let (port, connections) = listener().await;
    let work = tempfile::tempdir().unwrap();
    let fetcher = GitSourceFetcher::new("https://github.com");
    for url in [
        format!("http://127.0.0.1:{port}/owner/repo.git"),
        format!("https://127.0.0.1:{port}/owner/repo.git"),
        format!("https://user@localhost:{port}/owner/repo.git"),
        "https://169.254.169.254/latest.git".to_owned(),
    ] {
        let location = Location::Git { url: url.clone(), subdir: None };
        let refused = fetcher.fetch(&location, "v1.0.0", work.path(), &NullLog).await;
        assert!(matches!(&refused, Err(SourceError::NotAllowed(_))), "{url}: {refused:?}");
    }
    // Listing the host does not open other schemes than https.
    let listed =
        GitSourceFetcher::new("https://github.com").with_git_hosts(vec![format!("127.0.0.1:{port}")]);
    let location = Location::Git { url: format!("http://127.0.0.1:{port}/o/r.git"), subdir: None };
    let refused = listed.fetch(&location, "v1.0.0", work.path(), &NullLog).await;
    assert!(
        matches!(&refused, Err(SourceError::NotAllowed(m)) if m.contains("Only https://")),
        "{refused:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(connections.load(Ordering::SeqCst), 0, "no connection reached the loopback listener");
    assert!(std::fs::read_dir(work.path()).unwrap().next().is_none(), "nothing was cloned");
}
