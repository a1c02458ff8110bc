//! 地番 (parcel number) queries as people type them, normalised to the form the cadastre keeps.
//!
//! The Ministry's map XML and city ledgers write 地番 as `123-4`; people type `１２３番地の４`,
//! `123番4`, `百二十三番の四`, `大字尾花沢123-4` or just `123`. [`ChibanQuery::parse`] folds
//! full-width characters, kanji numerals and the `番`/`番地`/`の`/`之`/dash variants into that form
//! and splits off a place name (大字 or 字, with those words removed); [`ChibanQuery::score`] ranks a
//! parcel against it: the number exactly, then as a prefix (`123` finds `123-4`), and the place
//! within the parcel's 大字/字 names.

/// Folds full-width ASCII (digits, letters, `－`) to half-width, every dash-like character to `-`
/// and the ideographic space to a space.
///
/// ```
/// use machizu::text::chiban::fold;
/// assert_eq!(fold("１２３－４"), "123-4");
/// assert_eq!(fold("12ー3"), "12-3");
/// ```
pub fn fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FC}' | '\u{FF70}' => '-',
            '\u{3000}' => ' ',
            c => c,
        })
        .collect()
}

/// The value of a run of kanji numerals (`百二十三` → 123, `二〇五` → 205), if it is one.
fn kanji_number(s: &str) -> Option<u64> {
    let digit = |c| "〇一二三四五六七八九".chars().position(|d| d == c).map(|d| d as u64);
    if s.is_empty() {
        return None;
    }
    // Positional (二〇五) when there is no 十/百/千.
    if !s.contains(['十', '百', '千']) {
        return s.chars().try_fold(0u64, |n, c| Some(n * 10 + digit(c)?));
    }
    let (mut total, mut current) = (0u64, 0u64);
    for c in s.chars() {
        match c {
            '十' | '百' | '千' => {
                let unit = match c {
                    '十' => 10,
                    '百' => 100,
                    _ => 1000,
                };
                total += current.max(1) * unit;
                current = 0;
            }
            c => current = current * 10 + digit(c)?,
        }
    }
    Some(total + current)
}

const KANJI_NUMERALS: &str = "〇一二三四五六七八九十百千";

/// Where the number starts in a folded query: at the first arabic digit; without one, at the
/// trailing run of kanji numerals and 番/番地/の/之/ノ/- (so that 三日町 and 十日町 stay names).
fn number_start(s: &str) -> usize {
    if let Some(at) = s.find(|c: char| c.is_ascii_digit()) {
        return at;
    }
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let (mut at, mut i, mut numeral) = (s.len(), chars.len(), false);
    while i > 0 {
        let (pos, c) = chars[i - 1];
        if KANJI_NUMERALS.contains(c) {
            numeral = true;
        } else if c == '地' && i >= 2 && chars[i - 2].1 == '番' {
            i -= 1; // 番地 as one separator
        } else if !matches!(c, '番' | 'の' | '之' | 'ノ' | '-' | ' ') {
            break;
        }
        at = chars[i - 1].0.min(pos);
        i -= 1;
    }
    if numeral { at } else { s.len() }
}

/// A parsed 地番 query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChibanQuery {
    /// The place (大字/字 name) part, without the words 大字 and 字.
    pub place: Option<String>,
    /// The number as the cadastre writes it: `123`, `123-4`, `123-4-2`.
    pub number: Option<String>,
}

impl ChibanQuery {
    /// Parses what someone typed.
    ///
    /// ```
    /// use machizu::text::chiban::ChibanQuery;
    /// let q = |s| ChibanQuery::parse(s).number;
    /// assert_eq!(q("１２３番地の４").as_deref(), Some("123-4"));
    /// assert_eq!(q("123番4").as_deref(), Some("123-4"));
    /// assert_eq!(q("百二十三番の四").as_deref(), Some("123-4"));
    /// assert_eq!(q("123").as_deref(), Some("123"));
    /// let p = ChibanQuery::parse("大字尾花沢 123-4");
    /// assert_eq!((p.place.as_deref(), p.number.as_deref()), (Some("尾花沢"), Some("123-4")));
    /// ```
    pub fn parse(input: &str) -> Self {
        let folded = fold(input.trim());
        let is_num = |c: char| c.is_ascii_digit() || KANJI_NUMERALS.contains(c);
        let at = number_start(&folded);
        // The place: 大字 and 字 dropped; 大字尾花沢字中町 gives 尾花沢字中町, matched piece by piece.
        let place = folded[..at].trim().trim_start_matches("大字").trim_start_matches('字').trim().to_owned();
        // The rest: runs of numerals separated by 番地, 番, の, 之, ノ or -.
        let mut parts: Vec<String> = Vec::new();
        let mut run = String::new();
        let flush = |run: &mut String, parts: &mut Vec<String>| {
            if !run.is_empty() {
                let n = if run.chars().all(|c| c.is_ascii_digit()) {
                    run.trim_start_matches('0').to_owned()
                } else {
                    kanji_number(run).map(|n| n.to_string()).unwrap_or_default()
                };
                parts.push(if n.is_empty() { "0".to_owned() } else { n });
                run.clear();
            }
        };
        for c in folded[at..].chars() {
            if is_num(c) {
                // A switch between arabic and kanji numerals starts a new part.
                if run.chars().last().is_some_and(|l| l.is_ascii_digit() != c.is_ascii_digit()) {
                    flush(&mut run, &mut parts);
                }
                run.push(c);
            } else {
                flush(&mut run, &mut parts);
                if !matches!(c, '番' | '地' | 'の' | '之' | 'ノ' | '-' | ' ') {
                    break;
                }
            }
        }
        flush(&mut run, &mut parts);
        Self { place: (!place.is_empty()).then_some(place), number: (!parts.is_empty()).then(|| parts.join("-")) }
    }

    /// How well a parcel matches, higher is better; `None` when it does not. The number must
    /// equal the parcel's (3) or be a prefix of it at a `-` boundary (2) or any prefix (1); the
    /// place, when given, must be within the parcel's 大字 or 字 name (+1 when it is all of it).
    ///
    /// ```
    /// use machizu::text::chiban::ChibanQuery;
    /// let q = ChibanQuery::parse("尾花沢123");
    /// assert!(q.score("123", "尾花沢", "").unwrap() > q.score("123-4", "尾花沢", "").unwrap());
    /// assert!(q.score("1234", "尾花沢", "").unwrap() < q.score("123-4", "尾花沢", "").unwrap());
    /// assert_eq!(q.score("123", "若葉町", ""), None);
    /// assert_eq!(q.score("124", "尾花沢", ""), None);
    /// ```
    pub fn score(&self, chiban: &str, oaza: &str, aza: &str) -> Option<u32> {
        self.score_folded(&fold(chiban), &fold(oaza), &fold(aza))
    }

    /// [`ChibanQuery::score`] of values already [`fold`]ed (as the search index keeps them),
    /// without allocating.
    pub fn score_folded(&self, chiban: &str, oaza: &str, aza: &str) -> Option<u32> {
        let mut score = match &self.number {
            None => 1,
            Some(n) if chiban == n => 3,
            Some(n) if chiban.starts_with(n.as_str()) && chiban.as_bytes().get(n.len()) == Some(&b'-') => 2,
            Some(n) if chiban.starts_with(n.as_str()) => 1,
            Some(_) => return None,
        };
        if let Some(place) = &self.place {
            let names = [
                oaza.trim_start_matches("大字").trim_start_matches('字'),
                aza.trim_start_matches("大字").trim_start_matches('字'),
            ];
            let mut pieces = place.split('字').map(str::trim).filter(|p| !p.is_empty());
            if !pieces.clone().all(|p| names.iter().any(|n| n.contains(p))) {
                return None;
            }
            if pieces.all(|p| names.contains(&p)) {
                score += 1;
            }
        }
        Some(score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ways_people_write_a_chiban() {
        for (typed, number) in [
            ("123-4", "123-4"),
            ("１２３－４", "123-4"),
            ("123番地4", "123-4"),
            ("123番地の4", "123-4"),
            ("123の4", "123-4"),
            ("123之4", "123-4"),
            ("123ノ4", "123-4"),
            ("123ー4", "123-4"),
            ("百二十三番四", "123-4"),
            ("千二百番地", "1200"),
            ("二〇五", "205"),
            ("十番", "10"),
            ("123-4-2", "123-4-2"),
            ("0123", "123"),
        ] {
            assert_eq!(ChibanQuery::parse(typed).number.as_deref(), Some(number), "{typed}");
        }
    }

    #[test]
    fn places_lose_the_words_oaza_and_aza() {
        let p = |s| ChibanQuery::parse(s).place;
        assert_eq!(p("大字尾花沢123").as_deref(), Some("尾花沢"));
        assert_eq!(p("字中町 5").as_deref(), Some("中町"));
        assert_eq!(p("若葉町　１"), Some("若葉町".to_owned()));
        // Kanji numerals in a place name stay in it.
        let q = ChibanQuery::parse("十日町十二番");
        assert_eq!((q.place.as_deref(), q.number.as_deref()), (Some("十日町"), Some("12")));
        assert_eq!(ChibanQuery::parse("三日町").number, None);
        assert_eq!(ChibanQuery::parse("三日町 5").number.as_deref(), Some("5"));
        assert_eq!(p("123"), None);
        let q = ChibanQuery::parse("尾花沢");
        assert_eq!((q.place.as_deref(), q.number), (Some("尾花沢"), None));
    }

    #[test]
    fn the_exact_parcel_ranks_first_and_others_do_not_match() {
        let q = ChibanQuery::parse("中町 12");
        let exact = q.score("12", "大字尾花沢", "中町").unwrap();
        let sub = q.score("12-3", "大字尾花沢", "中町").unwrap();
        let longer = q.score("125", "大字尾花沢", "中町").unwrap();
        assert!(exact > sub && sub > longer);
        assert_eq!(q.score("12", "大字尾花沢", "新町"), None);
        assert_eq!(q.score("13", "大字尾花沢", "中町"), None);
        // 大字 and 字 together, as the cadastre names a place.
        let q = ChibanQuery::parse("大字尾花沢字中町12");
        assert_eq!(q.score("12", "大字尾花沢", "字中町"), Some(4));
        assert_eq!(q.score("12", "大字尾花沢", "新町"), None);
    }
}
