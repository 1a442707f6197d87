//! # sxmpp-async-std: sxmpp on async-std
//!
//! **async-std is discontinued upstream** (RUSTSEC-2025-0052): it gets no
//! fixes. New code should use `sxmpp-smol`, whose API is the same (both
//! are the one loop of `sxmpp-futures-io`); this crate stays for
//! applications already on async-std.
//!
//! XMPP over async-std: a client that logs in with DNS SRV, TLS (rustls,
//! ring) and SCRAM, the receiving side of client connections, and
//! XEP-0114 components. All protocol work is the sans-IO core's.
//!
//! ```no_run
//! use sxmpp::stanza::Message;
//!
//! async_std::task::block_on(async {
//!     let mut client = sxmpp_async_std::connect("juliet@example.com", "secret").await?;
//!     client.send(Message::chat("romeo@example.net".parse()?, "Art thou not Romeo?")?).await?;
//!     client.close().await?;
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use async_std::net::TcpStream;
use rustls::pki_types::ServerName;
use sxmpp::connection::{self as core, ClientConfig, ClientRole, ComponentRole, ComponentServerRole, ServerRole};
use sxmpp::tls::{TlsError, TlsInfo};
use sxmpp_futures_io::{BoxFuture, Runtime};

pub use sxmpp_futures_io::{Options, TlsSetup};
pub use sxmpp_net::{ConnectOptions, Console, Error, Security, ServerTls, Timeout, TlsOptions};

/// async-std as a [`Runtime`] for the shared loop.
#[derive(Debug)]
pub struct AsyncStd;

/// A connection in role `R`, driven on async-std.
pub type Connection<R> = sxmpp_futures_io::Connection<R, AsyncStd>;
/// A client connection.
pub type Client = Connection<ClientRole>;
/// The receiving side of a client connection.
pub type Server = Connection<ServerRole>;
/// An external component (XEP-0114).
pub type Component = Connection<ComponentRole>;
/// A server's side of a component connection.
pub type ComponentServer = Connection<ComponentServerRole>;

/// Logs in to `jid`'s server with `password`: DNS SRV, TLS required,
/// web-PKI roots.
pub async fn connect(jid: &str, password: &str) -> Result<Client, Error> {
    sxmpp_futures_io::connect::<AsyncStd>(jid, password).await
}

/// Logs in as `config` says, reaching the server as `options` says.
pub async fn connect_with(config: ClientConfig, options: ConnectOptions) -> Result<Client, Error> {
    sxmpp_futures_io::connect_with::<AsyncStd>(config, options).await
}

/// Drives an accepted TCP connection: a server, or a component server
/// (`tls` answers the core's TLS requests; see [`TlsSetup`]).
pub fn drive<R: core::Role>(
    conn: core::Connection<R>,
    tcp: TcpStream,
    tls: TlsSetup,
    options: Options,
) -> Connection<R> {
    Connection::new(conn, tcp, tls, options)
}

/// An async-std timer as a `()` future.
pub struct Sleep(Pin<Box<dyn Future<Output = ()> + Send>>);

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sleep")
    }
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl Runtime for AsyncStd {
    type Tcp = TcpStream;
    type Tls = futures_rustls::TlsStream<TcpStream>;
    type Sleep = Sleep;

    fn sleep_until(deadline: Instant) -> Sleep {
        Sleep(Box::pin(async_std::task::sleep(deadline.saturating_duration_since(Instant::now()))))
    }

    fn connect_tcp(addr: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>> {
        Box::pin(async move {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            Ok(tcp)
        })
    }

    fn from_std(tcp: std::net::TcpStream) -> io::Result<TcpStream> {
        tcp.set_nodelay(true)?;
        tcp.set_nonblocking(true)?;
        Ok(TcpStream::from(tcp))
    }

    fn unblock<T: Send + 'static>(work: Box<dyn FnOnce() -> T + Send>) -> BoxFuture<'static, T> {
        Box::pin(async_std::task::spawn_blocking(work))
    }

    fn tls_connect(
        tcp: TcpStream,
        name: ServerName<'static>,
        config: Arc<rustls::ClientConfig>,
    ) -> BoxFuture<'static, Result<(Self::Tls, TlsInfo), TlsError>> {
        Box::pin(sxmpp_futures_io::futures_tls_connect(tcp, name, config))
    }

    fn tls_accept(tcp: TcpStream, tls: ServerTls) -> BoxFuture<'static, Result<(Self::Tls, TlsInfo), TlsError>> {
        Box::pin(sxmpp_futures_io::futures_tls_accept(tcp, tls))
    }
}
