use alloc::string::{String, ToString};
use alloc::vec::Vec;
use alloc::{format, vec};

use super::*;
use crate::condition::{StanzaErrorType, StreamErrorCondition};
use crate::xml::{Limits, StreamEvent, StreamReader};

const HEADER: &str = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

/// Reads one element the way a connection would: inside a c2s stream.
fn element(xml: &str) -> Element {
    let mut reader = StreamReader::new(Limits::default());
    reader.feed(format!("{HEADER}{xml}").as_bytes());
    let mut out = None;
    while let Some(ev) = reader.next_event().unwrap() {
        if let StreamEvent::Element(e) = ev {
            out = Some(e);
        }
    }
    out.expect("an element")
}

fn stanza(xml: &str) -> Result<Stanza, StanzaParseError> {
    Stanza::from_element(element(xml))
}

fn jid(s: &str) -> Jid {
    Jid::new(s).unwrap()
}

/// Writing and reading back gives the same stanza.
fn round_trip(s: &Stanza) {
    let text = s.element().to_string();
    let back = Stanza::from_element(element(&text)).unwrap();
    assert_eq!(&back, s, "{text}");
}

#[test]
fn rfc6121_5_2_3_bodies_subjects_and_thread() {
    let Ok(Stanza::Message(m)) = stanza(
        "<message from='juliet@example.com/balcony' id='z94nb37h' to='romeo@example.net' type='chat' xml:lang='en'>\
         <subject>I implore you!</subject><subject xml:lang='cs'>&#x00DA;p&#x011B;nliv&#x011B; pros&#x00ED;m!</subject>\
         <body>Wherefore art thou, Romeo?</body><body xml:lang='cs'>Pro&#x010D;e&#x017E; jsi ty, Romeo?</body>\
         <thread parent='e0ffe42b28561960c6b12b944a092794b9683a38'>ffd7076498744578d10edabfe7f4a866</thread></message>",
    ) else {
        panic!()
    };
    assert_eq!(m.type_(), MessageType::Chat);
    assert_eq!(m.from(), Some(&jid("juliet@example.com/balcony")));
    assert_eq!(m.id(), Some("z94nb37h"));
    assert_eq!(m.lang(), Some("en"));
    assert_eq!(m.body().as_deref(), Some("Wherefore art thou, Romeo?"));
    let bodies: Vec<Text> = m.bodies().collect();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[1].lang.as_deref(), Some("cs"));
    assert_eq!(bodies[1].text, "Pro\u{10D}e\u{17E} jsi ty, Romeo?");
    assert_eq!(m.subject().as_deref(), Some("I implore you!"));
    let thread = m.thread().unwrap();
    assert_eq!(thread.id, "ffd7076498744578d10edabfe7f4a866");
    assert_eq!(thread.parent.as_deref(), Some("e0ffe42b28561960c6b12b944a092794b9683a38"));
    assert_eq!(m.payloads().count(), 0);
    round_trip(&Stanza::Message(m));
}

#[test]
fn rfc6121_5_2_2_unknown_message_types_are_normal_and_unknown_children_kept() {
    let Ok(Stanza::Message(m)) = stanza(
        "<message type='fancy'><body>x</body><active xmlns='http://jabber.org/protocol/chatstates'/><foo/><request xmlns='urn:xmpp:receipts'/></message>",
    ) else {
        panic!()
    };
    assert_eq!(m.type_(), MessageType::Normal);
    assert_eq!(m.type_attr(), Some("fancy"), "what it said is kept");
    let names: Vec<_> = m.payloads().map(|p| (p.name(), p.ns().as_str())).collect();
    assert_eq!(
        names,
        vec![
            ("active", "http://jabber.org/protocol/chatstates"),
            ("foo", ns::CLIENT),
            ("request", "urn:xmpp:receipts")
        ]
    );
    round_trip(&Stanza::Message(m));
}

#[test]
fn rfc6121_4_7_presence_children() {
    let Ok(Stanza::Presence(p)) = stanza(
        "<presence from='romeo@example.net/orchard' id='jx62vs97' xml:lang='en'><show>dnd</show>\
         <status>Wooing Juliet</status><status xml:lang='cs'>Dvo&#x0159;&#x00ED;m se Julii</status><priority>1</priority>\
         <c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>",
    ) else {
        panic!()
    };
    assert_eq!(p.type_(), PresenceType::Available);
    assert_eq!(p.show(), Some(Show::Dnd));
    assert_eq!(p.status().as_deref(), Some("Wooing Juliet"));
    assert_eq!(p.statuses().count(), 2);
    assert_eq!(p.priority(), Some(1));
    assert_eq!(p.payloads().count(), 1);
    round_trip(&Stanza::Presence(p));

    for (t, expected) in [
        ("unavailable", PresenceType::Unavailable),
        ("subscribe", PresenceType::Subscribe),
        ("subscribed", PresenceType::Subscribed),
        ("unsubscribe", PresenceType::Unsubscribe),
        ("unsubscribed", PresenceType::Unsubscribed),
        ("probe", PresenceType::Probe),
        ("error", PresenceType::Error),
    ] {
        let Ok(Stanza::Presence(p)) = stanza(&format!("<presence type='{t}'/>")) else { panic!() };
        assert_eq!(p.type_(), expected);
        round_trip(&Stanza::Presence(p));
    }
}

#[test]
fn rfc6121_4_7_1_an_unknown_presence_type_is_bad_request() {
    let e = stanza("<presence type='available'/>").unwrap_err();
    assert_eq!(e, StanzaParseError::InvalidType("available".into()));
    assert_eq!(e.condition(), StanzaErrorCondition::BadRequest);
}

#[test]
fn invalid_show_and_priority_are_kept_as_payloads_not_lost() {
    let Ok(Stanza::Presence(p)) = stanza("<presence><show>busy</show><priority>300</priority></presence>") else {
        panic!()
    };
    assert_eq!(p.show(), None);
    assert_eq!(p.priority(), None);
    // Still in the stanza, as received.
    assert_eq!(p.element().children().map(|e| e.text().into_owned()).collect::<Vec<_>>(), vec!["busy", "300"]);
    let Ok(Stanza::Presence(p)) = stanza("<presence><priority>-128</priority></presence>") else { panic!() };
    assert_eq!(p.priority(), Some(-128));
}

#[test]
fn rfc6120_8_2_3_iq_semantics() {
    let Ok(Stanza::Iq(iq)) = stanza("<iq id='rr82a1z7' type='get'><query xmlns='jabber:iq:roster'/></iq>") else {
        panic!()
    };
    assert!(iq.is_request());
    assert_eq!(iq.type_(), IqType::Get);
    assert!(iq.payload().unwrap().is("query", ns::ROSTER));
    round_trip(&Stanza::Iq(iq));

    let Ok(Stanza::Iq(iq)) = stanza("<iq id='a' type='result'/>") else { panic!() };
    assert_eq!((iq.type_(), iq.payload(), iq.error()), (IqType::Result, None, None));
    round_trip(&Stanza::Iq(iq));

    let Ok(Stanza::Iq(iq)) = stanza(
        "<iq id='a' type='error'><query xmlns='jabber:iq:roster'/><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
    ) else {
        panic!()
    };
    assert_eq!(iq.error().unwrap().condition, StanzaErrorCondition::ServiceUnavailable);
    assert!(iq.payload().unwrap().is("query", ns::ROSTER), "the request it echoes");
    round_trip(&Stanza::Iq(iq.clone()));

    // An error without <error/> is still an error response.
    let Ok(Stanza::Iq(iq)) = stanza("<iq id='a' type='error'/>") else { panic!() };
    assert_eq!(iq.error().unwrap().condition, StanzaErrorCondition::UndefinedCondition);
}

#[test]
fn hardening_24_malformed_iqs_are_bad_request() {
    let cases = [
        ("<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>", StanzaParseError::MissingId),
        ("<iq id='a'><ping xmlns='urn:xmpp:ping'/></iq>", StanzaParseError::MissingType),
        (
            "<iq id='a' type='subscribe'><ping xmlns='urn:xmpp:ping'/></iq>",
            StanzaParseError::InvalidType("subscribe".into()),
        ),
        ("<iq id='a' type='get'/>", StanzaParseError::IqChildren { kind: "get", children: 0 }),
        (
            "<iq id='a' type='set'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>",
            StanzaParseError::IqChildren { kind: "set", children: 2 },
        ),
        (
            "<iq id='a' type='result'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>",
            StanzaParseError::IqChildren { kind: "result", children: 2 },
        ),
    ];
    for (xml, expected) in cases {
        let e = stanza(xml).unwrap_err();
        assert_eq!(e, expected, "{xml}");
        assert_eq!(e.condition(), StanzaErrorCondition::BadRequest);
    }
}

#[test]
fn rfc6120_8_3_3_8_invalid_addresses_are_jid_malformed() {
    let e = stanza("<message to='@example.com'><body>x</body></message>").unwrap_err();
    assert!(matches!(e, StanzaParseError::InvalidJid { attr: "to", .. }));
    assert_eq!(e.condition(), StanzaErrorCondition::JidMalformed);
    let e = stanza("<presence from='a@b/'/>").unwrap_err();
    assert!(matches!(e, StanzaParseError::InvalidJid { attr: "from", .. }));
}

#[test]
fn not_stanzas() {
    assert!(matches!(stanza("<foo/>"), Err(StanzaParseError::NotAStanza { .. })));
    assert!(matches!(stanza("<message xmlns='urn:other'/>"), Err(StanzaParseError::NotAStanza { .. })));
    // Stanzas in jabber:server read the same.
    let el = element("<message xmlns='jabber:server' from='a@b' to='c@d'><body>x</body></message>");
    let Stanza::Message(m) = Stanza::from_element(el).unwrap() else { panic!() };
    assert_eq!(m.body().as_deref(), Some("x"));
}

#[test]
fn rfc6120_8_3_3_every_stanza_error_condition_round_trips() {
    for &condition in StanzaErrorCondition::ALL {
        for &type_ in StanzaErrorType::ALL {
            let error = StanzaError::with_type(type_, condition);
            let el = error.to_element(&Namespace::from_static(ns::CLIENT)).unwrap();
            assert_eq!(StanzaError::from_element(&el), error);
        }
    }
    // With every optional part.
    let error = StanzaError {
        type_: StanzaErrorType::Modify,
        condition: StanzaErrorCondition::Redirect,
        condition_text: Some("xmpp:characters@conference.example.org".into()),
        by: Some(jid("example.org")),
        text: Some(Text { lang: Some("en".into()), text: "moved".into() }),
        app_specific: Some(Box::new(Element::new("too-many-parameters", "http://example.org/ns"))),
    };
    let mut msg = Message::new(MessageType::Normal);
    msg.set_error(&error).unwrap();
    assert_eq!(msg.type_(), MessageType::Error);
    assert_eq!(msg.error(), Some(error));
    round_trip(&Stanza::Message(msg));
}

#[test]
fn rfc6120_8_3_2_stanza_error_read_leniently() {
    let el = element(
        "<error><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>xmpp:romeo@afterlife.example.net</gone></error>",
    );
    let e = StanzaError::from_element(&el);
    assert_eq!(e.condition, StanzaErrorCondition::Gone);
    assert_eq!(e.type_, StanzaErrorType::Cancel, "a missing type is the condition's usual one");
    assert_eq!(e.condition_text.as_deref(), Some("xmpp:romeo@afterlife.example.net"));
    let el = element("<error type='weird'><made-up xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>");
    let e = StanzaError::from_element(&el);
    assert_eq!(e.condition, StanzaErrorCondition::UndefinedCondition);
}

#[test]
fn rfc6120_4_9_3_every_stream_error_condition_round_trips() {
    for &condition in StreamErrorCondition::ALL {
        let error = StreamError::new(condition);
        let el = error.to_element().unwrap();
        assert!(el.is("error", ns::STREAMS));
        assert_eq!(StreamError::from_element(&el), error);
    }
}

#[test]
fn rfc6120_4_9_4_application_specific_stream_error() {
    let el = element(
        "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
         <text xml:lang='en' xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Some special application diagnostic information!</text>\
         <escape-your-data xmlns='http://example.org/ns'/></stream:error>",
    );
    let e = StreamError::from_element(&el);
    assert_eq!(e.condition, StreamErrorCondition::NotWellFormed);
    assert_eq!(e.text.as_ref().unwrap().text, "Some special application diagnostic information!");
    assert_eq!(e.text.as_ref().unwrap().lang.as_deref(), Some("en"));
    assert!(e.app_specific.as_ref().unwrap().is("escape-your-data", "http://example.org/ns"));
    assert_eq!(StreamError::from_element(&e.to_element().unwrap()), e);

    let see_other = StreamError::see_other_host("[2001:db8::ea7:ed]:9222");
    let back = StreamError::from_element(&see_other.to_element().unwrap());
    assert_eq!(back.condition_text.as_deref(), Some("[2001:db8::ea7:ed]:9222"));
    assert_eq!(back.to_string(), "see-other-host ([2001:db8::ea7:ed]:9222)");
}

#[test]
fn hardening_9_stanzas_with_characters_xml_cannot_carry_are_refused() {
    assert!(Message::chat(jid("romeo@example.net"), "bell\u{7}").is_err());
    assert!(Message::new(MessageType::Chat).with_id("\u{FFFE}").is_err());
    // Markup characters are escaped, never interpreted.
    let m = Message::chat(jid("romeo@example.net"), "</body><evil/>").unwrap();
    let text = m.to_string();
    assert!(text.contains("&lt;/body&gt;&lt;evil/&gt;"), "{text}");
    round_trip(&Stanza::Message(m));
}

#[test]
fn iq_responses_address_the_requester() {
    let Ok(Stanza::Iq(req)) =
        stanza("<iq from='juliet@example.com/balcony' id='p1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>")
    else {
        panic!()
    };
    let res = req.result_for(None);
    assert_eq!(res.to(), req.from());
    assert_eq!(res.id(), Some("p1"));
    let err = req.error_for(&StanzaError::new(StanzaErrorCondition::ServiceUnavailable)).unwrap();
    assert_eq!(
        err.to_string(),
        "<iq xmlns='jabber:client' to='juliet@example.com/balcony' id='p1' type='error'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    );
}

/// RFC 6120 §8.4: a server routes a stanza unchanged but for the addresses
/// it stamps. An unknown type, an attribute in another namespace and an
/// unusual order of children all survive `from` being set.
#[test]
fn rfc6120_8_4_a_routed_stanza_keeps_what_it_carried() {
    let xml = "<message xmlns:x='urn:example:x' type='whisper' x:mood='grim' id='m1' to='romeo@example.net'>\
               <x:sigh/><body>Wherefore?</body><thread>t1</thread><subject>Ah</subject></message>";
    let Ok(Stanza::Message(mut m)) = stanza(xml) else { panic!() };
    let before = m.element().clone();
    m.set_from(Some(jid("juliet@example.com/balcony")));
    let mut expected = before;
    expected.set_attr("from", "juliet@example.com/balcony").unwrap();
    assert_eq!(m.element(), &expected);
    let names: Vec<&str> = m.element().children().map(Element::name).collect();
    assert_eq!(names, ["sigh", "body", "thread", "subject"]);
    assert_eq!(m.element().attr_ns("urn:example:x", "mood"), Some("grim"));
    assert_eq!(m.type_attr(), Some("whisper"));
}

/// A stanza moves into another stream's content namespace with the
/// children that were in its own, and no other.
#[test]
fn rfc6120_4_8_3_stanzas_move_between_content_namespaces() {
    let Ok(mut s) =
        stanza("<message to='a@b'><body>x</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>")
    else {
        panic!()
    };
    s.set_content_ns(&Namespace::from_static(ns::COMPONENT_ACCEPT));
    let el = s.element();
    assert_eq!(el.ns(), ns::COMPONENT_ACCEPT);
    assert!(el.child("body", ns::COMPONENT_ACCEPT).is_some());
    assert!(el.child("active", "http://jabber.org/protocol/chatstates").is_some());
}

/// Building in the stanza's own namespace is the easy path: nothing a
/// builder makes is written with `xmlns=''`.
#[test]
fn builders_write_children_in_the_stanza_namespace() {
    let mut m = Message::chat(jid("romeo@example.net"), "hi").unwrap();
    m.set_subject(None, "s").unwrap();
    m.set_thread(&Thread { id: "t".into(), parent: None }).unwrap();
    let mut p = Presence::available();
    p.set_show(Some(Show::Chat)).unwrap();
    p.set_priority(Some(5)).unwrap();
    p.set_status(Some("en"), "here").unwrap();
    for text in [m.to_string(), p.to_string()] {
        assert!(!text.contains("xmlns=''"), "{text}");
    }
    assert_eq!(p.priority(), Some(5));
    assert_eq!(p.show(), Some(Show::Chat));
    // Setting a body in a language replaces only that one.
    m.set_body(Some("cs"), "ahoj").unwrap();
    m.set_body(None, "hello").unwrap();
    let bodies: Vec<(Option<String>, String)> = m.bodies().map(|t| (t.lang, t.text)).collect();
    assert_eq!(bodies, [(Some("cs".into()), "ahoj".into()), (None, "hello".into())]);
}

#[test]
fn an_address_that_is_a_known_jids_text_reads_as_that_jid() {
    let own = jid("juliet@example.com/balcony");
    let read = |xml: &str| match Stanza::parse_knowing(element(xml), Some(&own)) {
        Ok(s) => s,
        Err(rejected) => panic!("{:?}", rejected.error),
    };
    let exact = read("<message to='juliet@example.com/balcony' from='romeo@example.net/orchard'/>");
    assert_eq!(exact.to(), Some(&own));
    assert_eq!(exact.from(), Some(&jid("romeo@example.net/orchard")));
    // Not its text: prepared as ever, to the same JID.
    let unprepared = read("<message to='Juliet@EXAMPLE.com/balcony'/>");
    assert_eq!(unprepared.to(), Some(&own));
    // Another resource is another JID.
    let other = read("<message to='juliet@example.com/Balcony'/>");
    assert_ne!(other.to(), Some(&own));
}
