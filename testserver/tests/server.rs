//! The test server against the blocking client: login over both TLS
//! modes with channel binding, routing by priority, offline messages,
//! subscriptions with roster pushes and presence, roster versioning,
//! pings, unknown users.

use std::time::Duration;

use sxmpp::connection::Event;
use sxmpp::jid::Jid;
use sxmpp::sasl::{BindingOutcome, ChannelBindingType};
use sxmpp::stanza::{Iq, Message, Presence, PresenceType, Stanza};
use sxmpp::xml::Element;
use sxmpp_blocking::Client;
use sxmpp_net::{Error, Security};
use sxmpp_testserver::TestServer;

const WAIT: Duration = Duration::from_secs(10);

fn server() -> TestServer {
    TestServer::builder().user("alice", "alicepass").user("bob", "bobpass").start().unwrap()
}

fn login(server: &TestServer, user: &str, resource: &str, security: Security) -> Client {
    let mut config = server.client_config(user).unwrap();
    config.jid = Jid::new(&format!("{user}@localhost/{resource}")).unwrap();
    sxmpp_blocking::connect_with(config, server.connect_options_with(security)).unwrap()
}

/// The next event matching `want`, skipping others.
fn expect(client: &mut Client, what: &str, want: impl Fn(&Event) -> bool) -> Event {
    loop {
        match client.next_event_timeout(WAIT) {
            Ok(Some(event)) if want(&event) => return event,
            Ok(Some(_)) => {}
            other => panic!("waiting for {what}: {other:?}"),
        }
    }
}

fn body_is(body: &'static str) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::Stanza(Stanza::Message(m)) if m.body().as_deref() == Some(body))
}

fn available(priority: i8) -> Presence {
    let mut p = Presence::available();
    p.set_priority(Some(priority)).unwrap();
    p
}

#[test]
fn login_binds_to_the_channel_over_both_tls_modes() {
    let server = server();
    for security in [Security::StartTls, Security::DirectTls] {
        let mut alice = login(&server, "alice", "a", security);
        let auth = expect(&mut alice, "Authenticated", |e| matches!(e, Event::Authenticated(_)));
        let Event::Authenticated(auth) = auth else { unreachable!() };
        assert_eq!(auth.channel_binding, BindingOutcome::Bound(ChannelBindingType::TlsExporter));
        let pong = alice
            .request(Iq::get(Some(Jid::new("localhost").unwrap()), Element::new("ping", "urn:xmpp:ping")))
            .unwrap();
        assert!(pong.result.is_ok());
        // The server answers for the account (RFC 6120 §10.3.3), and
        // refuses what it does not serve.
        let own = Jid::new("alice@localhost").unwrap();
        let pong = alice.request(Iq::get(Some(own.clone()), Element::new("ping", "urn:xmpp:ping"))).unwrap();
        assert!(pong.result.is_ok(), "{pong:?}");
        let other = alice.request(Iq::get(Some(own), Element::new("query", "urn:example:nothing"))).unwrap();
        assert_eq!(other.result.unwrap_err().condition, sxmpp::condition::StanzaErrorCondition::ServiceUnavailable);
        alice.close().unwrap();
    }
    let mut config = server.client_config("alice").unwrap();
    config.credentials = sxmpp::sasl::Credentials::password("wrong");
    assert!(matches!(sxmpp_blocking::connect_with(config, server.connect_options()), Err(Error::Auth { .. })));
    let config = server.client_config("mallory").unwrap();
    assert!(matches!(sxmpp_blocking::connect_with(config, server.connect_options()), Err(Error::Auth { .. })));
}

#[test]
fn messages_to_a_bare_jid_go_to_the_highest_priority_or_wait_offline() {
    let server = server();
    let mut alice = login(&server, "alice", "a", Security::StartTls);
    // Nobody of bob's is online: kept.
    alice.send(Message::chat(Jid::new("bob@localhost").unwrap(), "while you were out").unwrap()).unwrap();
    let mut low = login(&server, "bob", "low", Security::StartTls);
    let mut high = login(&server, "bob", "high", Security::StartTls);
    low.send(available(1)).unwrap();
    expect(&mut low, "the offline message", body_is("while you were out"));
    high.send(available(5)).unwrap();
    expect(&mut low, "high's presence", |e| matches!(e, Event::Stanza(Stanza::Presence(_))));
    alice.send(Message::chat(Jid::new("bob@localhost").unwrap(), "to the bare JID").unwrap()).unwrap();
    expect(&mut high, "the message at the higher priority", body_is("to the bare JID"));
    alice.send(Message::chat(Jid::new("bob@localhost/low").unwrap(), "to low").unwrap()).unwrap();
    expect(&mut low, "the message to the full JID", body_is("to low"));
    // To nobody: an error comes back.
    alice.send(Message::chat(Jid::new("nobody@localhost").unwrap(), "lost").unwrap()).unwrap();
    expect(&mut alice, "the bounce", |e| matches!(e, Event::Stanza(Stanza::Message(m)) if m.error().is_some()));
}

#[test]
fn subscriptions_update_both_rosters_and_carry_presence() {
    let server = server();
    let mut alice = login(&server, "alice", "a", Security::StartTls);
    let mut bob = login(&server, "bob", "b", Security::StartTls);
    bob.send(Presence::available()).unwrap();
    let roster = Element::new("query", "jabber:iq:roster");
    let empty = alice.request(Iq::get(None, roster.clone())).unwrap().result.unwrap().unwrap();
    let ver = empty.attr("ver").unwrap().to_owned();
    // Nothing new: an empty result (RFC 6121 §2.6.3).
    let same = alice.request(Iq::get(None, roster.clone().with_attr("ver", ver.clone()).unwrap())).unwrap();
    assert_eq!(same.result.unwrap(), None);
    // Presence goes to available resources: alice becomes one.
    alice.send(Presence::available()).unwrap();
    alice.send(Presence::new(PresenceType::Subscribe, Some(Jid::new("bob@localhost").unwrap()))).unwrap();
    expect(
        &mut alice,
        "the push with ask",
        |e| matches!(e, Event::Stanza(Stanza::Iq(iq)) if iq.payload().and_then(|q| q.child("item", "jabber:iq:roster")).is_some_and(|i| i.attr("ask") == Some("subscribe"))),
    );
    expect(
        &mut bob,
        "the request",
        |e| matches!(e, Event::Stanza(Stanza::Presence(p)) if p.type_() == PresenceType::Subscribe),
    );
    bob.send(Presence::new(PresenceType::Subscribed, Some(Jid::new("alice@localhost").unwrap()))).unwrap();
    expect(
        &mut alice,
        "the push with subscription to",
        |e| matches!(e, Event::Stanza(Stanza::Iq(iq)) if iq.payload().and_then(|q| q.child("item", "jabber:iq:roster")).is_some_and(|i| i.attr("subscription") == Some("to"))),
    );
    expect(
        &mut alice,
        "bob's presence",
        |e| matches!(e, Event::Stanza(Stanza::Presence(p)) if p.type_() == PresenceType::Available && p.from().is_some_and(|f| f.as_str() == "bob@localhost/b")),
    );
    let now =
        alice.request(Iq::get(None, roster.with_attr("ver", ver.clone()).unwrap())).unwrap().result.unwrap().unwrap();
    assert_ne!(now.attr("ver"), Some(ver.as_str()));
    let item = now.child("item", "jabber:iq:roster").unwrap();
    assert_eq!((item.attr("jid"), item.attr("subscription")), (Some("bob@localhost"), Some("to")));
    // A roster set is pushed back and answered.
    let set = Element::new("query", "jabber:iq:roster").with_child(
        Element::new("item", "jabber:iq:roster")
            .with_attr("jid", "bob@localhost")
            .unwrap()
            .with_attr("name", "Bob")
            .unwrap(),
    );
    assert!(alice.request(Iq::set(None, set)).unwrap().result.is_ok());
    expect(
        &mut alice,
        "the push of the name",
        |e| matches!(e, Event::Stanza(Stanza::Iq(iq)) if iq.payload().and_then(|q| q.child("item", "jabber:iq:roster")).is_some_and(|i| i.attr("name") == Some("Bob"))),
    );
}
