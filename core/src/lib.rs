//! # sxmpp: a sans-IO XMPP core
//!
//! A pure state machine: it consumes bytes and emits events and bytes to
//! send, with no I/O, no clock and no randomness of its own. Time is always
//! an argument ([`time::Timestamp`]); randomness comes from an injected
//! [`entropy::Entropy`]. Drivers bind it to any event loop.
//!
//! ## Driving a connection
//!
//! One rule: after every input or API call, drain the events, then write
//! out the pending bytes, then wait for input or the next timeout.
//! `handle_input` may take only part of a read while events wait to be
//! polled (so a burst cannot fill memory): offer the rest again after
//! draining.
//!
//! ```no_run
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::TcpStream;
//! use std::time::{Duration, Instant};
//!
//! use sxmpp::connection::{Client, ClientConfig, Event, TlsMode};
//! use sxmpp::entropy::Entropy;
//! use sxmpp::jid::Jid;
//! use sxmpp::sasl::Credentials;
//! use sxmpp::time::Origin;
//!
//! /// Randomness from the operating system (use a CSPRNG crate in real code).
//! struct OsRandom(std::fs::File);
//! impl Entropy for OsRandom {
//!     fn fill(&mut self, dest: &mut [u8]) {
//!         self.0.read_exact(dest).expect("/dev/urandom");
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let origin = Origin::new(Instant::now());
//! let now = || origin.timestamp(Instant::now());
//! let mut config = ClientConfig::new(Jid::new("juliet@example.com")?, Credentials::password("secret"));
//! config.tls = TlsMode::Disabled; // this sketch has no TLS stack
//! let entropy = OsRandom(std::fs::File::open("/dev/urandom")?);
//! let mut client = Client::new(config, Box::new(entropy), now())?;
//! let mut tcp = TcpStream::connect("example.com:5222")?;
//! let mut buf = [0u8; 16 * 1024];
//! let mut unread = 0..0; // read from the socket, not yet taken by the core
//! loop {
//!     while let Some(event) = client.poll_event() {
//!         match event {
//!             Event::Online(jid) => println!("online as {jid}"),
//!             Event::Message(m) => println!("{:?}: {:?}", m.from(), m.body()),
//!             Event::Closed(reason) => {
//!                 tcp.write_all(client.pending_tx())?; // a last stream error
//!                 println!("closed: {reason:?}");
//!                 return Ok(());
//!             }
//!             _ => {}
//!         }
//!     }
//!     let pending = client.pending_tx().len();
//!     tcp.write_all(client.pending_tx())?;
//!     client.consume_tx(pending);
//!     if !unread.is_empty() {
//!         unread.start += client.handle_input(now(), &buf[unread.clone()]);
//!         continue;
//!     }
//!     let wait = client.poll_timeout().map(|t| origin.instant(t).saturating_duration_since(Instant::now()));
//!     tcp.set_read_timeout(Some(wait.unwrap_or(Duration::from_secs(3600)).max(Duration::from_millis(1))))?;
//!     match tcp.read(&mut buf) {
//!         Ok(0) => client.handle_eof(now()),
//!         Ok(n) => unread = 0..n,
//!         Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => client.handle_timeout(now()),
//!         Err(e) => return Err(e.into()),
//!     }
//! }
//! # }
//! ```
//!
//! ## Modules
//!
//! - [`connection`]: the [`Client`](connection::Client) state machine (the
//!   server role follows);
//! - [`negotiation`]: stream features and the elements of STARTTLS, SASL
//!   and binding (RFC 6120 §4.3, §5–7);
//! - [`sasl`]: SCRAM, PLAIN, EXTERNAL, ANONYMOUS; channel binding;
//!   SASLprep;
//! - [`stanza`]: messages, presences, IQs, stanza and stream errors;
//! - [`jid`]: XMPP addresses (RFC 7622), on [`precis`];
//! - [`xml`]: the incremental XML stream reader and writer;
//! - [`condition`], [`ns`], [`time`], [`entropy`]: the shared vocabulary.
//!
//! ## Features
//!
//! The crate is `#![no_std]` with `alloc`. The default `std` feature only
//! adds [`time::Origin`] to convert [`std::time::Instant`]s; nothing in the
//! protocol needs it.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod condition;
pub mod connection;
pub mod entropy;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod jid;
pub mod negotiation;
pub mod ns;
pub mod precis;
pub mod sasl;
pub mod stanza;
pub mod time;
pub mod xml;
