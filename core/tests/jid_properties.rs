//! JID parsing is idempotent: whatever parses, its canonical form parses to
//! the same JID, and nothing panics on arbitrary input.

use proptest::prelude::*;
use sxmpp::jid::Jid;

fn jidish() -> impl Strategy<Value = String> {
    let part = proptest::collection::vec(
        prop_oneof![
            4 => proptest::char::range('a', 'z'),
            1 => proptest::char::range('A', 'Z'),
            1 => Just('@'),
            1 => Just('/'),
            1 => Just('.'),
            1 => Just(' '),
            1 => any::<char>(),
            1 => proptest::sample::select(vec!['ß', 'Σ', 'ς', 'Ａ', '\u{200C}', '\u{B7}', '\u{5D0}', '\u{301}', '\u{3000}', '♚', '🥰']),
        ],
        0..24,
    );
    part.prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn parse_of_display_is_stable(s in jidish()) {
        if let Ok(jid) = Jid::new(&s) {
            let again = Jid::new(jid.as_str()).expect("a canonical JID parses");
            prop_assert_eq!(&again, &jid);
            prop_assert_eq!(again.as_str(), jid.as_str());
            prop_assert_eq!((again.local(), again.domain(), again.resource()), (jid.local(), jid.domain(), jid.resource()));
        }
    }
}
