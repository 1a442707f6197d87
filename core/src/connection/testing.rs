//! The driver the unit tests use: the one contract, drained the way every
//! adapter drains it, with what came out collected for assertions.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::{CloseReason, Connection, Event, Output, Role};
use crate::sasl::ChannelBinding;
use crate::time::Timestamp;
use crate::tls::{TlsInfo, TlsRequest};

/// A connection under test and what it produced.
pub(crate) struct Driver<R: Role> {
    pub(crate) conn: Connection<R>,
    pub(crate) now: Timestamp,
    pub(crate) events: Vec<Event>,
    out: String,
    /// (WebSocket) What was written, one entry per message.
    messages: Vec<String>,
    /// The last TLS hand-off asked for.
    pub(crate) tls: Option<TlsRequest>,
    closed: Option<CloseReason>,
}

impl<R: Role> Driver<R> {
    pub(crate) fn new(conn: Connection<R>) -> Driver<R> {
        let mut d = Driver {
            conn,
            now: Timestamp::ZERO,
            events: Vec::new(),
            out: String::new(),
            messages: Vec::new(),
            tls: None,
            closed: None,
        };
        d.drain();
        d
    }

    /// Polls the output until it says wait, writing everything.
    pub(crate) fn drain(&mut self) {
        for _ in 0..100_000 {
            match self.conn.poll_output() {
                Output::Transmit(bytes) => {
                    assert!(self.closed.is_none(), "bytes after Closed");
                    self.out.push_str(core::str::from_utf8(bytes).expect("the core writes UTF-8"));
                    let n = bytes.len();
                    self.conn.consume_transmit(n);
                }
                Output::Message(bytes) => {
                    assert!(self.closed.is_none(), "a message after Closed");
                    let message = core::str::from_utf8(bytes).expect("the core writes UTF-8");
                    self.out.push_str(message);
                    self.messages.push(message.into());
                    let n = bytes.len();
                    self.conn.consume_transmit(n);
                }
                Output::Event(event) => {
                    assert!(self.closed.is_none(), "event after Closed: {event:?}");
                    self.events.push(event);
                }
                Output::StartTls(request) => self.tls = Some(request),
                Output::Closed(reason) => {
                    assert!(self.closed.is_none(), "Closed twice");
                    self.closed = Some(reason.clone());
                }
                Output::Wait(_) => return,
            }
        }
        panic!("poll_output never says wait");
    }

    /// Offers `s` until all of it is taken, draining in between.
    pub(crate) fn feed(&mut self, s: &str) {
        self.feed_bytes(s.as_bytes());
    }

    pub(crate) fn feed_bytes(&mut self, mut bytes: &[u8]) {
        loop {
            let taken = self.conn.handle_input(self.now, bytes);
            bytes = &bytes[taken..];
            self.drain();
            if bytes.is_empty() {
                return;
            }
        }
    }

    /// (WebSocket) Delivers one whole message, again after draining if the
    /// events waiting made the core refuse it.
    pub(crate) fn feed_message(&mut self, message: &str) {
        for _ in 0..2 {
            let taken = self.conn.handle_input(self.now, message.as_bytes());
            self.drain();
            if taken == message.len() {
                return;
            }
            assert_eq!(taken, 0, "a message is taken whole or not at all");
        }
        panic!("the message was refused with no events waiting");
    }

    /// (WebSocket) Takes the messages written since the last call (and the
    /// same text from [`out`](Driver::out)).
    pub(crate) fn messages(&mut self) -> Vec<String> {
        self.out.clear();
        core::mem::take(&mut self.messages)
    }

    /// The TLS handshake completed with this binding data.
    pub(crate) fn tls_up(&mut self, binding: ChannelBinding) {
        self.tls = None;
        self.conn.handle_tls_established(self.now, TlsInfo::new().with_channel_binding(binding));
        self.drain();
    }

    /// Takes what was written since the last call.
    pub(crate) fn out(&mut self) -> String {
        self.messages.clear();
        core::mem::take(&mut self.out)
    }

    /// Takes the events since the last call.
    pub(crate) fn events(&mut self) -> Vec<Event> {
        core::mem::take(&mut self.events)
    }

    /// Why the connection ended, once `Output::Closed` came.
    pub(crate) fn closed(&self) -> Option<&CloseReason> {
        self.closed.as_ref()
    }

    /// Advances virtual time, firing timers the way a driver would; a timer
    /// that stays due fails the test (a driver would spin).
    pub(crate) fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        let mut fired = 0;
        while let Some(t) = self.conn.poll_timeout() {
            if t > until {
                break;
            }
            fired += 1;
            assert!(fired < 10_000, "a timer stays due at {t:?}: a driver would spin");
            self.now = self.now.max(t);
            self.conn.handle_timeout(self.now);
            self.drain();
        }
        self.now = until;
    }

    /// The transport ended.
    pub(crate) fn eof(&mut self) {
        self.conn.handle_eof(self.now);
        self.drain();
    }
}

/// The one fail rule, whatever the role: an element that has no place in
/// the stream ends it with `unsupported-stanza-type` and the close tag
/// (RFC 6120 §4.9.3.24), and the close reason says what the peer did.
pub(crate) fn assert_an_unexpected_element_ends_the_stream<R: Role>(d: &mut Driver<R>) {
    use super::Violation;
    d.out();
    d.feed("<foo xmlns='urn:example:foo'/>");
    assert_eq!(
        d.out(),
        "<stream:error><unsupported-stanza-type xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"
    );
    assert!(matches!(d.closed(), Some(CloseReason::Violation(Violation::Unexpected { .. }))), "{:?}", d.closed());
}

/// RFC 6120 §4.4, whatever the role: after our close tag nothing more is
/// written, but what the peer still sends is processed (a stanza is
/// delivered) until its close tag ends the stream cleanly.
pub(crate) fn assert_stanzas_after_our_close_are_still_delivered<R: Role>(d: &mut Driver<R>, stanza: &str) {
    d.conn.close(d.now).unwrap();
    d.drain();
    assert_eq!(d.out(), "</stream:stream>");
    d.events();
    d.feed(stanza);
    let events = d.events();
    assert!(matches!(events.as_slice(), [Event::Stanza(_)]), "{events:?}");
    assert_eq!(d.out(), "", "nothing is written after our close");
    d.feed("</stream:stream>");
    assert_eq!(d.closed(), Some(&CloseReason::Clean));
}
