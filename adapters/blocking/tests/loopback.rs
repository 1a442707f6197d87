//! The blocking loop with the core at both ends (the server on a
//! thread): login over STARTTLS and direct TLS with SCRAM bound to the
//! channel, an echo, a ping, a clean close; a component; a refused
//! connection; a thousand echoes in order.

use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use sxmpp::connection::{
    AuthAnswer, BindDecision, ClientConfig, ComponentConfig, ComponentServerConfig, Event, ServerConfig, ServerTls,
};
use sxmpp::jid::{BareJid, Jid};
use sxmpp::sasl::{BindingOutcome, ChannelBindingType, Credentials, ServerSecret};
use sxmpp::stanza::{Iq, Message, Stanza};
use sxmpp::xml::Element;
use sxmpp_blocking::{Connection, TlsSetup};
use sxmpp_net::pki::TestPki;
use sxmpp_net::{ConnectOptions, Error, Security, SystemRandom};

/// A server thread for juliet@localhost ("secret") that echoes chat
/// messages; returns how many it echoed.
fn serve(listener: TcpListener, tls: ServerTls, pki: sxmpp_net::ServerTls) -> thread::JoinHandle<Result<usize, Error>> {
    thread::spawn(move || {
        let (tcp, _) = listener.accept()?;
        let mut config = ServerConfig::new("localhost", ServerSecret::new([3; 32]));
        config.tls = tls;
        let core = sxmpp::connection::Server::new(config, Box::new(SystemRandom), sxmpp_net::now())?;
        let mut conn = Connection::new(core, tcp, TlsSetup { client: None, server: Some(pki) })?;
        let mut echoed = 0;
        while let Some(event) = conn.next_event()? {
            let now = sxmpp_net::now();
            match event {
                Event::AuthRequested(request) => {
                    let juliet = request.account.as_ref().is_some_and(|a| a.as_str() == "juliet@localhost");
                    let answer = if juliet { AuthAnswer::Password("secret".into()) } else { AuthAnswer::UnknownUser };
                    conn.core().authenticate(now, answer)?;
                }
                Event::BindRequested(_) => conn.core().bind(now, BindDecision::Accept)?,
                Event::Stanza(Stanza::Message(m)) => {
                    let (Some(from), Some(body)) = (m.from().cloned(), m.body()) else { continue };
                    conn.send(Message::chat(from, &body).unwrap())?;
                    echoed += 1;
                }
                _ => {}
            }
        }
        Ok(echoed)
    })
}

fn login(security: Security, messages: usize) {
    let pki = TestPki::generate("localhost").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mode = if security == Security::DirectTls { ServerTls::Direct } else { ServerTls::Required };
    let server = serve(listener, mode, pki.server.clone());
    let config = ClientConfig::new(Jid::new("juliet@localhost/loop").unwrap(), Credentials::password("secret"));
    let options = ConnectOptions::default().tls(pki.client_options()).endpoint("127.0.0.1", port, security);
    let mut client = sxmpp_blocking::connect_with(config, options).unwrap();
    let mut binding = None;
    while binding.is_none() {
        if let Some(Event::Authenticated(auth)) = client.next_event().unwrap() {
            binding = Some(auth.channel_binding);
        }
    }
    assert_eq!(binding, Some(BindingOutcome::Bound(ChannelBindingType::TlsExporter)));
    let localhost = Jid::new("localhost").unwrap();
    for i in 0..messages {
        client.send(Message::chat(localhost.clone(), &i.to_string()).unwrap()).unwrap();
    }
    let mut next = 0;
    while next < messages {
        match client.next_event_timeout(Duration::from_secs(10)).unwrap() {
            Some(Event::Stanza(Stanza::Message(m))) => {
                assert_eq!(m.body().as_deref(), Some(next.to_string().as_str()));
                next += 1;
            }
            Some(_) => {}
            None => panic!("closed after {next} echoes"),
        }
    }
    let pong = client.request(Iq::get(Some(localhost), Element::new("ping", "urn:xmpp:ping"))).unwrap();
    assert!(pong.result.is_ok(), "{pong:?}");
    client.close().unwrap();
    assert_eq!(server.join().unwrap().unwrap(), messages);
}

#[test]
fn client_and_server_over_starttls_and_direct_tls() {
    login(Security::StartTls, 3);
    login(Security::DirectTls, 3);
}

/// Many sends before any read: everything is written before the loop
/// blocks, and every echo comes back in order. (How fast: the interop
/// flood measures messages per second against real servers.)
#[test]
fn a_thousand_echoes_arrive_in_order() {
    login(Security::StartTls, 1000);
}

#[test]
fn a_component_connects() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || -> Result<Option<String>, Error> {
        let (tcp, _) = listener.accept()?;
        let config = ComponentServerConfig::new("bot.localhost", "s3cret");
        let core = sxmpp::connection::ComponentServer::new(config, Box::new(SystemRandom), sxmpp_net::now())?;
        let mut conn = Connection::new(core, tcp, TlsSetup::default())?;
        let mut got = None;
        while let Some(event) = conn.next_event()? {
            if let Event::Stanza(Stanza::Message(m)) = event {
                got = m.body().map(|b| b.into_owned());
            }
        }
        Ok(got)
    });
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let config = ComponentConfig::new(BareJid::new("bot.localhost").unwrap(), "s3cret");
    let core = sxmpp::connection::Component::new(config, Box::new(SystemRandom), sxmpp_net::now());
    let mut conn = Connection::new(core, tcp, TlsSetup::default()).unwrap();
    while !matches!(conn.next_event().unwrap(), Some(Event::Online(_))) {}
    let mut hello = Message::chat(Jid::new("juliet@localhost").unwrap(), "from the bot").unwrap();
    hello.set_from(Some(Jid::new("bot.localhost").unwrap()));
    conn.send(hello).unwrap();
    conn.close().unwrap();
    assert_eq!(server.join().unwrap().unwrap().as_deref(), Some("from the bot"));
}

#[test]
fn a_refused_connection_is_a_typed_error() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = ClientConfig::new(Jid::new("juliet@localhost").unwrap(), Credentials::password("secret"));
    let options = ConnectOptions::default().endpoint("127.0.0.1", port, Security::StartTls);
    match sxmpp_blocking::connect_with(config, options) {
        Err(Error::Connect { attempts, .. }) => assert_eq!(attempts[0].1.kind(), std::io::ErrorKind::ConnectionRefused),
        other => panic!("expected a connect error, got {other:?}"),
    }
}
