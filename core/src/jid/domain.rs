//! Domainpart preparation (RFC 7622 §3.2): IP literals, and DNS domain
//! names in U-label form via IDNA (UTS #46 mapping with IDNA2008 validity).

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use core::net::Ipv6Addr;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

/// Why a domainpart was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// A label (between dots) is empty.
    #[error("empty label")]
    EmptyLabel,
    /// A label is longer than 63 octets in its ASCII (A-label) form.
    #[error("label longer than 63 octets")]
    LabelTooLong,
    /// `[...]` that does not hold an IPv6 address.
    #[error("invalid IP literal")]
    InvalidIpLiteral,
    /// A character no host name may contain, or a label IDNA refuses.
    #[error("not a valid internationalized domain name")]
    Idna,
}

/// ASCII that may not appear in a domain label (beyond controls and
/// space). Underscore and hyphen stay allowed: real deployments use both
/// where strict host-name rules would not.
const DENY: AsciiDenyList = AsciiDenyList::new(true, "!\"#$%&'()*+,/:;<=>?@[\\]^`{|}~");

/// Prepares a domainpart for comparison: a single trailing dot removed,
/// IP addresses in canonical form, names lower-cased and in U-labels.
pub(crate) fn prepare(domain: &str) -> Result<Cow<'_, str>, DomainError> {
    prepare_any(domain.strip_suffix('.').unwrap_or(domain))
}

/// A domainpart of ASCII letters, digits, `-` and `_` in dot-separated
/// labels, none an A-label, told in one pass (nearly every domainpart, a
/// dotted-quad IPv4 address among them: Rust's parser takes only the
/// canonical form, which is kept as it is here too): lower-cased, borrowed
/// if it is already. `None` sends anything else the long way.
fn prepare_ascii_name(domain: &str) -> Option<Result<Cow<'_, str>, DomainError>> {
    let bytes = domain.as_bytes();
    let (mut label_start, mut upper, mut fault) = (0, false, None);
    for i in 0..=bytes.len() {
        match bytes.get(i) {
            Some(b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_') => {}
            Some(b'A'..=b'Z') => upper = true,
            Some(b'.') | None => {
                let label = &bytes[label_start..i];
                if label.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"xn--")) {
                    return None;
                }
                if fault.is_none() && label.is_empty() {
                    fault = Some(DomainError::EmptyLabel);
                } else if fault.is_none() && label.len() > 63 {
                    fault = Some(DomainError::LabelTooLong);
                }
                label_start = i + 1;
            }
            Some(_) => return None,
        }
    }
    Some(match fault {
        Some(fault) => Err(fault),
        None if upper => Ok(Cow::Owned(domain.to_ascii_lowercase())),
        None => Ok(Cow::Borrowed(domain)),
    })
}

/// [`prepare`] for any domainpart (the trailing dot already removed).
fn prepare_any(domain: &str) -> Result<Cow<'_, str>, DomainError> {
    if let Some(prepared) = prepare_ascii_name(domain) {
        return prepared;
    }
    if let Some(inner) = domain.strip_prefix('[') {
        let addr: Ipv6Addr =
            inner.strip_suffix(']').and_then(|a| a.parse().ok()).ok_or(DomainError::InvalidIpLiteral)?;
        let canonical = format!("[{addr}]");
        return Ok(if canonical == domain { Cow::Borrowed(domain) } else { Cow::Owned(canonical) });
    }
    prepare_idna(domain)
}

/// A domain name the long way: UTS #46 mapping and IDNA2008 validity.
fn prepare_idna(domain: &str) -> Result<Cow<'_, str>, DomainError> {
    // Punycode is quadratic in a label's length, so labels that cannot
    // fit 63 octets as A-labels are refused before IDNA sees them: an
    // A-label is its own length; a U-label's A-label has at least one
    // octet per code point, mapping aside (a generous 255 leaves room for
    // ignorable characters that mapping drops). Found by fuzzing: a 3 KB
    // "xn--" label cost milliseconds.
    let raw_labels = domain.split(['.', '\u{3002}', '\u{FF0E}', '\u{FF61}']);
    for label in raw_labels {
        let chars = label.chars().count();
        let a_label = label.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--"));
        if chars > 255 || (a_label && chars > 63) {
            return Err(DomainError::LabelTooLong);
        }
    }
    let uts46 = Uts46::new();
    let (unicode, result) = uts46.to_unicode(domain.as_bytes(), DENY, Hyphens::Allow);
    result.map_err(|_| DomainError::Idna)?;
    // UTS #46 validity criterion 4 (without CheckHyphens): a decoded label
    // must not itself begin with "xn--". Otherwise "xn--xn--…" decodes to
    // a U-label that is not a valid domain label, and the canonical form
    // would not parse again (found by fuzzing).
    if unicode.split('.').any(|l| l.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--"))) {
        return Err(DomainError::Idna);
    }
    let ascii =
        uts46.to_ascii(domain.as_bytes(), DENY, Hyphens::Allow, DnsLength::Ignore).map_err(|_| DomainError::Idna)?;
    check_labels(&ascii)?;
    Ok(Cow::Owned(String::from(unicode)))
}

fn check_labels(ascii: &str) -> Result<(), DomainError> {
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err(DomainError::EmptyLabel);
        }
        if label.len() > 63 {
            return Err(DomainError::LabelTooLong);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The one-pass ASCII path gives what IDNA gives for the same
        /// name (the same text, or a refusal).
        #[test]
        fn the_ascii_path_agrees_with_idna(s in "(xn--|[a-cA-C0-9_.-]){0,12}") {
            let domain = s.strip_suffix('.').unwrap_or(&s);
            if let Some(fast) = prepare_ascii_name(domain) {
                let long = prepare_idna(domain);
                proptest::prop_assert_eq!(fast.is_ok(), long.is_ok(), "{:?}: {:?} vs {:?}", domain, fast, long);
                if let (Ok(fast), Ok(long)) = (fast, long) {
                    proptest::prop_assert_eq!(fast, long);
                }
            }
        }
    }

    #[test]
    fn label_lengths_hold_on_the_shortcut_too() {
        let label = |n| "a".repeat(n);
        assert!(prepare(&format!("{}.example", label(63))).is_ok());
        assert_eq!(prepare(&format!("{}.example", label(64))), Err(DomainError::LabelTooLong));
        assert_eq!(prepare(&format!("example.{}", label(64))), Err(DomainError::LabelTooLong));
    }

    #[test]
    fn rfc7622_3_2_domainparts() {
        assert_eq!(prepare("example.com").unwrap(), "example.com");
        assert_eq!(prepare("EXAMPLE.com.").unwrap(), "example.com", "case and the final dot");
        assert_eq!(prepare("xn--bcher-kva.example").unwrap(), "bücher.example", "A-labels become U-labels");
        assert_eq!(prepare("BÜCHER.example").unwrap(), "bücher.example");
        assert_eq!(prepare("ＥＸＡＭＰＬＥ．com").unwrap(), "example.com", "width mapping and ideographic dot");
        assert_eq!(prepare("[::1]").unwrap(), "[::1]");
        assert_eq!(prepare("[0:0::1]").unwrap(), "[::1]", "IPv6 in canonical form");
        assert_eq!(prepare("192.0.2.1").unwrap(), "192.0.2.1");
        assert_eq!(prepare("conference_1.example").unwrap(), "conference_1.example");
        assert_eq!(prepare(""), Err(DomainError::EmptyLabel));
        assert_eq!(prepare("."), Err(DomainError::EmptyLabel));
        assert_eq!(prepare("a..b"), Err(DomainError::EmptyLabel));
        assert_eq!(prepare("[::1"), Err(DomainError::InvalidIpLiteral));
        assert_eq!(prepare("[not-an-ip]"), Err(DomainError::InvalidIpLiteral));
        assert_eq!(prepare("ex ample.com"), Err(DomainError::Idna));
        assert_eq!(prepare("exa<mple.com"), Err(DomainError::Idna));
        assert_eq!(prepare(&"a".repeat(64)), Err(DomainError::LabelTooLong));
        assert_eq!(prepare(&format!("{}ü.example", "a".repeat(60))), Err(DomainError::LabelTooLong), "A-label length");
        assert_eq!(prepare("xn--a.example"), Err(DomainError::Idna), "bad punycode");
        // fuzz/regressions/jid/: this A-label decodes to a label that
        // starts with "xn--" again.
        assert_eq!(prepare("xn--xn--xwwwwwwvwwwwwwwwwwn--mnch1ce"), Err(DomainError::Idna));
        // Labels too long to be A-labels are refused before punycode runs.
        assert_eq!(prepare(&format!("xn--{}", "a".repeat(60))), Err(DomainError::LabelTooLong));
        assert_eq!(prepare(&format!("{}.example", "\u{fc}".repeat(256))), Err(DomainError::LabelTooLong));
    }
}
