//! The connections: the only place where protocol state, timers and queues
//! meet.
//!
//! A connection is driven through four kinds of method (the quinn-proto
//! arrangement):
//!
//! - **input** (`handle_*`, `tls_established`): bytes received, the
//!   transport's end, timer expiry, the TLS hand-off. They never block,
//!   never do I/O, and never fail because of the peer: peer faults become
//!   a stream error queued for the peer and a final [`Event::Closed`];
//! - **API calls** (`send_*`, `respond_iq`, `close`): what the application
//!   wants; misuse is a typed [`SendError`] at the call;
//! - **output** (`poll_event`, `pending_tx`/`consume_tx`, `poll_timeout`);
//! - getters.
//!
//! After every input or API call the driver drains events, then writes out
//! the pending bytes, then arms a timer for `poll_timeout()`. That one rule
//! is all a driver needs.

use alloc::string::String;
use core::fmt;

use crate::condition::{SaslCondition, StreamErrorCondition};
use crate::jid::FullJid;
use crate::sasl::{BindingOutcome, Mechanism, ScramError, ScramKeys, SelectError};
use crate::stanza::{Iq, Message, Presence, StanzaError, StanzaParseError, StreamError};
use crate::xml::{Element, InvalidXml, XmlError};

mod client;
mod component;
mod iq;
mod server;
mod stream;

pub use client::{Client, ClientConfig, SendFrom, TlsMode};
pub use component::{
    Component, ComponentAccount, ComponentConfig, ComponentEvent, ComponentServer, ComponentServerConfig,
    handshake_digest,
};
pub use iq::IqResponse;
pub use server::{
    AuthAnswer, AuthRequest, BindDecision, InvalidFrom, Server, ServerApiError, ServerConfig, ServerEvent,
    ServerSecret, ServerTls,
};

/// Something that happened on a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The server agreed to STARTTLS: write out the pending bytes, run the
    /// TLS handshake on the transport, then call `tls_established`.
    /// Nothing is read until then.
    TlsRequested,
    /// SASL succeeded (and the server proved it knows the password, for
    /// SCRAM).
    Authenticated(Authenticated),
    /// A resource is bound: stanzas may flow.
    Online(FullJid),
    /// A message arrived.
    Message(Message),
    /// A presence arrived.
    Presence(Presence),
    /// A get or set IQ for the application; answer it with
    /// [`Client::respond_iq`].
    IqRequest(Iq),
    /// The response to an IQ the application sent.
    IqResponse(IqResponse),
    /// No response to the IQ with this id arrived in time.
    IqTimeout(String),
    /// A first-level element that is not a valid stanza; it was not acted
    /// on (IQ requests among them were answered with an error).
    InvalidStanza {
        /// The element as received.
        element: Element,
        /// What is wrong with it.
        error: StanzaParseError,
    },
    /// The connection is over; always the last event, exactly once.
    Closed(CloseReason),
}

impl From<CloseReason> for Event {
    fn from(reason: CloseReason) -> Event {
        Event::Closed(reason)
    }
}

/// Details of a successful authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    /// The mechanism used.
    pub mechanism: Mechanism,
    /// Whether (and how) authentication was bound to the TLS channel.
    pub channel_binding: BindingOutcome,
    /// For SCRAM: the derived keys, to log in next time without the
    /// password and without running PBKDF2 again.
    pub scram_keys: Option<ScramKeys>,
}

/// Why a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// Both sides closed their streams (RFC 6120 §4.4).
    Clean,
    /// The transport ended without the peer closing its stream.
    Eof,
    /// The peer sent a stream error (RFC 6120 §4.9). For `see-other-host`
    /// the new host is in `condition_text`; the TLS certificate to expect
    /// there is still the one for the original domain (HARDENING 12).
    StreamError(StreamError),
    /// Authentication failed.
    AuthFailed(AuthError),
    /// This side found a fault and closed the stream, with a stream error
    /// naming [`ProtocolError::condition`] where there is one.
    Protocol(ProtocolError),
    /// A timer ran out.
    Timeout(TimeoutKind),
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

/// A fault this side detected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The peer's XML broke the rules.
    #[error("{0}")]
    Xml(XmlError),
    /// The peer's stream header is not acceptable.
    #[error("bad stream header: {detail}")]
    Header {
        /// The stream error sent.
        condition: StreamErrorCondition,
        /// What was wrong.
        detail: &'static str,
    },
    /// TLS is required but the server does not offer STARTTLS
    /// (HARDENING 10: stopped before any credentials were sent).
    #[error("TLS is required but the server does not offer it")]
    TlsUnavailable,
    /// The server requires TLS and the configuration forbids it.
    #[error("the server requires TLS, which is disabled")]
    TlsRequiredByServer,
    /// STARTTLS failed: the server answered `<starttls/>` with
    /// `<failure/>` (or, as server, the client asked for STARTTLS where it
    /// was not offered).
    #[error("STARTTLS failed")]
    TlsFailed,
    /// Bytes arrived in plaintext after `<proceed/>` where the TLS
    /// handshake was due, in the same read or later (HARDENING 11; for the
    /// server, pipelined behind `<starttls/>`, HARDENING 29); they were
    /// not processed, and nothing more is written in plaintext.
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
    /// The server's only mandatory feature is one we do not support
    /// (RFC 6120 §4.9.3.23).
    #[error("the server requires a feature we do not support: <{name} xmlns='{ns}'/>")]
    UnsupportedFeature {
        /// The feature's element name.
        name: String,
        /// The feature's namespace.
        ns: String,
    },
    /// The peer kept sending requests the core answers (pings, IQs nobody
    /// handles) without reading the answers: the outbound buffer reached
    /// twice its limit (and at least 64 KiB over it).
    #[error("the peer does not read what it asks for")]
    OutboundBacklog,
    /// The server offered no resource binding after authentication.
    #[error("the server offers no resource binding")]
    BindNotOffered,
    /// Resource binding failed.
    #[error("resource binding failed: {0}")]
    BindFailed(alloc::boxed::Box<StanzaError>),
    /// The server bound a JID that is not ours.
    #[error("the server bound an address that is not this account's")]
    BadBoundJid,
    /// Session establishment failed.
    #[error("session establishment failed: {0}")]
    SessionFailed(alloc::boxed::Box<StanzaError>),
    /// (Server) A stanza before authentication or binding (HARDENING 24).
    #[error("stanza before authentication or binding")]
    NotAuthorized,
    /// (Server) A stanza whose `from` is not the session's, with
    /// [`InvalidFrom::Reject`] (HARDENING 23).
    #[error("stanza with a from that is not the session's")]
    InvalidFrom,
    /// (Server) Too many failed SASL attempts (RFC 6120 §6.4.5).
    #[error("too many failed authentication attempts")]
    TooManyAuthAttempts,
    /// (Component server) A stanza without `from` or `to` (XEP-0114 §3).
    #[error("stanza without from or to")]
    ImproperAddressing,
}

impl ProtocolError {
    /// The stream error sent to the peer, if one was.
    pub fn condition(&self) -> Option<StreamErrorCondition> {
        use StreamErrorCondition as C;
        match self {
            ProtocolError::Xml(e) => Some(e.condition()),
            ProtocolError::Header { condition, .. } => Some(*condition),
            ProtocolError::TlsUnavailable | ProtocolError::TlsRequiredByServer => Some(C::PolicyViolation),
            // After <proceed/> nothing more may go out in plaintext; after a
            // STARTTLS failure the server closes.
            ProtocolError::DataAfterProceed | ProtocolError::TlsFailed => None,
            ProtocolError::Unexpected { .. } => Some(C::UnsupportedStanzaType),
            ProtocolError::BindNotOffered | ProtocolError::BindFailed(_) | ProtocolError::SessionFailed(_) => {
                Some(C::UndefinedCondition)
            }
            ProtocolError::UnsupportedFeature { .. } => Some(C::UnsupportedFeature),
            ProtocolError::BadBoundJid => Some(C::PolicyViolation),
            ProtocolError::OutboundBacklog => Some(C::ResourceConstraint),
            ProtocolError::NotAuthorized => Some(C::NotAuthorized),
            ProtocolError::InvalidFrom => Some(C::InvalidFrom),
            ProtocolError::TooManyAuthAttempts => Some(C::PolicyViolation),
            ProtocolError::ImproperAddressing => Some(C::ImproperAddressing),
        }
    }
}

/// Which timer ended the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Nothing arrived after a ping (XEP-0199): the peer is gone.
    Ping,
    /// The peer did not answer our `</stream:stream>`.
    Close,
    /// (Server) The client did not authenticate in time (HARDENING 27).
    PreAuth,
    /// The peer did not complete negotiation in time: not online by the
    /// negotiation deadline (client), or not bound after authenticating
    /// (server) (HARDENING 31).
    Negotiation,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Ping => "no traffic after a ping",
            TimeoutKind::Close => "no answer to the stream close",
            TimeoutKind::PreAuth => "not authenticated in time",
            TimeoutKind::Negotiation => "negotiation not completed in time",
        })
    }
}

/// Why an API call was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// Stanzas can only be sent once the connection is online.
    #[error("not online")]
    NotOnline,
    /// The connection is closed (or closing).
    #[error("the connection is closed")]
    Closed,
    /// The outbound buffer is full: drain it and try again.
    #[error("the outbound buffer is full")]
    OutboundFull,
    /// Too many IQs await responses.
    #[error("too many IQs are waiting for responses")]
    TooManyPendingIqs,
    /// There is no unanswered request with that id and sender.
    #[error("no unanswered IQ request with that id")]
    UnknownRequest,
    /// The stanza holds something XML cannot carry.
    #[error("{0}")]
    InvalidXml(InvalidXml),
    /// Only get and set IQs can be sent as requests.
    #[error("only get and set IQs are requests")]
    NotARequest,
    /// A request with this id still awaits its answer: the two answers
    /// could not be told apart.
    #[error("a request with this id is already waiting for its answer")]
    DuplicateId,
}

/// Why a configuration was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The requested resource is not a valid resourcepart.
    #[error("invalid resource: {0}")]
    Resource(crate::jid::JidError),
    /// No mechanism is allowed.
    #[error("no SASL mechanism is allowed")]
    NoMechanisms,
    /// The minimum SCRAM iteration count is above the maximum.
    #[error("min_scram_iterations is above max_scram_iterations")]
    IterationBounds,
}

#[cfg(test)]
mod server_tests;
#[cfg(test)]
mod tests;
