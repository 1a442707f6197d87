//! A throwaway PKI for test servers, demos and tests: a CA and a
//! certificate for one domain, made in memory (rcgen, ECDSA P-256). Never
//! for production: the keys live as long as the process.

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sxmpp::tls::TlsError;

use crate::tls::{ServerTls, TlsOptions};

/// A CA and a server certificate it signed.
#[derive(Debug)]
pub struct TestPki {
    /// The CA certificate, DER: what clients trust.
    pub ca: CertificateDer<'static>,
    /// The CA certificate, PEM (to hand to other programs).
    pub ca_pem: String,
    /// The server's certificate and key, ready for rustls.
    pub server: ServerTls,
}

impl TestPki {
    /// A CA and a certificate for `domain` (also valid for `*.domain`).
    pub fn generate(domain: &str) -> Result<TestPki, TlsError> {
        let fail = |e: rcgen::Error| TlsError::new(sxmpp::tls::TlsErrorKind::Certificate, e.to_string());
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "sxmpp test CA");
        let ca_key = rcgen::KeyPair::generate().map_err(fail)?;
        let ca = ca_params.self_signed(&ca_key).map_err(fail)?;
        let params = rcgen::CertificateParams::new(vec![domain.to_owned(), format!("*.{domain}")]).map_err(fail)?;
        let key = rcgen::KeyPair::generate().map_err(fail)?;
        let leaf = params.signed_by(&key, &ca, &ca_key).map_err(fail)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let server = ServerTls::new(vec![leaf.der().clone(), ca.der().clone()], key)?;
        Ok(TestPki { ca: ca.der().clone(), ca_pem: ca.pem(), server })
    }

    /// Client TLS options trusting this CA only.
    pub fn client_options(&self) -> TlsOptions {
        TlsOptions::only(vec![self.ca.clone()])
    }
}
