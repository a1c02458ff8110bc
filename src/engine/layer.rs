//! A layer as the engine holds it: a large base [`Segment`] built at load, and a small delta
//! segment of the features changed since, so that an edit costs milliseconds, not a rebuild.
//!
//! A segment is built all at once from features in the store's CRS: features are put in Hilbert
//! order, attribute values are interned into one table of ready-encoded MVT values (each
//! distinct value encoded once, however many features share it), the zoom levels are
//! generalised in parallel from a Web Mercator copy, and an R-tree of the features' bounding
//! boxes in the store's CRS (metres on the ground) answers spatial queries ([`crate::query`]). [`LayerData::apply`] makes the next version of a layer from a batch
//! of changes: base features that were replaced or deleted are masked out, and the delta is
//! rebuilt from its (few) features; when the delta grows past a fraction of the base, both are
//! merged into a new base. Versions are immutable: readers keep rendering the one they hold.

use std::collections::HashMap;
use std::sync::Arc;

use geo::BoundingRect;
use geo_types::Rect;
use indexmap::IndexMap;
use rayon::prelude::*;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use serde_json::value::RawValue;

use super::EngineError;
use super::footprint::Footprint;
use super::level::{Level, LevelInput, SharedTags};
use crate::catalog::LayerDef;
use crate::crs::{Epsg, Transformer};
use crate::feature::{Feature, FeatureId, union_rects};
use crate::text::TextIndex;
use crate::tile::coord::mercator_to_lonlat;
use crate::tile::mvt::{GeomType, encode_value};

/// The delta is merged into the base when it holds more than this many features and more than
/// [`COMPACT_FRACTION`] of the base.
const COMPACT_MIN: usize = 512;
const COMPACT_FRACTION: usize = 16;

/// A feature's bounding box in the store's CRS, with its index in the segment.
pub type BoxEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// Features generalised and indexed for rendering and for spatial queries, built in one go.
#[derive(Debug)]
pub struct Segment {
    /// The features in the store's CRS, in Hilbert order: feature index `i` below. Kept for
    /// queries and so that a later version of the layer can be rebuilt without the store.
    pub features: Vec<Feature>,
    /// Web Mercator bounds by feature index (which tiles a change touches).
    mercator_bounds: Vec<Option<Rect<f64>>>,
    /// The features' bounding boxes in the store's CRS.
    pub rtree: RTree<BoxEntry>,
    /// Searchable text, made on the first search.
    text: std::sync::OnceLock<TextIndex>,
    /// Each feature's geometry as GeoJSON in CRS84, made when first asked for (query answers
    /// show the same city boundary or parcel again and again).
    crs84: Vec<std::sync::OnceLock<Box<RawValue>>>,
    /// Feature ids, by feature index.
    pub ids: Vec<u64>,
    /// Distinct attribute values, each encoded as an MVT `Value` body, in one arena: value
    /// `first_value + v` is `value_bytes[value_offsets[v]..value_offsets[v + 1]]`. A delta
    /// segment numbers its values after the base's and reuses the base's for values they share,
    /// so a tile mixing both writes each distinct value once.
    value_bytes: Vec<u8>,
    value_offsets: Vec<u32>,
    first_value: u32,
    /// Value id by encoded value.
    value_ids: HashMap<Vec<u8>, u32>,
    /// Every feature's attributes as (attribute index, value id), in feature order, when some
    /// level reads them rather than a copy of its own ([`SharedTags`]).
    tags: Option<Arc<[(u16, u32)]>>,
    /// `levels[z]`, `None` outside the layer's zoom range.
    pub levels: Vec<Option<Level>>,
    /// Bounds of all features in Web Mercator.
    pub extent: Option<Rect<f64>>,
}

impl Segment {
    /// Builds a segment from features in the store's CRS, extending `base`'s values if given.
    fn build(
        def: &LayerDef,
        features: Vec<Feature>,
        to_mercator: &Transformer,
        base: Option<&Segment>,
    ) -> Result<Self, EngineError> {
        let mut pairs = features
            .into_iter()
            .map(|f| {
                let mut g = f.geometry.clone();
                to_mercator.geometry(&mut g).map(|()| (f, g))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Features near each other on the map sit near each other in memory, so a tile reads
        // a few runs of each array instead of jumping across the layer (the hot path is
        // bound by memory, not arithmetic).
        // Ties go by id, so the order depends on the features, not on how they came.
        pairs.sort_by_cached_key(|(f, m)| {
            (m.bounding_rect().map_or(0, |r| hilbert_key(r.center().x, r.center().y)), f.id)
        });
        let (features, mercator): (Vec<Feature>, Vec<geo_types::Geometry<f64>>) = pairs.into_iter().unzip();
        let mut ids = Vec::with_capacity(features.len());
        // `tags[tag_offsets[i]..tag_offsets[i + 1]]` are feature `i`'s (attribute index, value
        // id); each level keeps its own copy, in its order.
        let mut tag_offsets = Vec::with_capacity(features.len() + 1);
        let mut tags = Vec::new();
        let mut value_bytes = Vec::new();
        let mut value_offsets = vec![0u32];
        let mut value_ids: HashMap<Vec<u8>, u32> = HashMap::new();
        let first_value = base.map_or(0, |b| b.first_value + b.value_count() as u32);
        tag_offsets.push(0);
        for f in &features {
            ids.push(f.id as u64);
            for (k, v) in f.attributes.iter().enumerate().take(def.attributes.len()) {
                let Some(enc) = encode_value(v) else { continue };
                if let Some(&id) = base.and_then(|b| b.value_ids.get(&enc)) {
                    tags.push((k as u16, id));
                    continue;
                }
                let id = *value_ids.entry(enc).or_insert_with_key(|enc| {
                    value_bytes.extend_from_slice(enc);
                    value_offsets.push(value_bytes.len() as u32);
                    first_value + (value_offsets.len() - 2) as u32
                });
                tags.push((k as u16, id));
            }
            tag_offsets.push(tags.len() as u32);
        }
        value_bytes.shrink_to_fit();
        value_offsets.shrink_to_fit();
        value_ids.shrink_to_fit();
        let mercator_bounds: Vec<Option<Rect<f64>>> = mercator.iter().map(|g| g.bounding_rect()).collect();
        let extent = union_rects(mercator_bounds.iter().flatten().copied());
        let rtree = RTree::bulk_load(
            features
                .iter()
                .enumerate()
                .filter_map(|(i, f)| {
                    let r = f.geometry.bounding_rect()?;
                    Some(BoxEntry::new(Rectangle::from_corners(r.min().into(), r.max().into()), i as u32))
                })
                .collect(),
        );
        let tags: Arc<[(u16, u32)]> = tags.into();
        let inputs = || {
            mercator.iter().enumerate().map(|(i, geometry)| LevelInput {
                geometry,
                id: ids[i],
                tags: &tags[tag_offsets[i] as usize..tag_offsets[i + 1] as usize],
            })
        };
        let levels: Vec<Option<Level>> = (0..=def.maxzoom)
            .into_par_iter()
            .map(|z| {
                (z >= def.minzoom).then(|| {
                    let shared = SharedTags { tags: &tags, offsets: &tag_offsets };
                    Level::build(inputs(), z, z < def.maxzoom, def.label_points_at(z).is_some(), Some(shared))
                })
            })
            .collect();
        // Kept for the footprint only when some level reads it.
        let tags = levels.iter().flatten().any(|l| l.tags_shared).then_some(tags);
        Ok(Self {
            features,
            mercator_bounds,
            rtree,
            text: Default::default(),
            crs84: (0..ids.len()).map(|_| Default::default()).collect(),
            ids,
            value_bytes,
            value_offsets,
            first_value,
            value_ids,
            tags,
            levels,
            extent,
        })
    }

    /// Indices of the features whose bounding box meets `area` (in the store's CRS).
    pub fn in_box(&self, area: Rect<f64>) -> impl Iterator<Item = u32> + '_ {
        let envelope = AABB::from_corners(area.min().into(), area.max().into());
        self.rtree.locate_in_envelope_intersecting(&envelope).map(|e| e.data)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn level(&self, z: u8) -> Option<&Level> {
        self.levels.get(usize::from(z)).and_then(Option::as_ref)
    }

    /// Bytes held, by structure.
    fn footprint(&self) -> Footprint {
        use super::footprint::{features_bytes, map_bytes, vec_bytes};
        // An R-tree holds each entry in a node slot, plus about one parent per eight entries.
        let rtree = (self.rtree.size() * std::mem::size_of::<rstar::RTreeNode<BoxEntry>>() * 9 / 8) as u64;
        let crs84 = vec_bytes(&self.crs84)
            + self.crs84.iter().filter_map(|c| c.get()).map(|j| j.get().len() as u64).sum::<u64>();
        let mut footprint = Footprint {
            features: features_bytes(&self.features) + crs84,
            index: vec_bytes(&self.mercator_bounds) + rtree + vec_bytes(&self.ids),
            values: vec_bytes(&self.value_bytes)
                + vec_bytes(&self.value_offsets)
                + map_bytes(&self.value_ids)
                + self.value_ids.keys().map(|k| k.capacity() as u64).sum::<u64>(),
            ..Default::default()
        };
        footprint.levels += self.tags.as_ref().map_or(0, |t| std::mem::size_of_val(&**t) as u64);
        for level in self.levels.iter().flatten() {
            let (geometry, tiles) = level.footprint();
            footprint.levels += geometry;
            footprint.tiles += tiles;
        }
        footprint
    }

    /// Number of distinct attribute values the segment adds.
    fn value_count(&self) -> usize {
        self.value_offsets.len() - 1
    }

    /// The encoded MVT `Value` body of value `v`, one of this segment's own.
    #[inline]
    fn value(&self, v: u32) -> &[u8] {
        let i = (v - self.first_value) as usize;
        &self.value_bytes[self.value_offsets[i] as usize..self.value_offsets[i + 1] as usize]
    }
}

/// One version of a layer's features, ready for tile rendering.
#[derive(Debug)]
pub struct LayerData {
    pub def: LayerDef,
    pub geom_type: GeomType,
    base: Arc<Segment>,
    /// Base feature index by id.
    base_index: Arc<HashMap<u64, u32>>,
    /// Bit `i` is set when base feature `i` has been replaced or deleted.
    removed: Vec<u64>,
    removed_count: usize,
    delta: Segment,
    /// Bounds of all features as `[west, south, east, north]` in degrees.
    pub bounds: Option<[f64; 4]>,
    /// Every live feature as (in delta, index), by ascending id: made on first use (paging).
    by_id: std::sync::OnceLock<Vec<(bool, u32)>>,
}

/// What [`LayerData::apply`] made: the next version and where on the map it differs.
pub struct Applied {
    pub data: LayerData,
    /// Web Mercator bounds of every changed feature, before and after the change.
    pub changed: Vec<Rect<f64>>,
}

impl LayerData {
    /// Builds the layer from features in `store_crs`.
    pub fn build(def: LayerDef, features: Vec<Feature>, store_crs: Epsg) -> Result<Self, EngineError> {
        let to_mercator = Transformer::new(store_crs, Epsg::WEB_MERCATOR)?;
        let base = Segment::build(&def, features, &to_mercator, None)?;
        Self::from_base(def, base, &to_mercator)
    }

    fn from_base(def: LayerDef, base: Segment, to_mercator: &Transformer) -> Result<Self, EngineError> {
        let base_index = base.ids.iter().enumerate().map(|(i, &id)| (id, i as u32)).collect();
        let geom_type = match def.geometry.family() {
            "point" => GeomType::Point,
            "line" => GeomType::LineString,
            _ => GeomType::Polygon,
        };
        let removed = vec![0; base.len().div_ceil(64)];
        let delta = Segment::build(&def, Vec::new(), to_mercator, Some(&base))?;
        let bounds = base.extent.map(lonlat_bounds);
        Ok(Self {
            def,
            geom_type,
            base: Arc::new(base),
            base_index: Arc::new(base_index),
            removed,
            removed_count: 0,
            delta,
            bounds,
            by_id: Default::default(),
        })
    }

    /// The next version of this layer: `upserts` (in `store_crs`) added or replacing the
    /// features with their ids, and `deletes` gone. Ids that are not in the layer are ignored.
    pub fn apply(&self, upserts: Vec<Feature>, deletes: &[FeatureId], store_crs: Epsg) -> Result<Applied, EngineError> {
        // The live layers change many times a second: the transformer is the thread's, made once.
        crate::crs::with_transformer(store_crs, Epsg::WEB_MERCATOR, |t| self.apply_with(upserts, deletes, t))?
    }

    fn apply_with(
        &self,
        upserts: Vec<Feature>,
        deletes: &[FeatureId],
        to_mercator: &Transformer,
    ) -> Result<Applied, EngineError> {
        let mut changed = Vec::new();
        let mut removed = self.removed.clone();
        let mut removed_count = self.removed_count;
        // The delta's features by id, with their Web Mercator bounds.
        let mut delta: IndexMap<u64, (Feature, Option<Rect<f64>>)> = (self.delta.features.iter())
            .zip(&self.delta.mercator_bounds)
            .map(|(f, b)| (f.id as u64, (f.clone(), *b)))
            .collect();
        for id in deletes.iter().chain(upserts.iter().map(|f| &f.id)).map(|&id| id as u64) {
            if let Some(&i) = self.base_index.get(&id) {
                let (word, bit) = (i as usize / 64, 1u64 << (i % 64));
                if removed[word] & bit == 0 {
                    removed[word] |= bit;
                    removed_count += 1;
                    changed.extend(self.base.mercator_bounds[i as usize]);
                }
            }
            if let Some((_, old)) = delta.shift_remove(&id) {
                changed.extend(old);
            }
        }
        for f in upserts {
            let mut g = f.geometry.clone();
            to_mercator.geometry(&mut g)?;
            let b = g.bounding_rect();
            changed.extend(b);
            delta.insert(f.id as u64, (f, b));
        }
        let data = if delta.len() > COMPACT_MIN.max(self.base.len() / COMPACT_FRACTION) {
            // Merge: every live base feature plus the delta becomes the new base.
            let mut all: Vec<Feature> = Vec::with_capacity(self.base.len() - removed_count + delta.len());
            all.extend(
                self.base
                    .features
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| removed[i / 64] & (1 << (i % 64)) == 0)
                    .map(|(_, f)| f.clone()),
            );
            all.extend(delta.into_values().map(|(f, _)| f));
            Self::from_base(self.def.clone(), Segment::build(&self.def, all, to_mercator, None)?, to_mercator)?
        } else {
            let delta = Segment::build(
                &self.def,
                delta.into_values().map(|(f, _)| f).collect(),
                to_mercator,
                Some(&self.base),
            )?;
            let bounds = union_rects(self.base.extent.into_iter().chain(delta.extent)).map(lonlat_bounds);
            Self {
                def: self.def.clone(),
                geom_type: self.geom_type,
                base: self.base.clone(),
                base_index: self.base_index.clone(),
                removed,
                removed_count,
                delta,
                bounds,
                by_id: Default::default(),
            }
        };
        Ok(Applied { data, changed })
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.base.len() - self.removed_count + self.delta.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the layer has tiles at zoom `z`.
    pub fn has_zoom(&self, z: u8) -> bool {
        (self.def.minzoom..=self.def.maxzoom).contains(&z)
    }

    /// The segments to render: the base with the mask of its removed features (`None` when
    /// nothing was removed), then the delta.
    pub fn segments(&self) -> [(&Segment, Option<&[u64]>); 2] {
        let mask = (self.removed_count > 0).then_some(self.removed.as_slice());
        [(&self.base, mask), (&self.delta, None)]
    }

    /// Number of distinct attribute values, base and delta.
    pub fn value_count(&self) -> usize {
        self.base.value_count() + self.delta.value_count()
    }

    /// The encoded MVT `Value` body of value `v`.
    #[inline]
    pub fn value(&self, v: u32) -> &[u8] {
        if v < self.delta.first_value { self.base.value(v) } else { self.delta.value(v) }
    }

    /// Every feature in the store's CRS: the base's that were not replaced, then the delta's.
    pub fn features(&self) -> impl Iterator<Item = &Feature> {
        let base = self.base.features.iter().enumerate().filter(|(i, _)| !is_masked(&self.removed, *i as u32));
        base.map(|(_, f)| f).chain(&self.delta.features)
    }

    /// Every feature, by ascending id (the order is made once per version of the layer).
    pub fn features_by_id(&self) -> impl Iterator<Item = &Feature> {
        let order = self.by_id.get_or_init(|| {
            let base = (0..self.base.len() as u32).filter(|&i| !is_masked(&self.removed, i)).map(|i| (false, i));
            let mut order: Vec<(bool, u32)> = base.chain((0..self.delta.len() as u32).map(|i| (true, i))).collect();
            order.sort_unstable_by_key(|&(delta, i)| self.segment(delta).features[i as usize].id);
            order
        });
        order.iter().map(|&(delta, i)| &self.segment(delta).features[i as usize])
    }

    /// `f`'s geometry as GeoJSON in CRS84, made by `make` the first time this version of the
    /// layer is asked for it (a failure is not kept). `f` must be one of this layer's features.
    pub fn crs84_json<E>(&self, f: &Feature, make: impl FnOnce() -> Result<Box<RawValue>, E>) -> Result<&RawValue, E> {
        let at = f as *const Feature;
        let (segment, i) = self
            .segments()
            .into_iter()
            .find_map(|(s, _)| {
                let range = s.features.as_ptr_range();
                range.contains(&at).then(|| (s, (at as usize - range.start as usize) / std::mem::size_of::<Feature>()))
            })
            .unwrap_or_else(|| panic!("feature {} is not one of layer {}'s", f.id, self.def.id));
        let cell = &segment.crs84[i];
        if let Some(json) = cell.get() {
            return Ok(json);
        }
        let json = make()?;
        Ok(cell.get_or_init(|| json))
    }

    /// Each segment's text index (made on first use), features and mask of removed features.
    pub fn text_indexes(&self) -> [TextSegment<'_>; 2] {
        self.segments().map(|(s, mask)| {
            (s.text.get_or_init(|| TextIndex::build(&self.def, &s.features)), s.features.as_slice(), mask)
        })
    }

    fn segment(&self, delta: bool) -> &Segment {
        if delta { &self.delta } else { &self.base }
    }

    /// The feature with this id.
    pub fn get(&self, id: FeatureId) -> Option<&Feature> {
        match self.base_index.get(&(id as u64)) {
            Some(&i) if !is_masked(&self.removed, i) => Some(&self.base.features[i as usize]),
            _ => self.delta.features.iter().find(|f| f.id == id),
        }
    }

    /// The features whose bounding box meets `area` (in the store's CRS), by R-tree.
    pub fn in_box(&self, area: Rect<f64>) -> impl Iterator<Item = &Feature> {
        let base = self.base.in_box(area).filter(|&i| !is_masked(&self.removed, i));
        let base = base.map(|i| &self.base.features[i as usize]);
        base.chain(self.delta.in_box(area).map(|i| &self.delta.features[i as usize]))
    }

    /// The features in order of their bounding box's distance from `p` (in the store's CRS),
    /// with that distance: a lower bound of the distance to the feature itself.
    pub fn by_box_distance(&self, p: [f64; 2]) -> impl Iterator<Item = (&Feature, f64)> {
        fn segment<'a>(
            s: &'a Segment,
            mask: Option<&'a [u64]>,
            p: [f64; 2],
        ) -> std::iter::Peekable<impl Iterator<Item = (&'a Feature, f64)>> {
            s.rtree
                .nearest_neighbor_iter_with_distance_2(&p)
                .filter(move |(e, _)| mask.is_none_or(|m| !is_masked(m, e.data)))
                .map(move |(e, d2)| (&s.features[e.data as usize], d2.sqrt()))
                .peekable()
        }
        let mask = (self.removed_count > 0).then_some(self.removed.as_slice());
        let (mut base, mut delta) = (segment(&self.base, mask, p), segment(&self.delta, None, p));
        std::iter::from_fn(move || match (base.peek(), delta.peek()) {
            (Some(a), Some(b)) if b.1 < a.1 => delta.next(),
            (Some(_), _) => base.next(),
            (None, _) => delta.next(),
        })
    }

    /// Bytes this version of the layer holds, by structure (a base shared with the previous
    /// version is counted in full).
    pub fn footprint(&self) -> Footprint {
        use super::footprint::{map_bytes, vec_bytes};
        let mut footprint = self.base.footprint();
        footprint += self.delta.footprint();
        footprint.index +=
            map_bytes(&self.base_index) + vec_bytes(&self.removed) + self.by_id.get().map_or(0, vec_bytes);
        footprint
    }

    /// Number of features changed since the base was built (for metrics and tests).
    pub fn delta_len(&self) -> usize {
        self.delta.len()
    }
}

/// A segment's text index, its features, and the mask of its removed features.
pub type TextSegment<'a> = (&'a TextIndex, &'a [Feature], Option<&'a [u64]>);

/// Whether bit `i` of `mask` is set.
#[inline]
pub fn is_masked(mask: &[u64], i: u32) -> bool {
    mask[i as usize / 64] & (1 << (i % 64)) != 0
}

/// Position of a Web Mercator point along a Hilbert curve over the world, on a 2^16 grid.
fn hilbert_key(x: f64, y: f64) -> u64 {
    use crate::tile::coord::MERCATOR_HALF;
    const N: u32 = 1 << 16;
    let scale = |v: f64| (((v + MERCATOR_HALF) / (2.0 * MERCATOR_HALF) * f64::from(N)) as u32).min(N - 1);
    let (mut x, mut y) = (scale(x), scale(y));
    let mut d = 0u64;
    let mut s = N / 2;
    while s > 0 {
        let rx = u32::from(x & s > 0);
        let ry = u32::from(y & s > 0);
        d += u64::from(s) * u64::from(s) * u64::from((3 * rx) ^ ry);
        if ry == 0 {
            if rx == 1 {
                x = N - 1 - x;
                y = N - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    d
}

fn lonlat_bounds(r: Rect<f64>) -> [f64; 4] {
    let (w, s) = mercator_to_lonlat(r.min().x, r.min().y);
    let (e, n) = mercator_to_lonlat(r.max().x, r.max().y);
    [w, s, e, n]
}
