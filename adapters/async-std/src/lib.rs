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

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use async_std::net::TcpStream;
use rustls::pki_types::ServerName;
use sxmpp::tls::{TlsError, TlsInfo};
use sxmpp_futures_io::{BoxFuture, Runtime};

/// async-std as a [`Runtime`] for the shared loop.
#[derive(Debug)]
pub struct AsyncStd;

sxmpp_futures_io::runtime_api!(AsyncStd);

impl Runtime for AsyncStd {
    type Tcp = TcpStream;
    type Tls = futures_rustls::TlsStream<TcpStream>;

    fn sleep_until(deadline: Instant) -> BoxFuture<'static, ()> {
        Box::pin(async_std::task::sleep(deadline.saturating_duration_since(Instant::now())))
    }

    fn connect_tcp(addr: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>> {
        Box::pin(async move { TcpStream::connect(addr).await })
    }

    fn from_std(tcp: std::net::TcpStream) -> io::Result<TcpStream> {
        tcp.set_nonblocking(true)?;
        Ok(TcpStream::from(tcp))
    }

    fn set_nodelay(tcp: &TcpStream) -> io::Result<()> {
        tcp.set_nodelay(true)
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
