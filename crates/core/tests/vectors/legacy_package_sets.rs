//! Legacy (psc-era) package sets: tags, latest-compatible-sets, conversion, Dhall.

use std::collections::BTreeMap;

use registry_core::json::Codec;
use registry_core::legacy::package_sets::{
    LatestCompatibleSets, LegacyPackageSet, LegacyPackageSetEntry, PscTag, convert_package_set, print_dhall,
};
use registry_core::manifest_index::IncludeRanges;
use registry_core::{ManifestIndex, PackageName, PackageSet};
use serde_json::Value;

use crate::formats::unsafe_manifest;
use crate::support::*;

fn converted(
    input: &Value,
) -> Result<registry_core::legacy::package_sets::ConvertedLegacyPackageSet, String> {
    let manifests = input["index"]
        .as_array()
        .ok_or("input.index is not a list")?
        .iter()
        .map(unsafe_manifest)
        .collect::<Result<Vec<_>, _>>()?;
    let mode = match input["index_mode"].as_str() {
        Some("IgnoreRanges") => IncludeRanges::IgnoreRanges,
        _ => IncludeRanges::ConsiderRanges,
    };
    let index = ManifestIndex::from_manifests(mode, &manifests).map_err(|e| format!("{e:?}"))?;
    let set = PackageSet::decode(&input["packageSet"]).map_err(|e| e.to_string())?;
    convert_package_set(&index, &set)
}

/// Reads back the `packages.dhall` layout `print_dhall` writes (labels, then
/// `dependencies`, `repo` and `version` fields), so a fixture can be compared with
/// a fresh print of the same set.
fn read_printed_dhall(text: &str) -> Result<LegacyPackageSet, String> {
    let mut set = BTreeMap::new();
    let mut label: Option<String> = None;
    let mut fields: BTreeMap<&str, String> = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) =
            line.strip_prefix("{ ").or(line.strip_prefix(", ")).and_then(|l| l.strip_suffix(" ="))
        {
            label = Some(name.trim_matches('`').to_owned());
            continue;
        }
        let field = line.trim_start_matches(['{', ',', ' ']);
        for key in ["dependencies", "repo", "version"] {
            if let Some(value) = field.strip_prefix(key).and_then(|v| v.strip_prefix(" = ")) {
                fields.insert(key, value.to_owned());
            }
        }
        if line == "}" && fields.len() == 3 {
            let name = PackageName::parse(label.as_deref().ok_or("a record before any label")?)?;
            let unquote = |s: &str| s.trim_matches('"').to_owned();
            let dependencies = match fields["dependencies"].as_str() {
                "[] : List Text" => Vec::new(),
                list => list
                    .trim_matches(['[', ']', ' '])
                    .split(", ")
                    .map(|d| PackageName::parse(d.trim_matches('"')))
                    .collect::<Result<_, _>>()?,
            };
            let entry = LegacyPackageSetEntry {
                dependencies,
                repo: unquote(&fields["repo"]),
                version: unquote(&fields["version"]),
            };
            set.insert(name, entry);
            fields.clear();
        }
    }
    Ok(LegacyPackageSet(set))
}

#[test]
fn legacy_package_sets() {
    run_cases("legacy-package-sets.json", |function, input, expect, case| match function {
        "parsePscTag/printPscTag round-trip" | "parsePscTag" => {
            expect_parse(expect, PscTag::parse(input_str(input)?).map(|t| t.to_string()))
        }
        "latestCompatibleSetsCodec round-trip" => {
            let sets = LatestCompatibleSets::from_json_str(input_str(input)?).map_err(|e| e.to_string())?;
            let want = expect["printed_indented"].as_str().ok_or("no printed_indented")?;
            same(sets.to_pretty().trim_end(), want)
        }
        "Legacy.PackageSet.convertPackageSet -> tag" => {
            same(converted(input)?.tag.to_string().as_str(), expect_value_str(expect)?)
        }
        "Legacy.PackageSet.convertPackageSet -> legacy JSON (printJson, 2-space)" => {
            let set = converted(input)?.package_set;
            let want = expect_value_str(expect)?;
            same(set.to_pretty().trim_end(), want)?;
            // The label adds: decoding that JSON gives the converted set back.
            same(LegacyPackageSet::from_json_str(want).map_err(|e| e.to_string())?, set)
        }
        "Legacy.PackageSet.convertPackageSet -> Dhall (printDhall)" => {
            same(print_dhall(&converted(input)?.package_set).as_str(), expect_value_str(expect)?)
        }
        "fixture document" => {
            let text = input_str(input)?;
            let source = case["source"].as_str().unwrap_or("");
            if source.ends_with("latest-compatible-sets.json") {
                let sets = LatestCompatibleSets::from_json_str(text).map_err(|e| e.to_string())?;
                same(sets.to_pretty().as_str(), text)
            } else if source.ends_with("packages.json") {
                let set = LegacyPackageSet::from_json_str(text).map_err(|e| e.to_string())?;
                same(set.to_pretty().as_str(), text)
            } else if source.ends_with("packages.dhall") {
                // Upstream writes print_dhall's text plus a newline.
                let set = read_printed_dhall(text)?;
                same(set.0.len(), text.matches(" =\n").count())?;
                same(format!("{}\n", print_dhall(&set)).as_str(), text)
            } else {
                Err(format!("unknown fixture {source}"))
            }
        }
        _ => Ok(false),
    });
}
