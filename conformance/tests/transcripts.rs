//! `cargo test` replays the project's own transcripts, and checks that the
//! harness can fail: a single flipped attribute in any expected step must
//! make its case fail.

use std::path::{Path, PathBuf};

use sxmpp_conformance::transcript::{Role, Side, StepKind};
use sxmpp_conformance::{Chunking, parse, replay, report, run_dir, transcripts};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("transcripts")
}

#[test]
fn every_project_transcript_passes_in_every_role_and_chunking() {
    let results = run_dir(&dir()).unwrap();
    let failed: Vec<String> = results.iter().filter(|r| !r.passed()).map(report).collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert!(results.len() >= 60, "only {} cases", results.len());
}

/// The steps that are only expectations in a role: what the core emits on
/// its own (an API step is also the input that makes the core emit it, so
/// flipping it proves nothing).
fn core_steps(role: Role) -> impl Fn(&StepKind) -> bool {
    move |kind| match kind {
        StepKind::Data { side, entity, api, .. } => {
            !api && match role {
                Role::Client => *side == Side::C && !*entity,
                Role::Server => *side == Side::S && !*entity,
            }
        }
        _ => false,
    }
}

/// `text` with the first attribute value (not a namespace declaration, not
/// a wildcard) changed, or `None` if the step has no such attribute.
fn flip_attribute(text: &str) -> Option<String> {
    let mut search = 0;
    while let Some(eq) = text[search..].find("='").or_else(|| text[search..].find("=\"")).map(|i| i + search) {
        let quote = &text[eq + 1..eq + 2];
        let value_start = eq + 2;
        let value_end = text[value_start..].find(quote)? + value_start;
        let name_start = text[..eq].rfind(|c: char| c.is_whitespace()).map_or(0, |i| i + 1);
        let name = &text[name_start..eq];
        let value = &text[value_start..value_end];
        // The XML declaration is not compared (FORMAT.md), nor are
        // namespace declarations (only the names they give).
        let in_declaration = text[..eq].rfind("<?").is_some_and(|d| !text[d..eq].contains("?>"));
        if !name.starts_with("xmlns") && !value.starts_with('{') && !in_declaration {
            return Some(format!("{}{value}-flipped{}", &text[..value_start], &text[value_end..]));
        }
        search = value_end + 1;
    }
    None
}

#[test]
fn flipping_any_expected_attribute_fails_the_case() {
    let mut checked = 0;
    for path in transcripts(&dir()).unwrap() {
        let text = std::fs::read_to_string(&path).unwrap();
        let transcript = parse(&text).unwrap();
        for &role in &transcript.roles {
            let is_core = core_steps(role);
            for (i, step) in transcript.steps.iter().enumerate() {
                if !is_core(&step.kind) {
                    continue;
                }
                let StepKind::Data { bytes, .. } = &step.kind else { continue };
                let Some(flipped) = flip_attribute(std::str::from_utf8(bytes).unwrap()) else { continue };
                let mut mutant = transcript.clone();
                if let StepKind::Data { bytes, .. } = &mut mutant.steps[i].kind {
                    *bytes = flipped.clone().into_bytes();
                }
                let outcome = replay(&mutant, role, Chunking::Whole);
                assert!(
                    outcome.is_err(),
                    "{} [{role}] line {}: the harness did not notice {flipped}",
                    path.display(),
                    step.line
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} mutations checked");
}

#[test]
fn flip_attribute_skips_declarations_and_wildcards() {
    assert_eq!(
        flip_attribute("<a xmlns='x' from='{opt}' to='y'/>").as_deref(),
        Some("<a xmlns='x' from='{opt}' to='y-flipped'/>")
    );
    assert_eq!(flip_attribute("</stream:stream>"), None);
}

#[test]
fn the_coverage_table_lists_every_transcript() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let root = dir();
    let missing: Vec<String> = transcripts(&root)
        .unwrap()
        .iter()
        .map(|p| p.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/"))
        .filter(|rel| !readme.contains(&format!("(transcripts/{rel})")))
        .collect();
    assert!(missing.is_empty(), "conformance/README.md's coverage table lacks: {missing:?}");
}
