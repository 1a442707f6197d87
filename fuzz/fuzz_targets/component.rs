//! cargo-fuzz entry for the `component` target; the body and its
//! invariants are in `harness/src/component.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sxmpp_fuzz::component::run_component(data));
