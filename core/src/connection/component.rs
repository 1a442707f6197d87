//! The Jabber Component Protocol (XEP-0114), both sides: a [`Component`]
//! connects to a server and authenticates with a handshake digest of the
//! stream id and a shared secret; a [`ComponentServer`] accepts it. Streams
//! use the `jabber:component:accept` content namespace, have no stream
//! features, and stanzas carry explicit `from` and `to`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;
use core::time::Duration;

use super::stream::XmlStream;
use super::{CloseReason, ConfigError, ProtocolError, SendError, TimeoutKind};
use crate::condition::StreamErrorCondition;
use crate::entropy::Entropy;
use crate::jid::{BareJid, Jid};
use crate::ns;
use crate::sasl::ScramHash;
use crate::sasl::scram::constant_time_eq;
use crate::stanza::{Stanza, StreamError};
use crate::time::Timestamp;
use crate::xml::{Element, Limits, Namespace, StreamEvent, StreamHeader};

/// The handshake digest (XEP-0114 §3): lower-case hex of
/// SHA-1(stream id ‖ secret).
pub fn handshake_digest(stream_id: &str, secret: &str) -> String {
    let mut input = String::with_capacity(stream_id.len() + secret.len());
    input.push_str(stream_id);
    input.push_str(secret);
    let mut hex = String::with_capacity(40);
    for b in ScramHash::Sha1.hash(input.as_bytes()) {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// Something that happened on a component stream (either side).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
// Events are moved once, from the queue to the application: boxing the
// stanza would cost an allocation per stanza for nothing.
#[allow(clippy::large_enum_variant)]
pub enum ComponentEvent {
    /// The handshake succeeded: stanzas flow. On the server side, names
    /// the component.
    Online(BareJid),
    /// A stanza arrived.
    Stanza(Stanza),
    /// The connection is over; the last event, exactly once.
    Closed(CloseReason),
}

impl From<CloseReason> for ComponentEvent {
    fn from(reason: CloseReason) -> ComponentEvent {
        ComponentEvent::Closed(reason)
    }
}

/// How a [`Component`] connects.
#[derive(Clone, Debug)]
pub struct ComponentConfig {
    /// The component's address (`plays.shakespeare.lit`).
    pub domain: BareJid,
    /// The secret shared with the server.
    pub secret: String,
    /// Limits on what the server may make us hold.
    pub limits: Limits,
    /// Bytes queued before sends are refused.
    pub max_outbound_bytes: usize,
    /// How long to wait for the server's `</stream:stream>`.
    pub close_timeout: Duration,
    /// How long from creation until the handshake is accepted; then the
    /// connection ends with `connection-timeout` (HARDENING 31).
    pub negotiation_timeout: Duration,
}

impl ComponentConfig {
    /// A configuration with defaults.
    pub fn new(domain: BareJid, secret: impl Into<String>) -> ComponentConfig {
        ComponentConfig {
            domain,
            secret: secret.into(),
            limits: Limits::default(),
            max_outbound_bytes: 1 << 20,
            close_timeout: Duration::from_secs(10),
            negotiation_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    AwaitingHeader,
    AwaitingHandshake,
    Online,
    Closing,
    Closed,
}

fn content_ns() -> Namespace {
    Namespace::from_static(ns::COMPONENT_ACCEPT)
}

/// Checks the stream header both sides expect: `stream` in the stream
/// namespace, `jabber:component:accept` content.
fn check_header(header: &StreamHeader) -> Result<(), ProtocolError> {
    let condition = StreamErrorCondition::InvalidNamespace;
    if !header.root.is("stream", ns::STREAMS) {
        return Err(ProtocolError::Header { condition, detail: "not a stream element" });
    }
    if header.default_ns().is_some_and(|d| d.as_str() != ns::COMPONENT_ACCEPT) {
        return Err(ProtocolError::Header { condition, detail: "content namespace is not jabber:component:accept" });
    }
    Ok(())
}

/// The component side of XEP-0114.
pub struct Component {
    config: ComponentConfig,
    stream: XmlStream<ComponentEvent>,
    phase: Phase,
    close_deadline: Option<Timestamp>,
    negotiation_deadline: Option<Timestamp>,
}

impl Component {
    /// Creates the connection and queues the stream header.
    pub fn new(config: ComponentConfig, now: Timestamp) -> Component {
        let mut stream = XmlStream::new(config.limits, content_ns(), config.max_outbound_bytes, now);
        let mut root = Element::new("stream", ns::STREAMS);
        // A prepared domainpart is always legal character data.
        let _ = root.set_attr("to", config.domain.as_str());
        stream.open(now, &root);
        let negotiation_deadline = Some(now + config.negotiation_timeout);
        Component { config, stream, phase: Phase::AwaitingHeader, close_deadline: None, negotiation_deadline }
    }

    /// The next event. Input that arrived while events were waiting is
    /// parsed here, once they have been taken.
    pub fn poll_event(&mut self) -> Option<ComponentEvent> {
        if self.stream.events_drained() {
            self.process(self.stream.last_rx);
        }
        self.stream.poll_event()
    }
    /// Bytes to write.
    pub fn pending_tx(&self) -> &[u8] {
        self.stream.pending_tx()
    }
    /// Marks bytes as written.
    pub fn consume_tx(&mut self, n: usize) {
        self.stream.consume_tx(n)
    }
    /// When [`handle_timeout`](Component::handle_timeout) is due.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let next = [self.close_deadline, self.negotiation_deadline].into_iter().flatten().min();
        next.filter(|_| !self.stream.is_closed())
    }
    /// True once `Closed` has been queued.
    pub fn is_closed(&self) -> bool {
        self.stream.is_closed()
    }

    /// Bytes arrived from the server. Returns how many were taken: all of
    /// them, unless enough events wait to be polled (HARDENING 32); then
    /// poll the events and offer the rest again.
    #[must_use = "bytes not taken must be offered again once the events are polled"]
    pub fn handle_input(&mut self, now: Timestamp, data: &[u8]) -> usize {
        self.stream.last_rx = now;
        let mut taken = 0;
        loop {
            self.process(now);
            if self.stream.is_closed() {
                return data.len();
            }
            if !self.stream.has_room() || !self.stream.feed_slice(data, &mut taken) {
                return taken;
            }
        }
    }

    fn process(&mut self, now: Timestamp) {
        while !self.stream.is_closed() {
            match self.stream.next_input() {
                Ok(Some(StreamEvent::Open(header))) => match (self.phase, check_header(&header)) {
                    (Phase::AwaitingHeader, Ok(())) => {
                        // Without an id the digest would be the same on
                        // every connection: a replayable password.
                        let Some(id) = header.root.attr("id").filter(|id| !id.is_empty()) else {
                            let condition = StreamErrorCondition::BadFormat;
                            self.fail(now, ProtocolError::Header { condition, detail: "no stream id" });
                            continue;
                        };
                        let digest = handshake_digest(id, &self.config.secret);
                        let handshake = Element::new("handshake", ns::COMPONENT_ACCEPT).with_text(&digest);
                        if let Ok(h) = handshake {
                            self.stream.write(now, &h);
                        }
                        self.phase = Phase::AwaitingHandshake;
                    }
                    (_, Err(e)) => self.fail(now, e),
                    _ => self.fail(now, second_header()),
                },
                Ok(Some(StreamEvent::Element(el))) => self.on_element(now, el),
                Ok(Some(StreamEvent::Close)) => {
                    self.stream.write_close(now);
                    self.phase = Phase::Closed;
                    self.stream.finish(CloseReason::Clean);
                }
                Ok(None) => break,
                Err(e) => self.fail(now, e),
            }
        }
    }

    fn on_element(&mut self, now: Timestamp, el: Element) {
        if el.is("error", ns::STREAMS) {
            self.stream.write_close(now);
            self.phase = Phase::Closed;
            return self.stream.finish(CloseReason::StreamError(StreamError::from_element(&el)));
        }
        match self.phase {
            Phase::AwaitingHandshake if el.is("handshake", ns::COMPONENT_ACCEPT) => {
                self.phase = Phase::Online;
                self.negotiation_deadline = None;
                self.stream.push_event(ComponentEvent::Online(self.config.domain.clone()));
            }
            Phase::Online | Phase::Closing => match Stanza::parse(el) {
                Ok(stanza) => self.stream.push_event(ComponentEvent::Stanza(stanza)),
                Err(rejected) => {
                    let (name, ns) = (rejected.element.name().into(), rejected.element.ns().as_str().into());
                    self.fail(now, ProtocolError::Unexpected { name, ns })
                }
            },
            _ => {
                let (name, ns) = (el.name().into(), el.ns().as_str().into());
                self.fail(now, ProtocolError::Unexpected { name, ns })
            }
        }
    }

    /// The transport ended.
    pub fn handle_eof(&mut self, _now: Timestamp) {
        let reason = if self.phase == Phase::Closing { CloseReason::Clean } else { CloseReason::Eof };
        self.phase = Phase::Closed;
        self.stream.finish(reason);
    }

    /// Time passed.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.stream.is_closed() {
            return;
        }
        if self.close_deadline.is_some_and(|d| d <= now) {
            self.phase = Phase::Closed;
            self.stream.finish(CloseReason::Timeout(TimeoutKind::Close));
        } else if self.negotiation_deadline.is_some_and(|d| d <= now) {
            self.stream.write_stream_error(now, &StreamError::new(StreamErrorCondition::ConnectionTimeout));
            self.phase = Phase::Closed;
            self.stream.finish(CloseReason::Timeout(TimeoutKind::Negotiation));
        }
    }

    /// Sends a stanza (which must carry `from` and `to`). `Online` only.
    pub fn send(&mut self, now: Timestamp, stanza: &Stanza) -> Result<(), SendError> {
        if self.phase != Phase::Online {
            return Err(if self.stream.is_closed() { SendError::Closed } else { SendError::NotOnline });
        }
        self.stream.send_stanza(now, stanza)
    }

    /// Closes the stream.
    pub fn close(&mut self, now: Timestamp) -> Result<(), SendError> {
        if self.stream.is_closed() || self.stream.has_sent_close() {
            return Err(SendError::Closed);
        }
        self.stream.write_close(now);
        self.phase = Phase::Closing;
        self.close_deadline = Some(now + self.config.close_timeout);
        Ok(())
    }

    fn fail(&mut self, now: Timestamp, reason: ProtocolError) {
        let condition = reason.condition().unwrap_or(StreamErrorCondition::UndefinedCondition);
        self.stream.write_stream_error(now, &StreamError::new(condition));
        self.phase = Phase::Closed;
        self.stream.finish(CloseReason::Protocol(reason));
    }
}

fn second_header() -> ProtocolError {
    ProtocolError::Header { condition: StreamErrorCondition::NotWellFormed, detail: "a second stream header" }
}

/// A component the server accepts.
#[derive(Clone)]
#[non_exhaustive]
pub struct ComponentAccount {
    /// The component's domain.
    pub domain: String,
    /// The secret it shares with the server.
    pub secret: String,
    /// Whether its stanzas may come from subdomains of `domain` too (a
    /// gateway that serves `*.domain`). Off: one component must not speak
    /// for another one below it (HARDENING 33).
    pub subdomains: bool,
}

impl ComponentAccount {
    /// A component allowed its own domain only.
    pub fn new(domain: impl Into<String>, secret: impl Into<String>) -> ComponentAccount {
        ComponentAccount { domain: domain.into(), secret: secret.into(), subdomains: false }
    }
}

impl core::fmt::Debug for ComponentAccount {
    /// Never shows the secret.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ComponentAccount")
            .field("domain", &self.domain)
            .field("subdomains", &self.subdomains)
            .finish_non_exhaustive()
    }
}

/// How a [`ComponentServer`] accepts components.
#[derive(Clone, Debug)]
pub struct ComponentServerConfig {
    /// The components it accepts.
    pub components: Vec<ComponentAccount>,
    /// Limits on what a component may make us hold.
    pub limits: Limits,
    /// Bytes queued before sends are refused.
    pub max_outbound_bytes: usize,
    /// Close components that have not completed the handshake by then.
    pub pre_auth_timeout: Duration,
    /// How long to wait for the component's `</stream:stream>`.
    pub close_timeout: Duration,
}

impl ComponentServerConfig {
    /// Accepts one component.
    pub fn new(domain: impl Into<String>, secret: impl Into<String>) -> ComponentServerConfig {
        ComponentServerConfig {
            components: alloc::vec![ComponentAccount::new(domain, secret)],
            limits: Limits::default(),
            max_outbound_bytes: 1 << 20,
            pre_auth_timeout: Duration::from_secs(60),
            close_timeout: Duration::from_secs(10),
        }
    }
}

/// The server side of XEP-0114.
pub struct ComponentServer {
    config: ComponentServerConfig,
    entropy: alloc::boxed::Box<dyn Entropy + Send>,
    stream: XmlStream<ComponentEvent>,
    phase: Phase,
    opened: bool,
    stream_id: String,
    /// The component the header named, once it is known.
    component: Option<(BareJid, ComponentAccount)>,
    pre_auth_deadline: Option<Timestamp>,
    close_deadline: Option<Timestamp>,
}

impl ComponentServer {
    /// A connection for a component that just connected.
    pub fn new(
        config: ComponentServerConfig,
        entropy: alloc::boxed::Box<dyn Entropy + Send>,
        now: Timestamp,
    ) -> Result<ComponentServer, ConfigError> {
        if config.components.is_empty() {
            return Err(ConfigError::NoMechanisms);
        }
        let stream = XmlStream::new(config.limits, content_ns(), config.max_outbound_bytes, now);
        Ok(ComponentServer {
            pre_auth_deadline: Some(now + config.pre_auth_timeout),
            config,
            entropy,
            stream,
            phase: Phase::AwaitingHeader,
            opened: false,
            stream_id: String::new(),
            component: None,
            close_deadline: None,
        })
    }

    /// The next event. Input that arrived while events were waiting is
    /// parsed here, once they have been taken.
    pub fn poll_event(&mut self) -> Option<ComponentEvent> {
        if self.stream.events_drained() {
            self.process(self.stream.last_rx);
        }
        self.stream.poll_event()
    }
    /// Bytes to write.
    pub fn pending_tx(&self) -> &[u8] {
        self.stream.pending_tx()
    }
    /// Marks bytes as written.
    pub fn consume_tx(&mut self, n: usize) {
        self.stream.consume_tx(n)
    }
    /// When [`handle_timeout`](ComponentServer::handle_timeout) is due.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.stream.is_closed() {
            return None;
        }
        match (self.pre_auth_deadline, self.close_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
    /// True once `Closed` has been queued.
    pub fn is_closed(&self) -> bool {
        self.stream.is_closed()
    }

    /// Writes our header once; `from` only once the component named a
    /// domain we serve, so that nothing before that reveals which
    /// components exist (HARDENING 33).
    fn open(&mut self, now: Timestamp) {
        if self.opened {
            return;
        }
        self.opened = true;
        self.stream_id = self.entropy.stream_id();
        if self.stream_id.is_empty() {
            // An empty id would make every digest the same (XEP-0114 §3).
            let mut bytes = [0u8; 16];
            self.entropy.fill(&mut bytes);
            self.stream_id = bytes.iter().fold(String::new(), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            });
        }
        let mut root = Element::new("stream", ns::STREAMS);
        let from = self.component.as_ref().map(|(d, _)| d.as_str());
        let _ = from
            .map_or(Ok(()), |from| root.set_attr("from", from))
            .and_then(|()| root.set_attr("id", self.stream_id.as_str()));
        self.stream.open(now, &root);
    }

    /// Bytes arrived from the component. Returns how many were taken: all
    /// of them, unless enough events wait to be polled (HARDENING 32);
    /// then poll the events and offer the rest again.
    #[must_use = "bytes not taken must be offered again once the events are polled"]
    pub fn handle_input(&mut self, now: Timestamp, data: &[u8]) -> usize {
        self.stream.last_rx = now;
        let mut taken = 0;
        loop {
            self.process(now);
            if self.stream.is_closed() {
                return data.len();
            }
            if !self.stream.has_room() || !self.stream.feed_slice(data, &mut taken) {
                return taken;
            }
        }
    }

    fn process(&mut self, now: Timestamp) {
        while !self.stream.is_closed() {
            match self.stream.next_input() {
                Ok(Some(StreamEvent::Open(header))) => self.on_header(now, header),
                Ok(Some(StreamEvent::Element(el))) => self.on_element(now, el),
                Ok(Some(StreamEvent::Close)) => {
                    self.stream.write_close(now);
                    self.phase = Phase::Closed;
                    self.stream.finish(CloseReason::Clean);
                }
                Ok(None) => break,
                Err(e) => self.fail(now, e),
            }
        }
    }

    fn on_header(&mut self, now: Timestamp, header: StreamHeader) {
        if self.phase != Phase::AwaitingHeader {
            return self.fail(now, second_header());
        }
        if let Err(e) = check_header(&header) {
            return self.fail(now, e);
        }
        let to = header.root.attr("to").and_then(|t| BareJid::new(t).ok());
        let known = to.as_ref().and_then(|to| {
            self.config.components.iter().find(|a| a.domain == to.as_str()).map(|a| (to.clone(), a.clone()))
        });
        let Some(known) = known else {
            let condition = StreamErrorCondition::HostUnknown;
            return self.fail(now, ProtocolError::Header { condition, detail: "no such component" });
        };
        self.component = Some(known);
        self.open(now);
        self.phase = Phase::AwaitingHandshake;
    }

    fn on_element(&mut self, now: Timestamp, el: Element) {
        if el.is("error", ns::STREAMS) {
            self.stream.write_close(now);
            self.phase = Phase::Closed;
            return self.stream.finish(CloseReason::StreamError(StreamError::from_element(&el)));
        }
        match self.phase {
            Phase::AwaitingHandshake if el.is("handshake", ns::COMPONENT_ACCEPT) => {
                let Some((domain, account)) = self.component.clone() else { return };
                let expected = handshake_digest(&self.stream_id, &account.secret);
                let given = el.text();
                if constant_time_eq(given.trim().as_bytes(), expected.as_bytes()) {
                    self.stream.write(now, &Element::new("handshake", ns::COMPONENT_ACCEPT));
                    self.phase = Phase::Online;
                    self.pre_auth_deadline = None;
                    self.stream.push_event(ComponentEvent::Online(domain));
                } else {
                    // XEP-0114 §3: close with <not-authorized/>.
                    self.fail(now, ProtocolError::NotAuthorized);
                }
            }
            Phase::Online | Phase::Closing => self.on_stanza(now, el),
            // Stanzas before the handshake.
            _ => self.fail(now, ProtocolError::NotAuthorized),
        }
    }

    /// A component's stanza: `from` and `to` required, and `from` within
    /// the component's domain (XEP-0114 §3).
    fn on_stanza(&mut self, now: Timestamp, el: Element) {
        let stanza = match Stanza::parse(el) {
            Ok(s) => s,
            Err(rejected) => {
                let (name, ns) = (rejected.element.name().into(), rejected.element.ns().as_str().into());
                return self.fail(now, ProtocolError::Unexpected { name, ns });
            }
        };
        let Some((domain, account)) = &self.component else { return };
        let (Some(from), Some(_)) = (stanza.from(), stanza.to()) else {
            return self.fail(now, ProtocolError::ImproperAddressing);
        };
        if !within(from, domain, account.subdomains) {
            return self.fail(now, ProtocolError::InvalidFrom);
        }
        self.stream.push_event(ComponentEvent::Stanza(stanza));
    }

    /// The transport ended.
    pub fn handle_eof(&mut self, _now: Timestamp) {
        let reason = if self.phase == Phase::Closing { CloseReason::Clean } else { CloseReason::Eof };
        self.phase = Phase::Closed;
        self.stream.finish(reason);
    }

    /// Time passed.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.stream.is_closed() {
            return;
        }
        if self.close_deadline.is_some_and(|d| d <= now) {
            self.phase = Phase::Closed;
            return self.stream.finish(CloseReason::Timeout(TimeoutKind::Close));
        }
        if self.pre_auth_deadline.is_some_and(|d| d <= now) {
            self.open(now);
            self.stream.write_stream_error(now, &StreamError::new(StreamErrorCondition::ConnectionTimeout));
            self.phase = Phase::Closed;
            self.stream.finish(CloseReason::Timeout(TimeoutKind::PreAuth));
        }
    }

    /// Sends a stanza to the component. `Online` only.
    pub fn send(&mut self, now: Timestamp, stanza: &Stanza) -> Result<(), SendError> {
        if self.phase != Phase::Online {
            return Err(if self.stream.is_closed() { SendError::Closed } else { SendError::NotOnline });
        }
        self.stream.send_stanza(now, stanza)
    }

    /// Closes the stream.
    pub fn close(&mut self, now: Timestamp) -> Result<(), SendError> {
        if self.stream.is_closed() || self.stream.has_sent_close() {
            return Err(SendError::Closed);
        }
        self.stream.write_close(now);
        self.phase = Phase::Closing;
        self.close_deadline = Some(now + self.config.close_timeout);
        Ok(())
    }

    fn fail(&mut self, now: Timestamp, reason: ProtocolError) {
        self.open(now);
        let condition = reason.condition().unwrap_or(StreamErrorCondition::UndefinedCondition);
        self.stream.write_stream_error(now, &StreamError::new(condition));
        self.phase = Phase::Closed;
        self.stream.finish(CloseReason::Protocol(reason));
    }
}

/// True if `jid` is at the component's domain, or (when allowed) at a
/// subdomain of it.
fn within(jid: &Jid, domain: &BareJid, subdomains: bool) -> bool {
    let d = jid.domain();
    d == domain.domain() || (subdomains && d.strip_suffix(domain.domain()).is_some_and(|prefix| prefix.ends_with('.')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::Seeded;
    use crate::stanza::Message;
    use alloc::boxed::Box;

    #[test]
    fn xep0114_handshake_digest_is_lowercase_hex_sha1_of_id_and_secret() {
        // sha1("3BF96D32" + "secret"), computed independently.
        assert_eq!(handshake_digest("3BF96D32", "secret"), "b09ea9b3b7f586be8a08d0a3dd7466f110aeb136");
        assert_ne!(handshake_digest("a", "b"), handshake_digest("a", "c"));
    }

    fn pump(c: &mut Component, s: &mut ComponentServer, now: Timestamp) {
        for _ in 0..10 {
            let a = c.pending_tx().to_vec();
            c.consume_tx(a.len());
            assert_eq!(s.handle_input(now, &a), a.len());
            let b = s.pending_tx().to_vec();
            s.consume_tx(b.len());
            assert_eq!(c.handle_input(now, &b), b.len());
        }
    }

    fn events_c(c: &mut Component) -> Vec<ComponentEvent> {
        core::iter::from_fn(|| c.poll_event()).collect()
    }
    fn events_s(s: &mut ComponentServer) -> Vec<ComponentEvent> {
        core::iter::from_fn(|| s.poll_event()).collect()
    }

    #[test]
    fn xep0114_component_and_server_shake_hands_and_exchange_stanzas() {
        let domain = BareJid::new("plays.shakespeare.lit").unwrap();
        let now = Timestamp::ZERO;
        let mut c = Component::new(ComponentConfig::new(domain.clone(), "secret"), now);
        let mut entropy = Seeded::new(3);
        entropy.push_stream_id("3BF96D32");
        let mut s =
            ComponentServer::new(ComponentServerConfig::new("plays.shakespeare.lit", "secret"), Box::new(entropy), now)
                .unwrap();
        let header = String::from_utf8(c.pending_tx().to_vec()).unwrap();
        assert!(header.contains("xmlns='jabber:component:accept'") && header.contains("to='plays.shakespeare.lit'"));
        pump(&mut c, &mut s, now);
        assert_eq!(events_c(&mut c), [ComponentEvent::Online(domain.clone())]);
        assert_eq!(events_s(&mut s), [ComponentEvent::Online(domain.clone())]);
        let m = Message::chat(Jid::new("juliet@capulet.lit").unwrap(), "Thou art")
            .unwrap()
            .with_from(Jid::new("hamlet@plays.shakespeare.lit/stage").unwrap());
        c.send(now, &Stanza::Message(m.clone())).unwrap();
        pump(&mut c, &mut s, now);
        // It arrives in the component namespace, otherwise the same.
        let mut expected = Stanza::Message(m);
        expected.set_content_ns(&content_ns());
        assert_eq!(events_s(&mut s), [ComponentEvent::Stanza(expected)]);
        // A stanza from outside the component's domain is refused.
        let forged = Message::chat(Jid::new("juliet@capulet.lit").unwrap(), "forged")
            .unwrap()
            .with_from(Jid::new("romeo@montague.lit").unwrap());
        c.send(now, &Stanza::Message(forged)).unwrap();
        pump(&mut c, &mut s, now);
        assert_eq!(events_s(&mut s), [ComponentEvent::Closed(CloseReason::Protocol(ProtocolError::InvalidFrom))]);
        assert!(
            matches!(events_c(&mut c).as_slice(), [ComponentEvent::Closed(CloseReason::StreamError(e))] if e.condition == StreamErrorCondition::InvalidFrom)
        );
    }

    #[test]
    fn xep0114_wrong_secret_and_unknown_component_are_refused() {
        let now = Timestamp::ZERO;
        let mut c = Component::new(ComponentConfig::new(BareJid::new("plays.shakespeare.lit").unwrap(), "wrong"), now);
        let mut s = ComponentServer::new(
            ComponentServerConfig::new("plays.shakespeare.lit", "secret"),
            Box::new(Seeded::new(1)),
            now,
        )
        .unwrap();
        pump(&mut c, &mut s, now);
        assert!(
            matches!(events_c(&mut c).as_slice(), [ComponentEvent::Closed(CloseReason::StreamError(e))] if e.condition == StreamErrorCondition::NotAuthorized)
        );
        assert_eq!(events_s(&mut s), [ComponentEvent::Closed(CloseReason::Protocol(ProtocolError::NotAuthorized))]);

        let mut c = Component::new(ComponentConfig::new(BareJid::new("other.shakespeare.lit").unwrap(), "secret"), now);
        let mut s = ComponentServer::new(
            ComponentServerConfig::new("plays.shakespeare.lit", "secret"),
            Box::new(Seeded::new(1)),
            now,
        )
        .unwrap();
        pump(&mut c, &mut s, now);
        assert!(
            matches!(events_c(&mut c).as_slice(), [ComponentEvent::Closed(CloseReason::StreamError(e))] if e.condition == StreamErrorCondition::HostUnknown)
        );
        // The server refused it, and says why.
        assert!(
            matches!(
                events_s(&mut s).as_slice(),
                [ComponentEvent::Closed(CloseReason::Protocol(ProtocolError::Header {
                    condition: StreamErrorCondition::HostUnknown,
                    ..
                }))]
            ),
            "the server refused the unknown component"
        );
    }

    #[test]
    fn rfc6120_4_9_3_7_component_stanzas_without_from_are_improper_addressing() {
        let domain = BareJid::new("plays.shakespeare.lit").unwrap();
        let now = Timestamp::ZERO;
        let mut c = Component::new(ComponentConfig::new(domain, "secret"), now);
        let mut s = ComponentServer::new(
            ComponentServerConfig::new("plays.shakespeare.lit", "secret"),
            Box::new(Seeded::new(1)),
            now,
        )
        .unwrap();
        pump(&mut c, &mut s, now);
        let _ = (events_c(&mut c), events_s(&mut s));
        // No from at all: the server cannot route it back.
        c.send(now, &Stanza::Message(Message::chat(Jid::new("juliet@capulet.lit").unwrap(), "anon").unwrap())).unwrap();
        pump(&mut c, &mut s, now);
        assert_eq!(
            events_s(&mut s),
            [ComponentEvent::Closed(CloseReason::Protocol(ProtocolError::ImproperAddressing))]
        );
        assert!(
            matches!(events_c(&mut c).as_slice(), [ComponentEvent::Closed(CloseReason::StreamError(e))] if e.condition == StreamErrorCondition::ImproperAddressing)
        );
    }

    /// A server that never answers the header or the handshake does not
    /// hang the component.
    #[test]
    fn hardening_31_component_gives_up_on_a_silent_server() {
        let domain = BareJid::new("plays.shakespeare.lit").unwrap();
        let mut c = Component::new(ComponentConfig::new(domain, "secret"), Timestamp::ZERO);
        c.consume_tx(c.pending_tx().len());
        assert_eq!(c.poll_timeout(), Some(Timestamp::from_millis(60_000)));
        c.handle_timeout(Timestamp::from_millis(60_000));
        assert_eq!(events_c(&mut c), [ComponentEvent::Closed(CloseReason::Timeout(TimeoutKind::Negotiation))]);
        let out = String::from_utf8(c.pending_tx().to_vec()).unwrap();
        assert!(out.contains("<connection-timeout"), "{out}");
    }

    fn component_pair(server: ComponentServerConfig) -> (Component, ComponentServer) {
        let now = Timestamp::ZERO;
        let c = Component::new(ComponentConfig::new(BareJid::new("plays.shakespeare.lit").unwrap(), "secret"), now);
        let s = ComponentServer::new(server, Box::new(Seeded::new(4)), now).unwrap();
        (c, s)
    }

    fn from_sub(c: &mut Component) -> Stanza {
        let m = Message::chat(Jid::new("juliet@capulet.lit").unwrap(), "from below")
            .unwrap()
            .with_from(Jid::new("ghost@muc.plays.shakespeare.lit").unwrap());
        let _ = c;
        Stanza::Message(m)
    }

    /// One component must not speak for another one below its domain:
    /// `from` must be the component's own domain unless subdomains are
    /// configured for it.
    #[test]
    fn hardening_33_a_component_cannot_send_from_a_subdomain_unless_configured() {
        let now = Timestamp::ZERO;
        let (mut c, mut s) = component_pair(ComponentServerConfig::new("plays.shakespeare.lit", "secret"));
        pump(&mut c, &mut s, now);
        let _ = (events_c(&mut c), events_s(&mut s));
        let stanza = from_sub(&mut c);
        c.send(now, &stanza).unwrap();
        pump(&mut c, &mut s, now);
        assert_eq!(events_s(&mut s), [ComponentEvent::Closed(CloseReason::Protocol(ProtocolError::InvalidFrom))]);

        let mut config = ComponentServerConfig::new("plays.shakespeare.lit", "secret");
        config.components[0].subdomains = true;
        let (mut c, mut s) = component_pair(config);
        pump(&mut c, &mut s, now);
        let _ = (events_c(&mut c), events_s(&mut s));
        let stanza = from_sub(&mut c);
        c.send(now, &stanza).unwrap();
        pump(&mut c, &mut s, now);
        let mut expected = stanza;
        expected.set_content_ns(&content_ns());
        assert_eq!(events_s(&mut s), [ComponentEvent::Stanza(expected)]);
    }

    /// Without a stream id the digest is SHA-1 of the secret alone, the
    /// same on every connection: a replayable password. The component
    /// refuses to send it.
    #[test]
    fn hardening_33_a_component_sends_no_handshake_without_a_stream_id() {
        let now = Timestamp::ZERO;
        let mut c = Component::new(ComponentConfig::new(BareJid::new("plays.shakespeare.lit").unwrap(), "secret"), now);
        c.consume_tx(c.pending_tx().len());
        let header = "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' from='plays.shakespeare.lit'>";
        assert_eq!(c.handle_input(now, header.as_bytes()), header.len());
        let out = String::from_utf8(c.pending_tx().to_vec()).unwrap();
        assert!(!out.contains("handshake"), "{out}");
        assert!(!out.contains(&handshake_digest("", "secret")), "{out}");
        assert!(matches!(
            events_c(&mut c).as_slice(),
            [ComponentEvent::Closed(CloseReason::Protocol(ProtocolError::Header { .. }))]
        ));
    }

    /// Before a component has named a domain the server knows, nothing the
    /// server writes names one of its components.
    #[test]
    fn hardening_33_errors_before_the_handshake_name_no_configured_component() {
        let now = Timestamp::ZERO;
        let config = || ComponentServerConfig::new("secret-service.shakespeare.lit", "secret");
        // A header for an unknown component.
        let mut s = ComponentServer::new(config(), Box::new(Seeded::new(4)), now).unwrap();
        let header = "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='guess.shakespeare.lit'>";
        assert_eq!(s.handle_input(now, header.as_bytes()), header.len());
        let out = String::from_utf8(s.pending_tx().to_vec()).unwrap();
        assert!(out.contains("<host-unknown"), "{out}");
        assert!(!out.contains("secret-service"), "{out}");
        // Garbage before any header.
        let mut s = ComponentServer::new(config(), Box::new(Seeded::new(4)), now).unwrap();
        assert_eq!(s.handle_input(now, b"<x/>"), 4);
        let out = String::from_utf8(s.pending_tx().to_vec()).unwrap();
        assert!(out.contains("stream:error") && !out.contains("secret-service"), "{out}");
        // Silence until the pre-auth deadline.
        let mut s = ComponentServer::new(config(), Box::new(Seeded::new(4)), now).unwrap();
        let deadline = s.poll_timeout().unwrap();
        s.handle_timeout(deadline);
        let out = String::from_utf8(s.pending_tx().to_vec()).unwrap();
        assert!(out.contains("<connection-timeout") && !out.contains("secret-service"), "{out}");
    }

    #[test]
    fn within_accepts_the_domain_and_its_subdomains_only() {
        let d = BareJid::new("plays.lit").unwrap();
        for subdomains in [false, true] {
            assert!(within(&Jid::new("a@plays.lit/x").unwrap(), &d, subdomains));
            assert_eq!(within(&Jid::new("a@sub.plays.lit").unwrap(), &d, subdomains), subdomains);
            assert!(!within(&Jid::new("a@evilplays.lit").unwrap(), &d, subdomains));
            assert!(!within(&Jid::new("plays.lit.evil").unwrap(), &d, subdomains));
        }
    }
}
