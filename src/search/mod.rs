//! Search: parcels by 地番 ([`chiban`] normalises what people type) and features by name
//! across layers, ranked and paged.
//!
//! Each engine segment keeps a [`TextIndex`] (in `text`, below the engine), made on the first
//! search after the segment was built: the searchable attribute values folded ([`chiban::fold`]) and sorted, so that a 地番
//! is found by binary search on its prefix, plus the distinct 大字/字 places of parcels with
//! their features, so that a place alone (`大字尾花沢`) does not scan every parcel. Names are
//! matched anywhere in the value (`仲町` finds `市道仲町44号線`) by a scan of the folded values,
//! which are few (roads, facilities), not of the features.
//!
//! Scores: 4 the whole value (and the place, for a 地番), 3 the 地番 exactly, 2 a prefix at a
//! `-` or the start of a name, 1 any prefix or a name containing the text.

use crate::catalog::Audience;
use crate::engine::LayerData;
use crate::engine::layer::{Slot, is_masked};
use crate::feature::Feature;
pub use crate::text::{CHIBAN, NAME_ATTRIBUTES, TextIndex, chiban};
use chiban::{ChibanQuery, fold};

/// A feature found, with its score.
#[derive(Debug, Clone)]
pub struct Found<'a> {
    pub layer: &'a LayerData,
    pub feature: Feature,
    pub score: u32,
    /// The attribute that matched.
    pub attribute: &'a str,
}

/// A feature found, before the page is chosen: where it is, not yet decoded.
struct Candidate<'a> {
    layer: &'a LayerData,
    slot: Slot,
    id: i64,
    score: u32,
    attribute: &'a str,
    /// The layer's place in the order asked for.
    rank: usize,
    /// The matched value, for the order.
    key: &'a str,
}

/// What a search found: how many features in all, and the page asked for.
pub struct Results<'a> {
    pub matched: usize,
    pub page: Vec<Found<'a>>,
}

/// Searches `layers` (with what the caller sees of each) for `text`: 地番 in layers that have
/// them, names in every layer. Best first; ties in layer order, then by the matched value in
/// natural order (`2` before `10`), then id. Only the page asked for is put in order.
pub fn search<'a>(
    layers: &'a [(std::sync::Arc<LayerData>, Audience)],
    text: &str,
    offset: usize,
    limit: usize,
) -> Results<'a> {
    let folded = fold(text.trim());
    if folded.is_empty() {
        return Results { matched: 0, page: Vec::new() };
    }
    let mut found: Vec<Candidate<'a>> = Vec::new();
    let q = ChibanQuery::parse(text);
    for (rank, (layer, audience)) in layers.iter().enumerate() {
        let (layer, def) = (layer.as_ref(), &layer.def);
        let visible = |name: &str| def.visible_attributes(*audience).find(|(_, a)| a.name == name).map(|(i, _)| i);
        for (index, delta, mask) in layer.text_indexes() {
            let live = |index: u32| mask.is_none_or(|m| !is_masked(m, index)).then_some(Slot { delta, index });
            let mut push = |slot: Slot, score, attribute, a| {
                let (id, key) = (layer.id(slot), layer.text(slot, a));
                found.push(Candidate { layer, slot, id, score, attribute, rank, key });
            };
            if let Some(c) = visible(CHIBAN) {
                index.chiban(c, &q, &mut |i, score| {
                    if let Some(slot) = live(i) {
                        push(slot, score, CHIBAN, c);
                    }
                });
            }
            for name in NAME_ATTRIBUTES {
                let Some(a) = visible(name) else { continue };
                for e in index.attribute(a) {
                    let score = if *e.key == *folded {
                        4
                    } else if e.key.starts_with(&folded) {
                        2
                    } else if e.key.contains(&folded) {
                        1
                    } else {
                        continue;
                    };
                    if let Some(slot) = live(e.feature) {
                        push(slot, score, name, a);
                    }
                }
            }
        }
    }
    // A feature found by two attributes counts once, at its best.
    found.sort_unstable_by(|a, b| (a.rank, a.id, b.score).cmp(&(b.rank, b.id, a.score)));
    found.dedup_by_key(|c| (c.rank, c.id));
    let matched = found.len();
    let order = |a: &Candidate, b: &Candidate| {
        b.score.cmp(&a.score).then(a.rank.cmp(&b.rank)).then_with(|| natural(a.key, b.key)).then(a.id.cmp(&b.id))
    };
    let end = (offset + limit).min(matched);
    if end < matched {
        found.select_nth_unstable_by(end, order);
        found.truncate(end);
    }
    found.sort_unstable_by(order);
    let page = found
        .into_iter()
        .skip(offset)
        .map(|c| Found { layer: c.layer, feature: c.layer.feature(c.slot), score: c.score, attribute: c.attribute })
        .collect();
    Results { matched, page }
}

/// Compares two strings with runs of digits as numbers: `2-1` < `10`, `123-4` < `123-10`.
pub fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, _) => return std::cmp::Ordering::Less,
            (_, None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (trim_zeros(&a[..da]), trim_zeros(&b[..db]));
                let o = na.len().cmp(&nb.len()).then(na.cmp(nb));
                if o.is_ne() {
                    return o;
                }
                (a, b) = (&a[da..], &b[db..]);
            }
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => (a, b) = (&a[1..], &b[1..]),
        }
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let z = d.iter().take_while(|&&c| c == b'0').count();
    &d[z..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec!["123-10", "10", "2-1", "123-4", "123", "2"];
        v.sort_by(|a, b| natural(a, b));
        assert_eq!(v, ["2", "2-1", "10", "123", "123-4", "123-10"]);
    }
}
