//! The bodies of sxmpp's fuzz targets.
//!
//! Each target is a function from bytes to nothing that panics when an
//! invariant breaks. cargo-fuzz (`fuzz/fuzz_targets/*.rs`, nightly) calls
//! them with generated inputs; `cargo test` (stable) calls them with every
//! seed, saved corpus entry and crash reproducer under `fuzz/`, so a crash
//! once found stays fixed.
//!
//! | target | input | invariants |
//! |---|---|---|
//! | [`xml_stream`] | split parameters + stream bytes | same events (or the same error) in any chunking; parse ∘ write is the identity |
//! | [`jid`] | a string | no panic; display ∘ parse is stable; the three JID types agree |
//! | [`scram`] | SCRAM messages and tampering | parsers never panic; an untouched exchange succeeds; no tampered exchange is accepted by either side unless it is equivalent to the real one |
//! | [`client`] | operations + server bytes | exactly one `Closed`, after the last byte; output always well-formed XML (one element per message over WebSocket); bounded output; timers advance; the TLS hand-off only with nothing unwritten |
//! | [`server`] | operations + client bytes | the same for the receiving role |
//! | `component`, `component_server` ([`component`]) | operations + peer bytes | the same for both sides of XEP-0114 |

pub mod client;
pub mod component;
mod drive;
pub mod jid;
pub mod pair;
pub mod scram;
pub mod server;
pub mod xml_stream;

/// A fuzz target: its name (the file under `fuzz/fuzz_targets/` and the
/// corpus directories) and its body.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// Name of the target.
    pub name: &'static str,
    /// Runs one input; panics on a broken invariant.
    pub run: fn(&[u8]),
}

/// Every target, for the replay tests and the seed generator.
pub const TARGETS: &[Target] = &[
    Target { name: "xml_stream", run: xml_stream::run },
    Target { name: "jid", run: jid::run },
    Target { name: "scram", run: scram::run },
    Target { name: "client", run: client::run },
    Target { name: "server", run: server::run },
    Target { name: "component", run: component::run_component },
    Target { name: "component_server", run: component::run_server },
];
