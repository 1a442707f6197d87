//! `sxmpp demo`: the embedded test server and two clients on two
//! different adapters (tokio for alice, blocking for bob), in one
//! process, with nothing to install or configure.

use std::time::{Duration, Instant};

use sxmpp::connection::Event;
use sxmpp::jid::Jid;
use sxmpp::stanza::{Iq, Message, Stanza};
use sxmpp::xml::Element;
use sxmpp_net::Security;
use sxmpp_testserver::TestServer;

use crate::Result;

const WAIT: Duration = Duration::from_secs(10);

fn step(started: Instant, text: &str) {
    println!("[{:>7.1} ms] {text}", started.elapsed().as_secs_f64() * 1000.0);
}

/// What was negotiated, from the connection and its first events.
fn negotiated(tls: Option<&sxmpp::tls::TlsInfo>, events: &[Event], jid: &str) -> String {
    let version = tls.and_then(|t| t.version.clone()).unwrap_or_else(|| "no TLS".into());
    let auth = events
        .iter()
        .find_map(|e| match e {
            Event::Authenticated(a) => Some(crate::describe_auth(a)),
            _ => None,
        })
        .unwrap_or_default();
    format!("{version}, {auth}, bound {jid}")
}

pub(crate) fn run() -> Result<()> {
    let started = Instant::now();
    let server = TestServer::builder().user("alice", "alicepass").user("bob", "bobpass").start()?;
    step(
        started,
        &format!(
            "test server for {} on {} (STARTTLS) and {} (direct TLS), its CA made in memory",
            server.domain(),
            server.starttls_addr(),
            server.direct_tls_addr()
        ),
    );
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;

    // alice: tokio, STARTTLS.
    let mut config = server.client_config("alice")?;
    config.jid = Jid::new("alice@localhost/demo")?;
    let mut alice =
        runtime.block_on(sxmpp_tokio::connect_with(config, server.connect_options_with(Security::StartTls)))?;
    let mut early = Vec::new();
    while let Some(event) = alice.queued_event() {
        early.push(event);
    }
    let alice_jid = alice.jid().map(|j| j.to_string()).unwrap_or_default();
    let tls = alice.core().tls().cloned();
    step(
        started,
        &format!("alice online via sxmpp-tokio over STARTTLS: {}", negotiated(tls.as_ref(), &early, &alice_jid)),
    );

    // bob: blocking, direct TLS.
    let mut config = server.client_config("bob")?;
    config.jid = Jid::new("bob@localhost/demo")?;
    let mut bob = sxmpp_blocking::connect_with(config, server.connect_options_with(Security::DirectTls))?;
    let mut early = Vec::new();
    while let Some(event) = bob.queued_event() {
        early.push(event);
    }
    let bob_jid = bob.jid().map(|j| j.to_string()).unwrap_or_default();
    let tls = bob.core().tls().cloned();
    step(
        started,
        &format!("bob online via sxmpp-blocking over direct TLS: {}", negotiated(tls.as_ref(), &early, &bob_jid)),
    );

    // A roster push: alice adds bob.
    let item = Element::new("item", "jabber:iq:roster").with_attr("jid", "bob@localhost")?.with_attr("name", "Bob")?;
    let set = Iq::set(None, Element::new("query", "jabber:iq:roster").with_child(item));
    runtime.block_on(alice.request(set))?.result.map_err(|e| format!("roster set refused: {}", e.condition))?;
    runtime.block_on(async {
        loop {
            match alice.next_event_timeout(WAIT).await? {
                Some(Event::Stanza(Stanza::Iq(push)))
                    if push.payload().is_some_and(|q| q.is("query", "jabber:iq:roster")) =>
                {
                    return Ok::<_, sxmpp_net::Error>(());
                }
                Some(_) => {}
                None => return Err(sxmpp_net::Error::Closed(Box::new(sxmpp::connection::CloseReason::Eof))),
            }
        }
    })?;
    step(started, "alice added bob to her roster; the server pushed the new item back (RFC 6121 §2.1.6)");

    // Messages both ways.
    let bob_full = Jid::new(&bob_jid)?;
    let alice_full = Jid::new(&alice_jid)?;
    runtime.block_on(alice.send(Message::chat(bob_full, "Hello Bob, from tokio")?))?;
    let got = wait_message(|| bob.next_event_timeout(WAIT))?;
    step(started, &format!("bob got {got:?}"));
    bob.send(Message::chat(alice_full.clone(), "Hello Alice, from a blocking socket")?)?;
    let got = wait_message(|| runtime.block_on(alice.next_event_timeout(WAIT)))?;
    step(started, &format!("alice got {got:?}"));

    // Pings: the server, and each other (each core answers by itself).
    let ping = |to: &Jid| Iq::get(Some(to.clone()), Element::new("ping", "urn:xmpp:ping"));
    let sent = Instant::now();
    runtime.block_on(alice.request(ping(&Jid::new("localhost")?)))?.result.map_err(|e| e.condition.to_string())?;
    let server_rtt = sent.elapsed();
    // bob pings alice from a thread of his own while alice's loop runs
    // (her core answers), so the round trip is the real one.
    let pinger = std::thread::spawn(move || {
        let sent = Instant::now();
        let answer = bob.request(ping(&alice_full));
        (bob, answer, sent.elapsed())
    });
    let deadline = Instant::now() + WAIT;
    while !pinger.is_finished() && Instant::now() < deadline {
        let _ = runtime.block_on(alice.next_event_timeout(Duration::from_millis(2)));
    }
    let (bob, answer, peer_rtt) = pinger.join().map_err(|_| "bob's thread failed")?;
    answer?.result.map_err(|e| e.condition.to_string())?;
    step(
        started,
        &format!(
            "pings: alice → server {:.1} ms, bob → alice {:.1} ms (XEP-0199)",
            server_rtt.as_secs_f64() * 1000.0,
            peer_rtt.as_secs_f64() * 1000.0
        ),
    );

    runtime.block_on(alice.close())?;
    bob.close()?;
    step(started, "both closed their streams cleanly");
    drop(server);
    println!(
        "\ndemo passed in {:.0} ms: TLS, SCRAM with channel binding, binding, roster push, messages both ways and pings, \
         on two adapters against the embedded server",
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}

/// The body of the next chat message.
fn wait_message(mut next: impl FnMut() -> std::result::Result<Option<Event>, sxmpp_net::Error>) -> Result<String> {
    loop {
        match next()? {
            Some(Event::Stanza(Stanza::Message(m))) if m.body().is_some() => {
                return Ok(m.body().unwrap_or_default().into_owned());
            }
            Some(_) => {}
            None => return Err("the stream closed before the message came".into()),
        }
    }
}
