//! Both sides of XEP-0114 driven by arbitrary peer bytes and API calls:
//! `component` (a component connecting to a server) and `component_server`
//! (a server accepting one). The defaults (an empty script) are XEP-0114
//! §3's: `plays.shakespeare.lit`, the secret `secret`, stream id
//! `3BF96D32`, so a seed made of that example's bytes completes the
//! handshake. Invariants: those of every connection (see `drive`).

use arbitrary::Arbitrary;
use sxmpp::connection::{
    Component, ComponentConfig, ComponentRole, ComponentServer, ComponentServerConfig, ComponentServerRole, Connection,
    Event, Role, TlsError, TlsInfo,
};
use sxmpp::entropy::Seeded;
use sxmpp::jid::{BareJid, Jid};
use sxmpp::stanza::Message;
use sxmpp::time::Timestamp;
use sxmpp::xml::Limits;

use crate::client::handshake;
use crate::drive::{App as DriverApp, Driver, Peer, Reads, decode};

/// The component's domain.
pub const DOMAIN: &str = "plays.shakespeare.lit";
/// The shared secret.
pub const SECRET: &str = "secret";
/// The stream id of XEP-0114's example.
pub const STREAM_ID: &str = "3BF96D32";

/// How either side is configured; all zero is XEP-0114 §3's.
#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    small_limits: bool,
    /// The peer does not read: output is only drained by `Drain`.
    hold_output: bool,
    /// (Server) The component may send from subdomains.
    subdomains: bool,
    /// (Component) The wrong secret.
    wrong_secret: bool,
}

/// One step of the script.
#[derive(Arbitrary, Debug)]
enum Op {
    /// Deliver the next read of the peer's bytes.
    Read,
    /// Deliver the last read again this many times.
    Repeat(u16),
    /// Deliver these bytes as one read.
    Inject(Vec<u8>),
    /// Move the clock (milliseconds) and fire what is due.
    Advance(u32),
    /// The peer reads up to this many bytes.
    Drain(u16),
    /// The application sends a message: from the component's domain, a
    /// subdomain of it, or elsewhere; to someone, or no one.
    Send {
        from: u8,
        to: bool,
        body: String,
    },
    Close,
    Eof,
}

/// The application state either side's driver keeps: only bounds.
pub struct App {
    max_tx: usize,
    max_stanza: usize,
}

impl App {
    fn new(config: &Config) -> App {
        let (max_tx, max_stanza) = if config.small_limits { (4096, 2048) } else { (1 << 20, 256 * 1024) };
        App { max_tx, max_stanza }
    }
}

impl<R: Role> DriverApp<R> for App {
    fn react(&mut self, _conn: &mut Connection<R>, _now: Timestamp, _event: &Event) {}
    fn handshake(&mut self) -> Result<TlsInfo, TlsError> {
        handshake(false)
    }
    fn max_backlog(&self) -> usize {
        self.max_tx + self.max_tx.max(64 * 1024)
    }
    fn max_stanza_bytes(&self) -> usize {
        self.max_stanza
    }
}

fn limits(config: &Config) -> Option<(Limits, usize)> {
    config.small_limits.then(|| (Limits { max_stanza_bytes: 2048, max_depth: 8, ..Limits::default() }, 4096))
}

/// The component as the target configures it.
pub fn component(config: &Config) -> Component {
    let secret = if config.wrong_secret { "wrong" } else { SECRET };
    let mut c = ComponentConfig::new(BareJid::new(DOMAIN).expect("a valid domain"), secret);
    if let Some((limits, max_tx)) = limits(config) {
        c.stream.limits = limits;
        c.stream.max_outbound_bytes = max_tx;
    }
    Component::new(c, Box::new(Seeded::new(0xc0)), Timestamp::ZERO)
}

/// The component server as the target configures it.
pub fn component_server(config: &Config) -> ComponentServer {
    let mut c = ComponentServerConfig::new(DOMAIN, SECRET);
    c.components[0].subdomains = config.subdomains;
    if let Some((limits, max_tx)) = limits(config) {
        c.stream.limits = limits;
        c.stream.max_outbound_bytes = max_tx;
    }
    let mut entropy = Seeded::new(0xc5);
    entropy.push_stream_id(STREAM_ID);
    ComponentServer::new(c, Box::new(entropy), Timestamp::ZERO).expect("a valid configuration")
}

/// The component in its driver.
pub(crate) fn component_driver(config: &Config, hold_output: bool) -> Driver<ComponentRole, App> {
    Driver::new(component(config), App::new(config), hold_output, false)
}

/// The component server in its driver.
pub(crate) fn server_driver(config: &Config, hold_output: bool) -> Driver<ComponentServerRole, App> {
    Driver::new(component_server(config), App::new(config), hold_output, false)
}

/// Runs one input with the component under test.
pub fn run_component(data: &[u8]) {
    let script = decode::<Config, Op>(data);
    let d = component_driver(&script.config, script.config.hold_output);
    play(d, script.ops, script.reads);
}

/// Runs one input with the component server under test.
pub fn run_server(data: &[u8]) {
    let script = decode::<Config, Op>(data);
    let d = server_driver(&script.config, script.config.hold_output);
    play(d, script.ops, script.reads);
}

/// The script, the same for both sides.
fn play<R: Role>(mut d: Driver<R, App>, ops: Vec<Op>, reads: Vec<&[u8]>) {
    let mut reads = Reads::new(reads);
    for op in ops {
        match op {
            Op::Read => d.peer(Peer::Read, &mut reads),
            Op::Repeat(times) => d.peer(Peer::Repeat(times), &mut reads),
            Op::Inject(bytes) => d.peer(Peer::Inject(&bytes), &mut reads),
            Op::Advance(ms) => d.peer(Peer::Advance(ms), &mut reads),
            Op::Drain(n) => d.peer(Peer::Drain(n), &mut reads),
            Op::Send { from, to, body } => {
                let from = match from % 3 {
                    0 => "hamlet@plays.shakespeare.lit/stage",
                    1 => "ghost@muc.plays.shakespeare.lit",
                    _ => "romeo@montague.lit",
                };
                let to = if to { Jid::new("juliet@capulet.lit").ok() } else { None };
                if let Ok(mut message) = Message::chat(Jid::new("juliet@capulet.lit").expect("valid"), &body) {
                    message.set_to(to);
                    message.set_from(Jid::new(from).ok());
                    let _ = d.conn.send(d.now, message);
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
