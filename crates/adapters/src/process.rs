//! Child processes that die with the work that started them.
//!
//! Every child is started as the leader of a new process group. If the future
//! waiting for it is dropped before the child exits (a job timed out, or the server
//! is shutting down), the whole group is killed with SIGKILL, so grandchildren
//! (`git` helpers, a compiler's workers) do not outlive the job either.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output, Stdio};
use std::sync::OnceLock;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// Where live process groups are recorded, so that groups orphaned by a crash of
/// this process can be killed at the next start ([`kill_orphans`]).
static GROUP_RECORDS: OnceLock<PathBuf> = OnceLock::new();

/// Records every process group started from now on in `dir`.
pub fn record_groups_in(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let _ = GROUP_RECORDS.set(dir.to_owned());
    Ok(())
}

/// The start time of a process (clock ticks since boot), which tells a process from
/// a later one that reused its pid.
fn start_time(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.split_whitespace().nth(19).map(str::to_owned)
}

/// Kills the process groups recorded in `dir` by an earlier run that died without
/// cleaning up (SIGKILL, power loss); returns how many were still alive.
pub fn kill_orphans(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut killed = 0;
    for entry in entries.flatten() {
        let recorded = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if let Ok(pgid) = entry.file_name().to_string_lossy().parse::<i32>()
            && start_time(pgid).is_some_and(|t| t == recorded.trim())
            && killpg(Pid::from_raw(pgid), Signal::SIGKILL).is_ok()
        {
            killed += 1;
        }
        let _ = std::fs::remove_file(entry.path());
    }
    killed
}

/// Kills the process group on drop unless disarmed.
#[derive(Debug)]
pub struct GroupGuard {
    pgid: Option<i32>,
}

impl GroupGuard {
    fn new(pgid: Option<i32>) -> Self {
        if let (Some(pgid), Some(dir)) = (pgid, GROUP_RECORDS.get())
            && let Some(started) = start_time(pgid)
        {
            let _ = std::fs::write(dir.join(pgid.to_string()), started);
        }
        GroupGuard { pgid }
    }

    fn forget(pgid: i32) {
        if let Some(dir) = GROUP_RECORDS.get() {
            let _ = std::fs::remove_file(dir.join(pgid.to_string()));
        }
    }

    /// The child exited on its own: leave its group alone.
    pub fn disarm(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            Self::forget(pgid);
        }
    }

    pub fn kill_now(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // ESRCH (already gone) is fine.
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            Self::forget(pgid);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill_now();
    }
}

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

    #[test]
    fn orphans_are_recognised_by_pid_and_start_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut orphan = std::process::Command::new("sleep");
        std::os::unix::process::CommandExt::process_group(&mut orphan, 0);
        let mut orphan = orphan.arg("30").spawn().unwrap();
        let pgid = orphan.id() as i32;
        std::fs::write(dir.path().join(pgid.to_string()), start_time(pgid).unwrap()).unwrap();
        // A record whose start time does not match is a reused pid: left alone.
        std::fs::write(dir.path().join(std::process::id().to_string()), "0").unwrap();
        assert_eq!(kill_orphans(dir.path()), 1);
        assert!(!orphan.wait().unwrap().success());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "records are removed");
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
