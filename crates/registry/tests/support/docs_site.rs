//! A Pursuit-like documentation site on loopback for the publish tests: it records
//! uploads (the `github` repository and version of each) and answers
//! `available-versions` from them. `down` refuses uploads with 503; `hold` keeps an
//! upload's answer back (and sets `holding`) until it is cleared.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

#[derive(Clone, Default)]
pub struct DocsSite {
    uploads: Arc<Mutex<Vec<(String, String)>>>,
    pub down: Arc<AtomicBool>,
    pub hold: Arc<AtomicBool>,
    pub holding: Arc<AtomicBool>,
}

impl DocsSite {
    /// Serves the site; its base URL.
    pub async fn start(&self) -> String {
        use axum::routing::{get, post};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (upload, list) = (self.clone(), self.clone());
        let app = axum::Router::new()
            .route("/packages", post(move |body: axum::body::Bytes| upload.clone().upload(body)))
            .route(
                "/packages/{package}/available-versions",
                get(move |axum::extract::Path(package): axum::extract::Path<String>| {
                    let list = list.clone();
                    async move { list.available(&package) }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    async fn upload(self, body: axum::body::Bytes) -> (axum::http::StatusCode, String) {
        if self.down.load(Ordering::SeqCst) {
            return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down for maintenance".into());
        }
        let mut text = String::new();
        flate2::read::GzDecoder::new(body.as_ref()).read_to_string(&mut text).unwrap();
        let docs: Value = serde_json::from_str(&text).unwrap();
        let repo = docs["github"][1].as_str().unwrap();
        let name = repo.strip_prefix("purescript-").unwrap().to_owned();
        self.uploads.lock().unwrap().push((name, docs["version"].as_str().unwrap().to_owned()));
        while self.hold.load(Ordering::SeqCst) {
            self.holding.store(true, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (axum::http::StatusCode::CREATED, "{}".into())
    }

    fn available(&self, package: &str) -> String {
        let name = package.strip_prefix("purescript-").unwrap_or(package);
        let versions: Vec<Value> = self
            .uploads
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| json!([v, format!("https://pursuit.test/{name}/{v}")]))
            .collect();
        Value::Array(versions).to_string()
    }

    /// How many uploads of `name@version` the site received.
    pub fn count(&self, name: &str, version: &str) -> usize {
        self.uploads.lock().unwrap().iter().filter(|(n, v)| n == name && v == version).count()
    }

    pub fn uploads(&self) -> Vec<(String, String)> {
        self.uploads.lock().unwrap().clone()
    }
}
