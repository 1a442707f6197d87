//! # The core on a microcontroller
//!
//! `#![no_std]` with `alloc` only: no clock, no sockets, no randomness
//! from an OS. The firmware supplies a [`Transport`] (a UART, a modem's
//! TCP socket, …), a millisecond tick, and an entropy source. Here the
//! transport is fake: a pipe to the core's own receiving side
//! ([`sxmpp::connection::Server`]), both driven by the same loop, so the
//! whole login runs anywhere, including `thumbv7em-none-eabihf`:
//!
//! ```sh
//! cargo build -p sxmpp-example-no-std --target thumbv7em-none-eabihf
//! cargo test -p sxmpp-example-no-std      # runs the login on the host
//! ```

#![no_std]

extern crate alloc;

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use sxmpp::connection::{
    AuthAnswer, BindDecision, Client, ClientConfig, Connection, Event, Output, Role, Server, ServerConfig, ServerTls,
    TlsMode,
};
use sxmpp::entropy::Entropy;
use sxmpp::jid::Jid;
use sxmpp::sasl::{Credentials, ServerSecret};
use sxmpp::stanza::{Message, Stanza};
use sxmpp::time::Timestamp;

/// The byte pipe the firmware provides.
pub trait Transport {
    /// Writes what it can; returns how many bytes it took.
    fn write(&mut self, bytes: &[u8]) -> usize;
    /// Reads what has arrived (0: nothing yet).
    fn read(&mut self, buf: &mut [u8]) -> usize;
}

/// A deterministic generator standing in for a hardware RNG. **Not for
/// production**: use the chip's TRNG.
pub struct XorShift(pub u64);

impl Entropy for XorShift {
    fn fill(&mut self, dest: &mut [u8]) {
        for byte in dest {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *byte = self.0 as u8;
        }
    }
}

/// The fake transport: one end of an in-memory pipe whose other end is
/// a core [`Server`] answering as `example.com` (user `device`, password
/// `secret`).
pub struct FakeServer {
    server: Server,
    to_client: Vec<u8>,
    now: Timestamp,
    /// Messages the server received, as `(from, body)`.
    pub received: Vec<(String, String)>,
}

impl FakeServer {
    /// A server with one account.
    pub fn new() -> FakeServer {
        let mut config = ServerConfig::new("example.com", ServerSecret::new([9; 32]));
        config.tls = ServerTls::Disabled;
        let server = Server::new(config, alloc::boxed::Box::new(XorShift(0x5eed)), Timestamp::ZERO)
            .unwrap_or_else(|_| unreachable!("a valid configuration"));
        FakeServer { server, to_client: Vec::new(), now: Timestamp::ZERO, received: Vec::new() }
    }

    /// Lets the server react to what it got: answers its application
    /// questions (credentials, binding) and keeps its output for the
    /// client.
    fn run(&mut self) {
        for event in drain(&mut self.server, &mut self.to_client) {
            match event {
                Event::AuthRequested(request) => {
                    let known = request.account.as_ref().is_some_and(|a| a.as_str() == "device@example.com");
                    // A real server keeps ScramStored per hash, not passwords.
                    let answer = if known { AuthAnswer::Password("secret".into()) } else { AuthAnswer::UnknownUser };
                    let _ = self.server.authenticate(self.now, answer);
                }
                Event::BindRequested(_) => {
                    let _ = self.server.bind(self.now, BindDecision::Accept);
                }
                Event::Stanza(Stanza::Message(m)) => {
                    let from = m.from().map(|j| j.to_string()).unwrap_or_default();
                    self.received.push((from, m.body().map(|b| b.into_owned()).unwrap_or_default()));
                }
                _ => {}
            }
        }
        // Answers to the events go out too.
        let _ = drain(&mut self.server, &mut self.to_client);
    }
}

impl Default for FakeServer {
    fn default() -> FakeServer {
        FakeServer::new()
    }
}

impl Transport for FakeServer {
    fn write(&mut self, bytes: &[u8]) -> usize {
        let taken = self.server.handle_input(self.now, bytes);
        self.run();
        taken
    }

    fn read(&mut self, buf: &mut [u8]) -> usize {
        self.run();
        let n = buf.len().min(self.to_client.len());
        buf[..n].copy_from_slice(&self.to_client[..n]);
        self.to_client.drain(..n);
        n
    }
}

/// Everything a connection has to send goes into `wire`; returns its
/// events (the one loop, the same for every role).
fn drain<R: Role>(conn: &mut Connection<R>, wire: &mut Vec<u8>) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        match conn.poll_output() {
            Output::Transmit(bytes) => {
                let n = bytes.len();
                wire.extend_from_slice(bytes);
                conn.consume_transmit(n);
            }
            Output::Event(event) => events.push(event),
            _ => return events,
        }
    }
}

/// Why the device could not report.
#[derive(Debug, PartialEq, Eq)]
pub enum DeviceError {
    /// The connection ended before the report went out.
    Closed(String),
    /// The loop ran out of turns (the transport went silent).
    Stalled,
}

/// What firmware does: log in as `device@example.com` over `transport`
/// (plaintext here; a real device wraps its socket in TLS and keeps
/// `TlsMode::Required`), send one reading, close. `ticks` is the
/// millisecond clock. Returns the bound address.
pub fn report(
    transport: &mut impl Transport,
    ticks: &mut impl FnMut() -> u64,
    reading: &str,
) -> Result<String, DeviceError> {
    let now = |ticks: &mut dyn FnMut() -> u64| Timestamp::from_millis(ticks());
    let jid = Jid::new("device@example.com").unwrap_or_else(|_| unreachable!("a valid JID"));
    let mut config = ClientConfig::new(jid, Credentials::password("secret"));
    config.tls = TlsMode::Disabled;
    let mut client = Client::new(config, alloc::boxed::Box::new(XorShift(0xc0ffee)), now(ticks))
        .map_err(|e| DeviceError::Closed(e.to_string()))?;
    let mut buf = [0u8; 512];
    // Read from the transport, not yet taken by the core.
    let mut unread = 0..0;
    let mut sent_report = false;
    let mut bound = None;
    for _ in 0..10_000 {
        loop {
            match client.poll_output() {
                Output::Transmit(bytes) => {
                    let n = transport.write(bytes);
                    client.consume_transmit(n);
                }
                Output::Event(Event::Online(jid)) => bound = Some(jid.to_string()),
                Output::Closed(reason) => {
                    return match (&bound, sent_report, reason) {
                        (Some(jid), true, sxmpp::connection::CloseReason::Clean) => Ok(jid.clone()),
                        (_, _, reason) => Err(DeviceError::Closed(alloc::format!("{reason:?}"))),
                    };
                }
                Output::Wait(_) => break,
                _ => {}
            }
        }
        if bound.is_some() && !sent_report {
            let server = Jid::new("example.com").unwrap_or_else(|_| unreachable!("a valid JID"));
            let message = Message::chat(server, reading).map_err(|e| DeviceError::Closed(e.to_string()))?;
            client.send(now(ticks), message).map_err(|e| DeviceError::Closed(e.to_string()))?;
            client.close(now(ticks)).map_err(|e| DeviceError::Closed(e.to_string()))?;
            sent_report = true;
            continue;
        }
        // The core may take less while events wait: poll, then offer the
        // rest again.
        if unread.is_empty() {
            unread = 0..transport.read(&mut buf);
        }
        if !unread.is_empty() {
            unread.start += client.handle_input(now(ticks), &buf[unread.clone()]);
        } else if client.poll_timeout().is_some_and(|at| at <= now(ticks)) {
            client.handle_timeout(now(ticks));
        }
    }
    Err(DeviceError::Stalled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_logs_in_reports_and_closes_over_the_fake_transport() {
        let mut server = FakeServer::new();
        let mut clock = 0;
        let mut ticks = || {
            clock += 1;
            clock
        };
        let jid = report(&mut server, &mut ticks, "21.5 C").unwrap();
        assert!(jid.starts_with("device@example.com/"), "{jid}");
        assert_eq!(server.received, alloc::vec![(jid, "21.5 C".to_string())]);
    }
}
