//! # sxmpp-smol: sxmpp on smol
//!
//! XMPP over [smol](https://docs.rs/smol): a client that logs in with
//! DNS SRV, TLS (rustls, ring) and SCRAM, the receiving side of client
//! connections, and XEP-0114 components. All protocol work is the
//! sans-IO core's (`sxmpp`); this crate only provides smol's sockets,
//! timers and blocking pool to the shared loop of `sxmpp-futures-io`.
//!
//! ```no_run
//! use sxmpp::stanza::Message;
//!
//! smol::block_on(async {
//!     let mut client = sxmpp_smol::connect("juliet@example.com", "secret").await?;
//!     client.send(Message::chat("romeo@example.net".parse()?, "Art thou not Romeo?")?).await?;
//!     client.close().await?;
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```
//!
//! For a private server, trust its CA and name the host:
//!
//! ```no_run
//! use sxmpp::connection::ClientConfig;
//! use sxmpp::sasl::Credentials;
//! use sxmpp_smol::{ConnectOptions, Security, TlsOptions};
//!
//! smol::block_on(async {
//!     let mut tls = TlsOptions::default();
//!     tls.add_pem_file("ca.pem")?;
//!     let config = ClientConfig::new("juliet@localhost".parse()?, Credentials::password("secret"));
//!     let options = ConnectOptions::default().tls(tls).endpoint("127.0.0.1", 5222, Security::StartTls);
//!     let client = sxmpp_smol::connect_with(config, options).await?;
//!     client.close().await?;
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::ServerName;
use smol::net::TcpStream;
use sxmpp::tls::{TlsError, TlsInfo};
use sxmpp_futures_io::{BoxFuture, Runtime};

/// smol as a [`Runtime`] for the shared loop.
#[derive(Debug)]
pub struct Smol;

sxmpp_futures_io::runtime_api!(Smol);

impl Runtime for Smol {
    type Tcp = TcpStream;
    type Tls = futures_rustls::TlsStream<TcpStream>;

    fn sleep_until(deadline: Instant) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            smol::Timer::at(deadline).await;
        })
    }

    fn connect_tcp(addr: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>> {
        Box::pin(async move { TcpStream::connect(addr).await })
    }

    fn from_std(tcp: std::net::TcpStream) -> io::Result<TcpStream> {
        TcpStream::try_from(tcp)
    }

    fn set_nodelay(tcp: &TcpStream) -> io::Result<()> {
        tcp.set_nodelay(true)
    }

    fn unblock<T: Send + 'static>(work: Box<dyn FnOnce() -> T + Send>) -> BoxFuture<'static, T> {
        Box::pin(smol::unblock(work))
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
