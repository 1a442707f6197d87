//! What the `client` and `server` targets share: the input layout, the
//! driver that plays the application and the clock, and the invariants
//! every connection must keep whatever it is fed.
//!
//! Input layout: two bytes (little-endian) give the length of the script
//! region, decoded with `arbitrary` into a configuration and a list of
//! operations; the rest is the peer's byte stream, cut into reads at NUL
//! bytes (NUL is never valid XML, so no read loses meaning). With an empty
//! script (`[0, 0]` + bytes) every read is delivered in order: that is how
//! seeds made from transcripts and captures look.

use arbitrary::{Arbitrary, Unstructured};
use sxmpp::connection::{Connection, Event, Output, Role, TlsError, TlsInfo};
use sxmpp::time::Timestamp;
use sxmpp::xml::{Limits, StreamEvent, StreamReader};

/// A decoded input.
pub(crate) struct Script<'a, C, O> {
    pub(crate) config: C,
    pub(crate) ops: Vec<O>,
    pub(crate) reads: Vec<&'a [u8]>,
}

/// Splits and decodes an input (see the module docs).
pub(crate) fn decode<'a, C: Arbitrary<'a> + Default, O: Arbitrary<'a>>(data: &'a [u8]) -> Script<'a, C, O> {
    let (script, stream) = match data {
        [lo, hi, rest @ ..] => rest.split_at(usize::from(u16::from_le_bytes([*lo, *hi])).min(rest.len())),
        _ => (&[][..], data),
    };
    let mut u = Unstructured::new(script);
    let config = if script.is_empty() { C::default() } else { C::arbitrary(&mut u).unwrap_or_default() };
    let ops = Vec::<O>::arbitrary_take_rest(u).unwrap_or_default();
    let reads = stream.split(|&b| b == 0).filter(|r| !r.is_empty()).collect();
    Script { config, ops, reads }
}

/// What the peer's side of the transport does in a script: the same in
/// every connection target.
pub(crate) enum Peer<'a> {
    /// Deliver the next read of the peer's bytes.
    Read,
    /// Deliver the last read again this many times (floods from short
    /// inputs).
    Repeat(u16),
    /// Deliver these bytes as one read.
    Inject(&'a [u8]),
    /// Move the clock (milliseconds) and fire what is due.
    Advance(u32),
    /// The peer reads up to this many bytes.
    Drain(u16),
}

/// The peer's reads still to come, and the last one delivered.
pub(crate) struct Reads<'a> {
    rest: std::vec::IntoIter<&'a [u8]>,
    last: &'a [u8],
}

impl<'a> Reads<'a> {
    pub(crate) fn new(reads: Vec<&'a [u8]>) -> Reads<'a> {
        Reads { rest: reads.into_iter(), last: &[] }
    }
}

/// The application's part around a connection of role `R`: what it
/// answers when the core asks, and what its TLS stack reports.
pub(crate) trait App<R: Role> {
    /// Reacts to an event (answers the core asked for, bookkeeping).
    fn react(&mut self, conn: &mut Connection<R>, now: Timestamp, event: &Event);
    /// The outcome of a TLS handshake the core asked for.
    fn handshake(&mut self) -> Result<TlsInfo, TlsError>;
    /// The backlog past which the core must end the stream rather than
    /// read more (`max_outbound_bytes` + max(itself, 64 KiB)).
    fn max_backlog(&self) -> usize;
    /// The stanza size limit the connection was configured with.
    fn max_stanza_bytes(&self) -> usize;
    /// The most output the connection may hold unwritten: the backlog
    /// bound, plus one last frame's answers and a stream error.
    fn max_pending_tx(&self) -> usize {
        self.max_backlog() + 2 * self.max_stanza_bytes() + 4096
    }
}

/// Plays clock, transport and application around a connection of any
/// role, through the one output loop every driver runs, checking the
/// contract after every call.
pub(crate) struct Driver<R: Role, A: App<R>> {
    pub(crate) conn: Connection<R>,
    pub(crate) app: A,
    pub(crate) now: Timestamp,
    /// Hold output until a `drain` (the peer does not read).
    hold_output: bool,
    /// `Output::Closed` came.
    closed: bool,
    /// Everything the connection wrote, for the well-formedness check.
    written: Vec<u8>,
    /// (WebSocket) The lengths of the messages written, in order; `None`
    /// on a byte stream.
    messages: Option<Vec<usize>>,
}

impl<R: Role, A: App<R>> Driver<R, A> {
    /// A driver for `conn`; `messages` for WebSocket framing.
    pub(crate) fn new(conn: Connection<R>, app: A, hold_output: bool, messages: bool) -> Driver<R, A> {
        let messages = messages.then(Vec::new);
        let mut driver =
            Driver { conn, app, now: Timestamp::ZERO, hold_output, closed: false, written: Vec::new(), messages };
        driver.settle();
        driver
    }

    /// Polls the output until it says wait, reacting to each event and
    /// writing the bytes (unless the peer does not read); returns how many
    /// events came. Checks the contract: nothing after `Closed`, which
    /// comes once and after the last byte; the TLS hand-off only once
    /// everything before it is written; `Wait` names the next deadline;
    /// the output stays within its bound.
    pub(crate) fn settle(&mut self) -> usize {
        let mut events = 0;
        for _ in 0..1_000_000 {
            match self.conn.poll_output() {
                Output::Transmit(bytes) => {
                    assert!(!self.closed, "bytes after Closed");
                    assert!(self.messages.is_none(), "bytes where messages are due");
                    if !self.hold_output {
                        self.written.extend_from_slice(bytes);
                        let n = bytes.len();
                        self.conn.consume_transmit(n);
                    }
                }
                Output::Message(message) => {
                    assert!(!self.closed, "a message after Closed");
                    let Some(messages) = &mut self.messages else { panic!("a message on a byte stream") };
                    assert_one_element(message);
                    if !self.hold_output {
                        messages.push(message.len());
                        self.written.extend_from_slice(message);
                        let n = message.len();
                        self.conn.consume_transmit(n);
                    }
                }
                Output::Event(event) => {
                    assert!(!self.closed, "event after Closed: {event:?}");
                    events += 1;
                    self.app.react(&mut self.conn, self.now, &event);
                }
                Output::StartTls(_) => {
                    assert!(!self.closed, "TLS after Closed");
                    assert!(self.conn.transmit().is_empty(), "StartTls before the bytes ahead of it were written");
                    match self.app.handshake() {
                        Ok(info) => self.conn.handle_tls_established(self.now, info),
                        Err(error) => self.conn.handle_tls_failed(self.now, error),
                    }
                }
                Output::Closed(reason) => {
                    let reason = reason.clone();
                    assert!(!self.closed, "Closed twice");
                    assert!(self.conn.transmit().is_empty(), "Closed before the last bytes were written");
                    assert_eq!(Some(&reason), self.conn.close_reason(), "the close reason is sticky");
                    self.closed = true;
                }
                Output::Wait(deadline) => {
                    assert_eq!(deadline, self.conn.poll_timeout(), "Wait names the next deadline");
                    let pending = self.conn.transmit().len();
                    assert!(pending <= self.app.max_pending_tx(), "{pending} bytes of output pending, over the bound");
                    return events;
                }
                _ => panic!("an output this driver does not know"),
            }
        }
        panic!("poll_output never says wait");
    }

    /// The end is decided (its last bytes may still be unwritten).
    fn is_over(&self) -> bool {
        self.conn.close_reason().is_some()
    }

    /// The peer reads up to `n` bytes (whole messages, with WebSocket
    /// framing).
    pub(crate) fn drain(&mut self, n: usize) {
        let mut budget = n;
        loop {
            let tx = self.conn.transmit();
            if tx.is_empty() {
                break;
            }
            let take = match &mut self.messages {
                Some(messages) if tx.len() <= budget => {
                    assert_one_element(tx);
                    messages.push(tx.len());
                    tx.len()
                }
                Some(_) => break,
                None => budget.min(tx.len()),
            };
            if take == 0 {
                break;
            }
            self.written.extend_from_slice(&tx[..take]);
            self.conn.consume_transmit(take);
            budget -= take;
            if self.messages.is_none() {
                break;
            }
        }
        self.settle();
    }

    /// What the connection has not yet had written.
    pub(crate) fn pending(&self) -> &[u8] {
        self.conn.transmit()
    }

    /// Delivers one read, offering what was not taken again after the
    /// events are polled, as every driver must: a connection takes less
    /// only while events wait (and then it takes more once they are
    /// polled), and never more than it was given.
    pub(crate) fn read(&mut self, data: &[u8]) {
        let backlogged = !self.is_over() && self.conn.transmit().len() > self.app.max_backlog();
        let mut rest = data;
        loop {
            let taken = self.conn.handle_input(self.now, rest);
            assert!(taken <= rest.len(), "took {taken} of {} bytes", rest.len());
            rest = &rest[taken..];
            let events = self.settle();
            if rest.is_empty() {
                break;
            }
            assert!(events > 0, "{} bytes refused with no event waiting", rest.len());
        }
        if backlogged {
            assert!(self.is_over(), "read on with {} bytes unread by the peer", self.conn.transmit().len());
        }
        if self.is_over() {
            // An ended connection takes no more input and says nothing.
            let pending = self.conn.transmit().len();
            assert_eq!(self.conn.handle_input(self.now, b"<message/>"), 10, "an ended connection discards input");
            assert_eq!(self.conn.transmit().len(), pending, "output after the end");
            assert_eq!(self.settle(), 0, "events after the end");
        }
    }

    /// Plays one step of the peer's side.
    pub(crate) fn peer(&mut self, op: Peer<'_>, reads: &mut Reads<'_>) {
        match op {
            Peer::Read => {
                if let Some(r) = reads.rest.next() {
                    reads.last = r;
                    self.read(r);
                }
            }
            Peer::Repeat(times) => {
                for _ in 0..times % 4096 {
                    if reads.last.is_empty() || self.closed {
                        break;
                    }
                    self.read(reads.last);
                }
            }
            Peer::Inject(bytes) if !bytes.is_empty() => self.read(bytes),
            Peer::Inject(_) => {}
            Peer::Advance(ms) => self.advance(ms % 3_600_000),
            Peer::Drain(n) => self.drain(usize::from(n)),
        }
    }

    /// Delivers the reads the script left, then [`finish`](Driver::finish).
    pub(crate) fn finish_with(mut self, reads: Reads<'_>) {
        for r in reads.rest {
            self.read(r);
        }
        self.finish();
    }

    /// Moves the clock and fires what is due; a timer that fired must not
    /// be due again at the same instant (a driver would spin).
    pub(crate) fn advance(&mut self, millis: u32) {
        self.now += core::time::Duration::from_millis(u64::from(millis));
        if self.conn.poll_timeout().is_some_and(|t| t <= self.now) {
            self.conn.handle_timeout(self.now);
            self.settle();
            if let Some(next) = self.conn.poll_timeout() {
                assert!(next > self.now, "timer due at {next:?} again after firing at {:?}", self.now);
            }
        }
    }

    /// The transport ended. What was not written yet can no longer be, and
    /// the core drops it; for the well-formedness check it still counts
    /// as written (the output as the core produced it must be well-formed,
    /// even where the transport cut it short: found by fuzzing, once EOF
    /// began discarding a half-written close tag).
    pub(crate) fn eof(&mut self) {
        let mut unwritten = Vec::new();
        loop {
            let next = self.conn.transmit();
            if next.is_empty() {
                break;
            }
            unwritten.extend_from_slice(next);
            let n = next.len();
            self.conn.consume_transmit(n);
        }
        self.written.extend_from_slice(&unwritten);
        self.conn.handle_eof(self.now);
        assert!(self.conn.transmit().is_empty(), "bytes left to write after the transport ended");
        self.settle();
    }

    /// Runs the timers out (bounded: keepalives recur forever), ends the
    /// transport, and checks the final state: exactly one `Closed` once
    /// everything is written, all output well-formed.
    pub(crate) fn finish(mut self) {
        for _ in 0..16 {
            let Some(due) = self.conn.poll_timeout() else { break };
            let gap = due.saturating_duration_since(self.now).as_millis();
            self.advance(u32::try_from(gap).unwrap_or(u32::MAX).max(1));
        }
        self.eof();
        assert!(self.is_over(), "the connection did not end at EOF");
        self.hold_output = false;
        self.drain(usize::MAX);
        assert!(self.closed, "no Closed once everything was written");
        if self.messages.is_none() {
            assert_well_formed(&self.written);
        }
    }
}

/// Limits that never stop the check of what the connection wrote.
fn unlimited() -> Limits {
    Limits {
        max_stanza_bytes: usize::MAX,
        max_tag_bytes: usize::MAX,
        max_depth: Limits::MAX_DEPTH_CAP,
        max_attributes: usize::MAX,
        max_namespace_declarations: usize::MAX,
    }
}

/// Checks that a WebSocket message is one complete element, a standalone
/// document with every namespace it uses declared (RFC 7395 §3.3.3).
fn assert_one_element(message: &[u8]) {
    let show = || String::from_utf8_lossy(message).into_owned();
    assert!(message.first() == Some(&b'<'), "a message not beginning with '<': {}", show());
    let mut reader = StreamReader::new(unlimited());
    reader.feed(b"<messages>");
    reader.feed(message);
    let mut elements = 0;
    loop {
        match reader.next_event() {
            Ok(Some(StreamEvent::Open(_))) => {}
            Ok(Some(StreamEvent::Element(_))) => elements += 1,
            Ok(Some(StreamEvent::Close)) => panic!("an end tag without its element: {}", show()),
            Ok(None) => break,
            Err(e) => panic!("ill-formed message ({e}): {}", show()),
        }
    }
    assert_eq!(elements, 1, "not one element in a message: {}", show());
    assert!(!reader.in_stanza() && reader.unconsumed_len() == 0, "a message ends mid-element: {}", show());
}

/// Checks that every stream the connection wrote is well-formed XML: each
/// begins at an XML declaration (the core writes one per stream header,
/// and `<` never appears unescaped in content, so the split is exact).
fn assert_well_formed(written: &[u8]) {
    const DECLARATION: &[u8] = b"<?xml ";
    let starts: Vec<usize> = (0..written.len()).filter(|&i| written[i..].starts_with(DECLARATION)).collect();
    assert!(written.is_empty() || starts.first() == Some(&0), "output before the first header");
    let limits = unlimited();
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(written.len());
        let segment = &written[start..end];
        let show = || String::from_utf8_lossy(segment).into_owned();
        let mut reader = StreamReader::new(limits);
        reader.feed(segment);
        let mut closed = false;
        loop {
            match reader.next_event() {
                Ok(Some(StreamEvent::Close)) => closed = true,
                Ok(Some(_)) => assert!(!closed, "output after our close tag: {}", show()),
                Ok(None) => break,
                Err(e) => panic!("ill-formed output ({e}): {}", show()),
            }
        }
        // Every stream ends at an element boundary: nothing half-written,
        // and a restart header (which must come with its own XML
        // declaration) never sits inside the previous stream.
        assert!(!reader.in_stanza(), "output ends inside an element: {}", show());
        let tail = &segment[segment.len().saturating_sub(reader.unconsumed_len())..];
        assert!(tail.iter().all(u8::is_ascii_whitespace), "output ends mid-tag: {}", show());
        let close_tag = segment.windows(16).any(|w| w == b"</stream:stream>");
        assert_eq!(closed, close_tag, "the close tag does not close the stream: {}", show());
    }
}
