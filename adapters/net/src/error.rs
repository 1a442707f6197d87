//! The one error type every adapter returns: each failure typed, with
//! its cause kept (the SASL condition, the certificate problem, the
//! stream error), so an application can tell them apart without parsing
//! messages.

use std::io;

use sxmpp::condition::SaslCondition;
use sxmpp::connection::{ApiError, CloseReason, ConfigError, NegotiationError, TimeoutKind};
use sxmpp::error::AuthError;
use sxmpp::stanza::StreamError;
use sxmpp::tls::TlsError;

use crate::dns::ResolveError;

/// Why a connection could not be made or went away.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The domain's servers could not be found (DNS failed, or the domain
    /// says it offers no XMPP service).
    #[error("resolving {domain}: {source}")]
    Resolve {
        /// The domain looked up.
        domain: String,
        /// What went wrong.
        source: ResolveError,
    },
    /// No address of any candidate host accepted a connection (each
    /// attempt's error, in order).
    #[error("could not connect to {domain}: {}", describe_attempts(.attempts))]
    Connect {
        /// The domain connected to.
        domain: String,
        /// Each attempt: where, and why it failed.
        attempts: Vec<(String, io::Error)>,
    },
    /// The TLS handshake failed; for a refused certificate the kind is
    /// `Certificate` and the message names the problem.
    #[error(transparent)]
    Tls(TlsError),
    /// The server refused the credentials: the SASL condition
    /// (`not-authorized` for a wrong password).
    #[error("authentication failed: {condition}{}", .text.as_deref().map(|t| format!(" ({t})")).unwrap_or_default())]
    Auth {
        /// The condition the server gave.
        condition: SaslCondition,
        /// Its explanation, if any.
        text: Option<String>,
    },
    /// Negotiation failed otherwise (TLS required but not offered, no
    /// acceptable mechanism, the server's SCRAM proof wrong, binding
    /// refused…): nothing was sent that should not have been.
    #[error("negotiation failed: {0}")]
    Negotiation(Box<NegotiationError>),
    /// The peer ended the stream with this stream error.
    #[error("stream error from the peer: {0:?}")]
    Stream(Box<StreamError>),
    /// The connection ended otherwise (the peer broke the protocol, the
    /// transport closed without a stream close, …): the core's reason.
    #[error("connection closed: {0:?}")]
    Closed(Box<CloseReason>),
    /// A wait ran out: the core's own timers (ping, close, negotiation) or
    /// a deadline the application gave.
    #[error("timed out: {0}")]
    Timeout(Timeout),
    /// The application's call was refused by the core.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Too many events wait unread while a request waits for its answer:
    /// read them ([`next_event`](crate::Pump::pop_event)) first. Nothing
    /// was lost.
    #[error("{0} events wait unread")]
    Backlog(usize),
    /// The transport failed.
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
}

/// Which wait ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timeout {
    /// One of the core's timers ended the connection.
    Connection(TimeoutKind),
    /// No response to an IQ in time (the connection goes on).
    Request,
    /// The deadline the application gave for an event.
    Event,
    /// Connecting (DNS, TCP, TLS and negotiation together) took too long.
    Connect,
}

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Timeout::Connection(kind) => write!(f, "{kind}"),
            Timeout::Request => f.write_str("no response to the request"),
            Timeout::Event => f.write_str("no event before the deadline"),
            Timeout::Connect => f.write_str("connecting took too long"),
        }
    }
}

impl Error {
    /// The error a connection's end stands for; `None` for a clean close.
    pub fn from_close(reason: &CloseReason) -> Option<Error> {
        Some(match reason {
            CloseReason::Clean => return None,
            CloseReason::Tls(e) => Error::Tls(e.clone()),
            CloseReason::Negotiation(NegotiationError::Auth(AuthError::Failure { condition, text })) => {
                Error::Auth { condition: *condition, text: text.clone() }
            }
            CloseReason::Negotiation(e) => Error::Negotiation(Box::new(e.clone())),
            CloseReason::StreamError(e) => Error::Stream(Box::new(e.clone())),
            CloseReason::Timeout(kind) => Error::Timeout(Timeout::Connection(*kind)),
            other => Error::Closed(Box::new(other.clone())),
        })
    }
}

fn describe_attempts(attempts: &[(String, io::Error)]) -> String {
    if attempts.is_empty() {
        return "no address to try".into();
    }
    attempts.iter().map(|(to, e)| format!("{to}: {e}")).collect::<Vec<_>>().join("; ")
}
