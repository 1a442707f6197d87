//! The one async loop on every runtime, with the core at both ends: a
//! client logs in to a server role over STARTTLS and direct TLS (SCRAM
//! bound to the channel with tls-exporter), exchanges a message and a
//! ping, and closes; a component connects to a component server; a
//! refused connection is a typed error.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;

use sxmpp::connection::{
    AuthAnswer, BindDecision, ClientConfig, ComponentConfig, ComponentRole, ComponentServerConfig, ComponentServerRole,
    Event, ServerConfig, ServerRole, ServerTls,
};
use sxmpp::jid::{BareJid, Jid};
use sxmpp::sasl::{BindingOutcome, ChannelBindingType, Credentials, ServerSecret};
use sxmpp::stanza::{Iq, Message, Stanza};
use sxmpp::xml::Element;
use sxmpp_futures_io::{Connection, Options, Runtime, TlsSetup};
use sxmpp_net::pki::TestPki;
use sxmpp_net::{ConnectOptions, Error, Security, SystemRandom};

/// Both futures to completion, polled together.
async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    (ra.unwrap(), rb.unwrap())
}

async fn accept<Rt: Runtime>(listener: std::net::TcpListener) -> std::net::TcpStream {
    Rt::unblock(Box::new(move || listener.accept().unwrap().0)).await
}

/// A server for juliet@localhost (password "secret") that echoes chat
/// messages.
async fn serve<Rt: Runtime>(
    listener: std::net::TcpListener,
    tls: ServerTls,
    pki: sxmpp_net::ServerTls,
) -> Result<(), Error> {
    let tcp = accept::<Rt>(listener).await;
    let mut config = ServerConfig::new("localhost", ServerSecret::new([3; 32]));
    config.tls = tls;
    let core = sxmpp::connection::Server::new(config, Box::new(SystemRandom), sxmpp_net::now())?;
    let setup = TlsSetup { client: None, server: Some(pki) };
    let mut conn = Connection::<ServerRole, Rt>::from_std(core, tcp, setup, Options::new())?;
    while let Some(event) = conn.next_event().await? {
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
                conn.send(Message::chat(from, &body).unwrap()).await?;
            }
            _ => {}
        }
    }
    Ok(())
}

async fn client_and_server<Rt: Runtime>(security: Security) {
    let pki = TestPki::generate("localhost").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mode = if security == Security::DirectTls { ServerTls::Direct } else { ServerTls::Required };
    let server = serve::<Rt>(listener, mode, pki.server.clone());
    let client = async {
        let config = ClientConfig::new(Jid::new("juliet@localhost/loop").unwrap(), Credentials::password("secret"));
        let options = ConnectOptions::default().tls(pki.client_options()).endpoint("127.0.0.1", port, security);
        let mut client = sxmpp_futures_io::connect_with::<Rt>(config, options).await?;
        let mut binding = None;
        while binding.is_none() {
            if let Some(Event::Authenticated(auth)) = client.next_event().await? {
                binding = Some(auth.channel_binding);
            }
        }
        let localhost = Jid::new("localhost").unwrap();
        client.send(Message::chat(localhost.clone(), "echo me").unwrap()).await?;
        loop {
            match client.next_event_timeout(std::time::Duration::from_secs(10)).await? {
                Some(Event::Stanza(Stanza::Message(m))) if m.body().as_deref() == Some("echo me") => break,
                Some(_) => {}
                None => panic!("closed before the echo"),
            }
        }
        let pong = client.request(Iq::get(Some(localhost), Element::new("ping", "urn:xmpp:ping"))).await?;
        assert!(pong.result.is_ok(), "{pong:?}");
        client.close().await?;
        Ok::<_, Error>(binding)
    };
    let (served, logged_in) = join(server, client).await;
    served.unwrap();
    assert_eq!(logged_in.unwrap(), Some(BindingOutcome::Bound(ChannelBindingType::TlsExporter)));
}

async fn component<Rt: Runtime>() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = async {
        let tcp = accept::<Rt>(listener).await;
        let config = ComponentServerConfig::new("bot.localhost", "s3cret");
        let core = sxmpp::connection::ComponentServer::new(config, Box::new(SystemRandom), sxmpp_net::now())?;
        let mut conn = Connection::<ComponentServerRole, Rt>::from_std(core, tcp, TlsSetup::default(), Options::new())?;
        let mut got = None;
        while let Some(event) = conn.next_event().await? {
            if let Event::Stanza(Stanza::Message(m)) = event {
                got = m.body().map(|b| b.into_owned());
            }
        }
        Ok::<_, Error>(got)
    };
    let component = async {
        let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let config = ComponentConfig::new(BareJid::new("bot.localhost").unwrap(), "s3cret");
        let core = sxmpp::connection::Component::new(config, Box::new(SystemRandom), sxmpp_net::now());
        let mut conn = Connection::<ComponentRole, Rt>::from_std(core, tcp, TlsSetup::default(), Options::new())?;
        while !matches!(conn.next_event().await?, Some(Event::Online(_))) {}
        let mut hello = Message::chat(Jid::new("juliet@localhost").unwrap(), "from the bot").unwrap();
        hello.set_from(Some(Jid::new("bot.localhost").unwrap()));
        conn.send(hello).await?;
        conn.close().await
    };
    let (served, connected) = join(server, component).await;
    connected.unwrap();
    assert_eq!(served.unwrap().as_deref(), Some("from the bot"));
}

async fn refused<Rt: Runtime>() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = ClientConfig::new(Jid::new("juliet@localhost").unwrap(), Credentials::password("secret"));
    let options = ConnectOptions::default().endpoint("127.0.0.1", port, Security::StartTls);
    match sxmpp_futures_io::connect_with::<Rt>(config, options).await {
        Err(Error::Connect { attempts, .. }) => {
            assert_eq!(attempts.len(), 1);
            assert_eq!(attempts[0].1.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
}

async fn all<Rt: Runtime>() {
    client_and_server::<Rt>(Security::StartTls).await;
    client_and_server::<Rt>(Security::DirectTls).await;
    component::<Rt>().await;
    refused::<Rt>().await;
}

#[test]
fn tokio() {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(all::<sxmpp_tokio::Tokio>());
}

#[test]
fn smol() {
    smol::block_on(all::<sxmpp_smol::Smol>());
}

#[test]
fn async_std() {
    async_std::task::block_on(all::<sxmpp_async_std::AsyncStd>());
}
