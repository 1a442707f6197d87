//! rustls, set up once for every adapter: the ring provider, web-PKI
//! roots plus the CAs a deployment adds, the server name always the
//! JID's domain (never a SRV target or a redirect: HARDENING 12), and the
//! channel-binding data the core needs, taken from the session.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ProtocolVersion, RootCertStore, ServerConfig};
use sha2::Digest;
use sxmpp::entropy::Entropy;
use sxmpp::sasl::{ChannelBinding, ChannelBindingType};
use sxmpp::tls::{TlsError, TlsErrorKind, TlsInfo};

/// The ALPN protocol of direct TLS for clients (XEP-0368).
pub const ALPN_XMPP_CLIENT: &[u8] = b"xmpp-client";

/// The RFC 9266 exporter label.
const EXPORTER_LABEL: &[u8] = b"EXPORTER-Channel-Binding";

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Which certificate authorities a client trusts.
#[derive(Clone, Debug)]
pub struct TlsOptions {
    /// Trust the Mozilla root program's CAs (the `webpki-roots` set).
    pub web_pki_roots: bool,
    /// CAs trusted besides (a private deployment's, a test CA).
    pub extra_roots: Vec<CertificateDer<'static>>,
}

impl Default for TlsOptions {
    fn default() -> TlsOptions {
        TlsOptions { web_pki_roots: true, extra_roots: Vec::new() }
    }
}

impl TlsOptions {
    /// Trust only these CAs (no web-PKI roots): for a private server.
    pub fn only(roots: Vec<CertificateDer<'static>>) -> TlsOptions {
        TlsOptions { web_pki_roots: false, extra_roots: roots }
    }

    /// Adds the CA certificates of a PEM file.
    pub fn add_pem_file(&mut self, path: impl AsRef<Path>) -> io::Result<&mut TlsOptions> {
        let certs = read_certs(path.as_ref())?;
        self.extra_roots.extend(certs);
        Ok(self)
    }

    /// The rustls configuration for a client; `alpn` for direct TLS.
    pub fn client_config(&self, alpn: Option<&[u8]>) -> Result<Arc<ClientConfig>, TlsError> {
        let mut roots = RootCertStore::empty();
        if self.web_pki_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for cert in &self.extra_roots {
            roots.add(cert.clone()).map_err(|e| TlsError::new(TlsErrorKind::Certificate, format!("bad CA: {e}")))?;
        }
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(handshake)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.map(|p| vec![p.to_vec()]).unwrap_or_default();
        Ok(Arc::new(config))
    }
}

/// The name a client's TLS verifies: the account's domain, as the core
/// gives it in `TlsSide::Client`.
pub fn server_name(domain: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(domain.to_owned())
        .map_err(|e| TlsError::new(TlsErrorKind::Certificate, format!("{domain:?} is not a valid TLS name: {e}")))
}

/// A server's certificate and key, set up for rustls, with the
/// `tls-server-end-point` binding computed once.
#[derive(Clone, Debug)]
pub struct ServerTls {
    /// The rustls configuration.
    pub config: Arc<ServerConfig>,
    /// RFC 5929 `tls-server-end-point` for this certificate.
    pub end_point: Option<Vec<u8>>,
}

impl ServerTls {
    /// From a certificate chain (end entity first) and its key.
    pub fn new(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Result<ServerTls, TlsError> {
        let end_point = chain.first().and_then(|cert| end_point_hash(cert));
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(handshake)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(handshake)?;
        config.alpn_protocols = vec![ALPN_XMPP_CLIENT.to_vec()];
        Ok(ServerTls { config: Arc::new(config), end_point })
    }

    /// From PEM files: the chain, and the key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(chain: impl AsRef<Path>, key: impl AsRef<Path>) -> io::Result<ServerTls> {
        let certs = read_certs(chain.as_ref())?;
        let key =
            PrivateKeyDer::from_pem_file(key.as_ref()).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        ServerTls::new(certs, key).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

fn read_certs(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{}: no certificate", path.display())));
    }
    Ok(certs)
}

/// What the core needs to know of a client session: channel binding
/// (tls-exporter on TLS 1.3 only, RFC 9266 §3; tls-server-end-point from
/// the server's certificate), the ALPN protocol.
pub fn client_info(conn: &rustls::ClientConnection) -> TlsInfo {
    let end_point = conn.peer_certificates().and_then(|chain| chain.first()).and_then(end_point_hash);
    info(conn, end_point, None)
}

/// The same for a server session; `tls` is its [`ServerTls`].
pub fn server_info(conn: &rustls::ServerConnection, tls: &ServerTls) -> TlsInfo {
    let sni = conn.server_name().map(str::to_owned);
    info(conn, tls.end_point.clone(), sni)
}

fn info<D>(conn: &rustls::ConnectionCommon<D>, end_point: Option<Vec<u8>>, sni: Option<String>) -> TlsInfo {
    let mut binding = ChannelBinding::none();
    // Without TLS 1.3 the exporter is only safe with the extended master
    // secret, which rustls does not report: left out.
    if conn.protocol_version() == Some(ProtocolVersion::TLSv1_3)
        && let Ok(exported) = conn.export_keying_material([0u8; 32], EXPORTER_LABEL, None)
    {
        binding = binding.with(ChannelBindingType::TlsExporter, exported.to_vec());
    }
    if let Some(hash) = end_point {
        binding = binding.with(ChannelBindingType::TlsServerEndPoint, hash);
    }
    let mut info = TlsInfo::new().with_channel_binding(binding);
    if let Some(version) = conn.protocol_version() {
        let name = match version {
            ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
            ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
            other => format!("{other:?}"),
        };
        info = info.with_version(name);
    }
    if let Some(alpn) = conn.alpn_protocol() {
        info = info.with_alpn(alpn.to_vec());
    }
    if let Some(sni) = sni {
        info = info.with_server_name(sni);
    }
    info
}

/// A failed handshake as the core reports it: a refused certificate
/// named as such, with rustls's reason.
pub fn handshake_error(error: &io::Error) -> TlsError {
    match error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(tls) => handshake(tls.clone()),
        None => TlsError::new(TlsErrorKind::Transport, error.to_string()),
    }
}

/// A rustls error outside the certificate check.
pub fn handshake(error: rustls::Error) -> TlsError {
    match error {
        rustls::Error::InvalidCertificate(problem) => {
            TlsError::new(TlsErrorKind::Certificate, format!("certificate refused: {problem:?}"))
        }
        other => TlsError::new(TlsErrorKind::Handshake, other.to_string()),
    }
}

/// RFC 5929 §4.1: the certificate hashed with its signature's hash,
/// SHA-256 in place of MD5 and SHA-1. `None` for signatures whose hash
/// the algorithm does not name (Ed25519, RSASSA-PSS).
pub fn end_point_hash(cert: &CertificateDer<'_>) -> Option<Vec<u8>> {
    let der = cert.as_ref();
    let (_, certificate, _) = tlv(der)?;
    let (_, _tbs, rest) = tlv(certificate)?;
    let (_, algorithm, _) = tlv(rest)?;
    let (tag, oid, _) = tlv(algorithm)?;
    if tag != 0x06 {
        return None;
    }
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
    const ECDSA_SHA2: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03];
    let bits = match oid {
        [prefix @ .., last] if prefix == RSA => match last {
            0x04 | 0x05 | 0x0b => 256,
            0x0c => 384,
            0x0d => 512,
            _ => return None,
        },
        _ if oid == ECDSA_SHA1 => 256,
        [prefix @ .., last] if prefix == ECDSA_SHA2 => match last {
            0x02 => 256,
            0x03 => 384,
            0x04 => 512,
            _ => return None,
        },
        _ => return None,
    };
    Some(match bits {
        256 => sha2::Sha256::digest(der).to_vec(),
        384 => sha2::Sha384::digest(der).to_vec(),
        _ => sha2::Sha512::digest(der).to_vec(),
    })
}

/// One DER tag-length-value: (tag, content, what follows).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count].iter().fold(0usize, |acc, &b| acc << 8 | usize::from(b));
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// Randomness from the operating system, through the TLS provider (no
/// extra dependency): the core's [`Entropy`] and the adapters' own needs
/// (DNS query ids, SRV weights).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemRandom;

impl Entropy for SystemRandom {
    fn fill(&mut self, dest: &mut [u8]) {
        // The provider reads the OS generator; if that fails, nothing
        // secure can go on.
        #[allow(clippy::expect_used)]
        rustls::crypto::ring::default_provider().secure_random.fill(dest).expect("the OS random generator failed");
    }
}

impl SystemRandom {
    /// A random `u32`.
    pub fn next_u32(&mut self) -> u32 {
        let mut bytes = [0; 4];
        self.fill(&mut bytes);
        u32::from_le_bytes(bytes)
    }
}
