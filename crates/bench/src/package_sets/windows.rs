//! Which transitions of the package-set history a run replays.

use std::collections::BTreeSet;

use anyhow::{Result, bail};
use registry_core::package_set_batch::PackageMap;
use registry_core::package_set_rules::{Change, ChangeSet};
use registry_core::{ManifestIndex, PackageName, PackageSet, Version};

use super::{Job, apply};

/// `count` transitions of `sets` (sorted by version) ending at `sets[end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub end: usize,
    pub count: usize,
}

impl Window {
    pub fn sets<'s>(&self, sets: &'s [PackageSet]) -> &'s [PackageSet] {
        &sets[self.end - self.count..=self.end]
    }

    pub fn has_compiler_change(&self, sets: &[PackageSet]) -> bool {
        self.sets(sets).windows(2).any(|w| w[0].compiler != w[1].compiler)
    }
}

/// The window of `count` transitions ending at the set `end` (the newest if `None`).
pub fn window_ending_at(sets: &[PackageSet], end: Option<Version>, count: usize) -> Result<Window> {
    let Some(newest) = sets.last() else {
        bail!("the snapshot has no package sets (package-sets/ is empty)")
    };
    let end = match end {
        None => sets.len() - 1,
        Some(v) => match sets.iter().position(|s| s.version == v) {
            Some(i) => i,
            None => bail!(
                "package set {v} is not in the snapshot's package-sets/; --end takes the version of one of its sets (the newest is {})",
                newest.version
            ),
        },
    };
    if count == 0 {
        bail!("--transitions must be at least 1");
    }
    if end < count {
        bail!(
            "only {end} package sets precede {}, so {count} transitions cannot end there; pass a later --end or fewer --transitions",
            sets[end].version
        );
    }
    Ok(Window { end, count })
}

/// A window of `count` transitions around the newest compiler change at or before
/// `sets[before]`: it ends one set after the change when it can, so the window shows
/// the jobs before the change, the change, and a job on the new compiler.
pub fn compiler_change_window(sets: &[PackageSet], before: usize, count: usize) -> Option<Window> {
    let change = (1..=before).rev().find(|&i| sets[i].compiler != sets[i - 1].compiler)?;
    let end = (change + 1).min(before).max(count);
    (end >= count && end < sets.len()).then_some(Window { end, count })
}

/// For `--small`: a few packages that are updated or added in the window, with
/// everything any set of the window needs for them.
pub fn small_part(
    window: &[PackageSet],
    index: &ManifestIndex,
    changed_packages: usize,
) -> BTreeSet<PackageName> {
    let mut changed: Vec<PackageName> = Vec::new();
    for w in window.windows(2) {
        for (n, v) in &w[1].packages {
            if w[0].packages.get(n) != Some(v) && !changed.contains(n) {
                changed.push(n.clone());
            }
        }
    }
    let mut keep = BTreeSet::new();
    let mut queue: Vec<PackageName> = changed.into_iter().take(changed_packages).collect();
    while let Some(n) = queue.pop() {
        if keep.insert(n.clone()) {
            for set in window {
                if let Some(m) = set.packages.get(&n).and_then(|v| index.lookup(&n, *v)) {
                    queue.extend(m.dependencies.keys().cloned());
                }
            }
        }
    }
    keep
}

/// The jobs of a window, restricted to `keep` if given.
pub fn jobs(
    sets: &[PackageSet],
    window: Window,
    index: &ManifestIndex,
    keep: Option<&BTreeSet<PackageName>>,
) -> Vec<Job> {
    let restrict = |m: &PackageMap| -> PackageMap {
        m.iter().filter(|(n, _)| keep.is_none_or(|k| k.contains(*n))).map(|(n, v)| (n.clone(), *v)).collect()
    };
    let mut jobs: Vec<Job> = window
        .sets(sets)
        .windows(2)
        .map(|w| {
            let (old, new) = (restrict(&w[0].packages), restrict(&w[1].packages));
            let mut changes = ChangeSet::new();
            for (n, v) in &new {
                if old.get(n) != Some(v) {
                    changes.insert(n.clone(), Change::Update(*v));
                }
            }
            for n in old.keys().filter(|n| !new.contains_key(*n)) {
                changes.insert(n.clone(), Change::Remove);
            }
            Job { into: w[1].version, old, compiler: w[1].compiler, old_compiler: w[0].compiler, changes }
        })
        .collect();
    // A restricted set must still be self-contained: drop changes whose new version
    // needs a package outside the kept part.
    if let Some(keep) = keep {
        for job in &mut jobs {
            job.changes.retain(|n, c| match c {
                Change::Update(v) => {
                    index.lookup(n, *v).is_some_and(|m| m.dependencies.keys().all(|d| keep.contains(d)))
                }
                Change::Remove => true,
            });
        }
        for i in 1..jobs.len() {
            jobs[i].old = apply(&jobs[i - 1].old, &jobs[i - 1].changes);
        }
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(compilers: &[&str]) -> Vec<PackageSet> {
        compilers
            .iter()
            .enumerate()
            .map(|(i, c)| PackageSet {
                version: Version::new(i as u32 + 1, 0, 0),
                compiler: Version::parse(c).unwrap(),
                published: registry_core::Date::from_days(0),
                packages: Default::default(),
            })
            .collect()
    }

    #[test]
    fn windows_end_where_asked_and_refuse_what_does_not_fit() {
        let sets = history(&["0.15.4", "0.15.4", "0.15.7", "0.15.7", "0.15.7", "0.15.7"]);
        assert_eq!(window_ending_at(&sets, None, 2).unwrap(), Window { end: 5, count: 2 });
        assert_eq!(
            window_ending_at(&sets, Some(Version::new(4, 0, 0)), 3).unwrap(),
            Window { end: 3, count: 3 }
        );
        let unknown = window_ending_at(&sets, Some(Version::new(9, 0, 0)), 1).unwrap_err().to_string();
        assert!(unknown.contains("9.0.0") && unknown.contains("6.0.0"), "{unknown}");
        assert!(window_ending_at(&sets, Some(Version::new(2, 0, 0)), 2).is_err());
        assert!(!Window { end: 5, count: 2 }.has_compiler_change(&sets));
        // The change into set 3 (index 2): the window ends one set later.
        let change = compiler_change_window(&sets, 5, 3).unwrap();
        assert_eq!(change, Window { end: 3, count: 3 });
        assert!(change.has_compiler_change(&sets));
        assert_eq!(compiler_change_window(&history(&["0.15.4", "0.15.4"]), 1, 1), None);
    }
}
