//! # sxmpp: a sans-IO XMPP core
//!
//! A pure state machine: it consumes bytes and emits events and bytes to
//! send, with no I/O, no clock and no randomness of its own. Drivers bind
//! it to an event loop; time is always an argument ([`time::Timestamp`]).
//!
//! This release holds the foundation the connection state machines stand
//! on:
//!
//! - [`xml`]: the incremental XML stream reader and writer, and the element
//!   tree (RFC 6120 §11);
//! - [`jid`]: XMPP addresses (RFC 7622);
//! - [`stanza`]: messages, presences, IQs, stanza errors and stream errors
//!   (RFC 6120 §4.9, §8; RFC 6121 §4, §5);
//! - [`condition`]: the RFC's defined error conditions;
//! - [`time`]: the core's monotonic timestamp.
//!
//! ## Features
//!
//! The crate is `#![no_std]` with `alloc`. The default `std` feature only
//! adds conversions between [`std::time::Instant`] and
//! [`time::Timestamp`]; nothing in the protocol needs it.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod condition;
pub mod connection;
pub mod entropy;
pub mod jid;
pub mod negotiation;
pub mod ns;
pub mod precis;
pub mod sasl;
pub mod stanza;
pub mod time;
pub mod xml;
