//! How many SMS segments a text takes, and in which alphabet (3GPP TS 23.038).
//!
//! A text made only of the GSM 7-bit default alphabet (and its extension table, whose characters
//! count twice: an escape and the character) goes as GSM-7: 160 septets in one message, 153 a
//! segment once it is split (the concatenation header takes the rest). Any other character —
//! every Chinese one — makes the whole text UCS-2: 70 UTF-16 units alone, 67 a segment when
//! split, a character outside the Basic Multilingual Plane counting two.
//!
//! Written here rather than taken from a crate: the table is fixed by the standard, the count is
//! a few lines, and the one Rust crate for it (a port of a JavaScript calculator) has had no
//! release since its first week.

/// A text's size as an SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    /// Messages the text is split into (at least 1, even for an empty text).
    pub count: u32,
    /// Whether it must go as UCS-2.
    pub ucs2: bool,
    /// Its length in the alphabet's units (septets or UTF-16 units).
    pub units: u32,
}

/// The GSM 7-bit default alphabet (one septet each).
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The extension table (an escape septet and the character: two each).
const EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// Counts `text`.
pub fn count(text: &str) -> Segments {
    let gsm: Option<u32> = text
        .chars()
        .map(|c| {
            if BASIC.contains(c) {
                Some(1)
            } else if EXTENSION.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .sum();
    let (units, ucs2, single, split) = match gsm {
        Some(septets) => (septets, false, 160, 153),
        None => {
            let units = u32::try_from(text.encode_utf16().count()).unwrap_or(u32::MAX);
            (units, true, 70, 67)
        }
    };
    let count = if units <= single {
        1
    } else {
        units.div_ceil(split)
    };
    Segments { count, ucs2, units }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_text_fits_160_and_then_153_a_segment() {
        let one = count(&"a".repeat(160));
        assert_eq!((one.count, one.ucs2), (1, false));
        assert_eq!(count(&"a".repeat(161)).count, 2);
        assert_eq!(count(&"a".repeat(306)).count, 2);
        assert_eq!(count(&"a".repeat(307)).count, 3);
    }

    #[test]
    fn chinese_text_fits_70_and_then_67_a_segment() {
        let one = count(&"验".repeat(70));
        assert_eq!((one.count, one.ucs2, one.units), (1, true, 70));
        assert_eq!(count(&"验".repeat(71)).count, 2);
        assert_eq!(count(&"验".repeat(134)).count, 2);
        assert_eq!(count(&"验".repeat(135)).count, 3);
    }

    #[test]
    fn one_character_outside_gsm_makes_the_whole_text_ucs2() {
        let text = format!("{}。", "a".repeat(69));
        let counted = count(&text);
        assert!(counted.ucs2);
        assert_eq!((counted.units, counted.count), (70, 1));
        assert_eq!(count(&format!("{}。", "a".repeat(70))).count, 2);
    }

    #[test]
    fn extension_characters_count_twice_and_emoji_count_two_units() {
        let euro = count(&"€".repeat(80));
        assert_eq!((euro.ucs2, euro.units, euro.count), (false, 160, 1));
        assert_eq!(count(&"€".repeat(81)).count, 2);
        let emoji = count("🌾");
        assert_eq!((emoji.ucs2, emoji.units), (true, 2));
    }

    #[test]
    fn an_empty_text_is_one_segment() {
        assert_eq!(count("").count, 1);
    }
}
