//! # sxmpp-futures-io: the async drive loop, written once
//!
//! [`Connection`] drives any role of the sans-IO core over a byte stream
//! with the `futures-io` traits. What differs between runtimes (how to
//! open a socket, sleep, run blocking work, and which TLS crate wraps the
//! socket) is a [`Runtime`]; `sxmpp-async-std`, `sxmpp-smol` and
//! `sxmpp-tokio` each supply one and re-export the rest. Applications use
//! those crates; this one is for writing a binding to another runtime.
//!
//! The loop never waits for one thing at a time: in every wait it writes
//! what is pending, reads when the application keeps up with the events,
//! and arms the core's deadline, all at once.

mod connect;
mod connection;
mod futures_tls;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};
use rustls::pki_types::ServerName;
use sxmpp::tls::{TlsError, TlsInfo};
use sxmpp_net::ServerTls;

pub use crate::connect::{connect, connect_with};
pub use crate::connection::{Connection, Options, TlsSetup};
pub use crate::futures_tls::{accept as futures_tls_accept, connect as futures_tls_connect};

/// A boxed, sendable future: what [`Runtime`] methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a runtime provides to the drive loop.
pub trait Runtime: Send + Sync + Sized + 'static {
    /// A connected TCP stream.
    type Tcp: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// A TLS stream over [`Runtime::Tcp`].
    type Tls: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// A timer firing at `deadline` (boxed: timers are made only when a
    /// deadline changes).
    fn sleep_until(deadline: Instant) -> BoxFuture<'static, ()>;
    /// Opens a TCP connection.
    fn connect_tcp(addr: SocketAddr) -> BoxFuture<'static, io::Result<Self::Tcp>>;
    /// Adopts a connected or accepted std socket (made non-blocking).
    fn from_std(tcp: std::net::TcpStream) -> io::Result<Self::Tcp>;
    /// Turns Nagle's algorithm off. XMPP writes small units and waits for
    /// answers, so delayed ACKs would stall each one; the loop calls this
    /// for every connection it drives, connected or accepted.
    fn set_nodelay(tcp: &Self::Tcp) -> io::Result<()>;
    /// Runs blocking work (DNS) off the event loop.
    fn unblock<T: Send + 'static>(work: Box<dyn FnOnce() -> T + Send>) -> BoxFuture<'static, T>;
    /// The client side of a TLS handshake, verifying `name`.
    fn tls_connect(
        tcp: Self::Tcp,
        name: ServerName<'static>,
        config: Arc<rustls::ClientConfig>,
    ) -> BoxFuture<'static, Result<(Self::Tls, TlsInfo), TlsError>>;
    /// The server side of a TLS handshake.
    fn tls_accept(tcp: Self::Tcp, tls: ServerTls) -> BoxFuture<'static, Result<(Self::Tls, TlsInfo), TlsError>>;
}

/// The public face of a runtime adapter, the same in each: the
/// connection types for every role and `connect`/`connect_with`, bound to
/// runtime `$rt`. `sxmpp-tokio`, `sxmpp-smol` and `sxmpp-async-std` each
/// invoke it once.
#[macro_export]
macro_rules! runtime_api {
    ($rt:ty) => {
        pub use $crate::__private::sxmpp_net::{
            ConnectOptions, Console, Error, Security, ServerTls, Timeout, TlsOptions,
        };
        pub use $crate::{Options, TlsSetup};

        /// A connection in role `R`, driven on this runtime: every method
        /// drives it while it waits.
        pub type Connection<R> = $crate::Connection<R, $rt>;
        /// A client connection.
        pub type Client = Connection<$crate::__private::ClientRole>;
        /// The receiving side of a client connection.
        pub type Server = Connection<$crate::__private::ServerRole>;
        /// An external component (XEP-0114).
        pub type Component = Connection<$crate::__private::ComponentRole>;
        /// A server's side of a component connection.
        pub type ComponentServer = Connection<$crate::__private::ComponentServerRole>;

        /// Logs in to `jid`'s server with `password`: DNS SRV, TLS
        /// required, web-PKI roots.
        pub async fn connect(jid: &str, password: &str) -> Result<Client, Error> {
            $crate::connect::<$rt>(jid, password).await
        }

        /// Logs in as `config` says, reaching the server as `options`
        /// says.
        pub async fn connect_with(
            config: $crate::__private::ClientConfig,
            options: ConnectOptions,
        ) -> Result<Client, Error> {
            $crate::connect_with::<$rt>(config, options).await
        }

        /// Drives an accepted TCP connection in any role: a server, a
        /// component server (`tls` answers the core's TLS requests; see
        /// [`TlsSetup`]).
        pub fn drive<R: $crate::__private::Role>(
            conn: $crate::__private::Connection<R>,
            tcp: impl Into<<$rt as $crate::Runtime>::Tcp>,
            tls: TlsSetup,
            options: Options,
        ) -> Connection<R> {
            Connection::new(conn, tcp.into(), tls, options)
        }
    };
}

/// What [`runtime_api`] names; not public API.
#[doc(hidden)]
pub mod __private {
    pub use sxmpp::connection::{
        ClientConfig, ClientRole, ComponentRole, ComponentServerRole, Connection, Role, ServerRole,
    };
    pub use sxmpp_net;
}

/// Waits for `future` until `deadline`; `None` when the deadline came
/// first.
pub async fn deadline<Rt: Runtime, T>(deadline: Instant, future: impl Future<Output = T>) -> Option<T> {
    let mut future = std::pin::pin!(future);
    let mut sleep = Rt::sleep_until(deadline);
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(value) = future.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(value));
        }
        sleep.as_mut().poll(cx).map(|()| None)
    })
    .await
}
