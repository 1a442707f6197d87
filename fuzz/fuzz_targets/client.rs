//! cargo-fuzz entry for the `client` target; the body and its invariants
//! are in `harness/src/client.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sxmpp_fuzz::client::run(data));
