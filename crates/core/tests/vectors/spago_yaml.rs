//! spago.yaml → manifest.
//!
//! Licence-dependent case: "Rejects deprecated SPDX identifiers (AGPL-3.0) in
//! publish config" needs `License::parse_canonical` to reject `AGPL-3.0`.

use registry_core::json::Codec;
use registry_core::spago_yaml::{SpagoRange, SpagoYaml, parse_spago_range, spago_yaml_to_manifest};
use registry_core::{Manifest, Range};
use serde_json::{Value, json};

use crate::support::*;

fn fixture(path: &str) -> Result<String, String> {
    let dir = shared_dir().ok_or("shared folder absent")?.join("data/vectors");
    std::fs::read_to_string(dir.join(path)).map_err(|e| format!("reading fixture {path}: {e}"))
}

/// Parses and converts with ref `v1.0.0`; `decode_ok` in `expect` says the
/// parse must succeed even when the conversion fails.
fn convert(text: &str, expect: &Value) -> Result<Result<Manifest, String>, String> {
    let parsed = SpagoYaml::parse(text);
    if expect.get("decode_ok").and_then(Value::as_bool) == Some(true)
        && let Err(e) = &parsed
    {
        return Err(format!("parsing failed ({e}) but the vector says it succeeds"));
    }
    Ok(parsed.and_then(|config| spago_yaml_to_manifest("v1.0.0", &config)))
}

#[test]
fn spago_yaml() {
    run_cases("spago-yaml.json", |function, input, expect, case| match function {
        "SpagoYaml.readSpagoYaml + spagoYamlToManifest(ref='v1.0.0')" => {
            let converted = convert(&fixture(input_str(input)?)?, expect)?;
            if let (Ok(manifest), Some(want)) = (&converted, expect.get("manifest")) {
                same(manifest, &Manifest::decode(want).map_err(|e| e.to_string())?)?;
                same(&manifest.encode(), want)?;
            }
            expect_parse(expect, converted.map(|m| m.id()))
        }
        "parseYaml spagoYamlCodec" => {
            // Upstream parses the indented text as written; the dedented form must agree.
            let indented = SpagoYaml::parse(input_str(input)?).map(|_| String::new());
            let dedented_text = case["input_dedented"].as_str().ok_or("no input_dedented")?;
            let dedented = SpagoYaml::parse(dedented_text).map(|_| String::new());
            same(indented.is_ok(), dedented.is_ok())?;
            expect_parse(expect, indented)
        }
        "parseYaml spagoYamlCodec + spagoYamlToManifest(ref='v1.0.0')" => {
            expect_parse(expect, convert(input_str(input)?, expect)?.map(|m| m.id()))
        }
        "SpagoYaml.parseSpagoRange" => {
            let parsed = parse_spago_range(input_str(input)?);
            if let (Ok(range), Some(want)) = (&parsed, expect.get("value")) {
                let want_range = match want {
                    Value::String(s) if s == "Unbounded" => SpagoRange::Unbounded,
                    other => {
                        SpagoRange::Bounded(Range::parse(other["Bounded"].as_str().ok_or("bad value")?)?)
                    }
                };
                same(range, &want_range)?;
                let printed = match range {
                    SpagoRange::Unbounded => json!("Unbounded"),
                    SpagoRange::Bounded(r) => json!({ "Bounded": r.to_string() }),
                };
                same(&printed, want)?;
            }
            expect_parse(expect, parsed.map(|r| r.to_string()))
        }
        _ => Ok(false),
    });
}
