//! The receiving side of a client-to-server stream (RFC 6120 §4–§8): it
//! checks the client's stream header, offers features, runs STARTTLS, the
//! server half of SASL and resource binding, then carries stanzas with
//! `from` stamped.
//!
//! Questions the core cannot answer are events the application answers
//! through a method: the credentials for a user
//! ([`ServerEvent::AuthRequested`] → [`Server::authenticate`]), and the
//! resource to bind ([`ServerEvent::BindRequested`] → [`Server::bind`]).
//! The core never needs a plaintext password: stored SCRAM keys are enough
//! for every mechanism, PLAIN included.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use super::stream::XmlStream;
use super::{CloseReason, ConfigError, ProtocolError, SendError, TimeoutKind};
use crate::condition::{SaslCondition, StanzaErrorCondition, StreamErrorCondition};
use crate::entropy::Entropy;
use crate::jid::{BareJid, FullJid, Jid};
use crate::negotiation::{self, Requirement, StreamFeatures};
use crate::ns;
use crate::sasl::scram::{Gs2Flag, ScramServer, constant_time_eq, parse_client_first, ssdp_hash};
use crate::sasl::{ChannelBinding, ChannelBindingType, Mechanism, ScramError, ScramHash, ScramStored, saslprep};
use crate::stanza::{Iq, IqType, Stanza, StanzaError, StreamError};
use crate::time::Timestamp;
use crate::xml::{Element, Limits, Namespace, StreamEvent, StreamHeader};

/// When the server offers and requires TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ServerTls {
    /// Offer STARTTLS as `<required/>`; offer SASL only after it.
    #[default]
    Required,
    /// Offer STARTTLS; also offer SASL before it.
    Optional,
    /// No TLS (tests, loopback).
    Disabled,
    /// The transport is TLS from its first byte (XEP-0368): call
    /// [`Server::tls_established`] before any input.
    Direct,
}

/// What to do with a stanza whose `from` is not the session's JID
/// (RFC 6120 §8.1.2.1, HARDENING 23).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InvalidFrom {
    /// Overwrite it with the session's full JID.
    #[default]
    Stamp,
    /// Close the stream with `<invalid-from/>`.
    Reject,
}

/// A secret the server keeps across connections and restarts, so that
/// what it derives from it is stable: the salts of the mock SCRAM
/// exchanges that make an unknown user look like a wrong password (RFC
/// 5802 §5.1, RFC 6120 §6.5.10), and the salts of credentials derived from
/// passwords the application hands over. Generate it once
/// ([`ServerSecret::generate`]) and keep it with the user database:
/// a salt that changes between two logins tells an attacker the name is
/// unknown.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerSecret([u8; 32]);

impl ServerSecret {
    /// A secret from bytes the application keeps.
    pub const fn new(bytes: [u8; 32]) -> ServerSecret {
        ServerSecret(bytes)
    }

    /// A fresh secret from a secure random source.
    pub fn generate(entropy: &mut dyn Entropy) -> ServerSecret {
        let mut bytes = [0u8; 32];
        entropy.fill(&mut bytes);
        ServerSecret(bytes)
    }

    /// A value bound to this secret, a purpose and an account.
    fn derive(&self, purpose: &str, hash: ScramHash, account: &BareJid) -> Vec<u8> {
        let mut input = String::with_capacity(purpose.len() + account.as_str().len() + 24);
        for part in [purpose, hash.name(), account.as_str()] {
            input.push_str(part);
            input.push('\0');
        }
        ScramHash::Sha256.hmac(&self.0, input.as_bytes())
    }

    /// The salt for `account`'s credentials under `hash`: 16 bytes, the
    /// same for every connection.
    fn salt(&self, hash: ScramHash, account: &BareJid) -> Vec<u8> {
        let mut salt = self.derive("salt", hash, account);
        salt.truncate(16);
        salt
    }

    /// Credentials no password opens, with the salt a real one would have.
    fn mock_credentials(&self, hash: ScramHash, account: &BareJid, iterations: u32) -> ScramStored {
        let mut stored_key = self.derive("stored-key", hash, account);
        let mut server_key = self.derive("server-key", hash, account);
        stored_key.resize(hash.output_len(), 0);
        server_key.resize(hash.output_len(), 0);
        ScramStored { hash, salt: self.salt(hash, account), iterations, stored_key, server_key }
    }
}

impl core::fmt::Debug for ServerSecret {
    /// Never shows the secret.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ServerSecret(..)")
    }
}

/// How a [`Server`] connection behaves.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The domains served; a stream to any other gets `<host-unknown/>`.
    pub domains: Vec<String>,
    /// Keeps unknown users indistinguishable from wrong passwords; see
    /// [`ServerSecret`].
    pub secret: ServerSecret,
    /// Domains this server used to serve; a stream to one of them gets
    /// `<host-gone/>` (RFC 6120 §4.9.3.5), so peers stop retrying.
    pub gone_domains: Vec<String>,
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
    /// Answer XEP-0199 pings addressed to the server.
    pub answer_pings: bool,
    /// Limits on what the client may make us hold.
    pub limits: Limits,
    /// Bytes queued for the client before sends are refused.
    /// Answers the core owes still go out beyond it; a peer that makes
    /// the queue reach twice this (and at least 64 KiB more) without
    /// reading is cut off with `resource-constraint` (HARDENING 28).
    pub max_outbound_bytes: usize,
    /// Close connections that have not authenticated within this time
    /// (HARDENING 27).
    pub pre_auth_timeout: Duration,
    /// Close connections that have authenticated but not bound a resource
    /// within this time after authenticating (HARDENING 31).
    pub bind_timeout: Duration,
    /// Ping (XEP-0199) a bound client after this long without input; off
    /// by default.
    pub ping_interval: Option<Duration>,
    /// How long to wait for any input after such a ping before closing
    /// with `connection-timeout`.
    pub ping_timeout: Duration,
    /// How long to wait for the client's `</stream:stream>`.
    pub close_timeout: Duration,
}

impl ServerConfig {
    /// A server for `domain` with safe defaults: TLS required, SCRAM
    /// preferred, PLAIN only over TLS, 60 s to authenticate. `secret` must
    /// be the same for every connection (see [`ServerSecret`]).
    pub fn new(domain: impl Into<String>, secret: ServerSecret) -> ServerConfig {
        ServerConfig {
            domains: alloc::vec![domain.into()],
            secret,
            gone_domains: Vec::new(),
            tls: ServerTls::Required,
            mechanisms: Mechanism::PASSWORD.to_vec(),
            allow_plain_without_tls: false,
            advertise_channel_binding: true,
            downgrade_protection: true,
            scram_iterations: 4096,
            max_auth_attempts: 3,
            offer_session: false,
            invalid_from: InvalidFrom::Stamp,
            answer_pings: true,
            limits: Limits::default(),
            max_outbound_bytes: 1 << 20,
            pre_auth_timeout: Duration::from_secs(60),
            bind_timeout: Duration::from_secs(60),
            ping_interval: None,
            ping_timeout: Duration::from_secs(60),
            close_timeout: Duration::from_secs(10),
        }
    }
}

/// Something that happened on a server connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
// Events are moved once, from the queue to the application: boxing the
// stanza would cost an allocation per stanza for nothing.
#[allow(clippy::large_enum_variant)]
pub enum ServerEvent {
    /// `<proceed/>` is queued: write out the pending bytes, run the TLS
    /// handshake as server, then call [`Server::tls_established`].
    TlsRequested,
    /// A client asks to authenticate: answer with [`Server::authenticate`].
    AuthRequested(AuthRequest),
    /// An attempt failed; the client may try again.
    AuthFailed(SaslCondition),
    /// The client authenticated as this account.
    Authenticated {
        /// The account.
        jid: BareJid,
        /// The mechanism used.
        mechanism: Mechanism,
    },
    /// The client asks to bind a resource (`None`: the server chooses):
    /// answer with [`Server::bind`].
    BindRequested(Option<String>),
    /// A resource is bound: stanzas flow.
    Online(FullJid),
    /// A stanza from the client, `from` stamped with its full JID.
    Stanza(Stanza),
    /// The connection is over; the last event, exactly once.
    Closed(CloseReason),
}

/// A request for credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthRequest {
    /// The mechanism the client chose.
    pub mechanism: Mechanism,
    /// For password mechanisms, the account named, prepared (RFC 7622
    /// §3.3: `JULIET` asks for `juliet@…`): look credentials up by this.
    /// `None` for EXTERNAL and ANONYMOUS. A name that cannot be prepared
    /// is refused before the application is asked.
    pub account: Option<BareJid>,
    /// The authorization identity the client asked for, if any (checked:
    /// for password mechanisms it names `account`).
    pub authzid: Option<String>,
}

/// The application's answer to [`ServerEvent::AuthRequested`].
#[derive(Clone, Debug)]
pub enum AuthAnswer {
    /// The user's stored SCRAM credentials (one per hash the server keeps).
    /// Enough for SCRAM and for PLAIN.
    Scram(Vec<ScramStored>),
    /// The user's password; the core derives what it needs.
    Password(String),
    /// EXTERNAL or ANONYMOUS: accept as this account.
    Accept(BareJid),
    /// There is no such account. For password mechanisms the core plays
    /// out a mock exchange (a stable salt derived from
    /// [`ServerConfig::secret`], the configured iteration count) and fails
    /// with `not-authorized` where a wrong password would, so a client
    /// cannot tell the two apart (RFC 6120 §6.5.10, RFC 5802 §5.1).
    UnknownUser,
    /// Refuse at once with this condition, for example `account-disabled`.
    /// `not-authorized` is taken as [`AuthAnswer::UnknownUser`].
    Reject(SaslCondition),
}

/// The application's answer to [`ServerEvent::BindRequested`].
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// Why a server API call was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerApiError {
    /// Nothing is waiting for this answer.
    #[error("no request is waiting for this answer")]
    NotWaiting,
    /// The resource is not a valid resourcepart.
    #[error("invalid resource: {0}")]
    InvalidResource(crate::jid::JidError),
    /// Sending failed.
    #[error("{0}")]
    Send(SendError),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    AwaitingDirectTls,
    AwaitingHeader,
    /// Features sent; negotiation elements expected.
    Negotiating,
    /// `<proceed/>` written; the hand-off is checked once parsing stops.
    ProceedSent,
    /// `<proceed/>` sent: TLS handshake due.
    TlsHandshake,
    /// Waiting for the application's credentials.
    AwaitingCredentials,
    /// Waiting for the client's response to our challenge.
    AwaitingResponse,
    /// Waiting for the application's bind decision; the request's id.
    AwaitingBind {
        id: String,
        requested: Option<String>,
    },
    Online,
    Closing,
    Closed,
}

impl Phase {
    /// The phase, or `Closed` once the stream is closed: API answers that
    /// arrive after the end find nothing waiting.
    fn filter_open(self, stream: &XmlStream<ServerEvent>) -> Phase {
        if stream.is_closed() { Phase::Closed } else { self }
    }
}

/// What the pending SASL attempt needs.
enum Attempt {
    /// SCRAM: the parsed client-first-message; later the exchange.
    Scram {
        mechanism: Mechanism,
        account: BareJid,
        first: crate::sasl::scram::ClientFirst,
        binding_data: Vec<u8>,
    },
    ScramRunning {
        mechanism: Mechanism,
        user: BareJid,
        server: Box<ScramServer>,
        /// A mock exchange for an unknown user: it fails at the proof.
        mock: bool,
    },
    Plain {
        account: BareJid,
        password: String,
    },
    Accept {
        mechanism: Mechanism,
    },
    /// The client sent `<auth/>` without an initial response.
    AwaitingInitial {
        mechanism: Mechanism,
    },
}

/// The receiving role of a c2s connection, as a sans-IO state machine.
pub struct Server {
    config: ServerConfig,
    entropy: Box<dyn Entropy + Send>,
    stream: XmlStream<ServerEvent>,
    phase: Phase,
    /// The served domain the client asked for.
    domain: Option<String>,
    /// The `from` of the client's header, echoed as our `to` (RFC 6120
    /// §4.7.2).
    peer: Option<Jid>,
    opened: bool,
    secure: bool,
    binding: ChannelBinding,
    offered: StreamFeatures,
    account: Option<BareJid>,
    jid: Option<FullJid>,
    attempt: Option<Attempt>,
    failures: u32,
    pre_auth_deadline: Option<Timestamp>,
    /// Bound by then, once authenticated.
    bind_deadline: Option<Timestamp>,
    /// Our ping is out: some input by then, or the session ends.
    ping_deadline: Option<Timestamp>,
    /// The id of our last ping, whose answer is ours, not the
    /// application's.
    ping_id: Option<String>,
    close_deadline: Option<Timestamp>,
}

impl Server {
    /// A connection for a client that just connected.
    pub fn new(config: ServerConfig, entropy: Box<dyn Entropy + Send>, now: Timestamp) -> Result<Server, ConfigError> {
        if config.mechanisms.is_empty() {
            return Err(ConfigError::NoMechanisms);
        }
        let stream = XmlStream::new(config.limits, Namespace::from_static(ns::CLIENT), config.max_outbound_bytes, now);
        let phase = if config.tls == ServerTls::Direct { Phase::AwaitingDirectTls } else { Phase::AwaitingHeader };
        Ok(Server {
            pre_auth_deadline: Some(now + config.pre_auth_timeout),
            config,
            entropy,
            stream,
            phase,
            domain: None,
            peer: None,
            opened: false,
            secure: false,
            binding: ChannelBinding::none(),
            offered: StreamFeatures::default(),
            account: None,
            jid: None,
            attempt: None,
            failures: 0,
            bind_deadline: None,
            ping_deadline: None,
            ping_id: None,
            close_deadline: None,
        })
    }

    // ----- getters -----

    /// The bound address, once online.
    pub fn jid(&self) -> Option<&FullJid> {
        self.jid.as_ref()
    }

    /// The authenticated account.
    pub fn account(&self) -> Option<&BareJid> {
        self.account.as_ref()
    }

    /// True once the final `Closed` event has been queued.
    pub fn is_closed(&self) -> bool {
        self.stream.is_closed()
    }

    // ----- output -----

    /// The next event, if any. Input that arrived while events were
    /// waiting is parsed here, once they have been taken.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        if self.stream.events_drained() {
            self.run(self.stream.last_rx, false);
        }
        self.stream.poll_event()
    }

    /// Bytes waiting to be written to the transport.
    pub fn pending_tx(&self) -> &[u8] {
        self.stream.pending_tx()
    }

    /// Marks `n` bytes of [`pending_tx`](Server::pending_tx) as written.
    pub fn consume_tx(&mut self, n: usize) {
        self.stream.consume_tx(n)
    }

    /// When [`handle_timeout`](Server::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.stream.is_closed() {
            return None;
        }
        let next_ping = match (self.phase == Phase::Online, self.ping_deadline, self.config.ping_interval) {
            (true, None, Some(interval)) => Some(self.stream.last_rx + interval),
            _ => None,
        };
        [self.pre_auth_deadline, self.bind_deadline, self.ping_deadline, self.close_deadline, next_ping]
            .into_iter()
            .flatten()
            .min()
    }

    // ----- input -----

    /// Bytes arrived from the client. Returns how many were taken: all of
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
            // Plaintext where the TLS handshake was due (HARDENING 11).
            self.phase = Phase::Closed;
            self.stream.finish(CloseReason::Protocol(ProtocolError::DataAfterProceed));
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
        if self.phase == Phase::ProceedSent {
            if unfed || self.stream.reader.unconsumed_len() > 0 {
                // Plaintext pipelined behind <starttls/> (CVE-2011-0411
                // class): never processed, not even after TLS.
                self.phase = Phase::Closed;
                return self.stream.finish(CloseReason::Protocol(ProtocolError::DataAfterProceed));
            }
            self.phase = Phase::TlsHandshake;
            self.stream.push_event(ServerEvent::TlsRequested);
        }
    }

    fn process(&mut self, now: Timestamp) {
        while !self.stream.is_closed() && !matches!(self.phase, Phase::TlsHandshake | Phase::ProceedSent) {
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
        let expired = [
            (self.pre_auth_deadline, TimeoutKind::PreAuth), // HARDENING 27
            (self.bind_deadline, TimeoutKind::Negotiation), // HARDENING 31
            (self.ping_deadline, TimeoutKind::Ping),
        ]
        .into_iter()
        .find_map(|(deadline, kind)| deadline.filter(|d| *d <= now).map(|_| kind));
        if let Some(kind) = expired {
            // Nothing in plaintext while TLS is being set up.
            if !matches!(self.phase, Phase::TlsHandshake | Phase::AwaitingDirectTls) {
                self.open_stream(now);
                self.stream.write_stream_error(now, &StreamError::new(StreamErrorCondition::ConnectionTimeout));
            }
            self.phase = Phase::Closed;
            return self.stream.finish(CloseReason::Timeout(kind));
        }
        if let (Phase::Online, None, Some(interval)) = (&self.phase, self.ping_deadline, self.config.ping_interval)
            && self.stream.last_rx + interval <= now
        {
            self.send_ping(now);
        }
    }

    /// Pings the client (XEP-0199 §4.2); any input before the deadline
    /// keeps the session.
    fn send_ping(&mut self, now: Timestamp) {
        let id = self.entropy.stanza_id();
        let mut iq = Iq::get(self.jid.clone().map(Jid::from), Element::new("ping", ns::PING));
        iq.set_from(self.domain.as_deref().and_then(|d| Jid::new(d).ok()));
        if iq.set_id(Some(&id)).is_ok() {
            self.write_iq(now, iq);
        }
        self.ping_id = Some(id);
        self.ping_deadline = Some(now + self.config.ping_timeout);
    }

    /// TLS is established (after [`ServerEvent::TlsRequested`], or first
    /// with [`ServerTls::Direct`]); `binding` holds this channel's
    /// channel-binding data.
    pub fn tls_established(&mut self, _now: Timestamp, binding: ChannelBinding) {
        if !matches!(self.phase, Phase::TlsHandshake | Phase::AwaitingDirectTls) || self.stream.is_closed() {
            return;
        }
        self.secure = true;
        self.binding = binding;
        self.opened = false;
        self.stream.restart_after_tls();
        self.phase = Phase::AwaitingHeader;
    }

    // ----- API -----

    /// Answers [`ServerEvent::AuthRequested`].
    pub fn authenticate(&mut self, now: Timestamp, answer: AuthAnswer) -> Result<(), ServerApiError> {
        if self.phase != Phase::AwaitingCredentials || self.stream.is_closed() {
            return Err(ServerApiError::NotWaiting);
        }
        let Some(attempt) = self.attempt.take() else { return Err(ServerApiError::NotWaiting) };
        let unknown = matches!(answer, AuthAnswer::UnknownUser | AuthAnswer::Reject(SaslCondition::NotAuthorized));
        if let (AuthAnswer::Reject(condition), false) = (&answer, unknown) {
            self.sasl_failure(now, *condition);
            return Ok(());
        }
        match (attempt, answer) {
            (Attempt::Scram { mechanism, account, first, binding_data }, answer) => {
                let hash = mechanism.scram_hash().unwrap_or(ScramHash::Sha1);
                let iterations = self.config.scram_iterations;
                let stored = match answer {
                    AuthAnswer::Scram(list) => list.into_iter().find(|s| s.hash == hash),
                    AuthAnswer::Password(p) => {
                        ScramStored::from_password(hash, &p, &self.config.secret.salt(hash, &account), iterations).ok()
                    }
                    _ => None,
                };
                // No usable credentials: a mock exchange, so the client
                // learns nothing before its proof is refused.
                let mock = stored.is_none();
                let stored = stored.unwrap_or_else(|| self.config.secret.mock_credentials(hash, &account, iterations));
                let ssdp = self
                    .config
                    .downgrade_protection
                    .then(|| ssdp_hash(hash, &self.offered.mechanisms, self.offered.channel_binding_types.as_deref()));
                let suffix = self.entropy.scram_nonce();
                let (server, server_first) =
                    ScramServer::start(&first, stored, &suffix, &binding_data, ssdp.as_deref());
                self.stream.write(now, &challenge(&server_first));
                let server = Box::new(server);
                self.attempt = Some(Attempt::ScramRunning { mechanism, user: account, server, mock });
                self.phase = Phase::AwaitingResponse;
            }
            (Attempt::Plain { account, password }, answer) => {
                let ok = match answer {
                    AuthAnswer::Password(expected) => match (saslprep(&password), saslprep(&expected)) {
                        (Ok(a), Ok(b)) => constant_time_eq(a.as_bytes(), b.as_bytes()),
                        _ => false,
                    },
                    AuthAnswer::Scram(list) => list.first().is_some_and(|s| plain_matches(&password, s)),
                    _ => {
                        // The same work as for a real user, then the same
                        // failure.
                        let mock = self.config.secret.mock_credentials(
                            ScramHash::Sha256,
                            &account,
                            self.config.scram_iterations,
                        );
                        let _ = plain_matches(&password, &mock);
                        false
                    }
                };
                if ok {
                    self.sasl_success(now, account, Mechanism::Plain, None)
                } else {
                    self.sasl_failure(now, SaslCondition::NotAuthorized)
                }
            }
            (Attempt::Accept { mechanism }, AuthAnswer::Accept(jid)) => {
                if self.domain.as_deref() == Some(jid.domain()) {
                    self.sasl_success(now, jid, mechanism, None)
                } else {
                    self.sasl_failure(now, SaslCondition::InvalidAuthzid)
                }
            }
            (_, AuthAnswer::Reject(condition)) => self.sasl_failure(now, condition),
            _ => self.sasl_failure(now, SaslCondition::NotAuthorized),
        }
        Ok(())
    }

    /// Answers [`ServerEvent::BindRequested`].
    pub fn bind(&mut self, now: Timestamp, decision: BindDecision) -> Result<(), ServerApiError> {
        let Phase::AwaitingBind { id, requested } = self.phase.clone().filter_open(&self.stream) else {
            return Err(ServerApiError::NotWaiting);
        };
        let account = self.account.clone().ok_or(ServerApiError::NotWaiting)?;
        let resource = match decision {
            BindDecision::Reject(error) => {
                let mut iq = Iq::set(None, Element::new("bind", ns::BIND));
                let _ = iq.set_id(Some(&id));
                let answer = iq.error_for(&error).map_err(|e| ServerApiError::Send(SendError::InvalidXml(e)))?;
                self.write_iq(now, answer);
                self.phase = Phase::Negotiating;
                return Ok(());
            }
            BindDecision::Assign(r) => r,
            BindDecision::Accept => requested.unwrap_or_else(|| self.entropy.stanza_id()),
        };
        let jid = account.with_resource(&resource).map_err(ServerApiError::InvalidResource)?;
        let payload = Element::new("bind", ns::BIND).with_child(
            Element::new("jid", ns::BIND)
                .with_text(jid.as_str())
                .map_err(|e| ServerApiError::Send(SendError::InvalidXml(e)))?,
        );
        let mut request = Iq::set(None, Element::new("bind", ns::BIND));
        let _ = request.set_id(Some(&id));
        self.write_iq(now, request.result_for(Some(payload)));
        self.jid = Some(jid.clone());
        self.phase = Phase::Online;
        self.bind_deadline = None;
        self.stream.push_event(ServerEvent::Online(jid));
        Ok(())
    }

    /// Sends a stanza to the client. `Online` only.
    pub fn send(&mut self, now: Timestamp, stanza: &Stanza) -> Result<(), SendError> {
        if self.stream.is_closed() || self.stream.has_sent_close() {
            return Err(SendError::Closed);
        }
        if self.phase != Phase::Online {
            return Err(SendError::NotOnline);
        }
        self.stream.send_stanza(now, stanza)
    }

    /// Closes the stream.
    pub fn close(&mut self, now: Timestamp) -> Result<(), SendError> {
        if self.stream.is_closed() || self.stream.has_sent_close() {
            return Err(SendError::Closed);
        }
        self.open_stream(now);
        self.stream.write_close(now);
        self.phase = Phase::Closing;
        self.close_deadline = Some(now + self.config.close_timeout);
        Ok(())
    }

    /// Closes the stream with a stream error (for example `conflict` when
    /// another session takes over the resource, `system-shutdown`).
    pub fn close_with_error(&mut self, now: Timestamp, error: StreamError) -> Result<(), SendError> {
        if self.stream.is_closed() || self.stream.has_sent_close() {
            return Err(SendError::Closed);
        }
        self.open_stream(now);
        self.stream.write_stream_error(now, &error);
        self.phase = Phase::Closing;
        self.close_deadline = Some(now + self.config.close_timeout);
        Ok(())
    }

    // ----- negotiation -----

    /// Writes our stream header once per stream (RFC 6120 §4.2), even
    /// before a stream error (§4.9.1.2).
    fn open_stream(&mut self, now: Timestamp) {
        if self.opened {
            return;
        }
        self.opened = true;
        let domain = self.domain.clone().unwrap_or_else(|| self.config.domains.first().cloned().unwrap_or_default());
        let id = self.entropy.stream_id();
        let mut root = Element::new("stream", ns::STREAMS);
        let _ = (|| {
            root.set_attr("from", domain.as_str())?;
            root.set_attr("id", id.as_str())?;
            if let Some(peer) = &self.peer {
                root.set_attr("to", peer.as_str())?;
            }
            root.set_attr("version", "1.0")?;
            root.set_attr_ns(Namespace::XML, "lang", "en")
        })();
        self.stream.open(now, &root);
    }

    fn on_header(&mut self, now: Timestamp, header: StreamHeader) {
        use StreamErrorCondition as C;
        self.peer = header.root.attr("from").and_then(|f| Jid::new(f).ok());
        let to = header.root.attr("to").map(|t| Jid::new(t).map(|j| j.domain().to_string()));
        let gone = matches!(&to, Some(Ok(d)) if self.config.gone_domains.contains(d));
        self.domain = match to {
            None => self.config.domains.first().cloned(),
            Some(Ok(d)) if self.config.domains.contains(&d) => Some(d),
            Some(_) => None,
        };
        let header_error = if !header.root.is("stream", ns::STREAMS) {
            Some((C::InvalidNamespace, "not a stream element"))
        } else if header.default_ns().is_some_and(|d| d.as_str() != ns::CLIENT) {
            Some((C::InvalidNamespace, "content namespace is not jabber:client"))
        } else if gone {
            Some((C::HostGone, "this server no longer serves that domain"))
        } else if self.domain.is_none() {
            Some((C::HostUnknown, "this server does not serve that domain"))
        } else if header.root.attr("version").and_then(|v| v.split('.').next()) != Some("1") {
            Some((C::UnsupportedVersion, "version is not 1.x"))
        } else {
            None
        };
        if let Some((condition, detail)) = header_error {
            self.domain.get_or_insert_with(|| self.config.domains.first().cloned().unwrap_or_default());
            return self.fail(now, ProtocolError::Header { condition, detail });
        }
        self.open_stream(now);
        self.send_features(now);
    }

    fn send_features(&mut self, now: Timestamp) {
        let mut f = StreamFeatures::default();
        if self.account.is_none() {
            let tls_first = !self.secure && self.config.tls != ServerTls::Disabled;
            if tls_first {
                let required = self.config.tls == ServerTls::Required;
                f.starttls = Some(if required { Requirement::Required } else { Requirement::Optional });
            }
            if self.secure || self.config.tls != ServerTls::Required {
                let offer = self.offerable();
                let plus = offer.iter().any(|m| m.is_plus());
                f.mechanisms = offer.into_iter().map(|m| m.as_str().to_string()).collect();
                // XEP-0440: types only go with a -PLUS mechanism to use them.
                if self.config.advertise_channel_binding && plus {
                    f.channel_binding_types = Some(self.binding.types().map(|t| t.as_str().to_string()).collect());
                }
            }
        } else {
            f.bind = true;
            if self.config.offer_session {
                f.session = Some(Requirement::Optional);
            }
        }
        self.stream.write(now, &f.to_element());
        self.offered = f;
        self.phase = Phase::Negotiating;
    }

    /// The mechanisms this stream can offer now.
    fn offerable(&self) -> Vec<Mechanism> {
        self.config
            .mechanisms
            .iter()
            .copied()
            .filter(|m| !m.is_plus() || (self.secure && !self.binding.is_empty()))
            .filter(|m| *m != Mechanism::Plain || self.secure || self.config.allow_plain_without_tls)
            .filter(|m| *m != Mechanism::External || self.secure)
            .collect()
    }

    fn on_element(&mut self, now: Timestamp, element: Element) {
        if negotiation::is_stream_error(&element) {
            self.stream.write_close(now);
            self.phase = Phase::Closed;
            return self.stream.finish(CloseReason::StreamError(StreamError::from_element(&element)));
        }
        let ns = element.ns().as_str();
        match (&self.phase, ns) {
            (Phase::Negotiating, ns::TLS) if element.name() == "starttls" && self.offered.starttls.is_some() => {
                self.stream.write(now, &Element::new("proceed", ns::TLS));
                self.phase = Phase::ProceedSent;
            }
            // RFC 6120 §5.4.2.2: STARTTLS that was not offered fails, and
            // the server closes the stream.
            (Phase::Negotiating, ns::TLS) if element.name() == "starttls" => {
                self.stream.write(now, &Element::new("failure", ns::TLS));
                self.stream.write_close(now);
                self.phase = Phase::Closed;
                self.stream.finish(CloseReason::Protocol(ProtocolError::TlsFailed));
            }
            (Phase::Negotiating | Phase::AwaitingResponse | Phase::AwaitingCredentials, ns::SASL)
                if self.account.is_none() =>
            {
                self.on_sasl(now, &element)
            }
            (Phase::Negotiating | Phase::Online, ns::CLIENT) if self.account.is_some() => self.on_stanza(now, element),
            (Phase::Closing, _) => {}
            // HARDENING 24: stanzas before authentication.
            (_, ns::CLIENT) => self.fail(now, ProtocolError::NotAuthorized),
            _ => self.fail(now, ProtocolError::Unexpected { name: element.name().into(), ns: ns.into() }),
        }
    }

    fn on_sasl(&mut self, now: Timestamp, element: &Element) {
        match (element.name(), &self.phase) {
            ("auth", Phase::Negotiating) => self.on_auth(now, element),
            ("response", Phase::AwaitingResponse) => {
                let data = match negotiation::sasl_data(element) {
                    Ok(d) => d.unwrap_or_default(),
                    Err(condition) => return self.sasl_failure(now, condition),
                };
                match self.attempt.take() {
                    Some(Attempt::AwaitingInitial { mechanism }) => self.start_mechanism(now, mechanism, &data),
                    Some(Attempt::ScramRunning { mechanism, user, server, mock }) => match server.finish(&data) {
                        Ok(server_final) if !mock => self.sasl_success(now, user, mechanism, Some(server_final)),
                        Err(ScramError::Malformed(_)) => self.sasl_failure(now, SaslCondition::MalformedRequest),
                        _ => self.sasl_failure(now, SaslCondition::NotAuthorized),
                    },
                    _ => self.sasl_failure(now, SaslCondition::MalformedRequest),
                }
            }
            ("abort", Phase::AwaitingResponse | Phase::AwaitingCredentials | Phase::Negotiating) => {
                self.sasl_failure(now, SaslCondition::Aborted)
            }
            // HARDENING 18: <response/> without <auth/>.
            ("response", _) => self.sasl_failure(now, SaslCondition::InvalidMechanism),
            _ => self.fail(now, ProtocolError::Unexpected { name: element.name().into(), ns: ns::SASL.into() }),
        }
    }

    fn on_auth(&mut self, now: Timestamp, element: &Element) {
        let mechanism = element.attr("mechanism").and_then(Mechanism::from_str);
        // HARDENING 18: only what this stream offered.
        let Some(mechanism) = mechanism.filter(|m| self.offered.mechanisms.iter().any(|o| o == m.as_str())) else {
            return self.sasl_failure(now, SaslCondition::InvalidMechanism);
        };
        match negotiation::sasl_data(element) {
            // No initial response: an empty challenge asks for it.
            Ok(None) => {
                self.stream.write(now, &Element::new("challenge", ns::SASL));
                self.attempt = Some(Attempt::AwaitingInitial { mechanism });
                self.phase = Phase::AwaitingResponse;
            }
            Ok(Some(data)) => self.start_mechanism(now, mechanism, &data),
            Err(condition) => self.sasl_failure(now, condition),
        }
    }

    /// Takes a mechanism's initial response and asks the application for
    /// what it needs.
    fn start_mechanism(&mut self, now: Timestamp, mechanism: Mechanism, data: &[u8]) {
        let domain = self.domain.clone().unwrap_or_default();
        let request = match mechanism {
            _ if mechanism.scram_hash().is_some() => {
                let first = match parse_client_first(data) {
                    Ok(f) => f,
                    Err(_) => return self.sasl_failure(now, SaslCondition::MalformedRequest),
                };
                let plus_offered = self.offered.mechanisms.iter().any(|m| m.ends_with("-PLUS"));
                // HARDENING 17: the GS2 flag must fit what we offered.
                let binding_data = match (&first.flag, mechanism.is_plus()) {
                    (Gs2Flag::Used(name), true) => {
                        let data = ChannelBindingType::from_str(name).and_then(|t| self.binding.get(t));
                        match data {
                            Some(d) => d.to_vec(),
                            None => return self.sasl_failure(now, SaslCondition::MalformedRequest),
                        }
                    }
                    (Gs2Flag::Used(_), false) | (_, true) => {
                        return self.sasl_failure(now, SaslCondition::MalformedRequest);
                    }
                    // The client would have bound: a -PLUS we offered was
                    // stripped on the way (RFC 5802 §6).
                    (Gs2Flag::SupportedNotUsed, false) if plus_offered => {
                        return self.sasl_failure(now, SaslCondition::NotAuthorized);
                    }
                    _ => Vec::new(),
                };
                // RFC 7622 §3.3: the account is the prepared name; one
                // that cannot be prepared names no account.
                let Ok(account) = BareJid::from_parts(Some(&first.username), &domain) else {
                    return self.sasl_failure(now, SaslCondition::NotAuthorized);
                };
                if !authzid_ok(first.authzid.as_deref(), &account) {
                    return self.sasl_failure(now, SaslCondition::InvalidAuthzid);
                }
                let request = AuthRequest { mechanism, account: Some(account.clone()), authzid: first.authzid.clone() };
                self.attempt = Some(Attempt::Scram { mechanism, account, first, binding_data });
                request
            }
            Mechanism::Plain => {
                let mut parts = data.split(|b| *b == 0);
                let (Some(authzid), Some(user), Some(password), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return self.sasl_failure(now, SaslCondition::MalformedRequest);
                };
                let (Ok(authzid), Ok(user), Ok(password)) =
                    (core::str::from_utf8(authzid), core::str::from_utf8(user), core::str::from_utf8(password))
                else {
                    return self.sasl_failure(now, SaslCondition::MalformedRequest);
                };
                let authzid = (!authzid.is_empty()).then(|| authzid.to_string());
                let Ok(account) = BareJid::from_parts(Some(user), &domain) else {
                    return self.sasl_failure(now, SaslCondition::NotAuthorized);
                };
                if !authzid_ok(authzid.as_deref(), &account) {
                    return self.sasl_failure(now, SaslCondition::InvalidAuthzid);
                }
                self.attempt = Some(Attempt::Plain { account: account.clone(), password: password.into() });
                AuthRequest { mechanism, account: Some(account), authzid }
            }
            _ => {
                let Ok(text) = core::str::from_utf8(data) else {
                    return self.sasl_failure(now, SaslCondition::MalformedRequest);
                };
                // RFC 4505 §3: ANONYMOUS trace data is at most 255
                // characters, none of them controls.
                let bad_trace = mechanism == Mechanism::Anonymous
                    && (text.chars().count() > 255 || text.chars().any(char::is_control));
                if bad_trace {
                    return self.sasl_failure(now, SaslCondition::MalformedRequest);
                }
                let authzid = (!text.is_empty()).then(|| String::from(text));
                self.attempt = Some(Attempt::Accept { mechanism });
                AuthRequest { mechanism, account: None, authzid }
            }
        };
        self.phase = Phase::AwaitingCredentials;
        self.stream.push_event(ServerEvent::AuthRequested(request));
    }

    fn sasl_failure(&mut self, now: Timestamp, condition: SaslCondition) {
        self.attempt = None;
        let failure = Element::new("failure", ns::SASL).with_child(
            Element::try_new(condition.as_str(), Namespace::from_static(ns::SASL))
                .unwrap_or_else(|_| Element::new("not-authorized", ns::SASL)),
        );
        self.stream.write(now, &failure);
        self.stream.push_event(ServerEvent::AuthFailed(condition));
        self.phase = Phase::Negotiating;
        self.failures += 1;
        if self.failures >= self.config.max_auth_attempts {
            // RFC 6120 §6.4.5: no endless retries.
            self.fail(now, ProtocolError::TooManyAuthAttempts);
        }
    }

    fn sasl_success(&mut self, now: Timestamp, jid: BareJid, mechanism: Mechanism, data: Option<Vec<u8>>) {
        self.attempt = None;
        let mut success = Element::new("success", ns::SASL);
        if let Some(d) = data {
            let _ = success.append_text(&negotiation::sasl_text(&d));
        }
        self.stream.write(now, &success);
        self.account = Some(jid.clone());
        self.pre_auth_deadline = None;
        self.bind_deadline = Some(now + self.config.bind_timeout);
        self.stream.push_event(ServerEvent::Authenticated { jid, mechanism });
        // RFC 6120 §6.4.6: the client restarts the stream.
        self.opened = false;
        self.stream.reader.reset();
        self.phase = Phase::AwaitingHeader;
    }

    // ----- binding and stanzas -----

    fn write_iq(&mut self, now: Timestamp, iq: Iq) {
        self.stream.write_stanza(now, &Stanza::Iq(iq));
    }

    fn on_stanza(&mut self, now: Timestamp, element: Element) {
        let stanza = match Stanza::parse(element) {
            Ok(s) => s,
            // RFC 6120 §4.8.4, §4.9.3.24: not a stanza at all.
            Err(rejected) if matches!(rejected.error, crate::stanza::StanzaParseError::NotAStanza { .. }) => {
                let el = &rejected.element;
                return self
                    .fail(now, ProtocolError::Unexpected { name: el.name().into(), ns: el.ns().as_str().into() });
            }
            Err(rejected) => return self.reject(now, &rejected.element, StanzaError::new(rejected.error.condition())),
        };
        if self.phase != Phase::Online {
            return self.on_pre_bind(now, stanza);
        }
        let Some(full) = self.jid.clone() else { return };
        let from_ok = stanza.from().is_none_or(|f| f == full.as_jid() || f == full.to_bare().as_jid());
        if !from_ok && self.config.invalid_from == InvalidFrom::Reject {
            return self.fail(now, ProtocolError::InvalidFrom);
        }
        let mut stanza = stanza;
        // RFC 6120 §8.1.2.1: stamped with the session's JID; nothing else
        // about the stanza changes (§8.4).
        stanza.set_from(Some(full.into()));
        if let Stanza::Iq(iq) = &stanza
            && !iq.is_request()
            && self.ping_id.as_deref() == Some(iq.request_id())
            && iq.to().is_none_or(|t| self.domain.as_deref() == Some(t.as_str()))
        {
            self.ping_id = None;
            return; // the answer to our own ping
        }
        if let Stanza::Iq(iq) = &stanza {
            let to_server = iq.to().is_none_or(|t| self.domain.as_deref() == Some(t.as_str()));
            let payload = iq.payload().filter(|_| iq.is_request());
            // The server's own business: legacy sessions (RFC 3921 §3) and,
            // if configured, pings (XEP-0199).
            let session = payload.is_some_and(|p| p.is("session", ns::SESSION));
            let ping = payload.is_some_and(|p| p.is("ping", ns::PING)) && self.config.answer_pings;
            if to_server && (session || ping) {
                let mut answer = iq.result_for(None);
                answer.set_from(self.domain.as_deref().and_then(|d| Jid::new(d).ok()).filter(|_| ping));
                return self.write_iq(now, answer);
            }
        }
        self.stream.push_event(ServerEvent::Stanza(stanza));
    }

    /// Before binding only bind and session requests are allowed.
    fn on_pre_bind(&mut self, now: Timestamp, stanza: Stanza) {
        let Stanza::Iq(iq) = stanza else {
            return self.fail(now, ProtocolError::NotAuthorized);
        };
        match (iq.type_(), iq.payload()) {
            (IqType::Set, Some(p)) if p.is("bind", ns::BIND) && self.offered.bind => {
                let requested =
                    p.child_text("resource", ns::BIND).map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
                // RFC 6120 §7.7.2.1: a resourcepart that cannot be prepared.
                if let (Some(r), Some(account)) = (&requested, &self.account)
                    && account.with_resource(r).is_err()
                {
                    return self.reject_iq(now, &iq, StanzaError::new(StanzaErrorCondition::BadRequest));
                }
                self.phase = Phase::AwaitingBind { id: iq.request_id().into(), requested: requested.clone() };
                self.stream.push_event(ServerEvent::BindRequested(requested));
            }
            _ => self.fail(now, ProtocolError::NotAuthorized),
        }
    }

    fn reject_iq(&mut self, now: Timestamp, iq: &Iq, error: StanzaError) {
        if let Ok(answer) = iq.error_for(&error) {
            self.write_iq(now, answer);
        }
    }

    /// Answers a malformed stanza with a stanza error (HARDENING 24),
    /// unless it is itself an error.
    fn reject(&mut self, now: Timestamp, element: &Element, error: StanzaError) {
        if element.attr("type") == Some("error") || !crate::stanza::is_content_namespace(element.ns()) {
            return;
        }
        let Ok(mut answer) = Element::try_new(element.name(), self.stream.content_ns().clone()) else { return };
        // RFC 6120 §8.3.1: from the original's `to` (else the server),
        // back to its sender.
        let from = element.attr("to").and_then(|t| Jid::new(t).ok()).map(|j| j.to_string()).or(self.domain.clone());
        let to = self.jid.as_ref().map(|j| j.to_string());
        let built = (|| {
            if let Some(to) = &to {
                answer.set_attr("to", to.as_str())?;
            }
            if let Some(from) = &from {
                answer.set_attr("from", from.as_str())?;
            }
            if let Some(id) = element.attr("id") {
                answer.set_attr("id", id)?;
            }
            answer.set_attr("type", "error")?;
            answer.append_child(error.to_element(self.stream.content_ns())?);
            Ok::<(), crate::xml::InvalidXml>(())
        })();
        if built.is_ok() {
            self.stream.write(now, &answer);
        }
    }

    // ----- ending -----

    fn on_peer_close(&mut self, now: Timestamp) {
        self.stream.write_close(now);
        self.phase = Phase::Closed;
        self.stream.finish(CloseReason::Clean);
    }

    /// A fault on the client's side: our header (if not yet sent, RFC 6120
    /// §4.9.1.2), the stream error, the close tag, `Closed`.
    fn fail(&mut self, now: Timestamp, reason: ProtocolError) {
        self.open_stream(now);
        let condition = reason.condition().unwrap_or(StreamErrorCondition::UndefinedCondition);
        self.stream.write_stream_error(now, &StreamError::new(condition));
        self.phase = Phase::Closed;
        self.stream.finish(CloseReason::Protocol(reason));
    }
}

/// An authorization identity is acceptable only if it names the
/// authenticating account itself (no proxy authorization; HARDENING 18).
fn authzid_ok(authzid: Option<&str>, account: &BareJid) -> bool {
    authzid.is_none_or(|a| Jid::new(a).is_ok_and(|a| a == *account.as_jid()))
}

/// Whether a PLAIN password opens stored SCRAM credentials: PBKDF2 with
/// their salt and count, then the StoredKey compared in constant time.
fn plain_matches(password: &str, stored: &ScramStored) -> bool {
    ScramStored::from_password(stored.hash, password, &stored.salt, stored.iterations)
        .is_ok_and(|d| constant_time_eq(&d.stored_key, &stored.stored_key))
}

fn challenge(data: &[u8]) -> Element {
    Element::new("challenge", ns::SASL)
        .with_text(&negotiation::sasl_text(data))
        .unwrap_or_else(|_| Element::new("challenge", ns::SASL))
}

impl From<CloseReason> for ServerEvent {
    fn from(reason: CloseReason) -> ServerEvent {
        ServerEvent::Closed(reason)
    }
}

impl core::fmt::Debug for Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server").field("phase", &self.phase).field("account", &self.account).finish_non_exhaustive()
    }
}
