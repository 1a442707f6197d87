//! Finding one byte in text eight bytes at a time (SWAR: a `u64` used as
//! eight lanes), for the searches that run over values and text of some
//! length. Safe code: no SIMD intrinsics, no `unsafe`.

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// Where `needle` first occurs in `haystack`.
pub(crate) fn find_byte(haystack: &[u8], needle: u8) -> Option<usize> {
    let pattern = ONES * u64::from(needle);
    let (words, rest) = haystack.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        // A lane of `x` is zero where the byte is `needle`; the classic
        // has-zero test flags it (and, at worst, lanes after it, never one
        // before), so the lowest flag is the first match.
        let x = u64::from_le_bytes(*word) ^ pattern;
        let flags = x.wrapping_sub(ONES) & !x & HIGHS;
        if flags != 0 {
            return Some(i * 8 + (flags.trailing_zeros() / 8) as usize);
        }
    }
    let done = words.len() * 8;
    rest.iter().position(|&b| b == needle).map(|i| done + i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    proptest::proptest! {
        #[test]
        fn finds_what_position_finds(haystack in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40), needle: u8) {
            proptest::prop_assert_eq!(find_byte(&haystack, needle), haystack.iter().position(|&b| b == needle));
        }

        #[test]
        fn finds_among_near_misses(lanes in proptest::collection::vec(0u8..4, 0..40)) {
            // Bytes next to the needle (0x26 +- 1, 0xA6, 0x00) are where a
            // lane trick would go wrong.
            let haystack: Vec<u8> = lanes.iter().map(|l| [0x25, 0x26, 0x27, 0xA6][usize::from(*l)]).collect();
            proptest::prop_assert_eq!(find_byte(&haystack, 0x26), haystack.iter().position(|&b| b == 0x26));
        }
    }
}
