//! Reader and writer tests. The HARDENING.md line each test covers is in
//! its name (`hardening_N_…`).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use alloc::{format, vec};

use super::*;
use crate::condition::StreamErrorCondition as C;

const STREAMS: &str = "http://etherx.jabber.org/streams";
const CLIENT: &str = "jabber:client";
const HEADER: &str = "<?xml version='1.0'?><stream:stream to='im.example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

/// Feeds `input` in chunks of `chunk` bytes, draining events after each,
/// until the input ends or an error occurs.
fn read_chunked(input: &[u8], chunk: usize, limits: Limits) -> (Vec<StreamEvent>, Option<XmlError>) {
    let mut reader = StreamReader::new(limits);
    let mut events = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        reader.feed(piece);
        loop {
            match reader.next_event() {
                Ok(Some(ev)) => events.push(ev),
                Ok(None) => break,
                Err(e) => return (events, Some(e)),
            }
        }
    }
    (events, None)
}

fn read(input: &str) -> (Vec<StreamEvent>, Option<XmlError>) {
    read_chunked(input.as_bytes(), input.len(), Limits::default())
}

/// Reads `input` whole and byte by byte; both must agree. Returns the
/// outcome.
fn read_both(input: &[u8], limits: Limits) -> (Vec<StreamEvent>, Option<XmlError>) {
    let whole = read_chunked(input, input.len(), limits);
    let bytewise = read_chunked(input, 1, limits);
    assert_eq!(whole, bytewise, "chunking changed the outcome");
    whole
}

/// The error `input` (after the standard header) ends with, checked whole
/// and byte by byte; also checks that no element was delivered.
fn stream_error(after_header: &[u8]) -> XmlError {
    let mut input = HEADER.as_bytes().to_vec();
    input.extend_from_slice(after_header);
    let (events, err) = read_both(&input, Limits::default());
    assert_eq!(events.len(), 1, "only the header may be delivered: {events:?}");
    err.expect("the input must be refused")
}

fn elements(events: &[StreamEvent]) -> Vec<&Element> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Element(el) => Some(el),
            _ => None,
        })
        .collect()
}

#[test]
fn rfc6120_4_2_stream_header_stanzas_and_close() {
    let input =
        format!("{HEADER}<message to='romeo@example.net'><body>hi</body></message>\n<presence/></stream:stream>");
    let (events, err) = read_both(input.as_bytes(), Limits::default());
    assert_eq!(err, None);
    assert_eq!(events.len(), 4);
    let StreamEvent::Open(header) = &events[0] else { panic!("{events:?}") };
    assert!(header.root.is("stream", STREAMS));
    assert_eq!(header.root.attr("to"), Some("im.example.com"));
    assert_eq!(header.root.attr("version"), Some("1.0"));
    assert_eq!(header.default_ns().map(|n| n.as_str()), Some(CLIENT));
    assert_eq!(header.namespaces.len(), 2);
    let msgs = elements(&events);
    assert!(msgs[0].is("message", CLIENT));
    assert_eq!(msgs[0].attr("to"), Some("romeo@example.net"));
    assert_eq!(msgs[0].child_text("body", CLIENT).as_deref(), Some("hi"));
    assert!(msgs[1].is("presence", CLIENT));
    assert_eq!(events[3], StreamEvent::Close);
}

#[test]
fn rfc6120_4_8_2_prefix_free_canonicalization_is_equivalent() {
    let input = format!(
        "<stream xmlns='{STREAMS}' version='1.0'><message xmlns='{CLIENT}'><body>foo</body></message></stream>"
    );
    let (events, err) = read_both(input.as_bytes(), Limits::default());
    assert_eq!(err, None);
    let StreamEvent::Open(header) = &events[0] else { panic!() };
    assert!(header.root.is("stream", STREAMS));
    let msgs = elements(&events);
    assert!(msgs[0].is("message", CLIENT));
    assert_eq!(msgs[0].child_text("body", CLIENT).as_deref(), Some("foo"));
    assert_eq!(events.last(), Some(&StreamEvent::Close));
}

#[test]
fn hardening_7_stream_elements_under_another_prefix_work() {
    let input = format!(
        "<foo:stream xmlns='{CLIENT}' xmlns:foo='{STREAMS}'><foo:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></foo:features></foo:stream>"
    );
    let (events, err) = read_both(input.as_bytes(), Limits::default());
    assert_eq!(err, None);
    let StreamEvent::Open(header) = &events[0] else { panic!() };
    assert!(header.root.is("stream", STREAMS));
    let features = elements(&events)[0];
    assert!(features.is("features", STREAMS));
    assert!(features.child("bind", "urn:ietf:params:xml:ns:xmpp-bind").is_some());
}

#[test]
fn hardening_7_an_error_element_in_another_namespace_is_not_a_stream_error() {
    let input = format!("{HEADER}<stream:error xmlns:stream='urn:example:not-streams'/><x:error xmlns:x='urn:other'/>");
    let (events, err) = read_both(input.as_bytes(), Limits::default());
    assert_eq!(err, None);
    let els = elements(&events);
    assert!(els[0].is("error", "urn:example:not-streams"));
    assert!(els[1].is("error", "urn:other"));
    assert!(!els.iter().any(|e| e.is("error", STREAMS)));
}

#[test]
fn hardening_7_an_unbound_prefix_is_not_well_formed() {
    let e = stream_error(b"<foo:message/>");
    assert_eq!(e, XmlError::UnboundPrefix { offset: HEADER.len() as u64, prefix: "foo".into() });
    assert_eq!(e.condition(), C::NotWellFormed);
    let e = stream_error(b"<message x:type='chat'/>");
    assert_eq!(e.condition(), C::NotWellFormed);
    // A prefix declared on a stanza goes out of scope at its end.
    let (events, e) = read(&format!("{HEADER}<message xmlns:x='urn:x'><x:a/></message><x:b/>"));
    assert_eq!(events.len(), 2);
    assert!(matches!(e, Some(XmlError::UnboundPrefix { .. })));
}

#[test]
fn hardening_7_prefixed_and_default_namespaces_resolve_by_scope() {
    let input = format!(
        "{HEADER}<message xmlns:a='urn:a'><a:x a:k='1' k='2'><y/></a:x><z xmlns='urn:z'><w/></z><v/></message>"
    );
    let (events, err) = read_both(input.as_bytes(), Limits::default());
    assert_eq!(err, None);
    let msg = elements(&events)[0];
    let x = msg.child("x", "urn:a").unwrap();
    assert_eq!(x.attr_ns("urn:a", "k"), Some("1"));
    assert_eq!(x.attr("k"), Some("2"));
    assert!(x.child("y", CLIENT).is_some(), "prefixes do not change the default namespace");
    assert!(msg.child("z", "urn:z").unwrap().child("w", "urn:z").is_some());
    assert!(msg.child("v", CLIENT).is_some(), "a default declaration ends with its element");
}

#[test]
fn xml_names_empty_default_namespace_undeclares() {
    let input = format!("{HEADER}<message><x xmlns=''><y/></x></message>");
    let (events, err) = read(&input);
    assert_eq!(err, None);
    let x = elements(&events)[0].child("x", "").unwrap();
    assert!(x.child("y", "").is_some());
}

#[test]
fn xml_names_reserved_prefixes_and_namespaces() {
    assert_eq!(stream_error(b"<a xmlns:xml='urn:not-xml'/>").condition(), C::BadNamespacePrefix);
    assert_eq!(stream_error(b"<a xmlns:xmlns='urn:x'/>").condition(), C::BadNamespacePrefix);
    assert_eq!(stream_error(b"<a xmlns:p='http://www.w3.org/XML/1998/namespace'/>").condition(), C::InvalidNamespace);
    assert_eq!(stream_error(b"<a xmlns='http://www.w3.org/2000/xmlns/'/>").condition(), C::InvalidNamespace);
    assert_eq!(stream_error(b"<a xmlns:p=''/>").condition(), C::NotWellFormed);
    // Declaring `xml` correctly is allowed, and xml:lang resolves either way.
    let input = format!("{HEADER}<a xmlns:xml='http://www.w3.org/XML/1998/namespace' xml:lang='de'/>");
    let (events, err) = read(&input);
    assert_eq!(err, None);
    assert_eq!(elements(&events)[0].attr_ns(XML_NS, "lang"), Some("de"));
}

#[test]
fn xml_1_0_duplicate_attributes_are_refused_by_expanded_name() {
    let e = stream_error(b"<message to='a' to='b'/>");
    assert_eq!(e, XmlError::DuplicateAttribute { offset: HEADER.len() as u64, name: "to".into() });
    assert_eq!(e.condition(), C::NotWellFormed);
    let e = stream_error(b"<message xmlns:a='urn:x' xmlns:b='urn:x' a:k='1' b:k='2'/>");
    assert!(matches!(e, XmlError::DuplicateAttribute { .. }));
    let e = stream_error(b"<message xmlns:a='urn:x' xmlns:a='urn:y'/>");
    assert!(matches!(e, XmlError::DuplicateAttribute { .. }));
}

#[test]
fn xml_1_0_end_tags_must_match() {
    let e = stream_error(b"<message><body>x</message>");
    assert_eq!(
        e,
        XmlError::MismatchedEndTag {
            offset: (HEADER.len() + "<message><body>x".len()) as u64,
            expected: "body".into(),
            found: "message".into()
        }
    );
    assert_eq!(e.condition(), C::NotWellFormed);
    // Same namespace, different prefix: still a different qualified name.
    let e = stream_error(b"<a:x xmlns:a='urn:x' xmlns:b='urn:x'></b:x>");
    assert!(matches!(e, XmlError::MismatchedEndTag { .. }));
    let input = format!("{HEADER}</stream:foo>");
    let (_, err) = read(&input);
    assert!(matches!(err, Some(XmlError::MismatchedEndTag { .. })));
}

#[test]
fn references_whitespace_and_line_ends_are_resolved() {
    let input = format!(
        "{HEADER}<message id='a&amp;b&#x26;&#38;&lt;&gt;&quot;&apos;' note='x\ty\r\nz\n'><body>&lt;3 &#x1F3A3; a\r\nb\rc&#13;</body><body><![CDATA[<raw> & \r\n]]></body></message>"
    );
    let (events, err) = read_both(input.as_bytes(), Limits::default());
    assert_eq!(err, None);
    let msg = elements(&events)[0];
    assert_eq!(msg.attr("id"), Some("a&b&&<>\"'"));
    assert_eq!(msg.attr("note"), Some("x y z "));
    let bodies: Vec<_> = msg.children().map(|b| b.text().into_owned()).collect();
    assert_eq!(bodies, vec!["<3 🎣 a\nb\nc\r".to_string(), "<raw> & \n".to_string()]);
}

#[test]
fn text_and_cdata_merge_into_one_node() {
    let input = format!("{HEADER}<body>a<![CDATA[b]]>c</body>");
    let (events, err) = read(&input);
    assert_eq!(err, None);
    assert!(elements(&events)[0].nodes().eq([NodeRef::Text(&"abc".into())]));
}

#[test]
fn hardening_1_doctype_is_restricted_and_nothing_is_expanded() {
    let billion_laughs = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;'>]><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><message><body>&lol2;</body></message>";
    let (events, err) = read_both(billion_laughs.as_bytes(), Limits::default());
    assert!(events.is_empty(), "{events:?}");
    let err = err.unwrap();
    assert_eq!(err, XmlError::Restricted { offset: 21, what: Restricted::Dtd });
    assert_eq!(err.condition(), C::RestrictedXml);
    // A DTD after the header is refused the same way.
    assert_eq!(stream_error(b"<!ENTITY x 'y'>").condition(), C::RestrictedXml);
    assert_eq!(stream_error(b"<!DOCTYPE x>").condition(), C::RestrictedXml);
}

#[test]
fn hardening_1_undeclared_entity_references_are_restricted_in_text_and_attributes() {
    let e = stream_error(b"<message><body>&lol2;</body></message>");
    assert_eq!(
        e,
        XmlError::Restricted {
            offset: (HEADER.len() + "<message><body>".len()) as u64,
            what: Restricted::EntityReference("lol2".into())
        }
    );
    assert_eq!(e.condition(), C::RestrictedXml);
    let e = stream_error(b"<message to='&xxe;'/>");
    assert_eq!(e.condition(), C::RestrictedXml);
    assert!(matches!(e, XmlError::Restricted { what: Restricted::EntityReference(ref n), .. } if n == "xxe"));
}

#[test]
fn hardening_2_comments_and_processing_instructions_are_restricted() {
    for (input, what) in [
        (&b"<!-- hi -->"[..], Restricted::Comment),
        (b"<message><!-- hi --></message>", Restricted::Comment),
        (b"<?php echo 1; ?>", Restricted::ProcessingInstruction),
        (b"<message><?pi x?></message>", Restricted::ProcessingInstruction),
    ] {
        let e = stream_error(input);
        assert!(matches!(&e, XmlError::Restricted { what: w, .. } if *w == what), "{e:?}");
        assert_eq!(e.condition(), C::RestrictedXml);
    }
    // Before the header too (only the XML declaration may stand there).
    let (events, err) = read("<!-- x --><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>");
    assert!(events.is_empty());
    assert_eq!(err.unwrap().condition(), C::RestrictedXml);
}

#[test]
fn hardening_3_other_encodings_and_xml_versions_are_refused() {
    let cases: [(&[u8], C); 7] = [
        (b"<?xml version='1.0' encoding='UTF-16'?><stream:stream>", C::UnsupportedEncoding),
        (b"<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream>", C::UnsupportedEncoding),
        (b"\xFF\xFE<\x00?\x00x\x00m\x00l\x00", C::UnsupportedEncoding),
        (b"\xFE\xFF\x00<\x00?\x00x\x00m\x00l", C::UnsupportedEncoding),
        (b"<\x00?\x00x\x00m\x00l\x00", C::UnsupportedEncoding),
        (b"\x00<\x00?\x00x\x00m\x00l", C::UnsupportedEncoding),
        (b"<?xml version='1.1'?><stream:stream>", C::RestrictedXml),
    ];
    for (input, condition) in cases {
        let (events, err) = read_both(input, Limits::default());
        assert!(events.is_empty());
        assert_eq!(err.unwrap().condition(), condition, "{input:?}");
    }
    // A declaration naming UTF-8 in any case is fine.
    let (events, err) =
        read("<?xml version='1.0' encoding='utf-8'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>");
    assert_eq!((events.len(), err), (1, None));
}

#[test]
fn hardening_3_a_second_xml_declaration_is_restricted() {
    let e = stream_error(b"<?xml version='1.0'?>");
    assert_eq!(e, XmlError::Restricted { offset: HEADER.len() as u64, what: Restricted::ProcessingInstruction });
    assert_eq!(e.condition(), C::RestrictedXml);
}

#[test]
fn rfc6120_11_6_a_leading_feff_is_a_character_not_a_byte_order_mark() {
    let (events, err) = read("\u{FEFF}<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>");
    assert!(events.is_empty());
    assert_eq!(err.unwrap().condition(), C::NotWellFormed);
}

#[test]
fn hardening_4_broken_markup_is_not_well_formed() {
    for input in [
        &b"<message to='x' <body/>"[..],
        b"<message to=x/>",
        b"<message to='x'y='z'/>",
        b"<1message/>",
        b"<message>a & b</message>",
        b"<message>a ]]> b</message>",
        b"<message>&#xZZ;</message>",
    ] {
        let e = stream_error(input);
        assert_eq!(e.condition(), C::NotWellFormed, "{e:?} for {:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn hardening_4_invalid_utf8_is_not_well_formed_and_no_partial_stanza_is_delivered() {
    for input in
        [&b"<message><body>\xC3\x28</body></message>"[..], b"<message><body>\xF0\x9F\x8E</body>", b"<message \xFF/>"]
    {
        let e = stream_error(input);
        assert!(matches!(e, XmlError::InvalidUtf8 { .. }), "{e:?}");
        assert_eq!(e.condition(), C::NotWellFormed);
    }
    // The offset names the bad byte, however the input was split.
    let e = stream_error(b"<message><body>ok\xC0\x80</body></message>");
    assert_eq!(e, XmlError::InvalidUtf8 { offset: (HEADER.len() + "<message><body>ok".len()) as u64 });
}

#[test]
fn hardening_4_characters_illegal_in_xml_are_not_well_formed() {
    let cases: [(&[u8], u32); 5] = [
        (b"<message><body>&#x0;</body></message>", 0),
        (b"<message><body>&#1;</body></message>", 1),
        (b"<message><body>\x01</body></message>", 1),
        (b"<message id='\x02'/>", 2),
        (b"<message><body>\xEF\xBF\xBE</body></message>", 0xFFFE),
    ];
    for (input, ch) in cases {
        let e = stream_error(input);
        assert!(matches!(e, XmlError::IllegalChar { ch: c, .. } if c == ch), "{e:?}");
        assert_eq!(e.condition(), C::NotWellFormed);
    }
    assert_eq!(stream_error(b"<m a='&#xD800;'/>").condition(), C::NotWellFormed);
    assert_eq!(stream_error(b"<m a='&#x110000;'/>").condition(), C::NotWellFormed);
    assert_eq!(stream_error(b"<m a='&#99999999999999999999;'/>").condition(), C::NotWellFormed);
}

#[test]
fn hardening_5_an_oversized_stanza_is_refused_even_while_unfinished() {
    let limits = Limits { max_stanza_bytes: 1000, ..Limits::default() };
    // Finished, but too big.
    let mut input = format!("{HEADER}<message><body>").into_bytes();
    input.extend(core::iter::repeat_n(b'a', 1000));
    let mut finished = input.clone();
    finished.extend_from_slice(b"</body></message>");
    for bytes in [&finished, &input] {
        let (events, err) = read_both(bytes, limits);
        assert_eq!(events.len(), 1);
        let err = err.expect("must be refused");
        assert_eq!(err, XmlError::LimitExceeded { offset: HEADER.len() as u64, limit: Limit::StanzaBytes(1000) });
        assert_eq!(err.condition(), C::PolicyViolation);
    }
    // Exactly at the limit is fine.
    let stanza = "<message><body></body></message>";
    let mut exact = format!("{HEADER}<message><body>").into_bytes();
    exact.extend(core::iter::repeat_n(b'a', 1000 - stanza.len()));
    exact.extend_from_slice(b"</body></message>");
    let (events, err) = read_both(&exact, limits);
    assert_eq!((events.len(), err), (2, None));
}

#[test]
fn hardening_5_a_stanza_dribbled_forever_is_caught_at_the_limit() {
    let mut reader = StreamReader::new(Limits::default());
    reader.feed(HEADER.as_bytes());
    assert!(matches!(reader.next_event(), Ok(Some(StreamEvent::Open(_)))));
    reader.feed(b"<message><body>");
    let mut fed = HEADER.len() + 15;
    let err = loop {
        reader.feed(b"x");
        fed += 1;
        match reader.next_event() {
            Ok(None) => {}
            Ok(Some(ev)) => panic!("unexpected {ev:?}"),
            Err(e) => break e,
        }
        assert!(fed < HEADER.len() + 300_000, "never caught");
    };
    assert_eq!(err.condition(), C::PolicyViolation);
    assert_eq!(fed - HEADER.len(), 256 * 1024 + 1, "caught as soon as the stanza passes 256 KiB");
    // Sticky: the reader keeps saying so.
    assert_eq!(reader.next_event(), Err(err));
}

#[test]
fn hardening_6_deep_nesting_is_capped_without_recursion() {
    let mut input = String::from(HEADER);
    for _ in 0..100_000 {
        input.push_str("<a>");
    }
    let (events, err) = read(&input);
    assert_eq!(events.len(), 1);
    let err = err.unwrap();
    assert_eq!(err, XmlError::LimitExceeded { offset: HEADER.len() as u64, limit: Limit::Depth(64) });
    assert_eq!(err.condition(), C::PolicyViolation);
    // Up to the limit is fine (including an empty element at the bottom).
    let deep = format!("{HEADER}{}<b/>{}", "<a>".repeat(63), "</a>".repeat(63));
    let (events, err) = read(&deep);
    assert_eq!((events.len(), err), (2, None));
    let too_deep = format!("{HEADER}{}<b/>{}", "<a>".repeat(64), "</a>".repeat(64));
    assert!(matches!(read(&too_deep).1, Some(XmlError::LimitExceeded { limit: Limit::Depth(64), .. })));
}

#[test]
fn hardening_6_attribute_and_namespace_floods_are_capped() {
    let many_attrs: String = (0..100_000).map(|i| format!(" a{i}=''")).collect();
    let input = format!("{HEADER}<message{many_attrs}/>");
    let err = read(&input).1.unwrap();
    assert_eq!(err.condition(), C::PolicyViolation);
    assert!(matches!(err, XmlError::LimitExceeded { limit: Limit::TagBytes(_), .. }), "{err:?}");
    // With a generous tag limit the attribute count limit catches it.
    let limits = Limits { max_tag_bytes: 10 << 20, max_stanza_bytes: 10 << 20, ..Limits::default() };
    let (_, err) = read_chunked(input.as_bytes(), 4096, limits);
    assert!(matches!(err, Some(XmlError::LimitExceeded { limit: Limit::Attributes(64), .. })), "{err:?}");

    let decls: String = (0..40).map(|i| format!(" xmlns:p{i}='urn:{i}'")).collect();
    let input = format!("{HEADER}<message{decls}><x{decls}/></message>");
    let err = read(&input).1.unwrap();
    assert!(matches!(err, XmlError::LimitExceeded { limit: Limit::NamespaceDeclarations(64), .. }), "{err:?}");

    let huge_value = format!("{HEADER}<message id='{}'/>", "v".repeat(100_000));
    let err = read(&huge_value).1.unwrap();
    assert_eq!(err, XmlError::LimitExceeded { offset: HEADER.len() as u64, limit: Limit::TagBytes(32 * 1024) });
    // An endless stream header is caught too.
    let endless = format!("<stream:stream a='{}", "x".repeat(40_000));
    assert!(matches!(read(&endless).1, Some(XmlError::LimitExceeded { limit: Limit::TagBytes(_), offset: 0 })));
}

#[test]
fn hardening_8_whitespace_keepalives_produce_nothing_in_any_chunking() {
    let input = format!("{HEADER} \n\t\r <presence/> \n \n<presence/>{}", " ".repeat(5000));
    for chunk in [1, 2, 3, 7, 64, input.len()] {
        let (events, err) = read_chunked(input.as_bytes(), chunk, Limits::default());
        assert_eq!(err, None);
        assert_eq!(events.len(), 3, "chunk {chunk}: {events:?}");
    }
    // Whitespace is consumed as it arrives, not buffered.
    let mut reader = StreamReader::new(Limits::default());
    reader.feed(HEADER.as_bytes());
    reader.next_event().unwrap();
    for _ in 0..1000 {
        reader.feed(b"    ");
        assert_eq!(reader.next_event(), Ok(None));
        assert_eq!(reader.unconsumed_len(), 0);
    }
}

#[test]
fn text_between_stanzas_is_invalid_xml() {
    let e = stream_error(b"hello<presence/>");
    assert_eq!(e, XmlError::TextOutsideStanza { offset: HEADER.len() as u64 });
    assert_eq!(e.condition(), C::InvalidXml);
    assert_eq!(stream_error(b"<![CDATA[x]]>").condition(), C::InvalidXml);
}

#[test]
fn nothing_may_follow_the_root_element() {
    let (events, err) = read("<s xmlns='urn:s'></s><x/>");
    assert_eq!(events.len(), 2);
    assert_eq!(err.unwrap().condition(), C::NotWellFormed);
    let (_, err) = read("<s xmlns='urn:s'></s>text");
    assert_eq!(err.unwrap().condition(), C::NotWellFormed);
    let (events, err) = read("<s xmlns='urn:s'></s>  \n");
    assert_eq!((events.len(), err), (2, None));
}

#[test]
fn an_empty_root_opens_and_closes() {
    let (events, err) = read("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>");
    assert_eq!(err, None);
    assert!(matches!(events[..], [StreamEvent::Open(_), StreamEvent::Close]));
}

#[test]
fn rfc6120_4_3_3_reset_starts_a_new_document_keeping_unread_bytes() {
    let mut reader = StreamReader::new(Limits::default());
    reader.feed(HEADER.as_bytes());
    reader.feed(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    reader.feed(HEADER.as_bytes());
    assert!(matches!(reader.next_event(), Ok(Some(StreamEvent::Open(_)))));
    assert!(matches!(reader.next_event(), Ok(Some(StreamEvent::Element(_)))));
    assert!(reader.unconsumed_len() > 0);
    reader.reset();
    assert!(matches!(reader.next_event(), Ok(Some(StreamEvent::Open(_)))), "the new header, XML declaration and all");
    assert_eq!(reader.unconsumed_len(), 0);
    // Without a reset the second declaration would be refused.
    let mut reader = StreamReader::new(Limits::default());
    reader.feed(format!("{HEADER}{HEADER}").as_bytes());
    reader.next_event().unwrap();
    assert_eq!(reader.next_event().unwrap_err().condition(), C::RestrictedXml);
}

#[test]
fn unconsumed_bytes_are_counted_for_the_starttls_check() {
    let mut reader = StreamReader::new(Limits::default());
    reader.feed(format!("{HEADER}<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\x16\x03\x01").as_bytes());
    reader.next_event().unwrap();
    reader.next_event().unwrap();
    assert_eq!(reader.unconsumed_len(), 3);
}

#[test]
fn framing_work_is_linear_however_the_input_is_chunked() {
    // A 1 MiB stanza (text, a long tag, CDATA) in 64-byte chunks: every
    // byte is examined a small constant number of times, not once per
    // chunk.
    let limits = Limits { max_stanza_bytes: 4 << 20, max_tag_bytes: 1 << 20, ..Limits::default() };
    let mut stanza = String::from("<message><body>");
    stanza.push_str(&"x".repeat(1 << 20));
    stanza.push_str("</body><x a='");
    stanza.push_str(&"'>".repeat(1 << 16).replace('\'', "\""));
    stanza.push_str("'/><y><![CDATA[");
    stanza.push_str(&"]]".repeat(1 << 16));
    stanza.push_str("]]></y></message>");
    let input = format!("{HEADER}{stanza}");
    let mut reader = StreamReader::new(limits);
    let mut events = 0;
    for piece in input.as_bytes().chunks(64) {
        reader.feed(piece);
        while reader.next_event().unwrap().is_some() {
            events += 1;
        }
    }
    assert_eq!(events, 2);
    let scanned = reader.scanned();
    assert!(scanned <= 2 * input.len() as u64, "examined {scanned} bytes for {} of input", input.len());
}

#[test]
fn utf8_split_anywhere_is_reassembled() {
    let input = format!("{HEADER}<body>héllo ♚ 🎣 κόσμε</body>");
    for chunk in 1..8 {
        let (events, err) = read_chunked(input.as_bytes(), chunk, Limits::default());
        assert_eq!(err, None);
        assert_eq!(elements(&events)[0].text(), "héllo ♚ 🎣 κόσμε");
    }
}

// ----- writer -----

fn stream_writer(out: &mut String) -> StreamWriter {
    let mut w = StreamWriter::new();
    let root = Element::new("stream", STREAMS).with_attr("to", "im.example.com").unwrap();
    w.open(out, &root, &[("", Namespace::from_static(CLIENT)), ("stream", Namespace::from_static(STREAMS))]);
    w
}

#[test]
fn writer_uses_the_stream_scope_and_declares_only_what_is_new() {
    let mut out = String::new();
    let w = stream_writer(&mut out);
    assert_eq!(
        out,
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='im.example.com'>"
    );
    out.clear();
    let msg = Element::new("message", CLIENT)
        .with_attr("to", "romeo@example.net")
        .unwrap()
        .with_child(Element::new("body", CLIENT).with_text("hi").unwrap())
        .with_child(Element::new("active", "http://jabber.org/protocol/chatstates"));
    w.write(&mut out, &msg);
    assert_eq!(
        out,
        "<message to='romeo@example.net'><body>hi</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>"
    );
    out.clear();
    w.write(
        &mut out,
        &Element::new("features", STREAMS).with_child(Element::new("bind", "urn:ietf:params:xml:ns:xmpp-bind")),
    );
    assert_eq!(out, "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>");
    out.clear();
    w.close(&mut out);
    assert_eq!(out, "</stream:stream>");
}

#[test]
fn hardening_9_outgoing_text_is_escaped_and_illegal_characters_refused() {
    let mut out = String::new();
    let w = stream_writer(&mut out);
    out.clear();
    let msg = Element::new("message", CLIENT)
        .with_attr("id", "a'b\"c<d>&e")
        .unwrap()
        .with_child(Element::new("body", CLIENT).with_text("</body><evil/> & ]]> \"'").unwrap());
    w.write(&mut out, &msg);
    assert_eq!(
        out,
        "<message id='a&apos;b&quot;c&lt;d>&amp;e'><body>&lt;/body&gt;&lt;evil/&gt; &amp; ]]&gt; \"'</body></message>"
    );
    // What was written reads back as the same tree.
    let (events, err) = read(&format!("{HEADER}{out}"));
    assert_eq!(err, None);
    assert_eq!(elements(&events)[0], &msg);
    // Characters XML cannot carry never get into a tree.
    assert!(Element::new("body", CLIENT).with_text("bell\u{7}").is_err());
    assert!(Element::new("message", CLIENT).with_attr("id", "nul\u{0}").is_err());
}

#[test]
fn writer_declares_attribute_prefixes_and_undeclares_the_default() {
    let el = Element::new("x", "urn:x")
        .with_child({
            let mut y = Element::new("y", Namespace::NONE);
            y.set_attr_ns(Namespace::from_static("urn:a"), "k", "1").unwrap();
            y.set_attr_ns(Namespace::XML, "lang", "en").unwrap();
            y
        })
        .with_child(Element::new("z", "urn:x"));
    let text = el.to_string();
    assert_eq!(text, "<x xmlns='urn:x'><y xmlns='' xmlns:ns0='urn:a' ns0:k='1' xml:lang='en'/><z/></x>");
    let (events, err) = read(&format!("{HEADER}{text}"));
    assert_eq!(err, None);
    assert_eq!(elements(&events)[0], &el);
}

/// Verbatim attribute values and text runs of a stanza are spans of one
/// shared copy of its text (one allocation for all of them), whatever the
/// chunking and however much the buffer was compacted meanwhile; values
/// with references, CDATA and common constants are not.
#[test]
fn a_stanzas_verbatim_values_share_one_copy_of_its_text() {
    use super::name::Str;
    let mut input = String::from(HEADER);
    for i in 0..50 {
        input.push_str(&format!("<message to='r{i}@example.net' id='a&amp;b' type='chat'><body>hi {i}</body><x xmlns='urn:x'><![CDATA[c]]></x></message>"));
    }
    for chunk in [1, 7, 64, input.len()] {
        let (events, error) = read_chunked(input.as_bytes(), chunk, Limits::default());
        assert_eq!(error, None);
        let messages = elements(&events);
        assert_eq!(messages.len(), 50);
        for (i, m) in messages.iter().enumerate() {
            assert_eq!(m.attr("to"), Some(format!("r{i}@example.net").as_str()), "chunk {chunk}");
            assert_eq!(m.attr("id"), Some("a&b"));
            assert_eq!(m.child_text("body", "jabber:client").as_deref(), Some(format!("hi {i}").as_str()));
            assert_eq!(m.child_text("x", "urn:x").as_deref(), Some("c"));
            let value = |name: &str| m.attr_stored(name).unwrap();
            let Str::Shared { text, .. } = value("to") else { panic!("to is not a span: {:?}", value("to")) };
            assert!(matches!(value("id"), Str::Owned(_)), "a value with a reference is owned");
            assert!(matches!(value("type"), Str::Static(_)), "a common value is a constant");
            let body = m.child("body", "jabber:client").unwrap();
            let Some(NodeRef::Text(CharData(Str::Shared { text: body_text, .. }))) = body.nodes().next() else {
                panic!("the body is not a span")
            };
            assert!(alloc::sync::Arc::ptr_eq(&text, body_text), "one copy per stanza");
        }
    }
}

/// An element read with plain attributes keeps them as its start tag's
/// text, a span of the stanza, and a lone run of text in place: it reads,
/// compares, writes and changes like any element, in every chunking.
#[test]
fn an_element_as_read_holds_its_tag_and_lone_text_until_changed() {
    use super::name::Str;
    let stanza = "<message to='juliet@example.com'\n  type = \"chat\" xmlns:x='urn:x' id='it\"s' x:k='v' ><body>hi</body>\
                  <c xmlns='urn:caps' hash='sha-1' node='n' ver='v='/><body a='1'>x<y/>z</body></message>";
    let input = format!("{HEADER}{stanza}");
    for chunk in [1, 3, 16, input.len()] {
        let (events, error) = read_chunked(input.as_bytes(), chunk, Limits::default());
        assert_eq!(error, None);
        let m = elements(&events)[0];
        // A prefixed attribute: the message keeps a list.
        assert_eq!(m.attrs().count(), 4, "chunk {chunk}");
        assert_eq!(m.attr_ns("urn:x", "k"), Some("v"));
        let c = m.child("c", "urn:caps").unwrap();
        let attrs: Vec<_> = c.attrs().map(|a| (a.ns().as_str(), a.name(), a.value())).collect();
        assert_eq!(attrs, [("", "hash", "sha-1"), ("", "node", "n"), ("", "ver", "v=")], "declarations are skipped");
        assert_eq!((c.attr("ver"), c.attr("xmlns"), c.attr_ns("urn:caps", "ver")), (Some("v="), None, None));
        let Some(Str::Shared { text: tag_text, .. }) = c.attr_stored("node") else { panic!("node is not a span") };
        let body = m.child("body", "jabber:client").unwrap();
        assert_eq!(body.nodes().len(), 1);
        let Some(NodeRef::Text(CharData(Str::Shared { text: body_text, .. }))) = body.nodes().next() else {
            panic!("the body is not a span")
        };
        assert!(alloc::sync::Arc::ptr_eq(&tag_text, body_text), "one copy per stanza");
        let mixed: Vec<_> = m.children().nth(2).unwrap().nodes().map(NodeRef::to_node).collect();
        assert_eq!(
            mixed,
            [Node::Text("x".into()), Node::Element(Element::new("y", "jabber:client")), Node::Text("z".into())]
        );

        // The same element built compares equal, in any attribute order.
        let built = Element::new("c", "urn:caps").with_attr("ver", "v=").unwrap().with_attr("node", "n").unwrap();
        let built = built.with_attr("hash", "sha-1").unwrap();
        assert_eq!(*c, built);
        assert_eq!(Element::new("body", "jabber:client").with_text("hi").unwrap(), *body);
        // Written and read back, it is the same element.
        let again = format!("{HEADER}{m}");
        let (events, error) = read(&again);
        assert_eq!(error, None);
        assert_eq!(elements(&events)[0], m);

        // Changed, it keeps what it had, in order.
        let mut c = c.clone();
        c.set_attr("node", "m").unwrap();
        c.set_attr("extra", "e").unwrap();
        let names: Vec<_> = c.attrs().map(|a| (a.name(), a.value())).collect();
        assert_eq!(names, [("hash", "sha-1"), ("node", "m"), ("ver", "v="), ("extra", "e")]);
        assert_eq!(c.remove_attr("hash").as_deref(), Some("sha-1"));
        assert_eq!(c.remove_attr("hash"), None);
        let mut body = body.clone();
        body.append_child(Element::new("b", "jabber:client"));
        body.append_text("!").unwrap();
        assert_eq!(body.to_string(), "<body xmlns='jabber:client'>hi<b/>!</body>");
        assert_eq!(body.take_nodes().len(), 3);
        assert!(body.is_empty());
    }
    // Space around `=`, line ends between attributes, the other quote in
    // a value: the tag's text reads as the tokenizer read it.
    let (events, error) = read(&format!("{HEADER}<iq type = 'get'\n\tid=\"a'b\" to='x'/>"));
    assert_eq!(error, None);
    let iq = elements(&events)[0];
    let attrs: Vec<_> = iq.attrs().map(|a| (a.name(), a.value())).collect();
    assert_eq!(attrs, [("type", "get"), ("id", "a'b"), ("to", "x")]);
    assert!(matches!(iq.attr_stored("to"), Some(Str::Shared { .. })));
    assert_eq!(iq.to_string(), "<iq xmlns='jabber:client' type = 'get'\n\tid=\"a'b\" to='x'/>", "written as read");
    // A declaration between two attributes: they are read one by one.
    let (events, error) = read(&format!("{HEADER}<iq a='1' xmlns='urn:y' b='2'/>"));
    assert_eq!(error, None);
    let iq = elements(&events)[0];
    assert_eq!(iq.attribute_text(), None);
    assert_eq!(iq.to_string(), "<iq xmlns='urn:y' a='1' b='2'/>");
}

/// A server stamps `from` on every stanza: an element holding its tag's
/// text keeps that form, the value put in place or after `to`; a value that
/// cannot stand verbatim in it makes the attributes a list.
#[test]
fn an_address_stamped_on_an_element_as_read_keeps_the_tags_text() {
    use super::name::Str;
    let read_one = |stanza: &str| {
        let (events, error) = read(&format!("{HEADER}{stanza}"));
        assert_eq!(error, None);
        elements(&events)[0].clone()
    };
    let mut m = read_one("<message to='juliet@example.com' type=\"chat\"><body>hi</body></message>");
    m.set_attr_stored("from", Str::Static("romeo@example.net/orchard"));
    assert_eq!(m.attribute_text(), Some("to='juliet@example.com' from='romeo@example.net/orchard' type=\"chat\""));
    m.set_attr_stored("from", Str::Static("nurse@example.com"));
    assert_eq!(m.attr("from"), Some("nurse@example.com"));
    assert_eq!(m.attrs().count(), 3);
    let mut p = read_one("<presence type='unavailable'/>");
    p.set_attr_stored("from", Str::Static("romeo@example.net"));
    assert_eq!(p.attribute_text(), Some("from='romeo@example.net' type='unavailable'"));
    // A resource may hold a quote or an ampersand: then a list.
    p.set_attr_stored("from", Str::Static("romeo@example.net/it's & more"));
    assert_eq!(p.attribute_text(), None);
    assert_eq!(p.attr("from"), Some("romeo@example.net/it's & more"));
    assert_eq!(
        p.to_string(),
        "<presence xmlns='jabber:client' from='romeo@example.net/it&apos;s &amp; more' type='unavailable'/>"
    );
    // Read back, each is what it was made.
    for el in [m, p] {
        let (events, error) = read(&format!("{HEADER}{el}"));
        assert_eq!(error, None);
        assert_eq!(elements(&events)[0], &el);
    }
}

/// One attribute as generated: its logical value and how it is written.
#[derive(Clone, Debug)]
struct GeneratedAttr {
    value: String,
    double_quoted: bool,
    space_before_eq: &'static str,
    space_after_eq: &'static str,
}

fn generated_attr() -> impl proptest::strategy::Strategy<Value = GeneratedAttr> {
    use proptest::prelude::*;
    let value = proptest::collection::vec(
        prop_oneof![
            Just('a'),
            Just('Z'),
            Just(' '),
            Just('\''),
            Just('"'),
            Just('>'),
            Just('&'),
            Just('<'),
            Just('é'),
            Just('/'),
            Just('=')
        ],
        0..8,
    )
    .prop_map(|chars| chars.into_iter().collect::<String>());
    let space = prop_oneof![Just(""), Just(" "), Just("\n"), Just("\t ")];
    (value, any::<bool>(), space.clone(), space).prop_map(|(value, double_quoted, space_before_eq, space_after_eq)| {
        GeneratedAttr { value, double_quoted, space_before_eq, space_after_eq }
    })
}

proptest::proptest! {
    /// However a stanza's attributes are written (either quote, the other
    /// quote, `>`, escapes, whitespace around `=` and between them, a
    /// declaration among them), the element reads them as written, in
    /// order, whether it holds them as the tag's text or as a list; it
    /// writes and reads back the same; a change keeps the rest.
    #[test]
    fn attributes_read_as_written_in_either_form(
        attrs in proptest::collection::vec(generated_attr(), 0..5),
        declaration_at in 0usize..6,
        separator in proptest::prop_oneof![proptest::strategy::Just(" "), proptest::strategy::Just("\n  "), proptest::strategy::Just("\t")],
    ) {
        let names = ["to", "from", "id", "type", "x-extra"];
        let mut tag = String::from("<message");
        let mut expected = Vec::new();
        for (i, a) in attrs.iter().enumerate() {
            if i == declaration_at {
                tag.push_str(separator);
                tag.push_str("xmlns='jabber:client'");
            }
            let quote = if a.double_quoted { '"' } else { '\'' };
            let mut raw = String::new();
            for ch in a.value.chars() {
                match ch {
                    '&' => raw.push_str("&amp;"),
                    '<' => raw.push_str("&lt;"),
                    c if c == quote => raw.push_str(if a.double_quoted { "&quot;" } else { "&apos;" }),
                    c => raw.push(c),
                }
            }
            tag.push_str(separator);
            tag.push_str(&format!("{}{}={}{quote}{raw}{quote}", names[i], a.space_before_eq, a.space_after_eq));
            expected.push((names[i].to_string(), a.value.clone()));
        }
        tag.push_str("><body>hi</body></message>");
        let input = format!("{HEADER}{tag}");
        for chunk in [1, 5, input.len()] {
            let (events, error) = read_chunked(input.as_bytes(), chunk, Limits::default());
            proptest::prop_assert_eq!(error, None, "{}", tag);
            let el = elements(&events)[0];
            let got: Vec<(String, String)> = el.attrs().map(|a| (a.name().to_string(), a.value().to_string())).collect();
            proptest::prop_assert_eq!(&got, &expected, "{}", tag);
            for (name, value) in &expected {
                proptest::prop_assert_eq!(el.attr(name), Some(value.as_str()));
            }
            proptest::prop_assert_eq!(el.attr("xmlns"), None);
            // Written and read back: the same element.
            let (again, error) = read(&format!("{HEADER}{el}"));
            proptest::prop_assert_eq!(error, None, "{}", el);
            proptest::prop_assert_eq!(elements(&again)[0], el);
            // Changed: the rest as it was, in order, the change last.
            let mut changed = el.clone();
            changed.set_attr("x-new", "1").unwrap();
            let mut with_new = expected.clone();
            with_new.push(("x-new".into(), "1".into()));
            let got: Vec<(String, String)> = changed.attrs().map(|a| (a.name().to_string(), a.value().to_string())).collect();
            proptest::prop_assert_eq!(got, with_new);
        }
    }
}
