//! Which licences a package's own files declare, and whether its manifest's
//! licence covers them.
//!
//! Upstream shells out to the Ruby tool `licensee` (`licensee detect --json`) on the
//! package source and then applies `validateLicense`. This module is a small, pure
//! stand-in: it recognises the common licence texts by distinctive phrases and reads
//! the `license` string of `package.json` / `bower.json`. Like `licensee` it looks
//! at licence files first (best-named first), then at one package manifest, and
//! reports each licence once.
//!
//! Where it knowingly differs from `licensee`:
//! - texts are recognised by their key sentences, not by a ≥98% similarity score,
//!   so a lightly edited MIT text still counts as MIT;
//! - README licence sections and other ecosystems' manifests (gemspec, Cargo.toml,
//!   DESCRIPTION, …) are not read;
//! - a manifest's licence is reported as written if it is a valid SPDX expression
//!   (canonicalised leniently), or as the current SPDX id it spells ignoring case;
//!   `licensee` only knows its own ~50 licences and reduces `X-or-later` to `X`.
//!
//! Like `licensee`, GNU licence texts are reported with the bare SPDX ids
//! (`GPL-3.0`, `LGPL-2.1`, …), because the text alone does not say "only" or "or
//! later"; `License::parse` then reads them as `-only`, exactly as upstream does.

use std::fmt;

use serde_json::Value;

use crate::license::{self, License};

/// One file at the root of a package's source.
#[derive(Debug, Clone, Copy)]
pub struct RepoFile<'a> {
    pub name: &'a str,
    pub contents: &'a str,
}

/// The licences the files declare, licence files first, each once (upstream's
/// `Licensee.detect` / `detectFiles`, without the `NOASSERTION` results).
pub fn detect(files: &[RepoFile<'_>]) -> Vec<String> {
    let mut licence_files: Vec<(u8, &RepoFile)> =
        files.iter().filter_map(|f| Some((licence_file_rank(f.name)?, f))).collect();
    licence_files.sort_by_key(|(rank, _)| *rank);
    let manifest = files
        .iter()
        .filter_map(|f| Some((manifest_rank(f.name)?, f)))
        .min_by_key(|(rank, _)| *rank)
        .and_then(|(_, f)| manifest_licence(f.contents));

    let mut found: Vec<String> = Vec::new();
    let from_texts = licence_files.iter().filter_map(|(_, f)| detect_text(f.contents).map(str::to_owned));
    for licence in from_texts.chain(manifest) {
        if !found.contains(&licence) {
            found.push(licence);
        }
    }
    found
}

/// `licensee`'s preference among licence file names (lower is better); `None`
/// for files that are not licence files.
fn licence_file_rank(name: &str) -> Option<u8> {
    let lower = name.to_ascii_lowercase();
    let (stem, extension) = match lower.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, Some(ext)),
        _ => (lower.as_str(), None),
    };
    let is_licence = |s: &str| matches!(s, "license" | "licence" | "unlicense" | "unlicence");
    let is_copying = |s: &str| matches!(s, "copying" | "copyright");
    let preferred = |ext: Option<&str>| matches!(ext, Some("md" | "markdown" | "txt"));
    let has = |words: [&str; 2], hyphen_after: bool| {
        words.iter().any(|w| lower.contains(&if hyphen_after { format!("{w}-") } else { format!("-{w}") }))
    };
    let rank = match extension {
        None if is_licence(stem) => 0,
        ext if preferred(ext) && is_licence(stem) => 1,
        None if is_copying(stem) => 2,
        ext if preferred(ext) && is_copying(stem) => 3,
        Some(_) if is_licence(stem) => 4,
        Some(_) if is_copying(stem) => 5,
        _ if has(["license", "licence"], true) => 6,
        _ if has(["copying", "copyright"], true) => 7,
        _ if has(["license", "licence"], false) => 8,
        _ if has(["copying", "copyright"], false) => 9,
        _ => return None,
    };
    Some(rank)
}

/// `package.json` is preferred to `bower.json`, as `licensee` scores them.
fn manifest_rank(name: &str) -> Option<u8> {
    match name {
        "package.json" => Some(0),
        "bower.json" => Some(1),
        _ => None,
    }
}

/// The `license` string of a JSON manifest; the Bower array form is not a
/// declaration `licensee` reads, so neither does this.
fn manifest_licence(contents: &str) -> Option<String> {
    let value: Value = serde_json::from_str(contents).ok()?;
    let declared = value.get("license")?.as_str()?.trim();
    match License::parse(declared) {
        Ok(licence) => Some(licence.to_string()),
        Err(_) => license::current_id_ignoring_case(declared).map(str::to_owned),
    }
}

/// Lower-cased words separated by single spaces: punctuation, line breaks and
/// Markdown decoration do not matter when looking for a sentence.
fn normalise(text: &str) -> String {
    let spaced: String =
        text.chars().map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { ' ' }).collect();
    let words: Vec<&str> = spaced.split_whitespace().collect();
    format!(" {} ", words.join(" "))
}

struct Rule {
    id: &'static str,
    all_of: &'static [&'static str],
    none_of: &'static [&'static str],
}

const BSD_GRANT: &str = "redistribution and use in source and binary forms, with or without modification, are permitted provided that the following conditions are met";
const BSD_ENDORSE: &str = "may be used to endorse or promote products derived from this software";
const BSD_ADVERTISING: &str = "all advertising materials mentioning features or use of this software";
const MIT_GRANT: &str =
    "permission is hereby granted, free of charge, to any person obtaining a copy of this software";
const MIT_NOTICE: &str = "the above copyright notice and this permission notice shall be included in all copies or substantial portions of the software";
// Older ISC texts say "modify, and distribute", newer ones "modify, and/or distribute".
const ISC_GRANT: &str = "distribute this software for any purpose with or without fee is hereby granted";
const ISC_NOTICE: &str =
    "provided that the above copyright notice and this permission notice appear in all copies";

/// Checked in order; the first rule whose sentences all occur wins. Longer,
/// more specific texts come before the ones they quote (the GPL names the AGPL,
/// X11 contains MIT, BSD-4 contains BSD-3).
const RULES: &[Rule] = &[
    Rule {
        id: "AGPL-3.0",
        all_of: &["gnu affero general public license version 3, 19 november 2007"],
        none_of: &[],
    },
    Rule {
        id: "LGPL-3.0",
        all_of: &["gnu lesser general public license version 3, 29 june 2007"],
        none_of: &[],
    },
    Rule {
        id: "LGPL-2.1",
        all_of: &["gnu lesser general public license version 2.1, february 1999"],
        none_of: &[],
    },
    Rule { id: "GPL-3.0", all_of: &["gnu general public license version 3, 29 june 2007"], none_of: &[] },
    Rule { id: "GPL-2.0", all_of: &["gnu general public license version 2, june 1991"], none_of: &[] },
    Rule {
        id: "MPL-2.0",
        all_of: &["mozilla public license version 2.0", "contributor means"],
        none_of: &[],
    },
    Rule {
        id: "Apache-2.0",
        all_of: &[
            "apache license version 2.0, january 2004",
            "terms and conditions for use, reproduction, and distribution",
        ],
        none_of: &[],
    },
    Rule { id: "EPL-2.0", all_of: &["eclipse public license - v 2.0"], none_of: &[] },
    Rule { id: "BSL-1.0", all_of: &["boost software license - version 1.0"], none_of: &[] },
    Rule {
        id: "Unlicense",
        all_of: &["this is free and unencumbered software released into the public domain"],
        none_of: &[],
    },
    Rule { id: "CC0-1.0", all_of: &["cc0 1.0 universal"], none_of: &[] },
    Rule { id: "WTFPL", all_of: &["do what the fuck you want to public license"], none_of: &[] },
    Rule { id: "BSD-4-Clause", all_of: &[BSD_GRANT, BSD_ADVERTISING], none_of: &[] },
    Rule { id: "BSD-3-Clause", all_of: &[BSD_GRANT, BSD_ENDORSE], none_of: &[] },
    Rule {
        id: "BSD-2-Clause",
        all_of: &[BSD_GRANT, "redistributions of source code must retain"],
        none_of: &[],
    },
    Rule {
        id: "X11",
        all_of: &[MIT_GRANT, MIT_NOTICE, "except as contained in this notice, the name of"],
        none_of: &[],
    },
    Rule { id: "MIT", all_of: &[MIT_GRANT, MIT_NOTICE], none_of: &[] },
    Rule { id: "MIT-0", all_of: &[MIT_GRANT], none_of: &[MIT_NOTICE] },
    Rule { id: "ISC", all_of: &[ISC_GRANT, ISC_NOTICE], none_of: &[] },
    Rule { id: "0BSD", all_of: &[ISC_GRANT], none_of: &[ISC_NOTICE] },
    Rule {
        id: "Zlib",
        all_of: &[
            "the origin of this software must not be misrepresented",
            "altered source versions must be plainly marked",
        ],
        none_of: &[],
    },
];

/// The SPDX id of a licence text, if it is one of the common licences.
pub fn detect_text(text: &str) -> Option<&'static str> {
    let text = normalise(text);
    let contains = |sentence: &&str| text.contains(&normalise(sentence));
    RULES
        .iter()
        .find(|rule| rule.all_of.iter().all(contains) && !rule.none_of.iter().any(contains))
        .map(|rule| rule.id)
}

/// Detected licences the manifest's licence does not cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseMismatch {
    pub manifest: License,
    pub detected: Vec<License>,
}

impl fmt::Display for LicenseMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detected: Vec<String> = self.detected.iter().map(License::to_string).collect();
        write!(
            f,
            "License mismatch: The manifest specifies license '{}' but the following license(s) were \
             detected in your repository: {}. Please ensure your manifest license accurately represents \
             all licenses in your repository. If multiple licenses apply, join them using SPDX \
             conjunctions (e.g., 'MIT AND Apache-2.0' or 'MIT OR Apache-2.0').",
            self.manifest,
            detected.join(", ")
        )
    }
}

impl std::error::Error for LicenseMismatch {}

/// Upstream's `validateLicense` rule: every id of every detected licence must
/// appear (ignoring case) among the manifest licence's ids, whatever the
/// conjunctions. Detected strings that are not valid SPDX are ignored, and
/// deprecated ones are canonicalised first (`AGPL-3.0` → `AGPL-3.0-only`).
pub fn validate_license(manifest: &License, detected: &[String]) -> Result<(), LicenseMismatch> {
    let manifest_ids = manifest.extract_ids();
    let uncovered: Vec<License> = detected
        .iter()
        .filter_map(|text| License::parse(text).ok())
        .filter(|licence| !licence.extract_ids().iter().all(|id| manifest_ids.contains(id)))
        .collect();
    if uncovered.is_empty() {
        Ok(())
    } else {
        Err(LicenseMismatch { manifest: manifest.clone(), detected: uncovered })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIT: &str = "Permission is hereby granted, free of charge, to any person obtaining a copy\nof this \
        software and associated documentation files (the \"Software\"), to deal in the Software.\n\nThe above \
        copyright notice and this permission notice shall be included in all\ncopies or substantial portions \
        of the Software.";

    fn file<'a>(name: &'a str, contents: &'a str) -> RepoFile<'a> {
        RepoFile { name, contents }
    }

    #[test]
    fn recognises_texts_by_their_sentences() {
        assert_eq!(detect_text(MIT), Some("MIT"));
        assert_eq!(detect_text(&MIT.replace("The above copyright notice", "Whatever")), Some("MIT-0"));
        let bsd = "Redistribution and use in source and binary forms, with or without\nmodification, are \
            permitted provided that the following conditions are met:\n1. Redistributions of source code must \
            retain the above copyright notice.";
        assert_eq!(detect_text(bsd), Some("BSD-2-Clause"));
        let bsd3 = format!(
            "{bsd}\n3. Neither the name of the copyright holder nor the names of its contributors \
            may be used to endorse or promote products derived from\nthis software."
        );
        assert_eq!(detect_text(&bsd3), Some("BSD-3-Clause"));
        let gpl =
            "GNU GENERAL PUBLIC LICENSE\n   Version 3, 29 June 2007\n ... GNU Affero General Public License";
        assert_eq!(detect_text(gpl), Some("GPL-3.0"));
        assert_eq!(detect_text("Copyright (c) 2020 Someone. All rights reserved."), None);
    }

    #[test]
    fn licence_files_come_first_and_best_named_first() {
        let isc = "Permission to use, copy, modify, and/or distribute this software for any purpose with or \
            without fee is hereby granted, provided that the above copyright notice and this permission \
            notice appear in all copies.";
        let files = [
            file("package.json", r#"{"license": "Zlib"}"#),
            file("LICENSE-ISC", isc),
            file("LICENSE.md", MIT),
            file("README.md", MIT),
        ];
        assert_eq!(detect(&files), ["MIT", "ISC", "Zlib"]);
    }

    #[test]
    fn manifests_prefer_package_json_and_need_a_string() {
        let bower = file("bower.json", r#"{"license": "mit"}"#);
        assert_eq!(detect(&[bower]), ["MIT"]);
        assert_eq!(detect(&[bower, file("package.json", r#"{"license": "ISC"}"#)]), ["ISC"]);
        assert!(detect(&[file("bower.json", r#"{"license": ["MIT"]}"#)]).is_empty());
        assert!(detect(&[file("package.json", r#"{"license": "UNLICENSED"}"#)]).is_empty());
        assert_eq!(detect(&[file("package.json", r#"{"license": "LGPL-3.0+"}"#)]), ["LGPL-3.0-or-later"]);
    }

    #[test]
    fn validation_requires_every_detected_id_in_the_manifest() {
        let manifest = License::parse("MIT OR Apache-2.0").unwrap();
        assert!(validate_license(&manifest, &["MIT".into(), "Apache-2.0".into(), "not spdx".into()]).is_ok());
        let error = validate_license(&manifest, &["MIT AND ISC".into(), "GPL-3.0".into()]).unwrap_err();
        let uncovered: Vec<String> = error.detected.iter().map(License::to_string).collect();
        assert_eq!(uncovered, ["MIT AND ISC", "GPL-3.0-only"]);
        assert!(error.to_string().starts_with(
            "License mismatch: The manifest specifies license 'MIT OR Apache-2.0' but the following license(s) \
             were detected in your repository: MIT AND ISC, GPL-3.0-only. Please"
        ));
    }
}
