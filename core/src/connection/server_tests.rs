//! Server tests with a scripted client sending raw bytes: the header
//! checks, the features offered, and every server line of HARDENING.md
//! (16–18, 23–24, 27) with the exact error.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use alloc::{format, vec};
use core::time::Duration;

use super::testing::Driver;
use super::*;
use crate::condition::StreamErrorCondition;
use crate::condition::{SaslCondition, StanzaErrorCondition};
use crate::entropy::Seeded;
use crate::jid::BareJid;
use crate::sasl::{ChannelBinding, ChannelBindingType, Mechanism, ScramHash, ScramStored};
use crate::stanza::{Stanza, StanzaError, StreamError};
use crate::time::Timestamp;

const STREAMS: &str = "http://etherx.jabber.org/streams";

fn header(to: &str) -> String {
    format!("<stream:stream to='{to}' version='1.0' xmlns='jabber:client' xmlns:stream='{STREAMS}'>")
}

fn b64(s: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

type Script = Driver<ServerRole>;

fn script(config: ServerConfig) -> Script {
    let mut entropy = Seeded::new(9);
    entropy.push_stream_id("s1").push_stream_id("s2").push_stream_id("s3");
    Driver::new(Server::new(config, Box::new(entropy), Timestamp::ZERO).unwrap())
}

impl Driver<ServerRole> {
    /// Authenticates as juliet with PLAIN (plaintext allowed) and binds
    /// `balcony`.
    fn online(&mut self) {
        self.feed(&header("im.example.com"));
        self.feed(&plain_auth("", "juliet", "pass"));
        let ev = self.events();
        assert!(matches!(ev.as_slice(), [Event::AuthRequested(_)]), "{ev:?}");
        self.conn.authenticate(self.now, AuthAnswer::Password("pass".into())).unwrap();
        self.drain();
        self.feed(&header("im.example.com"));
        self.feed("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>");
        self.conn.bind(self.now, BindDecision::Accept).unwrap();
        self.drain();
        assert!(self.events().iter().any(|e| matches!(e, Event::Online(_))));
        self.out();
    }
}

fn plaintext() -> ServerConfig {
    let mut c = ServerConfig::new("im.example.com", ServerSecret::new([7; 32]));
    c.tls = ServerTls::Disabled;
    c.allow_plain_without_tls = true;
    c
}

fn plain_auth(authzid: &str, user: &str, pass: &str) -> String {
    format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{}</auth>",
        b64(format!("{authzid}\0{user}\0{pass}").as_bytes())
    )
}

#[test]
fn rfc6120_4_header_is_answered_with_ours_and_features() {
    let mut s = script(ServerConfig::new("im.example.com", ServerSecret::new([7; 32])));
    s.feed(&header("im.example.com"));
    assert_eq!(
        s.out(),
        format!(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='{STREAMS}' from='im.example.com' id='s1' version='1.0' xml:lang='en'>\
             <stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>"
        )
    );
}

#[test]
fn rfc6120_4_9_3_header_faults_get_the_right_stream_error() {
    for (input, condition) in [
        (header("elsewhere.example"), "host-unknown"),
        ("<stream:stream to='im.example.com' version='1.0' xmlns:stream='urn:wrong'>".into(), "invalid-namespace"),
        (
            format!("<stream:stream to='im.example.com' version='1.0' xmlns='jabber:server' xmlns:stream='{STREAMS}'>"),
            "invalid-namespace",
        ),
        (
            format!("<stream:stream to='im.example.com' xmlns='jabber:client' xmlns:stream='{STREAMS}'>"),
            "unsupported-version",
        ),
        (
            format!(
                "<stream:stream to='im.example.com' version='1.0' xmlns='jabber:client' xmlns:stream='{STREAMS}'><!-- x -->"
            ),
            "restricted-xml",
        ),
    ] {
        let mut s = script(ServerConfig::new("im.example.com", ServerSecret::new([7; 32])));
        s.feed(&input);
        let out = s.out();
        // Our header first (RFC 6120 §4.9.1.2), then the error, then the close.
        assert!(out.starts_with("<?xml version='1.0'?><stream:stream"), "{out}");
        assert!(out.contains(&format!("<stream:error><{condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>")), "{condition}: {out}");
        assert!(s.closed().is_some());
    }
}

#[test]
fn rfc6120_4_9_3_5_a_domain_no_longer_served_is_host_gone() {
    let mut config = plaintext();
    config.gone_domains = vec![String::from("foo.im.example.com")];
    let mut s = script(config);
    s.feed(&header("foo.im.example.com"));
    let out = s.out();
    assert!(
        out.ends_with(
            "<stream:error><host-gone xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"
        ),
        "{out}"
    );
    assert!(matches!(
        s.closed(),
        Some(CloseReason::Violation(Violation::Header { condition: StreamErrorCondition::HostGone, .. }))
    ));
}

#[test]
fn hardening_16_plain_is_not_offered_over_plaintext_unless_allowed() {
    let mut c = ServerConfig::new("im.example.com", ServerSecret::new([7; 32]));
    c.tls = ServerTls::Optional;
    let mut s = script(c);
    s.feed(&header("im.example.com"));
    let out = s.out();
    assert!(out.contains("<mechanism>SCRAM-SHA-1</mechanism>") && !out.contains("PLAIN"), "{out}");
    assert!(!out.contains("-PLUS"), "no binding without TLS");
    // Asking for it anyway.
    s.feed(&plain_auth("", "juliet", "pass"));
    assert!(s.out().contains("<invalid-mechanism/>"));
    assert_eq!(s.events(), [Event::AuthAttemptFailed(SaslCondition::InvalidMechanism)]);
}

#[test]
fn after_tls_plus_mechanisms_and_binding_types_are_offered() {
    let mut s = script(ServerConfig::new("im.example.com", ServerSecret::new([7; 32])));
    s.feed(&header("im.example.com"));
    s.out();
    s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    assert_eq!(s.out(), "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    assert!(s.tls.is_some(), "the TLS hand-off is asked for");
    assert!(s.events().is_empty());
    s.tls_up(ChannelBinding::none().with(ChannelBindingType::TlsExporter, vec![1; 32]));
    s.feed(&header("im.example.com"));
    let out = s.out();
    assert!(out.contains("<mechanism>SCRAM-SHA-512-PLUS</mechanism>"), "{out}");
    assert!(out.contains("<mechanism>PLAIN</mechanism>"));
    assert!(out.contains(
        "<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'><channel-binding type='tls-exporter'/></sasl-channel-binding>"
    ));
    assert!(!out.contains("starttls"));
}

#[test]
fn hardening_11_data_after_proceed_is_not_processed() {
    let mut s = script(ServerConfig::new("im.example.com", ServerSecret::new([7; 32])));
    s.feed(&header("im.example.com"));
    s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    s.out();
    s.feed("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldABw</auth>");
    assert_eq!(s.closed(), Some(&CloseReason::Violation(Violation::DataAfterProceed)));
    assert_eq!(s.out(), "", "nothing more in plaintext");
}

/// go-xmpp (go-sendxmpp) writes `<starttls/>` followed by a newline in
/// one write. Whitespace carries nothing: it is dropped, the handshake
/// goes ahead, and nothing of it is read after TLS.
#[test]
fn whitespace_after_starttls_is_dropped_not_a_violation() {
    for tail in ["\n", " \r\n\t"] {
        let mut s = script(ServerConfig::new("im.example.com", ServerSecret::new([7; 32])));
        s.feed(&header("im.example.com"));
        s.out();
        s.feed(&format!("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>{tail}"));
        assert!(s.out().contains("<proceed"), "{tail:?}");
        assert_eq!(s.closed(), None, "{tail:?}");
        assert!(s.tls.is_some(), "the handshake is asked for ({tail:?})");
    }
    // Whitespace then anything else is still injection.
    let mut s = script(ServerConfig::new("im.example.com", ServerSecret::new([7; 32])));
    s.feed(&header("im.example.com"));
    s.out();
    s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\n<auth");
    assert_eq!(s.closed(), Some(&CloseReason::Violation(Violation::DataAfterProceed)));
}

/// CVE-2011-0411 class: plaintext pipelined after `<starttls/>` in the
/// same read must never be processed as if it had come over TLS.
#[test]
fn hardening_29_plaintext_pipelined_after_starttls_is_never_processed() {
    for chunking in ["whole", "split", "bytewise"] {
        let mut s = script(plaintext_allowed_after_tls());
        s.feed(&header("im.example.com"));
        s.out();
        let injected = format!("{}{}", header("im.example.com"), plain_auth("", "juliet", "pass"));
        let starttls = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
        match chunking {
            "whole" => s.feed(&format!("{starttls}{injected}")),
            "split" => {
                s.feed(starttls);
                s.feed(&injected);
            }
            _ => {
                s.feed(starttls);
                for b in injected.as_bytes() {
                    s.feed(core::str::from_utf8(core::slice::from_ref(b)).unwrap());
                }
            }
        }
        assert_eq!(s.closed(), Some(&CloseReason::Violation(Violation::DataAfterProceed)), "{chunking}");
        if chunking == "whole" {
            // Caught before the driver is asked for a handshake.
            assert!(s.tls.is_none(), "no handshake");
        }
        // Even a driver that runs the handshake anyway gets nothing out of
        // the injected bytes.
        s.tls_up(ChannelBinding::none());
        s.feed(&header("im.example.com"));
        assert!(!s.events.iter().any(|e| matches!(e, Event::AuthRequested(_))), "{chunking}: {:?}", s.events);
        let out = s.out();
        assert!(!out.contains("success") && !out.contains("features"), "{chunking}: {out}");
    }
}

/// TLS required, PLAIN offered once TLS is up.
fn plaintext_allowed_after_tls() -> ServerConfig {
    let mut c = ServerConfig::new("im.example.com", ServerSecret::new([7; 32]));
    c.mechanisms = vec![Mechanism::Plain];
    c
}

/// The SCRAM client-first for juliet with this GS2 header.
fn scram_auth(mechanism: &str, gs2: &str) -> String {
    format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='{mechanism}'>{}</auth>",
        b64(format!("{gs2}n=juliet,r=abc").as_bytes())
    )
}

fn tls_script(binding: ChannelBinding) -> Script {
    let mut s = script(ServerConfig::new("im.example.com", ServerSecret::new([7; 32])));
    s.feed(&header("im.example.com"));
    s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    s.tls_up(binding);
    s.feed(&header("im.example.com"));
    s.out();
    s.events();
    s
}

#[test]
fn hardening_17_gs2_flag_must_fit_the_offer() {
    let exporter = || ChannelBinding::none().with(ChannelBindingType::TlsExporter, vec![1; 32]);
    // `y` although -PLUS was offered: the -PLUS list was stripped.
    let mut s = tls_script(exporter());
    s.feed(&scram_auth("SCRAM-SHA-1", "y,,"));
    assert_eq!(s.events(), [Event::AuthAttemptFailed(SaslCondition::NotAuthorized)]);
    // `y` where nothing -PLUS was offered (no binding data): fine.
    let mut s = tls_script(ChannelBinding::none());
    s.feed(&scram_auth("SCRAM-SHA-1", "y,,"));
    assert!(matches!(s.events().as_slice(), [Event::AuthRequested(_)]));
    // p= with a non-PLUS mechanism, a -PLUS mechanism without p=, a type
    // we have no data for.
    for (mech, gs2) in
        [("SCRAM-SHA-1", "p=tls-exporter,,"), ("SCRAM-SHA-1-PLUS", "n,,"), ("SCRAM-SHA-1-PLUS", "p=tls-unique,,")]
    {
        let mut s = tls_script(exporter());
        s.feed(&scram_auth(mech, gs2));
        assert_eq!(s.events(), [Event::AuthAttemptFailed(SaslCondition::MalformedRequest)], "{mech} {gs2}");
    }
    // c= with other binding data than this channel's, under a proof that
    // is otherwise valid: only the binding check can refuse it.
    assert!(matches!(plus_login(&[1; 32]).as_slice(), [Event::Authenticated(_)]), "the same channel logs in");
    assert_eq!(plus_login(&[2; 32]), [Event::AuthAttemptFailed(SaslCondition::NotAuthorized)]);
}

/// A SCRAM-SHA-1-PLUS login by the core's own SCRAM client, which binds to
/// `client_data`, on a channel whose tls-exporter data is `[1; 32]`:
/// the server's events after the client-final.
fn plus_login(client_data: &[u8]) -> Vec<Event> {
    use crate::sasl::scram::{ClientBinding, ClientChecks, ClientSecret, ScramClient};
    let mut config = ServerConfig::new("im.example.com", ServerSecret::new([7; 32]));
    config.downgrade_protection = false;
    let mut s = script(config);
    s.feed(&header("im.example.com"));
    s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    s.tls_up(ChannelBinding::none().with(ChannelBindingType::TlsExporter, vec![1; 32]));
    s.feed(&header("im.example.com"));
    s.out();
    s.events();
    let secret = ClientSecret { password: Some("pass".into()), keys: Vec::new() };
    let checks =
        ClientChecks { min_iterations: 4096, max_iterations: 4096, expected_ssdp: String::new(), require_ssdp: false };
    let binding = ClientBinding::used(ChannelBindingType::TlsExporter, client_data);
    let (mut client, first) = ScramClient::start(ScramHash::Sha1, "juliet", binding, "abc".into(), secret, checks);
    s.feed(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1-PLUS'>{}</auth>",
        b64(&first)
    ));
    assert!(matches!(s.events().as_slice(), [Event::AuthRequested(_)]));
    let stored = ScramStored::from_password(ScramHash::Sha1, "pass", b"salt", 4096).unwrap();
    s.conn.authenticate(s.now, AuthAnswer::Scram(vec![stored])).unwrap();
    s.drain();
    let challenge = s.out();
    let server_first = {
        use base64::Engine;
        let text = challenge.split('>').nth(1).unwrap().split('<').next().unwrap();
        base64::engine::general_purpose::STANDARD.decode(text).unwrap()
    };
    let client_final = client.server_first(&server_first).unwrap();
    s.feed(&format!("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</response>", b64(&client_final)));
    s.events()
}

#[test]
fn hardening_18_bad_encoding_unoffered_mechanisms_and_foreign_authzids() {
    let mut s = script(plaintext());
    s.feed(&header("im.example.com"));
    s.out();
    s.feed("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%%%not-base64</auth>");
    assert_eq!(s.out(), "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><incorrect-encoding/></failure>");
    s.feed("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AAAA</response>");
    assert_eq!(s.out(), "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><invalid-mechanism/></failure>");
    let mut s = script(plaintext());
    s.feed(&header("im.example.com"));
    s.feed("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-OAUTH2'>AAAA</auth>");
    assert!(s.out().ends_with("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><invalid-mechanism/></failure>"));
    s.feed(&plain_auth("romeo@im.example.com", "juliet", "pass"));
    assert_eq!(s.out(), "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><invalid-authzid/></failure>");
    let events = s.events();
    assert_eq!(
        events,
        [
            Event::AuthAttemptFailed(SaslCondition::InvalidMechanism),
            Event::AuthAttemptFailed(SaslCondition::InvalidAuthzid)
        ]
    );
    // Her own JID as authzid is fine.
    let mut s = script(plaintext());
    s.feed(&header("im.example.com"));
    s.feed(&plain_auth("juliet@im.example.com", "juliet", "pass"));
    assert!(
        matches!(s.events().as_slice(), [Event::AuthRequested(r)] if r.authzid.as_deref() == Some("juliet@im.example.com"))
    );
}

#[test]
fn rfc6120_6_5_8_anonymous_trace_over_255_characters_is_malformed() {
    let mut config = plaintext();
    config.mechanisms = vec![Mechanism::Anonymous, Mechanism::Plain];
    let anonymous = |trace: &str| {
        format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'>{}</auth>", b64(trace.as_bytes()))
    };
    for bad in ["x".repeat(256), String::from("trace\u{7}bell")] {
        let mut s = script(config.clone());
        s.feed(&header("im.example.com"));
        s.out();
        s.feed(&anonymous(&bad));
        assert_eq!(s.out(), "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><malformed-request/></failure>");
        assert_eq!(s.events(), [Event::AuthAttemptFailed(SaslCondition::MalformedRequest)]);
    }
    // 255 characters (not bytes: 'é' is two) is within the limit.
    let mut s = script(config);
    s.feed(&header("im.example.com"));
    s.feed(&anonymous(&"\u{e9}".repeat(255)));
    assert!(matches!(s.events().as_slice(), [Event::AuthRequested(r)] if r.mechanism == Mechanism::Anonymous));
}

#[test]
fn rfc6120_5_4_2_2_starttls_not_offered_fails_and_closes() {
    let mut s = script(plaintext());
    s.feed(&header("im.example.com"));
    s.out();
    s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    assert_eq!(s.out(), "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>");
    assert_eq!(s.closed(), Some(&CloseReason::Negotiation(NegotiationError::TlsRefused)));
    assert!(s.tls.is_none());
}

#[test]
fn rfc6120_6_4_5_failed_attempts_are_limited() {
    let mut s = script(plaintext());
    s.feed(&header("im.example.com"));
    for _ in 0..3 {
        s.feed(&plain_auth("", "juliet", "wrong"));
        if s.closed().is_none() {
            s.conn.authenticate(s.now, AuthAnswer::Password("pass".into())).unwrap();
            s.drain();
        }
    }
    let out = s.out();
    assert_eq!(out.matches("<not-authorized/>").count(), 3);
    assert!(out.ends_with(
        "<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"
    ));
    assert_eq!(s.closed(), Some(&CloseReason::Violation(Violation::TooManyAuthAttempts)));
}

#[test]
fn plain_verifies_against_stored_scram_keys_without_a_password() {
    let stored = ScramStored::from_password(ScramHash::Sha256, "pass", b"salt", 4096).unwrap();
    let mut s = script(plaintext());
    s.feed(&header("im.example.com"));
    s.feed(&plain_auth("", "juliet", "pass"));
    s.conn.authenticate(s.now, AuthAnswer::Scram(vec![stored.clone()])).unwrap();
    s.drain();
    assert!(
        s.events().iter().any(|e| matches!(e, Event::Authenticated(Authenticated { mechanism: Mechanism::Plain, .. })))
    );
    let mut s = script(plaintext());
    s.feed(&header("im.example.com"));
    s.feed(&plain_auth("", "juliet", "nope"));
    s.conn.authenticate(s.now, AuthAnswer::Scram(vec![stored])).unwrap();
    s.drain();
    assert!(s.events().contains(&Event::AuthAttemptFailed(SaslCondition::NotAuthorized)));
}

#[test]
fn hardening_24_stanzas_before_authentication_are_not_authorized() {
    let mut s = script(plaintext());
    s.feed(&header("im.example.com"));
    s.out();
    s.feed("<message to='romeo@example.net'><body>too early</body></message>");
    assert_eq!(
        s.out(),
        "<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"
    );
    assert_eq!(s.closed(), Some(&CloseReason::Violation(Violation::NotAuthorized)));
    // Authenticated but not bound yet: still not.
    let mut s = script(plaintext());
    s.feed(&header("im.example.com"));
    s.feed(&plain_auth("", "juliet", "pass"));
    s.conn.authenticate(s.now, AuthAnswer::Password("pass".into())).unwrap();
    s.feed(&header("im.example.com"));
    s.out();
    s.feed("<presence/>");
    assert!(s.out().contains("<not-authorized "));
}

#[test]
fn hardening_24_unknown_top_level_elements_and_malformed_iqs() {
    let mut s = script(plaintext());
    s.online();
    s.feed("<iq type='get' to='im.example.com'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert_eq!(
        s.out(),
        "<iq to='juliet@im.example.com/balcony' from='im.example.com' type='error'><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
        "no id: still answered, from the original's to, back to the sender (RFC 6120 §8.3.1)"
    );
    s.feed("<iq id='m1' type='get'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>");
    assert!(s.out().contains("id='m1' type='error'><error type='modify'><bad-request"));
    s.feed("<iq id='m2' type='result'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>");
    assert!(s.out().contains("id='m2' type='error'"));
    assert!(s.events().iter().all(|e| !matches!(e, Event::Stanza(_))), "malformed stanzas go nowhere");
    s.feed("<message id='e1' type='error'><body>x</body></message>");
    assert_eq!(s.out(), "", "errors are never answered");
    assert!(matches!(s.events().as_slice(), [Event::Stanza(_)]), "a well-formed error is delivered");
    s.feed("<foo xmlns='urn:example:foo'/>");
    assert!(s.out().contains("<unsupported-stanza-type "));
    assert!(s.closed().is_some());
    // Unknown names in the content namespace too (RFC 6120 §4.9.3.24).
    let mut s = script(plaintext());
    s.online();
    s.feed("<pubsub><publish node='princely_musings'/></pubsub>");
    assert!(s.out().contains("<stream:error><unsupported-stanza-type "), "not a stanza-style error");
}

#[test]
fn hardening_23_from_is_stamped_or_rejected() {
    let mut s = script(plaintext());
    s.online();
    s.feed("<message from='romeo@example.net/orchard' to='nurse@example.com'><body>forged</body></message>");
    let events = s.events();
    let [Event::Stanza(Stanza::Message(m))] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(m.from().unwrap().as_str(), "juliet@im.example.com/balcony");
    // Overwritten, a `from` is not even read: a malformed one is stamped
    // over like any other (RFC 6120 §8.1.2.1: add or override).
    s.feed("<message from='@@not a jid' to='nurse@example.com'><body>odd</body></message>");
    assert_eq!(s.out(), "", "no error for an address that is replaced");
    let events = s.events();
    let [Event::Stanza(Stanza::Message(m))] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(m.from().unwrap().as_str(), "juliet@im.example.com/balcony");
    assert_eq!(m.element().attr("from"), Some("juliet@im.example.com/balcony"));

    let mut c = plaintext();
    c.invalid_from = InvalidFrom::Reject;
    let mut s = script(c);
    s.online();
    s.feed("<message from='juliet@im.example.com/balcony' to='nurse@example.com'><body>own</body></message>");
    assert!(matches!(s.events().as_slice(), [Event::Stanza(_)]));
    // Checked, a malformed `from` is a stanza error, as it always was.
    s.feed("<message id='m' from='@@not a jid' to='nurse@example.com'><body>odd</body></message>");
    assert!(s.out().contains("<jid-malformed "));
    assert!(s.events().is_empty());
    s.feed("<message from='romeo@example.net/orchard' to='nurse@example.com'><body>forged</body></message>");
    assert!(s.out().contains("<invalid-from "));
    assert_eq!(s.closed(), Some(&CloseReason::Violation(Violation::InvalidFrom)));
}

#[test]
fn hardening_27_unauthenticated_connections_time_out() {
    let mut c = plaintext();
    c.pre_auth_timeout = Duration::from_secs(20);
    let mut s = script(c);
    assert_eq!(s.conn.poll_timeout(), Some(Timestamp::from_millis(20_000)));
    s.now = Timestamp::from_millis(19_999);
    s.conn.handle_timeout(s.now);
    s.drain();
    assert!(s.closed().is_none());
    s.now = Timestamp::from_millis(20_000);
    s.conn.handle_timeout(s.now);
    s.drain();
    let out = s.out();
    assert!(out.starts_with("<?xml"), "our header, even though the client never sent one");
    assert!(out.contains("<connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"));
    assert_eq!(s.closed(), Some(&CloseReason::Timeout(TimeoutKind::PreAuth)));
    // Authenticating in time disarms it.
    let mut c = plaintext();
    c.pre_auth_timeout = Duration::from_secs(20);
    let mut s = script(c);
    s.online();
    // Only the release of idle buffers is left, a second on.
    assert_eq!(s.conn.poll_timeout(), Some(s.now + Duration::from_secs(1)));
    s.now += Duration::from_secs(1);
    s.conn.handle_timeout(s.now);
    s.drain();
    assert_eq!(s.conn.poll_timeout(), None);
}

#[test]
fn rfc6120_7_bind_decisions_and_bad_resources() {
    let mut s = script(plaintext());
    s.feed(&header("im.example.com"));
    s.feed(&plain_auth("", "juliet", "pass"));
    s.conn.authenticate(s.now, AuthAnswer::Password("pass".into())).unwrap();
    s.feed(&header("im.example.com"));
    s.out();
    s.events();
    // RFC 6120 §7.7.2.1: legal XML, but not a resourcepart (private use):
    // bad-request, without asking the application.
    s.feed("<iq type='set' id='b0'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>a\u{E000}</resource></bind></iq>");
    assert_eq!(
        s.out(),
        "<iq id='b0' type='error'><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    );
    assert!(s.events().is_empty());
    s.feed("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>");
    assert_eq!(s.events(), [Event::BindRequested(BindRequest { resource: Some("balcony".into()) })]);
    s.conn.bind(s.now, BindDecision::Reject(StanzaError::new(StanzaErrorCondition::Conflict))).unwrap();
    s.drain();
    assert_eq!(
        s.out(),
        "<iq id='b1' type='error'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    );
    s.feed("<iq type='set' id='b2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
    assert_eq!(s.events(), [Event::BindRequested(BindRequest { resource: None })]);
    s.conn.bind(s.now, BindDecision::Assign("chamber".into())).unwrap();
    s.drain();
    assert_eq!(
        s.out(),
        "<iq id='b2' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@im.example.com/chamber</jid></bind></iq>"
    );
    assert!(matches!(s.events().as_slice(), [Event::Online(j)] if j.resource() == Some("chamber")));
    assert_eq!(s.conn.bind(s.now, BindDecision::Accept), Err(ApiError::NotWaiting));
}

#[test]
fn sessions_and_pings_are_answered_by_the_server_core() {
    let mut c = plaintext();
    c.offer_session = true;
    let mut s = script(c);
    s.online();
    s.feed("<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
    assert_eq!(s.out(), "<iq to='juliet@im.example.com/balcony' id='s1' type='result'/>");
    s.feed("<iq type='get' id='p1' to='im.example.com'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert_eq!(s.out(), "<iq to='juliet@im.example.com/balcony' from='im.example.com' id='p1' type='result'/>");
    s.feed("<iq type='get' id='v1' to='im.example.com'><query xmlns='jabber:iq:version'/></iq>");
    assert!(matches!(s.events().as_slice(), [Event::Stanza(Stanza::Iq(_))]), "everything else goes to the application");
}

#[test]
fn a_stream_error_from_the_client_ends_the_connection() {
    let mut s = script(plaintext());
    s.feed(&header("im.example.com"));
    s.out();
    s.feed("<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>");
    assert_eq!(s.out(), "</stream:stream>");
    assert!(
        matches!(s.closed(), Some(CloseReason::StreamError(e)) if *e == StreamError::new(crate::condition::StreamErrorCondition::PolicyViolation))
    );
}

/// What one SCRAM-SHA-256 login attempt looked like from outside.
#[derive(Debug)]
struct Observed {
    /// The server-first-message's salt and iteration count, if a
    /// challenge came.
    salt_and_count: Option<(Vec<u8>, u32)>,
    /// What the server wrote after the proof (or after `<auth>`, if no
    /// challenge came), and its events then.
    last_out: String,
    last_events: Vec<Event>,
}

/// Logs in as `user` with `password` over SCRAM-SHA-256 (TLS already up);
/// the application answers the credential request with `answer`.
fn scram_attempt(user: &str, password: &str, answer: impl Fn(&AuthRequest) -> AuthAnswer) -> Observed {
    use crate::sasl::scram::{ClientBinding, ClientChecks, ClientSecret, ScramClient, parse_server_first};
    let mut config = ServerConfig::new("im.example.com", ServerSecret::new([7; 32]));
    config.scram_iterations = 4096;
    config.downgrade_protection = false;
    let mut s = script(config);
    s.feed(&header("im.example.com"));
    s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    s.tls_up(ChannelBinding::none());
    s.feed(&header("im.example.com"));
    s.out();
    s.events();
    let secret = ClientSecret { password: Some(password.into()), keys: Vec::new() };
    let checks =
        ClientChecks { min_iterations: 4096, max_iterations: 4096, expected_ssdp: String::new(), require_ssdp: false };
    let (mut client, first) =
        ScramClient::start(ScramHash::Sha256, user, ClientBinding::none(), "abc".into(), secret, checks);
    s.feed(&format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>{}</auth>", b64(&first)));
    let events = s.events();
    if let [Event::AuthRequested(request)] = events.as_slice() {
        s.conn.authenticate(s.now, answer(request)).unwrap();
        s.drain();
    }
    let out = s.out();
    let Some(text) = out.strip_prefix("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>") else {
        return Observed { salt_and_count: None, last_out: out, last_events: s.events() };
    };
    let server_first = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(text.split('<').next().unwrap()).unwrap()
    };
    let parsed = parse_server_first(&server_first).unwrap();
    let client_final = client.server_first(&server_first).unwrap();
    s.feed(&format!("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</response>", b64(&client_final)));
    Observed { salt_and_count: Some((parsed.salt, parsed.iterations)), last_out: s.out(), last_events: s.events() }
}

/// RFC 6120 §6.5.10, RFC 5802 §5.1: an unknown user looks like a wrong
/// password until the proof. The core runs a mock exchange with a salt
/// derived from the server's secret and the name (stable across
/// connections, different per name) and the configured iteration count.
#[test]
fn hardening_30_scram_for_an_unknown_user_looks_like_a_wrong_password() {
    let juliet = ScramStored::from_password(ScramHash::Sha256, "r0m30myr0m30", b"juliet-salt", 4096).unwrap();
    let known = |_: &AuthRequest| AuthAnswer::Scram(vec![juliet.clone()]);
    let unknown = |_: &AuthRequest| AuthAnswer::Reject(SaslCondition::NotAuthorized);
    let wrong_password = scram_attempt("juliet", "guess", known);
    let nobody = scram_attempt("nobody", "guess", unknown);
    let nobody_again = scram_attempt("nobody", "guess", unknown);
    let someone = scram_attempt("someone", "guess", unknown);
    assert_eq!(wrong_password.salt_and_count, Some((b"juliet-salt".to_vec(), 4096)));
    let (salt, count) = nobody.salt_and_count.clone().expect("a challenge, as for a real user");
    assert_eq!(count, 4096, "the configured iteration count");
    assert_eq!(nobody_again.salt_and_count, Some((salt.clone(), 4096)), "the same salt every time");
    assert_ne!(someone.salt_and_count.map(|s| s.0), Some(salt), "another name, another salt");
    for o in [&nobody, &nobody_again] {
        assert_eq!(o.last_out, wrong_password.last_out, "the same failure at the proof");
        assert_eq!(o.last_events, [Event::AuthAttemptFailed(SaslCondition::NotAuthorized)]);
    }
    assert_eq!(wrong_password.last_events, [Event::AuthAttemptFailed(SaslCondition::NotAuthorized)]);
}

#[test]
fn hardening_30_unknown_user_answer_runs_the_same_mock_exchange() {
    let by_reject = scram_attempt("nobody", "guess", |_| AuthAnswer::Reject(SaslCondition::NotAuthorized));
    let by_name = scram_attempt("nobody", "guess", |_| AuthAnswer::UnknownUser);
    assert!(by_name.salt_and_count.is_some());
    assert_eq!(by_name.salt_and_count, by_reject.salt_and_count);
    assert_eq!(by_name.last_out, by_reject.last_out);
    // Even the right password for a mock salt opens nothing.
    assert_eq!(by_name.last_events, [Event::AuthAttemptFailed(SaslCondition::NotAuthorized)]);
    // Other refusals are immediate: the application chose to tell.
    let disabled = scram_attempt("juliet", "guess", |_| AuthAnswer::Reject(SaslCondition::AccountDisabled));
    assert_eq!(disabled.salt_and_count, None);
    assert!(disabled.last_out.contains("<account-disabled/>"), "{}", disabled.last_out);
}

/// Credentials the core derives from a password the application hands
/// over get the same stable, secret-derived salt as a mock exchange would.
#[test]
fn hardening_30_password_answers_get_a_stable_salt() {
    let first = scram_attempt("juliet", "pass", |_| AuthAnswer::Password("pass".into()));
    let again = scram_attempt("juliet", "pass", |_| AuthAnswer::Password("pass".into()));
    assert!(first.salt_and_count.is_some());
    assert_eq!(first.salt_and_count, again.salt_and_count);
    assert!(matches!(first.last_events.as_slice(), [Event::Authenticated(_)]), "{:?}", first.last_events);
}

#[test]
fn hardening_30_plain_fails_alike_for_unknown_users_and_wrong_passwords() {
    let attempt = |user: &str, answer: AuthAnswer| {
        let mut s = script(plaintext());
        s.feed(&header("im.example.com"));
        s.out();
        s.feed(&plain_auth("", user, "guess"));
        assert!(matches!(s.events().as_slice(), [Event::AuthRequested(_)]));
        s.conn.authenticate(s.now, answer).unwrap();
        s.drain();
        (s.out(), s.events())
    };
    let stored = ScramStored::from_password(ScramHash::Sha1, "pass", b"salt", 4096).unwrap();
    let wrong = attempt("juliet", AuthAnswer::Scram(vec![stored]));
    let wrong_plaintext = attempt("juliet", AuthAnswer::Password("pass".into()));
    let unknown = attempt("nobody", AuthAnswer::UnknownUser);
    let rejected = attempt("nobody", AuthAnswer::Reject(SaslCondition::NotAuthorized));
    for other in [&wrong_plaintext, &unknown, &rejected] {
        assert_eq!(other, &wrong);
    }
    assert_eq!(wrong.1, [Event::AuthAttemptFailed(SaslCondition::NotAuthorized)]);
}

/// RFC 7622 §3.3: the application is asked about the prepared account
/// (`JULIET` is juliet), and a name that cannot be prepared is refused
/// before it is asked at all.
#[test]
fn hardening_30_the_application_is_asked_about_the_prepared_account() {
    let juliet = BareJid::new("juliet@im.example.com").unwrap();
    for (mechanism, auth) in [
        ("PLAIN", plain_auth("", "JULIET", "pass")),
        (
            "SCRAM-SHA-1",
            format!(
                "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>{}</auth>",
                b64(b"n,,n=JULIET,r=abc")
            ),
        ),
    ] {
        let mut config = plaintext();
        config.mechanisms = vec![Mechanism::ScramSha1, Mechanism::Plain];
        let mut s = script(config);
        s.feed(&header("im.example.com"));
        s.feed(&auth);
        match s.events().as_slice() {
            [Event::AuthRequested(r)] => assert_eq!(r.account.as_ref(), Some(&juliet), "{mechanism}"),
            other => panic!("{mechanism}: {other:?}"),
        }
    }
    // A space is not allowed in a localpart (RFC 7622 §3.3.1).
    let mut s = script(plaintext());
    s.feed(&header("im.example.com"));
    s.feed(&plain_auth("", "ju liet", "pass"));
    assert_eq!(s.events(), [Event::AuthAttemptFailed(SaslCondition::NotAuthorized)]);
    // PLAIN succeeds as the prepared account.
    let mut s = script(plaintext());
    s.feed(&header("im.example.com"));
    s.feed(&plain_auth("", "JULIET", "pass"));
    s.events();
    s.conn.authenticate(s.now, AuthAnswer::Password("pass".into())).unwrap();
    s.drain();
    assert!(matches!(s.events().as_slice(), [Event::Authenticated(a)] if a.account == juliet), "{:?}", s.events);
}

/// Between SASL success and binding the server must not wait forever: a
/// client that authenticates and then goes silent is closed at the bind
/// deadline with `connection-timeout`.
#[test]
fn hardening_31_server_closes_a_client_that_authenticates_but_never_binds() {
    let mut s = script(plaintext());
    s.feed(&header("im.example.com"));
    s.feed(&plain_auth("", "juliet", "pass"));
    s.conn.authenticate(s.now, AuthAnswer::Password("pass".into())).unwrap();
    s.drain();
    s.feed(&header("im.example.com"));
    s.out();
    s.events();
    assert!(s.conn.poll_timeout().is_some(), "a bind deadline is armed");
    s.advance(Duration::from_secs(59));
    assert_eq!(s.closed(), None);
    s.advance(Duration::from_secs(1));
    assert_eq!(s.closed(), Some(&CloseReason::Timeout(TimeoutKind::Negotiation)));
    let out = s.out();
    assert!(out.contains("<connection-timeout") && out.ends_with("</stream:stream>"), "{out}");
}

/// Once bound, no deadline is left by default but the release of idle
/// buffers a second after the session went idle, once.
#[test]
fn hardening_31_an_online_session_has_no_deadline_by_default() {
    let mut s = script(plaintext());
    s.online();
    let release = s.now + Duration::from_secs(1);
    assert_eq!(s.conn.poll_timeout(), Some(release));
    s.now = release;
    s.conn.handle_timeout(s.now);
    s.drain();
    assert_eq!(s.conn.poll_timeout(), None);
    assert!(s.closed().is_none());
}

/// XEP-0199 server-to-client pings, when configured: after `ping_interval`
/// without input the server pings; any traffic keeps the session; the
/// answer to the server's own ping is not handed to the application;
/// silence for `ping_timeout` after a ping ends the session.
#[test]
fn hardening_31_server_pings_an_idle_client_and_closes_a_silent_one() {
    let mut config = plaintext();
    config.stream.ping_interval = Some(Duration::from_secs(300));
    config.stream.ping_timeout = Duration::from_secs(30);
    let mut s = script(config);
    s.online();
    s.advance(Duration::from_secs(299));
    assert_eq!(s.out(), "");
    s.advance(Duration::from_secs(1));
    let ping = s.out();
    assert!(
        ping.contains("<ping xmlns='urn:xmpp:ping'/>") && ping.contains("to='juliet@im.example.com/balcony'"),
        "{ping}"
    );
    let id = String::from(ping.split("id='").nth(1).unwrap().split('\'').next().unwrap());
    s.advance(Duration::from_secs(10));
    s.feed(&format!("<iq type='result' id='{id}' to='im.example.com'/>"));
    assert_eq!(s.events(), [], "the ping's answer is the server's own business");
    assert_eq!(s.closed(), None);
    // Silent from now on: pinged again after the interval, then closed.
    s.advance(Duration::from_secs(300));
    assert!(s.out().contains("urn:xmpp:ping"));
    assert_eq!(s.closed(), None);
    s.advance(Duration::from_secs(30));
    assert_eq!(s.closed(), Some(&CloseReason::Timeout(TimeoutKind::Ping)));
    assert!(s.out().contains("<connection-timeout"));
}

/// Reads one element in the `jabber:client` stream context.
fn parse_one(xml: &str) -> crate::xml::Element {
    use crate::xml::{Limits, StreamEvent, StreamReader};
    let mut reader = StreamReader::new(Limits::default());
    reader.feed(header("im.example.com").as_bytes());
    reader.feed(xml.as_bytes());
    let mut found = None;
    while let Some(event) = reader.next_event().unwrap() {
        if let StreamEvent::Element(e) = event {
            found = Some(e);
        }
    }
    found.expect("one element")
}

/// An element compared as XML: names as (namespace, local name),
/// attributes as a set, children and text in order.
fn canonical(element: &crate::xml::Element) -> String {
    use crate::xml::NodeRef;
    let mut attrs: Vec<String> =
        element.attrs().map(|a| format!("{{{}}}{}={:?}", a.ns(), a.name(), a.value())).collect();
    attrs.sort();
    let mut out = format!("<{{{}}}{} {}>", element.ns(), element.name(), attrs.join(" "));
    for node in element.nodes() {
        match node {
            NodeRef::Element(child) => out.push_str(&canonical(child)),
            NodeRef::Text(text) => out.push_str(&format!("{text:?}")),
        }
    }
    out.push_str("</>");
    out
}

/// RFC 6120 §8.4 and §8.1.2.1: a stanza the server routes keeps what it
/// carried: a `type` this library does not know, an attribute in a
/// foreign namespace, children in an order no builder would choose, text
/// with entities. Only `from` is stamped. The second connection stands for
/// the contact's session the server's application routes it to.
#[test]
fn rfc6120_8_4_a_routed_stanza_comes_out_equal_but_for_the_stamped_from() {
    let sent = "<message to='romeo@example.net' type='x-private' xmlns:e='urn:example:e' e:flag='1' id='m1' xml:lang='en'>\
                <e:x e:n='2'>first &amp; foremost</e:x><body>second</body><thread parent='p'>t1</thread>\
                <subject>third</subject><e:x/></message>";
    let mut juliet = script(plaintext());
    juliet.online();
    juliet.feed(sent);
    let events = juliet.events();
    let [Event::Stanza(stanza)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(juliet.out(), "", "nothing answered");
    // Out through another session's connection.
    let mut romeo = script(plaintext());
    romeo.online();
    romeo.conn.send(romeo.now, stanza.clone()).unwrap();
    romeo.drain();
    let written = romeo.out();
    let mut expected = parse_one(sent);
    expected.set_attr("from", "juliet@im.example.com/balcony").unwrap();
    assert_eq!(canonical(&parse_one(&written)), canonical(&expected), "{written}");
    // And the unknown type is still there to read.
    assert_eq!(stanza.element().attr("type"), Some("x-private"));
}

#[test]
fn rfc6120_4_9_3_24_an_unexpected_element_ends_the_stream_as_in_every_role() {
    let mut s = script(plaintext());
    s.online();
    super::testing::assert_an_unexpected_element_ends_the_stream(&mut s);
}

#[test]
fn rfc6120_4_4_stanzas_after_our_close_are_delivered() {
    let mut s = script(plaintext());
    s.online();
    super::testing::assert_stanzas_after_our_close_are_still_delivered(
        &mut s,
        "<message to='romeo@example.net'><body>late</body></message>",
    );
}

/// RFC 6120 §6.4 / RFC 4422 Appendix A: EXTERNAL asks the application
/// with the identities the driver's TLS stack verified in the client's
/// certificate (`TlsInfo::peer_identities`).
#[test]
fn sasl_external_hands_the_certificate_identities_to_the_application() {
    let mut config = ServerConfig::new("im.example.com", ServerSecret::new([7; 32]));
    config.mechanisms = vec![Mechanism::External];
    let mut s = script(config);
    s.feed(&header("im.example.com"));
    s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    assert!(s.tls.is_some());
    let identities = vec![String::from("juliet@im.example.com")];
    s.conn.handle_tls_established(s.now, TlsInfo::new().with_peer_identities(identities.clone()));
    s.drain();
    s.feed(&header("im.example.com"));
    assert!(s.out().contains("<mechanism>EXTERNAL</mechanism>"));
    s.events();
    s.feed("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>");
    let events = s.events();
    let [Event::AuthRequested(request)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(request.peer_identities, identities);
    s.conn.authenticate(s.now, AuthAnswer::Accept(BareJid::new("juliet@im.example.com").unwrap())).unwrap();
    s.drain();
    assert!(s.out().contains("<success"));
}

/// Found in review: a restart header could switch the stream to another
/// served domain after the client authenticated under the first.
#[test]
fn rfc6120_4_3_3_the_restarted_stream_keeps_its_domain() {
    let mut config = plaintext();
    config.domains.push("other.example.com".into());
    let mut s = script(config);
    s.feed(&header("im.example.com"));
    s.feed(&plain_auth("", "juliet", "pass"));
    s.conn.authenticate(s.now, AuthAnswer::Password("pass".into())).unwrap();
    s.drain();
    s.out();
    s.feed(&header("other.example.com"));
    assert!(s.out().contains("<host-unknown "), "the domain authenticated under stays");
    assert!(matches!(
        s.closed(),
        Some(CloseReason::Violation(Violation::Header { condition: StreamErrorCondition::HostUnknown, .. }))
    ));
}

#[test]
fn the_application_cannot_answer_for_a_stream_it_closed() {
    let mut s = script(plaintext());
    s.feed(&header("im.example.com"));
    s.feed(&plain_auth("", "juliet", "pass"));
    s.conn.close(s.now).unwrap();
    s.drain();
    assert_eq!(s.conn.authenticate(s.now, AuthAnswer::Password("pass".into())), Err(ApiError::Closed));
}
