//! # sxmpp-conformance
//!
//! Replays `.xmpt` transcripts (format: `conformance/FORMAT.md`) against
//! both roles of the sxmpp core. The harness plays the peer and the core's
//! application, drives the core through its public API only, and compares
//! what the core emits with its own XML reader (quick-xml), independent of
//! the core's. Each transcript is replayed with the peer's bytes whole per
//! step, one byte at a time, and in seeded random pieces; a case (one
//! transcript in one role) passes only if all three pass.

pub mod replay;
pub mod transcript;
pub mod xml;

use std::path::{Path, PathBuf};

pub use replay::{Chunking, Failure, replay};
pub use transcript::{Role, Transcript, parse};

/// The chunkings every case is replayed with.
pub const CHUNKINGS: [Chunking; 3] = [Chunking::Whole, Chunking::Bytewise, Chunking::Random(0x5eed_f00d)];

/// The result of one case: a transcript in one role.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// The transcript file.
    pub path: PathBuf,
    /// The case's name (the transcript's first comment).
    pub name: String,
    /// The role the core played.
    pub role: Role,
    /// The first chunking that failed, and how.
    pub failure: Option<(Chunking, Failure)>,
}

impl CaseResult {
    /// True if every chunking passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// Replays one transcript text in every role it names and every chunking.
pub fn run_text(path: &Path, text: &str) -> Vec<CaseResult> {
    let transcript = match parse(text) {
        Ok(t) => t,
        Err(message) => {
            let failure =
                Failure { line: 0, step: String::new(), expected: String::new(), actual: String::new(), message };
            return vec![CaseResult {
                path: path.into(),
                name: String::new(),
                role: Role::Client,
                failure: Some((Chunking::Whole, failure)),
            }];
        }
    };
    transcript
        .roles
        .iter()
        .map(|&role| {
            let failure = CHUNKINGS.iter().find_map(|&c| replay(&transcript, role, c).err().map(|f| (c, f)));
            CaseResult { path: path.into(), name: transcript.name.clone(), role, failure }
        })
        .collect()
}

/// Every `.xmpt` file under `dir`, recursively, in name order.
pub fn transcripts(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            out.extend(transcripts(&path)?);
        } else if path.extension().is_some_and(|e| e == "xmpt") {
            out.push(path);
        }
    }
    Ok(out)
}

/// Replays every transcript under `dir`.
pub fn run_dir(dir: &Path) -> std::io::Result<Vec<CaseResult>> {
    let mut results = Vec::new();
    for path in transcripts(dir)? {
        let text = std::fs::read_to_string(&path)?;
        results.extend(run_text(&path, &text));
    }
    Ok(results)
}

/// A failure report: file, role, chunking, the step, and expected beside
/// actual.
pub fn report(result: &CaseResult) -> String {
    let Some((chunking, f)) = &result.failure else {
        return format!("PASS {} [{}] {}", result.path.display(), result.role, result.name);
    };
    let mut out = format!("FAIL {} [{}] {} ({chunking})\n", result.path.display(), result.role, result.name);
    if f.line > 0 {
        out.push_str(&format!("  at line {}: {}\n", f.line, f.step.lines().next().unwrap_or_default()));
    } else if !f.step.is_empty() {
        out.push_str(&format!("  at {}\n", f.step));
    }
    out.push_str(&format!("  {}\n", f.message));
    if !f.expected.is_empty() || !f.actual.is_empty() {
        out.push_str(&format!("  expected: {}\n  actual:   {}\n", f.expected, f.actual));
    }
    out
}
