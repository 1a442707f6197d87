//! Stream negotiation (RFC 6120 §4.3): stream features as values with
//! prerequisites, and the negotiators that play them (one per role).
//!
//! A feature (STARTTLS §5, SASL §6, resource binding §7, the legacy
//! session of RFC 3921 §3, or one the application defines with
//! [`StreamFeature`]) says when it applies as [`Prerequisites`] over the
//! [`StreamState`] bits, and runs its own exchange. The client negotiator
//! takes the first feature in its priority order whose prerequisites hold
//! and that the server offers, again after each one completes; a feature
//! the client needs but the server does not offer may end the stream
//! (TLS required: before any credentials are sent). The server negotiator
//! offers every feature whose prerequisites hold, and hands each element to
//! the feature it belongs to. Stream management, SASL2/Bind2, FAST and CSI
//! are more features of the same kind.
//!
//! This layer reads and writes the elements of negotiation and keeps its
//! state; it owns no sockets and writes nothing itself: a feature's moves
//! (elements to send, events, a restart, the TLS hand-off) are carried out
//! by the connection.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::condition::SaslCondition;
use crate::entropy::Entropy;
use crate::error::Fault;
use crate::jid::{BareJid, FullJid};
use crate::ns;
pub use crate::sasl::{AuthAnswer, AuthRequest};
use crate::sasl::{BindingOutcome, Mechanism, ScramKeys};
use crate::stanza::StanzaError;
use crate::tls::TlsInfo;
use crate::xml::{Element, InvalidXml, Namespace, NodeRef};

mod app;
mod bind;
mod client;
mod sasl;
mod server;
mod starttls;

pub use app::{FeatureStep, StreamFeature};
pub(crate) use client::{ClientNegotiator, ClientSettings, is_features};
pub(crate) use sasl::{SaslClientSettings, SaslServerSettings};
pub(crate) use server::{ServerNegotiator, ServerSettings};
pub use starttls::{ServerTls, TlsMode};

/// Whether `iq` asks to bind a resource (RFC 6120 §7.6).
pub(crate) fn is_bind_request(iq: &crate::stanza::Iq) -> bool {
    bind::BindServer::is_request(iq)
}

/// XEP-0440: the channel-binding types a server supports.
pub const SASL_CB: &str = "urn:xmpp:sasl-cb:0";

/// What has been negotiated on a stream so far: the bits features require
/// and exclude (mellium's state bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StreamState(u16);

impl StreamState {
    /// Nothing yet.
    pub const NONE: StreamState = StreamState(0);
    /// TLS is up (STARTTLS, direct TLS, or a secure WebSocket).
    pub const SECURE: StreamState = StreamState(1);
    /// SASL succeeded.
    pub const AUTHENTICATED: StreamState = StreamState(1 << 1);
    /// A resource is bound.
    pub const BOUND: StreamState = StreamState(1 << 2);
    /// Negotiation is over: stanzas may flow.
    pub const READY: StreamState = StreamState(1 << 3);

    /// True if every bit of `other` is set here.
    pub const fn contains(self, other: StreamState) -> bool {
        self.0 & other.0 == other.0
    }

    /// True if any bit of `other` is set here.
    pub const fn intersects(self, other: StreamState) -> bool {
        self.0 & other.0 != 0
    }

    /// Both sets of bits.
    pub const fn union(self, other: StreamState) -> StreamState {
        StreamState(self.0 | other.0)
    }

    /// Sets `other`'s bits.
    pub fn insert(&mut self, other: StreamState) {
        self.0 |= other.0;
    }
}

impl core::ops::BitOr for StreamState {
    type Output = StreamState;
    fn bitor(self, other: StreamState) -> StreamState {
        self.union(other)
    }
}

/// When a feature applies: the bits that must be set and those that must
/// not be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prerequisites {
    /// Bits that must be set.
    pub requires: StreamState,
    /// Bits that must not be set.
    pub excludes: StreamState,
}

impl Prerequisites {
    /// Applies when `requires` are set and `excludes` are not.
    pub const fn new(requires: StreamState, excludes: StreamState) -> Prerequisites {
        Prerequisites { requires, excludes }
    }

    /// After authentication, before a resource is bound: where most
    /// features a server adds sit.
    pub const fn after_auth() -> Prerequisites {
        Prerequisites::new(StreamState::AUTHENTICATED, StreamState::BOUND)
    }

    /// True if `state` satisfies these prerequisites.
    pub const fn hold(self, state: StreamState) -> bool {
        state.contains(self.requires) && !state.intersects(self.excludes)
    }
}

/// Whether an offered feature is mandatory to negotiate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// Must be negotiated.
    Required,
    /// May be skipped.
    Optional,
}

/// What a server offers in `<stream:features/>` (RFC 6120 §4.3.2): the
/// feature elements as sent, with typed views of the ones this library
/// knows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamFeatures {
    elements: Vec<Element>,
}

impl StreamFeatures {
    /// Reads `<stream:features/>`.
    pub fn from_element(features: &Element) -> StreamFeatures {
        StreamFeatures { elements: features.children().cloned().collect() }
    }

    /// Every feature element, in the server's order.
    pub fn elements(&self) -> &[Element] {
        &self.elements
    }

    /// The feature element with this namespace and name.
    pub fn get(&self, ns: &str, name: &str) -> Option<&Element> {
        self.elements.iter().find(|e| e.is(name, ns))
    }

    /// STARTTLS (§5.4.1), and whether the server requires it.
    pub fn starttls(&self) -> Option<Requirement> {
        let tls = self.get(ns::TLS, "starttls")?;
        Some(if tls.child("required", ns::TLS).is_some() { Requirement::Required } else { Requirement::Optional })
    }

    /// SASL mechanisms (§6.4.1), in the server's order; empty if SASL is
    /// not offered.
    pub fn mechanisms(&self) -> Vec<String> {
        self.get(ns::SASL, "mechanisms")
            .map(|m| {
                m.children()
                    .filter(|c| c.is("mechanism", ns::SASL))
                    .map(|c| c.text().trim().to_string())
                    .filter(|c| !c.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// XEP-0440 channel-binding types, if the server lists them.
    pub fn channel_binding_types(&self) -> Option<Vec<String>> {
        self.get(SASL_CB, "sasl-channel-binding").map(|cb| {
            cb.children()
                .filter(|c| c.is("channel-binding", SASL_CB))
                .filter_map(|c| c.attr("type").map(String::from))
                .collect()
        })
    }

    /// Resource binding (§7.4).
    pub fn bind(&self) -> bool {
        self.get(ns::BIND, "bind").is_some()
    }

    /// Legacy session establishment (RFC 3921 §3; `<optional/>` per
    /// draft-cridland-xmpp-session-01).
    pub fn session(&self) -> Option<Requirement> {
        let s = self.get(ns::SESSION, "session")?;
        Some(if s.child("optional", ns::SESSION).is_some() { Requirement::Optional } else { Requirement::Required })
    }

    /// The first feature not in `known` that the peer marks mandatory (a
    /// `<required/>` child in the feature's namespace, RFC 6120 §4.3.2).
    pub fn unknown_required<'a>(&'a self, known: &[(&str, &str)]) -> Option<&'a Element> {
        self.elements
            .iter()
            .filter(|f| !known.iter().any(|(ns, name)| f.is(name, ns)))
            .find(|f| f.child("required", f.ns().as_str()).is_some())
    }

    /// Adds a feature element (a server building its offer).
    pub fn push(&mut self, element: Element) {
        self.elements.push(element);
    }

    /// Writes `<stream:features/>`.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("features", ns::STREAMS);
        for f in &self.elements {
            el.append_child(f.clone());
        }
        el
    }
}

/// Details of a successful authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Authenticated {
    /// The account authenticated.
    pub account: BareJid,
    /// The mechanism used.
    pub mechanism: Mechanism,
    /// Whether (and how) authentication was bound to the TLS channel.
    pub channel_binding: BindingOutcome,
    /// (Client) For SCRAM: the derived keys, to log in next time without
    /// the password and without running PBKDF2 again.
    pub scram_keys: Option<ScramKeys>,
}

/// (Server) A client asks to bind a resource: answer with
/// [`Server::bind`](crate::connection::Connection::bind).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BindRequest {
    /// The resource asked for (`None`: the server chooses).
    pub resource: Option<String>,
}

/// The application's answer to a [`BindRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BindDecision {
    /// Bind the requested resource (or a generated one if none was asked
    /// for).
    Accept,
    /// Bind this resource instead (RFC 6120 §7.7.2.2 lets the server
    /// override a conflicting one).
    Assign(String),
    /// Refuse, for example with `conflict` or `resource-constraint`.
    Reject(StanzaError),
}

/// What negotiation tells the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NegotiationEvent {
    Authenticated(Authenticated),
    AuthRequested(AuthRequest),
    AuthAttemptFailed(SaslCondition),
    BindRequested(BindRequest),
    FeatureNegotiated(String),
}

/// A move of a negotiation step, for the connection to carry out, in order.
#[derive(Debug)]
pub(crate) enum Action {
    /// Write this element.
    Send(Element),
    /// Tell the application.
    Event(NegotiationEvent),
    /// Hand the transport over to TLS: nothing more is read or written
    /// until the handshake is done.
    StartTls,
    /// Restart the stream (RFC 6120 §4.3.3), after SASL.
    Restart,
    /// This account authenticated.
    Authenticated(BareJid),
    /// This resource is bound.
    Bound(FullJid),
    /// Negotiation is over: stanzas flow, for this address.
    Online(crate::jid::Jid),
}

/// What a negotiation step gets to work with.
pub(crate) struct FeatureCx<'a> {
    pub(crate) state: StreamState,
    /// The domain this stream is for (the account's, or the one served).
    pub(crate) domain: &'a str,
    pub(crate) tls: &'a TlsInfo,
    pub(crate) content_ns: &'a Namespace,
    pub(crate) entropy: &'a mut (dyn Entropy + Send),
    pub(crate) actions: &'a mut Vec<Action>,
}

impl FeatureCx<'_> {
    pub(crate) fn send(&mut self, element: Element) {
        self.actions.push(Action::Send(element));
    }

    pub(crate) fn event(&mut self, event: NegotiationEvent) {
        self.actions.push(Action::Event(event));
    }

    /// Records a move; state it establishes holds at once for the steps
    /// that follow in the same turn.
    pub(crate) fn act(&mut self, action: Action) {
        match &action {
            Action::Authenticated(_) => self.state.insert(StreamState::AUTHENTICATED),
            Action::Bound(_) => self.state.insert(StreamState::BOUND),
            _ => {}
        }
        self.actions.push(action);
    }

    /// An IQ of the stream's content namespace, as an element.
    pub(crate) fn iq(&self, iq: crate::stanza::Iq) -> Element {
        let mut stanza = crate::stanza::Stanza::Iq(iq);
        stanza.set_content_ns(self.content_ns);
        stanza.into_element()
    }
}

/// How far a feature's exchange got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// More elements are due.
    Continue,
    /// The feature is negotiated.
    Done,
}

/// A result of a negotiation step.
pub(crate) type Step<T = Progress> = Result<T, Fault>;

// ----- STARTTLS (RFC 6120 §5.4.2) -----

/// `<starttls/>`.
pub fn starttls() -> Element {
    Element::new("starttls", ns::TLS)
}

// ----- SASL (RFC 6120 §6.4) -----

/// Encodes SASL data for an element's text: base64, or `=` for empty data
/// (§6.4.2).
pub fn sasl_text(data: &[u8]) -> String {
    if data.is_empty() { "=".into() } else { B64.encode(data) }
}

/// Decodes the text of `<auth/>`, `<challenge/>`, `<response/>` or
/// `<success/>`: `None` for no text, empty for `=`, `Err` for bad base64
/// (§6.4.2: whitespace is not allowed, but line breaks from wrapping are
/// common and harmless, so they are skipped).
pub fn sasl_data(element: &Element) -> Result<Option<alloc::vec::Vec<u8>>, SaslCondition> {
    let text = element.text();
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    match compact.as_str() {
        "" => Ok(None),
        "=" => Ok(Some(Vec::new())),
        b64 => B64.decode(b64).map(Some).map_err(|_| SaslCondition::IncorrectEncoding),
    }
}

/// `<auth mechanism='…'>initial response</auth>`.
pub fn auth(mechanism: &str, initial: Option<&[u8]>) -> Result<Element, InvalidXml> {
    let mut el = Element::new("auth", ns::SASL).with_attr("mechanism", mechanism)?;
    if let Some(data) = initial {
        el.append_text(&sasl_text(data))?;
    }
    Ok(el)
}

/// `<response>data</response>`; empty data makes an empty element.
pub fn response(data: &[u8]) -> Element {
    let el = Element::new("response", ns::SASL);
    // Base64 is always legal character data.
    if data.is_empty() { el } else { el.clone().with_text(&B64.encode(data)).unwrap_or(el) }
}

/// `<abort/>` (§6.4.4).
pub fn abort() -> Element {
    Element::new("abort", ns::SASL)
}

/// A SASL `<failure/>`: the condition (unknown ones read as
/// `not-authorized`, the generic failure) and the text, if any.
pub fn sasl_failure(element: &Element) -> (SaslCondition, Option<String>) {
    let mut condition = None;
    let mut text = None;
    for child in element.children().filter(|c| c.ns() == ns::SASL) {
        if child.name() == "text" {
            text.get_or_insert_with(|| child.text().into_owned());
        } else if condition.is_none() {
            condition = Some(child.name().parse::<SaslCondition>().unwrap_or(SaslCondition::NotAuthorized));
        }
    }
    (condition.unwrap_or(SaslCondition::NotAuthorized), text)
}

// ----- resource binding (RFC 6120 §7) and sessions (RFC 3921 §3) -----

/// The payload of a bind request; `None` asks the server to choose the
/// resource (§7.6), `Some` submits one (§7.7).
pub fn bind_request(resource: Option<&str>) -> Result<Element, InvalidXml> {
    let mut bind = Element::new("bind", ns::BIND);
    if let Some(r) = resource {
        bind.append_child(Element::new("resource", ns::BIND).with_text(r)?);
    }
    Ok(bind)
}

/// The JID in a bind result's `<bind><jid/></bind>`.
pub fn bound_jid(payload: Option<&Element>) -> Option<String> {
    let jid = payload?.child("jid", ns::BIND)?.text();
    let jid = jid.trim();
    (!jid.is_empty()).then(|| jid.to_string())
}

/// The payload of a session request.
pub fn session_request() -> Element {
    Element::new("session", ns::SESSION)
}

/// True if `element` (in the stream namespace) is `<stream:error/>`.
pub fn is_stream_error(element: &Element) -> bool {
    element.is("error", ns::STREAMS)
}

/// The namespace of stream-level elements.
pub fn streams_ns() -> Namespace {
    Namespace::from_static(ns::STREAMS)
}

/// True if an element has no child elements and only whitespace text:
/// how `<proceed/>` and `<success/>` without data look.
pub fn is_empty_element(element: &Element) -> bool {
    element.nodes().all(|n| matches!(n, NodeRef::Text(t) if t.trim().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Limits, StreamEvent, StreamReader};
    use alloc::{format, vec};

    fn parse(xml: &str) -> Element {
        let mut r = StreamReader::new(Limits::default());
        r.feed(format!("<stream:stream xmlns='jabber:client' xmlns:stream='{}'>{xml}", ns::STREAMS).as_bytes());
        r.next_event().unwrap();
        match r.next_event().unwrap() {
            Some(StreamEvent::Element(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rfc6120_4_3_2_features_are_read() {
        let f = StreamFeatures::from_element(&parse(
            "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>\
             <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1-PLUS</mechanism>\
             <mechanism> SCRAM-SHA-1 </mechanism><mechanism>PLAIN</mechanism></mechanisms>\
             <sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'><channel-binding type='tls-server-end-point'/>\
             <channel-binding type='tls-exporter'/></sasl-channel-binding>\
             <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>\
             <sm xmlns='urn:xmpp:sm:3'/><x xmlns='urn:x'><required/></x></stream:features>",
        ));
        assert_eq!(f.starttls(), Some(Requirement::Required));
        assert_eq!(f.mechanisms(), ["SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "PLAIN"]);
        assert_eq!(f.channel_binding_types(), Some(vec!["tls-server-end-point".into(), "tls-exporter".into()]));
        assert!(f.bind());
        assert_eq!(f.session(), Some(Requirement::Optional));
        assert!(f.get("urn:xmpp:sm:3", "sm").is_some());
        assert_eq!(f.elements().len(), 7);
        assert!(f.unknown_required(&[(ns::TLS, "starttls")]).is_some_and(|e| e.is("x", "urn:x")));
        assert!(f.unknown_required(&[(ns::TLS, "starttls"), ("urn:x", "x")]).is_none());
        // Writing and reading back gives the same features.
        assert_eq!(StreamFeatures::from_element(&parse(&f.to_element().to_string())), f);
    }

    #[test]
    fn prerequisites_hold_on_state_bits() {
        let after_auth = Prerequisites::after_auth();
        assert!(!after_auth.hold(StreamState::NONE));
        assert!(after_auth.hold(StreamState::AUTHENTICATED | StreamState::SECURE));
        assert!(!after_auth.hold(StreamState::AUTHENTICATED | StreamState::BOUND));
    }

    #[test]
    fn rfc6120_6_4_sasl_data_and_failures() {
        assert_eq!(sasl_data(&parse("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")), Ok(None));
        assert_eq!(
            sasl_data(&parse("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>=</success>")),
            Ok(Some(Vec::new()))
        );
        assert_eq!(
            sasl_data(&parse("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\n  cj1h\n  YmM=\n</challenge>")),
            Ok(Some(b"r=abc".to_vec()))
        );
        assert_eq!(
            sasl_data(&parse("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>!!!</challenge>")),
            Err(SaslCondition::IncorrectEncoding)
        );
        let (c, text) = sasl_failure(&parse(
            "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><account-disabled/><text xml:lang='en'>Call 212-555-1212.</text></failure>",
        ));
        assert_eq!(c, SaslCondition::AccountDisabled);
        assert_eq!(text.as_deref(), Some("Call 212-555-1212."));
        assert_eq!(
            sasl_failure(&parse("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")).0,
            SaslCondition::NotAuthorized
        );
        assert_eq!(auth("PLAIN", Some(b"")).unwrap().text(), "=");
        assert_eq!(response(b"").nodes().len(), 0);
    }

    #[test]
    fn rfc6120_7_bind_payloads() {
        assert_eq!(bind_request(Some("balcony")).unwrap().child_text("resource", ns::BIND).as_deref(), Some("balcony"));
        assert!(bind_request(None).unwrap().is_empty());
        let result = parse(
            "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>\n juliet@im.example.com/balcony\n</jid></bind>",
        );
        assert_eq!(bound_jid(Some(&result)).as_deref(), Some("juliet@im.example.com/balcony"));
        assert_eq!(bound_jid(None), None);
    }
}
