//! The receiving side of a client-to-server stream (RFC 6120 §4–§8): it
//! checks the client's stream header, offers features, runs STARTTLS, the
//! server half of SASL and resource binding, then carries stanzas with
//! `from` stamped (and nothing else about them changed, §8.4).
//!
//! Questions the core cannot answer are events the application answers
//! through a method: the credentials for a user
//! ([`Event::AuthRequested`](super::Event::AuthRequested) →
//! [`Connection::authenticate`]), and the resource to bind
//! ([`Event::BindRequested`](super::Event::BindRequested) →
//! [`Connection::bind`]). The core never needs a plaintext password:
//! stored SCRAM keys are enough for every mechanism, PLAIN included.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use super::client::FeatureFactory;
use super::engine::{Connection, Core, Phase};
use super::{ConfigError, Event, StreamConfig, TimeoutKind};
use crate::condition::StreamErrorCondition;
use crate::entropy::Entropy;
use crate::error::{ApiError, Fault, Violation};
use crate::jid::{BareJid, FullJid, Jid};
use crate::negotiation::{
    AuthAnswer, BindDecision, SaslServerSettings, ServerNegotiator, ServerSettings, ServerTls, StreamFeature,
    StreamState,
};
use crate::ns;
use crate::sasl::{Mechanism, ServerSecret};
use crate::session::{Identity, IqHandlers, Session};
use crate::stanza::{Iq, Stanza, StanzaError, StanzaParseError};
use crate::stream::{Framer, Framing, Header};
use crate::time::Timestamp;
use crate::tls::TlsSide;
use crate::xml::{Element, Namespace};

/// What to do with a stanza whose `from` is not the session's JID
/// (RFC 6120 §8.1.2.1, HARDENING 23).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidFrom {
    /// Overwrite it with the session's full JID.
    #[default]
    Stamp,
    /// Close the stream with `<invalid-from/>`.
    Reject,
}

/// How a server connection behaves.
#[derive(Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The domains served; a stream to any other gets `<host-unknown/>`.
    pub domains: Vec<String>,
    /// Domains this server used to serve; a stream to one of them gets
    /// `<host-gone/>` (RFC 6120 §4.9.3.5), so peers stop retrying.
    pub gone_domains: Vec<String>,
    /// Keeps unknown users indistinguishable from wrong passwords; see
    /// [`ServerSecret`].
    pub secret: ServerSecret,
    /// TLS policy.
    pub tls: ServerTls,
    /// SASL mechanisms to offer, in order. -PLUS variants are offered only
    /// with channel-binding data; PLAIN only over TLS unless allowed.
    pub mechanisms: Vec<Mechanism>,
    /// Offer PLAIN without TLS.
    pub allow_plain_without_tls: bool,
    /// List the channel-binding types available (XEP-0440).
    pub advertise_channel_binding: bool,
    /// Add the XEP-0474 downgrade-protection hash to SCRAM.
    pub downgrade_protection: bool,
    /// Iteration count for SCRAM keys derived from a password the
    /// application hands over, and of the mock exchange for unknown users:
    /// make it what real credentials use.
    pub scram_iterations: u32,
    /// Failed SASL attempts allowed before `<policy-violation/>`
    /// (RFC 6120 §6.4.5: at least 2, at most 5).
    pub max_auth_attempts: u32,
    /// Offer the legacy session feature (RFC 3921), as optional.
    pub offer_session: bool,
    /// A stanza with a `from` other than the session's.
    pub invalid_from: InvalidFrom,
    /// Close connections that have not authenticated within this time
    /// (HARDENING 27).
    pub pre_auth_timeout: Duration,
    /// Close connections that have authenticated but not bound a resource
    /// within this time after authenticating (HARDENING 31).
    pub bind_timeout: Duration,
    /// Which IQ requests addressed to the server itself the application
    /// answers, and what service discovery says (default: every one is
    /// delivered; the core answers `disco#info` as a `server/im`).
    pub iq_handlers: IqHandlers,
    /// Stream features the application negotiates itself.
    pub features: Vec<FeatureFactory>,
    /// What every connection is configured with.
    pub stream: StreamConfig,
}

impl ServerConfig {
    /// A server for `domain` with safe defaults: TLS required, SCRAM
    /// preferred, PLAIN only over TLS, 60 s to authenticate and 60 s more
    /// to bind. `secret` must be the same for every connection (see
    /// [`ServerSecret`]).
    pub fn new(domain: impl Into<String>, secret: ServerSecret) -> ServerConfig {
        ServerConfig {
            domains: alloc::vec![domain.into()],
            gone_domains: Vec::new(),
            secret,
            tls: ServerTls::Required,
            mechanisms: Mechanism::PASSWORD.to_vec(),
            allow_plain_without_tls: false,
            advertise_channel_binding: true,
            downgrade_protection: true,
            scram_iterations: 4096,
            max_auth_attempts: 3,
            offer_session: false,
            invalid_from: InvalidFrom::Stamp,
            pre_auth_timeout: Duration::from_secs(60),
            bind_timeout: Duration::from_secs(60),
            iq_handlers: IqHandlers::all(Identity::new("server", "im")),
            features: Vec::new(),
            stream: StreamConfig::server(),
        }
    }

    /// Adds a stream feature the application defines.
    pub fn add_feature(&mut self, make: impl Fn() -> Box<dyn StreamFeature> + Send + Sync + 'static) {
        self.features.push(alloc::sync::Arc::new(make));
    }
}

impl core::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("domains", &self.domains)
            .field("tls", &self.tls)
            .field("mechanisms", &self.mechanisms)
            .field("features", &self.features.len())
            .finish_non_exhaustive()
    }
}

/// The server's part of a [`Server`](super::Server) connection.
pub struct ServerRole {
    domains: Vec<String>,
    gone_domains: Vec<String>,
    invalid_from: InvalidFrom,
    bind_timeout: Duration,
    negotiator: ServerNegotiator,
    /// The served domain the client asked for (until then, the first
    /// configured one).
    domain: String,
    /// The `from` of the client's header, echoed as our `to` (RFC 6120
    /// §4.7.2).
    peer: Option<Jid>,
    /// A header was accepted: restarts keep its domain.
    domain_chosen: bool,
}

impl Connection<ServerRole> {
    /// A connection for a client that just connected.
    ///
    /// The same output loop as every role; the server's application also
    /// answers the two questions the core asks:
    ///
    /// ```
    /// use sxmpp::connection::{
    ///     AuthAnswer, BindDecision, Event, Output, Server, ServerConfig, ServerSecret, ServerTls,
    /// };
    /// use sxmpp::entropy::Seeded;
    /// use sxmpp::time::Timestamp;
    ///
    /// let mut config = ServerConfig::new("im.example.com", ServerSecret::new([7; 32]));
    /// config.tls = ServerTls::Disabled; // a loopback test; real servers require TLS
    /// config.allow_plain_without_tls = true;
    /// let now = Timestamp::ZERO;
    /// // Seeded is for tests: give a real server a CSPRNG.
    /// let mut server = Server::new(config, Box::new(Seeded::new(1)), now)?;
    /// let mut wire = Vec::new();
    /// let mut drive = |server: &mut Server, input: &[u8]| {
    ///     let _ = server.handle_input(now, input);
    ///     loop {
    ///         match server.poll_output() {
    ///             Output::Transmit(bytes) => {
    ///                 wire.extend_from_slice(bytes);
    ///                 let n = bytes.len();
    ///                 server.consume_transmit(n);
    ///             }
    ///             // Look the user up; stored SCRAM keys would do as well.
    ///             Output::Event(Event::AuthRequested(request)) => {
    ///                 let known = request.account.as_ref().is_some_and(|a| a.local() == Some("juliet"));
    ///                 let answer = if known { AuthAnswer::Password("pass".into()) } else { AuthAnswer::UnknownUser };
    ///                 server.authenticate(now, answer).unwrap();
    ///             }
    ///             Output::Event(Event::BindRequested(_)) => server.bind(now, BindDecision::Accept).unwrap(),
    ///             Output::Event(Event::Online(jid)) => println!("{jid} is online"),
    ///             Output::Event(_) => {}
    ///             _ => return,
    ///         }
    ///     }
    /// };
    /// let header = b"<stream:stream to='im.example.com' version='1.0' xmlns='jabber:client' \
    ///                xmlns:stream='http://etherx.jabber.org/streams'>";
    /// drive(&mut server, header);
    /// // PLAIN: "\0juliet\0pass".
    /// drive(&mut server, b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldABwYXNz</auth>");
    /// drive(&mut server, header);
    /// drive(&mut server, b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
    /// assert!(server.is_online());
    /// assert!(String::from_utf8(wire)?.contains("<jid>juliet@im.example.com/"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(config: ServerConfig, entropy: Box<dyn Entropy + Send>, now: Timestamp) -> Result<Self, ConfigError> {
        if config.mechanisms.is_empty() {
            return Err(ConfigError::NoMechanisms);
        }
        if config.stream.framing == Framing::WebSocket
            && matches!(config.tls, ServerTls::Required | ServerTls::Optional)
        {
            // RFC 7395 §3.9: STARTTLS is never offered over WebSocket.
            return Err(ConfigError::StartTlsOverWebSocket);
        }
        let settings = ServerSettings {
            tls: config.tls,
            sasl: SaslServerSettings {
                mechanisms: config.mechanisms,
                allow_plain_without_tls: config.allow_plain_without_tls,
                advertise_channel_binding: config.advertise_channel_binding,
                downgrade_protection: config.downgrade_protection,
                secret: config.secret,
                iterations: config.scram_iterations,
                max_attempts: config.max_auth_attempts,
            },
            offer_session: config.offer_session,
            features: config.features.iter().map(|make| make()).collect(),
        };
        let session = Session::new(config.iq_handlers, config.stream.session);
        let framing = Framer::new(config.stream.framing, config.stream.limits, Namespace::from_static(ns::CLIENT));
        let mut core = Core::new(config.stream, framing, session, entropy, config.tls == ServerTls::Direct, now);
        core.set_deadline(Some((config.pre_auth_timeout, TimeoutKind::PreAuth)));
        let role = ServerRole {
            domain: config.domains.first().cloned().unwrap_or_default(),
            domains: config.domains,
            gone_domains: config.gone_domains,
            invalid_from: config.invalid_from,
            bind_timeout: config.bind_timeout,
            negotiator: ServerNegotiator::new(settings),
            peer: None,
            domain_chosen: false,
        };
        Ok(Connection::assemble(core, role))
    }

    /// The bound address, once online.
    pub fn jid(&self) -> Option<&FullJid> {
        self.core.session.jid()
    }

    /// The authenticated account.
    pub fn account(&self) -> Option<&BareJid> {
        self.core.session.account()
    }

    /// Answers [`Event::AuthRequested`].
    pub fn authenticate(&mut self, now: Timestamp, answer: AuthAnswer) -> Result<(), ApiError> {
        self.core.now_is(now);
        if self.core.phase() == Phase::Closing {
            return Err(ApiError::Closed);
        }
        if self.core.is_over() || !self.role.negotiator.awaits_credentials() {
            return Err(ApiError::NotWaiting);
        }
        let mut refused = Ok(());
        self.hook(|role, core| {
            let mut cx = core.feature_cx(&role.domain);
            match role.negotiator.authenticate(&mut cx, answer) {
                Ok(step) => step,
                Err(e) => {
                    refused = Err(e);
                    Ok(())
                }
            }
        });
        refused
    }

    /// Answers [`Event::BindRequested`].
    pub fn bind(&mut self, now: Timestamp, decision: BindDecision) -> Result<(), ApiError> {
        self.core.now_is(now);
        if self.core.phase() == Phase::Closing {
            return Err(ApiError::Closed);
        }
        if self.core.is_over() || !self.role.negotiator.awaits_bind() {
            return Err(ApiError::NotWaiting);
        }
        let Some(account) = self.core.session.account().cloned() else { return Err(ApiError::NotWaiting) };
        let mut refused = Ok(());
        self.hook(|role, core| {
            let mut cx = core.feature_cx(&role.domain);
            refused = role.negotiator.bind(&mut cx, decision, &account);
            Ok(())
        });
        refused
    }
}

impl super::engine::sealed::Hooks for ServerRole {
    fn content_ns(&self) -> &'static str {
        ns::CLIENT
    }

    fn receiving(&self) -> bool {
        true
    }

    fn tls_side(&self) -> TlsSide {
        TlsSide::Server
    }

    fn start(&mut self, _core: &mut Core) -> Result<(), Fault> {
        // The receiving side answers the client's header.
        Ok(())
    }

    fn note_peer(&mut self, header: &Header) {
        self.peer = header.from.as_deref().and_then(|f| Jid::new(f).ok());
    }

    fn on_header(&mut self, core: &mut Core, header: Header) -> Result<(), Fault> {
        use StreamErrorCondition as C;
        let to = header.to.as_deref().map(|t| Jid::new(t).map(|j| j.domain().to_string()));
        let fault = |condition, detail| Err(Fault::Violation(Violation::Header { condition, detail }));
        match &to {
            Some(Ok(d)) if self.gone_domains.contains(d) => {
                return fault(C::HostGone, "this server no longer serves that domain");
            }
            // A restarted stream stays with the domain negotiated so far
            // (found in review: it could switch to another one served).
            Some(Ok(d)) if self.domain_chosen && *d != self.domain => {
                return fault(C::HostUnknown, "a restarted stream must keep its domain");
            }
            Some(Ok(d)) if self.domains.contains(d) => self.domain = d.clone(),
            None => {}
            Some(_) => return fault(C::HostUnknown, "this server does not serve that domain"),
        }
        self.domain_chosen = true;
        self.write_header(core);
        let features = self.negotiator.features(&core.feature_cx(&self.domain));
        core.write(&features);
        Ok(())
    }

    fn on_element(&mut self, core: &mut Core, element: Element) -> Result<(), Fault> {
        if core.ready() {
            return self.on_stanza(core, element);
        }
        let element = {
            let mut cx = core.feature_cx(&self.domain);
            match self.negotiator.on_element(&mut cx, element)? {
                Some(element) => element,
                None => return Ok(()),
            }
        };
        if element.ns() != ns::CLIENT {
            return Err(Fault::unexpected(&element));
        }
        // HARDENING 24: stanzas before authentication and binding.
        if !core.state.contains(StreamState::AUTHENTICATED) {
            return Err(Violation::NotAuthorized.into());
        }
        let Some(stanza) = self.parse(core, element)? else { return Ok(()) };
        match (stanza, core.session.account().cloned()) {
            (Stanza::Iq(iq), Some(account))
                if crate::negotiation::is_bind_request(&iq) && !self.negotiator.awaits_bind() =>
            {
                let mut cx = core.feature_cx(&self.domain);
                self.negotiator.on_bind_request(&mut cx, iq, &account)
            }
            _ => Err(Violation::NotAuthorized.into()),
        }
    }

    fn on_authenticated(&mut self, core: &mut Core) {
        // Bound by then, or the stream ends (HARDENING 31).
        core.set_deadline(Some((self.bind_timeout, TimeoutKind::Negotiation)));
    }

    fn write_header(&mut self, core: &mut Core) {
        let mut header = Header::new();
        header.from = Some(self.domain.clone());
        header.id = Some(core.entropy.stream_id());
        header.to = self.peer.as_ref().map(|p| p.to_string());
        header.lang = Some("en".into());
        core.open_stream(&header);
    }

    fn tracks(&self, request: &Iq) -> bool {
        // The server's own requests (no from, or its domain); the rest it
        // routes for others.
        request.from().is_none_or(|f| f.as_str() == self.domain)
    }

    fn ping_addresses(&self, core: &Core) -> (Option<Jid>, Option<Jid>) {
        (core.session.jid().cloned().map(Jid::from), Jid::new(&self.domain).ok())
    }
}

impl ServerRole {
    /// Reads a stanza; a malformed one is answered with a stanza error
    /// (HARDENING 24), an element that is no stanza at all ends the stream
    /// (RFC 6120 §4.9.3.24).
    fn parse(&self, core: &mut Core, element: Element) -> Result<Option<Stanza>, Fault> {
        let parsed = match self.invalid_from {
            // The `from` is stamped over whatever it says.
            InvalidFrom::Stamp => Stanza::parse_overwriting_from(element),
            InvalidFrom::Reject => Stanza::parse(element),
        };
        match parsed {
            Ok(stanza) => Ok(Some(stanza)),
            Err(rejected) if matches!(rejected.error, StanzaParseError::NotAStanza { .. }) => {
                Err(Fault::unexpected(&rejected.element))
            }
            Err(rejected) => {
                self.reject(core, &rejected.element, &StanzaError::new(rejected.error.condition()));
                Ok(None)
            }
        }
    }

    /// A stanza from the client once it is online.
    fn on_stanza(&mut self, core: &mut Core, element: Element) -> Result<(), Fault> {
        if element.ns() != ns::CLIENT {
            // After our close tag, what we do not handle is let go.
            if core.phase() == Phase::Closing {
                return Ok(());
            }
            return Err(Fault::unexpected(&element));
        }
        let Some(mut stanza) = self.parse(core, element)? else { return Ok(()) };
        let Some(full) = core.session.jid().cloned() else { return Ok(()) };
        let from_ok = stanza.from().is_none_or(|f| f == full.as_jid() || f == full.to_bare().as_jid());
        if !from_ok && self.invalid_from == InvalidFrom::Reject {
            return Err(Violation::InvalidFrom.into());
        }
        // RFC 6120 §8.1.2.1: stamped with the session's JID; nothing else
        // about the stanza changes (§8.4).
        stanza.set_from(Some(full.into()));
        let Stanza::Iq(iq) = stanza else {
            core.emit(Event::Stanza(stanza));
            return Ok(());
        };
        if !iq.is_request() {
            // Answers to the server's own pings stay here; the rest are the
            // application's to route.
            if let Some(iq) = core.on_response(iq) {
                core.emit(Event::Stanza(Stanza::Iq(iq)));
            }
            return Ok(());
        }
        let to_server = iq.to().is_none_or(|t| t.as_str() == self.domain);
        if !to_server {
            core.emit(Event::Stanza(Stanza::Iq(iq)));
            return Ok(());
        }
        // The server's own business: legacy sessions (RFC 3921 §3) and
        // pings (XEP-0199), answered from the server.
        let payload = iq.payload();
        let session = payload.is_some_and(|p| p.is("session", ns::SESSION));
        let ping = payload.is_some_and(|p| p.is("ping", ns::PING)) && core.config.answer_pings;
        if session || ping {
            let mut answer = iq.result_for(None);
            answer.set_from(Jid::new(&self.domain).ok().filter(|_| ping));
            core.write_iq(answer);
            return Ok(());
        }
        core.on_request(iq);
        Ok(())
    }

    /// Answers a malformed stanza with a stanza error (HARDENING 24),
    /// unless it is itself an error: from the original's `to` (else the
    /// server), back to its sender (RFC 6120 §8.3.1).
    fn reject(&self, core: &mut Core, element: &Element, error: &StanzaError) {
        if element.attr("type") == Some("error") || !crate::stanza::is_content_namespace(element.ns()) {
            return;
        }
        let Ok(mut answer) = Element::try_new(element.name().to_string(), core.content_ns().clone()) else { return };
        let from =
            element.attr("to").and_then(|t| Jid::new(t).ok()).map(|j| j.to_string()).unwrap_or(self.domain.clone());
        let to = core.session.jid().map(|j| j.to_string());
        let built = (|| {
            if let Some(to) = &to {
                answer.set_attr("to", to.as_str())?;
            }
            answer.set_attr("from", from.as_str())?;
            if let Some(id) = element.attr("id") {
                answer.set_attr("id", id)?;
            }
            answer.set_attr("type", "error")?;
            answer.append_child(error.to_element(core.content_ns())?);
            Ok::<(), crate::xml::InvalidXml>(())
        })();
        if built.is_ok() {
            core.write(&answer);
        }
    }
}
