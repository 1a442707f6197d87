//! RFC 7395 framing in both roles: one message per `<open/>`, element
//! and `<close/>`, each a standalone document with its namespaces; the
//! restart by a new `<open/>`; no STARTTLS and no whitespace keepalives;
//! `see-other-uri`; and the framing rules a peer can break.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use alloc::{format, vec};
use core::time::Duration;

use super::testing::Driver;
use super::*;
use crate::condition::StreamErrorCondition;
use crate::entropy::Seeded;
use crate::jid::Jid;
use crate::sasl::{ChannelBinding, Credentials, Mechanism};
use crate::stanza::{Message, Stanza};
use crate::stream::Framing;
use crate::time::Timestamp;

const FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";

/// RFC 7395 §3.4's server `<open/>`.
fn server_open(id: &str) -> String {
    format!("<open xmlns='{FRAMING}' from='im.example.com' id='{id}' xml:lang='en' version='1.0'/>")
}

const SASL_FEATURES: &str = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>";
/// The unprefixed form of RFC 7395 §3.3.3.
const BIND_FEATURES: &str =
    "<features xmlns='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></features>";

fn client_config() -> ClientConfig {
    let mut c = ClientConfig::new(Jid::new("juliet@im.example.com/balcony").unwrap(), Credentials::password("pass"));
    c.stream.framing = Framing::WebSocket;
    c.tls = TlsMode::Direct;
    c.mechanisms = vec![Mechanism::Plain];
    c
}

fn client(config: ClientConfig) -> Driver<ClientRole> {
    let mut e = Seeded::new(1);
    e.push_stanza_id("bind1");
    Driver::new(Client::new(config, Box::new(e), Timestamp::ZERO).unwrap())
}

/// A client over `wss:` up to its first `<open/>`.
fn secure_client() -> Driver<ClientRole> {
    let mut c = client(client_config());
    assert!(c.tls.is_some(), "wss: the TLS handshake comes first");
    assert_eq!(c.messages(), Vec::<String>::new(), "nothing before it");
    c.tls_up(ChannelBinding::none());
    c
}

/// Logs the client in over WebSocket; returns the messages it wrote.
fn online(c: &mut Driver<ClientRole>) -> Vec<String> {
    let mut wrote = c.messages();
    c.feed_message(&server_open("s1"));
    c.feed_message(SASL_FEATURES);
    c.feed_message("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    c.feed_message(&server_open("s2"));
    c.feed_message(BIND_FEATURES);
    c.feed_message("<iq xmlns='jabber:client' id='bind1' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@im.example.com/balcony</jid></bind></iq>");
    wrote.extend(c.messages());
    assert!(c.conn.is_online(), "{:?} {wrote:?}", c.closed());
    let events = c.events();
    assert!(matches!(events.as_slice(), [Event::Authenticated(_), Event::Online(_)]), "{events:?}");
    wrote
}

#[test]
fn rfc7395_3_4_to_3_7_a_client_session_is_one_message_per_element() {
    let mut c = secure_client();
    let wrote = online(&mut c);
    let open = format!(
        "<open xmlns='{FRAMING}' to='im.example.com' from='juliet@im.example.com' version='1.0' xml:lang='en'/>"
    );
    assert_eq!(
        wrote,
        [
            open.clone(),
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldABwYXNz</auth>".into(),
            // RFC 7395 §3.7: the restart is a new <open/>, never a <close/>.
            open,
            "<iq xmlns='jabber:client' id='bind1' type='set'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>".into(),
        ]
    );
    // A stanza declares its namespace (RFC 7395 §3.3.3).
    c.conn.send(c.now, Message::chat(Jid::new("romeo@example.net").unwrap(), "hi").unwrap()).unwrap();
    c.drain();
    assert_eq!(
        c.messages(),
        ["<message xmlns='jabber:client' to='romeo@example.net' type='chat'><body>hi</body></message>"]
    );
    c.feed_message("<message xmlns='jabber:client' from='romeo@example.net/orchard' type='chat'><body>Every WebSocket message is parsable by itself.</body></message>");
    assert!(matches!(c.events().as_slice(), [Event::Stanza(Stanza::Message(_))]));
    // RFC 7395 §3.8: no whitespace keepalives, ever (the ping still comes).
    c.advance(Duration::from_secs(299));
    assert_eq!(c.messages(), Vec::<String>::new());
    c.advance(Duration::from_secs(1));
    let ping = c.messages();
    assert!(ping.len() == 1 && ping[0].starts_with("<iq xmlns='jabber:client' to='im.example.com'"), "{ping:?}");
    // RFC 7395 §3.6: <close/> both ways.
    c.conn.close(c.now).unwrap();
    c.drain();
    assert_eq!(c.messages(), [format!("<close xmlns='{FRAMING}'/>")]);
    c.feed_message(&format!("<close xmlns='{FRAMING}'/>"));
    assert_eq!(c.closed(), Some(&CloseReason::Clean));
}

#[test]
fn rfc7395_3_9_starttls_is_neither_configured_nor_negotiated() {
    let mut config = client_config();
    config.tls = TlsMode::Required;
    assert!(matches!(
        Client::new(config, Box::new(Seeded::new(1)), Timestamp::ZERO),
        Err(ConfigError::StartTlsOverWebSocket)
    ));
    // ws: (no TLS): a STARTTLS offer, even required, is ignored.
    let mut config = client_config();
    config.tls = TlsMode::Disabled;
    config.allow_plain_without_tls = true;
    let mut c = client(config);
    assert!(c.tls.is_none());
    c.messages();
    c.feed_message(&server_open("s1"));
    c.feed_message("<stream:features xmlns:stream='http://etherx.jabber.org/streams'><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>");
    let wrote = c.messages();
    assert!(wrote.len() == 1 && wrote[0].starts_with("<auth "), "{wrote:?}");
    // The server role refuses to offer it.
    let mut server = ServerConfig::new("im.example.com", ServerSecret::new([7; 32]));
    server.stream.framing = Framing::WebSocket;
    assert!(matches!(
        Server::new(server, Box::new(Seeded::new(1)), Timestamp::ZERO),
        Err(ConfigError::StartTlsOverWebSocket)
    ));
}

#[test]
fn rfc7395_3_6_1_see_other_uri_ends_the_stream_with_the_new_endpoint() {
    let mut c = secure_client();
    c.messages();
    c.feed_message(&server_open("s1"));
    c.feed_message(&format!("<close xmlns='{FRAMING}' see-other-uri='wss://otherendpoint.example/xmpp-bind'/>"));
    assert_eq!(c.messages(), [format!("<close xmlns='{FRAMING}'/>")]);
    assert_eq!(c.closed(), Some(&CloseReason::SeeOtherUri("wss://otherendpoint.example/xmpp-bind".into())));
}

#[test]
fn rfc7395_3_5_a_stream_error_is_a_message_of_its_own() {
    let mut c = secure_client();
    c.messages();
    c.feed_message(&server_open("s1"));
    c.feed_message("<error xmlns='http://etherx.jabber.org/streams'><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></error>");
    assert!(
        matches!(c.closed(), Some(CloseReason::StreamError(e)) if e.condition == StreamErrorCondition::HostUnknown)
    );
    assert_eq!(c.messages(), [format!("<close xmlns='{FRAMING}'/>")]);
}

/// What a peer breaking the framing gets: the stream error (its own
/// message) and `<close/>`.
fn broken(message: &str) -> (Vec<String>, Option<CloseReason>) {
    let mut c = secure_client();
    online(&mut c);
    c.feed_message(message);
    (c.messages(), c.closed().cloned())
}

#[test]
fn rfc7395_3_3_3_a_message_must_be_one_complete_element() {
    let close = format!("<close xmlns='{FRAMING}'/>");
    let error = |condition: &str| {
        format!(
            "<error xmlns='http://etherx.jabber.org/streams'><{condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></error>"
        )
    };
    for (message, condition) in [
        // Two elements in one message.
        ("<presence xmlns='jabber:client'/><presence xmlns='jabber:client'/>", "bad-format"),
        // Half an element.
        ("<message xmlns='jabber:client'><body>", "bad-format"),
        // A whitespace keepalive, and text before the element.
        (" ", "bad-format"),
        ("x<presence xmlns='jabber:client'/>", "bad-format"),
        // No namespace declaration: not a jabber:client stanza.
        ("<presence/>", "unsupported-stanza-type"),
        // An unbound prefix: no stream context to lend it.
        ("<stream:features/>", "not-well-formed"),
        // RFC 7395 §3.3.2: a stream header in another namespace.
        ("<open xmlns='http://etherx.jabber.org/streams'/>", "invalid-namespace"),
    ] {
        let (wrote, reason) = broken(message);
        assert_eq!(wrote, [error(condition), close.clone()], "{message:?}");
        assert!(reason.as_ref().and_then(CloseReason::stream_error_condition).is_some(), "{message:?}: {reason:?}");
    }
    // An XML declaration first is allowed (NOT RECOMMENDED).
    let mut c = secure_client();
    online(&mut c);
    c.feed_message("<?xml version='1.0'?><presence xmlns='jabber:client'/>");
    assert!(matches!(c.events().as_slice(), [Event::Stanza(Stanza::Presence(_))]));
    assert!(c.closed().is_none());
}

fn server() -> Driver<ServerRole> {
    let mut config = ServerConfig::new("im.example.com", ServerSecret::new([7; 32]));
    config.stream.framing = Framing::WebSocket;
    config.tls = ServerTls::Direct;
    let mut e = Seeded::new(3);
    e.push_stream_id("++TR84Sm6A3hnt3Q065SnAbbk3Y=");
    let mut s = Driver::new(Server::new(config, Box::new(e), Timestamp::ZERO).unwrap());
    assert!(s.tls.is_some(), "wss: the TLS handshake comes first");
    s.tls_up(ChannelBinding::none());
    s
}

#[test]
fn rfc7395_3_4_the_server_answers_open_with_open_and_features_in_two_messages() {
    let mut s = server();
    assert_eq!(s.messages(), Vec::<String>::new(), "the receiving side waits for the client");
    s.feed_message(&format!("<open xmlns='{FRAMING}' to='im.example.com' version='1.0'/>"));
    let wrote = s.messages();
    assert_eq!(wrote.len(), 2, "{wrote:?}");
    assert_eq!(
        wrote[0],
        format!(
            "<open xmlns='{FRAMING}' from='im.example.com' id='++TR84Sm6A3hnt3Q065SnAbbk3Y=' version='1.0' xml:lang='en'/>"
        )
    );
    assert!(wrote[1].starts_with("<features xmlns='http://etherx.jabber.org/streams'><mechanisms "), "{}", wrote[1]);
    assert!(!wrote[1].contains("starttls"), "RFC 7395 §3.9");
    // PLAIN is offered: the transport is TLS.
    assert!(wrote[1].contains("<mechanism>PLAIN</mechanism>"));
}

#[test]
fn rfc7395_3_5_an_error_during_open_comes_after_our_open() {
    let mut s = server();
    s.feed_message(&format!("<open xmlns='{FRAMING}' to='elsewhere.example' version='1.0'/>"));
    let wrote = s.messages();
    assert_eq!(wrote.len(), 3, "{wrote:?}");
    assert!(wrote[0].starts_with(&format!("<open xmlns='{FRAMING}'")));
    assert_eq!(
        wrote[1],
        "<error xmlns='http://etherx.jabber.org/streams'><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></error>"
    );
    assert_eq!(wrote[2], format!("<close xmlns='{FRAMING}'/>"));
}

#[test]
fn a_message_waits_whole_while_events_wait() {
    let mut c = secure_client();
    online(&mut c);
    // Fill the event queue without polling.
    let presence = "<presence xmlns='jabber:client' from='romeo@example.net/orchard'/>";
    let mut taken_whole = 0;
    loop {
        let n = c.conn.handle_input(c.now, presence.as_bytes());
        if n == 0 {
            break;
        }
        assert_eq!(n, presence.len(), "a message is taken whole or not at all");
        taken_whole += 1;
        assert!(taken_whole < 1000, "the event queue is bounded");
    }
    c.drain();
    assert_eq!(c.events().len(), taken_whole);
    // Then it is taken again.
    assert_eq!(c.conn.handle_input(c.now, presence.as_bytes()), presence.len());
}

/// Found in review: the second element of a message was found only after
/// the first had taken effect; and any `<?xml…?>` processing instruction,
/// or a declaration of another version or encoding, was stripped unseen.
#[test]
fn rfc7395_3_3_3_a_bad_message_takes_no_effect_at_all() {
    let mut c = secure_client();
    online(&mut c);
    c.feed_message("<message xmlns='jabber:client' from='romeo@example.net/orchard'><body>one</body></message><x/>");
    assert!(c.events().is_empty(), "the first element of a bad message is not delivered");
    assert!(matches!(c.closed(), Some(CloseReason::Violation(_))));
    for message in [
        "<?xml-stylesheet href='x'?><presence xmlns='jabber:client'/>",
        "<?xml version='1.0' encoding='UTF-16'?><presence xmlns='jabber:client'/>",
        "<?xml version='2.0'?><presence xmlns='jabber:client'/>",
    ] {
        let mut c = secure_client();
        online(&mut c);
        c.feed_message(message);
        assert!(c.events().is_empty(), "{message}");
        assert!(c.closed().is_some(), "{message}");
    }
}
