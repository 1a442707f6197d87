//! JID parsing (RFC 7622).
//!
//! Input: any bytes, tried as UTF-8. Invariants: no panic; a parsed JID's
//! canonical form parses to the same JID (display ∘ parse is stable);
//! rebuilding from the parts gives it back; `BareJid` and `FullJid` accept
//! exactly the bare and full JIDs `Jid` accepts; no part exceeds 1023
//! bytes.

use sxmpp::jid::{BareJid, FullJid, Jid};

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = Jid::new(text);
    assert_eq!(BareJid::new(text).is_ok(), parsed.as_ref().is_ok_and(Jid::is_bare), "BareJid disagrees on {text:?}");
    assert_eq!(
        FullJid::new(text).is_ok(),
        parsed.as_ref().is_ok_and(|j| !j.is_bare()),
        "FullJid disagrees on {text:?}"
    );
    let Ok(jid) = parsed else { return };

    let canonical = jid.to_string();
    assert_eq!(canonical, jid.as_str());
    let again = Jid::new(&canonical).unwrap_or_else(|e| panic!("{text:?} → {canonical:?} does not parse: {e}"));
    assert_eq!(again, jid, "display ∘ parse changed {text:?}");
    assert_eq!(again.as_str(), canonical, "the canonical form is not a fixed point");

    let rebuilt = Jid::from_parts(jid.local(), jid.domain(), jid.resource());
    assert_eq!(rebuilt.as_ref(), Ok(&jid), "from_parts disagrees with new on {text:?}");
    for part in [jid.local(), Some(jid.domain()), jid.resource()].into_iter().flatten() {
        assert!(!part.is_empty() && part.len() <= 1023, "part {part:?} out of bounds in {text:?}");
    }
    let bare = jid.to_bare();
    assert!(jid.as_str().starts_with(bare.as_str()), "{bare} is not a prefix of {jid}");
    assert_eq!(bare.as_jid().resource(), None);
}
