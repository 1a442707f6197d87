//! `sxmpp-conformance <dir>…`: replays every `.xmpt` transcript under the
//! directories given. Exits 0 only if every case passed; the last line is
//! `N passed, N failed`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dirs: Vec<String> = std::env::args().skip(1).collect();
    if dirs.is_empty() {
        eprintln!("usage: sxmpp-conformance <transcript directory>...");
        return ExitCode::from(2);
    }
    let mut out = std::io::stdout().lock();
    let (mut passed, mut failed) = (0, 0);
    for dir in &dirs {
        let results = match sxmpp_conformance::run_dir(Path::new(dir)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{dir}: {e}");
                return ExitCode::from(2);
            }
        };
        for result in &results {
            // A closed pipe (`| head`) only stops the report, not the run.
            let _ = writeln!(out, "{}", sxmpp_conformance::report(result).trim_end());
            if result.passed() {
                passed += 1;
            } else {
                failed += 1;
            }
        }
    }
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
