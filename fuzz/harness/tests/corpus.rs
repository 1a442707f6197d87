//! Replays every saved input of every fuzz target on stable: the seeds
//! (`fuzz/seeds/<target>/`), the minimised corpus fuzzing has grown
//! (`fuzz/corpus/<target>/`, when present) and every crash reproducer
//! (`fuzz/regressions/<target>/`), through the same code cargo-fuzz runs.

use std::path::{Path, PathBuf};

use sxmpp_fuzz::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("fuzz/").to_path_buf()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> =
        entries.map(|e| e.expect("readable directory").path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

/// Runs every file under `kind/<target>/`; returns how many ran.
fn replay(kind: &str) -> usize {
    let mut ran = 0;
    for target in TARGETS {
        for file in files(&fuzz_dir().join(kind).join(target.name)) {
            let data = std::fs::read(&file).expect("readable file");
            let outcome = std::panic::catch_unwind(|| (target.run)(&data));
            assert!(outcome.is_ok(), "{} fails on {}", target.name, file.display());
            ran += 1;
        }
    }
    ran
}

#[test]
fn every_seed_passes() {
    let ran = replay("seeds");
    assert!(ran >= 100, "only {ran} seeds: run `cargo run -p sxmpp-fuzz --example make-seeds`");
    for target in TARGETS {
        assert!(!files(&fuzz_dir().join("seeds").join(target.name)).is_empty(), "no seeds for {}", target.name);
    }
}

#[test]
fn every_corpus_entry_passes() {
    replay("corpus");
}

#[test]
fn every_crash_reproducer_stays_fixed() {
    replay("regressions");
}
