//! SPDX licences, licence detection and `validateLicense`.

use std::collections::BTreeMap;
use std::path::Path;

use registry_core::json;
use registry_core::license_detect::{self, RepoFile};
use registry_core::{Conjunction, License, Manifest};
use serde_json::Value;

use crate::support::*;

fn strings(value: &Value) -> Result<Vec<&str>, String> {
    let items = value.as_array().ok_or_else(|| format!("expected a list, got {value}"))?;
    items.iter().map(|v| v.as_str().ok_or_else(|| format!("expected a string, got {v}"))).collect()
}

/// The vector file's embedded `app/fixtures/licenses/<dir>/<file>` texts.
struct Fixtures(BTreeMap<String, String>);

impl Fixtures {
    fn get(&self, path: &str) -> Result<&str, String> {
        self.0.get(path).map(String::as_str).ok_or_else(|| format!("no fixture file {path}"))
    }

    /// Every file of a fixture directory, as `licensee` would see the directory.
    fn directory(&self, dir: &str) -> Vec<RepoFile<'_>> {
        let prefix = format!("{dir}/");
        self.0
            .iter()
            .filter_map(|(path, contents)| Some(RepoFile { name: path.strip_prefix(&prefix)?, contents }))
            .collect()
    }

    fn directory_of(&self, input: &Value) -> Result<Vec<RepoFile<'_>>, String> {
        let dir = input["directory"].as_str().ok_or("input has no directory")?;
        let files = self.directory(dir);
        if files.is_empty() { Err(format!("no fixture files under {dir}")) } else { Ok(files) }
    }

    fn listed<'a>(&'a self, input: &'a Value) -> Result<Vec<RepoFile<'a>>, String> {
        let entries = input.as_array().ok_or("input is not a list of files")?;
        entries
            .iter()
            .map(|entry| {
                let name = entry["name"].as_str().ok_or("file without name")?;
                let contents =
                    self.get(entry["contents_ref"].as_str().ok_or("file without contents_ref")?)?;
                Ok(RepoFile { name, contents })
            })
            .collect()
    }
}

fn check_detected(detected: Vec<String>, expect: &Value) -> Result<bool, String> {
    same(detected.iter().map(String::as_str).collect(), strings(&expect["value"])?)
}

fn check_validation(fixtures: &Fixtures, input: &Value, expect: &Value) -> Result<bool, String> {
    let manifest = License::parse(input["manifest_license"].as_str().ok_or("no manifest_license")?)?;
    let detected = license_detect::detect(&fixtures.directory_of(input)?);
    let result = license_detect::validate_license(&manifest, &detected);
    match (expect.get("LicenseMismatch"), result) {
        (None, Ok(())) if expect.get("value") == Some(&Value::Null) => Ok(true),
        (None, Err(mismatch)) => Err(format!("expected success, got {mismatch}")),
        (Some(_), Ok(())) => Err(format!("expected a LicenseMismatch; detected {detected:?}")),
        (Some(want), Err(mismatch)) => {
            if let Some(manifest) = want.get("manifest").and_then(Value::as_str) {
                same(mismatch.manifest.to_string().as_str(), manifest)?;
            }
            let printed: Vec<String> = mismatch.detected.iter().map(License::to_string).collect();
            for id in strings(&want["detected_contains"])? {
                if !printed.iter().any(|p| p == id) {
                    return Err(format!("uncovered licences {printed:?} lack {id:?}"));
                }
            }
            Ok(true)
        }
        (None, Ok(())) => Err(format!("unexpected expect shape {expect}")),
    }
}

#[test]
fn licenses() {
    let Some(doc) = load("licenses.json") else { return };
    let fixture_files = doc["fixture_files"].as_object().expect("licenses.json has fixture_files");
    let fixtures = Fixtures(
        fixture_files
            .iter()
            .map(|(path, text)| (path.clone(), text.as_str().unwrap_or("").to_owned()))
            .collect(),
    );

    run_cases("licenses.json", |function, input, expect, _| match function {
        "License.parse" => expect_parse(expect, License::parse(input_str(input)?).map(|l| l.to_string())),
        "License.parseCanonical" => {
            expect_parse(expect, License::parse_canonical(input_str(input)?).map(|l| l.to_string()))
        }
        "License.joinWith" => {
            let conjunction = match input["conjunction"].as_str() {
                Some("And") => Conjunction::And,
                Some("Or") => Conjunction::Or,
                other => return Err(format!("unknown conjunction {other:?}")),
            };
            let parts: Vec<License> =
                strings(&input["licenses"])?.into_iter().map(License::parse).collect::<Result<_, _>>()?;
            let joined = License::join_with(conjunction, parts).ok_or("nothing to join")?;
            let printed = joined.to_string();
            let reparsed = License::parse_canonical(&printed)?;
            same(expect["printed_reparses"].as_bool(), Some(true))?;
            same(reparsed.to_string(), printed)
        }
        "License.extractIds" => {
            let ids = License::parse(input_str(input)?)?.extract_ids();
            for want in strings(&expect["contains"])? {
                if !ids.iter().any(|id| id == want) {
                    return Err(format!("{ids:?} lacks {want:?}"));
                }
            }
            Ok(true)
        }
        "Licensee.detect" => check_detected(license_detect::detect(&fixtures.directory_of(input)?), expect),
        "Licensee.detectFiles" => check_detected(license_detect::detect(&fixtures.listed(input)?), expect),
        "API.validateLicense" => check_validation(&fixtures, input, expect),
        // The app rejects the purs.json when its licence is not canonical; the core
        // check behind that is `Manifest::decode_authored` (License::parse_canonical).
        "API.parseSourceManifest (purs.json)" => {
            let value = json::parse(input_str(input)?).map_err(|e| e.to_string())?;
            expect_parse(expect, Manifest::decode_authored(&value).map(|m| m.id()).map_err(|e| e.to_string()))
        }
        // spago.yaml's `package.publish.license` is decoded with parseCanonical; only
        // that licence part is checked here (the YAML codec is tested elsewhere).
        "SpagoYaml codec (package.publish.license)" => {
            expect_parse(expect, License::parse_canonical(input_str(input)?).map(|l| l.to_string()))
        }
        // bowerfileToPursJson keeps the bower licences that parse canonically and
        // joins them with AND; only that licence rule is checked here.
        "Legacy.Manifest.bowerfileToPursJson (license)" => {
            let valid = strings(input)?.into_iter().filter_map(|s| License::parse_canonical(s).ok());
            let joined = License::join_with(Conjunction::And, valid)
                .ok_or_else(|| "No valid SPDX license found in bower.json".to_owned());
            expect_parse(expect, joined.map(|l| l.to_string()))
        }
        _ => Ok(false),
    });
}

fn index_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            index_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every licence in the real registry index parses leniently; the ones already
/// canonical print back byte for byte, and the rest print in canonical form (as
/// upstream's current printer would rewrite them).
#[test]
fn registry_index_licenses() {
    let Some(index) = shared_dir().map(|d| d.join("data/registry-snapshot/index")).filter(|d| d.is_dir())
    else {
        eprintln!("SKIPPED registry_index_licenses: the registry snapshot is absent");
        return;
    };
    let mut files = Vec::new();
    index_files(&index, &mut files);
    let mut distinct: BTreeMap<String, usize> = BTreeMap::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("index file");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let manifest: Value = serde_json::from_str(line).expect("index line is JSON");
            let license = manifest["license"].as_str().expect("index line has a license").to_owned();
            *distinct.entry(license).or_default() += 1;
        }
    }
    let mut failures = Vec::new();
    let mut identical = 0;
    for stored in distinct.keys() {
        let printed = match License::parse(stored) {
            Ok(license) => license.to_string(),
            Err(e) => {
                failures.push(format!("{stored:?} does not parse: {e}"));
                continue;
            }
        };
        if printed == *stored {
            identical += 1;
            continue;
        }
        // A changed printing must be the canonical form, and the stored text must be
        // one the strict parser refuses or one with parentheses the printer drops.
        let canonical = License::parse_canonical(&printed).map(|l| l.to_string());
        let explained = License::parse_canonical(stored).is_err() || stored.contains('(');
        if canonical.as_deref() != Ok(printed.as_str()) || !explained {
            failures.push(format!("{stored:?} printed as {printed:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!(
        "registry index: {} distinct licences over {} manifests; {identical} print back unchanged, {} canonicalised",
        distinct.len(),
        distinct.values().sum::<usize>(),
        distinct.len() - identical
    );
}
