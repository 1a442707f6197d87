//! The Jabber Component Protocol (XEP-0114), both sides: a component
//! connects to a server and authenticates with a handshake digest of the
//! stream id and a shared secret; a component server accepts it. Streams
//! use the `jabber:component:accept` content namespace, have no stream
//! features, and stanzas carry explicit `from` and `to`.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;
use core::time::Duration;

use super::engine::{Connection, Core};
use super::{ConfigError, Event, StreamConfig, TimeoutKind};
use crate::condition::StreamErrorCondition;
use crate::entropy::Entropy;
use crate::error::{Fault, Violation};
use crate::jid::{BareJid, Jid};
use crate::ns;
use crate::sasl::ScramHash;
use crate::sasl::scram::constant_time_eq;
use crate::session::{Identity, IqHandlers, Session};
use crate::stanza::Stanza;
use crate::stream::{Framer, Header};
use crate::time::Timestamp;
use crate::tls::TlsSide;
use crate::xml::{Element, Namespace};

/// The handshake digest (XEP-0114 §3): lower-case hex of
/// SHA-1(stream id ‖ secret).
pub fn handshake_digest(stream_id: &str, secret: &str) -> String {
    let mut input = String::with_capacity(stream_id.len() + secret.len());
    input.push_str(stream_id);
    input.push_str(secret);
    hex(&ScramHash::Sha1.hash(input.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// How a component connects.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ComponentConfig {
    /// The component's address (`plays.shakespeare.lit`).
    pub domain: BareJid,
    /// The secret shared with the server.
    pub secret: String,
    /// How long from creation until the handshake is accepted; then the
    /// connection ends with `connection-timeout` (HARDENING 31).
    pub negotiation_timeout: Duration,
    /// Which IQ requests the application answers.
    pub iq_handlers: IqHandlers,
    /// What every connection is configured with.
    pub stream: StreamConfig,
}

impl ComponentConfig {
    /// A configuration with defaults.
    pub fn new(domain: BareJid, secret: impl Into<String>) -> ComponentConfig {
        ComponentConfig {
            domain,
            secret: secret.into(),
            negotiation_timeout: Duration::from_secs(60),
            iq_handlers: IqHandlers::all(Identity::new("component", "generic")),
            stream: StreamConfig::server(),
        }
    }
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

/// How a component server accepts components.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ComponentServerConfig {
    /// The components it accepts.
    pub components: Vec<ComponentAccount>,
    /// Close components that have not completed the handshake by then.
    pub pre_auth_timeout: Duration,
    /// Which IQ requests addressed to the server the application answers.
    pub iq_handlers: IqHandlers,
    /// What every connection is configured with.
    pub stream: StreamConfig,
}

impl ComponentServerConfig {
    /// Accepts one component.
    pub fn new(domain: impl Into<String>, secret: impl Into<String>) -> ComponentServerConfig {
        ComponentServerConfig {
            components: alloc::vec![ComponentAccount::new(domain, secret)],
            pre_auth_timeout: Duration::from_secs(60),
            iq_handlers: IqHandlers::all(Identity::new("server", "im")),
            stream: StreamConfig::server(),
        }
    }
}

fn header_fault(condition: StreamErrorCondition, detail: &'static str) -> Fault {
    Fault::Violation(Violation::Header { condition, detail })
}

/// Reads a component's (or server's) stanza; anything else ends the
/// stream.
fn stanza(element: Element) -> Result<Stanza, Fault> {
    Stanza::parse(element).map_err(|rejected| Fault::unexpected(&rejected.element))
}

/// The component's part of a [`Component`](super::Component) connection.
pub struct ComponentRole {
    domain: BareJid,
    secret: String,
    /// The server's domain, from its header.
    server: Option<Jid>,
}

impl Connection<ComponentRole> {
    /// Creates the connection and queues the stream header.
    pub fn new(config: ComponentConfig, entropy: Box<dyn Entropy + Send>, now: Timestamp) -> Self {
        let session = Session::new(config.iq_handlers, config.stream.session);
        let framing =
            Framer::new(config.stream.framing, config.stream.limits, Namespace::from_static(ns::COMPONENT_ACCEPT));
        let mut core = Core::new(config.stream, framing, session, entropy, false, now);
        core.set_deadline(Some((config.negotiation_timeout, TimeoutKind::Negotiation)));
        let role = ComponentRole { domain: config.domain, secret: config.secret, server: None };
        Connection::assemble(core, role)
    }
}

impl super::engine::sealed::Hooks for ComponentRole {
    fn content_ns(&self) -> &'static str {
        ns::COMPONENT_ACCEPT
    }

    fn receiving(&self) -> bool {
        false
    }

    fn requires_version(&self) -> bool {
        false
    }

    fn tls_side(&self) -> TlsSide {
        TlsSide::Client { server_name: self.domain.domain().into() }
    }

    fn start(&mut self, core: &mut Core) -> Result<(), Fault> {
        let header = Header { to: Some(self.domain.as_str().into()), ..Header::default() };
        core.open_stream(&header);
        Ok(())
    }

    fn on_header(&mut self, core: &mut Core, header: Header) -> Result<(), Fault> {
        // Without an id the digest would be the same on every connection:
        // a replayable password (HARDENING 33).
        let Some(id) = header.id.filter(|id| !id.is_empty()) else {
            return Err(header_fault(StreamErrorCondition::BadFormat, "no stream id"));
        };
        self.server = header.from.as_deref().and_then(|f| Jid::new(f).ok());
        let digest = handshake_digest(&id, &self.secret);
        // The digest is hex.
        if let Ok(handshake) = Element::new("handshake", ns::COMPONENT_ACCEPT).with_text(&digest) {
            core.write(&handshake);
        }
        Ok(())
    }

    fn on_element(&mut self, core: &mut Core, element: Element) -> Result<(), Fault> {
        if !core.ready() {
            if element.is("handshake", ns::COMPONENT_ACCEPT) {
                core.go_online(self.domain.clone().into());
                return Ok(());
            }
            return Err(Fault::unexpected(&element));
        }
        match stanza(element)? {
            Stanza::Iq(iq) if iq.is_request() => core.on_request(iq),
            Stanza::Iq(iq) => {
                let _unmatched = core.on_response(iq);
            }
            other => core.emit(Event::Stanza(other)),
        }
        Ok(())
    }

    fn ping_addresses(&self, _core: &Core) -> (Option<Jid>, Option<Jid>) {
        (self.server.clone(), Some(self.domain.clone().into()))
    }
}

/// The server's part of a [`ComponentServer`](super::ComponentServer)
/// connection.
pub struct ComponentServerRole {
    components: Vec<ComponentAccount>,
    stream_id: String,
    /// The component the header named, once it is known.
    component: Option<(BareJid, ComponentAccount)>,
}

impl Connection<ComponentServerRole> {
    /// A connection for a component that just connected.
    pub fn new(
        config: ComponentServerConfig,
        entropy: Box<dyn Entropy + Send>,
        now: Timestamp,
    ) -> Result<Self, ConfigError> {
        if config.components.is_empty() {
            return Err(ConfigError::NoComponents);
        }
        let session = Session::new(config.iq_handlers, config.stream.session);
        let framing =
            Framer::new(config.stream.framing, config.stream.limits, Namespace::from_static(ns::COMPONENT_ACCEPT));
        let mut core = Core::new(config.stream, framing, session, entropy, false, now);
        core.set_deadline(Some((config.pre_auth_timeout, TimeoutKind::PreAuth)));
        let role = ComponentServerRole { components: config.components, stream_id: String::new(), component: None };
        Ok(Connection::assemble(core, role))
    }
}

impl super::engine::sealed::Hooks for ComponentServerRole {
    fn content_ns(&self) -> &'static str {
        ns::COMPONENT_ACCEPT
    }

    fn receiving(&self) -> bool {
        true
    }

    fn requires_version(&self) -> bool {
        false
    }

    fn tls_side(&self) -> TlsSide {
        TlsSide::Server
    }

    fn start(&mut self, _core: &mut Core) -> Result<(), Fault> {
        Ok(())
    }

    fn on_header(&mut self, core: &mut Core, header: Header) -> Result<(), Fault> {
        let to = header.to.as_deref().and_then(|t| BareJid::new(t).ok());
        let known = to
            .as_ref()
            .and_then(|to| self.components.iter().find(|a| a.domain == to.as_str()).map(|a| (to.clone(), a.clone())));
        let Some(known) = known else {
            return Err(header_fault(StreamErrorCondition::HostUnknown, "no such component"));
        };
        self.component = Some(known);
        self.write_header(core);
        Ok(())
    }

    fn on_element(&mut self, core: &mut Core, element: Element) -> Result<(), Fault> {
        if !core.ready() {
            let Some((domain, account)) =
                self.component.clone().filter(|_| element.is("handshake", ns::COMPONENT_ACCEPT))
            else {
                // Stanzas before the handshake.
                return Err(Violation::NotAuthorized.into());
            };
            let expected = handshake_digest(&self.stream_id, &account.secret);
            if !constant_time_eq(element.text().trim().as_bytes(), expected.as_bytes()) {
                // XEP-0114 §3: close with <not-authorized/>.
                return Err(Violation::HandshakeRefused.into());
            }
            core.write(&Element::new("handshake", ns::COMPONENT_ACCEPT));
            core.go_online(domain.into());
            return Ok(());
        }
        let stanza = stanza(element)?;
        let Some((domain, account)) = &self.component else { return Ok(()) };
        // XEP-0114 §3: from and to required, from within the component.
        let (Some(from), Some(_)) = (stanza.from(), stanza.to()) else {
            return Err(Violation::ImproperAddressing.into());
        };
        if !within(from, domain, account.subdomains) {
            return Err(Violation::InvalidFrom.into());
        }
        match stanza {
            Stanza::Iq(iq) if !iq.is_request() => {
                if let Some(iq) = core.on_response(iq) {
                    core.emit(Event::Stanza(Stanza::Iq(iq)));
                }
            }
            other => core.emit(Event::Stanza(other)),
        }
        Ok(())
    }

    /// Our header: `from` only once the component named a domain we serve,
    /// so nothing before that reveals which components exist (HARDENING
    /// 33); always an id, or every digest would be the same.
    fn write_header(&mut self, core: &mut Core) {
        self.stream_id = core.entropy.stream_id();
        if self.stream_id.is_empty() {
            let mut bytes = [0u8; 16];
            core.entropy.fill(&mut bytes);
            self.stream_id = hex(&bytes);
        }
        let header = Header {
            from: self.component.as_ref().map(|(d, _)| d.as_str().into()),
            id: Some(self.stream_id.clone()),
            ..Header::default()
        };
        core.open_stream(&header);
    }

    fn tracks(&self, request: &crate::stanza::Iq) -> bool {
        // Requests from elsewhere are routed to the component.
        request.from().is_none()
    }

    fn ping_addresses(&self, _core: &Core) -> (Option<Jid>, Option<Jid>) {
        (self.component.as_ref().map(|(d, _)| d.clone().into()), None)
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
    use crate::connection::testing::Driver;
    use crate::connection::{CloseReason, Component, ComponentServer};
    use crate::entropy::Seeded;
    use crate::stanza::Message;

    #[test]
    fn xep0114_handshake_digest_is_lowercase_hex_sha1_of_id_and_secret() {
        // sha1("3BF96D32" + "secret"), computed independently.
        assert_eq!(handshake_digest("3BF96D32", "secret"), "b09ea9b3b7f586be8a08d0a3dd7466f110aeb136");
        assert_ne!(handshake_digest("a", "b"), handshake_digest("a", "c"));
    }

    fn content_ns() -> Namespace {
        Namespace::from_static(ns::COMPONENT_ACCEPT)
    }

    fn component(secret: &str, domain: &str) -> Driver<ComponentRole> {
        let config = ComponentConfig::new(BareJid::new(domain).unwrap(), secret);
        Driver::new(Component::new(config, Box::new(Seeded::new(2)), Timestamp::ZERO))
    }

    fn server(config: ComponentServerConfig, entropy: Seeded) -> Driver<ComponentServerRole> {
        Driver::new(ComponentServer::new(config, Box::new(entropy), Timestamp::ZERO).unwrap())
    }

    /// Carries bytes both ways until neither side writes more.
    fn pump(c: &mut Driver<ComponentRole>, s: &mut Driver<ComponentServerRole>) {
        for _ in 0..10 {
            let a = c.out();
            s.feed(&a);
            let b = s.out();
            c.feed(&b);
            if a.is_empty() && b.is_empty() {
                return;
            }
        }
    }

    fn pair(config: ComponentServerConfig) -> (Driver<ComponentRole>, Driver<ComponentServerRole>) {
        let mut c = component("secret", "plays.shakespeare.lit");
        let mut s = server(config, Seeded::new(4));
        pump(&mut c, &mut s);
        assert!(c.conn.is_online() && s.conn.is_online());
        c.events();
        s.events();
        (c, s)
    }

    fn peer_error(reason: Option<&CloseReason>) -> Option<StreamErrorCondition> {
        match reason {
            Some(CloseReason::StreamError(e)) => Some(e.condition),
            _ => None,
        }
    }

    #[test]
    fn xep0114_component_and_server_shake_hands_and_exchange_stanzas() {
        let domain = BareJid::new("plays.shakespeare.lit").unwrap();
        let mut c = component("secret", "plays.shakespeare.lit");
        let mut entropy = Seeded::new(3);
        entropy.push_stream_id("3BF96D32");
        let mut s = server(ComponentServerConfig::new("plays.shakespeare.lit", "secret"), entropy);
        let header = c.out();
        assert!(header.contains("xmlns='jabber:component:accept'") && header.contains("to='plays.shakespeare.lit'"));
        s.feed(&header);
        let answer = s.out();
        assert!(answer.contains("id='3BF96D32'"), "{answer}");
        c.feed(&answer);
        let handshake = c.out();
        assert_eq!(handshake, alloc::format!("<handshake>{}</handshake>", handshake_digest("3BF96D32", "secret")));
        s.feed(&handshake);
        pump(&mut c, &mut s);
        assert_eq!(c.events(), [Event::Online(domain.clone().into())]);
        assert_eq!(s.events(), [Event::Online(domain.clone().into())]);
        let m = Message::chat(Jid::new("juliet@capulet.lit").unwrap(), "Thou art")
            .unwrap()
            .with_from(Jid::new("hamlet@plays.shakespeare.lit/stage").unwrap());
        c.conn.send(c.now, m.clone()).unwrap();
        c.drain();
        pump(&mut c, &mut s);
        // It arrives in the component namespace, otherwise the same.
        let mut expected = Stanza::Message(m);
        expected.set_content_ns(&content_ns());
        assert_eq!(s.events(), [Event::Stanza(expected)]);
        // A stanza from outside the component's domain is refused.
        let forged = Message::chat(Jid::new("juliet@capulet.lit").unwrap(), "forged")
            .unwrap()
            .with_from(Jid::new("romeo@montague.lit").unwrap());
        c.conn.send(c.now, forged).unwrap();
        c.drain();
        pump(&mut c, &mut s);
        assert_eq!(s.closed(), Some(&CloseReason::Violation(Violation::InvalidFrom)));
        assert_eq!(peer_error(c.closed()), Some(StreamErrorCondition::InvalidFrom));
    }

    #[test]
    fn xep0114_wrong_secret_and_unknown_component_are_refused() {
        let mut c = component("wrong", "plays.shakespeare.lit");
        let mut s = server(ComponentServerConfig::new("plays.shakespeare.lit", "secret"), Seeded::new(1));
        pump(&mut c, &mut s);
        assert_eq!(peer_error(c.closed()), Some(StreamErrorCondition::NotAuthorized));
        assert_eq!(s.closed(), Some(&CloseReason::Violation(Violation::HandshakeRefused)));

        let mut c = component("secret", "other.shakespeare.lit");
        let mut s = server(ComponentServerConfig::new("plays.shakespeare.lit", "secret"), Seeded::new(1));
        pump(&mut c, &mut s);
        assert_eq!(peer_error(c.closed()), Some(StreamErrorCondition::HostUnknown));
        // The server refused it, and says why.
        assert!(
            matches!(
                s.closed(),
                Some(CloseReason::Violation(Violation::Header { condition: StreamErrorCondition::HostUnknown, .. }))
            ),
            "{:?}",
            s.closed()
        );
    }

    #[test]
    fn rfc6120_4_9_3_7_component_stanzas_without_from_are_improper_addressing() {
        let (mut c, mut s) = pair(ComponentServerConfig::new("plays.shakespeare.lit", "secret"));
        // No from at all: the server cannot route it back.
        c.conn.send(c.now, Message::chat(Jid::new("juliet@capulet.lit").unwrap(), "anon").unwrap()).unwrap();
        c.drain();
        pump(&mut c, &mut s);
        assert_eq!(s.closed(), Some(&CloseReason::Violation(Violation::ImproperAddressing)));
        assert_eq!(peer_error(c.closed()), Some(StreamErrorCondition::ImproperAddressing));
    }

    /// A server that never answers the header or the handshake does not
    /// hang the component.
    #[test]
    fn hardening_31_component_gives_up_on_a_silent_server() {
        let mut c = component("secret", "plays.shakespeare.lit");
        c.out();
        assert_eq!(c.conn.poll_timeout(), Some(Timestamp::from_millis(60_000)));
        c.advance(Duration::from_secs(60));
        assert_eq!(c.closed(), Some(&CloseReason::Timeout(TimeoutKind::Negotiation)));
        let out = c.out();
        assert!(out.contains("<connection-timeout"), "{out}");
    }

    fn from_sub() -> Message {
        Message::chat(Jid::new("juliet@capulet.lit").unwrap(), "from below")
            .unwrap()
            .with_from(Jid::new("ghost@muc.plays.shakespeare.lit").unwrap())
    }

    /// One component must not speak for another one below its domain:
    /// `from` must be the component's own domain unless subdomains are
    /// configured for it.
    #[test]
    fn hardening_33_a_component_cannot_send_from_a_subdomain_unless_configured() {
        let (mut c, mut s) = pair(ComponentServerConfig::new("plays.shakespeare.lit", "secret"));
        c.conn.send(c.now, from_sub()).unwrap();
        c.drain();
        pump(&mut c, &mut s);
        assert_eq!(s.closed(), Some(&CloseReason::Violation(Violation::InvalidFrom)));

        let mut config = ComponentServerConfig::new("plays.shakespeare.lit", "secret");
        config.components[0].subdomains = true;
        let (mut c, mut s) = pair(config);
        c.conn.send(c.now, from_sub()).unwrap();
        c.drain();
        pump(&mut c, &mut s);
        let mut expected = Stanza::Message(from_sub());
        expected.set_content_ns(&content_ns());
        assert_eq!(s.events(), [Event::Stanza(expected)]);
    }

    /// Without a stream id the digest is SHA-1 of the secret alone, the
    /// same on every connection: a replayable password. The component
    /// refuses to send it.
    #[test]
    fn hardening_33_a_component_sends_no_handshake_without_a_stream_id() {
        let mut c = component("secret", "plays.shakespeare.lit");
        c.out();
        c.feed("<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' from='plays.shakespeare.lit'>");
        let out = c.out();
        assert!(!out.contains("handshake"), "{out}");
        assert!(!out.contains(&handshake_digest("", "secret")), "{out}");
        assert!(matches!(c.closed(), Some(CloseReason::Violation(Violation::Header { .. }))));
    }

    /// Before a component has named a domain the server knows, nothing the
    /// server writes names one of its components.
    #[test]
    fn hardening_33_errors_before_the_handshake_name_no_configured_component() {
        let config = || ComponentServerConfig::new("secret-service.shakespeare.lit", "secret");
        // A header for an unknown component.
        let mut s = server(config(), Seeded::new(4));
        s.feed("<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='guess.shakespeare.lit'>");
        let out = s.out();
        assert!(out.contains("<host-unknown"), "{out}");
        assert!(!out.contains("secret-service"), "{out}");
        // Garbage before any header.
        let mut s = server(config(), Seeded::new(4));
        s.feed("<x/>");
        let out = s.out();
        assert!(out.contains("stream:error") && !out.contains("secret-service"), "{out}");
        // Silence until the pre-auth deadline.
        let mut s = server(config(), Seeded::new(4));
        s.advance(Duration::from_secs(60));
        let out = s.out();
        assert!(out.contains("<connection-timeout") && !out.contains("secret-service"), "{out}");
    }

    #[test]
    fn rfc6120_4_9_3_24_an_unexpected_element_ends_the_stream_as_in_every_role() {
        let (mut c, mut s) = pair(ComponentServerConfig::new("plays.shakespeare.lit", "secret"));
        crate::connection::testing::assert_an_unexpected_element_ends_the_stream(&mut c);
        crate::connection::testing::assert_an_unexpected_element_ends_the_stream(&mut s);
    }

    #[test]
    fn rfc6120_4_4_stanzas_after_our_close_are_delivered() {
        let message =
            "<message from='juliet@capulet.lit' to='hamlet@plays.shakespeare.lit'><body>late</body></message>";
        let (mut c, mut s) = pair(ComponentServerConfig::new("plays.shakespeare.lit", "secret"));
        crate::connection::testing::assert_stanzas_after_our_close_are_still_delivered(&mut c, message);
        let own = "<message from='hamlet@plays.shakespeare.lit' to='juliet@capulet.lit'><body>late</body></message>";
        crate::connection::testing::assert_stanzas_after_our_close_are_still_delivered(&mut s, own);
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
