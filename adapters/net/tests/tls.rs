//! The TLS set-up against itself, in memory: both ends must derive the
//! same channel-binding data from one session, and the certificate is
//! checked against the name asked for.

use rustls::{ClientConnection, ServerConnection};
use sha2::Digest;
use sxmpp::sasl::ChannelBindingType;
use sxmpp::tls::TlsErrorKind;
use sxmpp_net::pki::TestPki;
use sxmpp_net::tls::{self, ALPN_XMPP_CLIENT};

/// Runs a handshake between the two in memory; the first rustls error.
fn handshake(client: &mut ClientConnection, server: &mut ServerConnection) -> Result<(), rustls::Error> {
    for _ in 0..20 {
        let mut wire = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut wire).unwrap();
        }
        if !wire.is_empty() {
            server.read_tls(&mut wire.as_slice()).unwrap();
            server.process_new_packets()?;
        }
        let mut wire = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut wire).unwrap();
        }
        if !wire.is_empty() {
            client.read_tls(&mut wire.as_slice()).unwrap();
            client.process_new_packets()?;
        }
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(());
        }
    }
    panic!("the handshake did not finish");
}

#[test]
fn both_ends_derive_the_same_channel_binding() {
    let pki = TestPki::generate("example.com").unwrap();
    let config = pki.client_options().client_config(Some(ALPN_XMPP_CLIENT)).unwrap();
    let mut client = ClientConnection::new(config, tls::server_name("example.com").unwrap()).unwrap();
    let mut server = ServerConnection::new(pki.server.config.clone()).unwrap();
    handshake(&mut client, &mut server).unwrap();
    let client_info = tls::client_info(&client);
    let server_info = tls::server_info(&server, &pki.server);
    for kind in [ChannelBindingType::TlsExporter, ChannelBindingType::TlsServerEndPoint] {
        let ours = client_info.channel_binding.get(kind);
        assert!(ours.is_some(), "{kind:?} missing");
        assert_eq!(ours, server_info.channel_binding.get(kind), "{kind:?} differs");
    }
    assert_eq!(client_info.channel_binding.get(ChannelBindingType::TlsExporter).unwrap().len(), 32);
    // RFC 5929: the end-entity certificate hashed with its signature's
    // hash (ECDSA with SHA-256 here).
    let leaf = client.peer_certificates().unwrap()[0].clone();
    assert_eq!(
        client_info.channel_binding.get(ChannelBindingType::TlsServerEndPoint).unwrap(),
        sha2::Sha256::digest(leaf.as_ref()).as_slice()
    );
    assert_eq!(client_info.alpn.as_deref(), Some(ALPN_XMPP_CLIENT));
    assert_eq!(client_info.version.as_deref(), Some("TLSv1.3"));
    assert_eq!(server_info.server_name.as_deref(), Some("example.com"));
    // Two sessions never share exporter data.
    let config = pki.client_options().client_config(None).unwrap();
    let mut other = ClientConnection::new(config, tls::server_name("example.com").unwrap()).unwrap();
    let mut other_server = ServerConnection::new(pki.server.config.clone()).unwrap();
    handshake(&mut other, &mut other_server).unwrap();
    assert_ne!(
        tls::client_info(&other).channel_binding.get(ChannelBindingType::TlsExporter),
        client_info.channel_binding.get(ChannelBindingType::TlsExporter)
    );
}

#[test]
fn a_certificate_for_another_name_or_from_an_unknown_ca_is_refused() {
    let pki = TestPki::generate("example.com").unwrap();
    let config = pki.client_options().client_config(None).unwrap();
    // A SRV target or redirect would be another name: refused.
    let mut client = ClientConnection::new(config, tls::server_name("xmpp.example.net").unwrap()).unwrap();
    let mut server = ServerConnection::new(pki.server.config.clone()).unwrap();
    let error = tls::handshake(handshake(&mut client, &mut server).unwrap_err());
    assert_eq!(error.kind, TlsErrorKind::Certificate, "{error}");
    assert!(error.message.contains("NotValidForName"), "{error}");
    // The web-PKI roots do not know the test CA.
    let config = sxmpp_net::TlsOptions::default().client_config(None).unwrap();
    let mut client = ClientConnection::new(config, tls::server_name("example.com").unwrap()).unwrap();
    let mut server = ServerConnection::new(pki.server.config.clone()).unwrap();
    let error = tls::handshake(handshake(&mut client, &mut server).unwrap_err());
    assert_eq!(error.kind, TlsErrorKind::Certificate, "{error}");
    assert!(error.message.contains("UnknownIssuer"), "{error}");
}
