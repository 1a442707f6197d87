//! Writes `core/src/precis/tables.rs`: the RFC 8264 §8 derived property
//! of every code point, the width mappings of RFC 8265 §3.3.1, the non-ASCII
//! spaces of RFC 8265 §4.2.1, and the Script and Joining_Type ranges the
//! RFC 5892 Appendix A contextual rules need.
//!
//! ```text
//! cargo run --manifest-path tools/unicode-tables/Cargo.toml > core/src/precis/tables.rs
//! ```

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::props::{
    DefaultIgnorableCodePoint, GeneralCategory as GC, HangulSyllableType as HST, JoinControl, JoiningType as JT,
    NoncharacterCodePoint, Script,
};
use icu_properties::{CodePointMapData, CodePointSetData};

// Must match the constants in core/src/precis/mod.rs.
const PVALID: u8 = 0;
const CONTEXTJ: u8 = 1;
const CONTEXTO: u8 = 2;
const DISALLOWED: u8 = 3;
const FREE_PVAL: u8 = 4; // ID_DIS in IdentifierClass, PVALID in FreeformClass
const UNASSIGNED: u8 = 5;

/// RFC 5892 §2.6 Exceptions (F).
fn exception(cp: u32) -> Option<u8> {
    match cp {
        0x00DF | 0x03C2 | 0x06FD | 0x06FE | 0x0F0B | 0x3007 => Some(PVALID),
        0x00B7 | 0x0375 | 0x05F3 | 0x05F4 | 0x30FB => Some(CONTEXTO),
        0x0660..=0x0669 | 0x06F0..=0x06F9 => Some(CONTEXTO),
        0x0640 | 0x07FA | 0x302E | 0x302F | 0x3031..=0x3035 | 0x303B => Some(DISALLOWED),
        _ => None,
    }
}

fn main() {
    let gc = CodePointMapData::<GC>::new();
    let hst = CodePointMapData::<HST>::new();
    let script = CodePointMapData::<Script>::new();
    let jt = CodePointMapData::<JT>::new();
    let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();
    let nonchar = CodePointSetData::new::<NoncharacterCodePoint>();
    let join_control = CodePointSetData::new::<JoinControl>();
    let nfkc = ComposingNormalizerBorrowed::new_nfkc();
    let nfkd = icu_normalizer::DecomposingNormalizerBorrowed::new_nfkd();

    // RFC 8264 §8: the derived property, in the order of the algorithm.
    let derived = |cp: u32| -> u8 {
        if let Some(class) = exception(cp) {
            return class;
        }
        let cat = gc.get32(cp);
        if cat == GC::Unassigned && !nonchar.contains32(cp) {
            return UNASSIGNED;
        }
        if (0x21..=0x7E).contains(&cp) {
            return PVALID;
        }
        if join_control.contains32(cp) {
            return CONTEXTJ;
        }
        if matches!(hst.get32(cp), HST::LeadingJamo | HST::VowelJamo | HST::TrailingJamo) {
            return DISALLOWED;
        }
        if ignorable.contains32(cp) || nonchar.contains32(cp) {
            return DISALLOWED;
        }
        if cat == GC::Control {
            return DISALLOWED;
        }
        if let Some(c) = char::from_u32(cp) {
            let s = c.to_string();
            if nfkc.normalize(&s) != s {
                return FREE_PVAL;
            }
        }
        match cat {
            GC::LowercaseLetter
            | GC::UppercaseLetter
            | GC::OtherLetter
            | GC::DecimalNumber
            | GC::ModifierLetter
            | GC::NonspacingMark
            | GC::SpacingMark => PVALID,
            GC::TitlecaseLetter | GC::LetterNumber | GC::OtherNumber | GC::EnclosingMark => FREE_PVAL,
            GC::SpaceSeparator => FREE_PVAL,
            GC::MathSymbol | GC::CurrencySymbol | GC::ModifierSymbol | GC::OtherSymbol => FREE_PVAL,
            GC::ConnectorPunctuation
            | GC::DashPunctuation
            | GC::OpenPunctuation
            | GC::ClosePunctuation
            | GC::InitialPunctuation
            | GC::FinalPunctuation
            | GC::OtherPunctuation => FREE_PVAL,
            _ => DISALLOWED,
        }
    };

    let mut starts = Vec::new();
    let mut classes = Vec::new();
    for cp in 0..=0x10FFFFu32 {
        let class = derived(cp);
        if classes.last() != Some(&class) {
            starts.push(cp);
            classes.push(class);
        }
    }

    // RFC 8265 §3.3.1 rule 1: fullwidth and halfwidth forms (<wide> and
    // <narrow> decompositions, all in U+3000 and U+FF00..U+FFEF) map to
    // their decomposition.
    let mut width = Vec::new();
    for cp in std::iter::once(0x3000).chain(0xFF00..=0xFFEF) {
        let Some(c) = char::from_u32(cp) else { continue };
        let d = nfkd.normalize(&c.to_string()).into_owned();
        let mut chars = d.chars();
        if let (Some(m), None) = (chars.next(), chars.next()) {
            if m != c {
                width.push((cp, m as u32));
            }
        }
    }

    // RFC 8265 §4.2.1: non-ASCII spaces (Zs other than U+0020).
    let spaces: Vec<u32> = (0x80..=0x10FFFF).filter(|&cp| gc.get32(cp) == GC::SpaceSeparator).collect();

    let ranges = |f: &dyn Fn(u32) -> Option<u8>| {
        let mut out: Vec<(u32, u32, u8)> = Vec::new();
        for cp in 0..=0x10FFFFu32 {
            if let Some(v) = f(cp) {
                match out.last_mut() {
                    Some(last) if last.1 + 1 == cp && last.2 == v => last.1 = cp,
                    _ => out.push((cp, cp, v)),
                }
            }
        }
        out
    };
    // RFC 5892 Appendix A.3–A.7: the scripts the CONTEXTO rules name.
    let scripts = ranges(&|cp| match script.get32(cp) {
        Script::Greek => Some(0),
        Script::Hebrew => Some(1),
        Script::Hiragana => Some(2),
        Script::Katakana => Some(3),
        Script::Han => Some(4),
        _ => None,
    });
    // RFC 5892 Appendix A.1: the joining types the ZWNJ rule names.
    let joining = ranges(&|cp| match jt.get32(cp) {
        JT::LeftJoining => Some(0),
        JT::DualJoining => Some(1),
        JT::RightJoining => Some(2),
        JT::Transparent => Some(3),
        _ => None,
    });

    let mut out = String::new();
    out.push_str("// @generated by tools/unicode-tables (icu_properties 2.4: Unicode 18.0). Do not edit.\n");
    out.push_str("//\n// Regenerate with:\n");
    out.push_str("//   cargo run --manifest-path tools/unicode-tables/Cargo.toml > core/src/precis/tables.rs\n\n");
    out.push_str("/// The Unicode version the tables were derived from.\n");
    out.push_str("pub(super) const UNICODE_VERSION: &str = \"18.0.0\";\n\n");
    list(&mut out, "/// First code point of each run with the same RFC 8264 derived property.", "DERIVED_STARTS", "u32", &starts.iter().map(|v| format!("0x{v:X}")).collect::<Vec<_>>());
    list(&mut out, "/// The derived property of each run (see the class constants).", "DERIVED_CLASSES", "u8", &classes.iter().map(|v| v.to_string()).collect::<Vec<_>>());
    list(&mut out, "/// Fullwidth and halfwidth forms and what they map to.", "WIDTH_MAP", "(u32, u32)", &width.iter().map(|(a, b)| format!("(0x{a:X}, 0x{b:X})")).collect::<Vec<_>>());
    list(&mut out, "/// Space separators other than U+0020.", "NON_ASCII_SPACES", "u32", &spaces.iter().map(|v| format!("0x{v:X}")).collect::<Vec<_>>());
    list(&mut out, "/// Script runs: 0 Greek, 1 Hebrew, 2 Hiragana, 3 Katakana, 4 Han.", "SCRIPTS", "(u32, u32, u8)", &scripts.iter().map(|(a, b, c)| format!("(0x{a:X}, 0x{b:X}, {c})")).collect::<Vec<_>>());
    list(&mut out, "/// Joining_Type runs: 0 L, 1 D, 2 R, 3 T.", "JOINING_TYPES", "(u32, u32, u8)", &joining.iter().map(|(a, b, c)| format!("(0x{a:X}, 0x{b:X}, {c})")).collect::<Vec<_>>());
    print!("{out}");
}

/// Appends `items` as a `pub(super) static` array, wrapped to 100 columns.
fn list(out: &mut String, doc: &str, name: &str, ty: &str, items: &[String]) {
    out.push_str(doc);
    out.push_str(&format!("\npub(super) static {name}: [{ty}; {}] = [\n", items.len()));
    let mut line = String::from("   ");
    for item in items {
        if line.len() + item.len() + 2 > 100 {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from("   ");
        }
        line.push(' ');
        line.push_str(item);
        line.push(',');
    }
    if line.trim().len() > 0 {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str("];\n\n");
}
