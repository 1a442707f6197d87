//! The server side of SASL (RFC 4422), knowing no XML: SCRAM-SHA-1/256/512
//! with and without channel binding (RFC 5802, RFC 7677), PLAIN (RFC
//! 4616), EXTERNAL and ANONYMOUS, for an application that keeps only
//! stored SCRAM credentials (never a plaintext password is needed).
//!
//! Unknown users are indistinguishable from wrong passwords until the
//! proof (RFC 6120 §6.5.10, RFC 5802 §5.1): the exchange is played out on
//! mock credentials derived from a [`ServerSecret`].

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::scram::{ClientFirst, Gs2Flag, ScramServer, constant_time_eq, parse_client_first, ssdp_hash};
use super::{ChannelBinding, ChannelBindingType, Mechanism, ScramError, ScramHash, ScramStored, saslprep};
use crate::condition::SaslCondition;
use crate::entropy::Entropy;
use crate::jid::{BareJid, Jid};

/// A secret the server keeps across connections and restarts, so that
/// what it derives from it is stable: the salts of the mock SCRAM
/// exchanges that make an unknown user look like a wrong password (RFC
/// 5802 §5.1, RFC 6120 §6.5.10), and the salts of credentials derived from
/// passwords the application hands over. Generate it once
/// ([`ServerSecret::generate`]) and keep it with the user database: a salt
/// that changes between two logins tells an attacker the name is unknown.
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
    pub(crate) fn salt(&self, hash: ScramHash, account: &BareJid) -> Vec<u8> {
        let mut salt = self.derive("salt", hash, account);
        salt.truncate(16);
        salt
    }

    /// Credentials no password opens, with the salt a real one would have.
    pub(crate) fn mock_credentials(&self, hash: ScramHash, account: &BareJid, iterations: u32) -> ScramStored {
        let mut stored_key = self.derive("stored-key", hash, account);
        let mut server_key = self.derive("server-key", hash, account);
        stored_key.resize(hash.output_len(), 0);
        server_key.resize(hash.output_len(), 0);
        ScramStored { hash, salt: self.salt(hash, account), iterations, stored_key, server_key }
    }
}

impl fmt::Debug for ServerSecret {
    /// Never shows the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSecret(..)")
    }
}

/// A client asks to authenticate: what the application must answer.
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
    /// For EXTERNAL: the identities the client's TLS certificate proves.
    pub peer_identities: Vec<String>,
}

/// The application's answer to an [`AuthRequest`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum AuthAnswer {
    /// The user's stored SCRAM credentials (one per hash the server keeps).
    /// Enough for SCRAM and for PLAIN.
    Scram(Vec<ScramStored>),
    /// The user's password; the core derives what it needs.
    Password(String),
    /// EXTERNAL or ANONYMOUS: accept as this account.
    Accept(BareJid),
    /// There is no such account. For password mechanisms the exchange is
    /// played out on mock credentials (a stable salt derived from the
    /// [`ServerSecret`], the configured iteration count) and fails with
    /// `not-authorized` where a wrong password would, so a client cannot
    /// tell the two apart.
    UnknownUser,
    /// Refuse at once with this condition, for example `account-disabled`.
    /// `not-authorized` is taken as [`AuthAnswer::UnknownUser`].
    Reject(SaslCondition),
}

/// What the exchange needs to know about the server and the stream.
pub(crate) struct ServerContext<'a> {
    /// The mechanisms this stream offered.
    pub(crate) offered: &'a [String],
    /// The XEP-0440 types this stream listed, if any.
    pub(crate) cb_types: Option<&'a [String]>,
    /// This channel's binding data.
    pub(crate) binding: &'a ChannelBinding,
    /// What the client's certificate proves (EXTERNAL).
    pub(crate) peer_identities: &'a [String],
    /// The domain served.
    pub(crate) domain: &'a str,
    pub(crate) secret: &'a ServerSecret,
    /// The iteration count of credentials derived here and of mock ones.
    pub(crate) iterations: u32,
    /// Put the XEP-0474 hash in every server-first-message.
    pub(crate) downgrade_protection: bool,
}

/// The exchange's next move.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ServerStep {
    /// Ask the application for credentials.
    Ask(AuthRequest),
    /// Send a challenge with this data.
    Challenge(Vec<u8>),
    /// Success as this account, with additional data (SCRAM's
    /// server-final-message).
    Success { account: BareJid, data: Option<Vec<u8>> },
    /// Failure with this condition.
    Failure(SaslCondition),
}

/// One exchange in progress.
pub(crate) struct ServerExchange {
    mechanism: Mechanism,
    state: State,
}

enum State {
    /// The client sent `<auth/>` without an initial response.
    AwaitingInitial,
    /// SCRAM: the client-first-message, waiting for credentials.
    ScramFirst {
        account: BareJid,
        first: Box<ClientFirst>,
        binding_data: Vec<u8>,
    },
    /// SCRAM: the server-first-message is out; `mock` fails at the proof.
    ScramRunning {
        account: BareJid,
        server: Box<ScramServer>,
        mock: bool,
    },
    /// PLAIN, waiting for credentials.
    Plain {
        account: BareJid,
        password: String,
    },
    /// EXTERNAL or ANONYMOUS, waiting for the application to accept.
    Accept,
    Done,
}

impl ServerExchange {
    /// The client chose `mechanism` (the caller checked it was offered)
    /// with this initial response (`None`: the client sent none).
    pub(crate) fn start(
        mechanism: Mechanism,
        initial: Option<&[u8]>,
        cx: &ServerContext,
    ) -> (ServerExchange, ServerStep) {
        let mut exchange = ServerExchange { mechanism, state: State::AwaitingInitial };
        let step = match initial {
            // An empty challenge asks for the initial response.
            None => ServerStep::Challenge(Vec::new()),
            Some(data) => exchange.initial(data, cx),
        };
        (exchange, step)
    }

    /// The mechanism chosen.
    pub(crate) fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Whether the exchange waits for the application's answer.
    pub(crate) fn awaits_answer(&self) -> bool {
        matches!(self.state, State::ScramFirst { .. } | State::Plain { .. } | State::Accept)
    }

    fn fail(&mut self, condition: SaslCondition) -> ServerStep {
        self.state = State::Done;
        ServerStep::Failure(condition)
    }

    /// The initial response.
    fn initial(&mut self, data: &[u8], cx: &ServerContext) -> ServerStep {
        let mechanism = self.mechanism;
        if mechanism.scram_hash().is_some() {
            return self.scram_first(data, cx);
        }
        match mechanism {
            Mechanism::Plain => self.plain(data, cx),
            _ => {
                let Ok(text) = core::str::from_utf8(data) else {
                    return self.fail(SaslCondition::MalformedRequest);
                };
                // RFC 4505 §3: ANONYMOUS trace data is at most 255
                // characters, none of them controls.
                let bad_trace = mechanism == Mechanism::Anonymous
                    && (text.chars().count() > 255 || text.chars().any(char::is_control));
                if bad_trace {
                    return self.fail(SaslCondition::MalformedRequest);
                }
                self.state = State::Accept;
                let peer_identities =
                    if mechanism == Mechanism::External { cx.peer_identities.to_vec() } else { Vec::new() };
                let authzid = (!text.is_empty()).then(|| String::from(text));
                ServerStep::Ask(AuthRequest { mechanism, account: None, authzid, peer_identities })
            }
        }
    }

    fn scram_first(&mut self, data: &[u8], cx: &ServerContext) -> ServerStep {
        let Ok(first) = parse_client_first(data) else {
            return self.fail(SaslCondition::MalformedRequest);
        };
        let plus_offered = cx.offered.iter().any(|m| m.ends_with("-PLUS"));
        // HARDENING 17: the GS2 flag must fit what this stream offered.
        let binding_data = match (&first.flag, self.mechanism.is_plus()) {
            (Gs2Flag::Used(name), true) => {
                match name.parse::<ChannelBindingType>().ok().and_then(|t| cx.binding.get(t)) {
                    Some(d) => d.to_vec(),
                    None => return self.fail(SaslCondition::MalformedRequest),
                }
            }
            (Gs2Flag::Used(_), false) | (_, true) => return self.fail(SaslCondition::MalformedRequest),
            // The client would have bound: a -PLUS we offered was stripped
            // on the way (RFC 5802 §6).
            (Gs2Flag::SupportedNotUsed, false) if plus_offered => return self.fail(SaslCondition::NotAuthorized),
            _ => Vec::new(),
        };
        // RFC 7622 §3.3: the account is the prepared name; one that cannot
        // be prepared names no account.
        let Ok(account) = BareJid::from_parts(Some(&first.username), cx.domain) else {
            return self.fail(SaslCondition::NotAuthorized);
        };
        if !authzid_ok(first.authzid.as_deref(), &account) {
            return self.fail(SaslCondition::InvalidAuthzid);
        }
        let request = AuthRequest {
            mechanism: self.mechanism,
            account: Some(account.clone()),
            authzid: first.authzid.clone(),
            peer_identities: Vec::new(),
        };
        self.state = State::ScramFirst { account, first: Box::new(first), binding_data };
        ServerStep::Ask(request)
    }

    fn plain(&mut self, data: &[u8], cx: &ServerContext) -> ServerStep {
        let mut parts = data.split(|b| *b == 0);
        let (Some(authzid), Some(user), Some(password), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return self.fail(SaslCondition::MalformedRequest);
        };
        let (Ok(authzid), Ok(user), Ok(password)) =
            (core::str::from_utf8(authzid), core::str::from_utf8(user), core::str::from_utf8(password))
        else {
            return self.fail(SaslCondition::MalformedRequest);
        };
        let authzid = (!authzid.is_empty()).then(|| authzid.to_string());
        let Ok(account) = BareJid::from_parts(Some(user), cx.domain) else {
            return self.fail(SaslCondition::NotAuthorized);
        };
        if !authzid_ok(authzid.as_deref(), &account) {
            return self.fail(SaslCondition::InvalidAuthzid);
        }
        let request = AuthRequest {
            mechanism: Mechanism::Plain,
            account: Some(account.clone()),
            authzid,
            peer_identities: Vec::new(),
        };
        self.state = State::Plain { account, password: password.into() };
        ServerStep::Ask(request)
    }

    /// The application answered the [`AuthRequest`].
    pub(crate) fn answer(&mut self, answer: AuthAnswer, cx: &ServerContext, entropy: &mut dyn Entropy) -> ServerStep {
        let unknown = matches!(answer, AuthAnswer::UnknownUser | AuthAnswer::Reject(SaslCondition::NotAuthorized));
        if let (AuthAnswer::Reject(condition), false) = (&answer, unknown) {
            return self.fail(*condition);
        }
        match core::mem::replace(&mut self.state, State::Done) {
            State::ScramFirst { account, first, binding_data } => {
                let hash = self.mechanism.scram_hash().unwrap_or(ScramHash::Sha1);
                let stored = match answer {
                    AuthAnswer::Scram(list) => list.into_iter().find(|s| s.hash == hash),
                    AuthAnswer::Password(p) => {
                        ScramStored::from_password(hash, &p, &cx.secret.salt(hash, &account), cx.iterations).ok()
                    }
                    _ => None,
                };
                // No usable credentials: a mock exchange, so the client
                // learns nothing before its proof is refused.
                let mock = stored.is_none();
                let stored = stored.unwrap_or_else(|| cx.secret.mock_credentials(hash, &account, cx.iterations));
                let ssdp = cx.downgrade_protection.then(|| ssdp_hash(hash, cx.offered, cx.cb_types));
                let suffix = entropy.scram_nonce();
                let (server, server_first) =
                    ScramServer::start(&first, stored, &suffix, &binding_data, ssdp.as_deref());
                self.state = State::ScramRunning { account, server: Box::new(server), mock };
                ServerStep::Challenge(server_first)
            }
            State::Plain { account, password } => {
                let ok = match answer {
                    AuthAnswer::Password(expected) => match (saslprep(&password), saslprep(&expected)) {
                        (Ok(a), Ok(b)) => constant_time_eq(a.as_bytes(), b.as_bytes()),
                        _ => false,
                    },
                    AuthAnswer::Scram(list) => list.first().is_some_and(|s| plain_matches(&password, s)),
                    _ => {
                        // The same work as for a real user, then the same
                        // failure.
                        let mock = cx.secret.mock_credentials(ScramHash::Sha256, &account, cx.iterations);
                        let _ = plain_matches(&password, &mock);
                        false
                    }
                };
                if ok { ServerStep::Success { account, data: None } } else { self.fail(SaslCondition::NotAuthorized) }
            }
            State::Accept => match answer {
                AuthAnswer::Accept(jid) if jid.domain() == cx.domain => {
                    ServerStep::Success { account: jid, data: None }
                }
                AuthAnswer::Accept(_) => self.fail(SaslCondition::InvalidAuthzid),
                AuthAnswer::Reject(condition) => self.fail(condition),
                _ => self.fail(SaslCondition::NotAuthorized),
            },
            State::AwaitingInitial | State::ScramRunning { .. } | State::Done => {
                self.fail(SaslCondition::NotAuthorized)
            }
        }
    }

    /// A `<response/>` with this data.
    pub(crate) fn response(&mut self, data: &[u8], cx: &ServerContext) -> ServerStep {
        match core::mem::replace(&mut self.state, State::Done) {
            State::AwaitingInitial => self.initial(data, cx),
            State::ScramRunning { account, server, mock } => match server.finish(data) {
                Ok(server_final) if !mock => ServerStep::Success { account, data: Some(server_final) },
                Err(ScramError::Malformed(_)) => self.fail(SaslCondition::MalformedRequest),
                _ => self.fail(SaslCondition::NotAuthorized),
            },
            _ => self.fail(SaslCondition::MalformedRequest),
        }
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
