//! What can go wrong talking to GitHub, each case with what to do about it.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error(
        "GitHub refused the token for {route} (401): check GITHUB_TOKEN; it is missing, expired or revoked"
    )]
    Unauthorized { route: String },
    #[error(
        "GitHub has no {route} (404), or the token may not see it: check the name and the token's scopes"
    )]
    NotFound { route: String },
    #[error("GitHub rejected {route} as invalid (422): {message}")]
    Unprocessable { route: String, message: String },
    #[error(
        "GitHub's rate limit is exhausted for {route}; it resets in {} s, longer than the {} s this command \
         waits: run it again later or use a token with a higher limit",
        reset_in.as_secs(), max_wait.as_secs()
    )]
    RateLimited { route: String, reset_in: Duration, max_wait: Duration },
    #[error("GitHub answered {status} to {route}: {message}")]
    Status { route: String, status: u16, message: String },
    #[error("could not reach GitHub for {route}: {message} (check GITHUB_API_URL and the network)")]
    Network { route: String, message: String },
    #[error("GitHub's answer to {route} is not what its API documents: {message}")]
    Decode { route: String, message: String },
    #[error("refusing to ask GitHub for {what}: {reason}")]
    BadInput { what: String, reason: String },
}
