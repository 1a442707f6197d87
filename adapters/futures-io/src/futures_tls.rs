//! TLS with futures-rustls, for runtimes whose sockets implement the
//! futures-io traits (async-std, smol).

use std::sync::Arc;

use futures_io::{AsyncRead, AsyncWrite};
use futures_rustls::{TlsAcceptor, TlsConnector, TlsStream};
use rustls::pki_types::ServerName;
use sxmpp::tls::{TlsError, TlsInfo};
use sxmpp_net::{ServerTls, tls};

/// The client side of a handshake over `tcp`.
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    tcp: S,
    name: ServerName<'static>,
    config: Arc<rustls::ClientConfig>,
) -> Result<(TlsStream<S>, TlsInfo), TlsError> {
    let stream = TlsConnector::from(config).connect(name, tcp).await.map_err(|e| tls::handshake_error(&e))?;
    let info = tls::client_info(stream.get_ref().1);
    Ok((TlsStream::Client(stream), info))
}

/// The server side of a handshake over `tcp`.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    tcp: S,
    config: ServerTls,
) -> Result<(TlsStream<S>, TlsInfo), TlsError> {
    let stream = TlsAcceptor::from(config.config.clone()).accept(tcp).await.map_err(|e| tls::handshake_error(&e))?;
    let info = tls::server_info(stream.get_ref().1, &config);
    Ok((TlsStream::Server(stream), info))
}
