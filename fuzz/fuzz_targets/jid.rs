//! cargo-fuzz entry for the `jid` target; the body and its invariants
//! are in `harness/src/jid.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sxmpp_fuzz::jid::run(data));
