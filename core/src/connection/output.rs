//! What a connection has for its driver: bytes to write, events, the TLS
//! hand-off and the final close, with the bounds that keep a burst or a
//! peer that never reads from filling memory.

use alloc::collections::VecDeque;
use alloc::string::String;

use super::Event;
use crate::idle::ReleaseIfEmpty;

/// How many events may wait before input stops being parsed: one
/// `handle_input` never queues more than this (plus what a single frame
/// causes), so a burst cannot fill memory with events (HARDENING 32).
/// Few, so that the memory of the stanzas polled is reused for the next
/// ones (glibc's per-thread cache holds 7 chunks of a size): the online
/// client reads a burst in one read ~12% faster than with 64.
const MAX_QUEUED_EVENTS: usize = 8;
/// How many bytes of input may be parsed into waiting events before
/// parsing stops, whatever their count.
const MAX_QUEUED_INPUT: u64 = 64 * 1024;
/// Buffers and queues are given back once the connection is idle
/// ([`OutputQueue::release_idle`]), so a burst leaves no lasting footprint
/// (HARDENING 32); the send buffer keeps this much, what a stanza at a
/// time needs.
const IDLE_CAPACITY: usize = 512;

/// The bytes and events waiting for the driver.
#[derive(Debug)]
pub(crate) struct OutputQueue {
    /// Bytes to send; `tx[tx_start..]` is pending. Elements are written
    /// straight into it (no copy through a scratch buffer).
    tx: String,
    tx_start: usize,
    /// Where the unit being written began in `tx`, between
    /// [`OutputQueue::unit`] and [`OutputQueue::commit_unit`].
    unit_start: Option<usize>,
    /// (Message framing) The lengths of the pending messages, in order;
    /// `None` for a byte stream.
    messages: Option<VecDeque<usize>>,
    /// The pending bytes were offered by `poll_output` and neither
    /// consumed nor added to since: not offered again.
    offered: bool,
    events: VecDeque<Event>,
    /// The reader's offset when the event queue was last empty.
    parsed_mark: u64,
    /// Application sends are refused beyond this many pending bytes.
    max_tx: usize,
}

impl OutputQueue {
    /// A queue for a byte stream, or (`messages`) for one message per
    /// commit.
    pub(crate) fn new(max_tx: usize, messages: bool) -> OutputQueue {
        OutputQueue {
            tx: String::new(),
            tx_start: 0,
            unit_start: None,
            messages: messages.then(VecDeque::new),
            offered: false,
            events: VecDeque::new(),
            parsed_mark: 0,
            max_tx,
        }
    }

    /// Where the next unit (an element, a header, a keepalive) is written:
    /// the end of the bytes to send. [`commit_unit`](OutputQueue::commit_unit)
    /// ends it: with message framing, as one message.
    pub(crate) fn unit(&mut self) -> &mut String {
        if self.unit_start.is_none() {
            // Written bytes are dropped once they are at least half the
            // buffer (each byte moved at most once on average); a partial
            // write can leave `tx_start` inside a character, then later.
            if self.tx_start > 0 && self.tx_start >= self.tx.len() / 2 && self.tx.is_char_boundary(self.tx_start) {
                self.tx.drain(..self.tx_start);
                self.tx_start = 0;
            }
            self.unit_start = Some(self.tx.len());
        }
        if self.tx.capacity() == 0 {
            // After an idle release: room for a stanza at once, not grown
            // from nothing by doubling.
            self.tx.reserve(IDLE_CAPACITY);
        }
        &mut self.tx
    }

    /// Ends the unit begun by [`unit`](OutputQueue::unit).
    pub(crate) fn commit_unit(&mut self) {
        let Some(start) = self.unit_start.take() else { return };
        let len = self.tx.len() - start;
        if len == 0 {
            return;
        }
        if let Some(messages) = &mut self.messages {
            messages.push_back(len);
        }
        self.offered = false;
    }

    /// Bytes not yet taken by the driver (a unit still being written is
    /// not).
    pub(crate) fn pending(&self) -> &[u8] {
        let end = self.unit_start.unwrap_or(self.tx.len());
        &self.tx.as_bytes()[self.tx_start..end]
    }

    /// What the driver writes next: every pending byte, or (message
    /// framing) the next message.
    pub(crate) fn next_unit(&self) -> &[u8] {
        let pending = self.pending();
        match self.messages.as_ref().and_then(|m| m.front()) {
            Some(&len) => &pending[..len.min(pending.len())],
            None => pending,
        }
    }

    /// Whether the next unit is new since last offered; marks it offered.
    pub(crate) fn offer(&mut self) -> bool {
        if self.offered || self.pending().is_empty() {
            return false;
        }
        self.offered = true;
        true
    }

    /// The driver wrote `n` of the pending bytes (with message framing,
    /// whole messages).
    pub(crate) fn consume(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.offered = false;
        if let Some(messages) = &mut self.messages {
            let mut left = n;
            while let Some(front) = messages.front_mut() {
                if left < *front {
                    *front -= left;
                    break;
                }
                left -= *front;
                messages.pop_front();
            }
        }
        self.tx_start = (self.tx_start + n).min(self.tx.len());
        if self.tx_start == self.tx.len() && self.unit_start.is_none() {
            self.tx.clear();
            self.tx_start = 0;
        }
    }

    /// Whether application sends are refused now.
    pub(crate) fn is_full(&self, queued: usize) -> bool {
        self.pending().len().saturating_add(queued) >= self.max_tx
    }

    /// Past this many pending bytes, reading stops and the stream ends
    /// (HARDENING 28): twice the limit, and at least 64 KiB over it, so
    /// negotiation under a tiny limit is never cut.
    pub(crate) fn backlogged(&self) -> bool {
        self.pending().len() > self.max_tx.saturating_add(self.max_tx.max(64 * 1024))
    }

    // ----- events -----

    pub(crate) fn push_event(&mut self, event: Event) {
        self.events.push_back(event);
    }

    /// Frees every buffer that is empty (the connection is idle).
    pub(crate) fn release_idle(&mut self) {
        // A buffer a stanza fits in stays: one stanza at a time (the
        // common case) then allocates nothing for its bytes.
        if self.pending().is_empty() && self.unit_start.is_none() && self.tx.capacity() > IDLE_CAPACITY {
            self.tx = String::new();
            self.tx_start = 0;
        }
        self.events.release_if_empty();
        if let Some(messages) = &mut self.messages {
            messages.release_if_empty();
        }
    }

    pub(crate) fn pop_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub(crate) fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// Whether more input may be parsed now: the waiting events are below
    /// their bounds (counted from `offset`, the reader's position).
    pub(crate) fn has_room(&mut self, offset: u64) -> bool {
        if self.events.is_empty() {
            self.parsed_mark = offset;
            return true;
        }
        self.events.len() < MAX_QUEUED_EVENTS && offset.saturating_sub(self.parsed_mark) < MAX_QUEUED_INPUT
    }

    /// Drops what waits: the connection is over and the driver will not
    /// write it (after a TLS failure, say).
    pub(crate) fn discard_bytes(&mut self) {
        self.tx = String::new();
        self.tx_start = 0;
        self.unit_start = None;
        self.offered = false;
        if let Some(messages) = &mut self.messages {
            messages.clear();
        }
    }
}
