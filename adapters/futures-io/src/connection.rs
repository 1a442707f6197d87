//! The async drive loop over a futures-io byte stream, for every role.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};
use sxmpp::connection::{self as core, ClientRole, Event, Role, TlsRequest, TlsSide};
use sxmpp::session::IqResponse;
use sxmpp::stanza::{Iq, Stanza};
use sxmpp_net::{Error, Pump, ServerTls, Step, Timeout, tls};

use crate::{BoxFuture, Runtime};

/// How long a TLS handshake may take when the core has no deadline.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// One connection in role `R` on runtime `Rt`: the core, its transport,
/// and the loop between them. Every method drives the loop while it
/// waits (writing, reading, arming the core's timers); nothing runs in
/// the background, so the connection makes progress while the
/// application awaits one of them.
pub struct Connection<R: Role, Rt: Runtime> {
    pump: Pump<R>,
    transport: Transport<Rt>,
    tls: TlsSetup,
    /// The core's deadline, armed.
    timer: Option<(Instant, BoxFuture<'static, ()>)>,
    /// The TLS stream wants a flush after writes.
    unflushed: bool,
    span: tracing::Span,
}

/// What the loop needs to run TLS when the core asks.
#[derive(Clone, Debug, Default)]
pub struct TlsSetup {
    /// A client's rustls configuration.
    pub client: Option<Arc<rustls::ClientConfig>>,
    /// A server's certificate.
    pub server: Option<ServerTls>,
}

enum Transport<Rt: Runtime> {
    Plain(Rt::Tcp),
    Tls(Rt::Tls),
    /// Between a failed handshake and the end, or after shutdown.
    Gone,
}

/// What one wait ended with.
enum Woken {
    /// Bytes were written: step the core again.
    Wrote,
    Read(io::Result<usize>),
    CoreTimer,
    Deadline,
}

impl<R: Role, Rt: Runtime> Connection<R, Rt> {
    /// Drives `conn` (created with [`sxmpp_net::now`]) over `tcp`; `tls`
    /// is what the core's TLS requests are answered with.
    pub fn new(conn: core::Connection<R>, tcp: Rt::Tcp, tls: TlsSetup, options: Options) -> Connection<R, Rt> {
        if let Err(error) = Rt::set_nodelay(&tcp) {
            // Slower, not wrong: the connection still works.
            tracing::debug!(%error, "TCP_NODELAY not set");
        }
        Connection {
            pump: Pump::new(conn, options.max_events, options.console),
            transport: Transport::Plain(tcp),
            tls,
            timer: None,
            unflushed: false,
            span: options.span.unwrap_or_else(|| tracing::info_span!("xmpp")),
        }
    }

    /// [`new`](Self::new) for a std socket (one accepted from a
    /// `std::net::TcpListener`, say). With tokio, call it inside the
    /// runtime.
    pub fn from_std(
        conn: core::Connection<R>,
        tcp: std::net::TcpStream,
        tls: TlsSetup,
        options: Options,
    ) -> io::Result<Self> {
        Ok(Connection::new(conn, Rt::from_std(tcp)?, tls, options))
    }

    /// The core connection, for the calls of its role (a server's
    /// `authenticate`, say) with [`sxmpp_net::now`]; [`flush`](Self::flush)
    /// or any other method sends what they queued.
    pub fn core(&mut self) -> &mut core::Connection<R> {
        self.pump.connection()
    }

    /// The next event; `Ok(None)` once the stream closed cleanly, the
    /// typed error when it ended otherwise.
    pub async fn next_event(&mut self) -> Result<Option<Event>, Error> {
        loop {
            if let Some(result) = self.pump.next_event() {
                return result;
            }
            self.turn(None).await?;
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
    pub async fn next_event_timeout(&mut self, timeout: Duration) -> Result<Option<Event>, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(result) = self.pump.next_event() {
                return result;
            }
            self.turn(Some(deadline)).await?;
        }
    }

    /// Sends a stanza and writes it out.
    pub async fn send(&mut self, stanza: impl Into<Stanza>) -> Result<(), Error> {
        let now = sxmpp_net::now();
        self.pump.connection().send(now, stanza)?;
        self.flush().await
    }

    /// Sends an IQ request and waits for its response, within the core's
    /// IQ timeout ([`Timeout::Request`] after it). Events arriving
    /// meanwhile wait for [`next_event`](Self::next_event).
    pub async fn request(&mut self, iq: Iq) -> Result<IqResponse, Error> {
        let id = self.pump.connection().send_iq(sxmpp_net::now(), iq)?;
        self.response(id).await
    }

    /// [`request`](Self::request) with its own timeout.
    pub async fn request_timeout(&mut self, iq: Iq, timeout: Duration) -> Result<IqResponse, Error> {
        let id = self.pump.connection().send_iq_with_timeout(sxmpp_net::now(), iq, timeout)?;
        self.response(id).await
    }

    /// Waits for the response to a request sent through [`core`](Self::core)
    /// (`send_iq`): to do other work between sending and waiting.
    pub async fn response(&mut self, id: sxmpp::session::RequestId) -> Result<IqResponse, Error> {
        loop {
            if let Some(result) = self.pump.response_for(&id) {
                return result;
            }
            self.turn(None).await?;
        }
    }

    /// Writes everything queued (stanzas are serialised when the core is
    /// stepped, so this steps it first).
    pub async fn flush(&mut self) -> Result<(), Error> {
        loop {
            if self.advance().await.is_none() || self.pump.transmit().is_empty() && !self.unflushed {
                return Ok(());
            }
            self.turn(None).await?;
        }
    }

    /// Closes the stream and waits for the peer's close (bounded by the
    /// core's close timeout); `Ok` for a clean close.
    pub async fn close(mut self) -> Result<(), Error> {
        if !self.pump.connection_ref().is_closed() {
            self.pump.connection().close(sxmpp_net::now())?;
        }
        while !self.pump.is_closed() {
            self.turn(None).await?;
        }
        // What arrived before the close is dropped with the connection.
        self.pump.close_result()
    }

    /// Drives until the connection is online.
    pub(crate) async fn wait_online(&mut self) -> Result<(), Error> {
        loop {
            if let Some(result) = self.pump.online_or_end() {
                return result;
            }
            self.turn(None).await?;
        }
    }

    /// Steps the core, running TLS when it asks: the core's deadline, or
    /// `None` once it closed (the transport is shut down then).
    async fn advance(&mut self) -> Option<Option<Instant>> {
        loop {
            let step = {
                let _entered = self.span.enter();
                self.pump.step()
            };
            match step {
                Step::StartTls(request) => self.start_tls(request).await,
                Step::Closed => {
                    self.shutdown().await;
                    return None;
                }
                Step::Wait(wait) => return Some(wait),
            }
        }
    }

    /// One round of the loop: until something was written or read, a
    /// timer was handled, or the connection closed. `deadline` is the
    /// caller's: [`Timeout::Event`] when it passes. The span is entered
    /// only around synchronous work, never across an await.
    async fn turn(&mut self, deadline: Option<Instant>) -> Result<(), Error> {
        let mut caller_timer = deadline.map(Rt::sleep_until);
        loop {
            let Some(wait) = self.advance().await else { return Ok(()) };
            // New events: back to the caller, who may be waiting for one.
            if self.pump.take_fresh() {
                return Ok(());
            }
            let woken = poll_fn(|cx| self.poll_wait(cx, wait, caller_timer.as_mut())).await;
            let _entered = self.span.enter();
            match woken {
                Woken::Wrote => return Ok(()),
                Woken::Read(Ok(n)) => {
                    self.pump.received(n);
                    return Ok(());
                }
                Woken::Read(Err(error)) => self.pump.transport_failed(&error),
                Woken::CoreTimer => {
                    self.timer = None;
                    self.pump.timeout();
                    return Ok(());
                }
                Woken::Deadline => return Err(Error::Timeout(Timeout::Event)),
            }
        }
    }

    /// Writes, reads and timers at once.
    fn poll_wait(
        &mut self,
        cx: &mut Context<'_>,
        wait: Option<Instant>,
        caller: Option<&mut BoxFuture<'static, ()>>,
    ) -> Poll<Woken> {
        // 1. Write what is pending, then flush the TLS layer.
        let mut wrote = false;
        loop {
            let pending = self.pump.transmit();
            if pending.is_empty() {
                break;
            }
            match self.transport.poll_write(cx, pending) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Woken::Read(Err(io::ErrorKind::WriteZero.into()))),
                Poll::Ready(Ok(n)) => {
                    self.pump.written(n);
                    self.unflushed = true;
                    wrote = true;
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Woken::Read(Err(error))),
                Poll::Pending => break,
            }
        }
        if self.unflushed && self.pump.transmit().is_empty() {
            match self.transport.poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.unflushed = false;
                    wrote = true;
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Woken::Read(Err(error))),
                Poll::Pending => {}
            }
        }
        if wrote {
            return Poll::Ready(Woken::Wrote);
        }
        // 2. Read, while the application keeps up.
        if self.pump.wants_input()
            && let Poll::Ready(result) = self.transport.poll_read(cx, self.pump.read_buf())
        {
            return Poll::Ready(Woken::Read(result));
        }
        // 3. The core's deadline, then the caller's.
        if let Some(at) = wait {
            if self.timer.as_ref().is_none_or(|(armed, _)| *armed != at) {
                self.timer = Some((at, Rt::sleep_until(at)));
            }
            if let Some((_, sleep)) = &mut self.timer
                && sleep.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(Woken::CoreTimer);
            }
        }
        if let Some(sleep) = caller
            && sleep.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Woken::Deadline);
        }
        Poll::Pending
    }

    /// Runs the handshake the core asked for, within its deadline.
    async fn start_tls(&mut self, request: TlsRequest) {
        let Transport::Plain(tcp) = std::mem::replace(&mut self.transport, Transport::Gone) else {
            self.pump
                .tls_failed(sxmpp::tls::TlsError::new(sxmpp::tls::TlsErrorKind::Handshake, "TLS is already running"));
            return;
        };
        let limit = self
            .pump
            .connection_ref()
            .poll_timeout()
            .map(|t| sxmpp_net::clock().instant(t))
            .unwrap_or_else(|| Instant::now() + TLS_HANDSHAKE_TIMEOUT);
        let handshake = match (&request.side, &self.tls) {
            (TlsSide::Client { server_name }, TlsSetup { client: Some(config), .. }) => {
                match tls::server_name(server_name) {
                    Ok(name) => Ok(Rt::tls_connect(tcp, name, config.clone())),
                    Err(e) => Err(e),
                }
            }
            (TlsSide::Server, TlsSetup { server: Some(server), .. }) => Ok(Rt::tls_accept(tcp, server.clone())),
            _ => Err(sxmpp::tls::TlsError::new(
                sxmpp::tls::TlsErrorKind::Handshake,
                "no TLS configuration for this side",
            )),
        };
        let outcome = match handshake {
            Ok(handshake) => crate::deadline::<Rt, _>(limit, handshake).await.unwrap_or_else(|| {
                Err(sxmpp::tls::TlsError::new(sxmpp::tls::TlsErrorKind::Transport, "the TLS handshake timed out"))
            }),
            Err(e) => Err(e),
        };
        let _entered = self.span.enter();
        match outcome {
            Ok((stream, info)) => {
                self.transport = Transport::Tls(stream);
                self.pump.tls_established(info);
            }
            Err(error) => self.pump.tls_failed(error),
        }
    }

    /// Shuts the transport down (TLS close_notify first), once.
    async fn shutdown(&mut self) {
        let mut transport = std::mem::replace(&mut self.transport, Transport::Gone);
        let _ =
            crate::deadline::<Rt, _>(Instant::now() + Duration::from_secs(2), poll_fn(|cx| transport.poll_close(cx)))
                .await;
    }
}

impl<Rt: Runtime> Connection<ClientRole, Rt> {
    /// The bound address, once online.
    pub fn jid(&self) -> Option<&sxmpp::jid::FullJid> {
        self.pump.connection_ref().jid()
    }
}

impl<R: Role, Rt: Runtime> std::fmt::Debug for Connection<R, Rt> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("pump", &self.pump).finish_non_exhaustive()
    }
}

/// How a [`Connection`] is driven, besides its TLS.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Options {
    /// Events kept for the application before reading pauses (0: the
    /// default).
    pub max_events: usize,
    /// The XML console.
    pub console: Option<sxmpp_net::Console>,
    /// The tracing span the connection's work runs in.
    pub span: Option<tracing::Span>,
}

impl Options {
    /// The defaults.
    pub fn new() -> Options {
        Options { max_events: sxmpp_net::DEFAULT_MAX_EVENTS, console: None, span: None }
    }
}

impl<Rt: Runtime> Transport<Rt> {
    fn poll_write(&mut self, cx: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
        match self {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, bytes),
            Transport::Tls(s) => Pin::new(s).poll_write(cx, bytes),
            Transport::Gone => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s).poll_flush(cx),
            Transport::Gone => Poll::Ready(Ok(())),
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match self {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Gone => Poll::Ready(Ok(0)),
        }
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Transport::Plain(s) => Pin::new(s).poll_close(cx),
            Transport::Tls(s) => Pin::new(s).poll_close(cx),
            Transport::Gone => Poll::Ready(Ok(())),
        }
    }
}
