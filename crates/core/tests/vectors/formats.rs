//! Manifests, metadata, package sets and the manifest index.

use std::collections::BTreeMap;

use registry_core::json::{self, Codec};
use registry_core::manifest_index::{self, IncludeRanges, ManifestIndex};
use registry_core::metadata::PublishedMetadata;
use registry_core::package_set_rules::{self, Change, ChangeSet};
use registry_core::{License, Location, Manifest, Metadata, PackageName, PackageSet, Range, Version};
use serde_json::Value;

use crate::support::*;

/// Decodes `text` and checks both printings the case asks for.
fn round_trip<T: Codec>(text: &str, expect: &Value) -> Result<bool, String> {
    let decoded = T::from_json_str(text).map_err(|e| e.to_string());
    let value = match (expect["ok"].as_bool(), decoded) {
        (Some(false), Err(_)) => return Ok(true),
        (Some(false), Ok(_)) => return Err("decoded, expected failure".into()),
        (_, Err(e)) => return Err(format!("decode failed: {e}")),
        (_, Ok(v)) => v,
    };
    if let Some(want) = expect.get("printed_indented").and_then(Value::as_str) {
        same(value.to_pretty().trim_end(), want.trim())?;
    }
    if let Some(want) = expect.get("printed_compact").and_then(Value::as_str) {
        same(value.to_compact().as_str(), want)?;
    }
    Ok(true)
}

/// upstream's test helper `unsafeManifest`: MIT, a Git location, ref `v<version>`.
pub fn unsafe_manifest(spec: &Value) -> Result<Manifest, String> {
    let name = PackageName::parse(spec["name"].as_str().ok_or("manifest without name")?)?;
    let version = Version::parse(spec["version"].as_str().ok_or("manifest without version")?)?;
    let mut dependencies = BTreeMap::new();
    for (dep, range) in spec["dependencies"].as_object().into_iter().flatten() {
        dependencies.insert(PackageName::parse(dep)?, Range::parse(range.as_str().unwrap_or(""))?);
    }
    let description = match spec.get("description").and_then(Value::as_str) {
        Some(d) => Some(registry_core::limited::Description::parse(d)?),
        None => None,
    };
    Ok(Manifest {
        location: Location::Git {
            url: format!("https://github.com/purescript/purescript-{name}.git"),
            subdir: None,
        },
        git_ref: format!("v{version}"),
        name,
        version,
        license: License::parse("MIT")?,
        description,
        owners: None,
        include_files: None,
        exclude_files: None,
        dependencies,
    })
}

fn manifests(list: &Value) -> Result<Vec<Manifest>, String> {
    list.as_array().ok_or("expected a list of manifests")?.iter().map(unsafe_manifest).collect()
}

fn ids<'a>(manifests: impl IntoIterator<Item = &'a Manifest>) -> Vec<String> {
    manifests.into_iter().map(Manifest::id).collect()
}

fn mode(input: &Value) -> IncludeRanges {
    match input.get("mode").or(input.get("index_mode")).and_then(Value::as_str) {
        Some("IgnoreRanges") => IncludeRanges::IgnoreRanges,
        _ => IncludeRanges::ConsiderRanges,
    }
}

#[test]
fn manifests_codec() {
    run_cases("manifests.json", |function, input, expect, _| match function {
        "Manifest.codec round-trip" | "Manifest.codec decode + compact encode" => {
            round_trip::<Manifest>(input_str(input)?, expect)
        }
        "API.parseSourceManifest (purs.json)" => {
            let value = json::parse(input_str(input)?).map_err(|e| e.to_string())?;
            expect_parse(expect, Manifest::decode_authored(&value).map(|m| m.id()).map_err(|e| e.to_string()))
        }
        _ => Ok(false),
    });
}

#[test]
fn metadata_codec() {
    run_cases("metadata.json", |function, input, expect, _| match function {
        "Metadata.codec round-trip" | "Metadata.codec decode (app fixture)" => {
            round_trip::<Metadata>(input_str(input)?, expect)
        }
        "Metadata.publishedMetadataCodec decode" => {
            let decoded = PublishedMetadata::from_json_str(input_str(input)?).map_err(|e| e.to_string())?;
            same(decoded.git_ref.as_deref(), expect["ref"].as_str())
        }
        "Metadata.publishedMetadataCodec encode" => {
            let mut decoded = PublishedMetadata::from_json_str(input["decoded_from"].as_str().unwrap_or(""))
                .map_err(|e| e.to_string())?;
            if let Some(git_ref) = input.get("override").and_then(|o| o.get("ref")).and_then(Value::as_str) {
                decoded.git_ref = Some(git_ref.to_owned());
            }
            let printed = decoded.to_pretty();
            if let Some(absent) = expect.get("printed_indented_not_contains").and_then(Value::as_str) {
                same(printed.contains(absent), false)?;
            }
            if let Some(present) = expect.get("printed_indented_contains").and_then(Value::as_str) {
                same(printed.contains(present), true)?;
            }
            Ok(true)
        }
        _ => Ok(false),
    });
}

#[test]
fn manifest_index() {
    run_cases("manifest-index.json", |function, input, expect, _| match function {
        "ManifestIndex.parseEntry/printEntry round-trip" => {
            let entries = manifest_index::parse_entry(input_str(input)?)?;
            same(manifest_index::print_entry(&entries).as_str(), expect["printed"].as_str().unwrap_or(""))
        }
        "ManifestIndex.parseEntry (app fixture)" => {
            expect_parse(expect, manifest_index::parse_entry(input_str(input)?).map(|e| ids(&e).join(",")))
        }
        "ManifestIndex.packageEntryFilePath" => {
            let name = PackageName::parse(input_str(input)?)?;
            same(manifest_index::entry_path(&name).as_str(), expect_value_str(expect)?)
        }
        "ManifestIndex.insert (ConsiderRanges) twice then lookup" => {
            let mut index = ManifestIndex::new();
            let list = manifests(input)?;
            for m in &list {
                index.insert(IncludeRanges::ConsiderRanges, m.clone()).map_err(|e| format!("{e:?}"))?;
            }
            let found = index.lookup(&list[0].name, list[0].version).ok_or("not found after insert")?;
            same(
                found.description.as_ref().map(|d| d.to_string()),
                expect["lookup_description"].as_str().map(str::to_owned),
            )
        }
        "ManifestIndex.topologicalSort (IgnoreRanges)" => {
            let list = manifests(input)?;
            let sorted = manifest_index::topological_sort(IncludeRanges::IgnoreRanges, &list);
            same(ids(sorted), ids(&manifests(&expect["value"])?))
        }
        "ManifestIndex.maximalIndex" => {
            let list = manifests(&input["manifests"])?;
            let (failed, index) = ManifestIndex::maximal(mode(input), &list);
            let mut in_index = ids(index.manifests());
            let mut want_in: Vec<String> = expect["in_index"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            in_index.sort();
            want_in.sort();
            same(in_index, want_in)?;
            let mut in_errors: Vec<String> =
                failed.iter().flat_map(|(n, vs)| vs.keys().map(move |v| format!("{n}@{v}"))).collect();
            let mut want_errors: Vec<String> = expect["in_errors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            in_errors.sort();
            want_errors.sort();
            same(in_errors, want_errors)?;
            same(index.len() as u64, expect["index_size"].as_u64().unwrap_or(u64::MAX))
        }
        "ManifestIndex.delete (ConsiderRanges)" => {
            let mut index = ManifestIndex::new();
            for m in manifests(&input["inserted_in_order"])? {
                index.insert(IncludeRanges::ConsiderRanges, m).map_err(|e| format!("{e:?}"))?;
            }
            let (name, version) =
                input["delete"].as_str().unwrap_or("").split_once('@').ok_or("bad delete")?;
            let (name, version) = (PackageName::parse(name)?, Version::parse(version)?);
            let before = index.clone();
            let result = index.delete(IncludeRanges::ConsiderRanges, &name, version);
            if result.is_err() {
                same(&index, &before)?;
            } else {
                same(index.lookup(&name, version).is_none(), true)?;
            }
            expect_parse(expect, result.map(|_| String::new()).map_err(|e| format!("{e:?}")))
        }
        _ => Ok(false),
    });
}

fn package_set(value: &Value) -> Result<PackageSet, String> {
    PackageSet::decode(value).map_err(|e| e.to_string())
}

fn change_set(value: &Value) -> Result<ChangeSet, String> {
    let mut out = ChangeSet::new();
    for (name, change) in value.as_object().ok_or("changes must be an object")? {
        let change = match change {
            Value::String(s) if s == "Remove" => Change::Remove,
            other => Change::Update(Version::parse(other["Update"].as_str().ok_or("bad change")?)?),
        };
        out.insert(PackageName::parse(name)?, change);
    }
    Ok(out)
}

#[test]
fn package_set_ops() {
    run_cases("package-set-ops.json", |function, input, expect, _| match function {
        "PackageSets.commitMessage" => {
            let set = package_set(&input["packageSet"])?;
            let changes = change_set(&input["changes"])?;
            let version = Version::parse(input["newVersion"].as_str().unwrap_or(""))?;
            same(
                package_set_rules::commit_message(&set, &changes, version).as_str(),
                expect_value_str(expect)?,
            )
        }
        "PackageSets.orderChanges" => {
            let index = ManifestIndex::from_manifests(mode(input), &manifests(&input["index"])?)
                .map_err(|e| format!("{e:?}"))?;
            let packages =
                registry_core::package_set::decode_packages(&input["packages"]).map_err(|e| e.to_string())?;
            let set = PackageSet {
                version: Version::new(0, 0, 1),
                compiler: Version::new(0, 15, 0),
                published: registry_core::Date::from_days(0),
                packages,
            };
            let ordered = package_set_rules::order_changes(&index, &set, &change_set(&input["changes"])?);
            let names: Vec<&str> = ordered.iter().map(|(n, _)| n.as_str()).collect();
            let want: Vec<&str> =
                expect["names_in_order"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            same(names, want)
        }
        "PackageSets.extraneousPackageDirs" => {
            let target =
                registry_core::package_set::decode_packages(&input["target"]).map_err(|e| e.to_string())?;
            let existing: Vec<String> = input["existing"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            let want: Vec<String> = expect["value"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            same(package_set_rules::extraneous_package_dirs(&target, &existing), want)
        }
        "PackageSet.codec round-trip" | "PackageSet.codec decode (app fixture)" => {
            round_trip::<PackageSet>(input_str(input)?, expect)
        }
        _ => Ok(false),
    });
}
