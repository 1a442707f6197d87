//! Client tests: a scripted server drives the client through every branch
//! of negotiation and the stanza layer. Names cite the RFC section or the
//! HARDENING.md line.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::{format, vec};
use core::time::Duration;

use super::testing::Driver;
use super::*;
use crate::condition::StreamErrorCondition;
use crate::condition::{SaslCondition, StanzaErrorCondition};
use crate::entropy::Seeded;
use crate::jid::Jid;
use crate::sasl::{BindingOutcome, Mechanism};
use crate::sasl::{ChannelBinding, ChannelBindingPolicy, ChannelBindingType, Credentials, ScramError};
use crate::stanza::{Iq, Message, Presence, Stanza, StanzaError};
use crate::time::Timestamp;
use crate::xml::Element;

const STREAMS: &str = "http://etherx.jabber.org/streams";

fn server_header(id: &str) -> String {
    format!(
        "<?xml version='1.0'?><stream:stream from='im.example.com' id='{id}' to='juliet@im.example.com' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='{STREAMS}'>"
    )
}

const FEATURES_TLS: &str =
    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>";
const PROCEED: &str = "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
const FEATURES_SCRAM: &str = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1-PLUS</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features>";
const FEATURES_BIND: &str = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>";
// RFC 6120 §9.1.2, decoded.
const SERVER_FIRST: &str = "r=oMsTAAwAAAAMAAAANP0TAAAAAABPU0AAe124695b-69a9-4de6-9c30-b51b3808c59e,s=NjhkYTM0MDgtNGY0Zi00NjdmLTkxMmUtNDlmNTNmNDNkMDMz,i=4096";
const SERVER_FINAL: &str = "v=pNNDFVEQxuXxCoSEiW8GEZ+1RSo=";

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn challenge(s: &str) -> String {
    format!("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</challenge>", b64(s))
}

fn success(s: &str) -> String {
    format!("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</success>", b64(s))
}

/// A client under test with its collected output.
type Harness = Driver<ClientRole>;

fn config() -> ClientConfig {
    let mut c =
        ClientConfig::new(Jid::new("juliet@im.example.com/balcony").unwrap(), Credentials::password("r0m30myr0m30"));
    // RFC 6120 §9.1 uses SCRAM-SHA-1 with `n`: no channel binding here.
    c.channel_binding = ChannelBindingPolicy::Disabled;
    c
}

fn entropy() -> Seeded {
    let mut e = Seeded::new(1);
    e.push_nonce("oMsTAAwAAAAMAAAANP0TAAAAAABPU0AA").push_stanza_id("yhc13a95");
    e
}

fn client(config: ClientConfig, entropy: Seeded) -> Harness {
    Driver::new(Client::new(config, Box::new(entropy), Timestamp::ZERO).unwrap())
}

impl Driver<ClientRole> {
    /// Runs RFC 6120 §9.1 up to the point where authentication is done and
    /// the restarted stream is open.
    fn through_sasl(&mut self) {
        self.feed(&server_header("t7AMCin9zjMNwQKDnplntZPIDEI="));
        self.feed(FEATURES_TLS);
        self.feed(PROCEED);
        self.tls_up(ChannelBinding::none());
        self.feed(&server_header("vgKi/bkYME8OAj4rlXMkpucAqe4="));
        self.feed(FEATURES_SCRAM);
        self.feed(&challenge(SERVER_FIRST));
        self.feed(&success(SERVER_FINAL));
        self.out();
        self.events();
    }

    /// Through binding: online as juliet@im.example.com/balcony.
    fn online(&mut self) {
        self.through_sasl();
        self.feed(&server_header("id3"));
        self.feed(FEATURES_BIND);
        self.feed("<iq id='yhc13a95' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@im.example.com/balcony</jid></bind></iq>");
        assert!(matches!(self.events().as_slice(), [Event::Online(_)]));
        self.out();
    }
}

fn jid(s: &str) -> Jid {
    Jid::new(s).unwrap()
}

#[test]
fn rfc6120_9_1_full_client_to_server_negotiation() {
    let mut h = client(config(), entropy());
    // Step 1: the stream header, without `from` before TLS.
    assert_eq!(
        h.out(),
        format!(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='{STREAMS}' to='im.example.com' version='1.0' xml:lang='en'>"
        )
    );
    h.feed(&server_header("t7AMCin9zjMNwQKDnplntZPIDEI="));
    assert_eq!(h.conn.stream_id(), Some("t7AMCin9zjMNwQKDnplntZPIDEI="));
    h.feed(FEATURES_TLS);
    assert_eq!(h.out(), "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    h.feed(PROCEED);
    assert!(h.tls.is_some(), "the TLS hand-off is asked for");
    assert!(h.events().is_empty());
    assert_eq!(h.out(), "");
    h.tls_up(ChannelBinding::none());
    assert!(h.conn.is_secure());
    // Step 7: a new stream, now with `from`.
    assert_eq!(
        h.out(),
        format!(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='{STREAMS}' to='im.example.com' from='juliet@im.example.com' version='1.0' xml:lang='en'>"
        )
    );
    h.feed(&server_header("vgKi/bkYME8OAj4rlXMkpucAqe4="));
    h.feed(FEATURES_SCRAM);
    // Step 9, with the RFC's exact data.
    assert_eq!(
        h.out(),
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>biwsbj1qdWxpZXQscj1vTXNUQUF3QUFBQU1BQUFBTlAwVEFBQUFBQUJQVTBBQQ==</auth>"
    );
    h.feed(&challenge(SERVER_FIRST));
    assert_eq!(
        h.out(),
        "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>Yz1iaXdzLHI9b01zVEFBd0FBQUFNQUFBQU5QMFRBQUFBQUFCUFUwQUFlMTI0Njk1Yi02OWE5LTRkZTYtOWMzMC1iNTFiMzgwOGM1OWUscD1VQTU3dE0vU3ZwQVRCa0gyRlhzMFdEWHZKWXc9</response>"
    );
    h.feed(&success(SERVER_FINAL));
    let events = h.events();
    let [Event::Authenticated(auth)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(auth.mechanism, Mechanism::ScramSha1);
    assert_eq!(auth.channel_binding, BindingOutcome::NotSupported);
    let keys = auth.scram_keys.clone().unwrap();
    assert_eq!((keys.iterations, keys.salt.as_slice()), (4096, &b"68da3408-4f4f-467f-912e-49f53f43d033"[..]));
    // Step 13: restart.
    assert!(h.out().starts_with("<?xml version='1.0'?><stream:stream"));
    h.feed(&server_header("id3"));
    h.feed(FEATURES_BIND);
    assert_eq!(
        h.out(),
        "<iq id='yhc13a95' type='set'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>"
    );
    h.feed("<iq id='yhc13a95' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@im.example.com/balcony</jid></bind></iq>");
    assert_eq!(h.events(), [Event::Online(jid("juliet@im.example.com/balcony"))]);
    assert_eq!(h.conn.jid().unwrap().as_str(), "juliet@im.example.com/balcony");
}

#[test]
fn cached_scram_keys_log_in_without_the_password() {
    let mut h = client(config(), entropy());
    h.through_sasl();
    // Done once; keys come from the first login.
    let mut first = client(config(), entropy());
    first.feed(&server_header("a"));
    first.feed(FEATURES_TLS);
    first.feed(PROCEED);
    first.tls_up(ChannelBinding::none());
    first.feed(&server_header("b"));
    first.feed(FEATURES_SCRAM);
    first.feed(&challenge(SERVER_FIRST));
    first.feed(&success(SERVER_FINAL));
    let Some(Event::Authenticated(auth)) = first.events().into_iter().find(|e| matches!(e, Event::Authenticated(_)))
    else {
        panic!()
    };
    let mut cfg = config();
    cfg.credentials = Credentials::scram_keys(vec![auth.scram_keys.unwrap()]);
    let mut again = client(cfg, entropy());
    again.through_sasl();
    again.feed(&server_header("id3"));
    assert!(again.closed().is_none(), "{:?}", again.events);
}

#[test]
fn hardening_10_tls_required_but_not_offered_stops_before_auth() {
    let mut h = client(config(), entropy());
    h.out();
    h.feed(&server_header("a"));
    h.feed(FEATURES_SCRAM);
    let out = h.out();
    assert!(!out.contains("<auth"), "{out}");
    assert!(out.contains("<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"), "{out}");
    assert!(out.ends_with("</stream:stream>"));
    assert_eq!(h.closed(), Some(&CloseReason::Negotiation(NegotiationError::TlsUnavailable)));
}

#[test]
fn tls_optional_continues_in_plaintext_and_disabled_refuses_required_tls() {
    let mut cfg = config();
    cfg.tls = TlsMode::Optional;
    cfg.mechanisms = vec![Mechanism::ScramSha1];
    let mut h = client(cfg, entropy());
    h.feed(&server_header("a"));
    h.feed(FEATURES_SCRAM);
    assert!(h.out().contains("<auth"));
    assert!(!h.conn.is_secure());

    let mut cfg = config();
    cfg.tls = TlsMode::Disabled;
    let mut h = client(cfg, entropy());
    h.feed(&server_header("a"));
    h.feed(FEATURES_TLS);
    assert_eq!(h.closed(), Some(&CloseReason::Negotiation(NegotiationError::TlsRequiredByServer)));
}

#[test]
fn rfc6120_4_9_3_23_an_unknown_mandatory_feature_alone_is_unsupported_feature() {
    const EXAMPLE: &str = "<example xmlns='urn:xmpp:example'><required/></example>";
    let mut cfg = config();
    cfg.tls = TlsMode::Disabled;
    cfg.mechanisms = vec![Mechanism::ScramSha1];
    let mut h = client(cfg.clone(), entropy());
    h.out();
    h.feed(&server_header("a"));
    h.feed(&format!("<stream:features>{EXAMPLE}</stream:features>"));
    assert_eq!(
        h.out(),
        "<stream:error><unsupported-feature xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"
    );
    let expected = NegotiationError::UnsupportedFeature { name: "example".into(), ns: "urn:xmpp:example".into() };
    assert_eq!(h.closed(), Some(&CloseReason::Negotiation(expected)));
    // Beside a feature we can negotiate, the unknown one does not stop us;
    // an unknown feature that is not required does not count.
    let features = [
        format!(
            "<stream:features>{EXAMPLE}<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>"
        ),
        String::from("<stream:features><example xmlns='urn:xmpp:example'/></stream:features>"),
    ];
    let mut h = client(cfg.clone(), entropy());
    h.feed(&server_header("a"));
    h.feed(&features[0]);
    assert!(h.out().contains("<auth"));
    let mut h = client(cfg, entropy());
    h.feed(&server_header("a"));
    h.feed(&features[1]);
    assert!(!h.out().contains("unsupported-feature"));
    assert!(!matches!(h.closed(), Some(CloseReason::Negotiation(NegotiationError::UnsupportedFeature { .. }))));
}

#[test]
fn rfc6120_5_4_2_2_starttls_failure_ends_the_connection() {
    let mut h = client(config(), entropy());
    h.feed(&server_header("a"));
    h.feed(FEATURES_TLS);
    h.feed("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>");
    assert_eq!(h.closed(), Some(&CloseReason::Negotiation(NegotiationError::TlsRefused)));
    assert!(h.conn.is_closed());
}

#[test]
fn hardening_11_bytes_after_proceed_are_never_processed() {
    // In the same read as <proceed/>.
    let mut h = client(config(), entropy());
    h.feed(&server_header("a"));
    h.feed(FEATURES_TLS);
    h.out();
    h.feed(&format!("{PROCEED}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"));
    assert_eq!(h.closed(), Some(&CloseReason::Violation(Violation::DataAfterProceed)));
    assert!(h.tls.is_none(), "no TLS hand-off");
    assert_eq!(h.out(), "", "nothing more goes out in plaintext");
    // In a later read, while the TLS handshake is due.
    let mut h = client(config(), entropy());
    h.feed(&server_header("a"));
    h.feed(FEATURES_TLS);
    h.feed(PROCEED);
    h.feed("<stream:features/>");
    assert_eq!(h.closed(), Some(&CloseReason::Violation(Violation::DataAfterProceed)));
}

#[test]
fn whitespace_after_proceed_is_dropped_not_a_violation() {
    let mut h = client(config(), entropy());
    h.feed(&server_header("a"));
    h.feed(FEATURES_TLS);
    h.out();
    h.feed(&format!("{PROCEED}\n"));
    assert_eq!(h.closed(), None);
    assert!(h.tls.is_some(), "the TLS hand-off comes");
}

#[test]
fn hardening_11_pre_tls_features_are_forgotten() {
    // Before TLS the server offers PLAIN only; after TLS, SCRAM only. The
    // client must act on the second list, not remember the first.
    let mut cfg = config();
    cfg.mechanisms = vec![Mechanism::ScramSha1, Mechanism::Plain];
    let mut h = client(cfg, entropy());
    h.feed(&server_header("a"));
    h.feed("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>");
    h.feed(PROCEED);
    h.tls_up(ChannelBinding::none());
    assert_eq!(h.conn.stream_id(), None, "the plaintext stream id is gone too");
    h.out();
    h.feed(&server_header("b"));
    h.feed("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>");
    assert!(h.out().contains("mechanism='SCRAM-SHA-1'"));
}

#[test]
fn hardening_12_see_other_host_keeps_the_certificate_identity() {
    let mut h = client(config(), entropy());
    h.feed(&server_header("a"));
    h.feed("<stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>[2001:db8::ea7:ed]:9222</see-other-host></stream:error></stream:stream>");
    let Some(CloseReason::StreamError(e)) = h.closed() else { panic!("{:?}", h.events) };
    assert_eq!(e.condition, StreamErrorCondition::SeeOtherHost);
    assert_eq!(e.condition_text.as_deref(), Some("[2001:db8::ea7:ed]:9222"));
    assert_eq!(h.conn.tls_server_name(), "im.example.com");
}

/// Runs to the SASL challenge and feeds `server_first`.
fn at_challenge(server_first: &str) -> Harness {
    let mut h = client(config(), entropy());
    h.feed(&server_header("a"));
    h.feed(FEATURES_TLS);
    h.feed(PROCEED);
    h.tls_up(ChannelBinding::none());
    h.feed(&server_header("b"));
    h.feed(FEATURES_SCRAM);
    h.out();
    h.feed(&challenge(server_first));
    h
}

#[test]
fn hardening_13_bad_server_nonce_or_mandatory_extension_aborts() {
    for (server_first, error) in [
        ("r=someoneelse,s=NjhkYTM0MDgtNGY0Zi00NjdmLTkxMmUtNDlmNTNmNDNkMDMz,i=4096", ScramError::NonceMismatch),
        ("m=x,r=oMsTAAwAAAAMAAAANP0TAAAAAABPU0AAe1,s=NjhkYTM0MDg=,i=4096", ScramError::MandatoryExtension),
    ] {
        let mut h = at_challenge(server_first);
        let out = h.out();
        assert!(out.starts_with("<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"), "{out}");
        assert!(!out.contains("<response"));
        assert_eq!(h.closed(), Some(&CloseReason::Negotiation(NegotiationError::Auth(AuthError::Scram(error)))));
    }
}

#[test]
fn hardening_14_iteration_counts_outside_the_bounds_abort() {
    for (i, error) in [
        ("4095", ScramError::IterationCount { count: 4095, min: 4096, max: 1_000_000 }),
        ("0", ScramError::Malformed("bad iteration count")),
        ("-1", ScramError::Malformed("bad iteration count")),
        ("many", ScramError::Malformed("bad iteration count")),
        ("4294967295", ScramError::IterationCount { count: u32::MAX, min: 4096, max: 1_000_000 }),
    ] {
        let h = at_challenge(&format!("r=oMsTAAwAAAAMAAAANP0TAAAAAABPU0AAe1,s=NjhkYTM0MDg=,i={i}"));
        assert_eq!(
            h.closed(),
            Some(&CloseReason::Negotiation(NegotiationError::Auth(AuthError::Scram(error)))),
            "i={i}"
        );
    }
}

#[test]
fn hardening_15_success_without_a_valid_server_signature_is_failure() {
    for (data, error) in [
        (Some("v=AAAAAAAAAAAAAAAAAAAAAAAAAAA="), ScramError::ServerSignature),
        (Some("e=other-error"), ScramError::ServerError("other-error".into())),
        (None, ScramError::ServerSignature),
    ] {
        let mut h = at_challenge(SERVER_FIRST);
        match data {
            Some(d) => h.feed(&success(d)),
            None => h.feed("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"),
        }
        assert!(!h.events.iter().any(|e| matches!(e, Event::Authenticated(_))));
        assert_eq!(h.closed(), Some(&CloseReason::Negotiation(NegotiationError::Auth(AuthError::Scram(error)))));
        assert!(!h.out().contains("<stream:stream"), "no restart after a failed success");
    }
    // The server-final-message in a challenge, then an empty success.
    let mut h = at_challenge(SERVER_FIRST);
    h.out();
    h.feed(&challenge(SERVER_FINAL));
    assert_eq!(h.out(), "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    h.feed("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    assert!(h.events.iter().any(|e| matches!(e, Event::Authenticated(_))));
}

#[test]
fn hardening_16_channel_binding_flags_in_the_client() {
    let exporter = ChannelBinding::none().with(ChannelBindingType::TlsExporter, vec![7u8; 32]);
    let run = |features: &str, binding: ChannelBinding| {
        let mut cfg = config();
        cfg.channel_binding = ChannelBindingPolicy::Compatible;
        let mut h = client(cfg, entropy());
        h.feed(&server_header("a"));
        h.feed(FEATURES_TLS);
        h.feed(PROCEED);
        h.tls_up(binding);
        h.feed(&server_header("b"));
        h.out();
        h.feed(features);
        h.out()
    };
    // No -PLUS offered: `y`.
    let out = run(
        "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>",
        exporter.clone(),
    );
    assert!(out.contains(&b64("y,,n=juliet,r=oMsTAAwAAAAMAAAANP0TAAAAAABPU0AA")), "{out}");
    // -PLUS with a listed common type: bound.
    let out = run(
        "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1-PLUS</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms><sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'><channel-binding type='tls-exporter'/></sasl-channel-binding></stream:features>",
        exporter.clone(),
    );
    assert!(out.contains("mechanism='SCRAM-SHA-1-PLUS'"), "{out}");
    assert!(out.contains(&b64("p=tls-exporter,,n=juliet,r=oMsTAAwAAAAMAAAANP0TAAAAAABPU0AA")));
    // PLAIN never over plaintext.
    let mut cfg = config();
    cfg.tls = TlsMode::Optional;
    let mut h = client(cfg, entropy());
    h.feed(&server_header("a"));
    h.feed("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>");
    assert!(!h.out().contains("<auth"));
    assert!(matches!(h.closed(), Some(CloseReason::Negotiation(NegotiationError::Auth(AuthError::Select(_))))));
}

#[test]
fn rfc6120_6_5_every_sasl_failure_condition_is_typed() {
    for &condition in SaslCondition::ALL {
        let mut h = at_challenge(SERVER_FIRST);
        h.feed(&format!(
            "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><{condition}/><text xml:lang='en'>why</text></failure>"
        ));
        assert_eq!(
            h.closed(),
            Some(&CloseReason::Negotiation(NegotiationError::Auth(AuthError::Failure {
                condition,
                text: Some("why".into())
            }))),
            "{condition}"
        );
    }
}

#[test]
fn rfc6120_7_7_2_2_bind_conflict_retries_once_with_a_server_resource() {
    let mut h = client(config(), entropy());
    h.through_sasl();
    h.feed(&server_header("c"));
    h.feed(FEATURES_BIND);
    h.out();
    h.feed("<iq id='yhc13a95' type='error'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");
    let out = h.out();
    assert!(out.contains("<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"), "asks the server to choose: {out}");
    let id = out.split("id='").nth(1).unwrap().split('\'').next().unwrap().to_string();
    // A second conflict ends it: no loop.
    h.feed(&format!("<iq id='{id}' type='error'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"));
    assert!(
        matches!(h.closed(), Some(CloseReason::Negotiation(NegotiationError::BindFailed(e))) if e.condition == StanzaErrorCondition::Conflict)
    );

    // The server-chosen resource is accepted.
    let mut h = client(config(), entropy());
    h.through_sasl();
    h.feed(&server_header("c"));
    h.feed(FEATURES_BIND);
    h.feed("<iq id='yhc13a95' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@im.example.com/4db06f06-1ea4-11dc-aca3-000bcd821bfb</jid></bind></iq>");
    assert!(
        matches!(h.events().as_slice(), [Event::Online(j)] if j.resource() == Some("4db06f06-1ea4-11dc-aca3-000bcd821bfb"))
    );
}

#[test]
fn bound_jid_of_another_account_is_refused() {
    let mut h = client(config(), entropy());
    h.through_sasl();
    h.feed(&server_header("c"));
    h.feed(FEATURES_BIND);
    h.feed("<iq id='yhc13a95' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>romeo@example.net/orchard</jid></bind></iq>");
    assert_eq!(h.closed(), Some(&CloseReason::Violation(Violation::BadBoundJid)));
    assert!(!h.events.iter().any(|e| matches!(e, Event::Online(_))));
}

#[test]
fn rfc3921_3_mandatory_session_is_established_and_optional_skipped() {
    let mut e = entropy();
    e.push_stanza_id("sess1");
    let mut h = client(config(), e);
    h.through_sasl();
    h.feed(&server_header("c"));
    h.feed("<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></stream:features>");
    h.out();
    h.feed("<iq id='yhc13a95' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@im.example.com/balcony</jid></bind></iq>");
    assert_eq!(h.out(), "<iq id='sess1' type='set'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
    assert!(h.events().is_empty(), "not online before the session");
    h.feed("<iq id='sess1' type='result'/>");
    let events = h.events();
    assert!(matches!(events.as_slice(), [Event::Online(_)]), "{events:?} {:?}", h.closed());

    let mut h = client(config(), entropy());
    h.through_sasl();
    h.feed(&server_header("c"));
    h.feed("<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session></stream:features>");
    h.feed("<iq id='yhc13a95' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@im.example.com/balcony</jid></bind></iq>");
    assert!(matches!(h.events().as_slice(), [Event::Online(_)]));
}

#[test]
fn rfc6120_9_1_4_stanza_exchange() {
    let mut h = client(config(), entropy());
    h.online();
    h.conn
        .send(h.now, Message::chat(jid("romeo@example.net"), "Art thou not Romeo, and a Montague?").unwrap())
        .unwrap();
    h.drain();
    assert_eq!(
        h.out(),
        "<message to='romeo@example.net' type='chat'><body>Art thou not Romeo, and a Montague?</body></message>"
    );
    h.feed("<message from='romeo@example.net/orchard' to='juliet@im.example.com/balcony' type='chat' xml:lang='en'><body>Neither, fair saint, if either thee dislike.</body></message>");
    let events = h.events();
    let [Event::Stanza(Stanza::Message(m))] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(m.body().as_deref(), Some("Neither, fair saint, if either thee dislike."));
    h.feed("<presence from='romeo@example.net/orchard'><show>away</show></presence>");
    assert!(
        matches!(h.events().as_slice(), [Event::Stanza(Stanza::Presence(p))] if p.show() == Some(crate::stanza::Show::Away))
    );
    h.conn.send(h.now, Presence::available()).unwrap();
    h.drain();
    assert_eq!(h.out(), "<presence/>");
}

#[test]
fn hardening_19_iq_responses_must_come_from_where_the_request_went() {
    let mut e = entropy();
    e.push_stanza_id("q1");
    let mut h = client(config(), e);
    h.online();
    let id = h
        .conn
        .send_iq(h.now, Iq::get(Some(jid("romeo@example.net/orchard")), Element::new("query", "jabber:iq:version")))
        .unwrap();
    assert_eq!(id, "q1");
    h.drain();
    assert_eq!(
        h.out(),
        "<iq to='romeo@example.net/orchard' id='q1' type='get'><query xmlns='jabber:iq:version'/></iq>"
    );
    // Spoofed: same id, another sender, or no sender. Ignored, not answered.
    h.feed("<iq from='mallory@evil.example/x' id='q1' type='result'/>");
    h.feed("<iq id='q1' type='result'/>");
    assert!(h.events().is_empty());
    assert_eq!(h.out(), "", "hardening 20: results and errors are never answered");
    h.feed("<iq from='romeo@example.net/orchard' id='q1' type='result'><query xmlns='jabber:iq:version'><name>x</name></query></iq>");
    let events = h.events();
    let [Event::IqResponse(r)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(r.id, "q1");
    assert!(r.result.as_ref().unwrap().as_ref().unwrap().is("query", "jabber:iq:version"));
    // Answered once only.
    h.feed("<iq from='romeo@example.net/orchard' id='q1' type='result'/>");
    assert!(h.events().is_empty());
}

#[test]
fn hardening_28_iq_timeouts_and_the_pending_table_bound() {
    let mut cfg = config();
    cfg.stream.session.max_pending_iqs = 2;
    cfg.stream.ping_interval = None;
    cfg.stream.keepalive_interval = None;
    // Only the IQ deadlines: buffers given back at once.
    cfg.stream.release_after = Duration::ZERO;
    let mut h = client(cfg, entropy());
    h.online();
    let a =
        h.conn.send_iq_with_timeout(h.now, Iq::get(None, Element::new("a", "urn:a")), Duration::from_secs(5)).unwrap();
    let b =
        h.conn.send_iq_with_timeout(h.now, Iq::get(None, Element::new("b", "urn:b")), Duration::from_secs(10)).unwrap();
    assert_eq!(h.conn.send_iq(h.now, Iq::get(None, Element::new("c", "urn:c"))), Err(ApiError::TooManyPendingIqs));
    assert_eq!(h.conn.poll_timeout(), Some(Timestamp::from_millis(5000)));
    h.advance(Duration::from_secs(6));
    assert_eq!(h.events(), [Event::IqTimeout(a)]);
    h.advance(Duration::from_secs(6));
    assert_eq!(h.events(), [Event::IqTimeout(b)]);
    assert!(h.conn.send_iq(h.now, Iq::get(None, Element::new("c", "urn:c"))).is_ok(), "room again");
    let result = Iq::get(None, Element::new("d", "urn:d")).result_for(None);
    assert_eq!(h.conn.send_iq(h.now, result), Err(ApiError::NotARequest));
}

#[test]
fn inbound_requests_are_delivered_and_answered_once() {
    let mut h = client(config(), entropy());
    h.online();
    h.feed("<iq from='romeo@example.net/orchard' id='v1' type='get'><query xmlns='jabber:iq:version'/></iq>");
    let events = h.events();
    let [Event::Stanza(Stanza::Iq(req))] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(h.out(), "", "the core does not answer for the application");
    h.conn.respond(h.now, req, Ok(None)).unwrap();
    h.drain();
    assert_eq!(h.out(), "<iq to='romeo@example.net/orchard' id='v1' type='result'/>");
    assert_eq!(h.conn.respond(h.now, req, Ok(None)), Err(ApiError::UnknownRequest));
}

#[test]
fn rfc6120_8_2_3_unregistered_namespaces_get_service_unavailable() {
    let mut cfg = config();
    cfg.iq_handlers = crate::session::IqHandlers::only(crate::session::Identity::new("client", "pc"));
    cfg.iq_handlers.register("jabber:iq:version");
    let mut h = client(cfg, entropy());
    h.online();
    h.feed("<iq from='romeo@example.net/orchard' id='x1' type='get'><query xmlns='jabber:iq:last'/></iq>");
    assert!(h.events().is_empty());
    assert_eq!(
        h.out(),
        "<iq to='romeo@example.net/orchard' id='x1' type='error'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    );
    h.conn.session_mut().handlers_mut().register("jabber:iq:last");
    h.feed("<iq from='romeo@example.net/orchard' id='x2' type='get'><query xmlns='jabber:iq:last'/></iq>");
    assert!(matches!(h.events().as_slice(), [Event::Stanza(Stanza::Iq(_))]));
    h.feed("<iq from='romeo@example.net/orchard' id='x3' type='get'><query xmlns='jabber:iq:version'/></iq>");
    assert!(matches!(h.events().as_slice(), [Event::Stanza(Stanza::Iq(_))]));
}

#[test]
fn hardening_20_results_and_errors_nobody_asked_for_are_never_answered() {
    let mut h = client(config(), entropy());
    h.online();
    h.feed("<iq from='romeo@example.net/orchard' id='zz' type='result'/>");
    h.feed("<iq from='romeo@example.net/orchard' id='zz' type='error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");
    assert_eq!(h.out(), "");
    assert!(h.events().is_empty());
    // A malformed request is answered with an error, a malformed result is not.
    h.feed("<iq from='romeo@example.net/orchard' id='m1' type='get'/>");
    assert!(h.out().contains("<bad-request"));
    assert!(matches!(h.events().as_slice(), [Event::InvalidStanza { .. }]));
    h.feed("<iq from='romeo@example.net/orchard' id='m2' type='result'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>");
    assert_eq!(h.out(), "");
}

#[test]
fn hardening_20_pings_are_answered_by_the_core() {
    let mut h = client(config(), entropy());
    h.online();
    h.feed("<iq from='im.example.com' id='s2c1' to='juliet@im.example.com/balcony' type='get'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert_eq!(h.out(), "<iq to='im.example.com' id='s2c1' type='result'/>");
    assert!(h.events().is_empty());
}

#[test]
fn hardening_21_roster_pushes_only_from_our_own_account() {
    let mut h = client(config(), entropy());
    h.online();
    let push = |from: &str| {
        format!(
            "<iq {from} id='push1' type='set'><query xmlns='jabber:iq:roster'><item jid='nurse@example.com'/></query></iq>"
        )
    };
    h.feed(&push("from='mallory@evil.example/x'"));
    h.feed(&push("from='juliet@im.example.com/other'"));
    assert!(h.events().is_empty(), "ignored");
    h.feed(&push("from='juliet@im.example.com'"));
    assert_eq!(h.events().len(), 1);
    h.feed(&push(""));
    h.feed(&push(""));
    assert_eq!(h.events().len(), 1, "the duplicate (same id, same sender) is delivered once");
}

#[test]
fn hardening_22_forged_carbon_copies_are_dropped() {
    let mut h = client(config(), entropy());
    h.online();
    let carbon = |from: &str| {
        format!(
            "<message from='{from}' to='juliet@im.example.com/balcony'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='romeo@example.net/orchard' to='juliet@im.example.com/chamber' type='chat'><body>hi</body></message></forwarded></received></message>"
        )
    };
    h.feed(&carbon("mallory@evil.example"));
    h.feed(&carbon("juliet@im.example.com/chamber"));
    assert!(h.events().is_empty());
    h.feed(&carbon("juliet@im.example.com"));
    assert!(matches!(h.events().as_slice(), [Event::Stanza(Stanza::Message(_))]));
}

#[test]
fn xep0199_keepalives_pings_and_a_dead_peer() {
    let mut cfg = config();
    cfg.stream.keepalive_interval = Some(Duration::from_secs(30));
    cfg.stream.ping_interval = Some(Duration::from_secs(100));
    cfg.stream.ping_timeout = Duration::from_secs(20);
    let mut e = entropy();
    e.push_stanza_id("ping1");
    let mut h = client(cfg, e);
    h.online();
    let start = h.now;
    h.advance(Duration::from_secs(31));
    assert_eq!(h.out(), " ", "whitespace keepalive");
    h.advance(Duration::from_secs(70));
    // Two more keepalives (at 61 s and 91 s), then the ping at 100 s of silence.
    assert_eq!(h.out(), "  <iq to='im.example.com' id='ping1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert_eq!(h.now - start, Duration::from_secs(101));
    // An answer (any traffic) keeps the connection.
    h.feed("<iq from='im.example.com' id='ping1' type='result'/>");
    assert!(h.events().is_empty(), "the core's own ping answer is not an event");
    h.advance(Duration::from_secs(99));
    assert!(h.closed().is_none());
    // Next ping unanswered: the peer is gone.
    h.advance(Duration::from_secs(30));
    assert!(h.out().contains("urn:xmpp:ping"));
    h.advance(Duration::from_secs(25));
    assert_eq!(h.closed(), Some(&CloseReason::Timeout(TimeoutKind::Ping)));
    assert_eq!(h.conn.poll_timeout(), None);
}

#[test]
fn xep0199_a_full_pending_table_still_pings_and_never_leaves_a_timer_due() {
    // Found through the fuzz targets' timer invariant: with the pending-IQ
    // table full the ping was skipped, so the ping timer stayed due and a
    // driver would spin.
    let mut cfg = config();
    cfg.stream.keepalive_interval = None;
    cfg.stream.ping_interval = Some(Duration::from_secs(100));
    cfg.stream.ping_timeout = Duration::from_secs(20);
    cfg.stream.session.max_pending_iqs = 1;
    let mut h = client(cfg, entropy());
    h.online();
    let long = Duration::from_secs(3600);
    h.conn.send_iq_with_timeout(h.now, Iq::get(None, Element::new("q", "urn:q")), long).unwrap();
    h.drain();
    h.out();
    h.advance(Duration::from_secs(101));
    assert!(h.out().contains("urn:xmpp:ping"), "pinged although the table is full");
    let next = h.conn.poll_timeout().expect("the ping deadline");
    assert!(next > h.now, "a timer left due at {next:?} (now {:?})", h.now);
    h.advance(Duration::from_secs(21));
    assert_eq!(h.closed(), Some(&CloseReason::Timeout(TimeoutKind::Ping)));
}

#[test]
fn rfc6120_4_4_close_handshake_both_directions_and_timeout() {
    // We close; the server answers.
    let mut h = client(config(), entropy());
    h.online();
    h.conn.close(h.now).unwrap();
    h.drain();
    assert_eq!(h.out(), "</stream:stream>");
    assert_eq!(h.conn.close(h.now), Err(ApiError::Closed));
    assert_eq!(h.conn.send(h.now, Presence::available()), Err(ApiError::Closed));
    h.feed("</stream:stream>");
    assert_eq!(h.closed(), Some(&CloseReason::Clean));
    // The server closes; we answer.
    let mut h = client(config(), entropy());
    h.online();
    h.feed("</stream:stream>");
    assert_eq!(h.out(), "</stream:stream>");
    assert_eq!(h.closed(), Some(&CloseReason::Clean));
    // We close; the server never answers.
    let mut h = client(config(), entropy());
    h.online();
    h.conn.close(h.now).unwrap();
    h.advance(Duration::from_secs(11));
    assert_eq!(h.closed(), Some(&CloseReason::Timeout(TimeoutKind::Close)));
}

#[test]
fn eof_ends_the_connection_once() {
    let mut h = client(config(), entropy());
    h.online();
    h.eof();
    assert_eq!(h.closed(), Some(&CloseReason::Eof));
    h.feed("<message><body>late</body></message>");
    h.conn.handle_eof(h.now);
    h.conn.handle_timeout(h.now + Duration::from_secs(999));
    h.drain();
    assert!(h.conn.is_closed());
    assert_eq!(h.closed(), Some(&CloseReason::Eof), "reported once (the driver asserts), still Eof");
    assert!(h.events().is_empty(), "nothing after the end");
}

#[test]
fn api_misuse_is_a_typed_error() {
    let mut h = client(config(), entropy());
    let msg = Message::chat(jid("romeo@example.net"), "too early").unwrap();
    assert_eq!(h.conn.send(h.now, msg), Err(ApiError::NotOnline));
    h.online();
    // What XML cannot carry is refused where the stanza is built.
    assert!(Message::chat(jid("romeo@example.net"), "\u{0}").is_err());
    // Outbound backpressure: the outbound queue is bounded and the API
    // says so (HARDENING 28).
    let mut cfg = config();
    cfg.stream.max_outbound_bytes = 100;
    let mut h = client(cfg, entropy());
    h.online();
    let big = Message::chat(jid("romeo@example.net"), &"x".repeat(200)).unwrap();
    assert!(h.conn.send(h.now, big.clone()).is_ok(), "one may overshoot");
    assert_eq!(h.conn.send(h.now, big.clone()), Err(ApiError::OutboundFull));
    h.drain();
    assert!(h.conn.send(h.now, big.clone()).is_ok(), "after draining");
    // Configuration.
    let mut cfg = config();
    cfg.mechanisms.clear();
    assert!(matches!(Client::new(cfg, Box::new(entropy()), Timestamp::ZERO), Err(ConfigError::NoMechanisms)));
    let stanza = Stanza::Iq(Iq::get(None, Element::new("q", "urn:q")).with_id("x").unwrap());
    let mut h = client(config(), entropy());
    h.online();
    assert!(h.conn.send(h.now, stanza).is_ok(), "requests through send() are tracked too");
}

#[test]
fn peer_faults_close_with_the_right_stream_error() {
    // Broken XML from the server.
    let mut h = client(config(), entropy());
    h.out();
    h.feed(&server_header("a"));
    h.feed("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'></stream:features>");
    let out = h.out();
    assert!(out.contains("<not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"), "{out}");
    assert!(matches!(h.closed(), Some(CloseReason::Violation(Violation::Xml(_)))));
    // A header in the wrong namespace, without a version.
    for (header, condition) in [
        ("<stream:stream xmlns:stream='urn:wrong' version='1.0'>", StreamErrorCondition::InvalidNamespace),
        (
            &*format!("<stream:stream xmlns='jabber:server' xmlns:stream='{STREAMS}' version='1.0'>"),
            StreamErrorCondition::InvalidNamespace,
        ),
        (
            &*format!("<stream:stream xmlns='jabber:client' xmlns:stream='{STREAMS}'>"),
            StreamErrorCondition::UnsupportedVersion,
        ),
    ] {
        let mut h = client(config(), entropy());
        h.out();
        h.feed(header);
        assert!(h.out().contains(&format!("<{condition} ")), "{header}");
    }
    // Something that has no place in negotiation.
    let mut h = client(config(), entropy());
    h.feed(&server_header("a"));
    h.feed("<message><body>before features</body></message>");
    assert!(matches!(h.closed(), Some(CloseReason::Violation(Violation::Unexpected { .. }))));
}

#[test]
fn xep0368_direct_tls_starts_after_the_handshake() {
    let mut cfg = config();
    cfg.tls = TlsMode::Direct;
    let mut h = client(cfg, entropy());
    assert_eq!(h.out(), "", "nothing before TLS");
    h.tls_up(ChannelBinding::none());
    assert!(h.out().contains("from='juliet@im.example.com'"));
    h.feed(&server_header("a"));
    h.feed(FEATURES_SCRAM);
    assert!(h.out().contains("<auth"), "no STARTTLS on a TLS transport");
}

/// The `<auth/>` a client sends for a plain mechanism list.
fn auth_for(mechanism: Mechanism, offered: &str, credentials: Credentials, jid_: &str) -> String {
    let mut cfg = config();
    cfg.jid = jid(jid_);
    cfg.credentials = credentials;
    cfg.mechanisms = vec![mechanism];
    let mut h = client(cfg, entropy());
    h.feed(&server_header("a"));
    h.feed(FEATURES_TLS);
    h.feed(PROCEED);
    h.tls_up(ChannelBinding::none());
    h.feed(&server_header("b"));
    h.out();
    h.feed(&format!(
        "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>{offered}</mechanism></mechanisms></stream:features>"
    ));
    h.out()
}

#[test]
fn rfc4616_plain_rfc4505_anonymous_rfc4422_external_initial_responses() {
    let plain = auth_for(Mechanism::Plain, "PLAIN", Credentials::password("r0m30myr0m30"), "juliet@im.example.com");
    assert_eq!(
        plain,
        format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{}</auth>",
            b64("\0juliet\0r0m30myr0m30")
        )
    );
    let anonymous = auth_for(Mechanism::Anonymous, "ANONYMOUS", Credentials::default(), "im.example.com");
    assert_eq!(anonymous, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'>=</auth>");
    let external = auth_for(Mechanism::External, "EXTERNAL", Credentials::default(), "juliet@im.example.com");
    assert_eq!(external, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>");
}

#[test]
fn anonymous_login_accepts_the_server_chosen_localpart() {
    let mut cfg = config();
    cfg.jid = jid("im.example.com");
    cfg.credentials = Credentials::default();
    cfg.mechanisms = vec![Mechanism::Anonymous];
    let mut h = client(cfg, entropy());
    h.feed(&server_header("a"));
    h.feed(FEATURES_TLS);
    h.feed(PROCEED);
    h.tls_up(ChannelBinding::none());
    h.feed(&server_header("b"));
    h.feed("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>ANONYMOUS</mechanism></mechanisms></stream:features>");
    h.feed("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    h.feed(&server_header("c"));
    h.out();
    h.feed(FEATURES_BIND);
    assert_eq!(
        h.out(),
        "<iq id='yhc13a95' type='set'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
        "no resource: the server picks"
    );
    h.feed("<iq id='yhc13a95' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>a1b2c3@im.example.com/x</jid></bind></iq>");
    assert!(h.events.iter().any(|e| matches!(e, Event::Online(j) if j.as_str() == "a1b2c3@im.example.com/x")));
}

#[test]
fn rfc6120_4_7_1_from_on_the_stream_header_follows_the_policy() {
    for (policy, before, after) in
        [(SendFrom::Never, false, false), (SendFrom::AfterTls, false, true), (SendFrom::Always, true, true)]
    {
        let mut cfg = config();
        cfg.send_from = policy;
        let mut h = client(cfg, entropy());
        assert_eq!(h.out().contains("from="), before, "{policy:?} before TLS");
        h.feed(&server_header("a"));
        h.feed(FEATURES_TLS);
        h.feed(PROCEED);
        h.tls_up(ChannelBinding::none());
        assert_eq!(h.out().contains("from='juliet@im.example.com'"), after, "{policy:?} after TLS");
    }
}

#[test]
fn hardening_5_an_oversized_stanza_from_the_server_is_a_policy_violation() {
    let mut cfg = config();
    cfg.stream.limits.max_stanza_bytes = 1024;
    let mut h = client(cfg, entropy());
    h.online();
    h.feed(&format!("<message><body>{}", "x".repeat(2000)));
    assert!(h.out().contains("<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"));
    assert!(matches!(h.closed(), Some(CloseReason::Violation(Violation::Xml(_)))));
    assert!(!h.events.iter().any(|e| matches!(e, Event::Stanza(Stanza::Message(_)))));
}

/// A server that goes silent mid-negotiation (here: after its features,
/// and again after `<proceed/>`'s TLS, after the SASL challenge) must not
/// hang the client: a negotiation deadline from the start until online.
#[test]
fn hardening_31_client_gives_up_on_a_server_silent_before_online() {
    // Silent after its features.
    let mut h = client(config(), entropy());
    h.feed(&server_header("t7AMCin9zjMNwQKDnplntZPIDEI="));
    h.feed(FEATURES_TLS);
    h.out();
    assert!(h.conn.poll_timeout().is_some(), "a deadline is armed before online");
    h.advance(Duration::from_secs(59));
    assert_eq!(h.closed(), None);
    h.advance(Duration::from_secs(1));
    assert_eq!(h.closed(), Some(&CloseReason::Timeout(TimeoutKind::Negotiation)));
    let out = h.out();
    assert!(out.contains("<connection-timeout") && out.ends_with("</stream:stream>"), "{out}");

    // Silent after the SASL challenge, with a configured deadline.
    let mut c = config();
    c.negotiation_timeout = Duration::from_secs(5);
    let mut h = client(c, entropy());
    h.feed(&server_header("t7AMCin9zjMNwQKDnplntZPIDEI="));
    h.feed(FEATURES_TLS);
    h.feed(PROCEED);
    h.advance(Duration::from_secs(2));
    h.tls_up(ChannelBinding::none());
    h.feed(&server_header("vgKi/bkYME8OAj4rlXMkpucAqe4="));
    h.feed(FEATURES_SCRAM);
    h.feed(&challenge(SERVER_FIRST));
    h.advance(Duration::from_secs(2));
    assert_eq!(h.closed(), None, "the deadline counts from the start, not per step");
    h.advance(Duration::from_secs(1));
    assert_eq!(h.closed(), Some(&CloseReason::Timeout(TimeoutKind::Negotiation)));
}

/// During the TLS handshake nothing is written in plaintext, not even
/// when the negotiation deadline passes.
#[test]
fn hardening_31_the_negotiation_deadline_writes_nothing_during_the_tls_handshake() {
    let mut h = client(config(), entropy());
    h.feed(&server_header("t7AMCin9zjMNwQKDnplntZPIDEI="));
    h.feed(FEATURES_TLS);
    h.feed(PROCEED);
    h.out();
    h.advance(Duration::from_secs(60));
    assert_eq!(h.closed(), Some(&CloseReason::Timeout(TimeoutKind::Negotiation)));
    assert_eq!(h.out(), "");
}

/// Once online the negotiation deadline is gone.
#[test]
fn hardening_31_an_online_client_has_no_negotiation_deadline() {
    let mut c = config();
    c.stream.keepalive_interval = None;
    c.stream.ping_interval = None;
    let mut h = client(c, entropy());
    h.online();
    // Only the release of idle buffers, once, a second on.
    assert_eq!(h.conn.poll_timeout(), Some(h.now + Duration::from_secs(1)));
    h.advance(Duration::from_secs(1));
    assert_eq!(h.conn.poll_timeout(), None);
    h.advance(Duration::from_secs(3600));
    assert_eq!(h.closed(), None);
}

/// A request delivered to the application.
fn owed_request(h: &mut Harness) -> Iq {
    h.feed("<iq from='romeo@example.net/orchard' id='q1' type='get'><query xmlns='urn:example:q'/></iq>");
    let events = h.events();
    let [Event::Stanza(Stanza::Iq(iq))] = events.as_slice() else { panic!("{events:?}") };
    iq.clone()
}

/// An answer that cannot be sent must leave the request owed, so the
/// application can still answer it (RFC 6120 §8.2.3: every get/set is
/// answered).
#[test]
fn rfc6120_8_2_3_a_failed_answer_leaves_the_request_owed() {
    let mut h = client(config(), entropy());
    h.online();
    let request = owed_request(&mut h);
    // respond with an answer XML cannot carry.
    let mut bad = StanzaError::new(StanzaErrorCondition::Gone);
    bad.condition_text = Some("xmpp:\u{1}".into());
    assert!(matches!(h.conn.respond(h.now, &request, Err(bad.clone())), Err(ApiError::InvalidXml(_))));
    // The same answer cannot even be built by hand.
    assert!(request.error_for(&bad).is_err());
    assert_eq!(h.conn.respond(h.now, &request, Ok(None)), Ok(()), "still owed");
    assert_eq!(h.conn.respond(h.now, &request, Ok(None)), Err(ApiError::UnknownRequest), "answered once");
}

#[test]
fn rfc6120_8_2_3_an_answer_refused_for_a_full_buffer_leaves_the_request_owed() {
    let mut c = config();
    c.stream.max_outbound_bytes = 64;
    let mut h = client(c, entropy());
    h.online();
    let request = owed_request(&mut h);
    // Fill the outbound buffer without draining it.
    let mut filled = 0;
    while h.conn.send(h.now, Message::chat(jid("romeo@example.net"), "x").unwrap()).is_ok() {
        filled += 1;
        assert!(filled < 100);
    }
    let answer = Stanza::Iq(request.result_for(None));
    assert_eq!(h.conn.send(h.now, answer), Err(ApiError::OutboundFull));
    h.drain();
    assert_eq!(h.conn.respond(h.now, &request, Ok(None)), Ok(()), "still owed once the buffer drained");
    assert_eq!(h.conn.respond(h.now, &request, Ok(None)), Err(ApiError::UnknownRequest));
}

/// Two requests with one id cannot both be matched to their responses.
#[test]
fn hardening_19_a_request_id_already_pending_is_refused() {
    let mut h = client(config(), entropy());
    h.online();
    let iq = |to: &str| Iq::get(Some(jid(to)), Element::new("query", "urn:example:q")).with_id("dup").unwrap();
    assert_eq!(
        h.conn.send_iq_with_timeout(h.now, iq("romeo@example.net/orchard"), Duration::from_secs(5)),
        Ok(crate::session::RequestId::new("dup"))
    );
    assert_eq!(
        h.conn.send_iq_with_timeout(h.now, iq("benvolio@example.net"), Duration::from_secs(5)),
        Err(ApiError::DuplicateId)
    );
    assert_eq!(h.conn.send(h.now, Stanza::Iq(iq("romeo@example.net/orchard"))), Err(ApiError::DuplicateId));
    // Once answered, the id is free again.
    h.feed("<iq from='romeo@example.net/orchard' id='dup' type='result'/>");
    assert!(matches!(h.events().as_slice(), [Event::IqResponse(_)]));
    assert!(h.conn.send_iq_with_timeout(h.now, iq("benvolio@example.net"), Duration::from_secs(5)).is_ok());
}

/// One fail rule for every role (the client used to send a bare close tag
/// where the others named a stream error).
#[test]
fn rfc6120_4_9_3_24_an_unexpected_element_ends_the_stream_as_in_every_role() {
    let mut h = client(config(), entropy());
    h.online();
    super::testing::assert_an_unexpected_element_ends_the_stream(&mut h);
}

/// RFC 6120 §4.4: stanzas that arrive after our close tag are delivered
/// in every role (the server used to drop them).
#[test]
fn rfc6120_4_4_stanzas_after_our_close_are_delivered() {
    let mut h = client(config(), entropy());
    h.online();
    super::testing::assert_stanzas_after_our_close_are_still_delivered(
        &mut h,
        "<message from='romeo@example.net/orchard'><body>late</body></message>",
    );
}

/// Nothing is written during a TLS handshake, not even a close tag: a
/// close then just ends the connection (it used to write `</>` before a
/// direct-TLS handshake).
#[test]
fn a_close_during_the_tls_handshake_writes_nothing() {
    // STARTTLS: after <proceed/>.
    let mut h = client(config(), entropy());
    h.feed(&server_header("a"));
    h.feed(FEATURES_TLS);
    h.feed(PROCEED);
    assert!(h.tls.is_some());
    h.out();
    h.conn.close(h.now).unwrap();
    h.drain();
    assert_eq!(h.out(), "");
    assert_eq!(h.closed(), Some(&CloseReason::Abandoned));
    // Direct TLS: before the handshake.
    let mut cfg = config();
    cfg.tls = TlsMode::Direct;
    let mut h = client(cfg, entropy());
    assert!(h.tls.is_some(), "the handshake is the first output");
    h.conn.close(h.now).unwrap();
    h.drain();
    assert_eq!(h.out(), "");
    assert_eq!(h.closed(), Some(&CloseReason::Abandoned));
    assert_eq!(h.conn.close(h.now), Err(ApiError::Closed));
}

/// The driver's TLS stack refused the certificate: the connection ends
/// with that error, not with a bare EOF, and writes nothing more.
#[test]
fn a_failed_tls_handshake_is_the_close_reason() {
    let mut h = client(config(), entropy());
    h.feed(&server_header("a"));
    h.feed(FEATURES_TLS);
    h.feed(PROCEED);
    h.out();
    let error = TlsError::new(TlsErrorKind::Certificate, "unknown issuer");
    h.conn.handle_tls_failed(h.now, error.clone());
    h.drain();
    assert_eq!(h.closed(), Some(&CloseReason::Tls(error)));
    assert_eq!(h.out(), "");
}

/// Found in review: stanzas a session carried to a new connection went
/// out before negotiation, in plaintext, and were then refused.
#[test]
fn carried_stanzas_wait_until_the_new_connection_is_online() {
    let mut h = client(config(), entropy());
    h.online();
    h.conn.send(h.now, Message::chat(jid("romeo@example.net"), "carried").unwrap()).unwrap();
    // The transport breaks before the driver polls.
    h.conn.handle_eof(h.now);
    let session = h.conn.into_session();
    let conn = Client::with_session(config(), session, Box::new(entropy()), Timestamp::ZERO).unwrap();
    let mut h = Driver::new(conn);
    assert!(!h.out().contains("carried"), "nothing before negotiation");
    h.through_sasl();
    h.feed(&server_header("id3"));
    h.feed(FEATURES_BIND);
    assert!(!h.out().contains("carried"), "nor before binding");
    h.feed("<iq id='yhc13a95' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@im.example.com/balcony</jid></bind></iq>");
    let out = h.out();
    assert!(out.contains("<body>carried</body>"), "once online: {out}");
}

/// Found in review: negotiation went on after our close tag (a restart
/// after `<success/>` wrote a new header behind `</stream:stream>`).
#[test]
fn rfc6120_4_4_nothing_is_negotiated_after_our_close() {
    let mut h = at_challenge(SERVER_FIRST);
    h.out();
    h.conn.close(h.now).unwrap();
    h.drain();
    assert_eq!(h.out(), "</stream:stream>");
    h.feed(&success(SERVER_FINAL));
    assert_eq!(h.out(), "", "no restart behind our close");
    h.feed("</stream:stream>");
    assert_eq!(h.closed(), Some(&CloseReason::Clean));
    // <proceed/> after our close: no TLS hand-off.
    let mut h = client(config(), entropy());
    h.feed(&server_header("a"));
    h.feed(FEATURES_TLS);
    h.conn.close(h.now).unwrap();
    h.drain();
    h.out();
    h.feed(PROCEED);
    assert!(h.tls.is_none(), "no TLS after our close");
    assert_eq!(h.out(), "");
}

/// Found in review: after the transport ended, bytes that could never be
/// written kept `Closed` from coming.
#[test]
fn eof_with_unwritten_bytes_still_reports_closed() {
    let mut h = client(config(), entropy());
    h.online();
    h.conn.send(h.now, Message::chat(jid("romeo@example.net"), "unsent").unwrap()).unwrap();
    assert!(matches!(h.conn.poll_output(), Output::Transmit(_)), "offered, never written");
    h.conn.handle_eof(h.now);
    h.drain();
    assert_eq!(h.closed(), Some(&CloseReason::Eof));
}

/// Found in review: a request owed on a connection that ended made the
/// same id on the next connection be ignored (neither delivered nor
/// answered, against RFC 6120 §8.2.3).
#[test]
fn requests_owed_on_a_dead_connection_do_not_follow_the_session() {
    let mut h = client(config(), entropy());
    h.online();
    let _ = owed_request(&mut h);
    h.eof();
    let session = h.conn.into_session();
    let conn = Client::with_session(config(), session, Box::new(entropy()), Timestamp::ZERO).unwrap();
    let mut h = Driver::new(conn);
    h.online();
    let again = owed_request(&mut h);
    assert_eq!(again.id(), Some("q1"));
}

/// Found by fuzzing: a connection whose end was decided (a stream error
/// pending) and whose transport then ended kept its unwritable bytes, so
/// `Closed` never came.
#[test]
fn eof_after_a_fault_with_unwritten_bytes_still_reports_closed() {
    let mut h = client(config(), entropy());
    h.online();
    assert_eq!(h.conn.handle_input(h.now, b"<foo xmlns='urn:example:foo'/>"), 30);
    assert!(matches!(h.conn.poll_output(), Output::Transmit(_)), "the stream error, offered, never written");
    h.conn.handle_eof(h.now);
    h.drain();
    assert!(matches!(h.closed(), Some(CloseReason::Violation(_))), "{:?}", h.closed());
    assert_eq!(h.out(), "");
}
