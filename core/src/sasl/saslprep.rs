//! SASLprep (RFC 4013): the stringprep (RFC 3454) profile SCRAM applies to
//! passwords (RFC 5802 §2.2, as a "stored string").
//!
//! Mapping (non-ASCII spaces to U+0020, "commonly mapped to nothing"
//! removed), NFKC, prohibited output, the bidi rule of RFC 3454 §6, and
//! unassigned code points refused. Unassignedness is judged against the
//! Unicode version of the PRECIS tables rather than Unicode 3.2; a password
//! using a character assigned after 3.2 is accepted here where a strict
//! RFC 4013 implementation would refuse it.

use alloc::borrow::Cow;
use alloc::string::String;

use unicode_bidi::BidiClass;
use unicode_normalization::UnicodeNormalization;

use crate::precis;

/// Why a string fails SASLprep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaslprepError {
    /// RFC 4013 §2.3: a prohibited code point (control, private use,
    /// non-character, …).
    #[error("prohibited character U+{:04X}", *.0 as u32)]
    Prohibited(char),
    /// RFC 3454 §7: unassigned code points are not allowed in stored strings.
    #[error("unassigned character U+{:04X}", *.0 as u32)]
    Unassigned(char),
    /// RFC 3454 §6: right-to-left text mixed with left-to-right text, or
    /// not starting and ending with a right-to-left character.
    #[error("violates the stringprep bidi rule")]
    Bidi,
}

/// RFC 3454 B.1: mapped to nothing.
fn mapped_to_nothing(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD | 0x034F | 0x1806 | 0x180B..=0x180D | 0x200B..=0x200D | 0x2060 | 0xFE00..=0xFE0F | 0xFEFF
    )
}

/// RFC 4013 §2.3 prohibited output: RFC 3454 C.1.2 through C.9.
fn prohibited(c: char) -> bool {
    let cp = c as u32;
    precis::is_non_ascii_space(c) // C.1.2
        || cp < 0x20 || cp == 0x7F // C.2.1
        || (0x80..=0x9F).contains(&cp) // C.2.2
        || matches!(cp, 0x06DD | 0x070F | 0x180E | 0x200C | 0x200D | 0x2028 | 0x2029 | 0x2060..=0x2063
            | 0x206A..=0x206F | 0xFEFF | 0xFFF9..=0xFFFC | 0x1D173..=0x1D17A) // C.2.2
        || matches!(cp, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD) // C.3
        || (0xFDD0..=0xFDEF).contains(&cp) || (cp & 0xFFFE) == 0xFFFE // C.4
        || matches!(cp, 0xFFF9..=0xFFFD) // C.6
        || matches!(cp, 0x2FF0..=0x2FFB) // C.7
        || matches!(cp, 0x0340 | 0x0341 | 0x200E | 0x200F | 0x202A..=0x202E | 0x206A..=0x206F) // C.8
        || matches!(cp, 0xE0001 | 0xE0020..=0xE007F) // C.9
}

/// Prepares `s` with SASLprep as a stored string.
pub fn saslprep(s: &str) -> Result<Cow<'_, str>, SaslprepError> {
    // Printable ASCII maps to itself and is allowed: the common case.
    if s.bytes().all(|b| (0x20..0x7F).contains(&b)) {
        return Ok(Cow::Borrowed(s));
    }
    let mapped: String = s
        .chars()
        .filter(|&c| !mapped_to_nothing(c))
        .map(|c| if precis::is_non_ascii_space(c) { ' ' } else { c })
        .nfkc()
        .collect();
    for c in mapped.chars() {
        if prohibited(c) {
            return Err(SaslprepError::Prohibited(c));
        }
        if precis::is_unassigned(c) {
            return Err(SaslprepError::Unassigned(c));
        }
    }
    let class = |c: char| unicode_bidi::bidi_class(c);
    let rtl = |c: char| matches!(class(c), BidiClass::R | BidiClass::AL);
    if mapped.chars().any(rtl) {
        let first = mapped.chars().next().is_some_and(rtl);
        let last = mapped.chars().next_back().is_some_and(rtl);
        if mapped.chars().any(|c| class(c) == BidiClass::L) || !first || !last {
            return Err(SaslprepError::Bidi);
        }
    }
    Ok(Cow::Owned(mapped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4013_3_examples() {
        // The table of RFC 4013 §3.
        assert_eq!(saslprep("I\u{AD}X").unwrap(), "IX", "SOFT HYPHEN mapped to nothing");
        assert_eq!(saslprep("user").unwrap(), "user", "no transformation");
        assert_eq!(saslprep("USER").unwrap(), "USER", "case preserved");
        assert_eq!(saslprep("\u{AA}").unwrap(), "a", "output is NFKC");
        assert_eq!(saslprep("\u{2168}").unwrap(), "IX", "output is NFKC");
        assert_eq!(saslprep("\u{7}"), Err(SaslprepError::Prohibited('\u{7}')), "error - prohibited character");
        assert_eq!(saslprep("\u{627}1"), Err(SaslprepError::Bidi), "error - bidirectional check");
    }

    #[test]
    fn spaces_and_other_prohibitions() {
        assert_eq!(saslprep("a\u{A0}b").unwrap(), "a b", "non-ASCII space becomes a space");
        assert_eq!(saslprep("pass word").unwrap(), "pass word");
        assert_eq!(saslprep("a\u{E000}"), Err(SaslprepError::Prohibited('\u{E000}')));
        assert_eq!(saslprep("a\u{FFFF}"), Err(SaslprepError::Prohibited('\u{FFFF}')));
        assert_eq!(saslprep("a\u{200E}"), Err(SaslprepError::Prohibited('\u{200E}')));
        assert_eq!(saslprep("a\u{40000}"), Err(SaslprepError::Unassigned('\u{40000}')));
        assert_eq!(saslprep("\u{5D0}\u{5D1}").unwrap(), "\u{5D0}\u{5D1}", "all right-to-left is fine");
        assert_eq!(saslprep("\u{5D0}a\u{5D1}"), Err(SaslprepError::Bidi));
    }
}
