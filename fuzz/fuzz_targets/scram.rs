//! cargo-fuzz entry for the `scram` target; the body and its invariants
//! are in `harness/src/scram.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sxmpp_fuzz::scram::run(data));
