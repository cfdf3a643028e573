//! The health-check pinger (upstream `Main.purs`, inventory §1.8): when
//! `HEALTHCHECKS_URL` is set, the server GETs it every 5 minutes while the pings
//! succeed (HTTP 200 only) and every minute after a failure, so an outside monitor
//! notices a dead server. Failures are counted over the server's life, never reset;
//! the pinger gives up at the 12th, like upstream (whose counter starts at 10 and
//! stops on the failure that finds it below zero).

use std::time::Duration;

/// When to ping and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// After a successful ping.
    pub every: Duration,
    /// After a failed ping.
    pub retry: Duration,
    /// The failure that stops the pinger (counted over its whole life).
    pub give_up_at: u32,
}

impl Schedule {
    pub const UPSTREAM: Schedule =
        Schedule { every: Duration::from_secs(5 * 60), retry: Duration::from_secs(60), give_up_at: 12 };
}

/// How one ping went.
fn outcome(result: Result<reqwest::StatusCode, reqwest::Error>) -> Result<(), String> {
    match result {
        Ok(status) if status == reqwest::StatusCode::OK => Ok(()),
        Ok(status) => Err(format!("answered {status}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Pings `url` on `schedule` until it gives up; answers the number of pings sent.
/// The URL is not logged: health-check URLs carry their secret in the path.
pub async fn ping(url: &str, schedule: Schedule) -> u32 {
    registry_adapters::install_tls_provider();
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(30)).build() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!("health checks are off: no HTTP client ({e})");
            return 0;
        }
    };
    let (mut sent, mut failures) = (0u32, 0u32);
    loop {
        sent += 1;
        let result = client.get(url).send().await.map(|r| r.status());
        let wait = match outcome(result) {
            Ok(()) => {
                tracing::debug!("health check ping {sent} succeeded");
                schedule.every
            }
            Err(reason) => {
                failures += 1;
                if failures >= schedule.give_up_at {
                    tracing::error!(
                        "health check ping failed ({reason}); {failures} failures in all, so health checks stop until the server restarts"
                    );
                    return sent;
                }
                tracing::warn!("health check ping failed ({reason}); retrying in {:?}", schedule.retry);
                schedule.retry
            }
        };
        tokio::time::sleep(wait).await;
    }
}
