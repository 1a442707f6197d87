//! The initiating side of a client-to-server stream (RFC 6120 §9.1):
//! the stream header, then negotiation (STARTTLS, SASL, binding, and
//! whatever features are configured), then stanzas under the client's
//! rules for what it accepts.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;

use super::engine::{Connection, Core, Phase};
use super::{ConfigError, StreamConfig, TimeoutKind};
use crate::entropy::Entropy;
use crate::error::Fault;
use crate::jid::{BareJid, FullJid, Jid};
use crate::negotiation::{
    ClientNegotiator, ClientSettings, SaslClientSettings, StreamFeature, StreamState, TlsMode, is_features,
};
use crate::ns;
use crate::sasl::{ChannelBindingPolicy, Credentials, Mechanism};
use crate::session::{Identity, IqHandlers, Session};
use crate::stanza::{Message, Stanza};
use crate::stream::{Framer, Framing, Header};
use crate::time::Timestamp;
use crate::tls::TlsSide;
use crate::xml::{Element, Namespace};

/// When the stream header carries `from` (RFC 6120 §4.7.1: a client
/// SHOULD include it once the stream is encrypted, to avoid revealing the
/// account in plaintext).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendFrom {
    /// Never.
    Never,
    /// Only once TLS is established.
    #[default]
    AfterTls,
    /// Always, plaintext too.
    Always,
}

/// Makes a stream feature for each new connection (features keep state
/// per stream, configurations are cloned).
pub type FeatureFactory = Arc<dyn Fn() -> Box<dyn StreamFeature> + Send + Sync>;

/// How a client connects. Build with [`ClientConfig::new`] and adjust the
/// fields.
#[derive(Clone)]
#[non_exhaustive]
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
    /// Smallest SCRAM iteration count accepted (RFC 5802 §5.1: 4096).
    pub min_scram_iterations: u32,
    /// Largest SCRAM iteration count accepted: bounds the work a hostile
    /// server can demand (HARDENING 14).
    pub max_scram_iterations: u32,
    /// How long from creation until online (TLS, SASL, binding, all
    /// together): a server that goes silent mid-negotiation ends the
    /// connection with `connection-timeout` instead of hanging it
    /// (HARDENING 31).
    pub negotiation_timeout: Duration,
    /// Which IQ requests the application answers, and what service
    /// discovery says (default: every request is delivered; the core
    /// answers `disco#info` as a `client/pc`).
    pub iq_handlers: IqHandlers,
    /// Stream features the application negotiates itself, besides the
    /// built-in ones.
    pub features: Vec<FeatureFactory>,
    /// What every connection is configured with.
    pub stream: StreamConfig,
}

impl ClientConfig {
    /// A configuration with safe defaults: TLS required, SCRAM preferred,
    /// PLAIN only over TLS, 60 s to get online.
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
            min_scram_iterations: 4096,
            max_scram_iterations: 1_000_000,
            negotiation_timeout: Duration::from_secs(60),
            iq_handlers: IqHandlers::all(Identity::new("client", "pc")),
            features: Vec::new(),
            stream: StreamConfig::client(),
        }
    }

    /// Adds a stream feature the application defines.
    pub fn add_feature(&mut self, make: impl Fn() -> Box<dyn StreamFeature> + Send + Sync + 'static) {
        self.features.push(Arc::new(make));
    }
}

impl core::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("jid", &self.jid)
            .field("tls", &self.tls)
            .field("mechanisms", &self.mechanisms)
            .field("channel_binding", &self.channel_binding)
            .field("features", &self.features.len())
            .finish_non_exhaustive()
    }
}

/// The client's part of a [`Client`](super::Client) connection.
pub struct ClientRole {
    account: BareJid,
    send_from: SendFrom,
    lang: String,
    negotiator: ClientNegotiator,
    stream_id: Option<String>,
}

impl Connection<ClientRole> {
    /// Creates the connection and (unless TLS is direct) queues the stream
    /// header. `entropy` must be cryptographically secure in production.
    pub fn new(config: ClientConfig, entropy: Box<dyn Entropy + Send>, now: Timestamp) -> Result<Self, ConfigError> {
        let session = Session::new(config.iq_handlers.clone(), config.stream.session);
        Connection::with_session(config, session, entropy, now)
    }

    /// Like [`new`](Connection::new), carrying on a session from an
    /// earlier connection ([`Connection::into_session`]): what it queued
    /// goes out once this one is online.
    pub fn with_session(
        config: ClientConfig,
        session: Session,
        entropy: Box<dyn Entropy + Send>,
        now: Timestamp,
    ) -> Result<Self, ConfigError> {
        if config.mechanisms.is_empty() {
            return Err(ConfigError::NoMechanisms);
        }
        if config.min_scram_iterations > config.max_scram_iterations {
            return Err(ConfigError::IterationBounds);
        }
        let websocket = config.stream.framing == Framing::WebSocket;
        if websocket && matches!(config.tls, TlsMode::Required | TlsMode::Optional) {
            return Err(ConfigError::StartTlsOverWebSocket);
        }
        let mut session = session;
        session.carry_over();
        let account = config.jid.to_bare();
        let settings = ClientSettings {
            tls: config.tls,
            // RFC 7395 §3.9: a STARTTLS offer over WebSocket is ignored.
            ignore_starttls: websocket,
            sasl: SaslClientSettings {
                account: account.clone(),
                credentials: config.credentials,
                mechanisms: config.mechanisms,
                policy: config.channel_binding,
                plain_without_tls: config.allow_plain_without_tls,
                min_iterations: config.min_scram_iterations,
                max_iterations: config.max_scram_iterations,
            },
            resource: config.jid.resource().map(String::from),
            features: config.features.iter().map(|make| make()).collect(),
        };
        let framing = Framer::new(config.stream.framing, config.stream.limits, Namespace::from_static(ns::CLIENT));
        let mut core = Core::new(config.stream, framing, session, entropy, config.tls == TlsMode::Direct, now);
        core.set_deadline(Some((config.negotiation_timeout, TimeoutKind::Negotiation)));
        let role = ClientRole {
            account,
            send_from: config.send_from,
            lang: config.lang,
            negotiator: ClientNegotiator::new(settings),
            stream_id: None,
        };
        Ok(Connection::assemble(core, role))
    }

    /// The bound address, once bound.
    pub fn jid(&self) -> Option<&FullJid> {
        self.core.session.jid()
    }

    /// The account.
    pub fn account(&self) -> &BareJid {
        &self.role.account
    }

    /// The name the server's TLS certificate must match: always the
    /// account's domain, whatever host the transport reached (RFC 6125;
    /// HARDENING 12: a `see-other-host` redirect does not change it).
    pub fn tls_server_name(&self) -> &str {
        self.role.account.domain()
    }

    /// True once TLS is established.
    pub fn is_secure(&self) -> bool {
        self.core.state.contains(StreamState::SECURE)
    }

    /// The id the server gave the current stream.
    pub fn stream_id(&self) -> Option<&str> {
        self.role.stream_id.as_deref()
    }
}

impl super::engine::sealed::Hooks for ClientRole {
    fn content_ns(&self) -> &'static str {
        ns::CLIENT
    }

    fn receiving(&self) -> bool {
        false
    }

    fn tls_side(&self) -> TlsSide {
        TlsSide::Client { server_name: self.account.domain().into() }
    }

    fn start(&mut self, core: &mut Core) -> Result<(), Fault> {
        self.negotiator.restart();
        self.stream_id = None;
        let from = match self.send_from {
            SendFrom::Never => false,
            SendFrom::AfterTls => core.state.contains(StreamState::SECURE),
            SendFrom::Always => true,
        };
        let mut header = Header::new();
        header.to = Some(self.account.domain().into());
        header.from = from.then(|| self.account.as_str().into());
        header.lang = Some(self.lang.clone());
        core.open_stream(&header);
        Ok(())
    }

    fn on_header(&mut self, _core: &mut Core, header: Header) -> Result<(), Fault> {
        self.stream_id = header.id;
        Ok(())
    }

    fn on_element(&mut self, core: &mut Core, element: Element) -> Result<(), Fault> {
        if core.ready() {
            return self.on_stanza(core, element);
        }
        let mut cx = core.feature_cx(self.account.domain());
        if self.negotiator.awaits_features() {
            if !is_features(&element) {
                return Err(Fault::unexpected(&element));
            }
            self.negotiator.on_features(&mut cx, &element)?;
        } else {
            self.negotiator.on_element(&mut cx, element)?;
        }
        Ok(())
    }

    fn ping_addresses(&self, _core: &Core) -> (Option<Jid>, Option<Jid>) {
        (Jid::new(self.account.domain()).ok(), None)
    }
}

impl ClientRole {
    /// A first-level element once online: a stanza, under the client's
    /// rules for what it accepts.
    fn on_stanza(&mut self, core: &mut Core, element: Element) -> Result<(), Fault> {
        if !crate::stanza::is_content_namespace(element.ns()) {
            // After our close tag the server may still send what we ignore.
            if core.phase() == Phase::Closing {
                return Ok(());
            }
            return Err(Fault::unexpected(&element));
        }
        let stanza = match Stanza::parse_knowing(element, core.session.jid().map(FullJid::as_jid)) {
            Ok(s) => s,
            Err(rejected) => {
                core.on_invalid_stanza(rejected.element, rejected.error);
                return Ok(());
            }
        };
        match stanza {
            Stanza::Message(m) if is_forged_carbon(&m, &self.account) => {} // HARDENING 22
            Stanza::Iq(iq) if !iq.is_request() => {
                // Responses to nothing of ours are dropped (HARDENING 19).
                let _unmatched = core.on_response(iq);
            }
            Stanza::Iq(iq) => {
                // HARDENING 21 / RFC 6121 §2.1.6: a roster push only from
                // our own account.
                let push = iq.payload().is_some_and(|p| p.is("query", ns::ROSTER));
                if push && iq.from().is_some_and(|f| f != self.account.as_jid()) {
                    return Ok(());
                }
                core.on_request(iq);
            }
            other => core.emit(super::Event::Stanza(other)),
        }
        Ok(())
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
