//! Legacy manifests: bower.json, spago.dhall (as JSON), purs.json without `ref`.
//!
//! Licence-dependent case: "Drops invalid SPDX identifiers when valid licenses
//! remain" needs `License::parse_canonical` to reject `AGPL-3.0`.

use std::collections::BTreeMap;

use registry_core::json::{self, Codec};
use registry_core::legacy::lenient::{LenientRange, LenientVersion};
use registry_core::legacy::manifest::{
    Bowerfile, LegacyFields, SpagoDhallJson, bowerfile_to_purs_json, decode_legacy_manifest,
    spago_dhall_to_purs_json,
};
use registry_core::{PackageName, Range};
use serde_json::Value;

use crate::support::*;

/// Checks a conversion result against `expect` ({ok, decode_ok?, description?, license_printed?}),
/// and on success that the dependencies are `want_dependencies`.
fn check_conversion(
    expect: &Value,
    decoded: Result<Result<LegacyFields, String>, String>,
    want_dependencies: impl FnOnce() -> Result<BTreeMap<PackageName, Range>, String>,
) -> Result<bool, String> {
    if expect.get("decode_ok").and_then(Value::as_bool) == Some(true)
        && let Err(e) = &decoded
    {
        return Err(format!("decoding failed ({e:?}) but the vector says it succeeds"));
    }
    let converted = decoded.and_then(|r| r);
    let printed = converted.as_ref().map(|f| f.license.to_string()).map_err(Clone::clone);
    expect_parse(expect, printed)?;
    let Ok(fields) = converted else { return Ok(true) };
    if let Some(want) = expect.get("license_printed").and_then(Value::as_str) {
        same(fields.license.to_string().as_str(), want)?;
    }
    if expect.get("description") == Some(&Value::Null) {
        same(&fields.description, &None)?;
    }
    same(fields.dependencies, want_dependencies()?)
}

fn json_input(input: &Value) -> Result<Value, String> {
    json::parse(input_str(input)?).map_err(|e| e.to_string())
}

#[test]
fn legacy_manifests() {
    run_cases("legacy-manifests.json", |function, input, expect, _| match function {
        "Legacy.Manifest.bowerfileCodec decode" => {
            let decoded = Bowerfile::decode(&json_input(input)?).map_err(|e| e.to_string());
            expect_parse(expect, decoded.map(|b| json::print_compact(&b.encode())))
        }
        "bowerfileCodec + bowerfileToPursJson" => {
            let raw = json_input(input)?;
            let decoded = Bowerfile::decode(&raw).map_err(|e| e.to_string());
            let converted = decoded.map(|b| bowerfile_to_purs_json(&b));
            check_conversion(expect, converted, || {
                let mut want = BTreeMap::new();
                for (name, range) in raw["dependencies"].as_object().into_iter().flatten() {
                    let name = PackageName::parse(PackageName::strip_purescript_prefix(name))?;
                    want.insert(name, LenientRange::parse(range.as_str().unwrap_or(""))?.range());
                }
                Ok(want)
            })
        }
        "spagoDhallJsonCodec + spagoDhallToPursJson" => {
            let raw = json_input(input)?;
            let decoded = SpagoDhallJson::decode(&raw).map_err(|e| e.to_string());
            let converted = decoded.map(|s| spago_dhall_to_purs_json(&s));
            check_conversion(expect, converted, || {
                let mut want = BTreeMap::new();
                for dep in raw["dependencies"].as_array().into_iter().flatten() {
                    let raw_name = dep.as_str().unwrap_or("");
                    let version = raw["packages"][raw_name]["version"].as_str().unwrap_or("");
                    let name = PackageName::parse(PackageName::strip_purescript_prefix(raw_name))?;
                    want.insert(name, Range::exact(LenientVersion::parse(version)?.version()));
                }
                Ok(want)
            })
        }
        "legacyManifestCodec(fallbackRef) decode" => {
            let fallback = input["fallbackRef"].as_str().ok_or("no fallbackRef")?;
            let manifest =
                decode_legacy_manifest(&json_input(&input["json"])?, fallback).map_err(|e| e.to_string())?;
            same(Some(manifest.git_ref.as_str()), expect["ref"].as_str())
        }
        "legacyManifestCodec(fallbackRef) decode/encode/decode" => {
            let fallback = input["fallbackRef"].as_str().ok_or("no fallbackRef")?;
            let first =
                decode_legacy_manifest(&json_input(&input["json"])?, fallback).map_err(|e| e.to_string())?;
            let second = decode_legacy_manifest(&first.encode(), fallback).map_err(|e| e.to_string())?;
            same(&second, &first)?;
            same(Some(second.git_ref.as_str()), expect["ref"].as_str())
        }
        _ => Ok(false),
    });
}
