//! Why a stream ends badly, by whose doing (h11's split of local and
//! remote errors): the peer broke the protocol ([`Violation`]), or the two
//! sides could not agree on getting online ([`NegotiationError`]). A
//! mistake of this side's application ends nothing: it is refused at the
//! call ([`ApiError`]).

use alloc::boxed::Box;
use alloc::string::String;

use crate::condition::{SaslCondition, StreamErrorCondition};
use crate::sasl::{ScramError, SelectError};
use crate::stanza::StanzaError;
use crate::stream::FramingError;
use crate::xml::XmlError;

/// The peer broke the protocol. This side sent the stream error
/// [`Violation::condition`] names (nothing, where even that would be
/// wrong) and closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// The peer's XML broke the rules (RFC 6120 §11).
    #[error("{0}")]
    Xml(XmlError),
    /// The peer's stream header is not acceptable (RFC 6120 §4.7–§4.8).
    #[error("bad stream header: {detail}")]
    Header {
        /// The stream error sent.
        condition: StreamErrorCondition,
        /// What was wrong.
        detail: &'static str,
    },
    /// Bytes arrived in plaintext behind `<proceed/>` where the TLS
    /// handshake was due (HARDENING 11, 29); they were not processed, and
    /// nothing more was written in plaintext.
    #[error("data after <proceed/> before the TLS handshake")]
    DataAfterProceed,
    /// An element that has no place at this point of the stream.
    #[error("unexpected <{name}/> in {ns}")]
    Unexpected {
        /// Its local name.
        name: String,
        /// Its namespace.
        ns: String,
    },
    /// The peer kept sending requests the core answers (pings, IQs nobody
    /// handles) without reading the answers: the outbound buffer reached
    /// twice its limit (and at least 64 KiB over it) (HARDENING 28).
    #[error("the peer does not read what it asks for")]
    OutboundBacklog,
    /// The server bound an address that is not this account's.
    #[error("the server bound an address that is not this account's")]
    BadBoundJid,
    /// (Server) A stanza before authentication or binding (HARDENING 24).
    #[error("stanza before authentication or binding")]
    NotAuthorized,
    /// A stanza whose `from` the peer may not use (HARDENING 23, 33).
    #[error("stanza with a from the peer may not use")]
    InvalidFrom,
    /// (Server) Too many failed SASL attempts (RFC 6120 §6.4.5).
    #[error("too many failed authentication attempts")]
    TooManyAuthAttempts,
    /// (Component server) A stanza without `from` or `to` (XEP-0114 §3).
    #[error("stanza without from or to")]
    ImproperAddressing,
    /// (Component) The handshake was refused (XEP-0114 §3).
    #[error("the component handshake was refused")]
    HandshakeRefused,
}

impl Violation {
    /// The stream error sent to the peer; `None` when nothing may be sent
    /// (plaintext where TLS was due).
    pub fn condition(&self) -> Option<StreamErrorCondition> {
        use StreamErrorCondition as C;
        Some(match self {
            Violation::Xml(e) => e.condition(),
            Violation::Header { condition, .. } => *condition,
            Violation::DataAfterProceed => return None,
            Violation::Unexpected { .. } => C::UnsupportedStanzaType,
            Violation::OutboundBacklog => C::ResourceConstraint,
            Violation::BadBoundJid => C::PolicyViolation,
            Violation::NotAuthorized | Violation::HandshakeRefused => C::NotAuthorized,
            Violation::InvalidFrom => C::InvalidFrom,
            Violation::TooManyAuthAttempts => C::PolicyViolation,
            Violation::ImproperAddressing => C::ImproperAddressing,
        })
    }
}

impl From<FramingError> for Violation {
    fn from(e: FramingError) -> Violation {
        match e {
            FramingError::Xml(e) => Violation::Xml(e),
            other => Violation::Header { condition: other.condition(), detail: "not an XMPP stream" },
        }
    }
}

/// The stream could not get online, though nobody broke the protocol:
/// authentication failed, a policy of either side refused, a step the
/// other side offered failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// Authentication failed.
    #[error("authentication failed: {0}")]
    Auth(AuthError),
    /// TLS is required but the server does not offer STARTTLS (HARDENING
    /// 10: stopped before any credentials were sent).
    #[error("TLS is required but the server does not offer it")]
    TlsUnavailable,
    /// The server requires TLS, which the configuration disables.
    #[error("the server requires TLS, which is disabled")]
    TlsRequiredByServer,
    /// STARTTLS failed: the server answered `<failure/>` (RFC 6120
    /// §5.4.2.2), or (as server) the client asked for STARTTLS where it was
    /// not offered.
    #[error("STARTTLS failed")]
    TlsRefused,
    /// The server offered no resource binding after authentication.
    #[error("the server offers no resource binding")]
    BindNotOffered,
    /// Resource binding failed.
    #[error("resource binding failed: {0}")]
    BindFailed(Box<StanzaError>),
    /// Session establishment (RFC 3921) failed.
    #[error("session establishment failed: {0}")]
    SessionFailed(Box<StanzaError>),
    /// The peer's only mandatory feature is one this side does not
    /// support (RFC 6120 §4.9.3.23).
    #[error("the peer requires a feature not supported here: <{name} xmlns='{ns}'/>")]
    UnsupportedFeature {
        /// The feature's element name.
        name: String,
        /// The feature's namespace.
        ns: String,
    },
    /// A stream feature the application defined failed.
    #[error("stream feature {namespace} failed: {reason}")]
    Feature {
        /// The feature's namespace.
        namespace: String,
        /// Why, as the feature put it.
        reason: String,
    },
}

impl NegotiationError {
    /// What this side sends before closing: a stream error with this
    /// condition, or (`None`) just its close tag.
    pub fn condition(&self) -> Option<StreamErrorCondition> {
        use StreamErrorCondition as C;
        match self {
            // A refused login or STARTTLS: the peer closes; so do we.
            NegotiationError::Auth(_) | NegotiationError::TlsRefused => None,
            NegotiationError::TlsUnavailable | NegotiationError::TlsRequiredByServer => Some(C::PolicyViolation),
            NegotiationError::UnsupportedFeature { .. } => Some(C::UnsupportedFeature),
            NegotiationError::BindNotOffered
            | NegotiationError::BindFailed(_)
            | NegotiationError::SessionFailed(_)
            | NegotiationError::Feature { .. } => Some(C::UndefinedCondition),
        }
    }
}

/// Why authentication failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The server refused (RFC 6120 §6.4.5).
    #[error("the server refused: {condition}{}", .text.as_deref().map(|t| alloc::format!(" ({t})")).unwrap_or_default())]
    Failure {
        /// The SASL condition.
        condition: SaslCondition,
        /// The server's explanation, if any.
        text: Option<String>,
    },
    /// No offered mechanism is acceptable, or the offer looks tampered
    /// with (XEP-0440).
    #[error("{0}")]
    Select(SelectError),
    /// The SCRAM exchange failed on our side: a bad server message, a
    /// server that could not prove it knows the password, a downgrade.
    #[error("{0}")]
    Scram(ScramError),
    /// The server sent data that is not base64.
    #[error("the server sent malformed SASL data")]
    IncorrectEncoding,
    /// The server offered no SASL at all.
    #[error("the server offers no SASL authentication")]
    NotOffered,
}

/// Why an API call was refused: a mistake (or bad timing) of this side's
/// application, never the peer's doing. The connection is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// Stanzas can only be sent once the connection is online.
    #[error("not online")]
    NotOnline,
    /// The connection is closed (or closing).
    #[error("the connection is closed")]
    Closed,
    /// The outbound buffer is full: let the driver write, then try again.
    #[error("the outbound buffer is full")]
    OutboundFull,
    /// Too many IQs await responses.
    #[error("too many IQs are waiting for responses")]
    TooManyPendingIqs,
    /// There is no unanswered request with that id and sender.
    #[error("no unanswered IQ request with that id")]
    UnknownRequest,
    /// A request with this id still awaits its answer: the two answers
    /// could not be told apart.
    #[error("a request with this id is already waiting for its answer")]
    DuplicateId,
    /// Only get and set IQs can be sent as requests.
    #[error("only get and set IQs are requests")]
    NotARequest,
    /// Nothing is waiting for this answer.
    #[error("no request is waiting for this answer")]
    NotWaiting,
    /// The resource is not a valid resourcepart.
    #[error("invalid resource: {0}")]
    InvalidResource(crate::jid::JidError),
    /// Something XML cannot carry.
    #[error("{0}")]
    InvalidXml(crate::xml::InvalidXml),
}

/// Crate-internal, but named in the role hooks: public in a private module.
mod internal {
    use super::{AuthError, NegotiationError, Violation};

    /// A fault a role or a negotiation step found: the stream ends with it.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Fault {
        Violation(Violation),
        Negotiation(NegotiationError),
    }

    impl From<Violation> for Fault {
        fn from(v: Violation) -> Fault {
            Fault::Violation(v)
        }
    }

    impl From<NegotiationError> for Fault {
        fn from(e: NegotiationError) -> Fault {
            Fault::Negotiation(e)
        }
    }

    impl From<AuthError> for Fault {
        fn from(e: AuthError) -> Fault {
            Fault::Negotiation(NegotiationError::Auth(e))
        }
    }

    impl Fault {
        /// An element with no place here.
        pub(crate) fn unexpected(element: &crate::xml::Element) -> Fault {
            Fault::Violation(Violation::Unexpected { name: element.name().into(), ns: element.ns().as_str().into() })
        }
    }
}
pub(crate) use internal::Fault;
