//! Publish/unpublish validation helpers.

use std::collections::BTreeMap;

use registry_core::json::{self, Codec};
use registry_core::validation::{
    UnpublishError, UnresolvedDependency, format_pursuit_resolutions, get_unresolved_dependencies,
    validate_purs_module, validate_unpublish,
};
use registry_core::{Metadata, PackageName, Timestamp, Version};
use serde_json::{Value, json};

use crate::formats::unsafe_manifest;
use crate::support::*;

fn versions_map(value: &Value) -> Result<BTreeMap<PackageName, Version>, String> {
    registry_core::package_set::decode_packages(value).map_err(|e| e.to_string())
}

fn unpublish_error_json(error: &UnpublishError) -> Value {
    match error {
        UnpublishError::NotPublished => json!("NotPublished"),
        UnpublishError::AlreadyUnpublished => json!("AlreadyUnpublished"),
        UnpublishError::InternalError => json!("InternalError"),
        UnpublishError::PastTimeLimit { limit_hours, difference_hours } => {
            json!({ "PastTimeLimit": { "limit_hours": limit_hours, "difference_hours": difference_hours } })
        }
    }
}

/// Numbers compare by value (the vectors write whole hours as integers).
fn same_json(got: &Value, want: &Value) -> Result<bool, String> {
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => same(a.as_f64(), b.as_f64()),
        (Value::Object(a), Value::Object(b)) if a.len() == b.len() => {
            for (k, v) in a {
                same_json(v, b.get(k).ok_or_else(|| format!("unexpected key {k}"))?)?;
            }
            Ok(true)
        }
        _ => same(got, want),
    }
}

#[test]
fn validation() {
    run_cases("validation.json", |function, input, expect, case| match function {
        "Validation.validatePursModule" => {
            let result = validate_purs_module(input_str(input)?);
            if let (Err(e), Some(want)) = (&result, case.get("error_from_source").and_then(Value::as_str)) {
                same(e.as_str(), want)?;
            }
            expect_parse(expect, result.map(|()| String::new()))
        }
        "Validation.validateUnpublish" => {
            let now = Timestamp::parse_iso(input["now"].as_str().ok_or("no now")?)?;
            let version = Version::parse(input["version"].as_str().ok_or("no version")?)?;
            let metadata = Metadata::decode(&input["metadata"]).map_err(|e| e.to_string())?;
            match (validate_unpublish(now, version, &metadata), expect.get("error")) {
                (Err(e), Some(want)) => same_json(&unpublish_error_json(&e), want),
                (Ok(published), None) => same(&published.encode(), &expect["value"]),
                (got, _) => Err(format!("got {got:?}, expected {expect}")),
            }
        }
        "Validation.getUnresolvedDependencies" => {
            let manifest = unsafe_manifest(&input["manifest"])?;
            let plan = versions_map(&input["build_plan"])?;
            let got: Vec<Value> = get_unresolved_dependencies(&manifest, &plan)
                .iter()
                .map(|u| match u {
                    UnresolvedDependency::Missing { name, range } => {
                        json!({ "Left": [name.to_string(), range.to_string()] })
                    }
                    UnresolvedDependency::OutOfRange { name, range, version } => {
                        json!({ "Right": [name.to_string(), range.to_string(), version.to_string()] })
                    }
                })
                .collect();
            same(&Value::Array(got), &expect["value"])
        }
        "API.formatPursuitResolutions" => {
            let resolutions = versions_map(&input["resolutions"])?;
            let dir = input["installedResolutions"].as_str().ok_or("no installedResolutions")?;
            let got = format_pursuit_resolutions(&resolutions, dir);
            // Compare the printed text too: key order is part of the format.
            same(json::print_compact(&got), json::print_compact(&expect["value"]))
        }
        _ => Ok(false),
    });
}
