//! Replays every saved input of every fuzz target on stable: the seeds
//! (`fuzz/seeds/<target>/`), the minimised corpus fuzzing has grown
//! (`fuzz/corpus/<target>/`, when present) and every crash reproducer
//! (`fuzz/regressions/<target>/`), through the same code cargo-fuzz runs.
//!
//! None of these may pass by running nothing: every directory must belong
//! to a target (a renamed target would otherwise orphan its inputs), and
//! each kind has a floor. The grown corpus is not committed; `.ci/run`
//! replays it after fuzzing with `SXMPP_REQUIRE_CORPUS=1`, which demands
//! entries for every target.

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

/// Runs every file under `kind/<target>/`; returns how many ran per
/// target, in `TARGETS` order. Fails on a directory no target owns.
fn replay(kind: &str) -> Vec<usize> {
    let root = fuzz_dir().join(kind);
    if let Ok(entries) = std::fs::read_dir(&root) {
        for entry in entries {
            let name = entry.expect("readable directory").file_name().into_string().expect("UTF-8 name");
            assert!(TARGETS.iter().any(|t| t.name == name), "{kind}/{name} belongs to no fuzz target");
        }
    }
    TARGETS
        .iter()
        .map(|target| {
            let mut ran = 0;
            for file in files(&root.join(target.name)) {
                let data = std::fs::read(&file).expect("readable file");
                let outcome = std::panic::catch_unwind(|| (target.run)(&data));
                assert!(outcome.is_ok(), "{} fails on {}", target.name, file.display());
                ran += 1;
            }
            ran
        })
        .collect()
}

#[test]
fn every_seed_passes() {
    let ran = replay("seeds");
    let total: usize = ran.iter().sum();
    assert!(total >= 100, "only {total} seeds: run `cargo run -p sxmpp-fuzz --example make-seeds`");
    for (target, n) in TARGETS.iter().zip(&ran) {
        assert!(*n > 0, "no seeds for {}", target.name);
    }
}

#[test]
fn every_corpus_entry_passes() {
    let ran = replay("corpus");
    if std::env::var_os("SXMPP_REQUIRE_CORPUS").is_some() {
        for (target, n) in TARGETS.iter().zip(&ran) {
            assert!(*n > 0, "no corpus entries for {} (run fuzz/run.sh first)", target.name);
        }
    }
    eprintln!("replayed {} corpus entries", ran.iter().sum::<usize>());
}

#[test]
fn every_crash_reproducer_stays_fixed() {
    let ran: usize = replay("regressions").iter().sum();
    // Three crashes were found and fixed (jid, scram, server); their
    // reproducers must all still be replayed.
    assert!(ran >= 3, "only {ran} crash reproducers replayed");
}
