//! One zoom level of one layer: geometry generalised and quantised for that zoom, and the list
//! of features each tile draws.
//!
//! Built once at load, the way offline tile generators work: every feature is scaled into
//! world extent space at zoom `z` ([`crate::tile::coord`]), simplified there (Douglas–Peucker
//! with a tolerance in extent units), rounded to integers with repeated points removed, and
//! dropped when it is smaller than a pixel. Each kept feature's geometry is also encoded once
//! as MVT commands, and its id and attributes are copied next to it, so that a tile reads one
//! forward run through the level's own arrays (the hot path is bound by memory reads, and a
//! thinned level keeps features far apart in the layer's arrays). A tile request then only
//! moves the first point of a feature wholly inside it to the tile origin and copies the rest;
//! features crossing the tile edge are clipped and encoded afresh.
//!
//! Where generalising for a zoom would change almost nothing (parcels and buildings between
//! z14 and z18), a level reads the coordinates of the next finer level instead of keeping its
//! own, halved to its zoom as they are read ([`Level::share_geometry`]).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Arc;

use geo::{BoundingRect, Simplify};
use geo_types::{Coord, Geometry, LineString};

use super::render::{ClipBuffers, write_parts};
use super::snapshot::{Reader, SnapshotError, Writer, unpack_tags};
use crate::tile::coord::MERCATOR_HALF;
use crate::tile::coord::world_scale;
use crate::tile::mvt::LayerBuilder;

/// Douglas–Peucker tolerance, in extent units (4096 per tile; MapLibre draws a tile 512 px wide,
/// so 2 units are a quarter of a pixel).
pub const SIMPLIFY_TOLERANCE: f64 = 2.0;

/// Lines and polygons whose bounding box is smaller than this on both axes (in extent units;
/// 8 units are one pixel) are dropped at that zoom.
pub const MIN_FEATURE_SIZE: f64 = 8.0;

/// The most one layer may put in any tile of a level, by estimate. Denser levels drop their
/// smallest lines and polygons at build time — the same size limit for the whole level, so
/// that neighbouring tiles agree — so that a tile request never reads far more than it can
/// send. (The render's [`super::render::Thinning`] remains the hard limit per tile.)
pub const LEVEL_TILE_BUDGET: u64 = 160 * 1024;

/// The role of one run of coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    Exterior,
    Interior,
    Line,
    Points,
    /// One point where the feature's label goes (polygon layers with a label): never drawn as
    /// geometry, written to the label layer by the tile that holds it.
    Label,
}

/// A run of coordinates in a level's coordinate arena.
#[derive(Debug, Clone, Copy)]
pub struct Part {
    pub start: u32,
    pub len: u32,
    pub kind: PartKind,
}

/// A feature as kept at one zoom level.
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct LevelFeature {
    /// Index of the feature in its segment (whose `ids` hold its id).
    pub feature: u32,
    pub parts_start: u32,
    pub parts_len: u32,
    /// Its attributes: a run of the level's `tags` (its own, or the segment's when shared).
    tags_start: u32,
    tags_len: u32,
    /// Bounding box in world extent space, at the zoom of the level that made the record
    /// ([`Level::bounds`] gives it at the level's own).
    min: [i32; 2],
    max: [i32; 2],
}

/// What a level is built from, per feature: geometry in Web Mercator and attributes as
/// (attribute index, value id).
pub struct LevelInput<'a> {
    pub geometry: &'a Geometry<f64>,
    pub tags: &'a [(u16, u32)],
}

/// A segment's attributes, all features' in feature order, that levels keeping (nearly) every
/// feature read instead of a copy of their own: feature `i`'s are
/// `tags[offsets[i]..offsets[i + 1]]`.
pub struct SharedTags<'a> {
    pub tags: &'a Arc<[(u16, u32)]>,
    pub offsets: &'a [u32],
}

/// A level shares its segment's tags when it keeps at least this share of the features: then
/// its features are (nearly) the segment's, in the same order, and a tile reads the shared
/// array as one forward run, as it would its own. A thinned level, whose features lie far apart
/// in the segment, keeps a compact copy.
const SHARE_TAGS_ABOVE: f64 = 0.9;

/// Generalised coordinates in world extent space, in runs ([`Part`]).
#[derive(Debug, Default)]
pub struct LevelGeometry {
    pub parts: Vec<Part>,
    pub coords: Vec<[i32; 2]>,
}

/// A level reads the coordinates of the next finer level that has its own instead of keeping
/// its own when generalising for its zoom keeps at least this share of them: simplifying
/// parcels or buildings for one zoom less changes almost nothing, and each copy would cost the
/// coordinates again.
const SHARE_GEOMETRY_ABOVE: f64 = 0.9;

/// All features of a layer kept at zoom `z`.
#[derive(Debug)]
pub struct Level {
    pub z: u8,
    /// Lines and polygons smaller than this (extent units) were dropped to keep within
    /// [`LEVEL_TILE_BUDGET`] (0: none beyond [`MIN_FEATURE_SIZE`]).
    pub min_size: u32,
    /// The features it keeps: its own records, or those of the finer level whose coordinates
    /// it reads when it keeps exactly the same features (`features_shared`).
    pub features: Arc<Vec<LevelFeature>>,
    /// Whether `features` (and then `tags`) are the finer level's: their bounding boxes are
    /// that level's, halved to this zoom as they are read ([`Level::bounds`]).
    pub features_shared: bool,
    /// The coordinate runs the features' parts index: the level's own, or those of the finer
    /// level it reads ([`Level::share_geometry`]).
    geometry: Arc<LevelGeometry>,
    /// How many zooms finer `geometry` is (0 when it is the level's own): its coordinates are
    /// halved this many times, rounded ([`shifted`]), where they are used.
    pub shift: u8,
    tags: Arc<[(u16, u32)]>,
    /// Whether `tags` is the segment's ([`SharedTags`]) rather than the level's own.
    pub tags_shared: bool,
    /// MVT geometry commands of each feature, whole, in world extent space, the first point
    /// relative to the minimum corner of the feature's bounds ([`Level::encoded_of`]):
    /// feature `i`'s are `encoded[geom_offsets[i]..geom_offsets[i + 1]]`.
    encoded: Vec<u8>,
    geom_offsets: Vec<u32>,
    /// Per tile, the features it must draw.
    pub tiles: TileIndex,
}

/// Feature indices per tile of a level: each feature is listed under every tile whose square,
/// widened by the render buffer, its bounding box meets — in feature (Hilbert) order, so a tile
/// reads its features as one forward run through memory.
#[derive(Debug, Default)]
pub struct TileIndex {
    /// `(x << 32) | y` → range of `entries`.
    ranges: HashMap<u64, (u32, u32)>,
    entries: Vec<u32>,
}

impl TileIndex {
    fn build(level: &Level) -> Self {
        let mut pairs: Vec<(u64, u32)> = Vec::with_capacity(level.features.len() * 3 / 2);
        for (i, f) in level.features.iter().enumerate() {
            let (min, max) = level.bounds(f);
            let (xs, ys) = covered_tiles(min, max, level.z);
            for x in xs {
                for y in ys.clone() {
                    pairs.push(((u64::from(x) << 32) | u64::from(y), i as u32));
                }
            }
        }
        pairs.sort_unstable();
        let mut ranges = HashMap::new();
        let mut start = 0;
        for (i, pair) in pairs.iter().enumerate() {
            if pairs.get(i + 1).is_none_or(|next| next.0 != pair.0) {
                ranges.insert(pair.0, (start as u32, (i + 1) as u32));
                start = i + 1;
            }
        }
        // Not collected in place: that would keep the pairs' buffer, four times the entries'.
        let mut entries = Vec::with_capacity(pairs.len());
        entries.extend(pairs.iter().map(|&(_, i)| i));
        ranges.shrink_to_fit();
        Self { ranges, entries }
    }

    /// Every tile's list of features.
    fn lists(&self) -> impl Iterator<Item = &[u32]> {
        self.ranges.values().map(|&(a, b)| &self.entries[a as usize..b as usize])
    }

    /// The features tile `(x, y)` draws, by index into the level's features.
    #[inline]
    pub fn get(&self, x: u32, y: u32) -> &[u32] {
        self.ranges
            .get(&((u64::from(x) << 32) | u64::from(y)))
            .map_or(&[], |&(a, b)| &self.entries[a as usize..b as usize])
    }
}

/// The tile columns and rows at zoom `z` whose squares, widened by the render buffer, a
/// feature's bounding box meets.
fn covered_tiles(
    min: [i32; 2],
    max: [i32; 2],
    z: u8,
) -> (std::ops::RangeInclusive<u32>, std::ops::RangeInclusive<u32>) {
    let margin = i64::from(super::render::BUFFER);
    let last = (1i64 << z) - 1;
    let tile = |v: i64| v.div_euclid(i64::from(crate::tile::EXTENT)).clamp(0, last) as u32;
    (
        tile(i64::from(min[0]) - margin)..=tile(i64::from(max[0]) + margin),
        tile(i64::from(min[1]) - margin)..=tile(i64::from(max[1]) + margin),
    )
}

impl Level {
    /// Generalises `geometries` (Web Mercator metres, indexed by feature) for zoom `z`.
    /// `simplify` is false at a layer's highest zoom, where clients overzoom and want every
    /// vertex. With `labels`, each polygon also gets a label point ([`PartKind::Label`]). With
    /// `shared`, a level that keeps nearly every feature reads the segment's tags.
    pub fn build<'a>(
        features: impl IntoIterator<Item = LevelInput<'a>>,
        z: u8,
        simplify: bool,
        labels: bool,
        shared: Option<SharedTags>,
    ) -> Self {
        let mut b = LevelBuilder {
            level: Level {
                z,
                min_size: 0,
                features: Default::default(),
                features_shared: false,
                geometry: Default::default(),
                shift: 0,
                tags: Arc::new([]),
                tags_shared: false,
                encoded: Vec::new(),
                geom_offsets: vec![0],
                tiles: TileIndex::default(),
            },
            geometry: LevelGeometry::default(),
            tags: Vec::new(),
            copy_tags: shared.is_none(),
            scale: world_scale(z),
            tolerance: if simplify { SIMPLIFY_TOLERANCE } else { 0.0 },
            labels,
            scratch: Vec::new(),
            encoder: LayerBuilder::new(),
            clip: ClipBuffers::default(),
        };
        let mut inputs = 0;
        for (i, input) in features.into_iter().enumerate() {
            b.add(i as u32, &input);
            inputs += 1;
        }
        let (mut level, mut geometry, own_tags) = (b.level, b.geometry, b.tags);
        // The arrays grew by doubling: up to half of each would be slack, kept for good.
        geometry.parts.shrink_to_fit();
        geometry.coords.shrink_to_fit();
        level.geometry = Arc::new(geometry);
        level.tiles = TileIndex::build(&level);
        let thinned = level.thin_to_budget(LEVEL_TILE_BUDGET);
        if thinned {
            level.tiles = TileIndex::build(&level);
        }
        // With a shared array, the tags were not copied as features came: the level reads it,
        // or copies the runs of the features it kept.
        level.tags = match shared {
            Some(shared) if level.features.len() as f64 >= SHARE_TAGS_ABOVE * f64::from(inputs) => {
                for f in Arc::make_mut(&mut level.features) {
                    f.tags_start = shared.offsets[f.feature as usize];
                }
                level.tags_shared = true;
                shared.tags.clone()
            }
            Some(shared) => gather_tags(Arc::make_mut(&mut level.features).as_mut_slice(), shared.tags, |f| {
                shared.offsets[f.feature as usize]
            }),
            None if thinned => {
                gather_tags(Arc::make_mut(&mut level.features).as_mut_slice(), &own_tags, |f| f.tags_start)
            }
            None => own_tags.into(),
        };
        Arc::make_mut(&mut level.features).shrink_to_fit();
        level.encoded.shrink_to_fit();
        level.geom_offsets.shrink_to_fit();
        level
    }

    /// Drops the smallest lines and polygons of the whole level until no tile holds more than
    /// `budget` bytes by estimate (3 bytes a coordinate, 3 a part, 12 a feature; clipping makes
    /// what crosses a tile edge smaller, so this errs on the safe side). The size limit is the
    /// largest any tile needs, applied to the whole level so that neighbouring tiles agree.
    /// Reads the tile index; returns whether features were dropped (the index is then stale, and
    /// the features' tags runs point where they were).
    fn thin_to_budget(&mut self, budget: u64) -> bool {
        let estimate = |f: &LevelFeature| 12 + self.parts_of(f).iter().map(|p| 3 + 3 * u64::from(p.len)).sum::<u64>();
        let bytes: Vec<u64> = self.features.iter().map(estimate).collect();
        if bytes.iter().sum::<u64>() <= budget {
            return false; // not even all of it in one tile would be too much
        }
        // Per tile over budget: (size, estimated bytes) of its lines and polygons, largest first;
        // the first size that no longer fits, and all below it, go.
        let mut min_size = 0;
        let mut list: Vec<(u32, u64)> = Vec::new();
        for entries in self.tiles.lists() {
            if entries.iter().map(|&i| bytes[i as usize]).sum::<u64>() <= budget {
                continue;
            }
            list.clear();
            // Points (size 0) are thinned by id at render time, not here.
            list.extend(
                entries
                    .iter()
                    .map(|&i| (self.size(&self.features[i as usize]), bytes[i as usize]))
                    .filter(|&(s, _)| s > 0),
            );
            list.sort_unstable_by_key(|&(size, _)| std::cmp::Reverse(size));
            let mut kept = 0u64;
            for &(size, b) in &list {
                kept += b;
                if kept > budget {
                    min_size = min_size.max(size + 1);
                    break;
                }
            }
        }
        if min_size == 0 {
            return false;
        }
        // Keep what survives, compacting the arenas.
        let (mut features, mut geometry) = (Vec::new(), LevelGeometry::default());
        let (mut encoded, mut geom_offsets) = (Vec::new(), vec![0]);
        for (i, f) in self.features.iter().enumerate() {
            let size = self.size(f);
            if size != 0 && size < min_size {
                continue;
            }
            let parts_start = geometry.parts.len() as u32;
            for p in self.parts_of(f) {
                geometry.parts.push(Part { start: geometry.coords.len() as u32, len: p.len, kind: p.kind });
                geometry.coords.extend_from_slice(self.own_coords(p));
            }
            encoded.extend_from_slice(self.encoded_of(i as u32));
            geom_offsets.push(encoded.len() as u32);
            features.push(LevelFeature { parts_start, ..*f });
        }
        self.min_size = min_size;
        (self.features, self.encoded, self.geom_offsets) = (Arc::new(features), encoded, geom_offsets);
        self.geometry = Arc::new(geometry);
        true
    }

    /// Bytes held: (geometry, commands and attributes; the tile index). Coordinates read from
    /// a finer level are counted there.
    pub fn footprint(&self) -> (u64, u64) {
        use super::footprint::{map_bytes, vec_bytes};
        let geometry = &self.geometry;
        let level = if self.features_shared { 0 } else { vec_bytes(&self.features) }
            + if self.shift > 0 { 0 } else { vec_bytes(&geometry.parts) + vec_bytes(&geometry.coords) }
            + if self.tags_shared || self.features_shared { 0 } else { std::mem::size_of_val(&*self.tags) as u64 }
            + vec_bytes(&self.encoded)
            + vec_bytes(&self.geom_offsets);
        (level, map_bytes(&self.tiles.ranges) + vec_bytes(&self.tiles.entries))
    }

    pub fn parts_of(&self, f: &LevelFeature) -> &[Part] {
        &self.geometry.parts[f.parts_start as usize..(f.parts_start + f.parts_len) as usize]
    }

    /// A part's coordinates as stored, at `z + shift` ([`shifted`] brings them to `z`).
    pub fn own_coords(&self, p: &Part) -> &[[i32; 2]] {
        &self.geometry.coords[p.start as usize..(p.start + p.len) as usize]
    }

    /// The feature's parts with their coordinates as stored, at `z + shift`.
    #[inline]
    pub fn stored_parts(&self, f: &LevelFeature) -> impl Iterator<Item = (PartKind, &[[i32; 2]])> {
        self.parts_of(f).iter().map(|p| (p.kind, self.own_coords(p)))
    }

    /// The feature's parts with their stored coordinates halved `shift` times: borrowed when
    /// `shift` is 0, halved into `buffers` otherwise.
    fn parts_shifted<'a>(
        &'a self,
        f: &LevelFeature,
        shift: u8,
        buffers: &'a mut Vec<Vec<[i32; 2]>>,
    ) -> impl Iterator<Item = (PartKind, &'a [[i32; 2]])> {
        let parts = self.parts_of(f);
        if shift > 0 {
            if buffers.len() < parts.len() {
                buffers.resize_with(parts.len(), Vec::new);
            }
            for (p, buf) in parts.iter().zip(buffers.iter_mut()) {
                buf.clear();
                buf.extend(self.own_coords(p).iter().map(|&c| shifted(c, shift)));
            }
        }
        let buffers: &'a Vec<Vec<[i32; 2]>> = buffers;
        parts.iter().enumerate().map(move |(k, p)| (p.kind, if shift == 0 { self.own_coords(p) } else { &buffers[k] }))
    }

    /// Where the feature's label goes, in world extent space (polygons of a labelled layer).
    #[inline]
    pub fn label_of(&self, f: &LevelFeature) -> Option<[i32; 2]> {
        let label = self.parts_of(f).last().filter(|p| p.kind == PartKind::Label)?;
        Some(shifted(self.geometry.coords[label.start as usize], self.shift))
    }

    /// Makes this level read `finer`'s coordinates (a level of the same segment that keeps its
    /// own, at a higher zoom), halved to this zoom, instead of its own, when its own keep at
    /// least [`SHARE_GEOMETRY_ABOVE`] of what `finer` has for the same features and `finer`
    /// has every feature this level keeps. Each feature is encoded again from the coordinates
    /// it now reads, so that a tile holding it whole and a tile clipping it draw the same.
    /// When it then keeps exactly `finer`'s features (parcels from z14 to z18), it reads
    /// `finer`'s records too, and keeps only its encoded geometry.
    pub fn share_geometry(&mut self, finer: &Level) -> bool {
        if finer.shift != 0 || finer.z <= self.z || self.shift != 0 {
            return false;
        }
        // Both list features in segment order: walk them together.
        let mut pairs = Vec::with_capacity(self.features.len());
        let (mut own, mut theirs, mut j) = (0u64, 0u64, 0);
        let count = |l: &Level, f: &LevelFeature| l.parts_of(f).iter().map(|p| u64::from(p.len)).sum::<u64>();
        for (i, f) in self.features.iter().enumerate() {
            while finer.features.get(j).is_some_and(|g| g.feature < f.feature) {
                j += 1;
            }
            let Some(g) = finer.features.get(j).filter(|g| g.feature == f.feature) else { return false };
            own += count(self, f);
            theirs += count(finer, g);
            pairs.push((i, j));
        }
        if (own as f64) < SHARE_GEOMETRY_ABOVE * theirs as f64 {
            return false;
        }
        let shift = finer.z - self.z;
        let (mut encoder, mut clip) = (LayerBuilder::new(), ClipBuffers::default());
        let mut features = Vec::with_capacity(pairs.len());
        let (mut encoded, mut geom_offsets) = (Vec::new(), Vec::with_capacity(pairs.len() + 1));
        geom_offsets.push(0);
        // Whether each of `finer`'s features is kept, with the bounds `finer`'s would give.
        let mut same = pairs.len() == finer.features.len();
        let mut buffers = Vec::new();
        for (i, j) in pairs {
            let (f, g) = (&self.features[i], &finer.features[j]);
            let parts: Vec<_> = finer.parts_shifted(g, shift, &mut buffers).collect();
            let drawn = parts.iter().filter(|&&(kind, _)| kind != PartKind::Label);
            let (min, max) = bounds(drawn.flat_map(|(_, pts)| pts.iter().copied()));
            encoder.clear_feature();
            encoder.set_origin(min);
            write_parts(&mut encoder, &mut clip, parts.iter().copied(), None);
            if !encoder.has_geometry() {
                same = false;
                continue;
            }
            // Halving is monotonic, so these are `finer`'s bounds halved; checked all the same.
            same &= (min, max) == (shifted(g.min, shift), shifted(g.max, shift));
            encoded.extend_from_slice(encoder.geometry());
            geom_offsets.push(encoded.len() as u32);
            features.push(LevelFeature { parts_start: g.parts_start, parts_len: g.parts_len, min, max, ..*f });
        }
        encoded.shrink_to_fit();
        (self.encoded, self.geom_offsets) = (encoded, geom_offsets);
        if same {
            self.features = finer.features.clone();
            self.tags = finer.tags.clone();
            (self.features_shared, self.tags_shared) = (true, finer.tags_shared);
        } else {
            features.shrink_to_fit();
            self.features = Arc::new(features);
        }
        self.geometry = finer.geometry.clone();
        self.shift = shift;
        self.tiles = TileIndex::build(self);
        true
    }

    /// Writes the level to a snapshot ([`super::snapshot`]): coordinates only if they are its
    /// own, attributes only if they are not the segment's.
    pub(super) fn save<W: Write>(&self, w: &mut Writer<W>) -> Result<(), SnapshotError> {
        for v in [u32::from(self.shift), self.min_size, u32::from(self.tags_shared), u32::from(self.features_shared)] {
            w.u64(u64::from(v))?;
        }
        if !self.features_shared {
            w.array(&self.features)?;
        }
        if self.shift == 0 {
            let parts: Vec<[u32; 3]> = self.geometry.parts.iter().map(|p| [p.start, p.len, p.kind as u32]).collect();
            w.array(&parts)?;
            w.array(&self.geometry.coords)?;
        }
        if !self.tags_shared && !self.features_shared {
            w.tags(&self.tags)?;
        }
        w.array(&self.encoded)?;
        w.array(&self.geom_offsets)?;
        // In tile order, so that the same level always makes the same bytes.
        let mut ranges: Vec<[u64; 2]> =
            self.tiles.ranges.iter().map(|(&k, &(a, b))| [k, (u64::from(a) << 32) | u64::from(b)]).collect();
        ranges.sort_unstable();
        w.array(&ranges)?;
        w.array(&self.tiles.entries)
    }

    /// Reads what [`Level::save`] wrote for zoom `z`; a level that reads a finer one's
    /// coordinates gets them from [`Level::link`].
    pub(super) fn restore<R: Read>(
        r: &mut Reader<R>,
        z: u8,
        segment_tags: &Arc<[(u16, u32)]>,
    ) -> Result<Self, SnapshotError> {
        let shift = u8::try_from(r.u32()?).map_err(|_| SnapshotError::Corrupt("a level's shift".into()))?;
        let (min_size, tags_shared, features_shared) = (r.u32()?, r.u32()? != 0, r.u32()? != 0);
        if features_shared && shift == 0 {
            return Err(SnapshotError::Corrupt("a level shares the features of none".into()));
        }
        // Shared features (and their tags) are the finer level's, given by [`Level::link`].
        let features = if features_shared { Default::default() } else { Arc::new(r.array()?) };
        let mut geometry = LevelGeometry::default();
        if shift == 0 {
            let kinds = [PartKind::Exterior, PartKind::Interior, PartKind::Line, PartKind::Points, PartKind::Label];
            geometry.parts = (r.array::<[u32; 3]>()?.into_iter())
                .map(|[start, len, kind]| {
                    let kind = *kinds.get(kind as usize).ok_or(SnapshotError::Corrupt("a part's kind".into()))?;
                    Ok(Part { start, len, kind })
                })
                .collect::<Result<_, SnapshotError>>()?;
            geometry.coords = r.array()?;
        }
        let tags = match (tags_shared, features_shared) {
            (true, _) => segment_tags.clone(),
            (false, true) => Arc::new([]),
            (false, false) => unpack_tags(r.array()?)?,
        };
        let (encoded, geom_offsets) = (r.array()?, r.array()?);
        let ranges = r.array::<[u64; 2]>()?.into_iter().map(|[k, ab]| (k, ((ab >> 32) as u32, ab as u32))).collect();
        let entries = r.array()?;
        Ok(Level {
            z,
            min_size,
            features,
            features_shared,
            geometry: Arc::new(geometry),
            shift,
            tags,
            tags_shared,
            encoded,
            geom_offsets,
            tiles: TileIndex { ranges, entries },
        })
    }

    /// Gives each restored level that reads a finer level's coordinates ([`Level::share_geometry`])
    /// that level's.
    pub(super) fn link(levels: &mut [Option<Level>]) -> Result<(), SnapshotError> {
        for z in 0..levels.len() {
            let shift = levels[z].as_ref().map_or(0, |l| usize::from(l.shift));
            if shift > 0 {
                let finer = levels.get(z + shift).and_then(Option::as_ref).filter(|f| f.shift == 0);
                let finer = finer.ok_or(SnapshotError::Corrupt("a level shares what is not there".into()))?;
                let (geometry, features, tags) = (finer.geometry.clone(), finer.features.clone(), finer.tags.clone());
                let level = levels[z].as_mut().expect("looked at above");
                level.geometry = geometry;
                if level.features_shared {
                    (level.features, level.tags) = (features, tags);
                }
            }
            if let Some(level) = &levels[z]
                && level.geom_offsets.len() != level.features.len() + 1
            {
                return Err(SnapshotError::Corrupt("a level's encoded features do not match its features".into()));
            }
        }
        Ok(())
    }

    /// The feature's attributes as (attribute index, value id).
    #[inline]
    pub fn tags_of(&self, f: &LevelFeature) -> &[(u16, u32)] {
        &self.tags[f.tags_start as usize..(f.tags_start + f.tags_len) as usize]
    }

    /// The feature's whole geometry as MVT commands, the first point relative to the minimum
    /// corner of its bounds ([`Level::bounds`]), for [`LayerBuilder::finish_shifted`].
    #[inline]
    pub fn encoded_of(&self, i: u32) -> &[u8] {
        &self.encoded[self.geom_offsets[i as usize] as usize..self.geom_offsets[i as usize + 1] as usize]
    }

    /// The feature's bounding box in world extent space at this level's zoom.
    #[inline]
    pub fn bounds(&self, f: &LevelFeature) -> ([i32; 2], [i32; 2]) {
        if self.features_shared { (shifted(f.min, self.shift), shifted(f.max, self.shift)) } else { (f.min, f.max) }
    }

    /// The larger side of the feature's bounding box in extent units (0 for a point).
    #[inline]
    pub fn size(&self, f: &LevelFeature) -> u32 {
        let (min, max) = self.bounds(f);
        (max[0] - min[0]).max(max[1] - min[1]) as u32
    }
}

/// The bounding box of points, as (min, max) corners.
fn bounds(points: impl IntoIterator<Item = [i32; 2]>) -> ([i32; 2], [i32; 2]) {
    let mut min = [i32::MAX; 2];
    let mut max = [i32::MIN; 2];
    for p in points {
        min = [min[0].min(p[0]), min[1].min(p[1])];
        max = [max[0].max(p[0]), max[1].max(p[1])];
    }
    (min, max)
}

/// `c` at `shift` zooms coarser: halved that many times, rounded.
#[inline]
pub fn shifted(c: [i32; 2], shift: u8) -> [i32; 2] {
    if shift == 0 {
        return c;
    }
    let half = 1 << (shift - 1);
    [(c[0] + half) >> shift, (c[1] + half) >> shift]
}

/// The tags runs of `features`, each read from `source` at `start`, copied into one array in
/// their order; each feature's run is pointed there.
fn gather_tags(
    features: &mut [LevelFeature],
    source: &[(u16, u32)],
    start: impl Fn(&LevelFeature) -> u32,
) -> Arc<[(u16, u32)]> {
    let mut tags = Vec::with_capacity(features.iter().map(|f| f.tags_len as usize).sum());
    for f in features {
        let from = start(f) as usize;
        f.tags_start = tags.len() as u32;
        tags.extend_from_slice(&source[from..][..f.tags_len as usize]);
    }
    tags.into()
}

struct LevelBuilder {
    level: Level,
    geometry: LevelGeometry,
    /// The level's own copy of its features' tags, made as they come when there is no shared
    /// array to read them from later ([`Level::build`]).
    tags: Vec<(u16, u32)>,
    copy_tags: bool,
    scale: f64,
    tolerance: f64,
    labels: bool,
    scratch: Vec<Coord<f64>>,
    encoder: LayerBuilder,
    clip: ClipBuffers,
}

impl LevelBuilder {
    fn world(&self, c: Coord<f64>) -> Coord<f64> {
        Coord { x: (c.x + MERCATOR_HALF) * self.scale, y: (MERCATOR_HALF - c.y) * self.scale }
    }

    fn add(&mut self, feature: u32, input: &LevelInput) {
        let g = input.geometry;
        let Some(rect) = g.bounding_rect() else {
            return;
        };
        let size = (rect.width() * self.scale).max(rect.height() * self.scale);
        let is_point = matches!(g, Geometry::Point(_) | Geometry::MultiPoint(_));
        if !is_point && size < MIN_FEATURE_SIZE {
            return;
        }
        let parts_start = self.geometry.parts.len() as u32;
        self.geometry(g);
        let parts_len = self.geometry.parts.len() as u32 - parts_start;
        if parts_len == 0 {
            return;
        }
        let geometry = &mut self.geometry;
        let first = geometry.parts[parts_start as usize].start as usize;
        // Encoded whole, as a tile that holds all of it writes it (rings that collapse dropped,
        // winding set); a feature with nothing left to draw is not kept.
        let parts = &geometry.parts[parts_start as usize..];
        let (min, max) = bounds(geometry.coords[first..].iter().copied());
        self.encoder.clear_feature();
        self.encoder.set_origin(min);
        write_parts(
            &mut self.encoder,
            &mut self.clip,
            parts.iter().map(|p| (p.kind, &geometry.coords[p.start as usize..][..p.len as usize])),
            None,
        );
        if !self.encoder.has_geometry() {
            geometry.parts.truncate(parts_start as usize);
            geometry.coords.truncate(first);
            return;
        }
        if self.labels
            && let Some(at) = self.label_point(g)
        {
            let start = self.geometry.coords.len();
            self.geometry.coords.push(at);
            self.push_part(start, PartKind::Label, 1);
        }
        let parts_len = self.geometry.parts.len() as u32 - parts_start;
        let level = &mut self.level;
        let tags_start = self.tags.len() as u32;
        if self.copy_tags {
            self.tags.extend_from_slice(input.tags);
        }
        level.encoded.extend_from_slice(self.encoder.geometry());
        level.geom_offsets.push(level.encoded.len() as u32);
        Arc::make_mut(&mut level.features).push(LevelFeature {
            feature,
            parts_start,
            parts_len,
            tags_start,
            tags_len: input.tags.len() as u32,
            min,
            max,
        });
    }

    /// A polygon's pole of inaccessibility (its largest part's, for a multipolygon), found to
    /// a pixel, in world extent space: the point inside it farthest from its edges, where a
    /// label fits best.
    fn label_point(&self, g: &Geometry<f64>) -> Option<[i32; 2]> {
        use geo::Area;
        let polygon = match g {
            Geometry::Polygon(p) => p,
            Geometry::MultiPolygon(mp) => mp.0.iter().max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))?,
            _ => return None,
        };
        let pixel = MIN_FEATURE_SIZE / self.scale;
        let at = polylabel::polylabel(polygon, &pixel).ok()?;
        let w = self.world(at.0);
        Some([w.x.round() as i32, w.y.round() as i32])
    }

    fn geometry(&mut self, g: &Geometry<f64>) {
        match g {
            Geometry::Point(p) => self.points(std::iter::once(p.0)),
            Geometry::MultiPoint(mp) => self.points(mp.0.iter().map(|p| p.0)),
            Geometry::LineString(l) => self.line(l, PartKind::Line),
            Geometry::MultiLineString(ml) => ml.0.iter().for_each(|l| self.line(l, PartKind::Line)),
            Geometry::Polygon(p) => self.polygon(p),
            Geometry::MultiPolygon(mp) => mp.0.iter().for_each(|p| self.polygon(p)),
            Geometry::GeometryCollection(gc) => gc.0.iter().for_each(|g| self.geometry(g)),
            Geometry::Line(l) => self.line(&LineString(vec![l.start, l.end]), PartKind::Line),
            Geometry::Rect(r) => self.polygon(&r.to_polygon()),
            Geometry::Triangle(t) => self.polygon(&t.to_polygon()),
        }
    }

    fn points(&mut self, pts: impl Iterator<Item = Coord<f64>>) {
        let start = self.geometry.coords.len();
        for c in pts {
            let w = self.world(c);
            self.geometry.coords.push([w.x.round() as i32, w.y.round() as i32]);
        }
        self.push_part(start, PartKind::Points, 1);
    }

    fn polygon(&mut self, p: &geo_types::Polygon<f64>) {
        let before = self.geometry.parts.len();
        self.line(p.exterior(), PartKind::Exterior);
        if self.geometry.parts.len() == before {
            return; // the exterior collapsed: drop the holes too
        }
        for hole in p.interiors() {
            self.line(hole, PartKind::Interior);
        }
    }

    /// Adds a line or ring: scale, simplify, round, drop repeats; skip if it collapses.
    fn line(&mut self, l: &LineString<f64>, kind: PartKind) {
        let is_ring = matches!(kind, PartKind::Exterior | PartKind::Interior);
        // A ring smaller than a pixel is invisible (a hole as much as a polygon).
        if is_ring
            && let Some(r) = l.bounding_rect()
            && (r.width() * self.scale).max(r.height() * self.scale) < MIN_FEATURE_SIZE
        {
            return;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend(l.0.iter().map(|&c| self.world(c)));
        let simplified;
        let coords: &[Coord<f64>] = if self.tolerance > 0.0 && scratch.len() > 2 {
            simplified = LineString(scratch.clone()).simplify(self.tolerance);
            &simplified.0
        } else {
            &scratch
        };
        let start = self.geometry.coords.len();
        for c in coords {
            let p = [c.x.round() as i32, c.y.round() as i32];
            if self.geometry.coords.len() == start || self.geometry.coords.last() != Some(&p) {
                self.geometry.coords.push(p);
            }
        }
        let min_len = if is_ring { 4 } else { 2 };
        self.push_part(start, kind, min_len);
        self.scratch = scratch;
    }

    fn push_part(&mut self, start: usize, kind: PartKind, min_len: usize) {
        let len = self.geometry.coords.len() - start;
        if len < min_len {
            self.geometry.coords.truncate(start);
            return;
        }
        self.geometry.parts.push(Part { start: start as u32, len: len as u32, kind });
    }
}

/// A level of bare geometries (no attributes), for tests.
#[cfg(test)]
fn build(geometries: &[Geometry<f64>], z: u8, simplify: bool) -> Level {
    let inputs = geometries.iter().map(|geometry| LevelInput { geometry, tags: &[] });
    Level::build(inputs, z, simplify, false, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{line_string, polygon};

    fn mercator_square(x: f64, y: f64, side: f64) -> Geometry<f64> {
        Geometry::Polygon(
            polygon![(x: x, y: y), (x: x + side, y: y), (x: x + side, y: y + side), (x: x, y: y + side), (x: x, y: y)],
        )
    }

    #[test]
    fn small_polygons_are_dropped_at_low_zoom_and_kept_at_high_zoom() {
        // A 20 m parcel: about 1/10 px at z10, about 34 units at z14.
        let g = vec![mercator_square(15_630_000.0, 4_665_000.0, 20.0)];
        assert_eq!(build(&g, 10, true).features.len(), 0);
        let l14 = build(&g, 14, true);
        assert_eq!(l14.features.len(), 1);
        let f = l14.features[0];
        assert_eq!(l14.parts_of(&f).len(), 1);
        assert_eq!(l14.own_coords(&l14.parts_of(&f)[0]).len(), 5);
    }

    #[test]
    fn simplification_removes_nearly_straight_vertices() {
        let g = vec![Geometry::LineString(line_string![
            (x: 15_630_000.0, y: 4_665_000.0),
            (x: 15_630_500.0, y: 4_665_000.3),
            (x: 15_631_000.0, y: 4_665_000.0),
        ])];
        let coarse = build(&g, 12, true);
        assert_eq!(coarse.geometry.coords.len(), 2);
        let full = build(&g, 18, false);
        assert_eq!(full.geometry.coords.len(), 3);
    }

    #[test]
    fn each_tile_lists_the_features_its_buffered_square_meets() {
        // A 1 km square near the origin of mercator, and one far away.
        let g = vec![mercator_square(0.0, 0.0, 1000.0), mercator_square(1_000_000.0, 1_000_000.0, 1000.0)];
        let l = build(&g, 10, true);
        let f = &l.features[0];
        let (x, y) = (f.min[0] as u32 / 4096, f.min[1] as u32 / 4096);
        assert_eq!(l.tiles.get(x, y), &[0]);
        // The square's corner (0, 0) is a tile corner at every zoom: the buffer makes the
        // neighbours to the west and south list it too, and no tile far away does.
        assert_eq!(l.tiles.get(x - 1, y), &[0]);
        assert!(l.tiles.get(x + 5, y + 5).is_empty());
        let far = &l.features[1];
        assert_eq!(l.tiles.get(far.min[0] as u32 / 4096, far.min[1] as u32 / 4096), &[1]);
    }
}

#[cfg(test)]
mod shared_tags_tests {
    use super::*;
    use geo_types::polygon;

    /// `n` 20 m squares 30 m apart in a row, feature `i` tagged (0, i) and (1, 7).
    type Tags = Vec<(u16, u32)>;

    fn squares(n: usize) -> (Vec<Geometry<f64>>, Tags, Vec<u32>) {
        let (x0, y0) = (15_630_000.0, 4_665_000.0);
        let g = (0..n)
            .map(|i| {
                let x = x0 + 30.0 * i as f64;
                Geometry::Polygon(polygon![(x: x, y: y0), (x: x + 20.0, y: y0), (x: x + 20.0, y: y0 + 20.0), (x: x, y: y0 + 20.0), (x: x, y: y0)])
            })
            .collect();
        let tags = (0..n as u32).flat_map(|i| [(0, i), (1, 7)]).collect();
        let offsets = (0..=n as u32).map(|i| 2 * i).collect();
        (g, tags, offsets)
    }

    fn level(g: &[Geometry<f64>], tags: &Arc<[(u16, u32)]>, offsets: &[u32], z: u8) -> Level {
        let inputs = g
            .iter()
            .enumerate()
            .map(|(i, geometry)| LevelInput { geometry, tags: &tags[offsets[i] as usize..offsets[i + 1] as usize] });
        Level::build(inputs, z, true, false, Some(SharedTags { tags, offsets }))
    }

    #[test]
    fn a_level_keeping_every_feature_reads_the_segments_tags_and_a_thinned_one_its_own() {
        let (g, tags, offsets) = squares(1000);
        let tags: Arc<[(u16, u32)]> = tags.into();
        let full = level(&g, &tags, &offsets, 16);
        assert_eq!(full.features.len(), 1000);
        assert!(full.tags_shared && Arc::ptr_eq(&full.tags, &tags));
        for f in full.features.iter() {
            assert_eq!(full.tags_of(f), &[(0, f.feature), (1, 7)]);
        }
        // At z10 a 20 m square is under a pixel: they go, and the one left keeps a compact copy.
        let mut g = g;
        g.push(Geometry::Polygon(polygon![(x: 15_600_000.0, y: 4_600_000.0), (x: 15_602_000.0, y: 4_600_000.0), (x: 15_602_000.0, y: 4_602_000.0), (x: 15_600_000.0, y: 4_600_000.0)]));
        let (_, tags, offsets) = squares(1001);
        let tags: Arc<[(u16, u32)]> = tags.into();
        let thinned = level(&g, &tags, &offsets, 10);
        assert_eq!(thinned.features.len(), 1);
        assert!(!thinned.tags_shared);
        assert_eq!(thinned.tags.len(), 2);
        assert_eq!(thinned.tags_of(&thinned.features[0]), &[(0, 1000), (1, 7)]);
    }
}

#[cfg(test)]
mod thinning_tests {
    use super::*;
    use geo_types::line_string;

    #[test]
    fn a_level_over_budget_drops_its_smallest_lines_and_keeps_the_large() {
        // 60,000 short lines (about 3 px at z12) and 20 long ones in one z12 tile.
        let (x0, y0) = (15_630_000.0, 4_665_000.0);
        let mut g: Vec<Geometry<f64>> = (0..60_000)
            .map(|i| {
                let (x, y) = (x0 + f64::from(i % 250) * 30.0, y0 + f64::from(i / 250) * 30.0);
                Geometry::LineString(line_string![(x: x, y: y), (x: x + 40.0, y: y + 10.0), (x: x + 60.0, y: y)])
            })
            .collect();
        for i in 0..20 {
            let y = y0 + f64::from(i) * 300.0;
            g.push(Geometry::LineString(line_string![(x: x0, y: y), (x: x0 + 7_000.0, y: y + 5.0)]));
        }
        let l = build(&g, 12, true);
        assert!(l.min_size > 0, "thinned");
        assert!(l.features.len() < 60_000, "{} kept", l.features.len());
        let long = l.features.iter().filter(|f| f.feature >= 60_000).count();
        assert_eq!(long, 20, "the long lines stay");
        let bytes: u64 =
            l.features.iter().map(|f| 12 + l.parts_of(f).iter().map(|p| 3 + 3 * u64::from(p.len)).sum::<u64>()).sum();
        assert!(bytes <= LEVEL_TILE_BUDGET * 4, "within budget over the few tiles: {bytes}");
        // The same data at z18 (about 200 px per short line) is not thinned.
        assert_eq!(build(&g[..2_000], 18, false).min_size, 0);

        // What is kept keeps its own tags, copied as features came or from a shared array.
        let tags: Vec<(u16, u32)> = (0..g.len() as u32).flat_map(|i| [(0, i), (1, 7)]).collect();
        let offsets: Vec<u32> = (0..=g.len() as u32).map(|i| 2 * i).collect();
        let shared: Arc<[(u16, u32)]> = tags.clone().into();
        let inputs = || (0..g.len()).map(|i| LevelInput { geometry: &g[i], tags: &tags[2 * i..2 * i + 2] });
        let own = Level::build(inputs(), 12, true, false, None);
        let read = Level::build(inputs(), 12, true, false, Some(SharedTags { tags: &shared, offsets: &offsets }));
        for l in [own, read] {
            assert!(l.min_size > 0 && !l.tags_shared);
            assert_eq!(l.tags.len(), 2 * l.features.len(), "a compact copy");
            for f in l.features.iter() {
                assert_eq!(l.tags_of(f), &[(0, f.feature), (1, 7)]);
            }
        }
    }
}

#[cfg(test)]
mod shared_geometry_tests {
    use super::*;
    use geo_types::{LineString, polygon};

    fn squares() -> Vec<Geometry<f64>> {
        let (x0, y0) = (15_630_000.0, 4_665_000.0);
        (0..200)
            .map(|i| {
                let (x, y) = (x0 + f64::from(i % 20) * 30.0, y0 + f64::from(i / 20) * 30.0);
                Geometry::Polygon(polygon![(x: x, y: y), (x: x + 20.0, y: y), (x: x + 20.0, y: y + 25.0), (x: x, y: y + 25.0), (x: x, y: y)])
            })
            .collect()
    }

    #[test]
    fn a_level_that_simplifies_almost_nothing_reads_the_finer_levels_coordinates_halved() {
        let g = squares();
        let z18 = build(&g, 18, false);
        let mut z16 = build(&g, 16, true);
        let own: Vec<Vec<u8>> = (0..z16.features.len() as u32).map(|i| z16.encoded_of(i).to_vec()).collect();
        assert!(z16.share_geometry(&z18));
        assert_eq!((z16.shift, z16.features.len()), (2, 200));
        assert!(Arc::ptr_eq(&z16.geometry, &z18.geometry));
        // It keeps exactly z18's features, so it reads z18's records too.
        assert!(z16.features_shared && Arc::ptr_eq(&z16.features, &z18.features));
        let mut buffers = Vec::new();
        for (i, (f, own)) in z16.features.iter().zip(&own).enumerate() {
            // Its encoding is that of z18's coordinates halved, as a clipping tile halves them.
            let mut encoder = LayerBuilder::new();
            encoder.set_origin(z16.bounds(f).0);
            write_parts(&mut encoder, &mut ClipBuffers::default(), z16.parts_shifted(f, z16.shift, &mut buffers), None);
            assert_eq!(encoder.geometry(), z16.encoded_of(i as u32));
            // The squares' corners lie on whole z16 units or near: halving twice rounds them to
            // within a unit of where generalising at z16 put them, so the commands are the
            // same length.
            assert_eq!(z16.encoded_of(i as u32).len(), own.len());
            let (min, max) = bounds(z16.parts_shifted(f, z16.shift, &mut buffers).flat_map(|(_, p)| p.iter().copied()));
            assert_eq!(z16.bounds(f), (min, max));
        }
        let (min, _) = z16.bounds(&z16.features[0]);
        assert!(z16.tiles.get(min[0] as u32 / 4096, min[1] as u32 / 4096).contains(&0));
    }

    #[test]
    fn a_level_that_drops_some_of_the_finer_levels_features_keeps_its_own_records() {
        // A 0.5 m square is over a pixel at z18 and under one at z16.
        let mut g = squares();
        let (x, y) = (15_630_000.0 + 700.0, 4_665_000.0);
        g.push(Geometry::Polygon(polygon![(x: x, y: y), (x: x + 0.5, y: y), (x: x + 0.5, y: y + 0.5), (x: x, y: y)]));
        let z18 = build(&g, 18, false);
        let mut z16 = build(&g, 16, true);
        assert_eq!((z18.features.len(), z16.features.len()), (201, 200));
        assert!(z16.share_geometry(&z18));
        assert!(Arc::ptr_eq(&z16.geometry, &z18.geometry));
        assert!(!z16.features_shared);
        assert_eq!(z16.features.len(), 200);
        let mut buffers = Vec::new();
        for (i, f) in z16.features.iter().enumerate() {
            let mut encoder = LayerBuilder::new();
            encoder.set_origin(z16.bounds(f).0);
            write_parts(&mut encoder, &mut ClipBuffers::default(), z16.parts_shifted(f, z16.shift, &mut buffers), None);
            assert_eq!(encoder.geometry(), z16.encoded_of(i as u32));
        }
    }

    #[test]
    fn a_level_that_simplification_thins_keeps_its_own_coordinates() {
        // A wiggly line: 400 vertices 1 m apart, 0.3 m off the axis in turn.
        let (x0, y0) = (15_630_000.0, 4_665_000.0);
        let line: LineString<f64> = (0..400).map(|i| (x0 + f64::from(i), y0 + 0.3 * f64::from(i % 2))).collect();
        let g = vec![Geometry::LineString(line)];
        let z18 = build(&g, 18, false);
        let mut z14 = build(&g, 14, true);
        assert!(!z14.share_geometry(&z18));
        assert_eq!(z14.shift, 0);
        assert!(z14.geometry.coords.len() < 10, "{} vertices", z14.geometry.coords.len());
    }
}
