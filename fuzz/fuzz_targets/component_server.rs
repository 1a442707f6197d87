//! cargo-fuzz entry for the `component_server` target; the body and its
//! invariants are in `harness/src/component.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sxmpp_fuzz::component::run_server(data));
