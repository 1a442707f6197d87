use alloc::string::ToString;
use alloc::{format, vec};

use super::*;

type Parts<'a> = (Option<&'a str>, &'a str, Option<&'a str>);

fn parts(j: &Jid) -> Parts<'_> {
    (j.local(), j.domain(), j.resource())
}

#[test]
fn rfc7622_3_5_table_1_legal_jids() {
    let cases: &[(&str, Parts<'_>)] = &[
        ("juliet@example.com", (Some("juliet"), "example.com", None)), // 1
        ("juliet@example.com/foo", (Some("juliet"), "example.com", Some("foo"))), // 2
        ("juliet@example.com/foo bar", (Some("juliet"), "example.com", Some("foo bar"))), // 3
        ("juliet@example.com/foo@bar", (Some("juliet"), "example.com", Some("foo@bar"))), // 4
        ("foo\\20bar@example.com", (Some("foo\\20bar"), "example.com", None)), // 5
        ("fussball@example.com", (Some("fussball"), "example.com", None)), // 6
        ("fu\u{DF}ball@example.com", (Some("fu\u{DF}ball"), "example.com", None)), // 7
        ("\u{3C0}@example.com", (Some("\u{3C0}"), "example.com", None)), // 8
        ("\u{3A3}@example.com/foo", (Some("\u{3C3}"), "example.com", Some("foo"))), // 9
        ("\u{3C3}@example.com/foo", (Some("\u{3C3}"), "example.com", Some("foo"))), // 10
        ("\u{3C2}@example.com/foo", (Some("\u{3C2}"), "example.com", Some("foo"))), // 11
        ("king@example.com/\u{265A}", (Some("king"), "example.com", Some("\u{265A}"))), // 12
        ("example.com", (None, "example.com", None)),                  // 13
        ("example.com/foobar", (None, "example.com", Some("foobar"))), // 14
        ("a.example.com/b@example.net", (None, "a.example.com", Some("b@example.net"))), // 15
    ];
    for (input, expected) in cases {
        let jid = Jid::new(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(parts(&jid), *expected, "{input}");
        // Parse ∘ display is stable.
        assert_eq!(Jid::new(jid.as_str()).unwrap(), jid);
    }
    // Examples 6 and 7 differ; 9 and 10 match; 11 matches neither.
    let j = |s: &str| Jid::new(s).unwrap();
    assert_ne!(j("fussball@example.com"), j("fu\u{DF}ball@example.com"));
    assert_eq!(j("\u{3A3}@example.com/foo"), j("\u{3C3}@example.com/foo"));
    assert_ne!(j("\u{3C2}@example.com/foo"), j("\u{3C3}@example.com/foo"));
}

#[test]
fn rfc7622_3_5_table_2_non_jids() {
    let cases: &[(&str, JidError)] = &[
        ("\"juliet\"@example.com", JidError::LocalpartForbidden('"')), // 16
        ("foo bar@example.com", JidError::Localpart(PrecisError::Disallowed { ch: ' ', at: 3 })), // 17
        // 18 is discussed below.
        ("@example.com/", JidError::LocalpartEmpty), // 19
        ("henry\u{2163}@example.com", JidError::Localpart(PrecisError::Disallowed { ch: '\u{2173}', at: 5 })), // 20
        ("\u{265A}@example.com", JidError::Localpart(PrecisError::Disallowed { ch: '\u{265A}', at: 0 })), // 21
        ("juliet@", JidError::DomainEmpty),          // 22
        ("/foobar", JidError::DomainEmpty),          // 23
    ];
    for (input, expected) in cases {
        assert_eq!(Jid::new(input), Err(*expected), "{input}");
    }
}

/// Example 18 (`juliet@example.com/ foo`) is listed as a non-JID, but no
/// rule of RFC 7622 or of the OpaqueString profile (RFC 8265 §4.2), which
/// allows U+0020 anywhere, refuses it. We accept it, as other
/// implementations do: refusing an address peers consider valid loses
/// their stanzas.
#[test]
fn rfc7622_3_5_example_18_leading_space_in_resourcepart_is_accepted_deliberately() {
    let jid = Jid::new("juliet@example.com/ foo").unwrap();
    assert_eq!(jid.resource(), Some(" foo"));
}

#[test]
fn rfc7622_3_preparation_makes_equal_addresses_equal() {
    let a = Jid::new("Juliet@IM.Example.COM./Balcony").unwrap();
    assert_eq!(a.as_str(), "juliet@im.example.com/Balcony");
    assert_eq!(a, Jid::new("juliet@im.example.com/Balcony").unwrap());
    assert_ne!(a, Jid::new("juliet@im.example.com/balcony").unwrap(), "resources keep their case");
    assert_eq!(Jid::new("ＪＵＬＩＥＴ@example.com").unwrap().as_str(), "juliet@example.com");
    assert_eq!(Jid::new("user@xn--bcher-kva.example").unwrap().domain(), "bücher.example");
    assert_eq!(Jid::new("room@muc.example/Ana \u{1F970}").unwrap().resource(), Some("Ana \u{1F970}"));
    assert_eq!(Jid::new("user@[::1]/r").unwrap().domain(), "[::1]");
}

#[test]
fn rfc7622_3_1_first_slash_then_first_at() {
    let j = Jid::new("a@b@c/d@e/f").unwrap_err();
    // The localpart is `a`; the domain `b@c` has a character no host name has.
    assert_eq!(j, JidError::Domain(DomainError::Idna));
    let j = Jid::new("a@b/c@d/e").unwrap();
    assert_eq!(parts(&j), (Some("a"), "b", Some("c@d/e")));
}

#[test]
fn rfc7622_length_limits() {
    let long = "a".repeat(1023);
    assert!(Jid::new(&format!("{long}@example.com/{long}")).is_ok());
    let too_long = "a".repeat(1024);
    assert_eq!(Jid::new(&format!("{too_long}@example.com")), Err(JidError::TooLong(Part::Localpart)));
    assert_eq!(Jid::new(&format!("a@example.com/{too_long}")), Err(JidError::TooLong(Part::Resourcepart)));
    let long_domain = vec!["a".repeat(63); 17].join(".");
    assert_eq!(Jid::new(&long_domain), Err(JidError::TooLong(Part::Domainpart)));
    // Fullwidth input three times longer than its mapped form is fine...
    let wide = "Ａ".repeat(341);
    assert_eq!(Jid::new(&format!("{wide}@example.com")).unwrap().local().unwrap().len(), 341);
    // ...but a huge raw part is refused before any work is done.
    assert_eq!(Jid::new(&"Ａ".repeat(2000)), Err(JidError::TooLong(Part::Domainpart)));
}

#[test]
fn bare_and_full_types() {
    let full = FullJid::new("juliet@example.com/balcony").unwrap();
    assert_eq!(full.resource(), "balcony");
    assert_eq!(full.to_bare().as_str(), "juliet@example.com");
    assert_eq!(full.to_bare().with_resource("chamber").unwrap().as_str(), "juliet@example.com/chamber");
    assert_eq!(FullJid::new("juliet@example.com"), Err(JidError::ResourceMissing));
    assert_eq!(BareJid::new("juliet@example.com/x"), Err(JidError::ResourcePresent));
    assert_eq!(BareJid::new("example.com").unwrap().local(), None);
    let jid: Jid = full.clone().into();
    assert_eq!(jid, full);
    assert_eq!(FullJid::try_from(jid.clone()).unwrap(), full);
    assert!(BareJid::try_from(jid).is_err());
    assert_eq!(full.to_string(), "juliet@example.com/balcony");
    assert_eq!("example.com".parse::<BareJid>().unwrap().domain(), "example.com");
    assert_eq!(BareJid::new("a@b").unwrap().with_resource(""), Err(JidError::ResourceEmpty));
}

/// A JID read from a shared value (an attribute the reader took verbatim)
/// is that text when preparation changes nothing, so reading `from` and
/// `to` copies nothing; one that preparation changes (case, width) is its
/// own prepared copy; both compare and hash as text; a bare JID of a
/// shared one shares too.
#[test]
fn a_prepared_jid_read_from_a_shared_value_shares_its_text() {
    use crate::shared_str::Str;
    use alloc::sync::Arc;
    let text: Arc<str> = Arc::from("xx juliet@example.com/balcony Romeo@Example.NET yy");
    let span = |start: usize, end: usize| Str::Shared { text: Arc::clone(&text), start: start as u32, end: end as u32 };
    let juliet = Jid::from_value(span(3, 29)).unwrap();
    assert_eq!(juliet, Jid::new("juliet@example.com/balcony").unwrap());
    assert_eq!(juliet.local(), Some("juliet"));
    assert_eq!(juliet.domain(), "example.com");
    assert_eq!(juliet.resource(), Some("balcony"));
    assert!(matches!(juliet.shared_text(), Str::Shared { .. }), "unchanged: shared");
    assert!(matches!(juliet.to_bare().as_jid().shared_text(), Str::Shared { .. }), "its bare JID too");
    assert_eq!(juliet.to_bare().as_str(), "juliet@example.com");
    let romeo = Jid::from_value(span(30, 47)).unwrap();
    assert_eq!(romeo.as_str(), "romeo@example.net");
    assert!(matches!(romeo.shared_text(), Str::Owned(_)), "prepared differently: its own copy");
    assert_eq!(Jid::from_value(span(0, 2)).unwrap().domain(), "xx");
    assert!(Jid::from_value(Str::Static("a@@b")).is_err());
}

proptest::proptest! {
    /// The one-pass split cuts where RFC 7622 §3.1 says: the first '/'
    /// ends the bare JID, the first '@' before it ends the localpart.
    #[test]
    fn the_split_agrees_with_split_once(s in "[a@/é.]{0,12}") {
        let (rest, resource) = match s.split_once('/') {
            Some((rest, resource)) => (rest, Some(resource)),
            None => (s.as_str(), None),
        };
        let expected = match rest.split_once('@') {
            Some((local, domain)) => (Some(local), domain, resource),
            None => (None, rest, resource),
        };
        proptest::prop_assert_eq!(split(&s), expected);
    }
}
