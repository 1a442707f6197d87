//! PRECIS (RFC 8264) with the two profiles RFC 7622 uses for addresses:
//! UsernameCaseMapped (RFC 8265 §3.3) for localparts and OpaqueString
//! (RFC 8265 §4.2) for resourceparts; and the Unicode facts SASLprep
//! (RFC 4013) needs.
//!
//! The derived-property tables are generated from current Unicode data
//! (`tools/unicode-tables`), not frozen at an old version, so a resource
//! with a recent emoji is as valid here as it is to any up-to-date peer.
//! Pure-ASCII strings, the common case, never touch the tables.

use alloc::borrow::Cow;
use alloc::string::String;

use unicode_bidi::BidiClass;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::canonical_combining_class;

mod tables;

/// The Unicode version the PRECIS tables were derived from.
pub const PRECIS_UNICODE_VERSION: &str = tables::UNICODE_VERSION;

// Derived property values (RFC 8264 §8), as stored in the tables.
const PVALID: u8 = 0;
const CONTEXTJ: u8 = 1;
const CONTEXTO: u8 = 2;
#[cfg_attr(not(test), allow(dead_code))] // every value not named in a match
const DISALLOWED: u8 = 3;
/// Disallowed in IdentifierClass, valid in FreeformClass (`ID_DIS` /
/// `FREE_PVAL`).
const FREE_PVAL: u8 = 4;
const UNASSIGNED: u8 = 5;

/// Why a string fails a PRECIS profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrecisError {
    /// The profile does not allow the empty string (RFC 8265 §3.3.2, §4.2.2).
    #[error("empty")]
    Empty,
    /// A code point the string class disallows (RFC 8264 §9).
    #[error("U+{:04X} at character {at} is not allowed", *.ch as u32)]
    Disallowed {
        /// The code point, after the profile's mappings.
        ch: char,
        /// Its index in characters.
        at: usize,
    },
    /// A code point not assigned in the Unicode version of the tables.
    #[error("U+{:04X} at character {at} is unassigned", *.ch as u32)]
    Unassigned {
        /// The code point.
        ch: char,
        /// Its index in characters.
        at: usize,
    },
    /// A joiner or other contextual code point outside the context RFC 5892
    /// Appendix A allows it in.
    #[error("U+{:04X} at character {at} is not allowed in this context", *.ch as u32)]
    Context {
        /// The code point.
        ch: char,
        /// Its index in characters.
        at: usize,
    },
    /// Right-to-left text that breaks the Bidi Rule (RFC 5893 §2), as
    /// UsernameCaseMapped requires (RFC 8265 §3.3.1).
    #[error("violates the Bidi Rule")]
    Bidi,
    /// The mappings did not reach a fixed point (RFC 8264 §7).
    #[error("does not stabilise")]
    Unstable,
}

/// True if `c` is not assigned in the Unicode version of the tables
/// (noncharacters count as assigned, as in RFC 8264 §9.17).
pub(crate) fn is_unassigned(c: char) -> bool {
    derived_property(c) == UNASSIGNED
}

/// Space separators other than U+0020 (RFC 8265 §4.2.1; RFC 3454 C.1.2).
pub(crate) fn is_non_ascii_space(c: char) -> bool {
    tables::NON_ASCII_SPACES.binary_search(&(c as u32)).is_ok()
}

fn derived_property(c: char) -> u8 {
    let cp = c as u32;
    // The first run starts at U+0000, so the index is never below zero.
    let run = tables::DERIVED_STARTS.partition_point(|&start| start <= cp).saturating_sub(1);
    tables::DERIVED_CLASSES[run]
}

fn in_ranges(ranges: &[(u32, u32, u8)], c: char) -> Option<u8> {
    let cp = c as u32;
    let i = ranges.partition_point(|&(_, end, _)| end < cp);
    match ranges.get(i) {
        Some(&(start, _, v)) if start <= cp => Some(v),
        _ => None,
    }
}

const GREEK: u8 = 0;
const HEBREW: u8 = 1;
const HIRAGANA: u8 = 2;
const KATAKANA: u8 = 3;
const HAN: u8 = 4;

const JT_L: u8 = 0;
const JT_D: u8 = 1;
const JT_R: u8 = 2;
const JT_T: u8 = 3;

const VIRAMA: u8 = 9;

/// RFC 5892 Appendix A: may the contextual code point at `at` stand
/// where it is?
fn context_allows(chars: &[char], at: usize) -> bool {
    let c = chars[at];
    let before = at.checked_sub(1).map(|i| chars[i]);
    let after = chars.get(at + 1).copied();
    let script = |c: Option<char>| c.and_then(|c| in_ranges(&tables::SCRIPTS, c));
    match c as u32 {
        // A.1 ZERO WIDTH NON-JOINER
        0x200C => {
            if before.is_some_and(|b| canonical_combining_class(b) == VIRAMA) {
                return true;
            }
            let joining = |c: char| in_ranges(&tables::JOINING_TYPES, c);
            let left = chars[..at].iter().rev().map(|&c| joining(c)).find(|&j| j != Some(JT_T));
            let right = chars[at + 1..].iter().map(|&c| joining(c)).find(|&j| j != Some(JT_T));
            matches!(left, Some(Some(JT_L | JT_D))) && matches!(right, Some(Some(JT_R | JT_D)))
        }
        // A.2 ZERO WIDTH JOINER
        0x200D => before.is_some_and(|b| canonical_combining_class(b) == VIRAMA),
        // A.3 MIDDLE DOT: between two 'l's (Catalan ela geminada).
        0x00B7 => before == Some('l') && after == Some('l'),
        // A.4 GREEK LOWER NUMERAL SIGN (KERAIA)
        0x0375 => script(after) == Some(GREEK),
        // A.5, A.6 HEBREW PUNCTUATION GERESH and GERSHAYIM
        0x05F3 | 0x05F4 => script(before) == Some(HEBREW),
        // A.7 KATAKANA MIDDLE DOT
        0x30FB => chars.iter().any(|&c| matches!(script(Some(c)), Some(HIRAGANA | KATAKANA | HAN))),
        // A.8 ARABIC-INDIC DIGITS: not mixed with the extended ones.
        0x0660..=0x0669 => !chars.iter().any(|&c| ('\u{06F0}'..='\u{06F9}').contains(&c)),
        // A.9 EXTENDED ARABIC-INDIC DIGITS
        0x06F0..=0x06F9 => !chars.iter().any(|&c| ('\u{0660}'..='\u{0669}').contains(&c)),
        // No rule: disallowed (RFC 8264 §8, CONTEXTO without a rule).
        _ => false,
    }
}

/// Checks every code point against IdentifierClass (`freeform == false`)
/// or FreeformClass.
fn check_class(s: &str, freeform: bool) -> Result<(), PrecisError> {
    // The characters as a list only for a contextual rule (rare), which
    // looks at the neighbours.
    let mut chars: Option<alloc::vec::Vec<char>> = None;
    for (at, ch) in s.chars().enumerate() {
        match derived_property(ch) {
            PVALID => {}
            FREE_PVAL if freeform => {}
            CONTEXTJ | CONTEXTO => {
                let chars = chars.get_or_insert_with(|| s.chars().collect());
                if !context_allows(chars, at) {
                    return Err(PrecisError::Context { ch, at });
                }
            }
            UNASSIGNED => return Err(PrecisError::Unassigned { ch, at }),
            _ => return Err(PrecisError::Disallowed { ch, at }),
        }
    }
    Ok(())
}

/// RFC 5893 §2, applied when the string holds right-to-left characters.
fn check_bidi(s: &str) -> Result<(), PrecisError> {
    use BidiClass::*;
    let class = unicode_bidi::bidi_class;
    if !s.chars().any(|c| matches!(class(c), R | AL | AN)) {
        return Ok(());
    }
    let mut classes = s.chars().map(class);
    let first = classes.next().ok_or(PrecisError::Bidi)?;
    let rtl = match first {
        R | AL => true,
        L => false,
        _ => return Err(PrecisError::Bidi), // rule 1
    };
    let mut last_non_nsm = first;
    let (mut has_en, mut has_an) = (false, false);
    for c in s.chars().skip(1).map(class) {
        let allowed = if rtl {
            matches!(c, R | AL | AN | EN | ES | CS | ET | ON | BN | NSM) // rule 2
        } else {
            matches!(c, L | EN | ES | CS | ET | ON | BN | NSM) // rule 5
        };
        if !allowed {
            return Err(PrecisError::Bidi);
        }
        has_en |= c == EN;
        has_an |= c == AN;
        if c != NSM {
            last_non_nsm = c;
        }
    }
    let ends_well = if rtl {
        matches!(last_non_nsm, R | AL | EN | AN) && !(has_en && has_an) // rules 3, 4
    } else {
        matches!(last_non_nsm, L | EN) // rule 6
    };
    if ends_well { Ok(()) } else { Err(PrecisError::Bidi) }
}

/// Applies `map` until the result stops changing: at most three more times
/// after the first (RFC 8264 §7).
fn until_stable(s: &str, map: impl Fn(&str) -> String) -> Result<String, PrecisError> {
    let mut current = map(s);
    for _ in 0..3 {
        let next = map(&current);
        if next == current {
            return Ok(current);
        }
        current = next;
    }
    Err(PrecisError::Unstable)
}

fn width_map(c: char) -> char {
    let cp = c as u32;
    if cp != 0x3000 && !(0xFF00..=0xFFEF).contains(&cp) {
        return c;
    }
    match tables::WIDTH_MAP.binary_search_by_key(&cp, |&(from, _)| from) {
        Ok(i) => char::from_u32(tables::WIDTH_MAP[i].1).unwrap_or(c),
        Err(_) => c,
    }
}

/// Whether UsernameCaseMapped's mapping leaves `s` as it is: no character
/// has a width mapping or another lower case, and `s` is in NFC.
fn is_case_mapped(s: &str) -> bool {
    let unchanged = |c: char| {
        let mut lower = c.to_lowercase();
        width_map(c) == c && lower.next() == Some(c) && lower.next().is_none()
    };
    s.chars().all(unchanged)
        && unicode_normalization::is_nfc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes
}

/// Enforces the UsernameCaseMapped profile (RFC 8265 §3.3.3): width
/// mapping, lower case, NFC, the Bidi Rule, then IdentifierClass.
pub(crate) fn username_case_mapped(s: &str) -> Result<Cow<'_, str>, PrecisError> {
    if s.is_empty() {
        return Err(PrecisError::Empty);
    }
    if s.bytes().all(|b| (0x21..=0x7E).contains(&b)) {
        // ASCII7 is PVALID, and lower case is all the mapping ASCII needs.
        return Ok(if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        });
    }
    if is_case_mapped(s) {
        // Already mapped (a JID a server sent, as a rule): checked, kept.
        return check_username(Cow::Borrowed(s));
    }
    map_username(s)
}

/// UsernameCaseMapped the long way: mapped until stable, then checked.
fn map_username(s: &str) -> Result<Cow<'_, str>, PrecisError> {
    let mapped = until_stable(s, |s| {
        let lowered: String = s.chars().map(width_map).flat_map(char::to_lowercase).collect();
        lowered.nfc().collect()
    })?;
    check_username(Cow::Owned(mapped))
}

/// The checks of a mapped username: not empty, the bidi rule, the
/// IdentifierClass.
fn check_username(mapped: Cow<'_, str>) -> Result<Cow<'_, str>, PrecisError> {
    if mapped.is_empty() {
        return Err(PrecisError::Empty);
    }
    check_bidi(&mapped)?;
    check_class(&mapped, false)?;
    Ok(mapped)
}

/// Enforces the OpaqueString profile (RFC 8265 §4.2.3): non-ASCII spaces
/// to U+0020, NFC, then FreeformClass. Case is kept.
pub(crate) fn opaque_string(s: &str) -> Result<Cow<'_, str>, PrecisError> {
    if s.is_empty() {
        return Err(PrecisError::Empty);
    }
    if s.bytes().all(|b| (0x20..=0x7E).contains(&b)) {
        return Ok(Cow::Borrowed(s));
    }
    let mapped = until_stable(s, |s| s.chars().map(|c| if is_non_ascii_space(c) { ' ' } else { c }).nfc().collect())?;
    check_class(&mapped, true)?;
    Ok(Cow::Owned(mapped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8265_username_case_mapped() {
        assert_eq!(username_case_mapped("juliet").unwrap(), "juliet");
        assert_eq!(username_case_mapped("Juliet").unwrap(), "juliet");
        assert_eq!(username_case_mapped("ＪＵＬＩＥＴ").unwrap(), "juliet", "width mapping");
        assert_eq!(username_case_mapped("fu\u{DF}ball").unwrap(), "fu\u{DF}ball", "sharp s is PVALID");
        assert_eq!(username_case_mapped("\u{3A3}").unwrap(), "\u{3C3}");
        assert_eq!(username_case_mapped("\u{3C2}").unwrap(), "\u{3C2}", "final sigma is kept");
        assert_eq!(username_case_mapped("e\u{301}").unwrap(), "\u{E9}", "NFC");
        assert_eq!(username_case_mapped(""), Err(PrecisError::Empty));
        assert_eq!(username_case_mapped("foo bar"), Err(PrecisError::Disallowed { ch: ' ', at: 3 }));
        // Errors name the character after mapping: IV lower-cased to iv.
        assert_eq!(username_case_mapped("henry\u{2163}"), Err(PrecisError::Disallowed { ch: '\u{2173}', at: 5 }));
        assert_eq!(username_case_mapped("\u{265A}"), Err(PrecisError::Disallowed { ch: '\u{265A}', at: 0 }));
        assert_eq!(username_case_mapped("a\u{7}"), Err(PrecisError::Disallowed { ch: '\u{7}', at: 1 }));
    }

    proptest::proptest! {
        /// A string the mapping leaves as it is gets the answer the long
        /// way gives.
        #[test]
        fn the_already_mapped_shortcut_agrees_with_mapping(
            s in "[a-zA-Z0-9ßéÉe\u{301}\u{3A3}\u{3C3}\u{3C2}\u{5D0}\u{627}\u{661}\u{B7}\u{200C}\u{200D}\u{FF21}\u{2163}\u{265A} ._-]{1,8}"
        ) {
            let expected = map_username(&s).map(Cow::into_owned);
            let got = username_case_mapped(&s).map(Cow::into_owned);
            proptest::prop_assert_eq!(got, expected, "{:?}", s);
        }
    }

    #[test]
    fn rfc5892_appendix_a_contextual_rules() {
        assert!(username_case_mapped("col\u{B7}la").is_ok(), "ela geminada");
        assert!(matches!(username_case_mapped("co\u{B7}la"), Err(PrecisError::Context { .. })));
        assert!(matches!(username_case_mapped("a\u{200D}b"), Err(PrecisError::Context { .. })));
        // ZWJ after a virama (Devanagari KA + VIRAMA + ZWJ).
        assert!(username_case_mapped("\u{915}\u{94D}\u{200D}").is_ok());
        // ZWNJ between joining Arabic letters (BEH, ZWNJ, BEH).
        assert!(username_case_mapped("\u{628}\u{200C}\u{628}").is_ok());
        assert!(username_case_mapped("\u{375}a").is_err(), "keraia must precede Greek");
        assert!(username_case_mapped("\u{3B1}\u{375}\u{3B2}").is_ok());
        assert!(username_case_mapped("\u{5D0}\u{5F3}").is_ok(), "geresh after Hebrew");
        assert!(username_case_mapped("a\u{5F3}").is_err());
        assert!(username_case_mapped("\u{30A2}\u{30FB}\u{30A4}").is_ok(), "katakana middle dot");
        assert!(username_case_mapped("a\u{30FB}b").is_err());
        assert!(username_case_mapped("\u{660}\u{6F0}").is_err(), "mixed Arabic-Indic digits");
    }

    #[test]
    fn rfc5893_bidi_rule() {
        assert!(username_case_mapped("\u{5D0}\u{5D1}").is_ok(), "Hebrew");
        assert!(username_case_mapped("\u{5D0}1").is_ok(), "RTL may end in EN");
        assert_eq!(username_case_mapped("a\u{5D0}"), Err(PrecisError::Bidi), "LTR with R");
        assert_eq!(username_case_mapped("1\u{5D0}"), Err(PrecisError::Bidi), "starts with EN");
        assert_eq!(username_case_mapped("\u{627}1\u{661}"), Err(PrecisError::Bidi), "EN and AN mixed");
    }

    #[test]
    fn rfc8265_opaque_string() {
        assert_eq!(opaque_string("Foo Bar").unwrap(), "Foo Bar", "case and spaces kept");
        assert_eq!(opaque_string("foo\u{A0}bar").unwrap(), "foo bar", "non-ASCII space mapped");
        assert_eq!(opaque_string("\u{265A}").unwrap(), "\u{265A}");
        assert_eq!(opaque_string("e\u{301}").unwrap(), "\u{E9}");
        assert_eq!(opaque_string("ＦＵＬＬ").unwrap(), "ＦＵＬＬ", "no width mapping");
        assert!(opaque_string("\u{1F970}").is_ok(), "an emoji newer than Unicode 6.3");
        assert_eq!(opaque_string("a\u{0}"), Err(PrecisError::Disallowed { ch: '\0', at: 1 }));
        assert_eq!(opaque_string("a\u{7F}"), Err(PrecisError::Disallowed { ch: '\u{7F}', at: 1 }));
        assert_eq!(opaque_string("\u{E0001}"), Err(PrecisError::Disallowed { ch: '\u{E0001}', at: 0 }));
        assert!(matches!(opaque_string("\u{10FFFD}"), Err(PrecisError::Disallowed { .. })), "private use");
        assert!(matches!(opaque_string("\u{40000}"), Err(PrecisError::Unassigned { .. })));
        assert_eq!(opaque_string(""), Err(PrecisError::Empty));
    }

    #[test]
    fn tables_are_sorted_and_start_at_zero() {
        assert_eq!(tables::DERIVED_STARTS[0], 0);
        assert!(tables::DERIVED_STARTS.windows(2).all(|w| w[0] < w[1]));
        assert!(tables::WIDTH_MAP.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(tables::NON_ASCII_SPACES.windows(2).all(|w| w[0] < w[1]));
        assert!(tables::SCRIPTS.windows(2).all(|w| w[0].1 < w[1].0));
        assert!(tables::JOINING_TYPES.windows(2).all(|w| w[0].1 < w[1].0));
        assert_eq!(derived_property('a'), PVALID);
        assert_eq!(derived_property(' '), FREE_PVAL);
        assert_eq!(derived_property('\u{200C}'), CONTEXTJ);
        assert_eq!(derived_property('\u{B7}'), CONTEXTO);
        assert_eq!(derived_property('\u{7F}'), DISALLOWED);
        assert_eq!(derived_property('\u{40000}'), UNASSIGNED);
    }
}
