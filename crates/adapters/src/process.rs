//! Child processes that die with the work that started them (async side of
//! `registry-process`).
//!
//! Every child is started as the leader of a new process group, recorded for
//! [`kill_orphans`]. If the future waiting for it is dropped before the child exits
//! (a job timed out, or the server is shutting down), the whole group is killed
//! with SIGKILL, so grandchildren (`git` helpers) do not outlive the job either.
//! Blocking work that starts children (the compiler) runs through [`blocking`],
//! which does the same for the children of the blocking thread.

use std::ffi::OsStr;
use std::process::{ExitStatus, Output, Stdio};

use tokio::process::{Child, Command};

pub use registry_process::{GroupGuard, Scope, kill_orphans, live_members, record_groups_in};

/// A running child and the guard of its process group.
pub struct GroupChild {
    pub child: Child,
    pub guard: GroupGuard,
}

impl GroupChild {
    /// Waits for the exit; the group is left alone afterwards.
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        let status = self.child.wait().await?;
        self.guard.disarm();
        Ok(status)
    }
}

/// Starts `cmd` in its own process group.
pub fn spawn(cmd: &mut Command) -> std::io::Result<GroupChild> {
    cmd.process_group(0).kill_on_drop(true);
    let child = cmd.spawn()?;
    let pgid = child.id().map(|id| id as i32);
    Ok(GroupChild { child, guard: GroupGuard::new(pgid) })
}

/// Runs blocking work on tokio's blocking pool, in a [`Scope`]: if the returned
/// future is dropped before the work ends (the job's task was aborted on a timeout
/// or at shutdown), every process group the work started is killed and it can
/// start no more, so the thread returns promptly instead of waiting for a hung
/// child — and a shutdown that waits for blocking threads does not hang.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    let scope = Scope::new();
    let cancel = scope.cancel_on_drop();
    let result = tokio::task::spawn_blocking(move || scope.enter(work)).await;
    cancel.disarm();
    result
}

/// The result of a finished command.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("could not start `{program}`: {source}")]
    Start { program: String, source: std::io::Error },
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed { command: String, status: ExitStatus, stderr: String, stdout: String },
}

/// Runs a command to completion, capturing output; a non-zero exit is an error
/// carrying stderr.
pub async fn run(cmd: &mut Command) -> Result<Output, CommandError> {
    let command = describe(cmd);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let program = cmd.as_std().get_program().to_string_lossy().into_owned();
    let GroupChild { child, mut guard } =
        spawn(cmd).map_err(|source| CommandError::Start { program, source })?;
    let output = child.wait_with_output().await;
    guard.disarm();
    let output = output.map_err(|source| CommandError::Start { program: command.clone(), source })?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(CommandError::Failed {
            command,
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            stdout: String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        })
    }
}

/// `program arg1 arg2` for messages.
pub fn describe(cmd: &Command) -> String {
    let std = cmd.as_std();
    std::iter::once(std.get_program())
        .chain(std.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn dropping_the_wait_kills_grandchildren() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("grandchild.pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pid_file.display());
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script);
        let wait = run(&mut cmd);
        assert!(tokio::time::timeout(Duration::from_millis(500), wait).await.is_err());
        let grandchild: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
        // Give the kernel a moment to deliver SIGKILL and the reaper to collect.
        let mut alive = true;
        for _ in 0..50 {
            let stat = std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default();
            // Gone, or a zombie waiting for its (killed) parent's reaper.
            if stat.is_empty() || stat.split_whitespace().nth(2) == Some("Z") {
                alive = false;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!alive, "grandchild {grandchild} survived");
    }

    #[tokio::test]
    async fn failures_carry_stderr() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("echo oops >&2; exit 3");
        match run(&mut cmd).await {
            Err(CommandError::Failed { stderr, status, .. }) => {
                assert_eq!(stderr, "oops");
                assert_eq!(status.code(), Some(3));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
