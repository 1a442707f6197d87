//! parse ∘ serialize is the identity on element trees built through the
//! public API, written both inside a stream scope and standalone.

use proptest::prelude::*;
use sxmpp::xml::{Element, Limits, Namespace, StreamEvent, StreamReader, StreamWriter};

const STREAMS: &str = "http://etherx.jabber.org/streams";

fn namespace() -> impl Strategy<Value = Namespace> {
    prop_oneof![
        Just(Namespace::NONE),
        Just(Namespace::from_static("jabber:client")),
        Just(Namespace::from_static(STREAMS)),
        Just(Namespace::from_static("urn:x")),
        Just(Namespace::from_static("urn:y&'\"<>")),
        Just(Namespace::XML),
    ]
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("message".to_string()),
        Just("body".to_string()),
        Just("x".to_string()),
        Just("lang".to_string()),
        Just("ünï-cødé.1".to_string()),
        "[a-z_][a-z0-9._-]{0,8}",
    ]
}

/// Text of any characters XML can carry, including the ones that need
/// escaping or get normalised on reading.
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            any::<char>(),
            Just('<'),
            Just('&'),
            Just('>'),
            Just('\''),
            Just('"'),
            Just('\r'),
            Just('\n'),
            Just('\t'),
            Just(']'),
        ],
        0..24,
    )
    .prop_map(|chars| {
        chars
            .into_iter()
            .filter(|&c| matches!(c as u32, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF))
            .collect()
    })
}

#[derive(Clone, Debug)]
enum Child {
    Element(Element),
    Text(String),
}

fn element() -> impl Strategy<Value = Element> {
    let leaf = (name(), namespace()).prop_map(|(n, ns)| Element::try_new(n, ns).unwrap());
    leaf.prop_recursive(6, 64, 6, |inner| {
        (
            name(),
            namespace(),
            proptest::collection::vec((namespace(), name(), text()), 0..5),
            proptest::collection::vec(prop_oneof![inner.prop_map(Child::Element), text().prop_map(Child::Text)], 0..6),
        )
            .prop_map(|(n, ns, attrs, children)| {
                let mut el = Element::try_new(n, ns).unwrap();
                for (ans, an, av) in attrs {
                    el.set_attr_ns(ans, &an, av).unwrap();
                }
                for child in children {
                    match child {
                        Child::Element(c) => el.append_child(c),
                        Child::Text(t) => el.append_text(&t).unwrap(),
                    }
                }
                el
            })
    })
}

fn read_one(document: &str) -> Element {
    let mut reader = StreamReader::new(Limits::default());
    reader.feed(document.as_bytes());
    let mut found = None;
    while let Some(ev) = reader.next_event().unwrap_or_else(|e| panic!("{e} in {document}")) {
        if let StreamEvent::Element(el) = ev {
            found = Some(el);
        }
    }
    found.expect("one element")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn parse_of_serialize_is_identity_in_a_stream(el in element()) {
        let mut out = String::new();
        let mut writer = StreamWriter::new();
        let root = Element::new("stream", STREAMS);
        writer.open(&mut out, &root, &[("", Namespace::from_static("jabber:client")), ("stream", Namespace::from_static(STREAMS))]);
        writer.write(&mut out, &el);
        writer.close(&mut out);
        prop_assert_eq!(read_one(&out), el);
    }

    #[test]
    fn parse_of_serialize_is_identity_standalone(el in element()) {
        // Display declares what it needs, given no default namespace.
        let document = format!("<r:root xmlns:r='urn:root'>{el}</r:root>");
        prop_assert_eq!(read_one(&document), el);
    }
}
