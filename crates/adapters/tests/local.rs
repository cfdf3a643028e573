//! Adapters against real local things: directories, git repositories, an HTTP server.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use registry_adapters::activity::MemoryLog;
use registry_adapters::{
    CommitOutcome, DocsSite, FileChange, GitCheckout, GitError, GitRepo, GitSourceFetcher, HttpDocsSite,
    LocalStorage, NullLog, ObjectKey, ReadOnlyDocsSite, ReadOnlyGitRepo, ReadOnlyStorage, SourceError,
    SourceFetcher, Storage, StorageError, TagsOutcome,
};
use registry_core::job::LogLevel;
use registry_core::{Location, PackageName, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn sh(dir: &Path, script: &str) -> String {
    let out = std::process::Command::new("sh").arg("-c").arg(script).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A bare repository with one commit on `main`.
fn bare_repo(root: &Path, name: &str) -> String {
    let bare = root.join(name);
    sh(
        root,
        &format!(
            "git init -q --bare -b main {b} && git clone -q {b} seed-{name} 2>/dev/null && cd seed-{name} && \
         git -c user.name=t -c user.email=t@t commit -q --allow-empty -m init && git push -q origin HEAD:main",
            b = bare.display()
        ),
    );
    bare.display().to_string()
}

fn pkg(name: &str) -> PackageName {
    PackageName::parse(name).unwrap()
}

#[tokio::test]
async fn local_storage_never_overwrites_and_lists_versions() {
    let dir = tempfile::tempdir().unwrap();
    let storage = LocalStorage::new(dir.path().join("storage"));
    let log = MemoryLog::default();
    let (name, v1, v2) = (pkg("prelude"), Version::new(6, 0, 1), Version::new(6, 0, 2));
    storage.upload(&name, &v1, Bytes::from_static(b"one"), &log).await.unwrap();
    let again = storage.upload(&name, &v1, Bytes::from_static(b"two"), &log).await;
    assert!(matches!(again, Err(StorageError::AlreadyExists { .. })), "{again:?}");
    assert_eq!(storage.download(&name, &v1).await.unwrap().unwrap(), Bytes::from_static(b"one"));
    storage.upload(&name, &v2, Bytes::from_static(b"2"), &log).await.unwrap();
    assert_eq!(storage.versions(&name).await.unwrap().into_iter().collect::<Vec<_>>(), [v1, v2]);
    storage.delete(&name, &v1, &log).await.unwrap();
    assert!(storage.download(&name, &v1).await.unwrap().is_none());
    assert!(matches!(storage.delete(&name, &v1, &log).await, Err(StorageError::NotFound { .. })));
    assert!(log.lines().iter().any(|(_, m)| m.contains("Uploaded prelude/6.0.1.tar.gz (3 bytes)")));
}

#[tokio::test]
async fn read_only_storage_writes_nothing_but_says_what_it_would_do() {
    let dir = tempfile::tempdir().unwrap();
    let real = Arc::new(LocalStorage::new(dir.path().join("storage")));
    let (name, v) = (pkg("aff"), Version::new(1, 0, 0));
    real.upload(&name, &Version::new(0, 1, 0), Bytes::from_static(b"old"), &NullLog).await.unwrap();
    let storage = ReadOnlyStorage::new(real.clone(), dir.path().join("cache"));
    let log = MemoryLog::default();
    storage.upload(&name, &v, Bytes::from_static(b"12345"), &log).await.unwrap();
    storage.delete(&name, &Version::new(0, 1, 0), &log).await.unwrap();
    assert!(real.download(&name, &v).await.unwrap().is_none(), "nothing uploaded");
    assert!(real.download(&name, &Version::new(0, 1, 0)).await.unwrap().is_some(), "nothing deleted");
    // The skipped upload is still installable by later jobs of this server.
    assert_eq!(storage.download(&name, &v).await.unwrap().unwrap(), Bytes::from_static(b"12345"));
    let notices: Vec<String> =
        log.lines().into_iter().filter(|(l, _)| *l == LogLevel::Notice).map(|(_, m)| m).collect();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(
        notices[0].contains("aff/1.0.0.tar.gz (5 bytes)") && notices[0].contains("storage"),
        "{}",
        notices[0]
    );
    assert!(notices[1].contains("READONLY: would delete aff/0.1.0.tar.gz"), "{}", notices[1]);
}

#[tokio::test]
async fn read_only_storage_keeps_objects_and_repeated_uploads_by_the_same_rules() {
    let dir = tempfile::tempdir().unwrap();
    let real = Arc::new(LocalStorage::new(dir.path().join("storage")));
    let (name, old, new) = (pkg("aff"), Version::new(0, 1, 0), Version::new(1, 0, 0));
    let (there, kept) = (
        ObjectKey::new("_build-cache/aa/aa11.tar.gz").unwrap(),
        ObjectKey::new("_build-cache/bb/bb22.tar.gz").unwrap(),
    );
    real.upload(&name, &old, Bytes::from_static(b"old"), &NullLog).await.unwrap();
    real.put_object(&there, Bytes::from_static(b"real"), &NullLog).await.unwrap();
    let storage = ReadOnlyStorage::new(real.clone(), dir.path().join("cache"));
    let target = real.describe();
    let log = MemoryLog::default();

    // What the real storage has is refused, naming the real storage.
    assert!(!storage.put_object(&there, Bytes::from_static(b"x"), &log).await.unwrap());
    let refused = storage.upload(&name, &old, Bytes::from_static(b"x"), &log).await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        format!("aff/0.1.0.tar.gz already exists in {target}; stored tarballs are never overwritten")
    );
    // A new object is kept locally once; a tarball is a skipped upload every time.
    assert!(storage.put_object(&kept, Bytes::from_static(b"built"), &log).await.unwrap());
    assert!(!storage.put_object(&kept, Bytes::from_static(b"built"), &log).await.unwrap());
    storage.upload(&name, &new, Bytes::from_static(b"123"), &log).await.unwrap();
    storage.upload(&name, &new, Bytes::from_static(b"123"), &log).await.unwrap();
    assert!(!real.has_object(&kept).await.unwrap() && real.download(&name, &new).await.unwrap().is_none());
    assert!(storage.has_object(&kept).await.unwrap() && storage.has_object(&there).await.unwrap());
    assert_eq!(storage.get_object(&kept).await.unwrap().unwrap(), Bytes::from_static(b"built"));
    assert_eq!(storage.versions(&name).await.unwrap().into_iter().collect::<Vec<_>>(), [old, new]);
    let missing = storage.delete(&name, &Version::new(9, 9, 9), &log).await.unwrap_err();
    assert_eq!(missing.to_string(), format!("aff/9.9.9.tar.gz does not exist in {target}"));
    storage.delete(&name, &new, &log).await.unwrap();

    let lines: Vec<String> = log.lines().into_iter().map(|(l, m)| format!("{l}: {m}")).collect();
    let kept_note = "; kept it in the local read-only cache instead";
    assert_eq!(
        lines,
        [
            format!("NOTICE: READONLY: would store {kept} (5 bytes) in {target}{kept_note}"),
            format!("NOTICE: READONLY: would upload aff/1.0.0.tar.gz (3 bytes) to {target}{kept_note}"),
            format!("NOTICE: READONLY: would upload aff/1.0.0.tar.gz (3 bytes) to {target}{kept_note}"),
            format!("NOTICE: READONLY: would delete aff/1.0.0.tar.gz from {target}"),
        ]
    );
}

#[tokio::test]
async fn local_objects_stay_out_of_package_listings() {
    let dir = tempfile::tempdir().unwrap();
    let storage = LocalStorage::new(dir.path());
    let log = MemoryLog::default();
    let key = ObjectKey::new("_build-cache/ab/abcdef.tar.gz").unwrap();
    assert!(storage.put_object(&key, Bytes::from_static(b"first"), &log).await.unwrap());
    assert!(!storage.put_object(&key, Bytes::from_static(b"second"), &log).await.unwrap());
    assert_eq!(storage.get_object(&key).await.unwrap().unwrap(), Bytes::from_static(b"first"));
    let name = pkg("build-cache");
    storage.upload(&name, &Version::new(1, 0, 0), Bytes::from_static(b"t"), &log).await.unwrap();
    assert_eq!(
        storage.versions(&name).await.unwrap().into_iter().collect::<Vec<_>>(),
        [Version::new(1, 0, 0)]
    );
    let lines: Vec<String> = log.lines().into_iter().map(|(l, m)| format!("{l}: {m}")).collect();
    let target = storage.describe();
    assert_eq!(
        lines,
        [
            format!("DEBUG: Stored {key} (5 bytes) in {target}"),
            format!("INFO: Uploaded build-cache/1.0.0.tar.gz (1 bytes) to {target}"),
        ]
    );
}

#[tokio::test]
async fn git_checkout_commits_pushes_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let remote = bare_repo(dir.path(), "registry.git");
    let repo = GitCheckout::new("registry", dir.path().join("checkout"), &remote);
    let log = MemoryLog::default();
    let changes =
        [FileChange::write("metadata/a.json", "{}\n"), FileChange::write("metadata/b.json", "[]\n")];
    let outcome = repo.commit(&changes, "Update metadata for a", &log).await.unwrap();
    assert!(matches!(outcome, CommitOutcome::Committed { attempts: 1, .. }), "{outcome:?}");
    assert_eq!(repo.commit(&changes, "again", &log).await.unwrap(), CommitOutcome::NoChange);
    assert_eq!(repo.read("metadata/a.json").await.unwrap().as_deref(), Some("{}\n"));
    assert_eq!(repo.list("metadata").await.unwrap(), ["a.json", "b.json"]);
    repo.commit(&[FileChange::delete("metadata/b.json")], "Remove b", &log).await.unwrap();
    let tree = sh(dir.path(), &format!("git --git-dir={remote} ls-tree -r --name-only main"));
    assert_eq!(tree, "metadata/a.json");
    let subject = sh(dir.path(), &format!("git --git-dir={remote} log -1 --format=%s%n%an main"));
    assert_eq!(subject, "Remove b\npacchettibotti");
}

#[tokio::test]
async fn a_rejected_push_is_retried_on_top_of_the_new_remote_state() {
    let dir = tempfile::tempdir().unwrap();
    let remote = bare_repo(dir.path(), "index.git");
    let repo = GitCheckout::new("registry-index", dir.path().join("checkout"), &remote);
    repo.read("x").await.unwrap(); // clone
    // Someone else pushes between our fetch and our push, exactly once.
    sh(dir.path(), &format!("git clone -q {remote} other"));
    let hook = dir.path().join("checkout/.git/hooks/pre-push");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\n[ -e {m} ] && exit 0\ntouch {m}\ncd {o} && echo theirs > theirs.txt && git add theirs.txt && \
             git -c user.name=o -c user.email=o@o commit -q -m theirs && git push -q origin HEAD:main\n",
            m = dir.path().join("pushed-once").display(),
            o = dir.path().join("other").display()
        ),
    )
    .unwrap();
    sh(dir.path(), &format!("chmod +x {}", hook.display()));
    let log = MemoryLog::default();
    let outcome = repo
        .commit(&[FileChange::write("1/a", "line\n")], "Update manifest for a@1.0.0", &log)
        .await
        .unwrap();
    assert!(matches!(outcome, CommitOutcome::Committed { attempts: 2, .. }), "{outcome:?}");
    let tree = sh(dir.path(), &format!("git --git-dir={remote} ls-tree -r --name-only main"));
    assert_eq!(tree, "1/a\ntheirs.txt", "both commits are on the remote");
}

#[tokio::test]
async fn concurrent_writers_are_serialized() {
    let dir = tempfile::tempdir().unwrap();
    let remote = bare_repo(dir.path(), "registry.git");
    let repo = Arc::new(GitCheckout::new("registry", dir.path().join("checkout"), &remote));
    let mut tasks = Vec::new();
    for i in 0..6 {
        let repo = repo.clone();
        tasks.push(tokio::spawn(async move {
            repo.commit(&[FileChange::write(format!("metadata/p{i}.json"), "{}")], &format!("p{i}"), &NullLog)
                .await
        }));
    }
    for t in tasks {
        assert!(matches!(t.await.unwrap().unwrap(), CommitOutcome::Committed { .. }));
    }
    let count = sh(dir.path(), &format!("git --git-dir={remote} rev-list --count main"));
    assert_eq!(count, "7");
}

#[tokio::test]
async fn read_only_repo_leaves_the_remote_alone_and_remembers_its_writes() {
    let dir = tempfile::tempdir().unwrap();
    let remote = bare_repo(dir.path(), "registry.git");
    let before = sh(dir.path(), &format!("git --git-dir={remote} rev-parse main"));
    let real: Arc<dyn GitRepo> = Arc::new(GitCheckout::new("registry", dir.path().join("checkout"), &remote));
    let repo = ReadOnlyGitRepo::new(real);
    let log = MemoryLog::default();
    let outcome =
        repo.commit(&[FileChange::write("metadata/a.json", "{}")], "Update metadata for a", &log).await;
    assert_eq!(outcome.unwrap(), CommitOutcome::Skipped);
    assert_eq!(sh(dir.path(), &format!("git --git-dir={remote} rev-parse main")), before);
    assert_eq!(repo.read("metadata/a.json").await.unwrap().as_deref(), Some("{}"));
    assert_eq!(repo.list("metadata").await.unwrap(), ["a.json"]);
    let (level, message) = &log.lines()[0];
    assert_eq!(*level, LogLevel::Notice);
    assert!(
        message.contains("metadata/a.json (2 bytes)") && message.contains("\"Update metadata for a\""),
        "{message}"
    );
}

#[tokio::test]
async fn tags_go_on_the_commit_just_pushed_and_read_only_pushes_none() {
    let dir = tempfile::tempdir().unwrap();
    let remote = bare_repo(dir.path(), "package-sets.git");
    sh(dir.path(), &format!("git --git-dir={remote} tag 0.15.14 main"));
    let real = Arc::new(GitCheckout::new("package-sets", dir.path().join("checkout"), &remote));
    assert_eq!(real.tags().await.unwrap(), ["0.15.14"]);
    let log = MemoryLog::default();
    let CommitOutcome::Committed { commit, .. } =
        real.commit(&[FileChange::write("packages.json", "{}\n")], "Update", &log).await.unwrap()
    else {
        panic!("expected a commit")
    };
    let wanted = ["psc-0.15.15-20240101".to_owned(), "0.15.15".to_owned()];
    let outcome = real.push_tags(&wanted, &log).await.unwrap();
    assert_eq!(outcome, TagsOutcome::Pushed(wanted.to_vec()));
    for tag in &wanted {
        assert_eq!(sh(dir.path(), &format!("git --git-dir={remote} rev-parse {tag}")), commit, "{tag}");
    }
    assert_eq!(real.tags().await.unwrap(), ["0.15.14", "0.15.15", "psc-0.15.15-20240101"]);
    // Pushing them again changes nothing (and says that the local tags exist).
    assert_eq!(real.push_tags(&wanted, &log).await.unwrap(), TagsOutcome::NoChange);
    assert!(log.lines().iter().any(|(l, m)| *l == LogLevel::Warn && m == "Tag 0.15.15 already exists."));
    assert!(matches!(real.push_tags(&["-f".to_owned()], &log).await, Err(GitError::BadTag(_))));

    let refs = sh(dir.path(), &format!("git --git-dir={remote} for-each-ref"));
    let repo = ReadOnlyGitRepo::new(real);
    let log = MemoryLog::default();
    let outcome = repo.push_tags(&["psc-0.15.15-20240102".to_owned()], &log).await.unwrap();
    assert_eq!(outcome, TagsOutcome::Skipped);
    assert_eq!(sh(dir.path(), &format!("git --git-dir={remote} for-each-ref")), refs);
    let (level, message) = &log.lines()[0];
    assert_eq!(*level, LogLevel::Notice);
    assert!(message.starts_with("READONLY: would create the tag psc-0.15.15-20240102"), "{message}");
    assert_eq!(repo.tags().await.unwrap().len(), 3);
}

#[tokio::test]
async fn all_files_lists_the_whole_tree_with_read_only_writes_overlaid() {
    let dir = tempfile::tempdir().unwrap();
    let remote = bare_repo(dir.path(), "index.git");
    let real = Arc::new(GitCheckout::new("registry-index", dir.path().join("checkout"), &remote));
    let changes = [
        FileChange::write("pr/el/prelude", "{}\n"),
        FileChange::write("3/a/aff", "{}\n"),
        FileChange::write(".hidden/x", "no"),
    ];
    real.commit(&changes, "Add entries", &NullLog).await.unwrap();
    assert_eq!(
        real.all_files().await.unwrap(),
        ["3/a/aff", "pr/el/prelude"],
        ".git and hidden paths skipped"
    );
    let repo = ReadOnlyGitRepo::new(real);
    let overlay = [FileChange::delete("3/a/aff"), FileChange::write("2/ab", "{}\n")];
    repo.commit(&overlay, "Change entries", &NullLog).await.unwrap();
    assert_eq!(repo.all_files().await.unwrap(), ["2/ab", "pr/el/prelude"]);
}

#[tokio::test]
async fn sources_are_cloned_at_a_tag_from_a_file_base_url() {
    let dir = tempfile::tempdir().unwrap();
    let owner = dir.path().join("github/purescript");
    std::fs::create_dir_all(&owner).unwrap();
    let remote = bare_repo(&owner, "purescript-prelude.git");
    sh(
        dir.path(),
        &format!(
            "cd {}/seed-purescript-prelude.git && git tag v1.0.0 && git push -q origin v1.0.0",
            owner.display()
        ),
    );
    let fetcher = GitSourceFetcher::new(&format!("file://{}", dir.path().join("github").display()));
    let location =
        Location::GitHub { owner: "purescript".into(), repo: "purescript-prelude".into(), subdir: None };
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let cloned = fetcher.fetch(&location, "v1.0.0", &work, &NullLog).await.unwrap();
    assert!(cloned.join(".git").exists());
    let missing = fetcher.fetch(&location, "v9.9.9", &work, &NullLog).await;
    assert!(matches!(missing, Err(SourceError::RefNotFound { .. })), "{missing:?}");
    let absent = Location::GitHub { owner: "nobody".into(), repo: "nothing".into(), subdir: None };
    let absent = fetcher.fetch(&absent, "v1.0.0", &work, &NullLog).await;
    assert!(matches!(absent, Err(SourceError::Inaccessible { .. })), "{absent:?}");
    let _ = remote;
}

/// A one-request-at-a-time HTTP server that records requests and answers `status`.
async fn recorder(
    status: u16,
    body: &'static str,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body_start) = loop {
                let n = socket.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break (String::from_utf8_lossy(&buf[..i]).into_owned(), i + 4);
                }
            };
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            while buf.len() < body_start + length {
                let n = socket.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
            }
            let _ = tx.send((head, buf[body_start..body_start + length].to_vec()));
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    (url, rx)
}

#[tokio::test]
async fn docs_are_posted_gzipped_with_the_token_and_read_only_posts_nothing() {
    let (url, mut requests) = recorder(201, "").await;
    let site = Arc::new(HttpDocsSite::new(&url, Some("secret".into())));
    let log = MemoryLog::default();
    site.publish(&pkg("prelude"), &Version::new(6, 0, 1), br#"{"docs":1}"#, &log).await.unwrap();
    let (head, body) = requests.recv().await.unwrap();
    assert!(head.starts_with("POST /packages HTTP/1.1"), "{head}");
    let lower = head.to_lowercase();
    assert!(
        lower.contains("authorization: token secret") && lower.contains("content-encoding: gzip"),
        "{head}"
    );
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut text).unwrap();
    assert_eq!(text, r#"{"docs":1}"#);

    let read_only = ReadOnlyDocsSite::new(site);
    read_only.publish(&pkg("prelude"), &Version::new(6, 0, 2), b"{}", &log).await.unwrap();
    assert!(requests.try_recv().is_err(), "read-only mode sent a request");
    assert!(log.lines().iter().any(|(l, m)| *l == LogLevel::Notice && m.contains("prelude@6.0.2 (2 bytes")));

    let (url, _requests) = recorder(500, "boom").await;
    let failing = HttpDocsSite::new(&url, None);
    let err = failing.publish(&pkg("a"), &Version::new(1, 0, 0), b"{}", &log).await.unwrap_err();
    assert!(err.to_string().contains("answered 500: boom"), "{err}");
}

#[tokio::test]
async fn a_checkout_says_which_files_changed_since_a_revision_whoever_wrote_them() {
    let dir = tempfile::tempdir().unwrap();
    let remote = bare_repo(dir.path(), "registry.git");
    let repo = GitCheckout::new("registry", dir.path().join("checkout"), &remote)
        .with_refresh_interval(Duration::ZERO);
    let start = repo.revision().await.unwrap().unwrap();
    assert_eq!(repo.changed_since(&start).await.unwrap(), Some(vec![]));
    repo.commit(&[FileChange::write("metadata/a.json", "{}")], "a", &NullLog).await.unwrap();
    // Someone else pushes too: the next read sees it, and so does the diff.
    sh(dir.path(), &format!("git clone -q {remote} other"));
    sh(
        &dir.path().join("other"),
        "mkdir -p metadata && echo '{}' > 'metadata/b c.json' && git add . && \
         git -c user.name=o -c user.email=o@o commit -q -m b && git push -q origin HEAD:main",
    );
    let changed = repo.changed_since(&start).await.unwrap().unwrap();
    assert_eq!(changed, ["metadata/a.json", "metadata/b c.json"]);
    assert_ne!(repo.revision().await.unwrap().unwrap(), start);
    // Not a commit id, or one the history does not hold: unknown, never an error or a git option.
    for bad in ["--output=/tmp/x", "HEAD~1", &"0".repeat(40)] {
        assert_eq!(repo.changed_since(bad).await.unwrap(), None, "{bad}");
    }
    // Read-only mode: the skipped writes count as changes and move the revision.
    let read_only = ReadOnlyGitRepo::new(Arc::new(repo));
    let at = read_only.revision().await.unwrap().unwrap();
    read_only.commit(&[FileChange::write("metadata/d.json", "{}")], "d", &NullLog).await.unwrap();
    assert_ne!(read_only.revision().await.unwrap().unwrap(), at);
    assert_eq!(read_only.changed_since(&at).await.unwrap(), Some(vec!["metadata/d.json".to_owned()]));
}
