//! # sxmpp-net: what every sxmpp adapter shares
//!
//! The adapters (`sxmpp-tokio`, `sxmpp-async-std`, `sxmpp-smol`,
//! `sxmpp-blocking`) move bytes between a socket and the sans-IO core and
//! nothing more. Everything they would otherwise each repeat lives here,
//! written once and free of any runtime:
//!
//! - [`Pump`]: the bookkeeping of the drive loop (the clock, input the
//!   core has not taken yet, the events and responses waiting for the
//!   application, the console tee), the same for every role;
//! - [`tls`]: rustls with the ring provider, web-PKI roots plus custom
//!   CAs, and the channel-binding data (`tls-exporter`,
//!   `tls-server-end-point`) the core needs;
//! - [`dns`] and [`endpoints`]: SRV lookups for `_xmpps-client` and
//!   `_xmpp-client` merged by priority and weight, the 5222 fallback, a
//!   host override, the Happy Eyeballs order, blocking so adapters run
//!   them off their loop;
//! - [`console`]: the opt-in XML console with credentials redacted;
//! - [`Error`]: one typed error for every adapter.
//!
//! Applications normally use an adapter crate, which re-exports what
//! they need from here.

pub mod console;
pub mod dns;
pub mod endpoints;
mod error;
#[cfg(feature = "pki")]
pub mod pki;
mod pump;
pub mod tls;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sxmpp::connection::{Client, ClientConfig, ConfigError, TlsMode};
use sxmpp::time::{Origin, Timestamp};

pub use crate::console::Console;
pub use crate::endpoints::{Endpoint, Security};
pub use crate::error::{Error, Timeout};
pub use crate::pump::{Pump, Step};
pub use crate::tls::{ServerTls, SystemRandom, TlsOptions};

/// The process's clock for the core: every adapter's timestamps count
/// from this one origin, so connections made by an application (a
/// server's, say) and by an adapter agree.
pub fn clock() -> Origin {
    static ORIGIN: OnceLock<Origin> = OnceLock::new();
    *ORIGIN.get_or_init(|| Origin::new(Instant::now()))
}

/// The core's time now, on [`clock`].
pub fn now() -> Timestamp {
    clock().timestamp(Instant::now())
}

/// How many events wait for the application before input stops being
/// read (by default).
pub const DEFAULT_MAX_EVENTS: usize = 1024;

/// How a client reaches its server, besides the account itself
/// ([`ClientConfig`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// Connect here instead of looking the domain up (`host:port` and how
    /// TLS starts). TLS still verifies the JID's domain.
    pub endpoint: Option<Endpoint>,
    /// Which CAs to trust.
    pub tls: TlsOptions,
    /// The name servers for SRV (default: the system's).
    pub resolver: Option<dns::Resolver>,
    /// The deadline for each TCP connection attempt.
    pub tcp_timeout: Duration,
    /// The deadline for getting online: DNS, TCP, TLS and negotiation
    /// together.
    pub connect_timeout: Duration,
    /// Events kept for the application before reading pauses.
    pub max_events: usize,
    /// Tee the plaintext both ways here (credentials redacted).
    pub console: Option<Console>,
}

impl Default for ConnectOptions {
    fn default() -> ConnectOptions {
        ConnectOptions {
            endpoint: None,
            tls: TlsOptions::default(),
            resolver: None,
            tcp_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(60),
            max_events: DEFAULT_MAX_EVENTS,
            console: None,
        }
    }
}

impl ConnectOptions {
    /// Connect to `host:port` directly, STARTTLS or direct TLS.
    pub fn endpoint(mut self, host: impl Into<String>, port: u16, security: Security) -> ConnectOptions {
        self.endpoint = Some(Endpoint { host: host.into(), port, security });
        self
    }

    /// Trust these CAs besides the web-PKI roots.
    pub fn tls(mut self, tls: TlsOptions) -> ConnectOptions {
        self.tls = tls;
        self
    }

    /// Tee the stream to this console.
    pub fn console(mut self, console: Console) -> ConnectOptions {
        self.console = Some(console);
        self
    }

    /// The endpoints to try for `config`'s domain, in order (blocking:
    /// DNS).
    pub fn plan(&self, config: &ClientConfig) -> Result<Vec<Endpoint>, Error> {
        plan(config.jid.domain(), self.endpoint.as_ref(), self.resolver.as_ref())
    }
}

/// The endpoints to try for `domain`: the override alone, or SRV (on the
/// system's name servers unless `resolver` is given), or the domain on
/// 5222. Blocking: run it off the event loop.
pub fn plan(
    domain: &str,
    endpoint: Option<&Endpoint>,
    resolver: Option<&dns::Resolver>,
) -> Result<Vec<Endpoint>, Error> {
    let system;
    let resolver = match resolver {
        Some(resolver) => resolver,
        None => {
            system = dns::Resolver::system();
            &system
        }
    };
    endpoints::plan(domain, endpoint, resolver).map_err(|source| Error::Resolve { domain: domain.to_owned(), source })
}

/// An account and how to reach it from the environment, for examples
/// and tools: `XMPP_JID` and `XMPP_PASSWORD`; optionally `XMPP_HOST` with
/// `XMPP_C2S_PORT` (STARTTLS) or `XMPP_C2S_TLS_PORT` (direct TLS) instead
/// of DNS, and `XMPP_CA_CERT`, a PEM file of CAs trusted besides the
/// web-PKI roots (the names `interop/peer.sh` writes to its `peer.env`).
pub fn from_env() -> Result<(ClientConfig, ConnectOptions), Error> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let missing = |name: &str| Error::Io(std::io::Error::other(format!("set {name}")));
    let jid = var("XMPP_JID").ok_or_else(|| missing("XMPP_JID"))?;
    let password = var("XMPP_PASSWORD").ok_or_else(|| missing("XMPP_PASSWORD"))?;
    let jid = sxmpp::jid::Jid::new(&jid).map_err(ConfigError::Resource)?;
    let config = ClientConfig::new(jid, sxmpp::sasl::Credentials::password(password));
    let mut options = ConnectOptions::default();
    if let Some(path) = var("XMPP_CA_CERT") {
        options.tls.add_pem_file(path)?;
    }
    if let Some(host) = var("XMPP_HOST") {
        let port = |name: &str| var(name).and_then(|p| p.parse::<u16>().ok());
        options.endpoint = match (port("XMPP_C2S_TLS_PORT"), port("XMPP_C2S_PORT")) {
            (_, Some(port)) => Some(Endpoint { host, port, security: Security::StartTls }),
            (Some(port), None) => Some(Endpoint { host, port, security: Security::DirectTls }),
            (None, None) => Some(Endpoint { host, port: endpoints::DEFAULT_PORT, security: Security::StartTls }),
        };
    }
    Ok((config, options))
}

/// The core's client for one endpoint: direct TLS where the endpoint
/// says so, the configuration's own TLS mode otherwise.
pub fn client_for(config: &ClientConfig, endpoint: &Endpoint, now: Timestamp) -> Result<Client, Error> {
    let mut config = config.clone();
    config.tls = match (endpoint.security, config.tls) {
        (Security::DirectTls, _) => TlsMode::Direct,
        (Security::StartTls, TlsMode::Direct) => TlsMode::Required,
        (Security::StartTls, mode) => mode,
    };
    Ok(Client::new(config, Box::new(SystemRandom), now)?)
}
