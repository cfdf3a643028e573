//! Lenient (legacy) versions and ranges.

use registry_core::legacy::lenient::{LenientRange, LenientVersion};

use crate::support::*;

#[test]
fn lenient_versions() {
    run_cases("lenient-versions.json", |function, input, expect, _| match function {
        "LenientVersion.parse" => {
            expect_parse(expect, LenientVersion::parse(input_str(input)?).map(|v| v.to_string()))
        }
        _ => Ok(false),
    });
}

#[test]
fn lenient_ranges() {
    run_cases("lenient-ranges.json", |function, input, expect, _| match function {
        "LenientRange.parse" => {
            expect_parse(expect, LenientRange::parse(input_str(input)?).map(|r| r.to_string()))
        }
        _ => Ok(false),
    });
}
