//! The connections: one engine, [`Connection`], for every role (the
//! client, the receiving server, and the two sides of XEP-0114
//! components), and the one contract a driver follows for all of them.
//!
//! A connection's methods are of four kinds (the quinn-proto arrangement):
//!
//! - **input** (`handle_*`): bytes received, the transport's end, timer
//!   expiry, the TLS hand-off. They never block, never do I/O, and never
//!   fail because of the peer: peer faults end the stream with a
//!   [`CloseReason`] (and the stream error they call for);
//! - **output**: [`Connection::poll_output`], drained until it says
//!   [`Output::Wait`], and [`Connection::consume_transmit`] for the bytes
//!   written;
//! - **API calls** (`send`, `respond`, `close`, and each role's own):
//!   what the application wants; misuse is an [`ApiError`] at the call;
//! - getters.
//!
//! The driver's rule, the same for every role: **after every input or API
//! call, call `poll_output` until it returns `Wait`; write what it
//! transmits, run TLS when it asks, hand events to the application, stop
//! at `Closed`; then wait for input, writability or the deadline.**

use alloc::string::String;
use core::time::Duration;

use crate::jid::Jid;
use crate::session::{IqResponse, RequestId, SessionLimits};
use crate::stanza::{Stanza, StanzaParseError, StreamError};
use crate::stream::Framing;
use crate::xml::{Element, Limits};

mod client;
mod component;
mod engine;
mod output;
mod server;
mod timers;

pub use self::client::{ClientConfig, ClientRole, FeatureFactory, SendFrom};
pub use self::component::{
    ComponentAccount, ComponentConfig, ComponentRole, ComponentServerConfig, ComponentServerRole, handshake_digest,
};
pub use self::engine::{Connection, Output, Role};
pub use self::server::{InvalidFrom, ServerConfig, ServerRole};
pub use crate::error::{ApiError, AuthError, NegotiationError, Violation};
pub use crate::negotiation::{
    AuthAnswer, AuthRequest, Authenticated, BindDecision, BindRequest, ServerTls, StreamFeature, TlsMode,
};
pub use crate::sasl::ServerSecret;
pub use crate::tls::{TlsError, TlsErrorKind, TlsInfo, TlsRequest, TlsSide};

/// A c2s client connection (RFC 6120's initiating entity).
pub type Client = Connection<ClientRole>;
/// The receiving side of a c2s connection: one client, as a server sees it.
pub type Server = Connection<ServerRole>;
/// An external component connecting to a server (XEP-0114).
pub type Component = Connection<ComponentRole>;
/// A server accepting an external component (XEP-0114).
pub type ComponentServer = Connection<ComponentServerRole>;

/// Something that happened on a connection, in any role. Roles produce
/// the variants that concern them (a client never asks for credentials).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// SASL succeeded: for a client, the server proved it knows the
    /// password (SCRAM); for a server, the client authenticated.
    Authenticated(Authenticated),
    /// (Server) A client asks to authenticate: answer with
    /// [`Connection::authenticate`].
    AuthRequested(AuthRequest),
    /// (Server) An authentication attempt failed; the client may try
    /// again, a bounded number of times.
    AuthAttemptFailed(crate::condition::SaslCondition),
    /// (Server) A client asks to bind a resource: answer with
    /// [`Connection::bind`].
    BindRequested(BindRequest),
    /// A stream feature the application defined was negotiated (its
    /// namespace).
    FeatureNegotiated(String),
    /// Negotiation is over: stanzas flow. For a client, its bound address;
    /// for a server, the client's; for a component connection, the
    /// component's domain.
    Online(Jid),
    /// A stanza for the application: a message, a presence, or an IQ
    /// request it must answer ([`Connection::respond`]).
    Stanza(Stanza),
    /// The response to an IQ this side sent.
    IqResponse(IqResponse),
    /// No response to this IQ arrived in time.
    IqTimeout(RequestId),
    /// A first-level element that is not a valid stanza; it was not acted
    /// on (IQ requests among them were answered with an error).
    InvalidStanza {
        /// The element as received.
        element: Element,
        /// What is wrong with it.
        error: StanzaParseError,
    },
}

/// Why a connection ended: sticky ([`Connection::close_reason`]) and
/// reported once by [`Output::Closed`].
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
    /// The peer broke the protocol; this side sent the stream error the
    /// violation names, and closed.
    Violation(Violation),
    /// The stream could not get online: authentication failed, TLS was
    /// unavailable, binding was refused…
    Negotiation(NegotiationError),
    /// A timer ran out.
    Timeout(TimeoutKind),
    /// The TLS handshake failed, as the driver reported.
    Tls(TlsError),
    /// This side's application closed the stream with this stream error
    /// ([`Connection::close_with_error`]).
    ClosedWithError(StreamError),
    /// This side's application closed before the stream was open (during
    /// the TLS handshake, say): nothing was sent.
    Abandoned,
    /// (WebSocket) The server closed the stream naming another endpoint
    /// (RFC 7395 §3.6.1). A client must not follow it to a lower security
    /// context (`wss:` to `ws:` or `http:`).
    SeeOtherUri(String),
}

impl CloseReason {
    /// The stream error sent to the peer or received from it, if any.
    pub fn stream_error_condition(&self) -> Option<crate::condition::StreamErrorCondition> {
        match self {
            CloseReason::StreamError(e) | CloseReason::ClosedWithError(e) => Some(e.condition),
            CloseReason::Violation(v) => v.condition(),
            CloseReason::Negotiation(n) => n.condition(),
            _ => None,
        }
    }
}

/// Which timer ended the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// Nothing arrived after a ping (XEP-0199): the peer is gone.
    Ping,
    /// The peer did not answer our `</stream:stream>`.
    Close,
    /// (Server) The peer did not authenticate in time (HARDENING 27).
    PreAuth,
    /// The peer did not complete negotiation in time: not online by the
    /// negotiation deadline (client, component), or not bound after
    /// authenticating (server) (HARDENING 31).
    Negotiation,
}

impl ::core::fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        f.write_str(match self {
            TimeoutKind::Ping => "no traffic after a ping",
            TimeoutKind::Close => "no answer to the stream close",
            TimeoutKind::PreAuth => "not authenticated in time",
            TimeoutKind::Negotiation => "negotiation not completed in time",
        })
    }
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
    /// A component server configured with no component.
    #[error("no component is configured")]
    NoComponents,
    /// STARTTLS over WebSocket framing: TLS is the WebSocket's (`wss:`,
    /// `Direct`) or none (RFC 7395 §3.9).
    #[error("STARTTLS is not available over WebSocket: use TLS mode Direct (wss:) or Disabled")]
    StartTlsOverWebSocket,
}

/// What every connection is configured with, whatever its role: limits,
/// timers, the IQ tables. Each role's configuration starts from the
/// defaults fit for it and holds this as `stream`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StreamConfig {
    /// Limits on what the peer may make us hold.
    pub limits: Limits,
    /// Bytes queued for the peer before application sends are refused
    /// ([`ApiError::OutboundFull`]). Answers the core owes still go out
    /// beyond it; a peer that makes the queue reach twice this (and at
    /// least 64 KiB more) without reading is cut off with
    /// `resource-constraint` (HARDENING 28).
    pub max_outbound_bytes: usize,
    /// How long to wait for the peer's `</stream:stream>` after ours.
    pub close_timeout: Duration,
    /// Send a whitespace keepalive after this long without sending (TCP
    /// only; `None`: never).
    pub keepalive_interval: Option<Duration>,
    /// Send a XEP-0199 ping after this long without receiving (`None`:
    /// never).
    pub ping_interval: Option<Duration>,
    /// How long to wait for any input after such a ping before closing
    /// with `connection-timeout`.
    pub ping_timeout: Duration,
    /// How long an IQ request may wait for its response.
    pub iq_timeout: Duration,
    /// Answer XEP-0199 pings addressed to this entity.
    pub answer_pings: bool,
    /// IQ and queue bounds of the session.
    pub session: SessionLimits,
    /// How the stream is framed: TCP, or WebSocket (RFC 7395).
    pub framing: Framing,
    /// Give back buffers and queues this long after the connection first
    /// has nothing to do (it then holds under 2 KiB); traffic meanwhile
    /// reuses them instead of allocating afresh for every read. Zero: at
    /// once, whenever nothing is pending (the least memory, allocations
    /// anew for each read).
    pub release_after: Duration,
}

impl StreamConfig {
    /// Defaults for a client: keepalives every 60 s, a ping after 300 s
    /// without input, 60 s for IQ answers, buffers given back after 1 s
    /// idle.
    pub fn client() -> StreamConfig {
        StreamConfig {
            limits: Limits::default(),
            max_outbound_bytes: 1 << 20,
            close_timeout: Duration::from_secs(10),
            keepalive_interval: Some(Duration::from_secs(60)),
            ping_interval: Some(Duration::from_secs(300)),
            ping_timeout: Duration::from_secs(60),
            iq_timeout: Duration::from_secs(60),
            answer_pings: true,
            session: SessionLimits::default(),
            framing: Framing::Tcp,
            release_after: Duration::from_secs(1),
        }
    }

    /// Defaults for the receiving side: no keepalives or pings of its own
    /// (turn pings on to find dead clients).
    pub fn server() -> StreamConfig {
        StreamConfig { keepalive_interval: None, ping_interval: None, ..StreamConfig::client() }
    }
}

#[cfg(test)]
mod server_tests;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod websocket_tests;
