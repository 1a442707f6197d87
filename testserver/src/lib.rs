//! # sxmpp-testserver: an XMPP server for tests and demos
//!
//! A real server on loopback, in your process: the core's server role
//! driven by the tokio adapter on a thread of its own, with a CA and
//! certificate made in memory and users in a table. Start it, connect
//! any client to it (trusting its CA), and drop it to stop it.
//!
//! ```
//! use sxmpp_testserver::TestServer;
//!
//! let server = TestServer::builder().user("alice", "alicepass").user("bob", "bobpass").start()?;
//! let mut alice = sxmpp_blocking::connect_with(server.client_config("alice")?, server.connect_options())?;
//! alice.close()?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```
//!
//! What it does (RFC 6120/6121, enough to test a client or a bot):
//! STARTTLS (required) and direct TLS on two ports; SCRAM-SHA-1/256/512
//! with and without `-PLUS` (tls-exporter, tls-server-end-point), PLAIN
//! over TLS; resource binding; routing of messages, presences and IQs
//! between connected resources (a message to a bare JID goes to the
//! available resource of highest priority, RFC 6121 §8.5.2; kept offline
//! when there is none); presence broadcast to the user's other resources
//! and to contacts subscribed to it, probes answered on initial
//! presence; subscriptions (`subscribe`, `subscribed`, `unsubscribe`,
//! `unsubscribed`) updating both rosters; the roster (`jabber:iq:roster`)
//! with versioning and pushes; disco#info and XEP-0199 pings (the core
//! answers those). Bounded: the core's per-connection limits, pre-auth
//! and bind deadlines, a cap on connections, a cap on offline messages.

mod roster;
mod router;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use sxmpp::connection::ClientConfig;
use sxmpp::jid::Jid;
use sxmpp::sasl::Credentials;
use sxmpp_net::pki::TestPki;
use sxmpp_net::{ConnectOptions, Security, TlsOptions};
use tokio::sync::watch;

pub use crate::router::Limits;

/// How to start a [`TestServer`].
#[derive(Clone, Debug)]
pub struct Builder {
    domain: String,
    users: Vec<(String, String)>,
    limits: Limits,
    channel_binding: bool,
}

impl Builder {
    /// Whether to offer the `-PLUS` (channel-binding) mechanisms (default
    /// yes). Off is for clients that can bind only with `tls-unique`, which
    /// TLS 1.3 lacks (slixmpp 1.8): offered `-PLUS`, they try it and fail,
    /// then (RFC 5802) their `y` flag rightly reads as a downgrade.
    pub fn channel_binding(mut self, offer: bool) -> Builder {
        self.channel_binding = offer;
        self
    }

    /// The domain served (default `localhost`).
    pub fn domain(mut self, domain: impl Into<String>) -> Builder {
        self.domain = domain.into();
        self
    }

    /// Adds a user (the local part) with this password.
    pub fn user(mut self, name: impl Into<String>, password: impl Into<String>) -> Builder {
        self.users.push((name.into(), password.into()));
        self
    }

    /// Other bounds than the defaults.
    pub fn limits(mut self, limits: Limits) -> Builder {
        self.limits = limits;
        self
    }

    /// Generates the certificate, binds both ports on 127.0.0.1 and starts
    /// serving on a thread of its own.
    pub fn start(self) -> io::Result<TestServer> {
        let pki = TestPki::generate(&self.domain).map_err(io::Error::other)?;
        let starttls = std::net::TcpListener::bind("127.0.0.1:0")?;
        let direct = std::net::TcpListener::bind("127.0.0.1:0")?;
        let (starttls_addr, direct_addr) = (starttls.local_addr()?, direct.local_addr()?);
        let (stop, stopped) = watch::channel(false);
        let state =
            Arc::new(Mutex::new(router::State::new(&self.domain, &self.users, self.limits, self.channel_binding)?));
        let tls = pki.server.clone();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let thread = std::thread::Builder::new().name("sxmpp-testserver".into()).spawn(move || {
            runtime.block_on(router::serve(starttls, direct, tls, state, stopped));
        })?;
        Ok(TestServer {
            domain: self.domain,
            users: self.users,
            starttls_addr,
            direct_addr,
            pki,
            stop,
            thread: Some(thread),
        })
    }
}

/// A running server; dropping it stops it (every connection is cut).
#[derive(Debug)]
pub struct TestServer {
    domain: String,
    users: Vec<(String, String)>,
    starttls_addr: SocketAddr,
    direct_addr: SocketAddr,
    pki: TestPki,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// A server for `localhost` with no users yet: add them with
    /// [`Builder::user`].
    pub fn builder() -> Builder {
        Builder { domain: "localhost".into(), users: Vec::new(), limits: Limits::default(), channel_binding: true }
    }

    /// The domain served.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Where STARTTLS (required) is served.
    pub fn starttls_addr(&self) -> SocketAddr {
        self.starttls_addr
    }

    /// Where direct TLS (XEP-0368) is served.
    pub fn direct_tls_addr(&self) -> SocketAddr {
        self.direct_addr
    }

    /// The CA certificate (PEM), for other programs to trust.
    pub fn ca_pem(&self) -> &str {
        &self.pki.ca_pem
    }

    /// Client TLS options trusting this server's CA only.
    pub fn tls_options(&self) -> TlsOptions {
        self.pki.client_options()
    }

    /// Options that reach this server over STARTTLS.
    pub fn connect_options(&self) -> ConnectOptions {
        self.connect_options_with(Security::StartTls)
    }

    /// Options that reach this server over STARTTLS or direct TLS.
    pub fn connect_options_with(&self, security: Security) -> ConnectOptions {
        let addr = if security == Security::DirectTls { self.direct_addr } else { self.starttls_addr };
        ConnectOptions::default().tls(self.tls_options()).endpoint(addr.ip().to_string(), addr.port(), security)
    }

    /// A client configuration for `user` (its password from the table).
    pub fn client_config(&self, user: &str) -> Result<ClientConfig, sxmpp::jid::JidError> {
        let password = self.password(user).unwrap_or_default();
        Ok(ClientConfig::new(Jid::new(&format!("{user}@{}", self.domain))?, Credentials::password(password)))
    }

    fn password(&self, user: &str) -> Option<String> {
        self.users.iter().find(|(name, _)| name == user).map(|(_, password)| password.clone())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
