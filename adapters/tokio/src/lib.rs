//! # sxmpp-tokio: sxmpp on tokio
//!
//! XMPP over [tokio](https://docs.rs/tokio): a client that logs in with
//! DNS SRV, TLS (tokio-rustls, ring) and SCRAM, the receiving side of
//! client connections, and XEP-0114 components. All protocol work is the
//! sans-IO core's (`sxmpp`); this crate only provides tokio's sockets,
//! timers and blocking pool (DNS runs there) to the shared loop of
//! `sxmpp-futures-io`.
//!
//! ```no_run
//! use sxmpp::stanza::Message;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut client = sxmpp_tokio::connect("juliet@example.com", "secret").await?;
//! client.send(Message::chat("romeo@example.net".parse()?, "Art thou not Romeo?")?).await?;
//! while let Some(event) = client.next_event().await? {
//!     println!("{event:?}");
//! }
//! # Ok(())
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use rustls::pki_types::ServerName;
use sxmpp::tls::{TlsError, TlsInfo};
use sxmpp_futures_io::{BoxFuture, Runtime};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// tokio as a [`Runtime`] for the shared loop.
#[derive(Debug)]
pub struct Tokio;

sxmpp_futures_io::runtime_api!(Tokio);

impl Runtime for Tokio {
    type Tcp = Compat<TcpStream>;
    type Tls = Compat<tokio_rustls::TlsStream<TcpStream>>;

    fn sleep_until(deadline: Instant) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn connect_tcp(addr: SocketAddr) -> BoxFuture<'static, io::Result<Self::Tcp>> {
        Box::pin(async move { Ok(Compat(TcpStream::connect(addr).await?)) })
    }

    fn from_std(tcp: std::net::TcpStream) -> io::Result<Self::Tcp> {
        tcp.set_nonblocking(true)?;
        TcpStream::from_std(tcp).map(Compat)
    }

    fn set_nodelay(tcp: &Self::Tcp) -> io::Result<()> {
        tcp.0.set_nodelay(true)
    }

    fn unblock<T: Send + 'static>(work: Box<dyn FnOnce() -> T + Send>) -> BoxFuture<'static, T> {
        Box::pin(async move {
            match tokio::task::spawn_blocking(work).await {
                Ok(value) => value,
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            }
        })
    }

    fn tls_connect(
        tcp: Self::Tcp,
        name: ServerName<'static>,
        config: Arc<rustls::ClientConfig>,
    ) -> BoxFuture<'static, Result<(Self::Tls, TlsInfo), TlsError>> {
        Box::pin(async move {
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp.0)
                .await
                .map_err(|e| sxmpp_net::tls::handshake_error(&e))?;
            let info = sxmpp_net::tls::client_info(stream.get_ref().1);
            Ok((Compat(tokio_rustls::TlsStream::Client(stream)), info))
        })
    }

    fn tls_accept(tcp: Self::Tcp, tls: ServerTls) -> BoxFuture<'static, Result<(Self::Tls, TlsInfo), TlsError>> {
        Box::pin(async move {
            let stream = tokio_rustls::TlsAcceptor::from(tls.config.clone())
                .accept(tcp.0)
                .await
                .map_err(|e| sxmpp_net::tls::handshake_error(&e))?;
            let info = sxmpp_net::tls::server_info(stream.get_ref().1, &tls);
            Ok((Compat(tokio_rustls::TlsStream::Server(stream)), info))
        })
    }
}

/// A tokio stream seen through the futures-io traits.
#[derive(Debug)]
pub struct Compat<T>(pub T);

impl From<TcpStream> for Compat<TcpStream> {
    fn from(tcp: TcpStream) -> Compat<TcpStream> {
        Compat(tcp)
    }
}

impl<T: AsyncRead + Unpin> futures_io::AsyncRead for Compat<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        match Pin::new(&mut self.0).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> futures_io::AsyncWrite for Compat<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
