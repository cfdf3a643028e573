//! Writes the generated sources of a package set from a registry data folder.
//!
//! `write_set SNAPSHOT OUT [--set VERSION] [--change-one]` writes
//! `OUT/packages/<name>@<version>/…` for the set VERSION (default: the newest).
//! With `--change-one` it then moves one package with several dependants to
//! another version in place (as a package-set update would), and says which.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use registry_workload::{Variant, package_files, pick_update, write_files};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(snapshot), Some(out)) = (args.next(), args.next()) else {
        bail!("usage: write_set SNAPSHOT OUT [--set VERSION] [--change-one]");
    };
    let (mut set_version, mut change_one) = (None, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--set" => set_version = Some(args.next().context("--set needs a version")?),
            "--change-one" => change_one = true,
            other => bail!("unknown argument {other}"),
        }
    }
    let (index, sets) = registry_workload::load_snapshot(&PathBuf::from(snapshot))?;
    let set = match set_version {
        Some(v) => sets.iter().find(|s| s.version.to_string() == v).ok_or_else(|| anyhow!("no set {v}"))?,
        None => sets.last().ok_or_else(|| anyhow!("no package sets"))?,
    };
    let packages = PathBuf::from(out).join("packages");
    if change_one {
        let (name, old, new) = pick_update(set, &index, 3).context("no package can change version")?;
        std::fs::remove_dir_all(packages.join(format!("{name}@{old}")))
            .with_context(|| format!("{name}@{old} is not written under {}", packages.display()))?;
        let manifest = index.lookup(&name, new).context("manifest vanished")?;
        write_files(&packages.join(format!("{name}@{new}")), &package_files(manifest, Variant::Normal))?;
        println!("changed {name} {old} -> {new}");
    } else {
        let n = registry_workload::write_set_sources(set, &index, &packages, &BTreeMap::new())?;
        println!("wrote {n} packages of set {} (compiler {})", set.version, set.compiler);
    }
    Ok(())
}
