//! cargo-fuzz entry for the `server` target; the body and its invariants
//! are in `harness/src/server.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sxmpp_fuzz::server::run(data));
