//! Text indexes of features, below the engine that keeps them and the search that reads them:
//! the searchable attribute values of a segment's features folded ([`chiban::fold`]: what
//! people type and what the data says, made comparable) and sorted, so that a 地番 is found by
//! binary search on its prefix, plus the distinct 大字/字 places of parcels with their features.

pub mod chiban;

use std::collections::HashMap;

use crate::catalog::LayerDef;
use crate::feature::AttrValue;
use chiban::{ChibanQuery, fold};

/// Attributes searched by name, when a layer has them.
pub const NAME_ATTRIBUTES: &[&str] = &["name", "label", "address"];
/// The attribute holding a parcel's 地番, and its place names.
pub const CHIBAN: &str = "chiban";
const OAZA: &str = "oaza";
const AZA: &str = "aza";

/// One searchable value.
#[derive(Debug)]
pub struct Entry {
    pub key: Box<str>,
    pub attr: u16,
    pub feature: u32,
}

/// The searchable values of one segment's features (see the module documentation).
#[derive(Debug, Default)]
pub struct TextIndex {
    /// Sorted by (attribute, key).
    entries: Vec<Entry>,
    /// Distinct (大字, 字) of parcels, folded, with their features.
    places: Vec<(String, String, Vec<u32>)>,
    /// Each parcel's place (an index into `places`).
    place_of: Vec<u32>,
}

impl TextIndex {
    /// Indexes the features of `layer` whose attribute values `attributes` gives, in feature
    /// order.
    pub fn build(layer: &LayerDef, attributes: impl Iterator<Item = Vec<AttrValue>>) -> Self {
        let attrs: Vec<usize> = std::iter::once(CHIBAN)
            .chain(NAME_ATTRIBUTES.iter().copied())
            .filter_map(|n| layer.attribute_index(n))
            .collect();
        let place = match (layer.attribute_index(CHIBAN), layer.attribute_index(OAZA), layer.attribute_index(AZA)) {
            (Some(_), Some(o), Some(z)) => Some((o, z)),
            _ => None,
        };
        let mut entries = Vec::new();
        let mut places: HashMap<(String, String), Vec<u32>> = HashMap::new();
        let mut count = 0;
        for (i, values) in attributes.enumerate() {
            count += 1;
            for &a in &attrs {
                if let AttrValue::Text(t) = &values[a] {
                    entries.push(Entry { key: fold(t).into(), attr: a as u16, feature: i as u32 });
                }
            }
            if let Some((o, z)) = place {
                let text = |k: usize| if let AttrValue::Text(t) = &values[k] { fold(t) } else { String::new() };
                places.entry((text(o), text(z))).or_default().push(i as u32);
            }
        }
        entries.sort_unstable_by(|a, b| (a.attr, &a.key).cmp(&(b.attr, &b.key)));
        let places: Vec<_> = places.into_iter().map(|((o, z), fs)| (o, z, fs)).collect();
        let mut place_of = vec![0; if places.is_empty() { 0 } else { count }];
        for (p, (_, _, fs)) in places.iter().enumerate() {
            fs.iter().for_each(|&f| place_of[f as usize] = p as u32);
        }
        Self { entries, places, place_of }
    }

    /// The entries of attribute `attr`, sorted by key.
    pub fn attribute(&self, attr: usize) -> &[Entry] {
        let attr = attr as u16;
        let start = self.entries.partition_point(|e| e.attr < attr);
        let end = self.entries.partition_point(|e| e.attr <= attr);
        &self.entries[start..end]
    }

    /// Calls `hit(feature, score)` for each parcel matching `q` by its 地番 attribute `attr`.
    pub fn chiban(&self, attr: usize, q: &ChibanQuery, hit: &mut dyn FnMut(u32, u32)) {
        if self.place_of.is_empty() {
            return;
        }
        match &q.number {
            Some(n) => {
                let entries = self.attribute(attr);
                let start = entries.partition_point(|e| *e.key < **n);
                for e in entries[start..].iter().take_while(|e| e.key.starts_with(n.as_str())) {
                    let (oaza, aza) = self.place_of(e.feature);
                    if let Some(score) = q.score_folded(&e.key, oaza, aza) {
                        hit(e.feature, score);
                    }
                }
            }
            None => {
                for (oaza, aza, features) in &self.places {
                    if let Some(score) = q.score_folded("", oaza, aza) {
                        features.iter().for_each(|&f| hit(f, score));
                    }
                }
            }
        }
    }

    /// The folded (大字, 字) of a parcel.
    fn place_of(&self, feature: u32) -> (&str, &str) {
        let (o, z, _) = &self.places[self.place_of[feature as usize] as usize];
        (o, z)
    }
}
