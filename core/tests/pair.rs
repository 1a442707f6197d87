//! The client and server roles of the core against each other, in memory,
//! on virtual time (see `support/mod.rs`).

mod support;

use std::time::Duration;

use support::{DOMAIN, Injection, InjectionDelivery, Link, Pair, User, configs};
use sxmpp::condition::{SaslCondition, StreamErrorCondition};
use sxmpp::connection::{AuthError, CloseReason, Event, NegotiationError, ServerTls, TimeoutKind, TlsMode, Violation};
use sxmpp::jid::Jid;
use sxmpp::sasl::{BindingOutcome, ChannelBinding, ChannelBindingType, Credentials, Mechanism};
use sxmpp::stanza::{Message, Stanza};

/// Juliet, with her credentials derived once for the whole test binary.
fn juliet() -> User {
    static JULIET: std::sync::OnceLock<User> = std::sync::OnceLock::new();
    JULIET.get_or_init(|| User::new("juliet", "r0m30myr0m30")).clone()
}

fn authenticated(p: &Pair) -> Option<(Mechanism, BindingOutcome)> {
    p.client_events.iter().find_map(|e| match e {
        Event::Authenticated(a) => Some((a.mechanism, a.channel_binding)),
        _ => None,
    })
}

/// Logs in with one mechanism; returns the pair after it settled.
fn login(mechanism: Mechanism, tls: bool, binding: Option<ChannelBindingType>) -> Pair {
    let user = juliet();
    let credentials = Credentials::password(user.password.clone()).with_scram_keys(user.keys());
    let (mut c, mut s) = configs("juliet@im.example.com/balcony", credentials);
    c.mechanisms = vec![mechanism];
    s.mechanisms = vec![mechanism];
    if !tls {
        c.tls = TlsMode::Disabled;
        s.tls = ServerTls::Disabled;
        c.allow_plain_without_tls = true;
        s.allow_plain_without_tls = true;
    }
    if mechanism == Mechanism::Anonymous {
        c.jid = Jid::new(DOMAIN).unwrap();
    }
    let mut p = Pair::new(c, s, vec![user]);
    if let Some(kind) = binding {
        p.client_binding = ChannelBinding::none().with(kind, vec![0xAB; 32]);
        p.server_binding = p.client_binding.clone();
    }
    p.drive(Duration::from_secs(5));
    p
}

#[test]
fn every_mechanism_with_and_without_tls_and_each_binding_type_logs_in() {
    let mut runs = 0;
    for mechanism in Mechanism::ALL {
        for tls in [true, false] {
            for binding in [None, Some(ChannelBindingType::TlsExporter), Some(ChannelBindingType::TlsServerEndPoint)] {
                let possible = match (mechanism, tls, binding) {
                    (_, false, Some(_)) => false, // no TLS, no binding data
                    (m, _, None) if m.is_plus() => false,
                    (m, false, _) if m.is_plus() || m == Mechanism::External => false,
                    _ => true,
                };
                if !possible {
                    continue;
                }
                runs += 1;
                let p = login(mechanism, tls, binding);
                let case = format!("{mechanism} tls={tls} binding={binding:?}");
                assert!(p.client_online(), "{case}: {:?} / {:?}", p.client_events, p.server_events);
                assert!(p.server_online(), "{case}");
                let (used, outcome) = authenticated(&p).unwrap();
                assert_eq!(used, mechanism, "{case}");
                let expected = match (mechanism.is_plus(), binding, tls) {
                    (true, Some(kind), _) => BindingOutcome::Bound(kind),
                    // The server offers this mechanism alone: no -PLUS.
                    (false, Some(_), true) => BindingOutcome::NotOffered,
                    _ => BindingOutcome::NotSupported,
                };
                assert_eq!(outcome, expected, "{case}");
                assert!(p.client_closed().is_none() && p.server_closed().is_none(), "{case}");
            }
        }
    }
    // With TLS: 3 -PLUS × 2 binding types + 6 others × 3; without: the 5
    // that need neither TLS nor binding.
    assert_eq!(runs, 3 * 2 + 6 * 3 + 5, "the matrix covered every possible case");
}

#[test]
fn scram_sha1_plus_binds_with_exporter_and_end_point_and_fails_on_mismatch() {
    for kind in [ChannelBindingType::TlsExporter, ChannelBindingType::TlsServerEndPoint] {
        let p = login(Mechanism::ScramSha1Plus, true, Some(kind));
        assert_eq!(authenticated(&p), Some((Mechanism::ScramSha1Plus, BindingOutcome::Bound(kind))));
        assert!(p.client_online() && p.server_online());

        // The two ends see different channels: a man in the middle.
        let user = juliet();
        let (mut c, mut s) = configs("juliet@im.example.com", Credentials::password(&user.password));
        c.mechanisms = vec![Mechanism::ScramSha1Plus];
        s.mechanisms = vec![Mechanism::ScramSha1Plus];
        let mut p = Pair::new(c, s, vec![user]);
        p.client_binding = ChannelBinding::none().with(kind, vec![1; 32]);
        p.server_binding = ChannelBinding::none().with(kind, vec![2; 32]);
        p.drive(Duration::from_secs(5));
        assert!(!p.client_online() && !p.server_online());
        assert!(
            p.server_events.contains(&Event::AuthAttemptFailed(SaslCondition::NotAuthorized)),
            "{:?}",
            p.server_events
        );
        assert_eq!(
            p.client_closed(),
            Some(&CloseReason::Negotiation(NegotiationError::Auth(AuthError::Failure {
                condition: SaslCondition::NotAuthorized,
                text: None
            })))
        );
        assert!(p.server_closed().is_some());
    }
}

#[test]
fn a_wrong_password_fails_cleanly_on_both_sides() {
    for mechanism in [Mechanism::ScramSha256, Mechanism::Plain] {
        let (mut c, mut s) = configs("juliet@im.example.com", Credentials::password("wrong"));
        c.mechanisms = vec![mechanism];
        s.mechanisms = vec![mechanism];
        let mut p = Pair::new(c, s, vec![juliet()]);
        p.drive(Duration::from_secs(5));
        let not_authorized = AuthError::Failure { condition: SaslCondition::NotAuthorized, text: None };
        assert_eq!(
            p.client_closed(),
            Some(&CloseReason::Negotiation(NegotiationError::Auth(not_authorized))),
            "{mechanism}"
        );
        assert!(p.server_events.contains(&Event::AuthAttemptFailed(SaslCondition::NotAuthorized)));
        assert_eq!(p.server_closed(), Some(&CloseReason::Clean), "the client closed its stream after the failure");
        assert!(!p.server_events.iter().any(|e| matches!(e, Event::Authenticated(_))));
    }
}

/// A login that needs no PBKDF2 (cached keys, stored credentials), for
/// the tests that run it thousands of times.
fn fast_pair(link: Link) -> Pair {
    let user = juliet();
    let credentials = Credentials::scram_keys(user.keys());
    let (c, s) = configs("juliet@im.example.com/balcony", credentials);
    let mut p = Pair::new(c, s, vec![user]);
    p.client_binding = ChannelBinding::none().with(ChannelBindingType::TlsExporter, vec![7; 32]);
    p.server_binding = p.client_binding.clone();
    p.link = link;
    p
}

#[test]
fn the_link_cut_at_every_byte_of_the_negotiation_ends_both_sides() {
    let mut full = fast_pair(Link::default());
    full.drive(Duration::from_secs(5));
    assert!(full.client_online() && full.server_online());
    let total = full.crossed();
    assert!(total > 2000, "{total}");
    for cut in 0..=total {
        let mut p = fast_pair(Link { cut_after: Some(cut), ..Link::default() });
        p.drive(Duration::from_secs(120));
        if cut < total {
            let (c, s) = (p.client_closed(), p.server_closed());
            assert!(c.is_some() && s.is_some(), "cut at {cut}: {c:?} {s:?}");
            // Exactly one Closed, and last: the harness asserts both.
            assert!(p.client.is_closed() && p.server.is_closed(), "cut at {cut}");
        }
    }
}

#[test]
fn ten_thousand_messages_each_way_arrive_intact_and_in_order() {
    let mut p = fast_pair(Link { chunk: 1000, latency: Duration::from_millis(20), ..Link::default() });
    p.drive(Duration::from_secs(5));
    assert!(p.client_online() && p.server_online());
    let client_jid = p.client.jid().unwrap().clone();
    let (mut sent_c, mut sent_s) = (0, 0);
    while sent_c < 10_000 || sent_s < 10_000 {
        // Send until the outbound buffer pushes back, then let the link work.
        while sent_c < 10_000 {
            let m = Message::chat(Jid::new("romeo@example.net").unwrap(), &format!("c2s {sent_c} <&>")).unwrap();
            match p.client.send(p.now, m) {
                Ok(()) => sent_c += 1,
                Err(sxmpp::connection::ApiError::OutboundFull) => break,
                Err(e) => panic!("{e}"),
            }
        }
        while sent_s < 10_000 {
            let m = Message::chat(client_jid.clone().into(), &format!("s2c {sent_s} ✓"))
                .unwrap()
                .with_from(Jid::new("romeo@example.net/orchard").unwrap());
            match p.server.send(p.now, Stanza::Message(m)) {
                Ok(()) => sent_s += 1,
                Err(sxmpp::connection::ApiError::OutboundFull) => break,
                Err(e) => panic!("{e}"),
            }
        }
        p.drive(Duration::from_secs(1));
    }
    p.drive(Duration::from_secs(5));
    assert_eq!(p.to_server.len(), 10_000);
    assert_eq!(p.to_client.len(), 10_000);
    for (i, s) in p.to_server.iter().enumerate() {
        let Stanza::Message(m) = s else { panic!() };
        assert_eq!(m.body().as_deref(), Some(format!("c2s {i} <&>").as_str()));
        assert_eq!(m.from(), Some(client_jid.as_jid()), "stamped with the session's JID");
    }
    for (i, m) in p.to_client.iter().enumerate() {
        assert_eq!(m.body().as_deref(), Some(format!("s2c {i} ✓").as_str()));
    }
    assert!(p.client_closed().is_none() && p.server_closed().is_none());
    // And a clean close.
    p.client.close(p.now).unwrap();
    p.drive(Duration::from_secs(5));
    assert_eq!(p.client_closed(), Some(&CloseReason::Clean));
    assert_eq!(p.server_closed(), Some(&CloseReason::Clean));
}

#[test]
fn split_into_single_bytes_and_delayed_it_still_logs_in() {
    let mut p = fast_pair(Link { chunk: 1, latency: Duration::from_millis(3), ..Link::default() });
    p.drive(Duration::from_secs(600));
    assert!(p.client_online() && p.server_online(), "{:?}", p.client_events);
}

#[test]
fn dropped_bytes_end_in_a_stream_error_not_a_panic() {
    // Where the client's `</auth>` lies in an undisturbed login (the same
    // bytes every run: the entropy is seeded).
    let mut clean = fast_pair(Link::default());
    clean.drive(Duration::from_secs(5));
    let at = clean.client_wrote.windows(7).position(|w| w == b"</auth>").expect("the client sent <auth>");
    // Drop "uth" from it: `</a>` closes nothing that is open.
    let mut p = fast_pair(Link { drop_c2s: Some((at + 3, at + 6)), ..Link::default() });
    p.drive(Duration::from_secs(120));
    assert!(
        matches!(p.server_closed(), Some(CloseReason::Violation(Violation::Xml(e))) if e.condition() == StreamErrorCondition::NotWellFormed),
        "{:?}",
        p.server_closed()
    );
    assert!(
        matches!(p.client_closed(), Some(CloseReason::StreamError(e)) if e.condition == StreamErrorCondition::NotWellFormed),
        "{:?}",
        p.client_closed()
    );
    assert!(!p.client_online());
}

#[test]
fn an_unknown_host_gets_host_unknown() {
    let (c, s) = configs("juliet@elsewhere.example", Credentials::password("x"));
    let mut p = Pair::new(c, s, vec![]);
    p.drive(Duration::from_secs(5));
    assert!(
        matches!(p.client_closed(), Some(CloseReason::StreamError(e)) if e.condition == StreamErrorCondition::HostUnknown),
        "{:?}",
        p.client_events
    );
    assert!(matches!(
        p.server_closed(),
        Some(CloseReason::Violation(Violation::Header { condition: StreamErrorCondition::HostUnknown, .. }))
    ));
}

#[test]
fn a_client_that_never_authenticates_is_closed_after_the_pre_auth_timeout() {
    let (c, mut s) = configs("juliet@im.example.com", Credentials::password("x"));
    s.pre_auth_timeout = Duration::from_secs(30);
    let mut p = Pair::new(c, s, vec![]);
    // The server never sees the client's bytes: a silent connection.
    p.link.cut_after = None;
    p.link.latency = Duration::from_secs(3600);
    p.drive(Duration::from_secs(31));
    assert_eq!(p.server_closed(), Some(&CloseReason::Timeout(TimeoutKind::PreAuth)));
    // What the server wrote (still in flight on the slow link): its header
    // and features were never asked for, so the header, the stream error
    // and the close tag.
    let out = String::from_utf8(p.server_wrote.clone()).unwrap();
    assert!(out.contains("<stream:error><connection-timeout"), "{out}");
    assert!(out.ends_with("</stream:stream>"), "{out}");
}

/// HARDENING 11 and 29 (CVE-2011-0411 class): a man in the middle appends
/// plaintext right behind `<starttls/>` (a stream restart and a PLAIN
/// login, to the server) or behind `<proceed/>` (a fake post-TLS stream, to
/// the client), in the same read, in a read of its own, and byte by byte.
/// Neither side ever acts on it, and nobody logs in.
#[test]
fn hardening_29_plaintext_injected_at_the_tls_handoff_is_never_processed() {
    use InjectionDelivery::*;
    let to_server = format!(
        "<stream:stream to='{DOMAIN}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>\
         <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>"
    );
    let to_client = format!(
        "<stream:stream from='{DOMAIN}' id='x' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>\
         <stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"
    );
    for (side, bytes) in [(true, to_server), (false, to_client)] {
        for delivery in [Whole, Split, Bytewise] {
            let user = juliet();
            let (mut c, mut s) = configs("juliet@im.example.com/balcony", Credentials::password(user.password.clone()));
            c.mechanisms = vec![Mechanism::Plain];
            s.mechanisms = vec![Mechanism::Plain];
            let mut p = Pair::new(c, s, vec![user]);
            p.link.inject = Some(Injection { to_server: side, bytes: bytes.clone().into_bytes(), delivery });
            p.drive(Duration::from_secs(5));
            let case = format!("to_server={side} {delivery:?}");
            assert!(p.link.inject.is_none(), "{case}: the injection happened");
            let victim = if side { p.server_closed() } else { p.client_closed() };
            assert_eq!(victim, Some(&CloseReason::Violation(Violation::DataAfterProceed)), "{case}");
            assert!(!p.client_online() && !p.server_online(), "{case}");
            assert!(authenticated(&p).is_none(), "{case}");
            assert!(!p.server_events.iter().any(|e| matches!(e, Event::AuthRequested(_))), "{case}");
        }
    }
}

/// An application-defined stream feature (as mellium's `StreamFeature`):
/// after authentication the server offers `<motd/>`, the client asks for
/// the message of the day and gets it, and both sides then bind as usual.
#[test]
fn an_application_defined_stream_feature_negotiates_between_the_roles() {
    use std::sync::{Arc, Mutex};
    use sxmpp::negotiation::{FeatureStep, StreamFeature};
    use sxmpp::xml::Element;

    const MOTD: &str = "urn:example:motd";
    struct Motd {
        /// What the client side received.
        seen: Arc<Mutex<Vec<String>>>,
    }
    impl StreamFeature for Motd {
        fn namespace(&self) -> &str {
            MOTD
        }
        fn name(&self) -> &str {
            "motd"
        }
        fn start(&mut self, _offer: &Element) -> Option<Element> {
            Some(Element::new("get", MOTD))
        }
        fn receive(&mut self, element: &Element) -> FeatureStep {
            match element.name() {
                "get" => FeatureStep::Done(Element::new("text", MOTD).with_text("Wherefore art thou?").ok()),
                "text" => {
                    self.seen.lock().unwrap().push(element.text().into_owned());
                    FeatureStep::Done(None)
                }
                _ => FeatureStep::Fail("unexpected element".into()),
            }
        }
    }

    let seen = Arc::new(Mutex::new(Vec::new()));
    let user = juliet();
    let credentials = Credentials::scram_keys(user.keys());
    let (mut c, mut s) = configs("juliet@im.example.com/balcony", credentials);
    let client_seen = seen.clone();
    c.add_feature(move || Box::new(Motd { seen: client_seen.clone() }));
    s.add_feature(|| Box::new(Motd { seen: Arc::new(Mutex::new(Vec::new())) }));
    let mut p = Pair::new(c, s, vec![user]);
    p.drive(Duration::from_secs(5));
    assert!(p.client_online() && p.server_online(), "{:?} / {:?}", p.client_events, p.server_events);
    assert_eq!(*seen.lock().unwrap(), ["Wherefore art thou?"]);
    for events in [&p.client_events, &p.server_events] {
        let negotiated = events.iter().position(|e| *e == Event::FeatureNegotiated(MOTD.into()));
        let online = events.iter().position(|e| matches!(e, Event::Online(_)));
        assert!(negotiated.is_some() && negotiated < online, "negotiated before online: {events:?}");
    }
    let wrote = String::from_utf8_lossy(&p.server_wrote);
    let offer = wrote.find("<motd xmlns='urn:example:motd'/>").expect("offered");
    assert!(wrote[..offer].contains("<success"), "offered after authentication only");

    // A server without the feature: the client skips it and gets online.
    let user = juliet();
    let (mut c, s) = configs("juliet@im.example.com/balcony", Credentials::scram_keys(user.keys()));
    c.add_feature(|| Box::new(Motd { seen: Arc::new(Mutex::new(Vec::new())) }));
    let mut p = Pair::new(c, s, vec![user]);
    p.drive(Duration::from_secs(5));
    assert!(p.client_online() && p.server_online());
    assert!(!p.client_events.iter().any(|e| matches!(e, Event::FeatureNegotiated(_))));
}
