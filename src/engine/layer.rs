//! A layer as the engine holds it: a large base [`Segment`] built at load, and a small delta
//! segment of the features changed since, so that an edit costs milliseconds, not a rebuild.
//!
//! A segment is built all at once from features in the store's CRS: features are put in Hilbert
//! order, attribute values are interned into one table of ready-encoded MVT values (each
//! distinct value encoded once, however many features share it), the zoom levels are
//! generalised in parallel from a Web Mercator copy, and a packed R-tree of the features'
//! bounding boxes in the store's CRS (metres on the ground; [`super::boxes`]) answers spatial
//! queries ([`crate::query`]).
//! The features themselves are not kept as objects: their geometries are one WKB arena and their
//! attributes value ids, so a query decodes a [`Feature`] when it needs one (a [`Slot`] says
//! where it is). [`LayerData::apply`] makes the next version of a layer from a batch
//! of changes: base features that were replaced or deleted are masked out, and the delta is
//! rebuilt from its (few) features; when the delta grows past a fraction of the base, both are
//! merged into a new base. Versions are immutable: readers keep rendering the one they hold.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::sync::{Arc, OnceLock};

use geo::BoundingRect;
use geo_types::Rect;
use indexmap::IndexMap;
use rayon::prelude::*;
use serde_json::value::RawValue;

use super::EngineError;
use super::boxes::BoxIndex;
use super::footprint::Footprint;
use super::level::{Level, LevelInput, SharedTags};
use super::snapshot::{Reader, SnapshotError, Writer, unpack_tags};
use crate::catalog::LayerDef;
use crate::crs::{Epsg, Transformer};
use crate::feature::{Feature, FeatureId, union_rects};
use crate::text::TextIndex;
use crate::tile::coord::mercator_to_lonlat;
use crate::tile::mvt::{GeomType, decode_value, encode_value};

/// The delta is merged into the base when it holds more than this many features and more than
/// [`COMPACT_FRACTION`] of the base.
const COMPACT_MIN: usize = 512;
const COMPACT_FRACTION: usize = 16;

/// Features generalised and indexed for rendering and for spatial queries, built in one go.
///
/// Everything is held in a few flat arrays rather than as objects per feature: a city's
/// million parcels are a handful of allocations, and a feature is decoded ([`Feature`]) only
/// when a query asks for it.
#[derive(Debug)]
pub struct Segment {
    /// Feature ids, by feature index (the features are in Hilbert order).
    pub ids: Vec<u64>,
    /// Each feature's geometry in the store's CRS as WKB: feature `i`'s is
    /// `wkb[wkb_offsets[i]..wkb_offsets[i + 1]]`. Kept for queries and so that a later version
    /// of the layer can be rebuilt without the store.
    wkb: Vec<u8>,
    wkb_offsets: Vec<u64>,
    /// Every feature's attributes as (attribute index, value id), in feature order: feature
    /// `i`'s are `tags[tag_offsets[i]..tag_offsets[i + 1]]`. Levels that keep nearly every
    /// feature read this array too ([`SharedTags`]).
    tags: Arc<[(u16, u32)]>,
    tag_offsets: Vec<u32>,
    /// The features' bounding boxes in the store's CRS: made with the segment, or from the WKB
    /// on first use when the segment came from a snapshot ([`Segment::boxes`]).
    boxes: OnceLock<BoxIndex>,
    /// Searchable text, made on the first search.
    text: std::sync::OnceLock<TextIndex>,
    /// Distinct attribute values. A delta segment numbers its values after the base's and
    /// reuses the base's for values they share, so a tile mixing both writes each distinct
    /// value once.
    values: Values,
    /// Value id by a hash of its encoding, for a delta to reuse the base's ids. Two distinct
    /// values whose hashes collide are both kept, the second under an id of its own (correct,
    /// merely not shared). Made on the layer's first change ([`Segment::value_ids`]): a layer
    /// that is only read never holds it (at 1 M parcels, two distinct values each, 36 MB).
    value_ids: OnceLock<HashMap<u64, u32>>,
    /// (A delta) whether its features use a value the base uses once; the base's
    /// [`Values::single_from`] then no longer holds for the layer.
    reuses_base_single: bool,
    /// `levels[z]`, `None` outside the layer's zoom range.
    pub levels: Vec<Option<Level>>,
    /// Bounds of all features in Web Mercator.
    pub extent: Option<Rect<f64>>,
}

impl Segment {
    /// Builds a segment from features in the store's CRS, extending `base`'s values if given.
    ///
    /// The features are taken one at a time, as a store streams them, and each is turned
    /// straight into the flat arrays and a Web Mercator copy for the levels; so a layer of
    /// millions is never held as [`Feature`]s, whose allocations cost several times the arrays.
    fn build(
        def: &LayerDef,
        features: impl IntoIterator<Item = Feature>,
        to_mercator: &Transformer,
        base: Option<&Segment>,
    ) -> Result<Self, EngineError> {
        // In the order the features come; put in Hilbert order below.
        let mut order_keys: Vec<(u64, FeatureId)> = Vec::new();
        let mut mercator: Vec<geo_types::Geometry<f64>> = Vec::new();
        let mut boxes: Vec<Option<Rect<f64>>> = Vec::new();
        let mut wkb = Vec::new();
        let mut wkb_offsets: Vec<u64> = vec![0];
        let mut tags = Vec::new();
        let mut tag_offsets: Vec<u32> = vec![0];
        let mut values = ValueTable::new(base);
        for f in features {
            for (k, v) in f.attributes.iter().enumerate().take(def.attributes.len()) {
                if let Some(enc) = encode_value(v) {
                    tags.push((k as u16, values.id(enc)));
                }
            }
            tag_offsets.push(tags.len() as u32);
            write_wkb(&f.geometry, &mut wkb)?;
            wkb_offsets.push(wkb.len() as u64);
            boxes.push(f.geometry.bounding_rect());
            let mut g = f.geometry;
            to_mercator.geometry(&mut g)?;
            let key = g.bounding_rect().map_or(0, |r| hilbert_key(r.center().x, r.center().y));
            order_keys.push((key, f.id));
            mercator.push(g);
        }
        // Features near each other on the map sit near each other in memory, so a tile reads
        // a few runs of each array instead of jumping across the layer (the hot path is
        // bound by memory, not arithmetic).
        // Ties go by id, so the order depends on the features, not on how they came.
        let mut order: Vec<u32> = (0..order_keys.len() as u32).collect();
        order.sort_unstable_by_key(|&i| order_keys[i as usize]);
        let ids: Vec<u64> = order.iter().map(|&i| order_keys[i as usize].1 as u64).collect();
        drop(order_keys);
        let (wkb, wkb_offsets) = gather_runs(&wkb, &wkb_offsets, &order);
        let (mut tags, tag_offsets) = gather_runs(&tags, &tag_offsets, &order);
        let reuses_base_single = values.reuses_base_single;
        let mut values = values.values;
        values.renumber_by_use(&mut tags);
        permute(&mut mercator, &order);
        permute(&mut boxes, &order);
        let boxes = OnceLock::from(BoxIndex::new(boxes.into_iter()));
        let extent = union_rects(mercator.iter().filter_map(|g| g.bounding_rect()));
        let tags: Arc<[(u16, u32)]> = tags.into();
        let inputs = || {
            mercator.iter().enumerate().map(|(i, geometry)| LevelInput {
                geometry,
                tags: &tags[tag_offsets[i] as usize..tag_offsets[i + 1] as usize],
            })
        };
        let mut levels: Vec<Option<Level>> = (0..=def.maxzoom)
            .into_par_iter()
            .map(|z| {
                (z >= def.minzoom).then(|| {
                    let shared = SharedTags { tags: &tags, offsets: &tag_offsets };
                    Level::build(inputs(), z, z < def.maxzoom, def.label_points_at(z).is_some(), Some(shared))
                })
            })
            .collect();
        // From the highest zoom down, a level reads the coordinates of the nearest finer one
        // that keeps its own when its own would be nearly the same.
        let mut owner: Option<usize> = None;
        for z in (0..levels.len()).rev() {
            let (lower, upper) = levels.split_at_mut(z + 1);
            let Some(level) = lower[z].as_mut() else { continue };
            let finer = owner.and_then(|o| upper[o - z - 1].as_ref());
            if !finer.is_some_and(|finer| level.share_geometry(finer)) {
                owner = Some(z);
            }
        }
        Ok(Self {
            ids,
            wkb,
            wkb_offsets,
            tags,
            tag_offsets,
            boxes,
            text: Default::default(),
            values,
            value_ids: OnceLock::new(),
            reuses_base_single,
            levels,
            extent,
        })
    }

    /// Indices of the features whose bounding box meets `area` (in the store's CRS).
    pub fn in_box(&self, area: Rect<f64>) -> impl Iterator<Item = u32> + '_ {
        self.boxes().in_box(area)
    }

    /// The index of the features' bounding boxes (made now if the segment came from a
    /// snapshot and none has asked before).
    pub fn boxes(&self) -> &BoxIndex {
        self.boxes.get_or_init(|| BoxIndex::new((0..self.len() as u32).map(|i| self.geometry(i).bounding_rect())))
    }

    /// Value id by the hash of its encoding (see the field).
    fn value_ids(&self) -> &HashMap<u64, u32> {
        self.value_ids.get_or_init(|| {
            let mut ids = HashMap::with_capacity(self.values.len());
            for id in self.values.first..self.values.end() {
                ids.entry(xxhash_rust::xxh3::xxh3_64(self.values.get(id))).or_insert(id);
            }
            ids
        })
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

    /// Feature `i`'s geometry in the store's CRS.
    pub fn geometry(&self, i: u32) -> geo_types::Geometry<f64> {
        use geozero::wkb::FromWkb;
        let bytes = &self.wkb[self.wkb_offsets[i as usize] as usize..self.wkb_offsets[i as usize + 1] as usize];
        geo_types::Geometry::from_wkb(&mut &*bytes, geozero::wkb::WkbDialect::Wkb)
            .expect("the segment wrote this WKB itself")
    }

    /// Feature `i`'s attributes as (attribute index, value id).
    #[inline]
    pub fn tags_of(&self, i: u32) -> &[(u16, u32)] {
        &self.tags[self.tag_offsets[i as usize] as usize..self.tag_offsets[i as usize + 1] as usize]
    }

    /// Bytes held, by structure.
    fn footprint(&self) -> Footprint {
        use super::footprint::{map_bytes, vec_bytes};
        let mut footprint = Footprint {
            features: vec_bytes(&self.wkb) + vec_bytes(&self.wkb_offsets),
            index: self.boxes.get().map_or(0, BoxIndex::bytes) + vec_bytes(&self.ids),
            values: vec_bytes(&self.values.bytes)
                + vec_bytes(&self.values.offsets)
                + self.value_ids.get().map_or(0, map_bytes),
            ..Default::default()
        };
        // The attributes are the features' too, read by the levels that share them.
        footprint.features += std::mem::size_of_val(&*self.tags) as u64 + vec_bytes(&self.tag_offsets);
        for level in self.levels.iter().flatten() {
            let (geometry, tiles) = level.footprint();
            footprint.levels += geometry;
            footprint.tiles += tiles;
        }
        footprint
    }

    /// Writes the segment's arrays to a snapshot ([`super::snapshot`]); [`Segment::restore`]
    /// reads them back.
    pub(super) fn save<W: Write>(&self, w: &mut Writer<W>) -> Result<(), SnapshotError> {
        w.array(&self.ids)?;
        w.array(&self.wkb)?;
        w.array(&self.wkb_offsets)?;
        w.tags(&self.tags)?;
        w.array(&self.tag_offsets)?;
        w.array(&self.values.bytes)?;
        w.array(&self.values.offsets)?;
        w.u64(u64::from(self.values.first))?;
        w.u64(u64::from(self.values.single_from))?;
        let extent = self.extent.map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]);
        w.array(extent.as_ref().map_or(&[][..], |e| &e[..]))?;
        w.u64(self.levels.len() as u64)?;
        for level in &self.levels {
            w.u64(u64::from(level.is_some()))?;
            if let Some(level) = level {
                level.save(w)?;
            }
        }
        Ok(())
    }

    /// Reads what [`Segment::save`] wrote. Reads plain arrays only, so that damaged bytes fail
    /// here or at the checksum, never in use.
    pub(super) fn restore<R: Read>(r: &mut Reader<R>) -> Result<Self, SnapshotError> {
        let (ids, wkb, wkb_offsets) = (r.array()?, r.array()?, r.array()?);
        let tags = unpack_tags(r.array()?)?;
        let tag_offsets = r.array()?;
        let values = Values { bytes: r.array()?, offsets: r.array()?, first: r.u32()?, single_from: r.u32()? };
        let extent = match *r.array::<f64>()? {
            [] => None,
            [x0, y0, x1, y1] => Some(Rect::new((x0, y0), (x1, y1))),
            _ => return Err(SnapshotError::Corrupt("an extent is not four numbers".into())),
        };
        let count = r.u32()?;
        if count > u32::from(crate::tile::MAX_ZOOM) + 1 {
            return Err(SnapshotError::Corrupt(format!("{count} zoom levels")));
        }
        let mut levels = Vec::with_capacity(count as usize);
        for z in 0..count {
            levels.push(match r.u64()? {
                0 => None,
                1 => Some(Level::restore(r, z as u8, &tags)?),
                _ => return Err(SnapshotError::Corrupt("a level is neither there nor absent".into())),
            });
        }
        Level::link(&mut levels)?;
        Ok(Self {
            ids,
            wkb,
            wkb_offsets,
            tags,
            tag_offsets,
            boxes: OnceLock::new(),
            text: Default::default(),
            values,
            value_ids: OnceLock::new(),
            reuses_base_single: false,
            levels,
            extent,
        })
    }
}

/// Attribute values, each encoded as an MVT `Value` body, in one arena, numbered from `first`:
/// value `first + v` is `bytes[offsets[v]..offsets[v + 1]]`.
#[derive(Debug)]
struct Values {
    bytes: Vec<u8>,
    offsets: Vec<u32>,
    first: u32,
    /// Values from this id on are used once in the segment (by one attribute of one feature):
    /// a tile writes each without looking for it among those it already holds.
    single_from: u32,
}

impl Values {
    fn starting_at(first: u32) -> Self {
        Self { bytes: Vec::new(), offsets: vec![0], first, single_from: u32::MAX }
    }

    fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The number after the last value.
    fn end(&self) -> u32 {
        self.first + self.len() as u32
    }

    /// The encoded body of value `v`, one of these.
    #[inline]
    fn get(&self, v: u32) -> &[u8] {
        let i = (v - self.first) as usize;
        &self.bytes[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Adds a value; its number.
    fn push(&mut self, enc: &[u8]) -> u32 {
        self.bytes.extend_from_slice(enc);
        self.offsets.push(self.bytes.len() as u32);
        self.end() - 1
    }

    /// Numbers these values afresh, rewriting `tags` to match: first those used more than
    /// once, then those used once (from `single_from`), each in the order `tags` first uses
    /// them. Features near each other on the map (and so in a tile) then read values near each
    /// other, where the order of interning would scatter a tile's reads of distinct values
    /// (names, numbers) across the whole arena.
    fn renumber_by_use(&mut self, tags: &mut [(u16, u32)]) {
        let own = |v: &u32| *v >= self.first;
        let mut uses = vec![0u8; self.len()];
        for (_, v) in tags.iter().filter(|(_, v)| own(v)) {
            let u = &mut uses[(v - self.first) as usize];
            *u = u.saturating_add(1);
        }
        let shared_count = uses.iter().filter(|&&u| u > 1).count() as u32;
        let mut shared = Values::starting_at(self.first);
        let mut single = Values::starting_at(self.first + shared_count);
        shared.bytes.reserve_exact(self.bytes.len());
        shared.offsets.reserve_exact(self.offsets.len());
        let mut new_id = vec![u32::MAX; self.len()];
        for (_, v) in tags.iter_mut().filter(|(_, v)| own(v)) {
            let i = (*v - self.first) as usize;
            if new_id[i] == u32::MAX {
                let to = if uses[i] > 1 { &mut shared } else { &mut single };
                new_id[i] = to.push(self.get(*v));
            }
            *v = new_id[i];
        }
        debug_assert_eq!(shared.len() + single.len(), self.len(), "every value is some feature's");
        shared.single_from = shared.end();
        let at = shared.bytes.len() as u32;
        shared.bytes.extend_from_slice(&single.bytes);
        shared.offsets.extend(single.offsets[1..].iter().map(|o| at + o));
        *self = shared;
    }
}

/// Item runs (item `i`'s are `items[offsets[i]..offsets[i + 1]]`) copied in `order`, into
/// arrays of just their size.
fn gather_runs<T: Copy, O: Copy + TryFrom<usize> + Into<u64>>(
    items: &[T],
    offsets: &[O],
    order: &[u32],
) -> (Vec<T>, Vec<O>)
where
    <O as TryFrom<usize>>::Error: std::fmt::Debug,
{
    let run = |i: u32| offsets[i as usize].into() as usize..offsets[i as usize + 1].into() as usize;
    let mut out = Vec::with_capacity(items.len());
    let mut out_offsets = Vec::with_capacity(offsets.len());
    out_offsets.push(O::try_from(0).expect("zero fits"));
    for &i in order {
        out.extend_from_slice(&items[run(i)]);
        out_offsets.push(O::try_from(out.len()).expect("the runs fit their offsets as they came"));
    }
    (out, out_offsets)
}

/// Puts `v` in `order` in place (`v[k]` becomes the old `v[order[k]]`), following each cycle
/// of the permutation once: no second array of the elements.
fn permute<T>(v: &mut [T], order: &[u32]) {
    let mut done = vec![false; v.len()];
    for start in 0..v.len() {
        if done[start] {
            continue;
        }
        // Along the cycle, each slot takes its element from the next, `order[k]`.
        let mut k = start;
        loop {
            done[k] = true;
            let from = order[k] as usize;
            if from == start {
                break;
            }
            v.swap(k, from);
            k = from;
        }
    }
}

/// Appends `g` to `out` as WKB (2D).
fn write_wkb(g: &geo_types::Geometry<f64>, out: &mut Vec<u8>) -> Result<(), EngineError> {
    use geozero::GeozeroGeometry;
    let mut writer = geozero::wkb::WkbWriter::new(out, geozero::wkb::WkbDialect::Wkb);
    g.process_geom(&mut writer).map_err(|e| EngineError::Geometry(e.to_string()))
}

/// A segment's distinct attribute values as they are interned.
struct ValueTable<'a> {
    base: Option<&'a Segment>,
    values: Values,
    ids: HashMap<u64, u32>,
    /// Whether a value the base uses once was taken again.
    reuses_base_single: bool,
}

impl<'a> ValueTable<'a> {
    fn new(base: Option<&'a Segment>) -> Self {
        let first = base.map_or(0, |b| b.values.end());
        Self { base, values: Values::starting_at(first), ids: HashMap::new(), reuses_base_single: false }
    }

    /// The id of the value encoded as `enc`: the base's, an earlier one's, or a new one.
    fn id(&mut self, enc: Vec<u8>) -> u32 {
        let hash = xxhash_rust::xxh3::xxh3_64(&enc);
        if let Some(b) = self.base
            && let Some(&id) = b.value_ids().get(&hash)
            && b.values.get(id) == enc
        {
            self.reuses_base_single |= id >= b.values.single_from;
            return id;
        }
        if let Some(&id) = self.ids.get(&hash)
            && self.values.get(id) == enc
        {
            return id;
        }
        let id = self.values.push(&enc);
        self.ids.entry(hash).or_insert(id);
        id
    }
}

/// Where a feature is: in the delta segment or the base, at this index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub delta: bool,
    pub index: u32,
}

/// One version of a layer's features, ready for tile rendering.
#[derive(Debug)]
pub struct LayerData {
    pub def: LayerDef,
    pub geom_type: GeomType,
    base: Arc<Segment>,
    /// Base feature indices in order of id (for lookups by id, by binary search).
    base_by_id: Arc<[u32]>,
    /// Bit `i` is set when base feature `i` has been replaced or deleted.
    removed: Vec<u64>,
    removed_count: usize,
    delta: Segment,
    /// Bounds of all features as `[west, south, east, north]` in degrees.
    pub bounds: Option<[f64; 4]>,
    /// Every live feature, by ascending id: made on first use (paging).
    by_id: std::sync::OnceLock<Vec<Slot>>,
    /// Features' geometries as GeoJSON in CRS84, made when asked for and kept within a bound
    /// (query answers show the same city boundary or parcel again and again).
    crs84: std::sync::OnceLock<moka::sync::Cache<FeatureId, Arc<RawValue>>>,
}

/// The most bytes of CRS84 GeoJSON a version of a layer keeps ([`LayerData::crs84_json`]).
const CRS84_CACHE_BYTES: u64 = 16 << 20;

/// What [`LayerData::apply`] made: the next version and where on the map it differs.
pub struct Applied {
    pub data: LayerData,
    /// Web Mercator bounds of every changed feature, before and after the change.
    pub changed: Vec<Rect<f64>>,
}

impl LayerData {
    /// Builds the layer from features in `store_crs`.
    pub fn build(
        def: LayerDef,
        features: impl IntoIterator<Item = Feature>,
        store_crs: Epsg,
    ) -> Result<Self, EngineError> {
        let to_mercator = Transformer::new(store_crs, Epsg::WEB_MERCATOR)?;
        let base = Segment::build(&def, features, &to_mercator, None)?;
        Self::from_base(def, base, &to_mercator)
    }

    /// Makes the spatial index now if it is not there yet (a layer read from a snapshot).
    pub fn index(&self) {
        self.base.boxes();
    }

    /// The layer from a segment a snapshot held ([`super::snapshot::read`]).
    pub(super) fn from_snapshot(def: LayerDef, base: Segment, store_crs: Epsg) -> Result<Self, EngineError> {
        Self::from_base(def, base, &Transformer::new(store_crs, Epsg::WEB_MERCATOR)?)
    }

    /// Writes the layer to a snapshot: only as built, with no changes applied since (those
    /// would need the mask and the delta, and a snapshot is of a store version anyway).
    pub(super) fn save<W: Write>(&self, w: &mut Writer<W>) -> Result<(), SnapshotError> {
        if self.removed_count > 0 || !self.delta.is_empty() {
            return Err(SnapshotError::Changed);
        }
        self.base.save(w)
    }

    fn from_base(def: LayerDef, base: Segment, to_mercator: &Transformer) -> Result<Self, EngineError> {
        let mut base_by_id: Vec<u32> = (0..base.len() as u32).collect();
        base_by_id.sort_unstable_by_key(|&i| base.ids[i as usize]);
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
            base_by_id: base_by_id.into(),
            removed,
            removed_count: 0,
            delta,
            bounds,
            by_id: Default::default(),
            crs84: Default::default(),
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
        let mercator_rect = |g: &geo_types::Geometry<f64>| -> Result<Option<Rect<f64>>, EngineError> {
            let mut g = g.clone();
            to_mercator.geometry(&mut g)?;
            Ok(g.bounding_rect())
        };
        let mut changed = Vec::new();
        let mut removed = self.removed.clone();
        let mut removed_count = self.removed_count;
        let mut delta: IndexMap<u64, Feature> =
            (0..self.delta.len() as u32).map(|i| (self.delta.ids[i as usize], self.decode(&self.delta, i))).collect();
        for id in deletes.iter().chain(upserts.iter().map(|f| &f.id)).map(|&id| id as u64) {
            if let Some(i) = self.base_index(id) {
                let (word, bit) = (i as usize / 64, 1u64 << (i % 64));
                if removed[word] & bit == 0 {
                    removed[word] |= bit;
                    removed_count += 1;
                    changed.extend(mercator_rect(&self.base.geometry(i))?);
                }
            }
            if let Some(old) = delta.shift_remove(&id) {
                changed.extend(mercator_rect(&old.geometry)?);
            }
        }
        for f in upserts {
            changed.extend(mercator_rect(&f.geometry)?);
            delta.insert(f.id as u64, f);
        }
        let data = if delta.len() > COMPACT_MIN.max(self.base.len() / COMPACT_FRACTION) {
            // Merge: every live base feature plus the delta becomes the new base.
            let live = (0..self.base.len() as u32).filter(|&i| !is_masked(&removed, i));
            let all = live.map(|i| self.decode(&self.base, i)).chain(delta.into_values());
            Self::from_base(self.def.clone(), Segment::build(&self.def, all, to_mercator, None)?, to_mercator)?
        } else {
            let delta = Segment::build(&self.def, delta.into_values(), to_mercator, Some(&self.base))?;
            let bounds = union_rects(self.base.extent.into_iter().chain(delta.extent)).map(lonlat_bounds);
            Self {
                def: self.def.clone(),
                geom_type: self.geom_type,
                base: self.base.clone(),
                base_by_id: self.base_by_id.clone(),
                removed,
                removed_count,
                delta,
                bounds,
                by_id: Default::default(),
                crs84: Default::default(),
            }
        };
        Ok(Applied { data, changed })
    }

    /// The base feature index of `id`, replaced or not.
    fn base_index(&self, id: u64) -> Option<u32> {
        let ids = &self.base.ids;
        let k = self.base_by_id.partition_point(|&i| ids[i as usize] < id);
        self.base_by_id.get(k).copied().filter(|&i| ids[i as usize] == id)
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
    /// nothing was removed), then the delta; each with the first of its value ids that only
    /// one attribute of one feature of the layer uses (so a tile holds each at most once).
    pub fn segments(&self) -> [(&Segment, Option<&[u64]>, u32); 2] {
        let mask = (self.removed_count > 0).then_some(self.removed.as_slice());
        let base_single = if self.delta.reuses_base_single { u32::MAX } else { self.base.values.single_from };
        [(&self.base, mask, base_single), (&self.delta, None, self.delta.values.single_from)]
    }

    /// Number of distinct attribute values, base and delta.
    pub fn value_count(&self) -> usize {
        self.base.values.len() + self.delta.values.len()
    }

    /// The encoded MVT `Value` body of value `v`.
    #[inline]
    pub fn value(&self, v: u32) -> &[u8] {
        if v < self.delta.values.first { self.base.values.get(v) } else { self.delta.values.get(v) }
    }

    fn segment(&self, delta: bool) -> &Segment {
        if delta { &self.delta } else { &self.base }
    }

    /// The feature in `slot`, decoded.
    pub fn feature(&self, slot: Slot) -> Feature {
        self.decode(self.segment(slot.delta), slot.index)
    }

    /// Feature `i` of `segment` (this layer's), decoded.
    fn decode(&self, segment: &Segment, i: u32) -> Feature {
        Feature {
            id: segment.ids[i as usize] as FeatureId,
            geometry: segment.geometry(i),
            attributes: self.attributes(segment, i),
        }
    }

    /// Feature `i`'s attribute values of `segment` (this layer's), in schema order.
    fn attributes(&self, segment: &Segment, i: u32) -> Vec<crate::feature::AttrValue> {
        let mut values = vec![crate::feature::AttrValue::Null; self.def.attributes.len()];
        for &(k, v) in segment.tags_of(i) {
            values[usize::from(k)] = decode_value(self.value(v));
        }
        values
    }

    /// The text of attribute `attr` of the feature in `slot`, read in place ("" when it is
    /// not text).
    pub fn text(&self, slot: Slot, attr: usize) -> &str {
        let segment = self.segment(slot.delta);
        let tag = segment.tags_of(slot.index).iter().find(|&&(k, _)| usize::from(k) == attr);
        tag.and_then(|&(_, v)| crate::tile::mvt::value_text(self.value(v))).unwrap_or("")
    }

    /// Every live feature's text in attribute `attr`, read in place (features where it is not
    /// text are left out).
    pub fn texts(&self, attr: usize) -> impl Iterator<Item = &str> + '_ {
        self.slots().map(move |s| self.text(s, attr)).filter(|t| !t.is_empty())
    }

    /// The id of the feature in `slot`.
    pub fn id(&self, slot: Slot) -> FeatureId {
        self.segment(slot.delta).ids[slot.index as usize] as FeatureId
    }

    /// Every live feature's slot: the base's that were not replaced, then the delta's.
    fn slots(&self) -> impl Iterator<Item = Slot> + '_ {
        let base = (0..self.base.len() as u32).filter(|&i| !is_masked(&self.removed, i));
        let base = base.map(|index| Slot { delta: false, index });
        base.chain((0..self.delta.len() as u32).map(|index| Slot { delta: true, index }))
    }

    /// Every feature in the store's CRS, decoded as it is reached.
    pub fn features(&self) -> impl Iterator<Item = Feature> + '_ {
        self.slots().map(|s| self.feature(s))
    }

    /// Every feature's slot, by ascending id (the order is made once per version of the layer).
    pub fn slots_by_id(&self) -> &[Slot] {
        self.by_id.get_or_init(|| {
            let mut order: Vec<Slot> = self.slots().collect();
            order.sort_unstable_by_key(|&s| self.id(s));
            order
        })
    }

    /// Every feature by ascending id, decoded as it is reached.
    pub fn features_by_id(&self) -> impl Iterator<Item = Feature> + '_ {
        self.slots_by_id().iter().map(|&s| self.feature(s))
    }

    /// `f`'s geometry as GeoJSON in CRS84, made by `make` the first time this version of the
    /// layer is asked for it and kept while the cache has room (a failure is not kept). `f`
    /// must be one of this layer's features.
    pub fn crs84_json<E>(
        &self,
        f: &Feature,
        make: impl FnOnce() -> Result<Box<RawValue>, E>,
    ) -> Result<Arc<RawValue>, E> {
        let cache = self.crs84.get_or_init(|| {
            moka::sync::Cache::builder()
                .max_capacity(CRS84_CACHE_BYTES)
                .weigher(|_, json: &Arc<RawValue>| json.get().len().try_into().unwrap_or(u32::MAX))
                .build()
        });
        if let Some(json) = cache.get(&f.id) {
            return Ok(json);
        }
        let json: Arc<RawValue> = make()?.into();
        cache.insert(f.id, json.clone());
        Ok(json)
    }

    /// Each segment's text index (made on first use), whether it is the delta, and the mask of
    /// its removed features.
    pub fn text_indexes(&self) -> [TextSegment<'_>; 2] {
        [(false, &*self.base), (true, &self.delta)].map(|(delta, s)| {
            let index =
                s.text.get_or_init(|| TextIndex::build(&self.def, (0..s.len() as u32).map(|i| self.attributes(s, i))));
            let mask = (!delta && self.removed_count > 0).then_some(self.removed.as_slice());
            (index, delta, mask)
        })
    }

    /// The feature with this id.
    pub fn get(&self, id: FeatureId) -> Option<Feature> {
        self.slot_of(id).map(|s| self.feature(s))
    }

    /// Where the feature with this id is.
    pub fn slot_of(&self, id: FeatureId) -> Option<Slot> {
        match self.base_index(id as u64) {
            Some(index) if !is_masked(&self.removed, index) => Some(Slot { delta: false, index }),
            _ => {
                let index = self.delta.ids.iter().position(|&d| d == id as u64)?;
                Some(Slot { delta: true, index: index as u32 })
            }
        }
    }

    /// The slots of the features whose bounding box meets `area` (in the store's CRS), by R-tree.
    pub fn in_box(&self, area: Rect<f64>) -> impl Iterator<Item = Slot> + '_ {
        let base = self.base.in_box(area).filter(|&i| !is_masked(&self.removed, i));
        let base = base.map(|index| Slot { delta: false, index });
        base.chain(self.delta.in_box(area).map(|index| Slot { delta: true, index }))
    }

    /// Visits the features in order of their bounding box's distance from `p` (in the store's
    /// CRS), with that distance (a lower bound of the distance to the feature itself), until
    /// `visit` breaks: the base's, then the delta's. So a search that stops once the bound
    /// passes its worst answer so far is exact over both.
    pub fn visit_by_box_distance(&self, p: [f64; 2], mut visit: impl FnMut(Slot, f64) -> ControlFlow<()>) {
        self.base.boxes().visit_nearest(p, |index, d| {
            if self.removed_count > 0 && is_masked(&self.removed, index) {
                return ControlFlow::Continue(());
            }
            visit(Slot { delta: false, index }, d)
        });
        self.delta.boxes().visit_nearest(p, |index, d| visit(Slot { delta: true, index }, d));
    }

    /// Bytes this version of the layer holds, by structure (a base shared with the previous
    /// version is counted in full).
    pub fn footprint(&self) -> Footprint {
        use super::footprint::vec_bytes;
        let mut footprint = self.base.footprint();
        footprint += self.delta.footprint();
        footprint.index += (std::mem::size_of_val(&*self.base_by_id) as u64)
            + vec_bytes(&self.removed)
            + self.by_id.get().map_or(0, vec_bytes);
        footprint.features += self.crs84.get().map_or(0, |c| c.weighted_size());
        footprint
    }

    /// Number of features changed since the base was built (for metrics and tests).
    pub fn delta_len(&self) -> usize {
        self.delta.len()
    }
}

/// A segment's text index, whether it is the delta, and the mask of its removed features.
pub type TextSegment<'a> = (&'a TextIndex, bool, Option<&'a [u64]>);

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::feature::AttrValue;
    use geo_types::{Geometry, MultiPolygon, Polygon, line_string, polygon};

    fn parcels() -> LayerDef {
        Catalog::builtin().get("parcels").unwrap().clone()
    }

    /// Feature `id`: a square at `x` (a multipolygon with a holed part for odd ids), with a
    /// 地番, a shared 地目, an area, and nulls elsewhere.
    fn parcel(def: &LayerDef, id: i64, x: f64) -> Feature {
        let square = |x: f64, side: f64| -> Polygon<f64> {
            polygon![(x: x, y: 0.0), (x: x + side, y: 0.0), (x: x + side, y: side), (x: x, y: side), (x: x, y: 0.0)]
        };
        let geometry = if id % 2 == 0 {
            Geometry::Polygon(square(x, 20.0))
        } else {
            let holed = Polygon::new(
                square(x, 20.0).exterior().clone(),
                vec![
                    line_string![(x: x + 5.0, y: 5.0), (x: x + 6.0, y: 5.0), (x: x + 6.0, y: 6.0), (x: x + 5.0, y: 5.0)],
                ],
            );
            Geometry::MultiPolygon(MultiPolygon(vec![holed, square(x + 0.123_456_789, 1.5)]))
        };
        let mut attributes = vec![AttrValue::Null; def.attributes.len()];
        let at = |name| def.attribute_index(name).unwrap();
        attributes[at("chiban")] = AttrValue::text(format!("{id}-1"));
        attributes[at("chimoku")] = AttrValue::text(if id % 3 == 0 { "宅地" } else { "田" });
        attributes[at("area_m2")] = AttrValue::Real(id as f64 * 1.25);
        Feature { id, geometry, attributes }
    }

    /// The segment's own values are numbered those used more than once first, then those used
    /// once, each in the order its features first use them.
    fn assert_numbered_by_use(segment: &Segment) {
        let values = &segment.values;
        let own: Vec<u32> = segment.tags.iter().map(|t| t.1).filter(|&v| v >= values.first).collect();
        let (mut next_shared, mut next_single) = (values.first, values.single_from);
        for &v in &own {
            let uses = own.iter().filter(|&&w| w == v).count();
            let next = if v < values.single_from { &mut next_shared } else { &mut next_single };
            assert_eq!(uses > 1, v < values.single_from, "value {v} is used {uses} times");
            assert!(v <= *next, "value {v} used before {next}");
            *next += u32::from(v == *next);
        }
        assert_eq!((next_shared, next_single), (values.single_from, values.end()));
    }

    #[test]
    fn permuting_in_place_matches_gathering() {
        // k ↦ 31k + 5 (mod 97): every element moves but one.
        let order: Vec<u32> = (0..97u32).map(|k| (k * 31 + 5) % 97).collect();
        let items: Vec<u32> = (0..97).map(|i| i * 10).collect();
        let mut permuted = items.clone();
        permute(&mut permuted, &order);
        let gathered: Vec<u32> = order.iter().map(|&i| items[i as usize]).collect();
        assert_eq!(permuted, gathered);
        // Runs of different lengths keep their items, in the new order.
        let offsets: Vec<u32> = (0..=97).map(|i| i * (i + 1) / 2).collect();
        let runs: Vec<u32> = (0..97).flat_map(|i| std::iter::repeat_n(i, i as usize + 1)).collect();
        let (out, out_offsets) = gather_runs(&runs, &offsets, &order);
        for (k, &i) in order.iter().enumerate() {
            let run = &out[out_offsets[k] as usize..out_offsets[k + 1] as usize];
            assert_eq!(run, vec![i; i as usize + 1].as_slice());
        }
    }

    #[test]
    fn features_come_back_exactly_as_they_went_in_through_base_delta_and_merge() {
        let def = parcels();
        let features: Vec<Feature> = (1..=40).map(|i| parcel(&def, i, i as f64 * 30.0)).collect();
        // Given backwards, so that putting them in order moves every one.
        let layer = LayerData::build(def.clone(), features.iter().rev().cloned(), Epsg::JGD2011_ZONE_X).unwrap();
        let mut by_id: Vec<Feature> = layer.features_by_id().collect();
        assert_eq!(by_id, features);
        // Each distinct value is kept once: 40 地番, 2 地目, 40 areas.
        assert_eq!(layer.value_count(), 82);
        assert_numbered_by_use(&layer.base);
        let chimoku = def.attribute_index("chimoku").unwrap();
        let slot = layer.slot_of(9).unwrap();
        assert_eq!((layer.id(slot), layer.text(slot, chimoku)), (9, "宅地"));

        // A change lands in the delta, which reuses the base's values.
        let mut moved = parcel(&def, 7, 5_000.0);
        moved.attributes[chimoku] = AttrValue::text("宅地");
        let added = parcel(&def, 100, 9_000.0);
        let next = layer.apply(vec![moved.clone(), added.clone()], &[3], Epsg::JGD2011_ZONE_X).unwrap().data;
        assert_eq!(next.delta_len(), 2);
        assert_eq!(next.value_count(), 82 + 2, "100's 地番 and area are new; 7's values are all the base's");
        assert_numbered_by_use(&next.delta);
        by_id.retain(|f| f.id != 3 && f.id != 7);
        by_id.extend([moved.clone(), added]);
        by_id.sort_by_key(|f| f.id);
        assert_eq!(next.features_by_id().collect::<Vec<_>>(), by_id);
        assert_eq!(next.get(7), Some(moved));
        assert_eq!(next.get(3), None);

        // Enough changes merge the delta into a new base with the same features.
        let many: Vec<Feature> =
            (1000..1000 + COMPACT_MIN as i64 + 1).map(|i| parcel(&def, i, i as f64 * 30.0)).collect();
        let merged = next.apply(many.clone(), &[], Epsg::JGD2011_ZONE_X).unwrap().data;
        assert_eq!(merged.delta_len(), 0);
        by_id.extend(many);
        assert_eq!(merged.features_by_id().collect::<Vec<_>>(), by_id);
    }
}
