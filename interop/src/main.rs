//! Interop: every adapter against real Prosody and ejabberd servers that
//! `interop/run.sh` started on loopback. One summary line per adapter ×
//! server × TLS mode; exit status 1 if any case failed.
//!
//! ```sh
//! interop/run.sh            # starts the servers, runs this, stops them
//! ```

mod adapters;
mod peer;
mod scenario;

use std::process::ExitCode;

use adapters::{Adapter, AsyncStd, Blocking, Smol, Tokio};
use peer::Peer;

fn main() -> ExitCode {
    let mut peers = Vec::new();
    let mut flood = 10_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--peer" => match args.next().map(|spec| Peer::load(&spec)) {
                Some(Ok(peer)) => peers.push(peer),
                Some(Err(e)) => return fail(&e),
                None => return fail("--peer needs LABEL=PATH"),
            },
            "--flood" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => flood = n,
                None => return fail("--flood needs a count"),
            },
            other => return fail(&format!("unknown argument {other}")),
        }
    }
    if peers.is_empty() {
        return fail("no --peer given (run interop/run.sh)");
    }
    let mut failed = 0;
    let mut total = 0;
    for peer in &peers {
        for (ok, _line) in run_all(peer, flood) {
            total += 1;
            if !ok {
                failed += 1;
            }
        }
    }
    println!("interop: {} of {total} cases passed", total - failed);
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn run_all(peer: &Peer, flood: usize) -> Vec<(bool, String)> {
    let mut lines = Vec::new();
    lines.extend(scenario::all::<Tokio>(peer, flood));
    lines.extend(scenario::all::<AsyncStd>(peer, flood));
    lines.extend(scenario::all::<Smol>(peer, flood));
    lines.extend(scenario::all::<Blocking>(peer, flood));
    lines
}

fn fail(message: &str) -> ExitCode {
    eprintln!("interop: {message}");
    ExitCode::FAILURE
}

#[allow(dead_code)]
fn _names() -> [&'static str; 4] {
    [Tokio::NAME, AsyncStd::NAME, Smol::NAME, Blocking::NAME]
}
