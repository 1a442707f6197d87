//! The TLS hand-off between the core and the driver that runs TLS: what
//! the core asks for ([`TlsRequest`]) and what the driver reports back
//! ([`TlsInfo`] after a handshake, [`TlsError`] when it fails). The core
//! never sees a certificate or a key; it needs the channel-binding data
//! (RFC 5929, RFC 9266) and, for SASL EXTERNAL, the identities the peer's
//! certificate proves.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::sasl::ChannelBinding;

/// Which end of the TLS handshake this side plays, and for a client what
/// the server's certificate must prove.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsSide {
    /// Connect as a TLS client and verify that the server's certificate is
    /// valid for `server_name` (RFC 6125). For a client this is always the
    /// account's domain, whatever host the socket reached (a SRV target, a
    /// `see-other-host` redirect: HARDENING 12).
    Client {
        /// The name the certificate must be valid for, also sent as SNI.
        server_name: String,
    },
    /// Accept as a TLS server.
    Server,
}

/// What the core asks the driver to set up (see
/// [`Output::StartTls`](crate::connection::Output::StartTls)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsRequest {
    /// The side to play.
    pub side: TlsSide,
}

/// What the driver reports once TLS is up: everything the core may use
/// about the channel. Build it with [`TlsInfo::new`] and the `with_`
/// methods.
///
/// Channel-binding data, by type (a driver fills in what its TLS stack can
/// produce; rustls has no `tls-unique`):
/// - `tls-exporter` (RFC 9266): 32 bytes of keying material exported with
///   the label `EXPORTER-Channel-Binding` and an empty context (in rustls,
///   `export_keying_material(&mut [0; 32], b"EXPORTER-Channel-Binding",
///   None)`); the binding for TLS 1.3.
/// - `tls-server-end-point` (RFC 5929 §4.1): the hash of the server's
///   end-entity certificate (the DER bytes), with the certificate's
///   signature hash, SHA-256 when that is MD5 or SHA-1. Both ends compute
///   it from the same certificate.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The channel-binding data the TLS stack produced.
    pub channel_binding: ChannelBinding,
    /// Identities the peer's certificate proves, already verified by the
    /// TLS stack (XmppAddr or DNS-ID names): what SASL EXTERNAL can use.
    pub peer_identities: Vec<String>,
    /// The server name the client sent (SNI), if any.
    pub server_name: Option<String>,
    /// The application protocol agreed (ALPN), if any (`xmpp-client`
    /// for XEP-0368).
    pub alpn: Option<Vec<u8>>,
    /// The protocol version negotiated (`TLSv1.3`), for display.
    pub version: Option<String>,
}

impl TlsInfo {
    /// A channel with nothing known about it.
    pub fn new() -> TlsInfo {
        TlsInfo::default()
    }

    /// With this channel-binding data.
    pub fn with_channel_binding(mut self, channel_binding: ChannelBinding) -> TlsInfo {
        self.channel_binding = channel_binding;
        self
    }

    /// With the identities the peer's certificate proves.
    pub fn with_peer_identities(mut self, identities: Vec<String>) -> TlsInfo {
        self.peer_identities = identities;
        self
    }

    /// With the SNI name.
    pub fn with_server_name(mut self, name: impl Into<String>) -> TlsInfo {
        self.server_name = Some(name.into());
        self
    }

    /// With the protocol version's name.
    pub fn with_version(mut self, version: impl Into<String>) -> TlsInfo {
        self.version = Some(version.into());
        self
    }

    /// With the ALPN protocol.
    pub fn with_alpn(mut self, alpn: impl Into<Vec<u8>>) -> TlsInfo {
        self.alpn = Some(alpn.into());
        self
    }
}

impl fmt::Debug for TlsInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsInfo")
            .field("channel_binding", &self.channel_binding)
            .field("peer_identities", &self.peer_identities)
            .field("server_name", &self.server_name)
            .field("alpn", &self.alpn.as_deref().map(String::from_utf8_lossy))
            .field("version", &self.version)
            .finish()
    }
}

/// What kind of TLS failure the driver saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsErrorKind {
    /// The peer's certificate was refused (expired, unknown issuer, wrong
    /// name, …).
    Certificate,
    /// The handshake failed otherwise (no common version or cipher, a
    /// protocol error, an alert).
    Handshake,
    /// The transport failed during the handshake.
    Transport,
}

/// The TLS handshake failed; the connection ends with
/// [`CloseReason::Tls`](crate::connection::CloseReason::Tls), so the cause
/// is not lost.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("TLS failed ({kind:?}): {message}")]
#[non_exhaustive]
pub struct TlsError {
    /// What kind of failure.
    pub kind: TlsErrorKind,
    /// The TLS stack's own description (for a certificate: why it was
    /// refused).
    pub message: String,
}

impl TlsError {
    /// A failure of this kind, described.
    pub fn new(kind: TlsErrorKind, message: impl Into<String>) -> TlsError {
        TlsError { kind, message: message.into() }
    }
}
