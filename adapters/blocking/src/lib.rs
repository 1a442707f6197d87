//! # sxmpp-blocking: sxmpp on std sockets, no runtime
//!
//! XMPP with plain method calls: a client that logs in with DNS SRV, TLS
//! (rustls, ring) and SCRAM, the receiving side of client connections,
//! XEP-0114 components. All protocol work is the sans-IO core's; this
//! crate moves bytes between a `TcpStream` and it.
//!
//! Each call writes everything pending first, then blocks only for input
//! or the core's next deadline (never a fixed minimum per turn).
//!
//! ```no_run
//! use sxmpp::stanza::Message;
//!
//! let mut client = sxmpp_blocking::connect("juliet@example.com", "secret")?;
//! client.send(Message::chat("romeo@example.net".parse()?, "Art thou not Romeo?")?)?;
//! client.close()?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sxmpp::connection::{
    self as core, ClientConfig, ClientRole, ComponentRole, ComponentServerRole, Event, Role, ServerRole,
};
use sxmpp::connection::{TlsRequest, TlsSide};
use sxmpp::jid::Jid;
use sxmpp::sasl::Credentials;
use sxmpp::session::{IqResponse, RequestId};
use sxmpp::stanza::{Iq, Stanza};
use sxmpp::tls::{TlsError, TlsErrorKind};
use sxmpp_net::endpoints;
use sxmpp_net::{Pump, Step, tls};

pub use sxmpp_net::{ConnectOptions, Console, Error, Security, ServerTls, Timeout, TlsOptions};

/// How long a TLS handshake may take when the core has no deadline.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one write may block on a peer that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// A client connection.
pub type Client = Connection<ClientRole>;
/// The receiving side of a client connection.
pub type Server = Connection<ServerRole>;
/// An external component (XEP-0114).
pub type Component = Connection<ComponentRole>;
/// A server's side of a component connection.
pub type ComponentServer = Connection<ComponentServerRole>;

/// What the loop answers the core's TLS requests with.
#[derive(Clone, Debug, Default)]
pub struct TlsSetup {
    /// A client's rustls configuration.
    pub client: Option<Arc<rustls::ClientConfig>>,
    /// A server's certificate.
    pub server: Option<ServerTls>,
}

enum Transport {
    Plain,
    Tls(Box<rustls::Connection>),
}

/// One connection in role `R` over a blocking `TcpStream`.
pub struct Connection<R: Role> {
    pump: Pump<R>,
    tcp: TcpStream,
    transport: Transport,
    tls: TlsSetup,
    /// The read timeout last set, to skip the syscall when unchanged.
    read_timeout: Option<Duration>,
    span: tracing::Span,
}

/// Logs in to `jid`'s server with `password`: DNS SRV, TLS required,
/// web-PKI roots.
pub fn connect(jid: &str, password: &str) -> Result<Client, Error> {
    let jid = Jid::new(jid).map_err(|e| Error::Config(core::ConfigError::Resource(e)))?;
    connect_with(ClientConfig::new(jid, Credentials::password(password)), ConnectOptions::default())
}

/// Logs in as `config` says, reaching the server as `options` says.
pub fn connect_with(config: ClientConfig, mut options: ConnectOptions) -> Result<Client, Error> {
    let span = tracing::info_span!("xmpp", account = %config.jid);
    let deadline = Instant::now() + options.connect_timeout;
    let plan = options.plan(&config)?;
    let starttls = options.tls.client_config(None).map_err(Error::Tls)?;
    let direct = options.tls.client_config(Some(tls::ALPN_XMPP_CLIENT)).map_err(Error::Tls)?;
    let mut attempts = Vec::new();
    for endpoint in plan {
        let addrs = match endpoints::addresses(&endpoint) {
            Ok(addrs) => addrs,
            Err(e) => {
                attempts.push((format!("{}:{}", endpoint.host, endpoint.port), io::Error::other(e)));
                continue;
            }
        };
        tracing::debug!(parent: &span, host = %endpoint.host, port = endpoint.port, ?addrs, "connecting");
        let Some(tcp) = endpoints::connect_std(&addrs, options.tcp_timeout, &mut attempts) else { continue };
        let client = sxmpp_net::client_for(&config, &endpoint, sxmpp_net::now())?;
        let setup = TlsSetup {
            client: Some(if endpoint.security == Security::DirectTls { direct.clone() } else { starttls.clone() }),
            server: None,
        };
        let mut conn =
            Connection::with_span(client, tcp, setup, options.max_events, options.console.take(), span.clone())?;
        // Past TCP, a failure is the server's answer: not retried elsewhere.
        loop {
            if let Some(online) = conn.pump.online_or_end() {
                return online.map(|()| conn);
            }
            conn.turn(Some(deadline)).map_err(|e| match e {
                Error::Timeout(Timeout::Event) => Error::Timeout(Timeout::Connect),
                other => other,
            })?;
        }
    }
    Err(Error::Connect { domain: config.jid.domain().to_owned(), attempts })
}

impl<R: Role> Connection<R> {
    /// Drives `conn` (created with [`sxmpp_net::now`]) over `tcp`, an
    /// accepted or connected socket.
    pub fn new(conn: core::Connection<R>, tcp: TcpStream, tls: TlsSetup) -> io::Result<Connection<R>> {
        Connection::with_span(conn, tcp, tls, sxmpp_net::DEFAULT_MAX_EVENTS, None, tracing::info_span!("xmpp"))
            .map_err(|e| io::Error::other(e.to_string()))
    }

    /// [`new`](Self::new) with an XML console.
    pub fn with_console(
        conn: core::Connection<R>,
        tcp: TcpStream,
        tls: TlsSetup,
        console: Console,
    ) -> io::Result<Connection<R>> {
        Connection::with_span(conn, tcp, tls, sxmpp_net::DEFAULT_MAX_EVENTS, Some(console), tracing::info_span!("xmpp"))
            .map_err(|e| io::Error::other(e.to_string()))
    }

    fn with_span(
        conn: core::Connection<R>,
        tcp: TcpStream,
        tls: TlsSetup,
        max_events: usize,
        console: Option<Console>,
        span: tracing::Span,
    ) -> Result<Connection<R>, Error> {
        tcp.set_nodelay(true)?;
        tcp.set_write_timeout(Some(WRITE_TIMEOUT))?;
        Ok(Connection {
            pump: Pump::new(conn, max_events, console),
            tcp,
            transport: Transport::Plain,
            tls,
            read_timeout: None,
            span,
        })
    }

    /// The core connection, for the calls of its role; the next call here
    /// sends what they queued.
    pub fn core(&mut self) -> &mut core::Connection<R> {
        self.pump.connection()
    }

    /// The next event; `Ok(None)` once the stream closed cleanly.
    pub fn next_event(&mut self) -> Result<Option<Event>, Error> {
        loop {
            if let Some(result) = self.pump.next_event() {
                return result;
            }
            self.turn(None)?;
        }
    }

    /// The next event already received, without waiting or doing I/O
    /// (after `connect`, the `Authenticated` and `Online` events wait
    /// here).
    pub fn queued_event(&mut self) -> Option<Event> {
        self.pump.pop_event()
    }

    /// [`next_event`](Self::next_event), giving up after `timeout`
    /// ([`Timeout::Event`]; the connection goes on).
    pub fn next_event_timeout(&mut self, timeout: Duration) -> Result<Option<Event>, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(result) = self.pump.next_event() {
                return result;
            }
            self.turn(Some(deadline))?;
        }
    }

    /// Sends a stanza and writes it out.
    pub fn send(&mut self, stanza: impl Into<Stanza>) -> Result<(), Error> {
        self.pump.connection().send(sxmpp_net::now(), stanza)?;
        self.flush()
    }

    /// Sends an IQ request and waits for its response (within the core's
    /// IQ timeout); events arriving meanwhile wait for `next_event`.
    pub fn request(&mut self, iq: Iq) -> Result<IqResponse, Error> {
        let id = self.pump.connection().send_iq(sxmpp_net::now(), iq)?;
        self.response(id)
    }

    /// [`request`](Self::request) with its own timeout.
    pub fn request_timeout(&mut self, iq: Iq, timeout: Duration) -> Result<IqResponse, Error> {
        let id = self.pump.connection().send_iq_with_timeout(sxmpp_net::now(), iq, timeout)?;
        self.response(id)
    }

    /// Waits for the response to a request sent through [`core`](Self::core)
    /// (`send_iq`): to do other work between sending and waiting.
    pub fn response(&mut self, id: RequestId) -> Result<IqResponse, Error> {
        loop {
            if let Some(result) = self.pump.response_for(&id) {
                return result;
            }
            self.turn(None)?;
        }
    }

    /// Writes everything queued, without waiting for input.
    pub fn flush(&mut self) -> Result<(), Error> {
        let _entered = self.span.clone().entered();
        self.write_pending();
        Ok(())
    }

    /// Closes the stream and waits for the peer's close (bounded by the
    /// core's close timeout); `Ok` for a clean close.
    pub fn close(mut self) -> Result<(), Error> {
        if !self.pump.connection_ref().is_closed() {
            self.pump.connection().close(sxmpp_net::now())?;
        }
        while !self.pump.is_closed() {
            self.turn(None)?;
        }
        self.pump.close_result()
    }

    /// Steps the core and writes until only waiting is left; then the
    /// core's deadline (if any).
    fn write_pending(&mut self) -> Option<Instant> {
        loop {
            match self.pump.step() {
                Step::StartTls(request) => self.start_tls(request),
                Step::Closed => {
                    self.shutdown();
                    return None;
                }
                Step::Wait(wait) => {
                    let pending = self.pump.transmit();
                    if pending.is_empty() {
                        return wait;
                    }
                    let written = match &mut self.transport {
                        Transport::Plain => self.tcp.write(pending),
                        Transport::Tls(tls) => tls_write(tls, &mut self.tcp, pending),
                    };
                    match written {
                        Ok(0) => self.pump.transport_failed(&io::ErrorKind::WriteZero.into()),
                        Ok(n) => self.pump.written(n),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => self.pump.transport_failed(&e),
                    }
                }
            }
        }
    }

    /// One round: write everything, then block for input until the
    /// core's deadline or the caller's.
    fn turn(&mut self, deadline: Option<Instant>) -> Result<(), Error> {
        let _entered = self.span.clone().entered();
        let core_deadline = self.write_pending();
        // New events: back to the caller, who may be waiting for one.
        if self.pump.is_closed() || self.pump.take_fresh() {
            return Ok(());
        }
        let until = [core_deadline, deadline].into_iter().flatten().min();
        let now = Instant::now();
        if until.is_some_and(|at| at <= now) {
            return self.expire(core_deadline, deadline, now);
        }
        if !self.pump.wants_input() {
            return Err(Error::Backlog(self.pump.queued_events()));
        }
        let timeout = until.map(|at| at - now);
        if timeout != self.read_timeout {
            self.tcp.set_read_timeout(timeout)?;
            self.read_timeout = timeout;
        }
        let read = match &mut self.transport {
            Transport::Plain => self.tcp.read(self.pump.read_buf()),
            Transport::Tls(tls) => tls_read(tls, &mut self.tcp, self.pump.read_buf()),
        };
        match read {
            Ok(n) => self.pump.received(n),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return self.expire(core_deadline, deadline, Instant::now());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => self.pump.transport_failed(&e),
        }
        Ok(())
    }

    /// A deadline passed: the core's timers run; the caller's ends the
    /// wait.
    fn expire(&mut self, core_deadline: Option<Instant>, deadline: Option<Instant>, now: Instant) -> Result<(), Error> {
        if core_deadline.is_some_and(|at| at <= now) {
            self.pump.timeout();
            return Ok(());
        }
        if deadline.is_some_and(|at| at <= now) {
            return Err(Error::Timeout(Timeout::Event));
        }
        Ok(())
    }

    /// The handshake the core asked for, blocking within its deadline.
    fn start_tls(&mut self, request: TlsRequest) {
        let limit = self
            .pump
            .connection_ref()
            .poll_timeout()
            .map(|t| sxmpp_net::clock().instant(t).saturating_duration_since(Instant::now()))
            .unwrap_or(TLS_HANDSHAKE_TIMEOUT)
            .max(Duration::from_millis(1));
        match self.handshake(&request, limit) {
            Ok((conn, info)) => {
                self.transport = Transport::Tls(Box::new(conn));
                self.pump.tls_established(info);
            }
            Err(error) => self.pump.tls_failed(error),
        }
    }

    fn handshake(
        &mut self,
        request: &TlsRequest,
        limit: Duration,
    ) -> Result<(rustls::Connection, sxmpp::tls::TlsInfo), TlsError> {
        let transport = |e: io::Error| TlsError::new(TlsErrorKind::Transport, e.to_string());
        let mut conn: rustls::Connection = match (&request.side, &self.tls) {
            (TlsSide::Client { server_name }, TlsSetup { client: Some(config), .. }) => {
                rustls::ClientConnection::new(config.clone(), tls::server_name(server_name)?)
                    .map_err(tls::handshake)?
                    .into()
            }
            (TlsSide::Server, TlsSetup { server: Some(server), .. }) => {
                rustls::ServerConnection::new(server.config.clone()).map_err(tls::handshake)?.into()
            }
            _ => return Err(TlsError::new(TlsErrorKind::Handshake, "no TLS configuration for this side")),
        };
        self.tcp.set_read_timeout(Some(limit)).map_err(transport)?;
        self.read_timeout = Some(limit);
        let started = Instant::now();
        while conn.is_handshaking() {
            if started.elapsed() > limit {
                return Err(TlsError::new(TlsErrorKind::Transport, "the TLS handshake timed out"));
            }
            match conn.complete_io(&mut self.tcp) {
                Ok(_) => {}
                Err(e) if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) => {
                    return Err(tls::handshake_error(&e));
                }
                Err(e) => {
                    // rustls may have queued an alert explaining a refusal.
                    let _ = conn.write_tls(&mut self.tcp);
                    return Err(tls::handshake_error(&e));
                }
            }
        }
        let info = match (&conn, &self.tls.server) {
            (rustls::Connection::Client(client), _) => tls::client_info(client),
            (rustls::Connection::Server(server), Some(setup)) => tls::server_info(server, setup),
            (rustls::Connection::Server(_), None) => sxmpp::tls::TlsInfo::new(),
        };
        Ok((conn, info))
    }

    /// A TLS close_notify, then the socket's end.
    fn shutdown(&mut self) {
        if let Transport::Tls(tls) = &mut self.transport {
            tls.send_close_notify();
            let _ = tls.write_tls(&mut self.tcp);
        }
        let _ = self.tcp.shutdown(std::net::Shutdown::Both);
    }
}

/// Writes plaintext through rustls, and everything rustls holds to the
/// socket before returning (nothing waits inside TLS while we block).
fn tls_write(tls: &mut rustls::Connection, tcp: &mut TcpStream, plain: &[u8]) -> io::Result<usize> {
    let n = tls.writer().write(plain)?;
    while tls.wants_write() {
        tls.write_tls(tcp)?;
    }
    Ok(n)
}

/// Reads plaintext: what rustls has decrypted, else one read of the
/// socket (blocking up to its timeout); 0 at the end of either.
fn tls_read(tls: &mut rustls::Connection, tcp: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match tls.reader().read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            // The peer closed without close_notify: the end all the same.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
            Err(e) => return Err(e),
        }
        if tls.read_tls(tcp)? == 0 {
            return Ok(0);
        }
        let state = tls.process_new_packets().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e));
        // Alerts and key updates go out whatever happened.
        while tls.wants_write() {
            tls.write_tls(tcp)?;
        }
        state?;
    }
}

impl Connection<ClientRole> {
    /// The bound address, once online.
    pub fn jid(&self) -> Option<&sxmpp::jid::FullJid> {
        self.pump.connection_ref().jid()
    }
}

impl<R: Role> std::fmt::Debug for Connection<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("pump", &self.pump).finish_non_exhaustive()
    }
}
