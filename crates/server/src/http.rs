//! Serving the API over TCP so that slow or idle clients cannot make it unanswerable.
//!
//! `axum::serve` has no header-read timeout and no bound on connections: clients that
//! send half a request line and stall keep their connections (and file descriptors)
//! for ever. Here every connection must deliver a request head within the header
//! timeout (also the keep-alive idle limit), each request gets a response within the
//! request timeout (a body trickled in byte by byte included), and at most
//! `max_connections` are open. When that many are open, a new connection evicts the
//! oldest one with no request in progress (a stalled or idle one); only when every
//! connection is busy is the new one closed at once.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

/// Request heads larger than this are refused (431) by hyper.
const MAX_HEAD_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Time to receive a whole request head; also how long an idle keep-alive
    /// connection stays open.
    pub header_read_timeout: Duration,
    /// Time from a request's head to its response (reading the body included).
    pub request_timeout: Duration,
    pub max_connections: usize,
}

/// One open connection: whether a request is in progress, and how to close it.
#[derive(Default)]
struct Slot {
    requests: AtomicUsize,
    evict: Notify,
}

#[derive(Default)]
struct Connections {
    open: Mutex<(u64, BTreeMap<u64, Arc<Slot>>)>,
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, BTreeMap<u64, Arc<Slot>>)> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for a new connection, evicting the oldest connection without a request
    /// in progress if all are taken; `None` when every connection is busy.
    fn admit(&self, max: usize) -> Option<(u64, Arc<Slot>)> {
        let mut guard = self.lock();
        let (next, open) = &mut *guard;
        if open.len() >= max {
            let idle =
                open.iter().find(|(_, s)| s.requests.load(Ordering::SeqCst) == 0).map(|(id, _)| *id)?;
            if let Some(slot) = open.remove(&idle) {
                slot.evict.notify_one();
            }
        }
        *next += 1;
        let slot = Arc::new(Slot::default());
        open.insert(*next, slot.clone());
        Some((*next, slot))
    }

    fn release(&self, id: u64) {
        self.lock().1.remove(&id);
    }

    fn count(&self) -> usize {
        self.lock().1.len()
    }
}

/// Counts a request as in progress while it lives.
struct InProgress(Arc<Slot>);

impl InProgress {
    fn new(slot: &Arc<Slot>) -> Self {
        slot.requests.fetch_add(1, Ordering::SeqCst);
        InProgress(slot.clone())
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.requests.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in
/// progress finish (up to the request timeout) and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let connections = Arc::new(Connections::default());
    let (stop, stopped) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        while tasks.try_join_next().is_some() {}
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(err) => {
                // Out of file descriptors and the like: wait for connections to close.
                tracing::warn!("accepting a connection failed: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some((id, slot)) = connections.admit(limits.max_connections) else {
            tracing::warn!(
                "refused a connection: all {} connections have a request in progress",
                limits.max_connections
            );
            continue;
        };
        let (router, connections, stopped) = (router.clone(), connections.clone(), stopped.clone());
        tasks.spawn(async move {
            serve_connection(stream, router, &slot, limits, stopped).await;
            connections.release(id);
        });
    }
    let _ = stop.send(true);
    tracing::debug!("closing {} connection(s)", connections.count());
    while tasks.join_next().await.is_some() {}
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    slot: &Arc<Slot>,
    limits: HttpLimits,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let app = TowerToHyperService::new(router);
    let counted = slot.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let in_progress = InProgress::new(&counted);
        let response = app.call(request);
        async move {
            let _in_progress = in_progress;
            match tokio::time::timeout(limits.request_timeout, response).await {
                Ok(response) => response,
                Err(_) => Ok::<_, Infallible>(timed_out(limits.request_timeout)),
            }
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(err) = result {
                tracing::debug!("connection closed: {err}");
            }
            return;
        }
        // Dropping the connection closes it.
        () = slot.evict.notified() => return,
        _ = stopped.wait_for(|stop| *stop) => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(limits.request_timeout, connection).await;
}

fn timed_out(limit: Duration) -> Response<Body> {
    let body = serde_json::json!({
        "error": format!(
            "The request was not completed within {} seconds (a body sent too slowly?); send it again.",
            limit.as_secs()
        )
    });
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
    response
        .headers_mut()
        .insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
    let headers = response.headers_mut();
    headers.insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    headers
        .insert(axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, axum::http::HeaderValue::from_static("*"));
    response
}
