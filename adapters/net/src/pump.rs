//! The bookkeeping of the drive loop, written once for every adapter and
//! every role: the clock, the read buffer and what the core has not yet
//! taken of it, the events waiting for the application, the responses a
//! caller waits for, the console tee. Adapters only move bytes: they
//! write [`Pump::transmit`], read into [`Pump::read_buf`], run TLS when
//! [`Pump::step`] says so and sleep until its deadline.

use std::collections::VecDeque;
use std::ops::Range;
use std::time::Instant;

use sxmpp::connection::{CloseReason, Connection, Event, Output, Role, TlsError, TlsInfo, TlsRequest};
use sxmpp::session::{IqResponse, RequestId};
use sxmpp::time::{Origin, Timestamp};

use crate::console::{Console, Direction};
use crate::error::{Error, Timeout};

/// How much is read from the transport at once. Every connection holds
/// this buffer for its whole life (a read waits in it), so it is a cost
/// per idle session: 4 KiB, the core's own reading runs as fast in 4 KiB
/// reads as in one read of everything (`cargo bench -p sxmpp-bench`).
const READ_CHUNK: usize = 4 * 1024;

/// What the adapter does next, after writing whatever
/// [`Pump::transmit`] holds.
#[derive(Debug)]
pub enum Step {
    /// Run the TLS handshake as asked, then report it
    /// ([`Pump::tls_established`] or [`Pump::tls_failed`]); nothing else
    /// is read or written until then.
    StartTls(TlsRequest),
    /// Wait for input (when [`Pump::wants_input`]), for the transport to
    /// take [`Pump::transmit`], or until this instant (then call
    /// [`Pump::timeout`]).
    Wait(Option<Instant>),
    /// The connection is over and everything was written: shut the
    /// transport down. Events still queued can be read.
    Closed,
}

/// One connection's core with the state of its drive loop.
pub struct Pump<R: Role> {
    conn: Connection<R>,
    origin: Origin,
    buf: Box<[u8]>,
    /// Read from the transport, not yet taken by the core.
    unread: Range<usize>,
    events: VecDeque<Event>,
    max_events: usize,
    console: Option<Console>,
    closed: bool,
    /// Events were queued since [`Pump::take_fresh`] was last called.
    fresh: bool,
}

impl<R: Role> Pump<R> {
    /// Drives `conn`, whose timestamps count from [`clock`](crate::clock)
    /// (create it with [`now`](crate::now)). Up to
    /// `max_events` events are kept for the application; past that input
    /// stops being read until it takes some (backpressure, not loss).
    pub fn new(conn: Connection<R>, max_events: usize, console: Option<Console>) -> Pump<R> {
        Pump {
            conn,
            origin: crate::clock(),
            buf: vec![0; READ_CHUNK].into_boxed_slice(),
            unread: 0..0,
            events: VecDeque::new(),
            max_events: max_events.max(1),
            console,
            closed: false,
            fresh: false,
        }
    }

    /// The core's clock, now.
    pub fn now(&self) -> Timestamp {
        self.origin.timestamp(Instant::now())
    }

    /// The connection, for the calls of its role (a server's
    /// `authenticate` and `bind`, say). Its output goes out on the
    /// adapter's next turn.
    pub fn connection(&mut self) -> &mut Connection<R> {
        &mut self.conn
    }

    /// The connection, to read.
    pub fn connection_ref(&self) -> &Connection<R> {
        &self.conn
    }

    /// Processes the core's output up to the next thing the adapter must
    /// do: queues events, feeds input the core left while events waited.
    pub fn step(&mut self) -> Step {
        loop {
            if self.closed {
                return Step::Closed;
            }
            match self.conn.poll_output() {
                // The bytes stay in `transmit()` until written.
                Output::Transmit(_) | Output::Message(_) => {}
                Output::StartTls(request) => {
                    tracing::debug!(?request.side, "starting TLS");
                    return Step::StartTls(request);
                }
                Output::Event(event) => {
                    trace_event(&event);
                    self.events.push_back(event);
                    self.fresh = true;
                }
                Output::Closed(reason) => {
                    tracing::debug!(?reason, "closed");
                    self.closed = true;
                    return Step::Closed;
                }
                Output::Wait(deadline) => {
                    if !self.unread.is_empty() && self.events.len() < self.max_events {
                        let taken = self.conn.handle_input(self.now(), &self.buf[self.unread.clone()]);
                        self.unread.start += taken;
                        if taken > 0 {
                            continue;
                        }
                    }
                    return Step::Wait(deadline.map(|t| self.origin.instant(t)));
                }
                _ => {}
            }
        }
    }

    /// What to write now (empty: nothing).
    pub fn transmit(&self) -> &[u8] {
        self.conn.transmit()
    }

    /// `n` bytes of [`transmit`](Pump::transmit) were written.
    pub fn written(&mut self, n: usize) {
        if let Some(console) = &mut self.console {
            console.tee(Direction::Out, &self.conn.transmit()[..n]);
        }
        self.conn.consume_transmit(n);
    }

    /// Whether to read now: everything read was taken and the application
    /// keeps up with the events.
    pub fn wants_input(&self) -> bool {
        !self.closed && self.unread.is_empty() && self.events.len() < self.max_events
    }

    /// Where to read into (only while [`wants_input`](Pump::wants_input)
    /// and nothing unread is left).
    pub fn read_buf(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// `n` bytes were read into [`read_buf`](Pump::read_buf); 0 is the
    /// end of the transport.
    pub fn received(&mut self, n: usize) {
        if n == 0 {
            tracing::debug!("transport ended");
            self.conn.handle_eof(self.now());
            return;
        }
        if let Some(console) = &mut self.console {
            console.tee(Direction::In, &self.buf[..n]);
        }
        let taken = self.conn.handle_input(self.now(), &self.buf[..n]);
        self.unread = taken..n;
    }

    /// The transport failed: the connection ends as if it had closed
    /// (the core decides what that means now).
    pub fn transport_failed(&mut self, error: &std::io::Error) {
        tracing::debug!(%error, "transport failed");
        self.unread = 0..0;
        self.conn.handle_eof(self.now());
    }

    /// The deadline of the last [`Step::Wait`] passed.
    pub fn timeout(&mut self) {
        self.conn.handle_timeout(self.now());
    }

    /// The TLS handshake succeeded.
    pub fn tls_established(&mut self, info: TlsInfo) {
        let bindings: Vec<&str> = info.channel_binding.types().map(|t| t.as_str()).collect();
        tracing::debug!(version = info.version.as_deref().unwrap_or("?"), ?bindings, "TLS established");
        self.conn.handle_tls_established(self.now(), info);
    }

    /// The TLS handshake failed.
    pub fn tls_failed(&mut self, error: TlsError) {
        tracing::debug!(%error, "TLS failed");
        self.conn.handle_tls_failed(self.now(), error);
    }

    /// Whether the connection is over and written.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Why it ended, once it has.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.conn.close_reason()
    }

    /// The next event for the application.
    pub fn pop_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        self.release_idle();
        event
    }

    /// Frees the backlog's memory once it is empty (as the core does with
    /// its own queues), so an idle session holds none.
    fn release_idle(&mut self) {
        if self.events.is_empty() && self.events.capacity() > 0 {
            self.events = VecDeque::new();
        }
    }

    /// How many events wait.
    pub fn queued_events(&self) -> usize {
        self.events.len()
    }

    /// Whether events were queued since the last call: then the adapter
    /// returns to its caller instead of blocking for input.
    pub fn take_fresh(&mut self) -> bool {
        std::mem::take(&mut self.fresh)
    }

    /// Whether no more events can be queued until some are taken.
    pub fn is_backlogged(&self) -> bool {
        self.events.len() >= self.max_events
    }

    /// Takes the response to `id` (or its timeout) out of the queue, if it
    /// came; other events stay, in order.
    pub fn take_response(&mut self, id: &RequestId) -> Option<Result<IqResponse, Error>> {
        let at = self.events.iter().position(|event| match event {
            Event::IqResponse(response) => response.id == *id,
            Event::IqTimeout(timed_out) => timed_out == id,
            _ => false,
        })?;
        match self.events.remove(at)? {
            Event::IqResponse(response) => Some(Ok(response)),
            _ => Some(Err(Error::Timeout(Timeout::Request))),
        }
    }

    /// For a caller waiting on request `id`: its response (or its
    /// timeout), or why it cannot come (the connection ended, too many
    /// events wait unread); `None` while it may still come.
    pub fn response_for(&mut self, id: &RequestId) -> Option<Result<IqResponse, Error>> {
        if let Some(result) = self.take_response(id) {
            return Some(result);
        }
        if self.closed {
            return Some(Err(self.end_error()));
        }
        self.is_backlogged().then_some(Err(Error::Backlog(self.events.len())))
    }

    /// For a caller waiting to get online: `Ok` once online, the end's
    /// error once closed, `None` while negotiation goes on.
    pub fn online_or_end(&self) -> Option<Result<(), Error>> {
        if self.conn.is_online() {
            return Some(Ok(()));
        }
        self.closed.then(|| Err(self.end_error()))
    }

    /// The error for a caller whose wait the end cut short (even a clean
    /// close: what it waited for will not come).
    fn end_error(&self) -> Error {
        self.close_result().err().unwrap_or_else(|| Error::Closed(Box::new(CloseReason::Clean)))
    }

    /// What the end of the connection means for a caller waiting on it:
    /// `Ok` for a clean close.
    pub fn close_result(&self) -> Result<(), Error> {
        match self.conn.close_reason().and_then(Error::from_close) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// The next event, or what ended the connection once none is left
    /// (`Ok(None)` after a clean close); `None` inside while the adapter
    /// must drive on.
    pub fn next_event(&mut self) -> Option<Result<Option<Event>, Error>> {
        if let Some(event) = self.events.pop_front() {
            self.release_idle();
            return Some(Ok(Some(event)));
        }
        self.closed.then(|| self.close_result().map(|()| None))
    }
}

impl<R: Role> std::fmt::Debug for Pump<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pump")
            .field("conn", &self.conn)
            .field("unread", &self.unread.len())
            .field("events", &self.events.len())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

fn trace_event(event: &Event) {
    match event {
        Event::Online(jid) => tracing::info!(%jid, "online"),
        Event::Authenticated(auth) => {
            tracing::info!(mechanism = auth.mechanism.as_str(), channel_binding = ?auth.channel_binding, "authenticated")
        }
        other => tracing::trace!(event = ?other, "event"),
    }
}
