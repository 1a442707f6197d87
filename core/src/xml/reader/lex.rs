//! The common tag, read without the tokenizer: ASCII names, attribute
//! values of ordinary characters. Nearly every tag of a real stream is
//! one, and a byte loop reads it several times faster than `xmlparser`,
//! which decodes every character of a value.
//!
//! This is a fast path, never a second parser: it accepts only a subset of
//! what `xmlparser` accepts, returns the very ranges `xmlparser` would, and
//! gives up (`None`) on anything else, a fault included, so that
//! `xmlparser` reads that tag and reports any error as before. The tests
//! hold the two side by side.

use alloc::vec::Vec;
use core::ops::Range;

use super::RawAttr;
use super::escape::byte_classes;
use super::input::is_xml_space;

/// A start tag read: the element's (prefix, local) name ranges and
/// whether it is empty (`<x/>`).
pub(super) type StartTag = (Range<usize>, Range<usize>, bool);

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// What a byte of an attribute value asks for: most nothing.
const PLAIN: u8 = 0;
/// A C0 control, `<`, or a quote: give up, or end the value.
const STOP: u8 = 1;
/// 0xEF: the lead byte of U+FFFE and U+FFFF.
const LEAD_EF: u8 = 2;

static VALUE_BYTES: [u8; 256] =
    byte_classes(PLAIN, STOP, &[(b'<', STOP), (b'\'', STOP), (b'"', STOP), (0xEF, LEAD_EF)]);

fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && is_xml_space(bytes[i]) {
        i += 1;
    }
    i
}

/// An ASCII `NCName`, or `NCName:NCName`, at `i`: its (prefix, local)
/// ranges and where it ends. The prefix of an unprefixed name is empty.
fn qname(bytes: &[u8], start: usize) -> Option<(Range<usize>, Range<usize>, usize)> {
    let ncname = |from: usize| {
        if !is_name_start(*bytes.get(from)?) {
            return None;
        }
        let mut i = from + 1;
        while i < bytes.len() && is_name_char(bytes[i]) {
            i += 1;
        }
        Some(i)
    };
    let end = ncname(start)?;
    if bytes.get(end) == Some(&b':') {
        let local_end = ncname(end + 1)?;
        return Some((start..end, end + 1..local_end, local_end));
    }
    Some((start..start, start..end, end))
}

/// The start tag `bytes[tag]` (framed: it ends with its `>`), its
/// attributes' ranges appended to `attrs`, if it is a common one with at
/// most `max_attributes` attributes. On `None`, `attrs` holds whatever
/// was read before the fast path gave up.
pub(super) fn start_tag(
    bytes: &[u8],
    tag: Range<usize>,
    attrs: &mut Vec<RawAttr>,
    max_attributes: usize,
) -> Option<StartTag> {
    let bytes = bytes.get(..tag.end)?;
    let (read, end) = start_tag_at(bytes, tag.start, attrs, max_attributes)?;
    (end == tag.end).then_some(read)
}

/// The common start tag at `bytes[start]` (`<`), not framed yet: what
/// [`start_tag`] reads, and where the tag ends. `None` also when the tag
/// does not end within `bytes` (framing takes it from there).
pub(super) fn start_tag_at(
    bytes: &[u8],
    start: usize,
    attrs: &mut Vec<RawAttr>,
    max_attributes: usize,
) -> Option<(StartTag, usize)> {
    let (prefix, local, mut i) = qname(bytes, start + 1)?;
    loop {
        let after_name = i;
        i = skip_space(bytes, i);
        match *bytes.get(i)? {
            b'>' => return Some(((prefix, local, false), i + 1)),
            b'/' => return (bytes.get(i + 1) == Some(&b'>')).then_some(((prefix, local, true), i + 2)),
            // Attributes are separated by whitespace.
            _ if i == after_name => return None,
            _ => {}
        }
        let (attr_prefix, attr_local, end) = qname(bytes, i)?;
        i = skip_space(bytes, end);
        if bytes.get(i) != Some(&b'=') {
            return None;
        }
        i = skip_space(bytes, i + 1);
        let quote = *bytes.get(i)?;
        if quote != b'\'' && quote != b'"' {
            return None;
        }
        i += 1;
        let value_start = i;
        loop {
            let b = *bytes.get(i)?;
            match VALUE_BYTES[usize::from(b)] {
                PLAIN => {}
                LEAD_EF if bytes.get(i + 1) == Some(&0xBF) && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)) => {
                    return None;
                }
                LEAD_EF => {}
                _ if b == quote => break,
                // The other quote may stand in a value.
                _ if b == b'\'' || b == b'"' => {}
                _ => return None,
            }
            i += 1;
        }
        if attrs.len() == max_attributes {
            return None;
        }
        attrs.push(RawAttr { prefix: attr_prefix, local: attr_local, value: value_start..i });
        i += 1;
    }
}

/// The end tag `bytes[tag]` (framed: `</` to its `>`): its (prefix, local)
/// name ranges, if its name is ASCII.
pub(super) fn end_tag(bytes: &[u8], tag: Range<usize>) -> Option<(Range<usize>, Range<usize>)> {
    let bytes = bytes.get(..tag.end)?;
    let (prefix, local, end) = qname(bytes, tag.start + 2)?;
    let i = skip_space(bytes, end);
    (bytes.get(i) == Some(&b'>') && i + 1 == tag.end).then_some((prefix, local))
}

#[cfg(test)]
mod tests {
    use alloc::string::String;

    use proptest::prelude::*;
    use xmlparser::{ElementEnd, Token, Tokenizer};

    use super::*;

    type Tokens = (Range<usize>, Range<usize>, Vec<(Range<usize>, Range<usize>, Range<usize>)>, bool);

    /// What `xmlparser` reads from a whole start tag, in the same ranges.
    fn by_tokenizer(text: &str) -> Option<Tokens> {
        let mut name = None;
        let mut attrs = Vec::new();
        for token in Tokenizer::from_fragment(text, 0..text.len()) {
            match token.ok()? {
                Token::ElementStart { prefix, local, .. } => name = Some((prefix.range(), local.range())),
                Token::Attribute { prefix, local, value, .. } => {
                    attrs.push((prefix.range(), local.range(), value.range()))
                }
                Token::ElementEnd { end: ElementEnd::Open, span } if span.end() == text.len() => {
                    let (p, l) = name?;
                    return Some((p, l, attrs, false));
                }
                Token::ElementEnd { end: ElementEnd::Empty, span } if span.end() == text.len() => {
                    let (p, l) = name?;
                    return Some((p, l, attrs, true));
                }
                _ => return None,
            }
        }
        None
    }

    fn by_fast_path(text: &str) -> Option<Tokens> {
        let mut raw = Vec::new();
        let (p, l, empty) = start_tag(text.as_bytes(), 0..text.len(), &mut raw, 64)?;
        let attrs = raw.into_iter().map(|a| (a.prefix, a.local, a.value)).collect();
        Some((p, l, attrs, empty))
    }

    /// An unprefixed name's prefix is empty, wherever its range points.
    fn normalized(tokens: Option<Tokens>) -> Option<Tokens> {
        let empty = |r: Range<usize>| if r.is_empty() { 0..0 } else { r };
        tokens.map(|(p, l, attrs, e)| (empty(p), l, attrs.into_iter().map(|(p, l, v)| (empty(p), l, v)).collect(), e))
    }

    #[test]
    fn reads_common_tags_as_the_tokenizer_does() {
        for tag in [
            "<message from='a@b/c' to=\"d@e\" type='chat' id='1'>",
            "<stream:features>",
            "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='x='/>",
            "<a  b = 'it\"s'\n\tc=\"'\" />",
            "<x xml:lang='en' v='&amp;&#x41;'>",
            "<body>",
        ] {
            let fast = by_fast_path(tag);
            assert!(fast.is_some(), "{tag}");
            assert_eq!(normalized(fast), normalized(by_tokenizer(tag)), "{tag}");
        }
    }

    #[test]
    fn gives_up_on_anything_uncommon_or_wrong() {
        for tag in [
            "<a b='1'c='2'>",   // no space between attributes
            "<a b='<'>",        // '<' in a value
            "<a b='\u{1}'>",    // an illegal character
            "<a b='\u{FFFE}'>", // another
            "<a:b:c>",          // two colons
            "<é>",              // a non-ASCII name (legal, but the tokenizer's)
            "<a b=c>",          // unquoted
            "<a b>",            // no value
            "<1a>",             // a bad name start
            "<a/ >",
        ] {
            assert_eq!(by_fast_path(tag), None, "{tag}");
        }
    }

    #[test]
    fn never_reads_more_attributes_than_the_limit() {
        let mut raw = Vec::new();
        assert_eq!(start_tag(b"<a b='1' c='2'>", 0..15, &mut raw, 1), None);
        raw.clear();
        assert!(start_tag(b"<a b='1' c='2'>", 0..15, &mut raw, 2).is_some());
    }

    #[test]
    fn reads_end_tags() {
        assert_eq!(end_tag(b"</stream:stream >", 0..17), Some((2..8, 9..15)));
        assert_eq!(end_tag(b"</body>", 0..7), Some((2..2, 2..6)));
        assert_eq!(end_tag(b"</a:>", 0..5), None);
        assert_eq!(end_tag("</é>".as_bytes(), 0..5), None);
    }

    #[test]
    fn reads_a_tag_not_yet_framed_up_to_its_own_end() {
        let mut raw = Vec::new();
        // Text after the tag, and a `>` inside a value.
        let (tag, end) = start_tag_at(b"xx<a b='1>2'>rest<c/>", 2, &mut raw, 64).unwrap();
        assert_eq!((tag, end), ((3..3, 3..4, false), 13));
        assert_eq!(raw[0].value, 8..11);
        raw.clear();
        assert_eq!(start_tag_at(b"<x/>", 0, &mut raw, 64), Some(((1..1, 1..2, true), 4)));
        // Cut short anywhere: nothing read (framing takes it on).
        let whole = b"<message to='a@b' type='chat'>";
        for cut in 1..whole.len() {
            raw.clear();
            assert_eq!(start_tag_at(&whole[..cut], 0, &mut raw, 64), None, "cut at {cut}");
        }
    }

    proptest! {
        /// Whatever the fast path reads, the tokenizer reads the same way.
        #[test]
        fn agrees_with_the_tokenizer(body in "[a-c:_.1 \t='\"/<&;é\u{1}\u{FFFE}-]{0,24}") {
            let tag: String = ["<", &body, ">"].concat();
            let fast = by_fast_path(&tag);
            if fast.is_some() {
                prop_assert_eq!(normalized(fast), normalized(by_tokenizer(&tag)));
            }
        }

        /// Tags made of valid pieces are read by the fast path, the same.
        #[test]
        fn reads_valid_tags(
            name in "[a-z_][a-z0-9._-]{0,5}(:[a-z_][a-z0-9-]{0,5})?",
            attrs in proptest::collection::vec(("[a-z_][a-z0-9]{0,4}(:[a-z]{1,3})?", "[^<'\"\u{0}-\u{1f}]{0,8}", any::<bool>()), 0..4),
            empty in any::<bool>(),
        ) {
            let mut tag = String::from("<");
            tag.push_str(&name);
            for (i, (attr, value, double)) in attrs.iter().enumerate() {
                let q = if *double { '"' } else { '\'' };
                let sep = if i % 2 == 0 { " " } else { "\n " };
                tag.push_str(&alloc::format!("{sep}{attr}{}={q}{value}{q}", if i % 3 == 0 { " " } else { "" }));
            }
            tag.push_str(if empty { "/>" } else { ">" });
            let tokens = by_tokenizer(&tag);
            prop_assume!(tokens.is_some());
            prop_assert_eq!(normalized(by_fast_path(&tag)), normalized(tokens));
        }
    }
}
