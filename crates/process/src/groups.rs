//! Process groups: killing them, recording the live ones, and killing those a
//! crash left behind.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group};

/// How long a kill waits for the group's processes to be gone, so that nothing
/// that follows (a re-run on the same output directory) overlaps with them.
const DEATH_WAIT: Duration = Duration::from_secs(2);

/// Where live process groups are recorded, so that groups orphaned by a crash of
/// this process can be killed at the next start ([`kill_orphans`]).
static GROUP_RECORDS: OnceLock<PathBuf> = OnceLock::new();

/// Records every process group started from now on in `dir`.
pub fn record_groups_in(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let _ = GROUP_RECORDS.set(dir.to_owned());
    Ok(())
}

/// The fields of `/proc/<pid>/stat` after the command name (state first).
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(stat.rsplit_once(')')?.1.split_whitespace().map(str::to_owned).collect())
}

/// The start time of a process (clock ticks since boot), which tells a process from
/// a later one that reused its pid.
fn start_time(pid: i32) -> Option<String> {
    stat_fields(pid)?.into_iter().nth(19)
}

/// The processes of group `pgid` that are alive (zombies waiting for a reaper do
/// not count: they hold nothing open and run nothing).
pub fn live_members(pgid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            stat_fields(*pid).is_some_and(|f| f.len() > 2 && f[0] != "Z" && f[2] == pgid.to_string())
        })
        .collect()
}

/// Sends SIGKILL to every process of the group and waits (briefly) until none is
/// alive; a group that is already gone is fine.
pub fn kill_group(pgid: i32) {
    let Some(pid) = Pid::from_raw(pgid) else { return };
    if kill_process_group(pid, Signal::KILL).is_err() {
        return;
    }
    let deadline = Instant::now() + DEATH_WAIT;
    while !live_members(pgid).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kills the process groups recorded in `dir` by an earlier run that died without
/// cleaning up (SIGKILL, power loss); returns how many were still alive. Returns
/// once they are dead, so nothing started afterwards runs beside them.
pub fn kill_orphans(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut killed = 0;
    for entry in entries.flatten() {
        let recorded = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if let Ok(pgid) = entry.file_name().to_string_lossy().parse::<i32>() {
            // A leader with another start time is a reused pid: not ours. A dead
            // leader's pid cannot be reused while its group has members, so those
            // members are still the ones we started.
            let ours = match start_time(pgid) {
                Some(started) => started == recorded.trim(),
                None => !live_members(pgid).is_empty(),
            };
            if ours {
                kill_group(pgid);
                killed += 1;
            }
        }
        let _ = std::fs::remove_file(entry.path());
    }
    killed
}

/// Kills the process group on drop unless disarmed; records the group while it is
/// armed (see [`record_groups_in`]).
#[derive(Debug)]
pub struct GroupGuard {
    pgid: Option<i32>,
}

impl GroupGuard {
    /// Guards the group led by `pgid` (the pid of a child started with
    /// `process_group(0)`).
    pub fn new(pgid: Option<i32>) -> Self {
        if let (Some(pgid), Some(dir)) = (pgid, GROUP_RECORDS.get())
            && let Some(started) = start_time(pgid)
        {
            let _ = std::fs::write(dir.join(pgid.to_string()), started);
        }
        GroupGuard { pgid }
    }

    pub fn pgid(&self) -> Option<i32> {
        self.pgid
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

    /// Kills the group now (whatever is left of it).
    pub fn kill_now(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            kill_group(pgid);
            Self::forget(pgid);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill_now();
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    use super::*;

    #[test]
    fn orphans_are_recognised_by_pid_and_start_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut orphan = Command::new("sleep");
        orphan.process_group(0);
        let mut orphan = orphan.arg("30").spawn().unwrap();
        let pgid = orphan.id() as i32;
        std::fs::write(dir.path().join(pgid.to_string()), start_time(pgid).unwrap()).unwrap();
        // A record whose start time does not match is a reused pid: left alone.
        std::fs::write(dir.path().join(std::process::id().to_string()), "0").unwrap();
        assert_eq!(kill_orphans(dir.path()), 1);
        assert!(!orphan.wait().unwrap().success());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "records are removed");
    }

    #[test]
    fn an_orphaned_group_whose_leader_died_is_killed_too() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        // The leader leaves a member behind and exits.
        let mut leader = Command::new("sh");
        leader.process_group(0);
        let mut leader = leader
            .arg("-c")
            .arg(format!("sleep 30 >/dev/null 2>&1 & echo $! > {}", pids.display()))
            .spawn()
            .unwrap();
        let pgid = leader.id() as i32;
        let records = dir.path().join("records");
        std::fs::create_dir_all(&records).unwrap();
        std::fs::write(records.join(pgid.to_string()), start_time(pgid).unwrap()).unwrap();
        assert!(leader.wait().unwrap().success());
        assert_eq!(live_members(pgid).len(), 1);
        assert_eq!(kill_orphans(&records), 1);
        assert_eq!(live_members(pgid), Vec::<i32>::new());
    }
}
