//! A `Server` driven by arbitrary client bytes and arbitrary API calls.
//!
//! The defaults (an empty script) are RFC 6120 §9.1's server: STARTTLS
//! required, SCRAM-SHA-1-PLUS, SCRAM-SHA-1 and PLAIN, the RFC's stream ids
//! and nonce, juliet's stored SCRAM keys. The application part accepts
//! juliet (and EXTERNAL/ANONYMOUS), refuses anyone else, and binds as the
//! script says. Invariants: those of every connection (see `drive`).

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use sxmpp::condition::{StanzaErrorCondition, StreamErrorCondition};
use sxmpp::connection::{
    AuthAnswer, BindDecision, Event, InvalidFrom, Server, ServerConfig, ServerRole, ServerSecret, ServerTls, TlsError,
    TlsInfo,
};
use sxmpp::entropy::Seeded;
use sxmpp::jid::{BareJid, Jid};
use sxmpp::sasl::{Mechanism, ScramHash, ScramStored};
use sxmpp::stanza::{Message, Stanza, StanzaError, StreamError};
use sxmpp::stream::Framing;
use sxmpp::time::Timestamp;
use sxmpp::xml::Limits;

use crate::client::{ITERATIONS, PASSWORD, SALT, handshake};
use crate::drive::{App as DriverApp, Driver, Peer, Reads, decode};

/// The server's domain.
pub const DOMAIN: &str = "im.example.com";

/// How the server is configured; all zero is RFC 6120 §9.1's.
#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    pub(crate) tls: u8,
    /// Bit i offers `Mechanism::ALL[i]`; 0 means the RFC's three.
    mechanisms: u16,
    allow_plain_without_tls: bool,
    advertise_channel_binding: bool,
    downgrade_protection: bool,
    offer_session: bool,
    reject_invalid_from: bool,
    pub(crate) small_limits: bool,
    /// The client does not read: output is only drained by `Drain`.
    hold_output: bool,
    /// 0 accept, 1 assign a resource, 2 refuse with conflict.
    pub(crate) bind: u8,
    /// The TLS handshake fails.
    pub(crate) tls_fails: bool,
    /// RFC 7395 framing: every read is one WebSocket message.
    pub(crate) websocket: bool,
}

/// One step of the script.
#[derive(Arbitrary, Debug)]
enum Op {
    /// Deliver the next read of the client's bytes.
    Read,
    /// Deliver the last read again this many times (floods from short
    /// inputs).
    Repeat(u16),
    /// Deliver these bytes as one read (NUL included).
    Inject(Vec<u8>),
    /// Move the clock (milliseconds) and fire what is due.
    Advance(u32),
    /// The client reads up to this many bytes.
    Drain(u16),
    /// The application sends a message to the session.
    SendMessage(String),
    /// The application ends the stream with a stream error.
    CloseWithError(u8),
    Close,
    Eof,
}

/// The server's application state the driver keeps.
pub struct App {
    pub(crate) bind: u8,
    pub(crate) session: Option<Jid>,
    max_tx: usize,
    max_stanza: usize,
    tls_fails: bool,
}

/// The driver around the target's server.
pub(crate) type ServerDriver = Driver<ServerRole, App>;

impl App {
    /// The application state for `config`, empty.
    pub(crate) fn new(config: &Config) -> App {
        let (max_tx, max_stanza) = if config.small_limits { (4096, 2048) } else { (1 << 20, 256 * 1024) };
        App { bind: config.bind, session: None, max_tx, max_stanza, tls_fails: config.tls_fails }
    }

    /// The server of `config` in its driver.
    pub(crate) fn driver(config: &Config, hold_output: bool) -> ServerDriver {
        Driver::new(server(config), App::new(config), hold_output, config.websocket)
    }
}

/// The server as the target configures it (also used by the seed
/// generator).
pub fn server(config: &Config) -> Server {
    let mut c = ServerConfig::new(DOMAIN, ServerSecret::new([7; 32]));
    c.tls =
        [ServerTls::Required, ServerTls::Optional, ServerTls::Disabled, ServerTls::Direct][usize::from(config.tls % 4)];
    if config.websocket {
        c.stream.framing = Framing::WebSocket;
        c.tls = [ServerTls::Disabled, ServerTls::Direct][usize::from(config.tls % 2)];
    }
    c.mechanisms = match config.mechanisms {
        0 => vec![Mechanism::ScramSha1Plus, Mechanism::ScramSha1, Mechanism::Plain],
        bits => Mechanism::ALL.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, m)| *m).collect(),
    };
    if c.mechanisms.is_empty() {
        c.mechanisms = vec![Mechanism::ScramSha1];
    }
    c.allow_plain_without_tls = config.allow_plain_without_tls;
    c.advertise_channel_binding = config.advertise_channel_binding;
    c.downgrade_protection = config.downgrade_protection;
    c.offer_session = config.offer_session;
    c.invalid_from = if config.reject_invalid_from { InvalidFrom::Reject } else { InvalidFrom::Stamp };
    c.scram_iterations = ITERATIONS;
    if config.small_limits {
        c.stream.limits = Limits { max_stanza_bytes: 2048, max_depth: 8, ..Limits::default() };
        c.stream.max_outbound_bytes = 4096;
    }
    let mut entropy = Seeded::new(0x5e4e);
    for id in ["t7AMCin9zjMNwQKDnplntZPIDEI=", "vgKi/bkYME8OAj4rlXMkpucAqe4=", "gPybzaOzBmaADgxKXu9UClbprp0="] {
        entropy.push_stream_id(id);
    }
    entropy.push_nonce("e124695b-69a9-4de6-9c30-b51b3808c59e").push_salt(SALT);
    Server::new(c, Box::new(entropy), Timestamp::ZERO).expect("a valid configuration")
}

/// Juliet's stored SCRAM credentials, derived once per process.
fn stored() -> Vec<ScramStored> {
    static STORED: OnceLock<Vec<ScramStored>> = OnceLock::new();
    STORED
        .get_or_init(|| {
            [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512]
                .into_iter()
                .map(|h| ScramStored::from_password(h, PASSWORD, SALT, ITERATIONS).expect("a valid password"))
                .collect()
        })
        .clone()
}

impl DriverApp<ServerRole> for App {
    fn react(&mut self, server: &mut Server, now: Timestamp, event: &Event) {
        let juliet = || BareJid::new("juliet@im.example.com").expect("a valid JID");
        match event {
            Event::AuthRequested(request) => {
                let answer = match request.mechanism {
                    Mechanism::External => AuthAnswer::Accept(juliet()),
                    Mechanism::Anonymous => AuthAnswer::Accept(BareJid::new("anon@im.example.com").expect("valid")),
                    _ if request.account == Some(juliet()) => AuthAnswer::Scram(stored()),
                    _ => AuthAnswer::UnknownUser,
                };
                let _ = server.authenticate(now, answer);
            }
            Event::BindRequested(_) => {
                let decision = match self.bind % 3 {
                    0 => BindDecision::Accept,
                    1 => BindDecision::Assign("fuzz".into()),
                    _ => BindDecision::Reject(StanzaError::new(StanzaErrorCondition::Conflict)),
                };
                let _ = server.bind(now, decision);
            }
            Event::Online(jid) => self.session = Some(jid.clone()),
            _ => {}
        }
    }
    fn handshake(&mut self) -> Result<TlsInfo, TlsError> {
        handshake(self.tls_fails)
    }
    fn max_backlog(&self) -> usize {
        self.max_tx + self.max_tx.max(64 * 1024)
    }
    fn max_stanza_bytes(&self) -> usize {
        self.max_stanza
    }
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let script = decode::<Config, Op>(data);
    let mut d = App::driver(&script.config, script.config.hold_output);
    let mut reads = Reads::new(script.reads);
    for op in script.ops {
        match op {
            Op::Read => d.peer(Peer::Read, &mut reads),
            Op::Repeat(times) => d.peer(Peer::Repeat(times), &mut reads),
            Op::Inject(bytes) => d.peer(Peer::Inject(&bytes), &mut reads),
            Op::Advance(ms) => d.peer(Peer::Advance(ms), &mut reads),
            Op::Drain(n) => d.peer(Peer::Drain(n), &mut reads),
            Op::SendMessage(body) => {
                let to = d.app.session.clone().unwrap_or_else(|| Jid::new(DOMAIN).unwrap());
                if let Ok(mut message) = Message::chat(to, &body) {
                    message.set_from(Jid::new("romeo@example.net/orchard").ok());
                    let _ = d.conn.send(d.now, Stanza::Message(message));
                }
            }
            Op::CloseWithError(i) => {
                let condition = StreamErrorCondition::ALL[usize::from(i) % StreamErrorCondition::ALL.len()];
                let _ = d.conn.close_with_error(d.now, StreamError::new(condition));
            }
            Op::Close => {
                let _ = d.conn.close(d.now);
            }
            Op::Eof => d.eof(),
        }
        d.settle();
    }
    d.finish_with(reads);
}
