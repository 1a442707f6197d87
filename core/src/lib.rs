//! # sxmpp: a sans-IO XMPP core
//!
//! A pure state machine: it consumes bytes and emits events and bytes to
//! send, with no I/O, no clock and no randomness of its own. Time is always
//! an argument ([`time::Timestamp`]); randomness comes from an injected
//! [`entropy::Entropy`]. Drivers bind it to any event loop.
//!
//! ## Driving a connection
//!
//! Every role (client, server, both sides of a component) is a
//! [`Connection`](connection::Connection) driven by one loop: **after
//! every input or API call, call `poll_output` until it says `Wait`**.
//! It yields, in order, the bytes to write, the point where TLS starts
//! (everything before it is written; nothing more is read or written until
//! the handshake is reported), the events, and the final `Closed` after the
//! last bytes. `handle_input` may take only part of a read while events
//! wait to be polled (so a burst cannot fill memory): offer the rest again
//! after polling.
//!
//! A complete blocking client with the STARTTLS hand-off (the TLS stack
//! itself is yours; the `sxmpp-*` adapter crates wire rustls):
//!
//! ```no_run
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::TcpStream;
//! use std::time::{Duration, Instant};
//!
//! use sxmpp::connection::{Client, ClientConfig, Event, Output, TlsError, TlsErrorKind, TlsInfo, TlsRequest};
//! use sxmpp::entropy::Entropy;
//! use sxmpp::jid::Jid;
//! use sxmpp::sasl::Credentials;
//! use sxmpp::stanza::{Presence, Stanza};
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
//! /// The byte stream: plain TCP before STARTTLS, TLS over it after.
//! trait Transport: Read + Write {}
//! impl<T: Read + Write> Transport for T {}
//!
//! /// Your TLS stack runs the handshake as `request` says (for a client:
//! /// verify the certificate against `TlsSide::Client { server_name }`,
//! /// never the host you dialled) and reports what the core needs: the
//! /// channel-binding data (RFC 9266 `tls-exporter`: 32 bytes exported
//! /// with the label `EXPORTER-Channel-Binding` and no context), the
//! /// peer's certificate, SNI, ALPN. See [`TlsInfo`].
//! fn start_tls(tcp: TcpStream, request: &TlsRequest) -> Result<(Box<dyn Transport>, TlsInfo), TlsError> {
//!     let _ = (tcp, request);
//!     Err(TlsError::new(TlsErrorKind::Handshake, "no TLS stack in this example"))
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let origin = Origin::new(Instant::now());
//! let now = || origin.timestamp(Instant::now());
//! let config = ClientConfig::new(Jid::new("juliet@example.com")?, Credentials::password("secret"));
//! let entropy = OsRandom(std::fs::File::open("/dev/urandom")?);
//! let mut client = Client::new(config, Box::new(entropy), now())?;
//! let socket = TcpStream::connect("example.com:5222")?;
//! let mut stream: Box<dyn Transport> = Box::new(socket.try_clone()?);
//! let mut buf = vec![0u8; 16 * 1024];
//! let mut unread = 0..0; // read from the transport, not yet taken by the core
//! loop {
//!     // 1. Everything the core has for us, in order.
//!     loop {
//!         match client.poll_output() {
//!             Output::Transmit(bytes) => {
//!                 stream.write_all(bytes)?;
//!                 let n = bytes.len();
//!                 client.consume_transmit(n);
//!             }
//!             Output::StartTls(request) => match start_tls(socket.try_clone()?, &request) {
//!                 Ok((tls, info)) => {
//!                     stream = tls;
//!                     client.handle_tls_established(now(), info);
//!                 }
//!                 // The certificate error is kept: CloseReason::Tls.
//!                 Err(error) => client.handle_tls_failed(now(), error),
//!             },
//!             Output::Event(Event::Online(jid)) => {
//!                 println!("online as {jid}");
//!                 client.send(now(), Presence::available())?;
//!             }
//!             Output::Event(Event::Stanza(Stanza::Message(m))) => println!("{:?}: {:?}", m.from(), m.body()),
//!             Output::Event(_) => {}
//!             Output::Closed(reason) => {
//!                 println!("closed: {reason:?}");
//!                 return Ok(());
//!             }
//!             _ => break, // Output::Wait
//!         }
//!     }
//!     // 2. Input the core left while events waited.
//!     if !unread.is_empty() {
//!         unread.start += client.handle_input(now(), &buf[unread.clone()]);
//!         continue;
//!     }
//!     // 3. Wait for input until the core's next deadline (a keepalive, a ping,
//!     // an IQ timeout, or giving back idle buffers a second after a burst).
//!     let wait = client.poll_timeout().map(|t| origin.instant(t).saturating_duration_since(Instant::now()));
//!     socket.set_read_timeout(Some(wait.unwrap_or(Duration::from_secs(3600)).max(Duration::from_millis(1))))?;
//!     match stream.read(&mut buf) {
//!         Ok(0) => client.handle_eof(now()),
//!         Ok(n) => unread = 0..n,
//!         Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => client.handle_timeout(now()),
//!         Err(e) => return Err(e.into()),
//!     }
//! }
//! # }
//! ```
//!
//! The same loop drives a [`Server`](connection::Server) (whose
//! application also answers `AuthRequested` and `BindRequested`), a
//! [`Component`](connection::Component) and a
//! [`ComponentServer`](connection::ComponentServer).
//!
//! ## Layers
//!
//! Dependencies point down:
//!
//! - [`connection`]: the one engine, [`Connection`](connection::Connection),
//!   and the roles plugged into it;
//! - [`session`]: what outlives a transport: the bound address, the IQ
//!   tracker, handlers and disco#info, stanzas queued as values;
//! - [`negotiation`]: stream features as values with prerequisites
//!   (STARTTLS, SASL, binding, the legacy session, features an application
//!   defines), one negotiator per role;
//! - [`sasl`]: SCRAM, PLAIN, EXTERNAL, ANONYMOUS for both sides, channel
//!   binding, SASLprep, free of XML;
//! - [`stream`]: the framing of a stream on its transport;
//! - [`stanza`]: messages, presences, IQs (the element as received, with
//!   typed views), stanza and stream errors;
//! - [`xml`]: the incremental XML reader and writer;
//! - [`jid`] (RFC 7622, on [`precis`]), [`tls`], [`error`], [`condition`],
//!   [`ns`], [`time`], [`entropy`]: the shared vocabulary.
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
pub mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod idle;
pub mod jid;
pub mod negotiation;
pub mod ns;
pub mod precis;
pub mod sasl;
pub mod session;
pub(crate) mod shared_str;
pub mod stanza;
pub mod stream;
pub mod time;
pub mod tls;
pub mod xml;
