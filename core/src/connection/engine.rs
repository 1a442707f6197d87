//! The engine: one [`Connection`] for every role. It owns the stream (its
//! framing both ways), the output, the timers, the session and the state
//! bits, and does in one place what every role needs: the input loop and
//! its bounds, the TLS hand-off, restarts, the close handshake both ways,
//! stream errors both ways, the transport's end, keepalives and pings,
//! IQ tracking, the negotiation deadline. A role plugs in its negotiation
//! and its stanza policy through a small set of hooks.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::time::Duration;

use super::output::OutputQueue;
use super::timers::{Timer, Timers};
use super::{CloseReason, Event, StreamConfig, TimeoutKind};
use crate::condition::StreamErrorCondition;
use crate::entropy::Entropy;
use crate::error::{ApiError, Fault, Violation};
use crate::idle::ReleaseIfEmpty;
use crate::jid::Jid;
use crate::negotiation::{Action, FeatureCx, NegotiationEvent, StreamState};
use crate::ns;
use crate::session::{Matched, Purpose, RequestAction, RequestId, Session};
use crate::stanza::{Iq, Stanza, StanzaError, StreamError};
use crate::stream::{Frame, Framer, Header};
use crate::time::Timestamp;
use crate::tls::{TlsError, TlsInfo, TlsRequest, TlsSide};
use crate::xml::{Element, Namespace};

/// Input is fed to the reader in pieces of at most this size, so the
/// reader never holds much more than one unfinished stanza.
const INPUT_SLICE: usize = 8 * 1024;

/// Where the stream is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The transport is TLS from its first byte; the handshake is due.
    AwaitingTls,
    /// The stream is open: input is read.
    Open,
    /// `<proceed/>` is sent or received: the hand-off is checked where
    /// parsing stops.
    Handoff,
    /// The driver runs the TLS handshake; nothing is read or written.
    Handshake,
    /// Our close is out; the peer's is due (input is still processed,
    /// RFC 6120 §4.4).
    Closing,
    /// Over.
    Closed,
}

/// The state every role shares. Roles reach it through their hooks.
pub struct Core {
    pub(crate) framing: Framer,
    pub(crate) out: OutputQueue,
    pub(crate) timers: Timers,
    pub(crate) entropy: Box<dyn Entropy + Send>,
    pub(crate) config: StreamConfig,
    pub(crate) session: Session,
    pub(crate) state: StreamState,
    pub(crate) tls: TlsInfo,
    /// Negotiation moves waiting to be carried out.
    pub(crate) actions: Vec<Action>,
    phase: Phase,
    /// Our header is out on the current stream.
    pub(crate) header_sent: bool,
    /// The peer's header arrived on the current stream.
    header_received: bool,
    tls_request: Option<TlsRequest>,
    close: Option<CloseReason>,
    /// What the close handshake ends with once the peer answers.
    closing_reason: Option<CloseReason>,
    closed_reported: bool,
    /// The last time passed in, for work done while output is polled.
    now: Timestamp,
    /// Bytes came in, were written or went out, or an event was polled,
    /// since buffers were last given back: the release timer is armed
    /// when this connection goes idle. (A release keeps what still holds
    /// data; whatever empties it afterwards sets this again, so that is
    /// given back too, found in review.)
    used: bool,
}

impl Core {
    pub(crate) fn new(
        config: StreamConfig,
        framing: Framer,
        session: Session,
        entropy: Box<dyn Entropy + Send>,
        direct_tls: bool,
        now: Timestamp,
    ) -> Core {
        Core {
            out: OutputQueue::new(config.max_outbound_bytes, framing.is_message_based()),
            framing,
            timers: Timers::default(),
            entropy,
            config,
            session,
            state: StreamState::NONE,
            tls: TlsInfo::new(),
            actions: Vec::new(),
            phase: if direct_tls { Phase::AwaitingTls } else { Phase::Open },
            header_sent: false,
            header_received: false,
            tls_request: None,
            close: None,
            closing_reason: None,
            closed_reported: false,
            now,
            used: false,
        }
    }

    /// Records the time an API call was made at.
    pub(crate) fn now_is(&mut self, now: Timestamp) {
        self.now = now;
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    pub(crate) fn is_over(&self) -> bool {
        self.close.is_some()
    }

    /// The stream's content namespace.
    pub(crate) fn content_ns(&self) -> &Namespace {
        self.framing.content_ns()
    }

    // ----- writing -----

    /// Serialises the application's queued stanzas, in order: before any
    /// protocol element is written after them, and when the driver polls.
    pub(crate) fn flush_stanzas(&mut self) {
        // Only once online: stanzas a session carried over wait for
        // negotiation (found in review: they went out before it).
        if self.session.queued() == 0 || !self.ready() || !matches!(self.phase, Phase::Open | Phase::Closing) {
            return;
        }
        while let Some(mut stanza) = self.session.pop_queued() {
            stanza.set_content_ns(self.framing.content_ns());
            self.framing.write_element(self.out.unit(), stanza.element());
            // One commit per element: one message each when framed so.
            self.committed();
        }
    }

    fn committed(&mut self) {
        self.used = true;
        self.out.commit_unit();
        if let Some(interval) = self.config.keepalive_interval.filter(|_| self.ready())
            && self.framing.allows_whitespace()
        {
            self.timers.set(Timer::Keepalive, self.now + interval);
        }
    }

    /// Nothing is pending: what buffers and queues hold is given back now
    /// (`release_after` zero) or once that long has passed since the
    /// connection first went idle. Reads meanwhile reuse them; a burst
    /// leaves no lasting footprint either way.
    /// Until online, everything is given back at once: negotiation reads
    /// little, and a connection idling in it (perhaps one of many a peer
    /// opened) stays small from the first moment.
    fn idle(&mut self) {
        let after = self.config.release_after;
        if after.is_zero() || !self.ready() {
            self.release_idle();
        } else if self.used && self.timers.get(Timer::Release).is_none() {
            self.timers.set(Timer::Release, self.now + after);
        }
    }

    /// Gives back what buffers and queues hold, so an idle connection is
    /// small (each structure is released only if empty, so nothing is
    /// lost; the next burst allocates again).
    fn release_idle(&mut self) {
        self.timers.clear(Timer::Release);
        self.used = false;
        self.out.release_idle();
        self.framing.release_idle();
        self.session.release_idle();
        self.actions.release_if_empty();
    }

    /// Writes an element the protocol (not the application) sends: never
    /// refused by the outbound limit.
    pub(crate) fn write(&mut self, element: &Element) {
        if !matches!(self.phase, Phase::Open | Phase::Handoff) {
            return;
        }
        self.flush_stanzas();
        self.framing.write_element(self.out.unit(), element);
        self.committed();
    }

    /// Writes an IQ the core owes (an answer, a ping), in the stream's
    /// namespace.
    pub(crate) fn write_iq(&mut self, iq: Iq) {
        let mut stanza = Stanza::Iq(iq);
        stanza.set_content_ns(self.framing.content_ns());
        self.write(stanza.element());
    }

    /// Writes our stream header.
    pub(crate) fn open_stream(&mut self, header: &Header) {
        if self.header_sent || self.phase != Phase::Open {
            return;
        }
        self.framing.write_open(self.out.unit(), header);
        self.header_sent = true;
        self.committed();
    }

    fn write_close(&mut self) {
        self.flush_stanzas();
        self.framing.write_close(self.out.unit());
        self.committed();
    }

    // ----- what roles tell the engine -----

    /// Tells the application.
    pub(crate) fn emit(&mut self, event: Event) {
        if !self.is_over() {
            self.out.push_event(event);
        }
    }

    /// The context a negotiation step runs in.
    pub(crate) fn feature_cx<'a>(&'a mut self, domain: &'a str) -> FeatureCx<'a> {
        FeatureCx {
            state: self.state,
            domain,
            tls: &self.tls,
            content_ns: self.framing.content_ns(),
            entropy: &mut *self.entropy,
            actions: &mut self.actions,
        }
    }

    /// Arms (or clears) the negotiation deadline.
    pub(crate) fn set_deadline(&mut self, after: Option<(Duration, TimeoutKind)>) {
        let now = self.now;
        self.timers.set_negotiation(after.map(|(d, kind)| (now + d, kind)));
    }

    pub(crate) fn ready(&self) -> bool {
        self.state.contains(StreamState::READY)
    }

    /// Negotiation is over: stanzas flow.
    pub(crate) fn go_online(&mut self, jid: Jid) {
        self.state.insert(StreamState::READY);
        self.timers.set_negotiation(None);
        if let Some(interval) = self.config.ping_interval {
            self.timers.set(Timer::Ping, self.now + interval);
        }
        if let Some(interval) = self.config.keepalive_interval.filter(|_| self.framing.allows_whitespace()) {
            self.timers.set(Timer::Keepalive, self.now + interval);
        }
        self.emit(Event::Online(jid));
    }

    /// Answers an IQ request on the core's behalf.
    pub(crate) fn answer(&mut self, request: &Iq, response: Result<Option<Element>, StanzaError>) {
        let answer = match response {
            Ok(payload) => Ok(request.result_for(payload)),
            Err(error) => request.error_for(&error),
        };
        if let Ok(answer) = answer {
            self.write_iq(answer);
        }
    }

    /// An IQ request arrived for this entity itself: the session decides
    /// whether the core answers it or the application gets it.
    pub(crate) fn on_request(&mut self, iq: Iq) {
        match self.session.on_request(&iq, self.config.answer_pings) {
            RequestAction::Deliver => self.emit(Event::Stanza(Stanza::Iq(iq))),
            RequestAction::Answer(response) => self.answer(&iq, response),
            RequestAction::Ignore => {}
        }
    }

    /// An IQ response arrived: an event if it answers one of the
    /// application's requests (HARDENING 19); never answered (HARDENING
    /// 20). One that answers none of ours comes back.
    pub(crate) fn on_response(&mut self, iq: Iq) -> Option<Iq> {
        match self.session.on_response(iq) {
            Matched::Application(response) => self.emit(Event::IqResponse(response)),
            Matched::Core => {}
            Matched::Nothing(iq) => return Some(iq),
        }
        None
    }

    /// Answers an element that is not a valid stanza: an IQ request we can
    /// address still gets an error (RFC 6120 §8.2.3); nothing is ever sent
    /// for results and errors.
    pub(crate) fn on_invalid_stanza(&mut self, element: Element, error: crate::stanza::StanzaParseError) {
        let request = element.name() == "iq" && matches!(element.attr("type"), Some("get" | "set"));
        if let (true, Some(id)) = (request, element.attr("id")) {
            // Stands for the malformed request: what the answer needs of it.
            let mut request = Iq::get(None, Element::new("request", "urn:x-sxmpp:invalid"));
            request.set_from(element.attr("from").and_then(|f| Jid::new(f).ok()));
            if request.set_id(Some(id)).is_ok()
                && let Ok(answer) = request.error_for(&StanzaError::new(error.condition()))
            {
                self.write_iq(answer);
            }
        }
        self.emit(Event::InvalidStanza { element, error });
    }
}

pub(super) mod sealed {
    use super::*;

    /// What a role plugs into the engine. Crate-internal: the public face
    /// is [`Role`](super::Role), which has no methods of its own.
    pub trait Hooks: Send + Sized {
        /// The stream's content namespace.
        fn content_ns(&self) -> &'static str;
        /// True for the receiving entity, which writes its header when the
        /// peer's arrives (or before an error, RFC 6120 §4.9.1.2).
        fn receiving(&self) -> bool;
        /// Whether the peer's header must say version 1.x (RFC 6120
        /// §4.7.5; XEP-0114 has no version).
        fn requires_version(&self) -> bool {
            true
        }
        /// Which side of TLS this role plays.
        fn tls_side(&self) -> TlsSide;
        /// A stream begins (at creation, after TLS, after a restart): the
        /// initiator writes its header.
        fn start(&mut self, core: &mut Core) -> Result<(), Fault>;
        /// The peer's header arrived, before any check: who the peer says
        /// it is, for a receiving role's answering header (RFC 6120
        /// §4.7.2), even when the header is then refused.
        fn note_peer(&mut self, _header: &Header) {}
        /// The peer's header arrived (checked for what every role checks).
        fn on_header(&mut self, core: &mut Core, header: Header) -> Result<(), Fault>;
        /// A first-level element other than a stream error arrived.
        fn on_element(&mut self, core: &mut Core, element: Element) -> Result<(), Fault>;
        /// Authentication succeeded (its state is set): for the role to
        /// follow up (timers).
        fn on_authenticated(&mut self, _core: &mut Core) {}
        /// (Receiving side) Writes our header if it is not out yet.
        fn write_header(&mut self, _core: &mut Core) {}
        /// Whether an IQ request the application sends through `send` is
        /// this entity's own (tracked: its answer is an
        /// [`Event::IqResponse`]) or routed on another's behalf (its answer
        /// comes back as a stanza, to route on).
        fn tracks(&self, _request: &Iq) -> bool {
            true
        }
        /// Who our pings go to, and from whom.
        fn ping_addresses(&self, core: &Core) -> (Option<Jid>, Option<Jid>);
    }
}

/// A role a [`Connection`] plays: [`ClientRole`](super::ClientRole),
/// [`ServerRole`](super::ServerRole), [`ComponentRole`](super::ComponentRole)
/// or [`ComponentServerRole`](super::ComponentServerRole). Sealed: write a
/// driver generic over `R: Role` and it drives every role.
pub trait Role: sealed::Hooks {}

impl<R: sealed::Hooks> Role for R {}

/// What a connection has for its driver, in order. See
/// [`Connection::poll_output`].
#[derive(Debug)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // returned and matched at once, never stored
pub enum Output<'a> {
    /// Write these bytes to the transport, in order, then call
    /// [`Connection::consume_transmit`] with how many were written. They
    /// are offered once; [`Connection::transmit`] gives them again when
    /// the transport is writable again.
    Transmit(&'a [u8]),
    /// (WebSocket framing) Send this as one WebSocket text message, then
    /// call [`Connection::consume_transmit`] with its length. One message
    /// per `<open/>`, element and `<close/>` (RFC 7395 §3.3.3).
    Message(&'a [u8]),
    /// Everything before this has been written: run the TLS handshake as
    /// `TlsRequest` says, then report it with
    /// [`Connection::handle_tls_established`] (or
    /// [`Connection::handle_tls_failed`]). Nothing is read or written
    /// until then.
    StartTls(TlsRequest),
    /// Something happened, for the application.
    Event(Event),
    /// The connection is over and its last bytes are written: shut the
    /// transport down (a TLS close_notify, then close the socket). Comes
    /// once; [`Connection::close_reason`] keeps it.
    Closed(&'a CloseReason),
    /// Nothing more until input arrives, the transport is writable again,
    /// or this time comes (then call [`Connection::handle_timeout`]).
    Wait(Option<Timestamp>),
}

/// A connection in role `R`: the sans-IO state machine an adapter drives.
///
/// ```
/// use sxmpp::connection::{Connection, Output, Role};
///
/// /// Writes everything pending into `wire`; returns the events. The same
/// /// for every role.
/// fn drain<R: Role>(conn: &mut Connection<R>, wire: &mut Vec<u8>) -> Vec<sxmpp::connection::Event> {
///     let mut events = Vec::new();
///     loop {
///         match conn.poll_output() {
///             Output::Transmit(bytes) => {
///                 let n = bytes.len();
///                 wire.extend_from_slice(bytes);
///                 conn.consume_transmit(n);
///             }
///             Output::Event(event) => events.push(event),
///             Output::StartTls(_) | Output::Closed(_) | Output::Wait(_) => return events,
///             _ => return events,
///         }
///     }
/// }
/// ```
pub struct Connection<R: Role> {
    pub(crate) core: Core,
    pub(crate) role: R,
}

impl<R: Role> core::fmt::Debug for Connection<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("phase", &self.core.phase)
            .field("state", &self.core.state)
            .field("close", &self.core.close)
            .finish_non_exhaustive()
    }
}

impl<R: Role> Connection<R> {
    /// Assembles a connection and starts its stream.
    pub(crate) fn assemble(core: Core, role: R) -> Connection<R> {
        let mut conn = Connection { core, role };
        match conn.core.phase {
            // Direct TLS (XEP-0368): the handshake is the first output.
            Phase::AwaitingTls => conn.core.tls_request = Some(TlsRequest { side: conn.role.tls_side() }),
            _ => conn.hook(|role, core| role.start(core)),
        }
        conn
    }

    // ----- input -----

    /// Bytes arrived from the peer. Returns how many were taken: all of
    /// them, unless enough events wait to be polled (HARDENING 32); then
    /// poll the events and offer the rest again. With WebSocket framing
    /// each call carries exactly one whole message, which is taken whole
    /// or (while events wait) not at all.
    #[must_use = "bytes not taken must be offered again once the events are polled"]
    pub fn handle_input(&mut self, now: Timestamp, data: &[u8]) -> usize {
        self.core.now = now;
        if self.core.is_over() || data.is_empty() {
            return data.len();
        }
        self.received(now);
        if matches!(self.core.phase, Phase::AwaitingTls | Phase::Handshake | Phase::Handoff) {
            // Plaintext where TLS was due (HARDENING 11).
            self.fail(Violation::DataAfterProceed.into());
            return data.len();
        }
        if self.core.framing.is_message_based() {
            return self.handle_message(data);
        }
        let mut taken = 0;
        loop {
            self.run(&data[taken..]);
            // At the hand-off the rest was whitespace, dropped (`run`).
            if self.core.is_over() || self.core.phase == Phase::Handshake {
                return data.len();
            }
            let reading = matches!(self.core.phase, Phase::Open | Phase::Closing);
            if !reading || !self.core.out.has_room(self.core.framing.offset()) || taken == data.len() {
                return taken;
            }
            let n = (data.len() - taken).min(INPUT_SLICE);
            self.core.framing.feed(&data[taken..taken + n]);
            taken += n;
        }
    }

    /// One whole WebSocket message: taken whole, or (while enough events
    /// wait) not at all.
    fn handle_message(&mut self, message: &[u8]) -> usize {
        if self.core.framing.message_pending() {
            // The last message is not read to its end yet (events waited).
            self.run(&[]);
        }
        if self.core.framing.message_pending() || !self.core.out.has_room(self.core.framing.offset()) {
            return 0;
        }
        if let Err(e) = self.core.framing.feed_message(message) {
            self.fail(Violation::from(e).into());
            return message.len();
        }
        self.run(&[]);
        message.len()
    }

    /// The transport ended (the peer closed it, or it broke).
    pub fn handle_eof(&mut self, now: Timestamp) {
        self.core.now = now;
        // What was not written can no longer be: `Closed` comes now, also
        // for a connection whose end was decided before (found by fuzzing).
        self.core.out.discard_bytes();
        if self.core.is_over() {
            return;
        }
        let reason = match self.core.phase {
            Phase::Closing => self.core.closing_reason.take().unwrap_or(CloseReason::Clean),
            _ => CloseReason::Eof,
        };
        self.finish(reason);
    }

    /// Time passed: acts on whatever timers are due (a spurious call does
    /// nothing).
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.core.now = now;
        if self.core.is_over() {
            return;
        }
        let due: Vec<Timer> = self.core.timers.due(now).collect();
        for timer in due {
            match timer {
                Timer::Close => return self.finish(CloseReason::Timeout(TimeoutKind::Close)),
                Timer::Negotiation => return self.time_out(self.core.timers.negotiation_kind()),
                Timer::PingTimeout => return self.time_out(TimeoutKind::Ping),
                Timer::Ping => self.ping(),
                Timer::Keepalive => self.keepalive(),
                Timer::Release => self.core.release_idle(),
            }
        }
        for id in self.core.session.expire(now) {
            self.core.emit(Event::IqTimeout(id));
        }
    }

    /// TLS is up (after [`Output::StartTls`], or first with direct TLS):
    /// the stream starts over on it, from an empty reader (HARDENING 11,
    /// 29).
    pub fn handle_tls_established(&mut self, now: Timestamp, tls: TlsInfo) {
        self.core.now = now;
        if self.core.is_over() || !matches!(self.core.phase, Phase::Handshake | Phase::AwaitingTls) {
            return;
        }
        self.core.tls = tls;
        self.core.state.insert(StreamState::SECURE);
        self.core.framing.restart_after_tls();
        self.core.phase = Phase::Open;
        self.new_stream();
    }

    /// The TLS handshake failed: the connection ends with the driver's
    /// reason ([`CloseReason::Tls`]); nothing more is written.
    pub fn handle_tls_failed(&mut self, now: Timestamp, error: TlsError) {
        self.core.now = now;
        if self.core.is_over() {
            return;
        }
        self.core.out.discard_bytes();
        self.finish(CloseReason::Tls(error));
    }

    // ----- output -----

    /// The next thing for the driver, in order: events come as they
    /// happen; bytes are offered once until consumed or added to; the TLS
    /// hand-off and the final close come only once everything before them
    /// is written; `Wait` says nothing more is due until input, the
    /// transport being writable again, or its deadline.
    pub fn poll_output(&mut self) -> Output<'_> {
        if !self.core.out.has_events() && matches!(self.core.phase, Phase::Open | Phase::Closing) {
            // Input that arrived while events waited is parsed now.
            self.run(&[]);
        }
        if let Some(event) = self.core.out.pop_event() {
            // As for bytes written: a queue kept back is released later.
            self.core.used = true;
            return Output::Event(event);
        }
        self.core.flush_stanzas();
        let messages = self.core.framing.is_message_based();
        if self.core.out.offer() {
            let bytes = self.core.out.next_unit();
            return if messages { Output::Message(bytes) } else { Output::Transmit(bytes) };
        }
        if !self.core.out.pending().is_empty() {
            return Output::Wait(self.poll_timeout());
        }
        if let Some(request) = self.core.tls_request.take() {
            return Output::StartTls(request);
        }
        if self.core.close.is_some() && !self.core.closed_reported {
            self.core.closed_reported = true;
            return self.core.close.as_ref().map_or(Output::Wait(None), Output::Closed);
        }
        self.core.idle();
        Output::Wait(self.poll_timeout())
    }

    /// What to write next, for a driver coming back when the transport is
    /// writable: every byte not yet written, or (WebSocket) the next
    /// message.
    pub fn transmit(&self) -> &[u8] {
        self.core.out.next_unit()
    }

    /// Marks `n` bytes of [`transmit`](Connection::transmit) as written
    /// (with WebSocket framing, the whole message: `n` is its length).
    pub fn consume_transmit(&mut self, n: usize) {
        // Bytes went out: what a release kept back (pending then) is
        // given back at the next idle moment (found in review).
        self.core.used = true;
        self.core.out.consume(n);
    }

    /// How many bytes wait to be written, in every message: for
    /// backpressure (the core refuses application sends past
    /// `max_outbound_bytes`).
    pub fn pending_output_len(&self) -> usize {
        self.core.out.pending().len()
    }

    /// When [`handle_timeout`](Connection::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.core.is_over() {
            return None;
        }
        [self.core.timers.next(), self.core.session.next_deadline()].into_iter().flatten().min()
    }

    // ----- getters -----

    /// Why the connection ended, once it has (set when the end is decided,
    /// before its last bytes are written: drive until [`Output::Closed`]).
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.core.close.as_ref()
    }

    /// True once [`Output::Closed`] has been returned: nothing more will
    /// come.
    pub fn is_closed(&self) -> bool {
        self.core.closed_reported
    }

    /// True while stanzas flow.
    pub fn is_online(&self) -> bool {
        self.core.ready() && !self.core.is_over() && self.core.phase == Phase::Open
    }

    /// What has been negotiated.
    pub fn state(&self) -> StreamState {
        self.core.state
    }

    /// What TLS reported, once it is up.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.core.state.contains(StreamState::SECURE).then_some(&self.core.tls)
    }

    /// The session: bound address, IQ tables, handlers.
    pub fn session(&self) -> &Session {
        &self.core.session
    }

    /// The session, to register IQ handlers.
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.core.session
    }

    /// The session, from a connection that is over, to carry on with a new
    /// one (stanzas queued since go out once it is online).
    pub fn into_session(self) -> Session {
        self.core.session
    }

    // ----- API -----

    /// Sends a stanza (held as a value until the driver polls output).
    /// Online only. An IQ request of this entity's own is tracked: its
    /// answer arrives as [`Event::IqResponse`] (use
    /// [`send_iq`](Connection::send_iq) to learn its id). A server routing
    /// a request from someone else (a `from` not its own) gets the answer
    /// back as a stanza, to route on.
    pub fn send(&mut self, now: Timestamp, stanza: impl Into<Stanza>) -> Result<(), ApiError> {
        let stanza = stanza.into();
        match stanza {
            Stanza::Iq(iq) if iq.is_request() && self.role.tracks(&iq) => self.send_iq(now, iq).map(|_| ()),
            other => self.send_stanza(now, other),
        }
    }

    /// Sends an IQ request and returns its id (generated if it has none);
    /// the answer arrives as [`Event::IqResponse`] or [`Event::IqTimeout`].
    pub fn send_iq(&mut self, now: Timestamp, iq: Iq) -> Result<RequestId, ApiError> {
        let timeout = self.core.config.iq_timeout;
        self.send_iq_with_timeout(now, iq, timeout)
    }

    /// [`send_iq`](Connection::send_iq) with its own timeout.
    pub fn send_iq_with_timeout(
        &mut self,
        now: Timestamp,
        mut iq: Iq,
        timeout: Duration,
    ) -> Result<RequestId, ApiError> {
        self.check_sendable(now)?;
        let entropy = &mut self.core.entropy;
        let id = self.core.session.prepare_request(&mut iq, || entropy.stanza_id())?;
        let to = iq.to().cloned();
        self.send_stanza(now, Stanza::Iq(iq))?;
        self.core.session.track(id.clone(), to, now + timeout, Purpose::Application);
        Ok(id)
    }

    /// Answers an IQ request delivered as [`Event::Stanza`]: with a result
    /// (and optional payload) or an error. Each request is answered once;
    /// answers the core owes go out even when the outbound buffer is full.
    pub fn respond(
        &mut self,
        now: Timestamp,
        request: &Iq,
        response: Result<Option<Element>, StanzaError>,
    ) -> Result<(), ApiError> {
        self.check_sendable(now)?;
        if !self.core.session.owes(request) {
            return Err(ApiError::UnknownRequest);
        }
        let answer = match response {
            Ok(payload) => request.result_for(payload),
            Err(error) => request.error_for(&error).map_err(ApiError::InvalidXml)?,
        };
        self.core.write_iq(answer);
        self.core.session.settle(request.request_id(), request.from());
        Ok(())
    }

    /// Closes the stream (RFC 6120 §4.4): our close now, then
    /// [`Output::Closed`] once the peer answers (or the close timeout
    /// passes). Before the stream is open (during a TLS handshake), the
    /// connection just ends, writing nothing.
    pub fn close(&mut self, now: Timestamp) -> Result<(), ApiError> {
        self.begin_close(now, None)
    }

    /// Closes the stream with a stream error (for example `conflict` when
    /// another session takes over the resource, `system-shutdown`,
    /// `see-other-host`).
    pub fn close_with_error(&mut self, now: Timestamp, error: StreamError) -> Result<(), ApiError> {
        self.begin_close(now, Some(error))
    }

    // ----- the engine -----

    fn check_sendable(&mut self, now: Timestamp) -> Result<(), ApiError> {
        self.core.now = now;
        if self.core.is_over() || self.core.phase == Phase::Closing {
            return Err(ApiError::Closed);
        }
        if !self.core.ready() {
            return Err(ApiError::NotOnline);
        }
        Ok(())
    }

    fn send_stanza(&mut self, now: Timestamp, stanza: Stanza) -> Result<(), ApiError> {
        self.check_sendable(now)?;
        if self.core.out.is_full(self.core.session.queued_bytes()) {
            return Err(ApiError::OutboundFull);
        }
        let settles = match &stanza {
            Stanza::Iq(iq) if !iq.is_request() => Some((iq.request_id().into(), iq.to().cloned())),
            _ => None,
        };
        if !self.core.session.queue(stanza) {
            return Err(ApiError::OutboundFull);
        }
        if let Some((id, to)) = settles {
            // An answer written by hand settles the request it answers.
            let id: alloc::string::String = id;
            self.core.session.settle(&id, to.as_ref());
        }
        Ok(())
    }

    fn begin_close(&mut self, now: Timestamp, error: Option<StreamError>) -> Result<(), ApiError> {
        self.core.now = now;
        if self.core.is_over() || self.core.phase == Phase::Closing {
            return Err(ApiError::Closed);
        }
        if self.core.phase != Phase::Open {
            // Nothing may be written during a TLS handshake.
            self.finish(CloseReason::Abandoned);
            return Ok(());
        }
        self.ensure_header();
        if let Some(error) = &error
            && let Ok(el) = error.to_element()
        {
            self.core.write(&el);
        }
        self.core.write_close();
        self.core.phase = Phase::Closing;
        // The close timer decides now, not a negotiation deadline.
        self.core.timers.set_negotiation(None);
        self.core.closing_reason = error.map(CloseReason::ClosedWithError);
        self.core.timers.set(Timer::Close, now + self.core.config.close_timeout);
        Ok(())
    }

    /// Input arrived: the peer is alive.
    fn received(&mut self, now: Timestamp) {
        self.core.used = true;
        self.core.timers.clear(Timer::PingTimeout);
        if let Some(interval) = self.core.config.ping_interval.filter(|_| self.core.ready()) {
            self.core.timers.set(Timer::Ping, now + interval);
        }
    }

    /// Parses what the reader holds; `unfed` is what the caller still has
    /// that the reader has not seen.
    fn run(&mut self, unfed: &[u8]) {
        self.process();
        if self.core.phase == Phase::Handoff {
            // Bytes behind <proceed/> (or <starttls/>): never processed as
            // plaintext (HARDENING 11, 29). Whitespace alone carries
            // nothing and is dropped (go-xmpp writes `<starttls/>\n`).
            let whitespace = crate::xml::is_xml_whitespace(unfed) && self.core.framing.unconsumed_is_whitespace();
            if !whitespace {
                return self.fail(Violation::DataAfterProceed.into());
            }
            self.core.phase = Phase::Handshake;
            self.core.tls_request = Some(TlsRequest { side: self.role.tls_side() });
        }
    }

    fn process(&mut self) {
        while matches!(self.core.phase, Phase::Open | Phase::Closing)
            && self.core.out.has_room(self.core.framing.offset())
        {
            if self.core.out.backlogged() {
                return self.fail(Violation::OutboundBacklog.into());
            }
            match self.core.framing.next() {
                Ok(None) => return,
                Ok(Some(Frame::Open(header))) => self.on_header(header),
                Ok(Some(Frame::NotAStream(header))) => {
                    self.role.note_peer(&header);
                    let detail = "the root element is not <stream:stream>";
                    let condition = StreamErrorCondition::InvalidNamespace;
                    self.fail(Fault::Violation(Violation::Header { condition, detail }));
                }
                Ok(Some(Frame::Element(element))) if element.is("error", ns::STREAMS) => self.on_peer_error(&element),
                Ok(Some(Frame::Element(element))) => self.hook(|role, core| role.on_element(core, element)),
                Ok(Some(Frame::Close)) => self.on_peer_close(CloseReason::Clean),
                Ok(Some(Frame::SeeOtherUri(uri))) => self.on_peer_close(CloseReason::SeeOtherUri(uri)),
                Err(e) => self.fail(Violation::from(e).into()),
            }
        }
    }

    /// Runs a role hook, then carries out the moves it queued, then ends
    /// the stream if it found a fault.
    pub(crate) fn hook(&mut self, f: impl FnOnce(&mut R, &mut Core) -> Result<(), Fault>) {
        let result = f(&mut self.role, &mut self.core);
        let applied = self.apply_actions();
        if let Err(fault) = result.and(applied) {
            self.fail(fault);
        }
    }

    fn apply_actions(&mut self) -> Result<(), Fault> {
        while !self.core.actions.is_empty() {
            let actions = core::mem::take(&mut self.core.actions);
            for action in actions {
                if self.core.is_over() {
                    return Ok(());
                }
                self.apply(&action)?;
                if let Action::Authenticated(_) = action {
                    self.role.on_authenticated(&mut self.core);
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, action: &Action) -> Result<(), Fault> {
        // After our close tag the stream only winds down (RFC 6120 §4.4): no
        // TLS, no restart, no going online (found in review).
        if self.core.phase == Phase::Closing && matches!(action, Action::StartTls | Action::Restart | Action::Online(_))
        {
            return Ok(());
        }
        match action {
            Action::Send(element) => self.core.write(element),
            Action::Event(event) => {
                let event = match event.clone() {
                    NegotiationEvent::Authenticated(a) => Event::Authenticated(a),
                    NegotiationEvent::AuthRequested(r) => Event::AuthRequested(r),
                    NegotiationEvent::AuthAttemptFailed(c) => Event::AuthAttemptFailed(c),
                    NegotiationEvent::BindRequested(b) => Event::BindRequested(b),
                    NegotiationEvent::FeatureNegotiated(ns) => Event::FeatureNegotiated(ns),
                };
                self.core.emit(event);
            }
            Action::StartTls => self.core.phase = Phase::Handoff,
            Action::Restart => {
                // RFC 6120 §4.3.3: both streams start over, keeping bytes
                // already received.
                self.core.framing.restart();
                self.new_stream();
            }
            Action::Authenticated(account) => {
                self.core.state.insert(StreamState::AUTHENTICATED);
                self.core.session.set_account(Some(account.clone()));
            }
            Action::Bound(jid) => {
                self.core.state.insert(StreamState::BOUND);
                self.core.session.set_jid(jid.clone());
            }
            Action::Online(jid) => self.core.go_online(jid.clone()),
        }
        Ok(())
    }

    /// A new stream begins (after TLS, after SASL).
    fn new_stream(&mut self) {
        self.core.header_sent = false;
        self.core.header_received = false;
        self.hook(|role, core| role.start(core));
    }

    /// RFC 6120 §4.7–§4.8: what every role checks on the peer's header;
    /// the role checks the rest.
    fn on_header(&mut self, header: Header) {
        use StreamErrorCondition as C;
        let fault = |condition, detail| Fault::Violation(Violation::Header { condition, detail });
        if self.core.header_received {
            return self.fail(fault(C::NotWellFormed, "a second stream header"));
        }
        self.core.header_received = true;
        self.role.note_peer(&header);
        if header.content_ns.as_ref().is_some_and(|ns| ns.as_str() != self.role.content_ns()) {
            return self.fail(fault(C::InvalidNamespace, "not the content namespace of this stream"));
        }
        // RFC 6120 §4.7.5: a stream of version 1.x, whatever the role that
        // requires one.
        if self.role.requires_version() && header.major_version() != Some(1) {
            return self.fail(fault(C::UnsupportedVersion, "version is not 1.x"));
        }
        self.hook(|role, core| role.on_header(core, header));
    }

    fn on_peer_error(&mut self, element: &Element) {
        let error = StreamError::from_element(element);
        // RFC 6120 §4.9.1.1: the peer closes its stream after the error; so
        // do we.
        self.ensure_header();
        if self.core.phase != Phase::Closing {
            self.core.write_close();
        }
        self.finish(CloseReason::StreamError(error));
    }

    /// The peer closed its stream; `clean` is what that means when we did
    /// not close first (RFC 7395's `see-other-uri` says more).
    fn on_peer_close(&mut self, clean: CloseReason) {
        // RFC 6120 §4.4: answer with our own close tag, then we are done.
        let reason = match self.core.phase {
            Phase::Closing => self.core.closing_reason.take().unwrap_or(clean),
            _ => {
                self.ensure_header();
                self.core.write_close();
                clean
            }
        };
        self.finish(reason);
    }

    /// The receiving entity's header, before anything it writes on a stream
    /// it has not answered yet (RFC 6120 §4.9.1.2).
    fn ensure_header(&mut self) {
        if !self.core.header_sent && self.role.receiving() {
            self.role.write_header(&mut self.core);
        }
    }

    /// A fault: the stream error it calls for (where anything may be
    /// written at all), the close tag, the end.
    pub(crate) fn fail(&mut self, fault: Fault) {
        if self.core.is_over() {
            return;
        }
        let (condition, reason) = match fault {
            Fault::Violation(v) => {
                // Plaintext where TLS was due: nothing more, not even a close.
                let write = v != Violation::DataAfterProceed;
                (
                    write.then(|| v.condition().unwrap_or(StreamErrorCondition::UndefinedCondition)),
                    CloseReason::Violation(v),
                )
            }
            Fault::Negotiation(n) => (n.condition(), CloseReason::Negotiation(n)),
        };
        let plaintext_ok = matches!(self.core.phase, Phase::Open | Phase::Closing);
        let silent = matches!(&reason, CloseReason::Violation(Violation::DataAfterProceed));
        if plaintext_ok && !silent {
            self.ensure_header();
            if let Some(condition) = condition
                && let Ok(el) = StreamError::new(condition).to_element()
            {
                self.core.write(&el);
            }
            if self.core.phase != Phase::Closing {
                self.core.write_close();
            }
        }
        self.finish(reason);
    }

    /// A deadline ended the stream: `connection-timeout` (RFC 6120
    /// §4.9.3.4), unless nothing may be written.
    fn time_out(&mut self, kind: TimeoutKind) {
        if matches!(self.core.phase, Phase::Open | Phase::Closing) {
            self.ensure_header();
            if let Ok(el) = StreamError::new(StreamErrorCondition::ConnectionTimeout).to_element() {
                self.core.write(&el);
            }
            if self.core.phase != Phase::Closing {
                self.core.write_close();
            }
        }
        self.finish(CloseReason::Timeout(kind));
    }

    fn finish(&mut self, reason: CloseReason) {
        if self.core.is_over() {
            return;
        }
        self.core.close = Some(reason);
        self.core.phase = Phase::Closed;
        self.core.timers.clear_all();
        self.core.tls_request = None;
    }

    /// Pings the peer (XEP-0199). The timeout, which any input clears, is
    /// what detects a dead peer, so it is armed even when the ping cannot be
    /// tracked (the table is full, or an earlier ping is unanswered): an
    /// untracked answer is just dropped. Skipping the ping instead would
    /// leave the timer due forever (found reviewing the fuzz targets'
    /// timer invariant).
    fn ping(&mut self) {
        self.core.timers.clear(Timer::Ping);
        if !self.core.ready() || self.core.phase != Phase::Open {
            return;
        }
        let (to, from) = self.role.ping_addresses(&self.core);
        let id = self.core.entropy.stanza_id();
        let mut iq = Iq::get(to.clone(), Element::new("ping", ns::PING));
        iq.set_from(from);
        if iq.set_id(Some(&id)).is_ok() {
            self.core.write_iq(iq);
        }
        let deadline = self.core.now + self.core.config.ping_timeout;
        self.core.timers.set(Timer::PingTimeout, deadline);
        if !self.core.session.ping_pending() && self.core.session.can_track() {
            self.core.session.track(RequestId::new(id), to, deadline, Purpose::Ping);
        }
    }

    fn keepalive(&mut self) {
        self.core.timers.clear(Timer::Keepalive);
        if self.core.phase == Phase::Open && self.core.ready() {
            // RFC 6120 §4.6.1: whitespace between elements.
            self.core.out.unit().push(' ');
            self.core.committed();
        }
    }
}
