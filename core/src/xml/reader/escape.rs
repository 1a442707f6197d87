//! Character data and references (XML 1.0 §2.2, §2.4, §2.11, §3.3.3,
//! §4.1): characters checked, line ends and attribute whitespace
//! normalised, the predefined entities and character references resolved.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;

use super::super::chars::is_xml_char;
use super::super::error::{Restricted, XmlError};

/// A reference or character fault, before it is placed in the stream.
#[derive(Debug)]
pub(super) enum RefError {
    Illegal(u32),
    Restricted(String),
    Malformed(String),
}

impl RefError {
    pub(super) fn at(self, offset: u64) -> XmlError {
        match self {
            RefError::Illegal(ch) => XmlError::IllegalChar { offset, ch },
            RefError::Restricted(name) => XmlError::Restricted { offset, what: Restricted::EntityReference(name) },
            RefError::Malformed(detail) => XmlError::Malformed { offset, detail },
        }
    }
}

/// What a byte of character data asks for, by byte: most ask for nothing,
/// so the check is one table load and one predictable branch per byte.
const ORDINARY: u8 = 0;
const ILLEGAL: u8 = 1;
/// 0xEF: the lead byte of U+FFFE and U+FFFF.
const LEAD_EF: u8 = 2;
const GT: u8 = 3;
/// `&` and `\r`: the text is not verbatim (references, line ends).
const REWRITE: u8 = 4;
/// `<`: where character data ends (ordinary inside CDATA).
const LT: u8 = 5;

static TEXT_BYTES: [u8; 256] =
    byte_classes(ORDINARY, ILLEGAL, &[(b'\r', REWRITE), (b'&', REWRITE), (b'>', GT), (b'<', LT), (0xEF, LEAD_EF)]);

/// A table of byte classes, for the loops that check characters a byte
/// at a time: `controls` for the C0 controls XML forbids (all but tab,
/// line feed and carriage return), `rest` for every other byte, then each
/// of `marks` (byte, class) over both.
pub(super) const fn byte_classes(rest: u8, controls: u8, marks: &[(u8, u8)]) -> [u8; 256] {
    let mut table = [rest; 256];
    let mut b = 0;
    while b < 0x20 {
        if !matches!(b as u8, b'\t' | b'\n' | b'\r') {
            table[b] = controls;
        }
        b += 1;
    }
    let mut i = 0;
    while i < marks.len() {
        table[marks[i].0 as usize] = marks[i].1;
        i += 1;
    }
    table
}

/// Checks character data: every character an XML 1.0 `Char` (only C0
/// controls and U+FFFE/U+FFFF can fail in a Rust string), and, outside
/// CDATA, no `]]>` (XML 1.0 §2.4). Returns whether the text is verbatim:
/// no reference and no carriage return, so it reads as it stands.
pub(super) fn check_chars(text: &str, forbid_cdata_end: bool) -> Result<bool, RefError> {
    let bytes = text.as_bytes();
    let mut verbatim = true;
    for (i, &b) in bytes.iter().enumerate() {
        match TEXT_BYTES[usize::from(b)] {
            ORDINARY | LT => {}
            ILLEGAL => return Err(RefError::Illegal(u32::from(b))),
            LEAD_EF => {
                if bytes.get(i + 1) == Some(&0xBF) && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)) {
                    return Err(RefError::Illegal(0xFFFE + u32::from(bytes[i + 2] - 0xBE)));
                }
            }
            GT => {
                if forbid_cdata_end && i >= 2 && &bytes[i - 2..i] == b"]]" {
                    return Err(RefError::Malformed("']]>' in character data".into()));
                }
            }
            _ => verbatim = false,
        }
    }
    Ok(verbatim)
}

/// Character data from `bytes[from]` to the next `<`, checked as
/// [`check_chars`] checks it in the same pass: where it ends, and what
/// the check found. `None` if no `<` has arrived yet. (A loop of its own:
/// one loop serving both, stopping at `<` or not, read 5–9% slower.)
pub(super) fn scan_text(bytes: &[u8], from: usize) -> Option<(usize, Result<bool, RefError>)> {
    let mut verbatim = true;
    let mut fault = None;
    let mut i = from;
    while let Some(&b) = bytes.get(i) {
        match TEXT_BYTES[usize::from(b)] {
            ORDINARY => {}
            LT => {
                return Some((i, fault.map_or(Ok(verbatim), Err)));
            }
            // After a fault, only the end is looked for.
            _ if fault.is_some() => {}
            ILLEGAL => fault = Some(RefError::Illegal(u32::from(b))),
            LEAD_EF => {
                if bytes.get(i + 1) == Some(&0xBF) && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)) {
                    fault = Some(RefError::Illegal(0xFFFE + u32::from(bytes[i + 2] - 0xBE)));
                }
            }
            GT => {
                if i >= from + 2 && &bytes[i - 2..i] == b"]]" {
                    fault = Some(RefError::Malformed("']]>' in character data".into()));
                }
            }
            _ => verbatim = false,
        }
        i += 1;
    }
    None
}

/// XML 1.0 §2.11: `\r\n` and lone `\r` become `\n`.
pub(super) fn normalize_newlines(out: &mut String, raw: &str) {
    let mut rest = raw;
    while let Some(i) = rest.find('\r') {
        out.push_str(&rest[..i]);
        out.push('\n');
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('\n') {
            rest = r;
        }
    }
    out.push_str(rest);
}

/// Resolves the predefined entities and character references in `raw`
/// (whose characters `xmlparser` has already checked), normalising line
/// ends, and for attribute values whitespace (XML 1.0 §2.11, §3.3.3,
/// §4.1, §4.6).
pub(super) fn unescape(out: &mut String, raw: &str, attr: bool) -> Result<(), RefError> {
    let special = |b: u8| b == b'&' || b == b'\r' || (attr && (b == b'\n' || b == b'\t'));
    if !raw.bytes().any(special) {
        out.push_str(raw);
        return Ok(());
    }
    out.reserve(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.bytes().position(special) {
        out.push_str(&rest[..i]);
        let b = rest.as_bytes()[i];
        rest = &rest[i + 1..];
        match b {
            b'\r' => {
                if let Some(r) = rest.strip_prefix('\n') {
                    rest = r;
                }
                out.push(if attr { ' ' } else { '\n' });
            }
            b'\n' | b'\t' => out.push(' '),
            _ => {
                let Some(end) = rest.find(';') else {
                    return Err(RefError::Malformed("'&' without ';'".into()));
                };
                let name = &rest[..end];
                rest = &rest[end + 1..];
                let ch = match name {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "apos" => '\'',
                    "quot" => '"',
                    _ => char_ref(name)?,
                };
                out.push(ch);
            }
        }
    }
    out.push_str(rest);
    Ok(())
}

/// An attribute value with its references resolved and whitespace
/// normalised: borrowed as it stands when there is nothing to resolve (the
/// common case), so reading it allocates only if it is kept.
pub(super) fn unescape_attr(raw: &str) -> Result<Cow<'_, str>, RefError> {
    if is_verbatim_value(raw.as_bytes()) {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    unescape(&mut out, raw, true)?;
    Ok(Cow::Owned(out))
}

/// Whether an attribute value reads as it is written: no reference, no
/// whitespace that XML 1.0 §3.3.3 normalises.
pub(super) fn is_verbatim_value(raw: &[u8]) -> bool {
    !raw.iter().any(|b| matches!(b, b'&' | b'\r' | b'\n' | b'\t'))
}

/// A character reference's name (without `&` and `;`): `#65` or `#x41`.
fn char_ref(name: &str) -> Result<char, RefError> {
    let Some(num) = name.strip_prefix('#') else {
        return Err(if super::super::chars::is_ncname(name) {
            RefError::Restricted(name.into())
        } else {
            RefError::Malformed(format!("bad reference &{name};"))
        });
    };
    let (digits, radix) = match num.strip_prefix('x') {
        Some(hex) => (hex, 16),
        None => (num, 10),
    };
    let valid_digit = |c: char| c.is_digit(radix);
    if digits.is_empty() || !digits.chars().all(valid_digit) {
        return Err(RefError::Malformed(format!("bad character reference &{name};")));
    }
    // Leading zeros are allowed; anything with more significant digits than
    // U+10FFFF has is out of range.
    let significant = digits.trim_start_matches('0');
    let code = if significant.len() > 8 { u32::MAX } else { u32::from_str_radix(significant, radix).unwrap_or(0) };
    match char::from_u32(code) {
        Some(c) if is_xml_char(c) => Ok(c),
        _ => Err(RefError::Illegal(code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec;

    proptest::proptest! {
        /// Framing's pass over text ends at the first `<` and finds what
        /// the check of the text before it finds (two loops over one
        /// table, kept apart for speed, held together here).
        #[test]
        fn scan_text_agrees_with_check_chars(
            pieces in proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just("plain text "), proptest::strategy::Just("é"), proptest::strategy::Just("&amp;"),
                proptest::strategy::Just("]]>"), proptest::strategy::Just(">"), proptest::strategy::Just("\r\n"),
                proptest::strategy::Just("\t"), proptest::strategy::Just("\u{1}"), proptest::strategy::Just("\u{FFFE}"),
                proptest::strategy::Just("\u{FEFF}"), proptest::strategy::Just("<"), proptest::strategy::Just("x"),
            ], 0..12),
            from in 0usize..3,
        ) {
            let text: alloc::string::String = pieces.concat();
            let from = from.min(text.len());
            if !text.is_char_boundary(from) {
                return Ok(());
            }
            let scanned = scan_text(text.as_bytes(), from);
            match text[from..].find('<') {
                None => proptest::prop_assert!(scanned.is_none()),
                Some(lt) => {
                    let (end, found) = scanned.expect("a '<' is there");
                    proptest::prop_assert_eq!(end, from + lt);
                    let expected = check_chars(&text[from..from + lt], true);
                    proptest::prop_assert_eq!(format!("{found:?}"), format!("{expected:?}"));
                }
            }
        }
    }
}
