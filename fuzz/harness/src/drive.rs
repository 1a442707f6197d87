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

use std::fmt::Debug;

use arbitrary::{Arbitrary, Unstructured};
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

/// One role's connection as the driver sees it.
pub(crate) trait Connection {
    type Event: Debug;
    /// Returns how many bytes the connection took.
    fn input(&mut self, now: Timestamp, data: &[u8]) -> usize;
    fn eof(&mut self, now: Timestamp);
    fn timeout(&mut self, now: Timestamp);
    fn next_timeout(&self) -> Option<Timestamp>;
    fn poll_event(&mut self) -> Option<Self::Event>;
    fn pending_tx(&self) -> &[u8];
    fn consume_tx(&mut self, n: usize);
    fn is_closed_event(event: &Self::Event) -> bool;
    /// The application's automatic part (TLS hand-off, answers the core
    /// asks for).
    fn react(&mut self, now: Timestamp, event: &Self::Event);
    /// The backlog past which the core must end the stream rather than
    /// read more (`max_outbound_bytes` + max(itself, 64 KiB)).
    fn max_backlog(&self) -> usize;
    /// The stanza size limit the connection was configured with.
    fn max_stanza_bytes(&self) -> usize;
    /// The most output the connection may hold undrained: the backlog
    /// bound, plus one last frame's answers and a stream error.
    fn max_pending_tx(&self) -> usize {
        self.max_backlog() + 2 * self.max_stanza_bytes() + 4096
    }
}

/// Plays clock, transport and application around a connection, checking
/// the invariants after every call.
pub(crate) struct Driver<C: Connection> {
    pub(crate) conn: C,
    pub(crate) now: Timestamp,
    /// Hold output until a `drain` (the peer does not read).
    hold_output: bool,
    closed: bool,
    /// Everything the connection wrote, for the well-formedness check.
    written: Vec<u8>,
}

impl<C: Connection> Driver<C> {
    pub(crate) fn new(conn: C, hold_output: bool) -> Driver<C> {
        let mut driver = Driver { conn, now: Timestamp::ZERO, hold_output, closed: false, written: Vec::new() };
        driver.settle();
        driver
    }

    /// Drains events (reacting to each) and output, and checks: nothing
    /// after `Closed`, output within bounds.
    pub(crate) fn settle(&mut self) {
        // Reactions can cause events of their own; they are bounded by
        // what arrived, so this ends.
        while let Some(event) = self.conn.poll_event() {
            assert!(!self.closed, "event after Closed: {event:?}");
            self.closed = C::is_closed_event(&event);
            self.conn.react(self.now, &event);
        }
        let pending = self.conn.pending_tx().len();
        assert!(pending <= self.conn.max_pending_tx(), "{pending} bytes of output pending, over the bound");
        if !self.hold_output {
            self.drain(usize::MAX);
        }
    }

    /// `Closed` has been seen.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// The peer reads up to `n` bytes.
    pub(crate) fn drain(&mut self, n: usize) {
        let tx = self.conn.pending_tx();
        let n = n.min(tx.len());
        self.written.extend_from_slice(&tx[..n]);
        self.conn.consume_tx(n);
    }

    /// Delivers one read, offering what was not taken again after the
    /// events are polled, as every driver must: a connection takes less
    /// only while events wait (and then it takes more once they are
    /// polled), and never more than it was given.
    pub(crate) fn read(&mut self, data: &[u8]) {
        let backlogged = !self.closed && self.conn.pending_tx().len() > self.conn.max_backlog();
        let mut rest = data;
        loop {
            let taken = self.conn.input(self.now, rest);
            assert!(taken <= rest.len(), "took {taken} of {} bytes", rest.len());
            rest = &rest[taken..];
            if rest.is_empty() {
                self.settle();
                break;
            }
            let Some(event) = self.conn.poll_event() else {
                panic!("{} bytes refused with no event waiting", rest.len());
            };
            assert!(!self.closed, "event after Closed: {event:?}");
            self.closed = C::is_closed_event(&event);
            self.conn.react(self.now, &event);
            self.settle();
        }
        if backlogged {
            assert!(self.closed, "read on with {} bytes unread by the peer", self.conn.pending_tx().len());
        }
        if self.closed {
            // A closed connection takes no more input and says nothing.
            let pending = self.conn.pending_tx().len();
            assert_eq!(self.conn.input(self.now, b"<message/>"), 10, "a closed connection discards input");
            assert!(self.conn.poll_event().is_none(), "events after Closed");
            assert_eq!(self.conn.pending_tx().len(), pending, "output after Closed");
        }
    }

    /// Moves the clock and fires what is due; a timer that fired must not
    /// be due again at the same instant (a driver would spin).
    pub(crate) fn advance(&mut self, millis: u32) {
        self.now += core::time::Duration::from_millis(u64::from(millis));
        if self.conn.next_timeout().is_some_and(|t| t <= self.now) {
            self.conn.timeout(self.now);
            self.settle();
            if let Some(next) = self.conn.next_timeout() {
                assert!(next > self.now, "timer due at {next:?} again after firing at {:?}", self.now);
            }
        }
    }

    /// Runs the timers out (bounded: keepalives recur forever), ends the
    /// transport, and checks the final state: exactly one `Closed`, all
    /// output well-formed.
    pub(crate) fn finish(mut self) {
        for _ in 0..16 {
            let Some(due) = self.conn.next_timeout() else { break };
            let gap = due.saturating_duration_since(self.now).as_millis();
            self.advance(u32::try_from(gap).unwrap_or(u32::MAX).max(1));
        }
        self.conn.eof(self.now);
        self.settle();
        assert!(self.closed, "the connection did not close at EOF");
        self.drain(usize::MAX);
        assert_well_formed(&self.written);
    }
}

/// Checks that every stream the connection wrote is well-formed XML: each
/// begins at an XML declaration (the core writes one per stream header,
/// and `<` never appears unescaped in content, so the split is exact).
fn assert_well_formed(written: &[u8]) {
    const DECLARATION: &[u8] = b"<?xml ";
    let starts: Vec<usize> = (0..written.len()).filter(|&i| written[i..].starts_with(DECLARATION)).collect();
    assert!(written.is_empty() || starts.first() == Some(&0), "output before the first header");
    let limits = Limits {
        max_stanza_bytes: usize::MAX,
        max_tag_bytes: usize::MAX,
        max_depth: Limits::MAX_DEPTH_CAP,
        max_attributes: usize::MAX,
        max_namespace_declarations: usize::MAX,
    };
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
