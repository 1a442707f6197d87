//! Character-level rules of XML 1.0 (§2.2 `Char`, §2.3 `Name`) and
//! XML-NAMES (`NCName`), and the escaping the writer relies on.

use alloc::string::String;

/// Data that XML 1.0 cannot carry: a character outside the `Char`
/// production (XML 1.0 §2.2), or a name outside `NCName`.
///
/// Returned when an application builds an element, so that the core never
/// writes ill-formed XML (RFC 6120 §11.3).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidXml {
    /// A character XML 1.0 forbids, such as U+0000 or U+FFFE.
    #[error("character U+{:04X} at byte {at} cannot appear in XML", *.ch as u32)]
    Char {
        /// The offending character.
        ch: char,
        /// Its byte offset in the string that was checked.
        at: usize,
    },
    /// A string that is not a valid element or attribute name.
    #[error("{0:?} is not a valid XML name")]
    Name(String),
}

/// True if XML 1.0 `Char` admits `c`.
#[inline]
pub(crate) const fn is_xml_char(c: char) -> bool {
    matches!(c as u32, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// Checks that every character of `s` is an XML 1.0 `Char`.
///
/// Works on bytes: only C0 controls and the UTF-8 encodings of U+FFFE and
/// U+FFFF (`EF BF BE`, `EF BF BF`) can be illegal in a Rust string.
pub(crate) fn check_text(s: &str) -> Result<(), InvalidXml> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let bad = if b < 0x20 {
            !matches!(b, b'\t' | b'\n' | b'\r')
        } else {
            b == 0xEF && bytes.get(i + 1) == Some(&0xBF) && matches!(bytes.get(i + 2), Some(0xBE | 0xBF))
        };
        if bad {
            let ch = s[i..].chars().next().unwrap_or('\0');
            return Err(InvalidXml::Char { ch, at: i });
        }
        i += 1;
    }
    Ok(())
}

fn is_name_start_char(c: char) -> bool {
    matches!(c as u32,
        0x41..=0x5A | 0x5F | 0x61..=0x7A | 0xC0..=0xD6 | 0xD8..=0xF6 | 0xF8..=0x2FF
        | 0x370..=0x37D | 0x37F..=0x1FFF | 0x200C..=0x200D | 0x2070..=0x218F
        | 0x2C00..=0x2FEF | 0x3001..=0xD7FF | 0xF900..=0xFDCF | 0xFDF0..=0xFFFD
        | 0x10000..=0xEFFFF)
}

fn is_name_char(c: char) -> bool {
    is_name_start_char(c) || matches!(c as u32, 0x2D | 0x2E | 0x30..=0x39 | 0xB7 | 0x300..=0x36F | 0x203F..=0x2040)
}

/// True if `s` is an `NCName` (XML-NAMES §3): a name without a colon.
pub(crate) fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if is_name_start_char(c) => chars.all(is_name_char),
        _ => false,
    }
}

/// Checks a local name or prefix an application supplies.
pub(crate) fn check_ncname(s: &str) -> Result<(), InvalidXml> {
    if is_ncname(s) { Ok(()) } else { Err(InvalidXml::Name(s.into())) }
}

/// Appends `s` escaped for character data. `\r` becomes `&#13;` so that a
/// reader's end-of-line normalisation gives back the same text; `>` is
/// escaped so that `]]>` can never appear.
pub(crate) fn escape_text(out: &mut String, s: &str) {
    escape(out, s, &TEXT_REFERENCES);
}

/// Appends `s` escaped for an attribute value delimited by `'`. Tab, line
/// feed and carriage return are written as character references because a
/// reader normalises the literal characters to spaces (XML 1.0 §3.3.3).
pub(crate) fn escape_attr(out: &mut String, s: &str) {
    escape(out, s, &ATTR_REFERENCES);
}

/// The reference each byte is written as (`None`: as it is), by byte: one
/// table load per byte instead of a chain of comparisons, and the bytes
/// escaped and their references come from one list, so they cannot
/// disagree.
type References = [Option<&'static str>; 256];

const fn references(list: &[(u8, &'static str)]) -> References {
    let mut table: References = [None; 256];
    let mut i = 0;
    while i < list.len() {
        table[list[i].0 as usize] = Some(list[i].1);
        i += 1;
    }
    table
}
static TEXT_REFERENCES: References = references(&[(b'<', "&lt;"), (b'>', "&gt;"), (b'&', "&amp;"), (b'\r', "&#13;")]);
static ATTR_REFERENCES: References = references(&[
    (b'<', "&lt;"),
    (b'&', "&amp;"),
    (b'\'', "&apos;"),
    (b'"', "&quot;"),
    (b'\t', "&#9;"),
    (b'\n', "&#10;"),
    (b'\r', "&#13;"),
]);

#[inline]
fn escape(out: &mut String, s: &str, references: &References) {
    let bytes = s.as_bytes();
    let mut start = 0;
    // Only ASCII bytes have references, so every cut is a character
    // boundary.
    while let Some(i) = bytes[start..].iter().position(|&b| references[usize::from(b)].is_some()) {
        let at = start + i;
        out.push_str(&s[start..at]);
        out.push_str(references[usize::from(bytes[at])].unwrap_or_default());
        start = at + 1;
    }
    out.push_str(&s[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_1_0_char_production() {
        assert!(check_text("tab\tlf\ncr\r and ünïcode ♚ 🎣").is_ok());
        assert_eq!(check_text("a\u{0}b"), Err(InvalidXml::Char { ch: '\0', at: 1 }));
        assert_eq!(check_text("\u{1}"), Err(InvalidXml::Char { ch: '\u{1}', at: 0 }));
        assert_eq!(check_text("x\u{FFFE}"), Err(InvalidXml::Char { ch: '\u{FFFE}', at: 1 }));
        assert_eq!(check_text("\u{FFFF}"), Err(InvalidXml::Char { ch: '\u{FFFF}', at: 0 }));
        assert!(check_text("\u{FFFD}\u{EFBF}").is_ok());
    }

    #[test]
    fn ncnames() {
        for ok in ["a", "stream", "_x", "a-b.c9", "é", "x\u{B7}"] {
            assert!(is_ncname(ok), "{ok}");
        }
        for bad in ["", "1a", "-a", "a:b", "a b", "a>", ".a"] {
            assert!(!is_ncname(bad), "{bad}");
        }
    }

    #[test]
    fn escaping() {
        let mut s = String::new();
        escape_text(&mut s, "a<b>&c]]>\r");
        assert_eq!(s, "a&lt;b&gt;&amp;c]]&gt;&#13;");
        s.clear();
        escape_attr(&mut s, "'\"<&\t\n\r>");
        assert_eq!(s, "&apos;&quot;&lt;&amp;&#9;&#10;&#13;>");
    }
}
