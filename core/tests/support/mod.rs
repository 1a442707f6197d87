//! The pair harness (after quinn-proto's `Pair`): a `Client` and a
//! `Server` wired together in memory on virtual time, with a link that can
//! split, delay, drop and cut the byte stream. The harness also plays the
//! server's application: it answers credential requests from a user table
//! and accepts bind requests.

#![allow(dead_code, unreachable_pub)] // a test support module, used in parts

use std::collections::VecDeque;
use std::time::Duration;

use sxmpp::connection::{
    AuthAnswer, BindDecision, Client, ClientConfig, CloseReason, Connection, Event, Output, Role, Server, ServerConfig,
    ServerSecret, ServerTls, TlsInfo, TlsMode,
};
use sxmpp::entropy::Seeded;
use sxmpp::jid::{BareJid, Jid};
use sxmpp::sasl::{ChannelBinding, Credentials, ScramHash, ScramKeys, ScramStored};
use sxmpp::time::Timestamp;

/// What the link between the two does to the bytes.
#[derive(Clone, Debug)]
pub struct Link {
    /// Largest piece delivered at once.
    pub chunk: usize,
    /// Time each piece spends in flight.
    pub latency: Duration,
    /// After this many bytes have crossed (both directions together), the
    /// link breaks: both sides see the end of the transport.
    pub cut_after: Option<usize>,
    /// Bytes of the client-to-server stream to drop: `[start, end)`.
    pub drop_c2s: Option<(usize, usize)>,
    /// A man in the middle adds plaintext at the TLS hand-off (the
    /// CVE-2011-0411 class).
    pub inject: Option<Injection>,
}

impl Default for Link {
    fn default() -> Link {
        Link { chunk: usize::MAX, latency: Duration::ZERO, cut_after: None, drop_c2s: None, inject: None }
    }
}

/// Plaintext an attacker appends right behind a side's last plaintext
/// element before TLS: the client's `<starttls/>` (to the server) or the
/// server's `<proceed/>` (to the client).
#[derive(Clone, Debug)]
pub struct Injection {
    /// True: behind the client's `<starttls/>`; false: behind the
    /// server's `<proceed/>`.
    pub to_server: bool,
    pub bytes: Vec<u8>,
    pub delivery: InjectionDelivery,
}

/// How the injected bytes reach the victim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InjectionDelivery {
    /// In the same read as the element before them.
    Whole,
    /// In a read of their own, right after.
    Split,
    /// One byte per read.
    Bytewise,
}

/// One direction of the link.
#[derive(Default)]
struct Wire {
    in_flight: VecDeque<(Timestamp, Vec<u8>)>,
    /// Bytes written into this direction so far.
    written: usize,
    /// The sender has closed the transport: deliver EOF after the bytes.
    eof: bool,
    eof_delivered: bool,
}

/// A user the server knows.
#[derive(Clone)]
pub struct User {
    pub name: String,
    pub password: String,
    pub stored: Vec<ScramStored>,
    keys: Vec<ScramKeys>,
}

impl User {
    /// A user with stored SCRAM credentials for every hash (derived once).
    pub fn new(name: &str, password: &str) -> User {
        let keys: Vec<ScramKeys> = [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512]
            .into_iter()
            .map(|h| ScramKeys::derive(h, password, format!("salt-{name}").as_bytes(), 4096).unwrap())
            .collect();
        let stored = keys.iter().map(ScramStored::from).collect();
        User { name: name.into(), password: password.into(), stored, keys }
    }

    /// The client-side keys matching the stored credentials, so a login
    /// needs no PBKDF2 at all.
    pub fn keys(&self) -> Vec<ScramKeys> {
        self.keys.clone()
    }
}

pub struct Pair {
    pub client: Client,
    pub server: Server,
    pub now: Timestamp,
    pub link: Link,
    c2s: Wire,
    s2c: Wire,
    crossed: usize,
    cut: bool,
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
    client_end: Option<CloseReason>,
    server_end: Option<CloseReason>,
    pub users: Vec<User>,
    /// Channel-binding data each side's TLS stack reports.
    pub client_binding: ChannelBinding,
    pub server_binding: ChannelBinding,
    client_tls: bool,
    server_tls: bool,
    /// Everything each side wrote, in order.
    pub client_wrote: Vec<u8>,
    pub server_wrote: Vec<u8>,
    /// Received stanzas, in order (kept apart from the other events).
    pub to_server: Vec<sxmpp::stanza::Stanza>,
    pub to_client: Vec<sxmpp::stanza::Message>,
}

pub const DOMAIN: &str = "im.example.com";

/// Client and server configurations for one account, TLS on both sides.
pub fn configs(jid: &str, credentials: Credentials) -> (ClientConfig, ServerConfig) {
    let mut client = ClientConfig::new(Jid::new(jid).unwrap(), credentials);
    client.tls = TlsMode::Required;
    client.stream.ping_interval = None;
    client.stream.keepalive_interval = None;
    let mut server = ServerConfig::new(DOMAIN, ServerSecret::new([7; 32]));
    server.tls = ServerTls::Required;
    (client, server)
}

impl Pair {
    pub fn new(client: ClientConfig, server: ServerConfig, users: Vec<User>) -> Pair {
        let now = Timestamp::ZERO;
        Pair {
            client: Client::new(client, Box::new(Seeded::new(1)), now).unwrap(),
            server: Server::new(server, Box::new(Seeded::new(2)), now).unwrap(),
            now,
            link: Link::default(),
            c2s: Wire::default(),
            s2c: Wire::default(),
            crossed: 0,
            cut: false,
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_end: None,
            server_end: None,
            users,
            client_binding: ChannelBinding::none(),
            server_binding: ChannelBinding::none(),
            client_tls: false,
            server_tls: false,
            client_wrote: Vec::new(),
            server_wrote: Vec::new(),
            to_server: Vec::new(),
            to_client: Vec::new(),
        }
    }

    /// Moves output into the wires and reacts to events; true if anything
    /// happened. Both sides are drained by the one generic [`drain`], as
    /// any driver would.
    fn collect(&mut self) -> bool {
        let mut progress = false;
        let client = drain(&mut self.client);
        let server = drain(&mut self.server);
        // Nothing comes after Closed, and it comes once.
        assert!(self.client_end.is_none() || !client.any(), "client output after Closed");
        assert!(self.server_end.is_none() || !server.any(), "server output after Closed");
        progress |= client.any() || server.any();
        self.client_tls |= client.start_tls;
        self.server_tls |= server.start_tls;
        for ev in client.events {
            match ev {
                Event::Stanza(sxmpp::stanza::Stanza::Message(m)) => self.to_client.push(m),
                other => self.client_events.push(other),
            }
        }
        if let Some(reason) = client.closed {
            self.c2s.eof = true;
            self.client_end = Some(reason);
        }
        for ev in server.events {
            match ev {
                Event::AuthRequested(ref req) => {
                    let account = |u: &User| BareJid::from_parts(Some(&u.name), DOMAIN).ok();
                    let answer = match self.users.iter().find(|u| account(u) == req.account) {
                        Some(user) => AuthAnswer::Scram(user.stored.clone()),
                        None if req.account.is_none() => {
                            // EXTERNAL (the certificate says juliet) and ANONYMOUS.
                            let local = match req.mechanism {
                                sxmpp::sasl::Mechanism::External => "juliet",
                                _ => "anon-1",
                            };
                            AuthAnswer::Accept(BareJid::from_parts(Some(local), DOMAIN).unwrap())
                        }
                        None => AuthAnswer::UnknownUser,
                    };
                    self.server_events.push(ev);
                    // Refused only if the connection ended meanwhile.
                    let _ = self.server.authenticate(self.now, answer);
                }
                Event::BindRequested(_) => {
                    self.server_events.push(ev);
                    let _ = self.server.bind(self.now, BindDecision::Accept);
                }
                Event::Stanza(s) => self.to_server.push(s),
                other => self.server_events.push(other),
            }
        }
        if let Some(reason) = server.closed {
            self.s2c.eof = true;
            self.server_end = Some(reason);
        }
        let delay = self.link.latency;
        let now = self.now;
        for (tx, wire, client_side) in [(client.bytes, &mut self.c2s, true), (server.bytes, &mut self.s2c, false)] {
            if tx.is_empty() {
                continue;
            }
            progress = true;
            if client_side {
                self.client_wrote.extend_from_slice(&tx);
            } else {
                self.server_wrote.extend_from_slice(&tx);
            }
            let mut bytes = tx.clone();
            if client_side && let Some((start, end)) = self.link.drop_c2s {
                let base = wire.written;
                bytes = tx
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !(start..end).contains(&(base + i)))
                    .map(|(_, b)| *b)
                    .collect();
            }
            wire.written += tx.len();
            let marker: &[u8] = if client_side { b"<starttls" } else { b"<proceed" };
            let injection = self
                .link
                .inject
                .take_if(|i| i.to_server == client_side && bytes.windows(marker.len()).any(|w| w == marker));
            let mut extra = Vec::new();
            if let Some(injection) = injection {
                match injection.delivery {
                    InjectionDelivery::Whole => bytes.extend_from_slice(&injection.bytes),
                    InjectionDelivery::Split => extra.push(injection.bytes),
                    InjectionDelivery::Bytewise => extra.extend(injection.bytes.iter().map(|b| vec![*b])),
                }
            }
            for piece in bytes.chunks(self.link.chunk.max(1)) {
                wire.in_flight.push_back((now + delay, piece.to_vec()));
            }
            for piece in extra {
                wire.in_flight.push_back((now + delay, piece));
            }
        }
        // TLS: once the server has sent <proceed/> and the client has it,
        // both stacks finish the handshake.
        if self.client_tls && self.server_tls && self.c2s.in_flight.is_empty() && self.s2c.in_flight.is_empty() {
            self.client_tls = false;
            self.server_tls = false;
            let info = |binding: &ChannelBinding| TlsInfo::new().with_channel_binding(binding.clone());
            self.server.handle_tls_established(self.now, info(&self.server_binding));
            self.client.handle_tls_established(self.now, info(&self.client_binding));
            progress = true;
        }
        progress
    }

    /// Delivers what is due; true if anything was delivered.
    fn deliver(&mut self) -> bool {
        let mut progress = false;
        for to_server in [true, false] {
            loop {
                let wire = if to_server { &mut self.c2s } else { &mut self.s2c };
                let due = wire.in_flight.front().is_some_and(|(t, _)| *t <= self.now);
                if !due || self.cut {
                    break;
                }
                let (_, mut piece) = wire.in_flight.pop_front().unwrap();
                if let Some(limit) = self.link.cut_after
                    && self.crossed + piece.len() >= limit
                {
                    piece.truncate(limit - self.crossed);
                    self.cut = true;
                }
                self.crossed += piece.len();
                // A driver offers what was not taken again once the events
                // waiting are handled.
                let mut rest = piece.as_slice();
                loop {
                    let taken = if to_server {
                        self.server.handle_input(self.now, rest)
                    } else {
                        self.client.handle_input(self.now, rest)
                    };
                    rest = &rest[taken..];
                    if rest.is_empty() {
                        break;
                    }
                    self.collect();
                }
                progress = true;
                if self.cut {
                    self.server.handle_eof(self.now);
                    self.client.handle_eof(self.now);
                    break;
                }
                if self.collect() {
                    progress = true;
                }
            }
        }
        // A side that closed its transport: the other sees EOF once the
        // bytes before it are in.
        for to_server in [true, false] {
            let wire = if to_server { &mut self.c2s } else { &mut self.s2c };
            if wire.eof && !wire.eof_delivered && wire.in_flight.is_empty() {
                wire.eof_delivered = true;
                if to_server {
                    self.server.handle_eof(self.now);
                } else {
                    self.client.handle_eof(self.now);
                }
                progress = true;
            }
        }
        progress
    }

    /// Runs until nothing more happens without time passing.
    pub fn settle(&mut self) {
        for _ in 0..1_000_000 {
            let a = self.collect();
            let b = self.deliver();
            if !a && !b {
                return;
            }
        }
        panic!("the pair does not settle");
    }

    /// Runs until both sides are closed or idle, advancing virtual time to
    /// the next timer or delivery whenever nothing else is left.
    pub fn drive(&mut self, max_time: Duration) {
        let end = self.now + max_time;
        loop {
            self.settle();
            let next_delivery =
                self.c2s.in_flight.front().into_iter().chain(self.s2c.in_flight.front()).map(|(t, _)| *t).min();
            let next =
                [next_delivery, self.client.poll_timeout(), self.server.poll_timeout()].into_iter().flatten().min();
            match next {
                Some(t) if t <= end && !self.cut => {
                    self.now = self.now.max(t);
                    self.client.handle_timeout(self.now);
                    self.server.handle_timeout(self.now);
                }
                _ => return,
            }
        }
    }

    pub fn client_online(&self) -> bool {
        self.client_events.iter().any(|e| matches!(e, Event::Online(_)))
    }

    pub fn server_online(&self) -> bool {
        self.server_events.iter().any(|e| matches!(e, Event::Online(_)))
    }

    /// Why the client ended, once its output said `Closed`.
    pub fn client_closed(&self) -> Option<&CloseReason> {
        self.client_end.as_ref()
    }

    /// Why the server ended, once its output said `Closed`.
    pub fn server_closed(&self) -> Option<&CloseReason> {
        self.server_end.as_ref()
    }

    /// Bytes that crossed the link so far.
    pub fn crossed(&self) -> usize {
        self.crossed
    }
}

/// What one drain of a connection's output held.
#[derive(Default)]
pub struct Drained {
    pub bytes: Vec<u8>,
    pub events: Vec<Event>,
    /// The output asked for the TLS handshake.
    pub start_tls: bool,
    pub closed: Option<CloseReason>,
}

impl Drained {
    fn any(&self) -> bool {
        !self.bytes.is_empty() || !self.events.is_empty() || self.start_tls || self.closed.is_some()
    }
}

/// Drains a connection of any role until it says wait: the loop every
/// driver runs (bytes written in order, the TLS hand-off after them,
/// `Closed` last and once).
pub fn drain<R: Role>(conn: &mut Connection<R>) -> Drained {
    let mut d = Drained::default();
    for _ in 0..1_000_000 {
        match conn.poll_output() {
            Output::Transmit(bytes) => {
                assert!(d.closed.is_none() && !d.start_tls, "bytes after Closed or StartTls");
                d.bytes.extend_from_slice(bytes);
                let n = bytes.len();
                conn.consume_transmit(n);
            }
            Output::Event(event) => d.events.push(event),
            Output::StartTls(_) => d.start_tls = true,
            Output::Closed(reason) => d.closed = Some(reason.clone()),
            Output::Wait(_) => return d,
            _ => panic!("an output this driver does not know"),
        }
    }
    panic!("poll_output never says wait");
}
