//! Many client connections driven from one thread by `mio`, with no
//! async runtime: the reason to pick a sans-IO core. Each connection is
//! a [`Pump`] (the core plus its loop state), a non-blocking socket and,
//! after STARTTLS, a `rustls::ClientConnection` driven by hand.
//!
//! Every connection logs in as the same account with its own resource;
//! once all are online each sends one message to the next, and once every
//! message has arrived all close. Peak RSS is printed at the end.
//!
//! ```sh
//! W=$(mktemp -d); interop/peer.sh up prosody "$W"; . "$W/peer.env"
//! ulimit -n 4096
//! cargo run --release -p sxmpp-net --example custom_loop -- 1000
//! interop/peer.sh down prosody "$W"
//! ```
//!
//! It reads `XMPP_HOST`, `XMPP_C2S_PORT`, `XMPP_CA_CERT`, `XMPP_DOMAIN`
//! and the first of `XMPP_USERS` (`jid:password`), as `peer.sh` writes
//! them.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use sxmpp::connection::{Client, ClientConfig, ClientRole, Event, TlsSide};
use sxmpp::jid::Jid;
use sxmpp::sasl::Credentials;
use sxmpp::stanza::{Message, Stanza};
use sxmpp_net::{Pump, Step, SystemRandom, TlsOptions, tls};

/// One connection: the core with its loop state, the socket, TLS.
struct Conn {
    pump: Pump<ClientRole>,
    tcp: TcpStream,
    tls: Option<rustls::ClientConnection>,
    /// The TLS handshake runs; the core waits for its report.
    handshaking: bool,
    deadline: Option<Instant>,
    online: bool,
    received: bool,
    done: bool,
}

impl Conn {
    /// Everything that can be done now without blocking: step the core,
    /// write, read, until nothing moves. Returns the events.
    fn drive(&mut self, tls_config: &Arc<rustls::ClientConfig>) -> io::Result<Vec<Event>> {
        let mut events = Vec::new();
        loop {
            let mut progress = false;
            if !self.handshaking {
                match self.pump.step() {
                    Step::StartTls(request) => {
                        let TlsSide::Client { server_name } = request.side else { unreachable!("a client") };
                        let name = tls::server_name(&server_name).map_err(io::Error::other)?;
                        self.tls =
                            Some(rustls::ClientConnection::new(tls_config.clone(), name).map_err(io::Error::other)?);
                        self.handshaking = true;
                        progress = true;
                    }
                    Step::Closed => {
                        self.done = true;
                        return Ok(events);
                    }
                    Step::Wait(deadline) => self.deadline = deadline,
                }
            }
            while let Some(event) = self.pump.pop_event() {
                events.push(event);
            }
            // Write: the core's bytes (through TLS once it is up).
            let pending = if self.handshaking { &[][..] } else { self.pump.transmit() };
            if !pending.is_empty() {
                let written = match &mut self.tls {
                    Some(tls) => tls.writer().write(pending),
                    None => self.tcp.write(pending),
                };
                match written {
                    Ok(n) if n > 0 => {
                        self.pump.written(n);
                        progress = true;
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            if let Some(tls) = &mut self.tls {
                while tls.wants_write() {
                    match tls.write_tls(&mut self.tcp) {
                        Ok(_) => progress = true,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
            }
            // Read (edge-triggered: until it would block).
            if self.pump.wants_input() || self.handshaking {
                match self.read()? {
                    Got::Plain(n) => {
                        // 0 is the end of the transport.
                        self.pump.received(n);
                        progress = true;
                    }
                    Got::Tls => progress = true,
                    Got::WouldBlock => {}
                }
            }
            if !progress {
                return Ok(events);
            }
        }
    }

    /// One read from the socket, through TLS when it is up.
    fn read(&mut self) -> io::Result<Got> {
        let Some(tls) = &mut self.tls else {
            return match self.tcp.read(self.pump.read_buf()) {
                Ok(n) => Ok(Got::Plain(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Got::WouldBlock),
                Err(e) => Err(e),
            };
        };
        if !self.handshaking {
            match tls.reader().read(self.pump.read_buf()) {
                Ok(n) => return Ok(Got::Plain(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Got::Plain(0)),
                Err(e) => return Err(e),
            }
        }
        match tls.read_tls(&mut self.tcp) {
            Ok(0) => return Ok(Got::Plain(0)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Got::WouldBlock),
            Err(e) => return Err(e),
        }
        if let Err(error) = tls.process_new_packets() {
            let _ = tls.write_tls(&mut self.tcp);
            self.handshaking = false;
            self.pump.tls_failed(tls::handshake(error));
            return Ok(Got::Tls);
        }
        if self.handshaking && !tls.is_handshaking() {
            self.handshaking = false;
            let info = tls::client_info(tls);
            self.pump.tls_established(info);
        }
        Ok(Got::Tls)
    }
}

/// What one read gave.
enum Got {
    /// Plaintext bytes in the pump's buffer (0: the end).
    Plain(usize),
    /// TLS records were processed; maybe no plaintext yet.
    Tls,
    WouldBlock,
}

/// Counts what the events say.
fn tally(conn: &mut Conn, events: Vec<Event>, online: &mut usize, received: &mut usize) {
    for event in events {
        match event {
            Event::Online(_) => {
                conn.online = true;
                *online += 1;
            }
            Event::Stanza(Stanza::Message(m)) if m.body().is_some() => {
                conn.received = true;
                *received += 1;
            }
            _ => {}
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(1000);
    let var = |name: &str| std::env::var(name).map_err(|_| format!("set {name} (source a peer.env)"));
    let addr: SocketAddr = format!("{}:{}", var("XMPP_HOST")?, var("XMPP_C2S_PORT")?).parse()?;
    let users = var("XMPP_USERS")?;
    let (account, password) =
        users.split_whitespace().next().and_then(|u| u.split_once(':')).ok_or("bad XMPP_USERS")?;
    let tls_config = TlsOptions::only(Vec::new()).add_pem_file(var("XMPP_CA_CERT")?)?.client_config(None)?;

    let started = Instant::now();
    let mut poll = Poll::new()?;
    let mut conns = Vec::with_capacity(count);
    for i in 0..count {
        let mut config = ClientConfig::new(Jid::new(&format!("{account}/c{i}"))?, Credentials::password(password));
        config.stream.keepalive_interval = None;
        let client = Client::new(config, Box::new(SystemRandom), sxmpp_net::now())?;
        let mut tcp = TcpStream::connect(addr)?;
        poll.registry().register(&mut tcp, Token(i), Interest::READABLE | Interest::WRITABLE)?;
        conns.push(Conn {
            pump: Pump::new(client, 64, None),
            tcp,
            tls: None,
            handshaking: false,
            deadline: None,
            online: false,
            received: false,
            done: false,
        });
    }
    let (mut online, mut received, mut closed) = (0, 0, 0);
    let mut all_online_at = None;
    let mut closing = false;
    let mut events = Events::with_capacity(1024);
    let limit = started + Duration::from_secs(300);
    while closed < count {
        if Instant::now() > limit {
            return Err(format!("gave up: {online} online, {received} received, {closed} closed").into());
        }
        let next = conns.iter().filter(|c| !c.done).filter_map(|c| c.deadline).min();
        let timeout = next.map(|at| at.saturating_duration_since(Instant::now())).unwrap_or(Duration::from_secs(1));
        poll.poll(&mut events, Some(timeout.min(Duration::from_secs(1))))?;
        let mut ready: Vec<usize> = events.iter().map(|e| e.token().0).collect();
        let now = Instant::now();
        for (i, conn) in conns.iter_mut().enumerate() {
            if !conn.done && conn.deadline.is_some_and(|at| at <= now) {
                conn.pump.timeout();
                ready.push(i);
            }
        }
        ready.sort_unstable();
        ready.dedup();
        for i in ready {
            let conn = &mut conns[i];
            if conn.done {
                continue;
            }
            let was_done = conn.done;
            let events = conn.drive(&tls_config)?;
            tally(conn, events, &mut online, &mut received);
            if conn.done && !was_done {
                closed += 1;
                if let Some(reason) =
                    conn.pump.close_reason().filter(|r| !matches!(r, sxmpp::connection::CloseReason::Clean))
                {
                    return Err(format!("connection {i} ended: {reason:?}").into());
                }
            }
        }
        if online == count && all_online_at.is_none() {
            all_online_at = Some(started.elapsed());
            println!("{count} online after {:.2}s", started.elapsed().as_secs_f64());
            for (i, conn) in conns.iter_mut().enumerate() {
                let to = Jid::new(&format!("{account}/c{}", (i + 1) % count))?;
                conn.pump.connection().send(sxmpp_net::now(), Message::chat(to, &format!("hello from c{i}"))?)?;
                // What arrives meanwhile counts too (the previous
                // connection's message, say).
                let events = conn.drive(&tls_config)?;
                tally(conn, events, &mut online, &mut received);
            }
        }
        if !closing && all_online_at.is_some() && conns.iter().all(|c| c.received) {
            closing = true;
            println!("{count} messages exchanged after {:.2}s", started.elapsed().as_secs_f64());
            for conn in conns.iter_mut().filter(|c| !c.done && !c.pump.connection_ref().is_closed()) {
                conn.pump.connection().close(sxmpp_net::now())?;
                let events = conn.drive(&tls_config)?;
                tally(conn, events, &mut online, &mut received);
                if conn.done {
                    closed += 1;
                }
            }
        }
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or("VmHWM: unknown").trim().to_string();
    println!(
        "{count} connections: all logged in, exchanged a message and closed cleanly in {:.2}s; peak RSS {}",
        started.elapsed().as_secs_f64(),
        peak.trim_start_matches("VmHWM:").trim()
    );
    Ok(())
}
