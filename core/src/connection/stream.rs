//! The XML stream under a connection, shared by both roles: the reader,
//! the writer and its bounded outbound buffer, and the event queue that
//! ends with exactly one `Closed`.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use super::{CloseReason, ProtocolError, SendError};
use crate::ns;
use crate::stanza::{Stanza, StreamError};
use crate::time::Timestamp;
use crate::xml::{Element, Limits, Namespace, StreamEvent, StreamReader, StreamWriter};

/// How many events may wait before input stops being parsed: one
/// `handle_input` never queues more than this (plus what a single frame
/// causes), so a burst cannot fill memory with events (HARDENING 32).
const MAX_QUEUED_EVENTS: usize = 64;
/// How many bytes of input may be parsed into waiting events before
/// parsing stops, whatever their count.
const MAX_QUEUED_INPUT: u64 = 64 * 1024;
/// Input is fed to the reader in pieces of at most this size, so the
/// reader never holds much more than one unfinished stanza.
const INPUT_SLICE: usize = 8 * 1024;
/// Buffers above this capacity are given back once drained, so a burst
/// leaves no lasting footprint (HARDENING 32).
const RETAINED_CAPACITY: usize = 4 * 1024;
/// Likewise for the event queue, in events.
const RETAINED_EVENTS: usize = 16;

/// `E` is the role's event type; the stream only ever creates its final
/// `Closed`.
pub(crate) struct XmlStream<E> {
    pub(crate) reader: StreamReader,
    writer: StreamWriter,
    /// Bytes to send; `tx[tx_start..]` is pending.
    tx: Vec<u8>,
    tx_start: usize,
    max_tx: usize,
    scratch: String,
    content_ns: Namespace,
    events: VecDeque<E>,
    /// The reader's offset when the event queue was last empty.
    parsed_mark: u64,
    /// `Closed` has been queued: no more events, no more input.
    closed: bool,
    /// Our `</stream:stream>` is written: nothing more may follow it.
    sent_close: bool,
    /// When bytes last arrived and were last queued.
    pub(crate) last_rx: Timestamp,
    pub(crate) last_tx: Timestamp,
}

impl<E: From<CloseReason>> XmlStream<E> {
    pub(crate) fn new(limits: Limits, content_ns: Namespace, max_tx: usize, now: Timestamp) -> XmlStream<E> {
        XmlStream {
            reader: StreamReader::new(limits),
            writer: StreamWriter::new(),
            tx: Vec::new(),
            tx_start: 0,
            max_tx,
            scratch: String::new(),
            content_ns,
            events: VecDeque::new(),
            parsed_mark: 0,
            closed: false,
            sent_close: false,
            last_rx: now,
            last_tx: now,
        }
    }

    pub(crate) fn content_ns(&self) -> &Namespace {
        &self.content_ns
    }

    fn push_scratch(&mut self, now: Timestamp) {
        if self.tx_start > 0 && self.tx_start >= self.tx.len() / 2 {
            self.tx.drain(..self.tx_start);
            self.tx_start = 0;
        }
        self.tx.extend_from_slice(self.scratch.as_bytes());
        self.scratch.clear();
        if self.scratch.capacity() > RETAINED_CAPACITY {
            self.scratch = String::new();
        }
        self.last_tx = now;
    }

    /// Writes a stream header with the root attributes given (RFC 6120
    /// §4.7), declaring the content namespace as default and `stream:`.
    pub(crate) fn open(&mut self, now: Timestamp, root: &Element) {
        if self.sent_close {
            return;
        }
        let decls = [("", self.content_ns.clone()), ("stream", Namespace::from_static(ns::STREAMS))];
        self.writer.open(&mut self.scratch, root, &decls);
        self.push_scratch(now);
    }

    /// Writes a protocol element (negotiation, errors, answers the core
    /// owes): not subject to the outbound limit, which is there to push
    /// back on the application.
    pub(crate) fn write(&mut self, now: Timestamp, element: &Element) {
        if self.sent_close {
            return;
        }
        self.writer.write(&mut self.scratch, element);
        self.push_scratch(now);
    }

    /// Writes a stanza the core owes (like [`XmlStream::write`]), in this
    /// stream's content namespace: the element is written as it is when it
    /// is already there, and moved into it (a copy) only when not.
    pub(crate) fn write_stanza(&mut self, now: Timestamp, stanza: &Stanza) {
        if stanza.element().ns() == &self.content_ns {
            self.write(now, stanza.element());
        } else {
            let mut moved = stanza.clone();
            moved.set_content_ns(&self.content_ns);
            self.write(now, moved.element());
        }
    }

    /// Sends an application stanza (like [`XmlStream::send`]), in this
    /// stream's content namespace.
    pub(crate) fn send_stanza(&mut self, now: Timestamp, stanza: &Stanza) -> Result<(), SendError> {
        if self.closed || self.sent_close {
            return Err(SendError::Closed);
        }
        if self.pending_tx().len() >= self.max_tx {
            return Err(SendError::OutboundFull);
        }
        self.write_stanza(now, stanza);
        Ok(())
    }

    /// Writes a whitespace keepalive (RFC 6120 §4.6.1).
    pub(crate) fn keepalive(&mut self, now: Timestamp) {
        if !self.sent_close {
            self.scratch.push(' ');
            self.push_scratch(now);
        }
    }

    /// Writes `</stream:stream>`; nothing is written after it.
    pub(crate) fn write_close(&mut self, now: Timestamp) {
        if !self.sent_close {
            self.writer.close(&mut self.scratch);
            self.push_scratch(now);
            self.sent_close = true;
        }
    }

    /// Writes a stream error and the close tag (RFC 6120 §4.9.1.1).
    pub(crate) fn write_stream_error(&mut self, now: Timestamp, error: &StreamError) {
        if let Ok(el) = error.to_element() {
            self.write(now, &el);
        }
        self.write_close(now);
    }

    /// Starts the stream over TLS with an empty reader: nothing that
    /// arrived in plaintext survives the hand-off (HARDENING 11, 29).
    pub(crate) fn restart_after_tls(&mut self) {
        self.reader = StreamReader::new(*self.reader.limits());
    }

    pub(crate) fn has_sent_close(&self) -> bool {
        self.sent_close
    }

    /// The next frame of input, unless the peer has made us queue far more
    /// than the outbound limit without reading it (answers the core owes,
    /// such as pings and error replies, are not refused by the limit):
    /// then the stream must end rather than grow. "Far more" is twice the
    /// limit, and at least 64 KiB over it, so negotiation under a tiny
    /// limit is never cut.
    ///
    /// `Ok(None)` also when enough events wait to be polled
    /// ([`XmlStream::has_room`]): the rest is parsed once they are.
    pub(crate) fn next_input(&mut self) -> Result<Option<StreamEvent>, ProtocolError> {
        if !self.has_room() {
            return Ok(None);
        }
        if self.pending_tx().len() > self.max_backlog() {
            return Err(ProtocolError::OutboundBacklog);
        }
        self.reader.next_event().map_err(ProtocolError::Xml)
    }

    /// Whether more input may be parsed now: the event queue is below its
    /// bounds (or empty), and the connection is not closed.
    pub(crate) fn has_room(&mut self) -> bool {
        if self.closed {
            return false;
        }
        if self.events.is_empty() {
            self.parsed_mark = self.reader.offset();
            return true;
        }
        self.events.len() < MAX_QUEUED_EVENTS && self.reader.offset() - self.parsed_mark < MAX_QUEUED_INPUT
    }

    /// Feeds the reader the next piece of `data[*taken..]`; false when
    /// there is nothing left to feed.
    pub(crate) fn feed_slice(&mut self, data: &[u8], taken: &mut usize) -> bool {
        let rest = &data[*taken..];
        if rest.is_empty() {
            return false;
        }
        let n = rest.len().min(INPUT_SLICE);
        self.reader.feed(&rest[..n]);
        *taken += n;
        true
    }

    /// See [`XmlStream::next_input`].
    pub(crate) fn max_backlog(&self) -> usize {
        self.max_tx.saturating_add(self.max_tx.max(64 * 1024))
    }

    pub(crate) fn pending_tx(&self) -> &[u8] {
        &self.tx[self.tx_start..]
    }

    pub(crate) fn consume_tx(&mut self, n: usize) {
        self.tx_start = (self.tx_start + n).min(self.tx.len());
        if self.tx_start == self.tx.len() {
            self.tx.clear();
            self.tx_start = 0;
            if self.tx.capacity() > RETAINED_CAPACITY {
                self.tx = Vec::new();
            }
        }
    }

    pub(crate) fn push_event(&mut self, event: E) {
        if !self.closed {
            self.events.push_back(event);
        }
    }

    /// Queues the final `Closed`, once.
    pub(crate) fn finish(&mut self, reason: CloseReason) {
        if !self.closed {
            self.events.push_back(E::from(reason));
            self.closed = true;
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    pub(crate) fn poll_event(&mut self) -> Option<E> {
        let event = self.events.pop_front();
        if self.events.is_empty() && self.events.capacity() > RETAINED_EVENTS {
            self.events = VecDeque::new();
        }
        event
    }

    /// True when no event waits: the role may parse more buffered input.
    pub(crate) fn events_drained(&self) -> bool {
        self.events.is_empty()
    }
}
