//! cargo-fuzz entry for the `xml_stream` target; the body and its invariants
//! are in `harness/src/xml_stream.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sxmpp_fuzz::xml_stream::run(data));
