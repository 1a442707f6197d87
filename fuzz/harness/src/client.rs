//! A `Client` driven by arbitrary server bytes and arbitrary API calls.
//!
//! The defaults (an empty script) are RFC 6120 §9.1's: juliet, her
//! password, the RFC's client nonce and bind id, SCRAM-SHA-1, so a seed
//! made of that example's server bytes logs in. The script varies the
//! configuration and interleaves API calls, clock moves and a peer that
//! stops reading. Invariants: those of every connection (see `drive`).

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use sxmpp::condition::StanzaErrorCondition;
use sxmpp::connection::{Client, ClientConfig, ClientRole, Event, TlsError, TlsErrorKind, TlsInfo, TlsMode};
use sxmpp::entropy::Seeded;
use sxmpp::jid::Jid;
use sxmpp::sasl::{
    ChannelBinding, ChannelBindingPolicy, ChannelBindingType, Credentials, Mechanism, ScramHash, ScramKeys,
};
use sxmpp::session::{Identity, IqHandlers};
use sxmpp::stanza::{Iq, Message, Presence, Stanza, StanzaError};
use sxmpp::stream::Framing;
use sxmpp::time::Timestamp;
use sxmpp::xml::{Element, Limits};

use crate::drive::{App as DriverApp, Driver, Peer, Reads, decode};

/// RFC 6120 §9.1's account, password, SCRAM salt and iteration count.
pub const JID: &str = "juliet@im.example.com/balcony";
/// The password.
pub const PASSWORD: &str = "r0m30myr0m30";
/// The salt the examples' server uses (base64-decoded).
pub const SALT: &[u8] = b"68da3408-4f4f-467f-912e-49f53f43d033";
/// The iteration count.
pub const ITERATIONS: u32 = 4096;
/// The client nonce of RFC 6120 §9.1.
pub const NONCE: &str = "oMsTAAwAAAAMAAAANP0TAAAAAABPU0AA";
/// Channel-binding data the driver's "TLS" provides.
pub const BINDING: &[u8] = b"fuzz-channel-binding-data-32byte";

/// How the client is configured; all zero is RFC 6120 §9.1.
#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    pub(crate) tls: u8,
    /// Bit i allows `Mechanism::ALL[i]`; 0 means SCRAM-SHA-1 alone.
    mechanisms: u16,
    channel_binding: u8,
    allow_plain_without_tls: bool,
    pub(crate) small_limits: bool,
    /// The server does not read: output is only drained by `Drain`.
    hold_output: bool,
    iq_namespaces_only_version: bool,
    /// The TLS handshake fails (the certificate is refused).
    pub(crate) tls_fails: bool,
    /// RFC 7395 framing: every read is one WebSocket message.
    pub(crate) websocket: bool,
}

/// One step of the script.
#[derive(Arbitrary, Debug)]
enum Op {
    /// Deliver the next read of the server's bytes.
    Read,
    /// Deliver the last read again this many times (floods from short
    /// inputs).
    Repeat(u16),
    /// Deliver these bytes as one read (NUL included).
    Inject(Vec<u8>),
    /// Move the clock (milliseconds) and fire what is due.
    Advance(u32),
    /// The server reads up to this many bytes.
    Drain(u16),
    SendMessage(String),
    SendPresence,
    /// An IQ get to the server, to another JID, or to a malformed target.
    SendRequest {
        to: u8,
        timeout_ms: u16,
    },
    /// Answer the nth request received, with a result or an error.
    Answer {
        index: u8,
        error: bool,
    },
    Close,
    Eof,
}

/// The client's application state the driver keeps.
pub struct App {
    requests: Vec<Iq>,
    max_tx: usize,
    max_stanza: usize,
    tls_fails: bool,
    pub(crate) online: bool,
}

/// The driver around the target's client.
pub(crate) type ClientDriver = Driver<ClientRole, App>;

impl App {
    /// The application state for `config`, empty.
    pub(crate) fn new(config: &Config) -> App {
        let (max_tx, max_stanza) = if config.small_limits { (4096, 2048) } else { (1 << 20, 256 * 1024) };
        App { requests: Vec::new(), max_tx, max_stanza, tls_fails: config.tls_fails, online: false }
    }

    /// The client of `config` in its driver.
    pub(crate) fn driver(config: &Config, hold_output: bool) -> ClientDriver {
        Driver::new(client(config), App::new(config), hold_output, config.websocket)
    }
}

/// The client as the target configures it (also used by the seed
/// generator, so pair-made seeds match what the target expects).
pub fn client(config: &Config) -> Client {
    let mut c = ClientConfig::new(Jid::new(JID).expect("a valid JID"), credentials());
    c.tls = [TlsMode::Required, TlsMode::Optional, TlsMode::Disabled, TlsMode::Direct][usize::from(config.tls % 4)];
    if config.websocket {
        // No STARTTLS over WebSocket: ws: or wss:.
        c.stream.framing = Framing::WebSocket;
        c.tls = [TlsMode::Disabled, TlsMode::Direct][usize::from(config.tls % 2)];
    }
    c.mechanisms = match config.mechanisms {
        0 => vec![Mechanism::ScramSha1],
        bits => Mechanism::ALL.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, m)| *m).collect(),
    };
    if c.mechanisms.is_empty() {
        c.mechanisms = vec![Mechanism::ScramSha1];
    }
    c.channel_binding =
        [ChannelBindingPolicy::Disabled, ChannelBindingPolicy::Compatible, ChannelBindingPolicy::Strict]
            [usize::from(config.channel_binding % 3)];
    c.allow_plain_without_tls = config.allow_plain_without_tls;
    // HARDENING 14's cap, low enough that a hostile count costs each run
    // at most two of the examples' PBKDF2s.
    c.max_scram_iterations = 2 * ITERATIONS;
    if config.small_limits {
        c.stream.limits = Limits { max_stanza_bytes: 2048, max_depth: 8, ..Limits::default() };
        c.stream.max_outbound_bytes = 4096;
        c.stream.session.max_pending_iqs = 4;
        c.stream.session.max_owed_iqs = 4;
    }
    if config.iq_namespaces_only_version {
        c.iq_handlers = IqHandlers::only(Identity::new("client", "pc"));
        c.iq_handlers.register("jabber:iq:version");
    }
    let mut entropy = Seeded::new(0xf022);
    entropy.push_nonce(NONCE).push_stanza_id("yhc13a95");
    Client::new(c, Box::new(entropy), Timestamp::ZERO).expect("a valid configuration")
}

/// Juliet's password and her SCRAM keys for the examples' salt, derived
/// once per process so no run pays for PBKDF2 on that path.
fn credentials() -> Credentials {
    static KEYS: OnceLock<Vec<ScramKeys>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512]
            .into_iter()
            .map(|h| ScramKeys::derive(h, PASSWORD, SALT, ITERATIONS).expect("a valid password"))
            .collect()
    });
    let mut credentials = Credentials::password(PASSWORD);
    credentials.scram_keys = keys.clone();
    credentials
}

/// The channel-binding data the driver's "TLS" provides.
pub fn binding() -> ChannelBinding {
    ChannelBinding::none()
        .with(ChannelBindingType::TlsExporter, BINDING)
        .with(ChannelBindingType::TlsServerEndPoint, BINDING)
}

/// What the driver's "TLS" reports: the channel-binding data, or (when
/// the script says so) a refused certificate.
pub(crate) fn handshake(fails: bool) -> Result<TlsInfo, TlsError> {
    if fails {
        return Err(TlsError::new(TlsErrorKind::Certificate, "certificate refused"));
    }
    Ok(TlsInfo::new().with_channel_binding(binding()))
}

impl DriverApp<ClientRole> for App {
    fn react(&mut self, _conn: &mut Client, _now: Timestamp, event: &Event) {
        match event {
            Event::Stanza(Stanza::Iq(iq)) if iq.is_request() && self.requests.len() < 64 => {
                self.requests.push(iq.clone())
            }
            Event::Online(_) => self.online = true,
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
    // Direct TLS needs nothing special: the handshake is the first output.
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
                // Text XML cannot carry is refused where the stanza is built.
                if let Ok(message) = Message::chat(Jid::new("romeo@example.net").unwrap(), &body) {
                    let _ = d.conn.send(d.now, message);
                }
            }
            Op::SendPresence => {
                let _ = d.conn.send(d.now, Presence::available());
            }
            Op::SendRequest { to, timeout_ms } => {
                let to = match to % 3 {
                    0 => None,
                    1 => Jid::new("romeo@example.net/orchard").ok(),
                    _ => Jid::new("im.example.com").ok(),
                };
                let iq = Iq::get(to, Element::new("query", "jabber:iq:version"));
                let timeout = core::time::Duration::from_millis(u64::from(timeout_ms));
                let _ = d.conn.send_iq_with_timeout(d.now, iq, timeout);
            }
            Op::Answer { index, error } => {
                let requests = &d.app.requests;
                if let Some(request) = requests.get(usize::from(index) % requests.len().max(1)).cloned() {
                    let response = if error {
                        Err(StanzaError::new(StanzaErrorCondition::FeatureNotImplemented))
                    } else {
                        Ok(None)
                    };
                    let _ = d.conn.respond(d.now, &request, response);
                }
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
