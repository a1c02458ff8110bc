//! Text encodings of attribute data: Shift_JIS (CP932) and UTF-8.
//!
//! Japanese Shapefiles carry Shift_JIS DBFs whose `.cpg` is often missing, spelt oddly
//! (`Shift_JIS\n`, ` SJIS`, a BOM) or wrong. [`label`] reads what a `.cpg` or `--encoding`
//! says; [`choose`] checks that against the bytes themselves and falls back to the encoding
//! that decodes them all; [`decode`] decodes one value, keeping the text before a character
//! that a fixed-width DBF field cut in half and saying so.

use encoding_rs::{Encoding, SHIFT_JIS, UTF_8};

/// The encoding a label names, whatever its spelling: `Shift_JIS`, `SJIS`, `CP932`,
/// `windows-31j`, `932`, `UTF-8`, `utf8`, `65001` …, with surrounding space, quotes or a BOM.
/// encoding_rs's Shift_JIS is the WHATWG one, which is CP932 (NEC and IBM extensions included).
///
/// ```
/// use machizu::import::text::label;
/// assert_eq!(label("Shift_JIS\n").unwrap().name(), "Shift_JIS");
/// assert_eq!(label("\u{feff} cp932 ").unwrap().name(), "Shift_JIS");
/// assert_eq!(label("utf8").unwrap().name(), "UTF-8");
/// assert!(label("klingon").is_none());
/// ```
pub fn label(s: &str) -> Option<&'static Encoding> {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}' || c == '"' || c == '\'' || c == '\0');
    let lower = t.to_ascii_lowercase().replace(['_', ' '], "-");
    match lower.as_str() {
        "sjis" | "shift-jis" | "shiftjis" | "cp932" | "ms932" | "windows-31j" | "932" | "x-sjis" | "ansi-932" => {
            Some(SHIFT_JIS)
        }
        "utf8" | "utf-8" | "65001" => Some(UTF_8),
        _ => Encoding::for_label(t.as_bytes()),
    }
}

/// The encoding a DBF's language driver id (byte 29 of its header) names, when it names one
/// machizu reads: 0x13 and 0x7B are Japanese (CP932).
pub fn from_ldid(ldid: u8) -> Option<&'static Encoding> {
    matches!(ldid, 0x13 | 0x7B).then_some(SHIFT_JIS)
}

/// One decoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    /// The value ended in the first byte(s) of a character, cut off by the field's width; the
    /// text before it is kept.
    pub cut: bool,
    /// Bytes other than a cut-off end that the encoding cannot decode (shown as U+FFFD).
    pub malformed: bool,
}

/// Decodes one value. A character cut off at the end is dropped and flagged, not replaced.
///
/// ```
/// use machizu::import::text::decode;
/// // 道路冠水（路肩5cm程 followed by the first byte of 度 (0x93 0x78).
/// let mut bytes = encoding_rs::SHIFT_JIS.encode("道路冠水（路肩5cm程").0.into_owned();
/// bytes.push(0x93);
/// let d = decode(encoding_rs::SHIFT_JIS, &bytes);
/// assert_eq!(d.text, "道路冠水（路肩5cm程");
/// assert!(d.cut && !d.malformed);
/// ```
pub fn decode(encoding: &'static Encoding, bytes: &[u8]) -> Decoded {
    if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(bytes) {
        return Decoded { text: text.into_owned(), cut: false, malformed: false };
    }
    // A multi-byte character is at most 4 bytes (UTF-8) or 2 (Shift_JIS): try dropping up to 3.
    for drop in 1..=3.min(bytes.len()) {
        let head = &bytes[..bytes.len() - drop];
        if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(head)
            && starts_a_character(encoding, &bytes[bytes.len() - drop..])
        {
            return Decoded { text: text.into_owned(), cut: true, malformed: false };
        }
    }
    let (text, _) = encoding.decode_without_bom_handling(bytes);
    Decoded { text: text.into_owned(), cut: false, malformed: true }
}

/// Whether `tail` is the beginning of a multi-byte character of `encoding`.
fn starts_a_character(encoding: &'static Encoding, tail: &[u8]) -> bool {
    let lead = tail[0];
    if encoding == SHIFT_JIS {
        tail.len() == 1 && matches!(lead, 0x81..=0x9F | 0xE0..=0xFC)
    } else if encoding == UTF_8 {
        let need = match lead {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return false,
        };
        tail.len() < need && tail[1..].iter().all(|b| (0x80..=0xBF).contains(b))
    } else {
        false
    }
}

/// How well `encoding` reads `values`: how many are malformed (a cut-off end is fine).
fn malformed(encoding: &'static Encoding, values: &[&[u8]]) -> usize {
    values.iter().filter(|v| decode(encoding, v).malformed).count()
}

/// The encoding to read `values` with: the `declared` one (a `.cpg`, `--encoding`, the DBF's
/// language driver) when it reads every value; otherwise UTF-8 or CP932, whichever reads them
/// all (UTF-8 first: Shift_JIS text is almost never valid UTF-8). Returns the encoding and, when
/// the declaration was overruled or absent and the text is not ASCII, a note saying so.
pub fn choose(declared: Option<(&'static Encoding, &str)>, values: &[&[u8]]) -> (&'static Encoding, Option<String>) {
    if let Some((encoding, _)) = declared
        && malformed(encoding, values) == 0
    {
        return (encoding, None);
    }
    let ascii = values.iter().all(|v| v.is_ascii());
    let pick = [UTF_8, SHIFT_JIS].into_iter().min_by_key(|e| malformed(e, values)).expect("two candidates");
    let note = match declared {
        Some((encoding, why)) => Some(format!(
            "{why} says {}, but the text is not {}; read as {}",
            encoding.name(),
            encoding.name(),
            display(pick)
        )),
        None if !ascii && pick != UTF_8 => Some(format!("no encoding declared; the text reads as {}", display(pick))),
        None => None,
    };
    (pick, note)
}

/// An encoding's name as Japanese GIS users know it.
pub fn display(encoding: &'static Encoding) -> &'static str {
    if encoding == SHIFT_JIS { "Shift_JIS (CP932)" } else { encoding.name() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_declaration_is_overruled_by_the_bytes() {
        let sjis = SHIFT_JIS.encode("市道昭和線").0.into_owned();
        let (e, note) = choose(Some((UTF_8, "the .cpg file")), &[&sjis, b"abc"]);
        assert_eq!(e, SHIFT_JIS);
        assert!(note.unwrap().contains(".cpg file says UTF-8"));
        assert_eq!(choose(None, &["市道".as_bytes()]), (UTF_8, None));
        let (e, note) = choose(None, &[&sjis]);
        assert_eq!((e, note.is_some()), (SHIFT_JIS, true));
        assert_eq!(choose(Some((SHIFT_JIS, "x")), &[b"abc"]), (SHIFT_JIS, None));
    }

    #[test]
    fn a_cut_utf8_character_is_dropped_and_flagged() {
        let bytes = "冠水".as_bytes();
        let d = decode(UTF_8, &bytes[..bytes.len() - 1]);
        assert_eq!((d.text.as_str(), d.cut, d.malformed), ("冠", true, false));
        let d = decode(UTF_8, b"a\xffb");
        assert!(d.malformed && !d.cut);
    }
}
