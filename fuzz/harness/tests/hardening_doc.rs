//! Keeps docs/HARDENING.md true: every line 1–33 has a row, and every
//! test or transcript a row names exists.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_sources(dir: &Path, out: &mut String) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.expect("readable directory").path();
        if path.is_dir() && !path.ends_with("target") {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path).expect("readable source"));
        }
    }
}

/// The shared list's 28 lines and the five an external review added.
const LINES: usize = 33;

#[test]
fn every_hardening_line_has_a_row_and_every_named_test_exists() {
    let doc = std::fs::read_to_string(root().join("docs/HARDENING.md")).expect("docs/HARDENING.md");
    let mut sources = String::new();
    for dir in ["core", "conformance", "fuzz/harness"] {
        rust_sources(&root().join(dir), &mut sources);
    }
    for line in 1..=LINES {
        let row =
            doc.lines().find(|l| l.starts_with(&format!("| {line} |"))).unwrap_or_else(|| panic!("no row for {line}"));
        let mut named = 0;
        for (i, quoted) in row.split('`').enumerate() {
            if i % 2 == 0 {
                continue;
            }
            if quoted.starts_with("hardening_") {
                assert!(quoted.starts_with(&format!("hardening_{line}_")), "{quoted} is in row {line}");
                assert!(sources.contains(&format!("fn {quoted}(")), "row {line} names a missing test {quoted}");
                named += 1;
            } else if quoted.ends_with(".xmpt") {
                let transcript = std::fs::read_to_string(root().join("conformance/transcripts").join(quoted))
                    .unwrap_or_else(|_| panic!("row {line} names a missing transcript {quoted}"));
                assert!(transcript.contains(&format!("# HARDENING {line} ")), "{quoted} does not name line {line}");
                named += 1;
            }
        }
        let pending = row.contains("pending:") || row.contains("pending, as");
        assert!(named > 0 || pending, "row {line} names no test");
    }
}
