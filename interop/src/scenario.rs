//! The cases, written once for every adapter.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sxmpp::connection::{ClientConfig, Event, NegotiationError};
use sxmpp::jid::Jid;
use sxmpp::sasl::{Credentials, Mechanism};
use sxmpp::stanza::{Iq, Message, Stanza};
use sxmpp::tls::TlsErrorKind;
use sxmpp::xml::Element;
use sxmpp_net::{ConnectOptions, Console, Error, Security, TlsOptions};

use crate::adapters::{Adapter, Session};
use crate::peer::Peer;

const WAIT: Duration = Duration::from_secs(10);

/// Every case for adapter `A` against `peer`.
pub(crate) fn all<A: Adapter>(peer: &Peer, flood: usize) -> Vec<(bool, String)> {
    let mut lines = Report(Vec::new());
    for security in [Security::StartTls, Security::DirectTls] {
        let mode = if security == Security::StartTls { "starttls" } else { "direct-tls" };
        let started = Instant::now();
        let result = A::block_on(session::<A>(peer, security));
        let took = started.elapsed().as_secs_f64();
        lines.push(match result {
            Ok(report) => {
                (true, format!("{} × {} {} × {mode}: {report} ({took:.2}s)", A::NAME, peer.label, peer.version))
            }
            Err(e) => (false, format!("{} × {} × {mode}: {e}", A::NAME, peer.label)),
        });
    }
    let checks: [(&str, Check); 3] = [
        ("wrong password", wrong_password::<A>),
        ("unknown CA", unknown_ca::<A>),
        ("no STARTTLS offered", no_starttls::<A>),
    ];
    for (name, check) in checks {
        lines.push(match check(peer) {
            Ok(report) => (true, format!("{} × {} × {name}: {report}", A::NAME, peer.label)),
            Err(e) => (false, format!("{} × {} × {name}: {e}", A::NAME, peer.label)),
        });
    }
    if flood > 0 {
        lines.push(match A::block_on(flood_messages::<A>(peer, flood)) {
            Ok(report) => (true, format!("{} × {} × {flood} messages: {report}", A::NAME, peer.label)),
            Err(e) => (false, format!("{} × {} × {flood} messages: {e}", A::NAME, peer.label)),
        });
    }
    lines.0
}

/// A case that runs on its own.
type Check = fn(&Peer) -> Result<String, String>;

/// Lines printed as they come (a hang shows where it is).
struct Report(Vec<(bool, String)>);

impl Report {
    fn push(&mut self, (ok, line): (bool, String)) {
        println!("{} {line}", if ok { "PASS" } else { "FAIL" });
        self.0.push((ok, line));
    }
}

/// The SCRAM family the server is tested with: SHA-1 on Prosody, the
/// stored hash on ejabberd.
fn mechanisms(peer: &Peer) -> Vec<Mechanism> {
    if peer.label.contains("sha512") {
        vec![Mechanism::ScramSha512Plus, Mechanism::ScramSha512]
    } else if peer.label.contains("sha256") || peer.server == "ejabberd" {
        vec![Mechanism::ScramSha256Plus, Mechanism::ScramSha256]
    } else {
        vec![Mechanism::ScramSha1Plus, Mechanism::ScramSha1]
    }
}

fn options(peer: &Peer, security: Security) -> Result<ConnectOptions, String> {
    let mut tls = TlsOptions::only(Vec::new());
    tls.add_pem_file(&peer.ca_cert).map_err(|e| e.to_string())?;
    let port = if security == Security::StartTls { peer.starttls_port } else { peer.tls_port };
    Ok(ConnectOptions::default().tls(tls).endpoint(peer.host.clone(), port, security))
}

fn config(peer: &Peer, user: usize, resource: &str) -> Result<ClientConfig, String> {
    let (jid, password) = &peer.users[user];
    let jid = Jid::new(&format!("{jid}/{resource}")).map_err(|e| e.to_string())?;
    let mut config = ClientConfig::new(jid, Credentials::password(password.as_str()));
    config.mechanisms = mechanisms(peer);
    Ok(config)
}

/// What the server offered, scraped from the console's copy of its
/// features (SASL mechanisms, XEP-0440 channel-binding types).
#[derive(Default)]
struct Offer(Arc<Mutex<String>>);

impl Offer {
    fn console(&self) -> Console {
        let seen = self.0.clone();
        Console::new(move |direction, text| {
            let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
            if direction == sxmpp_net::console::Direction::In && seen.len() < 64 * 1024 {
                seen.push_str(text);
            }
        })
    }

    fn describe(&self) -> String {
        let seen = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mechanisms = between_all(&seen, "<mechanism>", "</mechanism>");
        let bindings: Vec<String> = seen
            .split("<channel-binding ")
            .skip(1)
            .filter_map(|rest| between_all(rest, "type='", "'").into_iter().next())
            .collect();
        format!("offered [{}] cb-types [{}]", mechanisms.join(" "), bindings.join(" "))
    }
}

fn between_all(text: &str, open: &str, close: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(close) else { break };
        let item = after[..end].to_string();
        if !out.contains(&item) {
            out.push(item);
        }
        rest = &after[end..];
    }
    out
}

async fn login<A: Adapter>(
    peer: &Peer,
    user: usize,
    security: Security,
    resource: &str,
) -> Result<(A::Conn, String), String> {
    let offer = Offer::default();
    let options = options(peer, security)?.console(offer.console());
    let mut conn = A::connect(config(peer, user, resource)?, options).await.map_err(|e| format!("login: {e}"))?;
    // Authenticated came before Online; both wait in the queue.
    let mut auth = None;
    while auth.is_none() {
        match conn.next_event_timeout(WAIT).await.map_err(|e| format!("after login: {e}"))? {
            Some(Event::Authenticated(a)) => auth = Some(format!("{:?} cb {:?}", a.mechanism, a.channel_binding)),
            Some(_) => {}
            None => return Err("closed after login".into()),
        }
    }
    Ok((conn, format!("{}; {}", auth.unwrap_or_default(), offer.describe())))
}

/// Waits on `conn` for a message with `body`.
async fn expect_message<S: Session>(conn: &mut S, body: &str) -> Result<(), String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("no message {body:?}"));
        }
        match conn.next_event_timeout(left).await.map_err(|e| format!("waiting for {body:?}: {e}"))? {
            Some(Event::Stanza(Stanza::Message(m))) if m.body().as_deref() == Some(body) => return Ok(()),
            Some(_) => {}
            None => return Err("closed".into()),
        }
    }
}

fn ping(to: Option<Jid>) -> Iq {
    Iq::get(to, Element::new("ping", "urn:xmpp:ping"))
}

/// Lets `conn` run for a moment (to answer what the core answers itself).
async fn idle<S: Session>(conn: &mut S, time: Duration) -> Result<(), String> {
    match conn.next_event_timeout(time).await {
        Ok(_) | Err(Error::Timeout(sxmpp_net::Timeout::Event)) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Login, bind, roster, a message each way, pings both ways and to the
/// server, clean close.
async fn session<A: Adapter>(peer: &Peer, security: Security) -> Result<String, String> {
    let (mut alice, auth) = login::<A>(peer, 0, security, "interop-a").await?;
    let (mut bob, _) = login::<A>(peer, 1, security, "interop-b").await?;
    let alice_jid = alice.jid().ok_or("alice not bound")?;
    let bob_jid = bob.jid().ok_or("bob not bound")?;
    let roster = alice
        .request(Iq::get(None, Element::new("query", "jabber:iq:roster")))
        .await
        .map_err(|e| format!("roster: {e}"))?;
    roster.result.map_err(|e| format!("roster refused: {e:?}"))?;
    let chat =
        |to: &Jid, body: &str| Message::chat(to.clone(), body).map(Into::<Stanza>::into).map_err(|e| e.to_string());
    alice.send(chat(&bob_jid, "hello bob")?).await.map_err(|e| e.to_string())?;
    expect_message(&mut bob, "hello bob").await?;
    bob.send(chat(&alice_jid, "hello alice")?).await.map_err(|e| e.to_string())?;
    expect_message(&mut alice, "hello alice").await?;
    let server = Jid::new(&peer.domain).map_err(|e| e.to_string())?;
    alice
        .request(ping(Some(server)))
        .await
        .map_err(|e| format!("ping server: {e}"))?
        .result
        .map_err(|e| format!("ping server: {e:?}"))?;
    ping_peer(&mut alice, &mut bob, &bob_jid).await?;
    ping_peer(&mut bob, &mut alice, &alice_jid).await?;
    alice.close().await.map_err(|e| format!("alice close: {e}"))?;
    bob.close().await.map_err(|e| format!("bob close: {e}"))?;
    Ok(format!("{auth}; bind, roster, message both ways, ping server and both ways, clean close"))
}

/// A XEP-0199 ping from one client to the other, which its core answers.
async fn ping_peer<S: Session>(from: &mut S, to: &mut S, to_jid: &Jid) -> Result<(), String> {
    let id = from.send_iq(ping(Some(to_jid.clone()))).map_err(|e| e.to_string())?;
    from.flush().await.map_err(|e| e.to_string())?;
    idle(to, Duration::from_millis(300)).await?;
    from.response(id)
        .await
        .map_err(|e| format!("ping {to_jid}: {e}"))?
        .result
        .map_err(|e| format!("ping {to_jid}: {e:?}"))?;
    Ok(())
}

fn wrong_password<A: Adapter>(peer: &Peer) -> Result<String, String> {
    let mut config = config(peer, 0, "wrong")?;
    config.credentials = Credentials::password("not-the-password");
    match A::block_on(A::connect(config, options(peer, Security::StartTls)?)) {
        Err(Error::Auth { condition, .. }) => Ok(format!("typed auth error: {condition}")),
        Err(other) => Err(format!("expected an auth error, got {other}")),
        Ok(_) => Err("logged in with a wrong password".into()),
    }
}

fn unknown_ca<A: Adapter>(peer: &Peer) -> Result<String, String> {
    // The web-PKI roots alone: the test CA is unknown.
    let options = ConnectOptions::default().endpoint(peer.host.clone(), peer.starttls_port, Security::StartTls);
    match A::block_on(A::connect(config(peer, 0, "ca")?, options)) {
        Err(Error::Tls(e)) if e.kind == TlsErrorKind::Certificate => Ok(format!("refused: {}", e.message)),
        Err(other) => Err(format!("expected a certificate error, got {other}")),
        Ok(_) => Err("accepted a certificate from an unknown CA".into()),
    }
}

/// A listener that offers SASL but no STARTTLS: the client (TLS
/// required) must stop before any credentials.
fn no_starttls<A: Adapter>(peer: &Peer) -> Result<String, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let domain = peer.domain.clone();
    let server = std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
        let (mut tcp, _) = listener.accept()?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut got = Vec::new();
        let mut buf = [0; 4096];
        while !String::from_utf8_lossy(&got).contains("<stream:stream") {
            let n = tcp.read(&mut buf)?;
            if n == 0 {
                return Ok(got);
            }
            got.extend_from_slice(&buf[..n]);
        }
        write!(
            tcp,
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' \
             id='s1' from='{domain}' version='1.0'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
             <mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>"
        )?;
        loop {
            match tcp.read(&mut buf) {
                Ok(0) | Err(_) => return Ok(got),
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    });
    let options = ConnectOptions::default().endpoint("127.0.0.1", port, Security::StartTls);
    let result = A::block_on(A::connect(config(peer, 0, "plain")?, options));
    let sent = server.join().map_err(|_| "listener panicked")?.map_err(|e| e.to_string())?;
    let sent = String::from_utf8_lossy(&sent);
    if sent.contains("<auth") {
        return Err(format!("credentials sent without TLS: {sent}"));
    }
    match result {
        Err(Error::Negotiation(e)) if matches!(*e, NegotiationError::TlsUnavailable) => {
            Ok("refused before credentials (TlsUnavailable)".into())
        }
        Err(other) => Err(format!("expected TlsUnavailable, got {other}")),
        Ok(_) => Err("went online without TLS".into()),
    }
}

/// `count` messages from alice to bob, all received in order.
async fn flood_messages<A: Adapter>(peer: &Peer, count: usize) -> Result<String, String> {
    let (mut alice, _) = login::<A>(peer, 0, Security::StartTls, "flood-a").await?;
    let (mut bob, _) = login::<A>(peer, 1, Security::StartTls, "flood-b").await?;
    let bob_jid = bob.jid().ok_or("bob not bound")?;
    let started = Instant::now();
    let mut next = 0;
    let mut sent = 0;
    // Sends in batches while receiving, so neither side's buffers grow
    // without bound.
    while next < count {
        while sent < count && sent - next < 500 {
            let m = Message::chat(bob_jid.clone(), &sent.to_string()).map_err(|e| e.to_string())?;
            alice.send(m.into()).await.map_err(|e| format!("send {sent}: {e}"))?;
            sent += 1;
        }
        match bob.next_event_timeout(WAIT).await.map_err(|e| format!("after {next} received: {e}"))? {
            Some(Event::Stanza(Stanza::Message(m))) => {
                let body = m.body().map(|b| b.into_owned()).unwrap_or_default();
                if body != next.to_string() {
                    return Err(format!("message {next} arrived as {body:?}"));
                }
                next += 1;
            }
            Some(_) => {}
            None => return Err("bob closed".into()),
        }
    }
    let took = started.elapsed().as_secs_f64();
    alice.close().await.map_err(|e| e.to_string())?;
    bob.close().await.map_err(|e| e.to_string())?;
    Ok(format!("all in order in {took:.2}s ({:.0} msg/s)", count as f64 / took))
}
