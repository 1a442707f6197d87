//! The initiating side of a client-to-server stream (RFC 6120 §9.1):
//! stream open, STARTTLS, SASL, resource binding, then stanzas.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::iq::{IqResponse, Outstanding, Owed, Pending, Purpose};
use super::stream::XmlStream;
use super::{AuthError, Authenticated, CloseReason, ConfigError, Event, ProtocolError, SendError, TimeoutKind};
use crate::condition::{StanzaErrorCondition, StanzaErrorType, StreamErrorCondition};
use crate::entropy::Entropy;
use crate::jid::{BareJid, FullJid, Jid};
use crate::negotiation::{self, Requirement, StreamFeatures};
use crate::ns;
use crate::sasl::scram::{ClientChecks, ClientSecret, ssdp_hash};
use crate::sasl::{
    BindingOutcome, Capabilities, ChannelBinding, ChannelBindingPolicy, Credentials, Mechanism, Offer, SaslClient,
    ScramHash, Step, select,
};
use crate::stanza::{Iq, IqType, Message, Presence, Stanza, StanzaError, StanzaParseError, StreamError};
use crate::time::Timestamp;
use crate::xml::{Element, Limits, Namespace, StreamEvent, StreamHeader};

/// When to use TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsMode {
    /// STARTTLS is mandatory: without it the client stops before sending
    /// any credentials (HARDENING 10).
    #[default]
    Required,
    /// STARTTLS when the server offers it, plaintext otherwise.
    Optional,
    /// Never negotiate TLS (tests, loopback, transports secured otherwise).
    Disabled,
    /// The transport is TLS from its first byte (XEP-0368): call
    /// [`Client::tls_established`] before anything else.
    Direct,
}

/// When the stream header carries `from` (RFC 6120 §4.7.1: a client
/// SHOULD include it once the stream is encrypted, to avoid revealing the
/// account in plaintext).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SendFrom {
    /// Never.
    Never,
    /// Only once TLS is established.
    #[default]
    AfterTls,
    /// Always, plaintext too.
    Always,
}

/// How a [`Client`] connects. Build with [`ClientConfig::new`] and adjust
/// the fields.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The account. A full JID also requests its resource.
    pub jid: Jid,
    /// Password and/or cached SCRAM keys.
    pub credentials: Credentials,
    /// When to use TLS.
    pub tls: TlsMode,
    /// Allowed SASL mechanisms, in preference order.
    pub mechanisms: Vec<Mechanism>,
    /// What to do about channel binding.
    pub channel_binding: ChannelBindingPolicy,
    /// Allow PLAIN on an unencrypted stream (HARDENING 16: off by default).
    pub allow_plain_without_tls: bool,
    /// When to put `from` on the stream header.
    pub send_from: SendFrom,
    /// `xml:lang` of our stream.
    pub lang: String,
    /// Limits on what the server may make us hold.
    pub limits: Limits,
    /// IQs we may have outstanding at once.
    pub max_pending_iqs: usize,
    /// IQ requests we may owe answers for at once; beyond that they are
    /// answered with `resource-constraint`.
    pub max_owed_iqs: usize,
    /// Bytes the application may queue before sends are refused.
    /// Answers the core owes still go out beyond it; a peer that makes
    /// the queue reach twice this (and at least 64 KiB more) without
    /// reading is cut off with `resource-constraint` (HARDENING 28).
    pub max_outbound_bytes: usize,
    /// How long to wait for an IQ response.
    pub iq_timeout: Duration,
    /// Send a whitespace keepalive after this long without sending.
    pub keepalive_interval: Option<Duration>,
    /// Send a XEP-0199 ping after this long without receiving.
    pub ping_interval: Option<Duration>,
    /// How long to wait for any traffic after a ping before giving up.
    pub ping_timeout: Duration,
    /// How long to wait for the server's `</stream:stream>`.
    pub close_timeout: Duration,
    /// How long from creation until online (TLS, SASL, binding, all
    /// together): a server that goes silent mid-negotiation ends the
    /// connection with `connection-timeout` instead of hanging it.
    pub negotiation_timeout: Duration,
    /// Smallest SCRAM iteration count accepted (RFC 5802 §5.1: 4096).
    pub min_scram_iterations: u32,
    /// Largest SCRAM iteration count accepted: bounds the work a hostile
    /// server can demand (HARDENING 14).
    pub max_scram_iterations: u32,
    /// If set, get/set IQs whose payload namespace is not listed (nor
    /// added with [`Client::handle_iq_namespace`]) are answered with
    /// `service-unavailable` (RFC 6120 §8.2.3) instead of delivered.
    pub iq_namespaces: Option<Vec<String>>,
    /// Answer XEP-0199 pings from the server.
    pub answer_pings: bool,
}

impl ClientConfig {
    /// A configuration with safe defaults: TLS required, SCRAM preferred,
    /// PLAIN only over TLS.
    pub fn new(jid: Jid, credentials: Credentials) -> ClientConfig {
        ClientConfig {
            jid,
            credentials,
            tls: TlsMode::Required,
            mechanisms: Mechanism::PASSWORD.to_vec(),
            channel_binding: ChannelBindingPolicy::default(),
            allow_plain_without_tls: false,
            send_from: SendFrom::AfterTls,
            lang: "en".into(),
            limits: Limits::default(),
            max_pending_iqs: 256,
            max_owed_iqs: 64,
            max_outbound_bytes: 1 << 20,
            iq_timeout: Duration::from_secs(60),
            keepalive_interval: Some(Duration::from_secs(60)),
            ping_interval: Some(Duration::from_secs(300)),
            ping_timeout: Duration::from_secs(60),
            close_timeout: Duration::from_secs(10),
            negotiation_timeout: Duration::from_secs(60),
            min_scram_iterations: 4096,
            max_scram_iterations: 1_000_000,
            iq_namespaces: None,
            answer_pings: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Direct TLS: the stream starts after `tls_established`.
    AwaitingDirectTls,
    /// Our header is out; the server's is due.
    AwaitingHeader,
    /// The server's header is in; its features are due.
    AwaitingFeatures,
    /// `<starttls/>` is out; `<proceed/>` or `<failure/>` is due.
    StartTls,
    /// `<proceed/>` is in; the hand-off is checked once parsing stops.
    ProceedReceived,
    /// `<proceed/>` is in: the driver runs the TLS handshake.
    TlsHandshake,
    /// `<auth/>` is out.
    Sasl,
    /// A bind request with this id is out; `retried` once we fell back to
    /// a server-chosen resource.
    Binding {
        id: String,
        retried: bool,
    },
    /// A session request with this id is out.
    Session {
        id: String,
    },
    Online,
    /// Our `</stream:stream>` is out; the server's is due.
    Closing,
    Closed,
}

/// The SASL exchange in progress.
struct SaslState {
    client: SaslClient,
    mechanism: Mechanism,
    outcome: BindingOutcome,
}

/// The client role of a c2s connection, as a sans-IO state machine.
///
/// See the [module documentation](super) for how to drive it.
pub struct Client {
    config: ClientConfig,
    entropy: Box<dyn Entropy + Send>,
    account: BareJid,
    stream: XmlStream<Event>,
    phase: Phase,
    /// TLS is up; its channel-binding data.
    secure: bool,
    binding: ChannelBinding,
    authenticated: bool,
    features: StreamFeatures,
    stream_id: Option<String>,
    sasl: Option<SaslState>,
    jid: Option<FullJid>,
    outstanding: Outstanding,
    owed: Owed,
    iq_namespaces: Option<Vec<String>>,
    /// A ping is out and nothing has arrived since it was sent.
    ping_deadline: Option<Timestamp>,
    close_deadline: Option<Timestamp>,
    /// Online by then, or the connection ends (cleared once online).
    negotiation_deadline: Option<Timestamp>,
}

impl Client {
    /// Creates the connection and (unless TLS is direct) queues the stream
    /// header. `entropy` must be cryptographically secure in production.
    pub fn new(config: ClientConfig, entropy: Box<dyn Entropy + Send>, now: Timestamp) -> Result<Client, ConfigError> {
        if config.mechanisms.is_empty() {
            return Err(ConfigError::NoMechanisms);
        }
        if config.min_scram_iterations > config.max_scram_iterations {
            return Err(ConfigError::IterationBounds);
        }
        let account = config.jid.to_bare();
        let content = Namespace::from_static(ns::CLIENT);
        let stream = XmlStream::new(config.limits, content, config.max_outbound_bytes, now);
        let mut client = Client {
            outstanding: Outstanding::new(config.max_pending_iqs),
            owed: Owed::new(config.max_owed_iqs),
            iq_namespaces: config.iq_namespaces.clone(),
            account,
            stream,
            phase: Phase::AwaitingHeader,
            secure: false,
            binding: ChannelBinding::none(),
            authenticated: false,
            features: StreamFeatures::default(),
            stream_id: None,
            sasl: None,
            jid: None,
            ping_deadline: None,
            close_deadline: None,
            negotiation_deadline: Some(now + config.negotiation_timeout),
            entropy,
            config,
        };
        if client.config.tls == TlsMode::Direct {
            client.phase = Phase::AwaitingDirectTls;
        } else {
            client.open_stream(now);
        }
        Ok(client)
    }

    // ----- getters -----

    /// The bound address, once online.
    pub fn jid(&self) -> Option<&FullJid> {
        self.jid.as_ref()
    }

    /// The account.
    pub fn account(&self) -> &BareJid {
        &self.account
    }

    /// The name the server's TLS certificate must match: always the
    /// account's domain, whatever host the transport reached (RFC 6125;
    /// HARDENING 12: a `see-other-host` redirect does not change it).
    pub fn tls_server_name(&self) -> &str {
        self.account.domain()
    }

    /// True once TLS is established.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The id the server gave the current stream.
    pub fn stream_id(&self) -> Option<&str> {
        self.stream_id.as_deref()
    }

    /// True once the final `Closed` event has been queued.
    pub fn is_closed(&self) -> bool {
        self.stream.is_closed()
    }

    // ----- output -----

    /// The next event, if any. Input that arrived while events were
    /// waiting is parsed here, once they have been taken.
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.stream.events_drained() {
            self.run(self.stream.last_rx, false);
        }
        self.stream.poll_event()
    }

    /// Bytes waiting to be written to the transport.
    pub fn pending_tx(&self) -> &[u8] {
        self.stream.pending_tx()
    }

    /// Marks `n` bytes of [`pending_tx`](Client::pending_tx) as written.
    pub fn consume_tx(&mut self, n: usize) {
        self.stream.consume_tx(n)
    }

    /// When [`handle_timeout`](Client::handle_timeout) should next be
    /// called, if ever.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.stream.is_closed() {
            return None;
        }
        let mut next = self.outstanding.next_deadline();
        let mut consider = |t: Option<Timestamp>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        consider(self.close_deadline);
        consider(self.ping_deadline);
        consider(self.negotiation_deadline);
        if self.phase == Phase::Online {
            consider(self.config.keepalive_interval.map(|i| self.stream.last_tx + i));
            if self.ping_deadline.is_none() {
                consider(self.config.ping_interval.map(|i| self.stream.last_rx + i));
            }
        }
        next
    }

    // ----- input -----

    /// Bytes arrived from the server. Returns how many were taken: all of
    /// them, unless enough events wait to be polled (HARDENING 32); then
    /// poll the events and offer the rest again.
    #[must_use = "bytes not taken must be offered again once the events are polled"]
    pub fn handle_input(&mut self, now: Timestamp, data: &[u8]) -> usize {
        if self.stream.is_closed() || data.is_empty() {
            return data.len();
        }
        self.stream.last_rx = now;
        self.ping_deadline = None;
        if matches!(self.phase, Phase::TlsHandshake | Phase::AwaitingDirectTls) {
            // Plaintext where TLS was due (HARDENING 11).
            self.fail(now, ProtocolError::DataAfterProceed);
            return data.len();
        }
        let mut taken = 0;
        loop {
            self.run(now, taken < data.len());
            if self.stream.is_closed() {
                return data.len();
            }
            if self.phase == Phase::TlsHandshake || !self.stream.has_room() {
                return taken;
            }
            if !self.stream.feed_slice(data, &mut taken) {
                return taken;
            }
        }
    }

    /// Parses what the reader holds; `unfed` says the caller still has
    /// bytes the reader has not seen.
    fn run(&mut self, now: Timestamp, unfed: bool) {
        self.process(now);
        if self.phase == Phase::ProceedReceived {
            if unfed || self.stream.reader.unconsumed_len() > 0 {
                // Bytes behind <proceed/>: never processed as plaintext
                // (HARDENING 11).
                return self.fail(now, ProtocolError::DataAfterProceed);
            }
            self.phase = Phase::TlsHandshake;
            self.stream.push_event(Event::TlsRequested);
        }
    }

    fn process(&mut self, now: Timestamp) {
        while !self.stream.is_closed() && !matches!(self.phase, Phase::TlsHandshake | Phase::ProceedReceived) {
            match self.stream.next_input() {
                Ok(Some(StreamEvent::Open(header))) => self.on_header(now, header),
                Ok(Some(StreamEvent::Element(element))) => self.on_element(now, element),
                Ok(Some(StreamEvent::Close)) => self.on_peer_close(now),
                Ok(None) => break,
                Err(e) => self.fail(now, e),
            }
        }
    }

    /// The transport ended.
    pub fn handle_eof(&mut self, now: Timestamp) {
        let _ = now;
        let reason = if self.phase == Phase::Closing { CloseReason::Clean } else { CloseReason::Eof };
        self.phase = Phase::Closed;
        self.stream.finish(reason);
    }

    /// Time passed; acts on whatever timers are due.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.stream.is_closed() {
            return;
        }
        if self.close_deadline.is_some_and(|d| d <= now) {
            self.phase = Phase::Closed;
            return self.stream.finish(CloseReason::Timeout(TimeoutKind::Close));
        }
        if self.negotiation_deadline.is_some_and(|d| d <= now) {
            // Nothing more in plaintext while TLS is being set up.
            if !matches!(self.phase, Phase::TlsHandshake | Phase::AwaitingDirectTls) {
                self.stream.write_stream_error(now, &StreamError::new(StreamErrorCondition::ConnectionTimeout));
            }
            self.phase = Phase::Closed;
            return self.stream.finish(CloseReason::Timeout(TimeoutKind::Negotiation));
        }
        if self.ping_deadline.is_some_and(|d| d <= now) {
            // Nothing arrived since the ping went out: the peer is gone
            // (RFC 6120 §4.9.3.4).
            self.stream.write_stream_error(now, &StreamError::new(StreamErrorCondition::ConnectionTimeout));
            self.phase = Phase::Closed;
            return self.stream.finish(CloseReason::Timeout(TimeoutKind::Ping));
        }
        for expired in self.outstanding.expire(now) {
            if expired.purpose == Purpose::Application {
                self.stream.push_event(Event::IqTimeout(expired.id));
            }
        }
        if self.phase != Phase::Online {
            return;
        }
        if let Some(interval) = self.config.ping_interval
            && self.ping_deadline.is_none()
            && self.stream.last_rx + interval <= now
        {
            self.send_ping(now);
        }
        if let Some(interval) = self.config.keepalive_interval
            && self.stream.last_tx + interval <= now
        {
            self.stream.keepalive(now);
        }
    }

    /// TLS is established on the transport (after [`Event::TlsRequested`],
    /// or at the start with [`TlsMode::Direct`]); `binding` holds the
    /// channel-binding data the TLS stack could produce.
    pub fn tls_established(&mut self, now: Timestamp, binding: ChannelBinding) {
        if !matches!(self.phase, Phase::TlsHandshake | Phase::AwaitingDirectTls) || self.stream.is_closed() {
            return;
        }
        self.secure = true;
        self.binding = binding;
        // Forget everything learnt in plaintext (RFC 6120 §5.4.3.3).
        self.features = StreamFeatures::default();
        self.stream_id = None;
        self.stream.restart_after_tls();
        self.open_stream(now);
    }

    // ----- API -----

    /// Sends a stanza. `Online` only.
    pub fn send(&mut self, now: Timestamp, stanza: &Stanza) -> Result<(), SendError> {
        self.check_online()?;
        if let Stanza::Iq(iq) = stanza
            && iq.is_request()
        {
            // Requests are tracked so their answers can be matched.
            return self.send_request(now, iq.clone(), self.config.iq_timeout).map(|_| ());
        }
        self.stream.send_stanza(now, stanza)?;
        if let Stanza::Iq(iq) = stanza {
            // An answer written by hand settles the request it answers,
            // once it is on its way.
            self.owed.take(iq.request_id(), iq.to());
        }
        Ok(())
    }

    /// Sends a message.
    pub fn send_message(&mut self, now: Timestamp, message: &Message) -> Result<(), SendError> {
        self.send(now, &Stanza::Message(message.clone()))
    }

    /// Sends a presence.
    pub fn send_presence(&mut self, now: Timestamp, presence: &Presence) -> Result<(), SendError> {
        self.send(now, &Stanza::Presence(presence.clone()))
    }

    /// Sends a get or set IQ and returns its id (one is generated if it
    /// has none); the answer arrives as [`Event::IqResponse`] or
    /// [`Event::IqTimeout`].
    pub fn send_iq(&mut self, now: Timestamp, iq: Iq) -> Result<String, SendError> {
        self.send_request(now, iq, self.config.iq_timeout)
    }

    /// Sends a get or set IQ as given (its `from`, `xml:lang`, and its id
    /// unless empty, when one is generated), and returns the id; the
    /// answer arrives like one to [`send_iq`](Client::send_iq).
    pub fn send_request(&mut self, now: Timestamp, mut iq: Iq, timeout: Duration) -> Result<String, SendError> {
        self.check_online()?;
        if !iq.is_request() {
            return Err(SendError::NotARequest);
        }
        if self.outstanding.is_full() {
            return Err(SendError::TooManyPendingIqs);
        }
        if iq.request_id().is_empty() {
            // Generated ids are URL-safe base64.
            let _ = iq.set_id(Some(&self.entropy.stanza_id()));
        }
        let id = String::from(iq.request_id());
        if self.outstanding.contains_id(&id) {
            return Err(SendError::DuplicateId);
        }
        let to = iq.to().cloned();
        self.stream.send_stanza(now, &Stanza::Iq(iq))?;
        let pending = Pending { id: id.clone(), to, deadline: now + timeout, purpose: Purpose::Application };
        self.outstanding.insert(pending);
        Ok(id)
    }

    /// Answers a get or set IQ delivered as [`Event::IqRequest`]: with a
    /// result (and optional payload) or an error. Each request is answered
    /// once.
    pub fn respond_iq(
        &mut self,
        now: Timestamp,
        request: &Iq,
        response: Result<Option<Element>, StanzaError>,
    ) -> Result<(), SendError> {
        self.check_online()?;
        if !self.owed.contains(request.request_id(), request.from()) {
            return Err(SendError::UnknownRequest);
        }
        let answer = match response {
            Ok(payload) => request.result_for(payload),
            Err(error) => request.error_for(&error).map_err(SendError::InvalidXml)?,
        };
        // Answers are owed: they go out even when the buffer is full.
        self.stream.write_stanza(now, &Stanza::Iq(answer));
        self.owed.take(request.request_id(), request.from());
        Ok(())
    }

    /// Lets get/set IQs in `namespace` through to the application when
    /// [`ClientConfig::iq_namespaces`] is set.
    pub fn handle_iq_namespace(&mut self, namespace: &str) {
        if let Some(list) = &mut self.iq_namespaces
            && !list.iter().any(|n| n == namespace)
        {
            list.push(namespace.into());
        }
    }

    /// Closes the stream (RFC 6120 §4.4): `</stream:stream>` now, then
    /// `Closed` when the server answers or the close timeout passes.
    pub fn close(&mut self, now: Timestamp) -> Result<(), SendError> {
        if self.stream.is_closed() || self.stream.has_sent_close() {
            return Err(SendError::Closed);
        }
        self.stream.write_close(now);
        self.phase = Phase::Closing;
        self.close_deadline = Some(now + self.config.close_timeout);
        Ok(())
    }

    // ----- negotiation -----

    fn check_online(&self) -> Result<(), SendError> {
        match self.phase {
            _ if self.stream.is_closed() || self.stream.has_sent_close() => Err(SendError::Closed),
            Phase::Online => Ok(()),
            _ => Err(SendError::NotOnline),
        }
    }

    fn open_stream(&mut self, now: Timestamp) {
        let mut root = Element::new("stream", ns::STREAMS);
        let header = (|| {
            root.set_attr("to", self.account.domain())?;
            let from = match self.config.send_from {
                SendFrom::Never => false,
                SendFrom::AfterTls => self.secure,
                SendFrom::Always => true,
            };
            if from {
                root.set_attr("from", self.account.as_str())?;
            }
            root.set_attr("version", "1.0")?;
            root.set_attr_ns(Namespace::XML, "lang", self.config.lang.as_str())
        })();
        if header.is_err() {
            // Only a configured language with control characters gets here.
            root.remove_attr("lang");
        }
        self.stream.open(now, &root);
        self.phase = Phase::AwaitingHeader;
    }

    /// RFC 6120 §4.7–4.8: checks the server's stream header.
    fn on_header(&mut self, now: Timestamp, header: StreamHeader) {
        if self.phase != Phase::AwaitingHeader {
            return self.fail(
                now,
                ProtocolError::Header {
                    condition: StreamErrorCondition::NotWellFormed,
                    detail: "a second stream header",
                },
            );
        }
        if !header.root.is("stream", ns::STREAMS) {
            return self.fail(
                now,
                ProtocolError::Header {
                    condition: StreamErrorCondition::InvalidNamespace,
                    detail: "not a stream element",
                },
            );
        }
        if header.default_ns().is_some_and(|d| d.as_str() != ns::CLIENT) {
            return self.fail(
                now,
                ProtocolError::Header {
                    condition: StreamErrorCondition::InvalidNamespace,
                    detail: "content namespace is not jabber:client",
                },
            );
        }
        let major = header.root.attr("version").and_then(|v| v.split('.').next()).and_then(|m| m.parse::<u32>().ok());
        if major != Some(1) {
            return self.fail(
                now,
                ProtocolError::Header {
                    condition: StreamErrorCondition::UnsupportedVersion,
                    detail: "version is not 1.x",
                },
            );
        }
        self.stream_id = header.root.attr("id").map(String::from);
        self.phase = Phase::AwaitingFeatures;
    }

    fn on_element(&mut self, now: Timestamp, element: Element) {
        if negotiation::is_stream_error(&element) {
            let error = StreamError::from_element(&element);
            // The peer closes its stream after the error; so do we.
            self.stream.write_close(now);
            self.phase = Phase::Closed;
            return self.stream.finish(CloseReason::StreamError(error));
        }
        match self.phase.clone() {
            Phase::AwaitingFeatures if element.is("features", ns::STREAMS) => {
                self.features = StreamFeatures::from_element(&element);
                self.negotiate(now);
            }
            Phase::StartTls if element.ns() == ns::TLS => match element.name() {
                "proceed" => self.phase = Phase::ProceedReceived,
                "failure" => self.fail(now, ProtocolError::TlsFailed),
                _ => self.unexpected(now, &element),
            },
            Phase::Sasl if element.ns() == ns::SASL => self.on_sasl(now, &element),
            Phase::Binding { id, retried } if element.is("iq", ns::CLIENT) && element.attr("id") == Some(&id) => {
                self.on_bind_response(now, element, retried)
            }
            Phase::Session { id } if element.is("iq", ns::CLIENT) && element.attr("id") == Some(&id) => {
                self.on_session_response(now, element)
            }
            Phase::Online | Phase::Closing if crate::stanza::is_content_namespace(element.ns()) => {
                self.on_stanza(now, element)
            }
            // After our close tag, the server may still send stanzas we
            // ignore; anything else out of place is a fault.
            Phase::Closing => {}
            _ => self.unexpected(now, &element),
        }
    }

    fn unexpected(&mut self, now: Timestamp, element: &Element) {
        self.fail(now, ProtocolError::Unexpected { name: element.name().into(), ns: element.ns().as_str().into() })
    }

    /// Picks the next feature to negotiate from the server's offer.
    fn negotiate(&mut self, now: Timestamp) {
        if !self.secure {
            match (self.features.starttls, self.config.tls) {
                (Some(_), TlsMode::Required | TlsMode::Optional) => {
                    self.stream.write(now, &negotiation::starttls());
                    self.phase = Phase::StartTls;
                    return;
                }
                (None, TlsMode::Required) => return self.fail(now, ProtocolError::TlsUnavailable),
                (Some(Requirement::Required), TlsMode::Disabled) => {
                    return self.fail(now, ProtocolError::TlsRequiredByServer);
                }
                _ => {}
            }
        }
        // Nothing left that we can negotiate, but the server insists on a
        // feature we do not know: say so (RFC 6120 §4.9.3.23).
        let stuck = if self.authenticated { !self.features.bind } else { self.features.mechanisms.is_empty() };
        if let Some(feature) = self.features.unknown_required().filter(|_| stuck) {
            let error =
                ProtocolError::UnsupportedFeature { name: feature.name().into(), ns: feature.ns().as_str().into() };
            return self.fail(now, error);
        }
        if !self.authenticated {
            return self.start_sasl(now);
        }
        if !self.features.bind {
            return self.fail(now, ProtocolError::BindNotOffered);
        }
        let resource = self.config.jid.resource().map(String::from);
        self.send_bind(now, resource.as_deref(), false);
    }

    fn start_sasl(&mut self, now: Timestamp) {
        if self.features.mechanisms.is_empty() {
            return self.auth_failed(now, AuthError::NotOffered, false);
        }
        let cached: Vec<ScramHash> = self.config.credentials.scram_keys.iter().map(|k| k.hash).collect();
        let offer =
            Offer { mechanisms: &self.features.mechanisms, cb_types: self.features.channel_binding_types.as_deref() };
        let caps = Capabilities {
            allowed: &self.config.mechanisms,
            binding: &self.binding,
            secure: self.secure,
            plain_without_tls: self.config.allow_plain_without_tls,
            has_password: self.config.credentials.password.is_some(),
            cached_hashes: &cached,
            policy: self.config.channel_binding,
        };
        let selection = match select(offer, caps) {
            Ok(s) => s,
            Err(e) => return self.auth_failed(now, AuthError::Select(e), false),
        };
        let mechanism = selection.mechanism;
        let outcome = selection.outcome;
        let checks = ClientChecks {
            min_iterations: self.config.min_scram_iterations,
            max_iterations: self.config.max_scram_iterations,
            expected_ssdp: mechanism
                .scram_hash()
                .map(|h| ssdp_hash(h, &self.features.mechanisms, self.features.channel_binding_types.as_deref()))
                .unwrap_or_default(),
            require_ssdp: selection.require_ssdp,
        };
        let secret = ClientSecret {
            password: self.config.credentials.password.clone(),
            keys: self.config.credentials.scram_keys.clone(),
        };
        let username = self.account.local().unwrap_or_default();
        let nonce = if mechanism.scram_hash().is_some() { self.entropy.scram_nonce() } else { String::new() };
        let (client, initial) = match SaslClient::start(selection, username, secret, checks, nonce) {
            Ok(started) => started,
            Err(e) => return self.auth_failed(now, AuthError::Scram(e), false),
        };
        match negotiation::auth(mechanism.as_str(), Some(&initial)) {
            Ok(auth) => self.stream.write(now, &auth),
            Err(_) => {
                return self.auth_failed(now, AuthError::Scram(crate::sasl::ScramError::Malformed("name")), false);
            }
        }
        self.sasl = Some(SaslState { client, mechanism, outcome });
        self.phase = Phase::Sasl;
    }

    fn on_sasl(&mut self, now: Timestamp, element: &Element) {
        let Some(sasl) = self.sasl.as_mut() else { return self.unexpected(now, element) };
        match element.name() {
            "challenge" => {
                let data = match negotiation::sasl_data(element) {
                    Ok(d) => d.unwrap_or_default(),
                    Err(_) => return self.auth_failed(now, AuthError::IncorrectEncoding, true),
                };
                match sasl.client.challenge(&data) {
                    Ok(Step::Respond(reply)) => self.stream.write(now, &negotiation::response(&reply)),
                    Err(e) => self.auth_failed(now, AuthError::Scram(e), true),
                }
            }
            "success" => {
                let data = match negotiation::sasl_data(element) {
                    Ok(d) => d,
                    Err(_) => return self.auth_failed(now, AuthError::IncorrectEncoding, false),
                };
                match sasl.client.success(data.as_deref()) {
                    Ok(scram_keys) => {
                        let event =
                            Authenticated { mechanism: sasl.mechanism, channel_binding: sasl.outcome, scram_keys };
                        self.sasl = None;
                        self.authenticated = true;
                        self.stream.push_event(Event::Authenticated(event));
                        // RFC 6120 §6.4.6: restart the stream.
                        self.features = StreamFeatures::default();
                        self.stream.reader.reset();
                        self.open_stream(now);
                    }
                    // HARDENING 15: the server did not prove it knows the
                    // password; we are not authenticated.
                    Err(e) => self.auth_failed(now, AuthError::Scram(e), false),
                }
            }
            "failure" => {
                let (condition, text) = negotiation::sasl_failure(element);
                self.auth_failed(now, AuthError::Failure { condition, text }, false)
            }
            _ => self.unexpected(now, element),
        }
    }

    /// Ends the connection after a failed authentication; `abort` first
    /// tells the server we give up mid-exchange (RFC 6120 §6.4.4).
    fn auth_failed(&mut self, now: Timestamp, error: AuthError, abort: bool) {
        if abort {
            self.stream.write(now, &negotiation::abort());
        }
        self.sasl = None;
        self.stream.write_close(now);
        self.phase = Phase::Closed;
        self.stream.finish(CloseReason::AuthFailed(error));
    }

    fn send_bind(&mut self, now: Timestamp, resource: Option<&str>, retried: bool) {
        let id = self.entropy.stanza_id();
        let Ok(payload) = negotiation::bind_request(resource) else {
            // A configured resource is a prepared JID part: always legal.
            return self.send_bind(now, None, true);
        };
        let iq = Iq::set(None, payload).with_id(&id);
        if let Ok(iq) = iq {
            self.stream.write_stanza(now, &Stanza::Iq(iq));
        }
        self.phase = Phase::Binding { id, retried };
    }

    fn on_bind_response(&mut self, now: Timestamp, element: Element, retried: bool) {
        let iq = match Iq::from_element(element) {
            Ok(iq) => iq,
            Err(e) => return self.fail(now, ProtocolError::BindFailed(Box::new(StanzaError::new(e.condition())))),
        };
        match iq.type_() {
            IqType::Result => {
                let jid = negotiation::bound_jid(iq.payload()).and_then(|j| FullJid::new(&j).ok());
                // The server may pick the resource, and for ANONYMOUS the
                // localpart, but never another domain or account.
                let ours = jid.as_ref().is_some_and(|j| {
                    j.domain() == self.account.domain()
                        && (self.account.local().is_none() || j.local() == self.account.local())
                });
                match jid {
                    Some(jid) if ours => self.bound(now, jid),
                    _ => self.fail(now, ProtocolError::BadBoundJid),
                }
            }
            IqType::Error => {
                let error = iq.error().unwrap_or_else(|| StanzaError::new(StanzaErrorCondition::UndefinedCondition));
                // RFC 6120 §7.7.2: a submitted resource that conflicts or is
                // malformed; ask the server to choose, once (no loops).
                let retry =
                    matches!(error.condition, StanzaErrorCondition::Conflict | StanzaErrorCondition::BadRequest);
                if retry && !retried && self.config.jid.resource().is_some() {
                    self.send_bind(now, None, true);
                } else {
                    self.fail(now, ProtocolError::BindFailed(Box::new(error)));
                }
            }
            _ => {
                self.fail(now, ProtocolError::BindFailed(Box::new(StanzaError::new(StanzaErrorCondition::BadRequest))))
            }
        }
    }

    fn bound(&mut self, now: Timestamp, jid: FullJid) {
        self.jid = Some(jid);
        if self.features.session == Some(Requirement::Required) {
            let id = self.entropy.stanza_id();
            if let Ok(iq) = Iq::set(None, negotiation::session_request()).with_id(&id) {
                self.stream.write_stanza(now, &Stanza::Iq(iq));
            }
            self.phase = Phase::Session { id };
        } else {
            self.online();
        }
    }

    fn on_session_response(&mut self, now: Timestamp, element: Element) {
        let iq = match Stanza::from_element(element) {
            Ok(Stanza::Iq(iq)) => Some(iq),
            _ => None,
        };
        match iq.as_ref().map(|iq| (iq.type_(), iq.error())) {
            Some((IqType::Result, _)) => self.online(),
            Some((IqType::Error, Some(error))) => self.fail(now, ProtocolError::SessionFailed(Box::new(error))),
            _ => self
                .fail(now, ProtocolError::SessionFailed(Box::new(StanzaError::new(StanzaErrorCondition::BadRequest)))),
        }
    }

    fn online(&mut self) {
        self.phase = Phase::Online;
        self.negotiation_deadline = None;
        if let Some(jid) = self.jid.clone() {
            self.stream.push_event(Event::Online(jid));
        }
    }

    // ----- stanzas -----

    fn on_stanza(&mut self, now: Timestamp, element: Element) {
        let stanza = match Stanza::parse(element) {
            Ok(s) => s,
            Err(rejected) => return self.on_invalid_stanza(now, rejected.element, rejected.error),
        };
        match stanza {
            Stanza::Message(m) => {
                if is_forged_carbon(&m, &self.account) {
                    return; // HARDENING 22
                }
                self.stream.push_event(Event::Message(m));
            }
            Stanza::Presence(p) => self.stream.push_event(Event::Presence(p)),
            Stanza::Iq(iq) => self.on_iq(now, iq),
        }
    }

    fn on_invalid_stanza(&mut self, now: Timestamp, element: Element, error: StanzaParseError) {
        // An IQ request we can address still gets an answer (RFC 6120
        // §8.2.3); nothing is ever sent for results and errors.
        let request = element.is("iq", ns::CLIENT) && matches!(element.attr("type"), Some("get" | "set"));
        if let (true, Some(id)) = (request, element.attr("id")) {
            let mut answer = Element::new("iq", self.stream.content_ns().clone());
            let error_el = StanzaError::new(error.condition()).to_element(self.stream.content_ns());
            let built = (|| {
                if let Some(from) = element.attr("from").and_then(|f| Jid::new(f).ok()) {
                    answer.set_attr("to", from.as_str())?;
                }
                answer.set_attr("id", id)?;
                answer.set_attr("type", "error")
            })();
            if let (Ok(()), Ok(e)) = (built, error_el) {
                answer.append_child(e);
                self.stream.write(now, &answer);
            }
        }
        self.stream.push_event(Event::InvalidStanza { element, error });
    }

    fn on_iq(&mut self, now: Timestamp, iq: Iq) {
        if !iq.is_request() {
            // A response: it counts only if it answers one of ours, by id
            // and sender (HARDENING 19). Never answered (HARDENING 20).
            let Some(pending) = self.outstanding.take(iq.request_id(), iq.from(), &self.account) else { return };
            if pending.purpose == Purpose::Application {
                let (id, from) = (String::from(iq.request_id()), iq.from().cloned());
                let result = match iq.error() {
                    Some(error) => Err(error),
                    None => Ok(iq.into_payload()),
                };
                self.stream.push_event(Event::IqResponse(IqResponse { id, from, result }));
            }
            return;
        }
        let payload = iq.payload();
        let payload_ns = payload.map(|p| String::from(p.ns().as_str())).unwrap_or_default();
        // HARDENING 21 / RFC 6121 §2.1.6: a roster push only from our own
        // account.
        if payload.is_some_and(|p| p.is("query", ns::ROSTER)) && iq.from().is_some_and(|f| f != self.account.as_jid()) {
            return;
        }
        if self.owed.contains(iq.request_id(), iq.from()) {
            return; // a duplicate of a request we still owe an answer to
        }
        if payload.is_some_and(|p| p.is("ping", ns::PING)) && self.config.answer_pings {
            return self.answer(now, &iq, Ok(None));
        }
        let registered = self.iq_namespaces.as_ref().is_none_or(|list| list.contains(&payload_ns));
        if !registered {
            // RFC 6120 §8.2.3: nobody here handles it.
            return self.answer(now, &iq, Err(StanzaError::new(StanzaErrorCondition::ServiceUnavailable)));
        }
        if !self.owed.insert(iq.request_id(), iq.from()) {
            let busy = StanzaError::with_type(StanzaErrorType::Wait, StanzaErrorCondition::ResourceConstraint);
            return self.answer(now, &iq, Err(busy));
        }
        self.stream.push_event(Event::IqRequest(iq));
    }

    /// Answers a request on the core's own behalf.
    fn answer(&mut self, now: Timestamp, request: &Iq, response: Result<Option<Element>, StanzaError>) {
        let answer = match response {
            Ok(payload) => Ok(request.result_for(payload)),
            Err(error) => request.error_for(&error),
        };
        if let Ok(answer) = answer {
            self.stream.write_stanza(now, &Stanza::Iq(answer));
        }
    }

    /// Pings the server (XEP-0199). The deadline, which any traffic clears,
    /// is what detects a dead peer, so it is set even when the ping cannot
    /// be tracked (the pending table is full, or an earlier ping is still
    /// unanswered): an untracked answer is just dropped. Skipping the ping
    /// instead would leave the ping timer due forever (found reviewing the
    /// fuzz targets' timer invariant).
    fn send_ping(&mut self, now: Timestamp) {
        let id = self.entropy.stanza_id();
        let to = Jid::new(self.account.domain()).ok();
        if let Ok(iq) = Iq::get(to.clone(), Element::new("ping", ns::PING)).with_id(&id) {
            self.stream.write_stanza(now, &Stanza::Iq(iq));
        }
        self.ping_deadline = Some(now + self.config.ping_timeout);
        if !self.outstanding.has_purpose(Purpose::Ping) && !self.outstanding.is_full() {
            let deadline = now + self.config.ping_timeout;
            self.outstanding.insert(Pending { id, to, deadline, purpose: Purpose::Ping });
        }
    }

    // ----- ending -----

    fn on_peer_close(&mut self, now: Timestamp) {
        // RFC 6120 §4.4: answer with our own close tag, then we are done.
        self.stream.write_close(now);
        self.phase = Phase::Closed;
        self.stream.finish(CloseReason::Clean);
    }

    /// A fault on this side's account of the peer: stream error (where
    /// there is one), close tag, `Closed`.
    fn fail(&mut self, now: Timestamp, error: ProtocolError) {
        match error.condition() {
            Some(condition) => self.stream.write_stream_error(now, &StreamError::new(condition)),
            None if error == ProtocolError::DataAfterProceed => {} // nothing more in plaintext
            None => self.stream.write_close(now),
        }
        self.phase = Phase::Closed;
        self.stream.finish(CloseReason::Protocol(error));
    }
}

/// XEP-0280 §11: a carbon copy (`<received/>` or `<sent/>`) counts only if
/// our own account sent it; anyone else could forge messages that way
/// (HARDENING 22).
fn is_forged_carbon(message: &Message, account: &BareJid) -> bool {
    const CARBONS: &str = "urn:xmpp:carbons:2";
    let is_carbon = message.payloads().any(|p| p.ns() == CARBONS && matches!(p.name(), "received" | "sent"));
    is_carbon && message.from() != Some(account.as_jid())
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("account", &self.account)
            .field("phase", &self.phase)
            .field("secure", &self.secure)
            .field("jid", &self.jid)
            .finish_non_exhaustive()
    }
}
