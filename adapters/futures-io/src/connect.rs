//! Connecting a client: the endpoints (SRV or the override), each host's
//! addresses raced Happy Eyeballs style, then the stream up to online.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::Poll;
use std::time::Instant;

use sxmpp::connection::{ClientConfig, ClientRole};
use sxmpp::jid::Jid;
use sxmpp::sasl::Credentials;
use sxmpp_net::endpoints::{self, ATTEMPT_DELAY};
use sxmpp_net::{ConnectOptions, Error, Security, Timeout, tls};

use crate::connection::{Options, TlsSetup};
use crate::{BoxFuture, Connection, Runtime};

/// Logs in to `jid`'s server with `password` (SRV lookup, TLS required,
/// web-PKI roots) and returns the connection online.
pub async fn connect<Rt: Runtime>(jid: &str, password: &str) -> Result<Connection<ClientRole, Rt>, Error> {
    let jid = Jid::new(jid).map_err(|e| Error::Config(sxmpp::connection::ConfigError::Resource(e)))?;
    connect_with::<Rt>(ClientConfig::new(jid, Credentials::password(password)), ConnectOptions::default()).await
}

/// Logs in as `config` says, reaching the server as `options` says; the
/// whole of it (DNS, TCP, TLS, negotiation) within
/// `options.connect_timeout`.
pub async fn connect_with<Rt: Runtime>(
    config: ClientConfig,
    options: ConnectOptions,
) -> Result<Connection<ClientRole, Rt>, Error> {
    let deadline = Instant::now() + options.connect_timeout;
    let span = tracing::info_span!("xmpp", account = %config.jid);
    crate::deadline::<Rt, _>(deadline, connect_inner::<Rt>(config, options, span))
        .await
        .unwrap_or(Err(Error::Timeout(Timeout::Connect)))
}

async fn connect_inner<Rt: Runtime>(
    config: ClientConfig,
    mut options: ConnectOptions,
    span: tracing::Span,
) -> Result<Connection<ClientRole, Rt>, Error> {
    let plan = {
        let (endpoint, resolver) = (options.endpoint.clone(), options.resolver.clone());
        let domain = config.jid.domain().to_owned();
        tracing::debug!(parent: &span, %domain, "resolving");
        Rt::unblock(Box::new(move || sxmpp_net::plan(&domain, endpoint.as_ref(), resolver.as_ref()))).await?
    };
    let starttls = options.tls.client_config(None).map_err(Error::Tls)?;
    let direct = options.tls.client_config(Some(tls::ALPN_XMPP_CLIENT)).map_err(Error::Tls)?;
    let mut attempts = Vec::new();
    for endpoint in plan {
        let lookup = endpoint.clone();
        let addrs = match Rt::unblock(Box::new(move || endpoints::addresses(&lookup))).await {
            Ok(addrs) => addrs,
            Err(e) => {
                attempts.push((format!("{}:{}", endpoint.host, endpoint.port), io::Error::other(e)));
                continue;
            }
        };
        tracing::debug!(parent: &span, host = %endpoint.host, port = endpoint.port, ?addrs, "connecting");
        let tcp = match happy_eyeballs::<Rt>(&addrs, options.tcp_timeout, &mut attempts).await {
            Some(tcp) => tcp,
            None => continue,
        };
        let client = sxmpp_net::client_for(&config, &endpoint, sxmpp_net::now())?;
        let tls = TlsSetup {
            client: Some(if endpoint.security == Security::DirectTls { direct.clone() } else { starttls.clone() }),
            server: None,
        };
        let drive =
            Options { max_events: options.max_events, console: options.console.take(), span: Some(span.clone()) };
        let mut conn = Connection::<ClientRole, Rt>::new(client, tcp, tls, drive);
        // Past TCP, a failure is the server's answer: not retried
        // elsewhere (a refused certificate or password would be again).
        conn.wait_online().await?;
        return Ok(conn);
    }
    Err(Error::Connect { domain: config.jid.domain().to_owned(), attempts })
}

/// RFC 8305: the next address is tried every [`ATTEMPT_DELAY`] while the
/// earlier attempts are pending, or at once when they failed; the first
/// to connect wins, the rest are dropped.
async fn happy_eyeballs<Rt: Runtime>(
    addrs: &[SocketAddr],
    timeout: std::time::Duration,
    failures: &mut Vec<(String, io::Error)>,
) -> Option<Rt::Tcp> {
    type Attempt<T> = (SocketAddr, BoxFuture<'static, io::Result<T>>);
    let mut running: Vec<Attempt<Rt::Tcp>> = Vec::new();
    let mut next = 0;
    let mut stagger: Option<BoxFuture<'static, ()>> = None;
    poll_fn(|cx| {
        loop {
            let due = running.is_empty() || stagger.as_mut().is_some_and(|s| s.as_mut().poll(cx).is_ready());
            if next < addrs.len() && due {
                let addr = addrs[next];
                next += 1;
                let attempt = Box::pin(async move {
                    crate::deadline::<Rt, _>(Instant::now() + timeout, Rt::connect_tcp(addr))
                        .await
                        .unwrap_or_else(|| Err(io::ErrorKind::TimedOut.into()))
                });
                running.push((addr, attempt));
                stagger = Some(Rt::sleep_until(Instant::now() + ATTEMPT_DELAY));
                continue;
            }
            let mut i = 0;
            let mut finished = false;
            while i < running.len() {
                match running[i].1.as_mut().poll(cx) {
                    Poll::Ready(Ok(tcp)) => return Poll::Ready(Some(tcp)),
                    Poll::Ready(Err(e)) => {
                        failures.push((running[i].0.to_string(), e));
                        drop(running.remove(i));
                        finished = true;
                    }
                    Poll::Pending => i += 1,
                }
            }
            if running.is_empty() && next >= addrs.len() {
                return Poll::Ready(None);
            }
            if !finished {
                return Poll::Pending;
            }
        }
    })
    .await
}
