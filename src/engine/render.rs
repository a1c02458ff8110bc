//! The tile hot path: query, clip, quantise, encode.
//!
//! For each requested layer at zoom `z`: take the layer's pre-generalised [`Level`] (in each
//! segment: base and delta) and walk the features the level lists for this tile — in memory
//! order, one forward run, prefetching a few ahead. A feature wholly inside the buffered tile is
//! copied from the level's ready-made encoding with only its first point moved (from the
//! feature's minimum corner) to the tile origin; one that crosses the edge is clipped and
//! encoded afresh by the [`LayerBuilder`], which subtracts the tile origin. Attribute keys are
//! remapped from the layer's global table to the tile's through generation-stamped slots, and
//! values through a small map of the values the tile holds (a value only one feature of the
//! layer uses is simply written), so each distinct key and value is written once per tile.
//! Attributes the audience may not see are never written. Scratch buffers live in a
//! thread-local and are reused across tiles.
//!
//! A tile never exceeds [`MAX_TILE_BYTES`], whatever the data's density: a tile that comes out
//! larger is rendered again with [`Thinning`] one step stronger — lines and polygons smaller
//! than twice the previous size are dropped and half the remaining points (chosen by id, so the
//! choice is stable) — until it fits. Generalisation at load makes this rare (the demo city
//! never needs it); it is the guarantee for data denser than the generaliser expects.

use std::cell::RefCell;

use super::layer::{LayerData, Segment, is_masked};
use super::level::{Level, LevelFeature, PartKind, shifted};
use crate::catalog::Audience;
use crate::tile::clip::{Rect, clip_line, clip_ring};
use crate::tile::mvt::{LayerBuilder, TileBuilder};
use crate::tile::{EXTENT, TileCoord};

/// Tile buffer in extent units (on each side), so that lines and outlines drawn across a tile
/// edge join without gaps.
pub const BUFFER: i32 = 64;

#[derive(Default)]
struct Scratch {
    tile: TileBuilder,
    layer: LayerBuilder,
    generation: u32,
    key_slots: Vec<(u32, u32)>,
    /// The current MVT layer's value index by the layer's value id. A map of what the tile
    /// holds, not an array over all the layer's values: that would be 8 bytes a distinct value
    /// (16 MB at 1 M parcels) on every thread that ever rendered, and its slots would be read
    /// scattered across it.
    values: rustc_hash::FxHashMap<u32, u32>,
    visible: Vec<bool>,
    clip: ClipBuffers,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// The most bytes a tile may have (uncompressed), with a margin under 500 KB.
pub const MAX_TILE_BYTES: usize = 480 * 1024;

/// How hard a render thins features to fit [`MAX_TILE_BYTES`]; step 0 keeps everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thinning(u8);

impl Thinning {
    const MAX_STEP: u8 = 24;

    /// Whether a feature survives, by its world-space extent and id.
    #[inline]
    fn keeps(self, size: u32, id: u64) -> bool {
        if self.0 == 0 {
            return true;
        }
        if size > 0 {
            // Lines and polygons: drop the ones under 2^step pixels (8 units each).
            i64::from(size) >= 8i64 << self.0
        } else {
            // Points: keep one in 2^step, by a hash of the id.
            (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) & ((1u64 << self.0) - 1) == 0
        }
    }
}

/// An encoded tile and how many features it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The MVT bytes, empty when no layer has a feature in the tile.
    pub bytes: Vec<u8>,
    pub features: u32,
}

/// Renders one tile of the given layers (one MVT layer each, in order) for `audience`, thinned
/// as little as needed to stay within [`MAX_TILE_BYTES`].
pub fn render_tile(layers: &[&LayerData], tile: TileCoord, audience: Audience) -> Rendered {
    let mut thinning = Thinning(0);
    loop {
        let (size, features) = render_with(layers, tile, audience, thinning);
        if size <= MAX_TILE_BYTES || thinning.0 == Thinning::MAX_STEP {
            let bytes = SCRATCH.with(|s| s.borrow_mut().tile.take());
            return Rendered { bytes, features };
        }
        thinning = Thinning(thinning.0 + 1);
    }
}

/// Renders into the thread's tile buffer; returns its size and feature count.
fn render_with(layers: &[&LayerData], tile: TileCoord, audience: Audience, thinning: Thinning) -> (usize, u32) {
    SCRATCH.with(|s| {
        let s = &mut *s.borrow_mut();
        s.tile.reset();
        let mut features = 0;
        for data in layers {
            if !data.has_zoom(tile.z) {
                continue;
            }
            s.layer.reset();
            start_layer(s, data, audience);
            for (segment, removed, single) in data.segments() {
                if let Some(level) = segment.level(tile.z) {
                    render_level(s, data, (segment, removed, single), level, tile, thinning);
                }
            }
            features += s.layer.feature_count();
            s.tile.add_layer(data.def.id.as_str(), EXTENT, &s.layer);
            if data.def.label_points_at(tile.z).is_some() {
                features += render_labels(s, data, tile, audience, thinning);
            }
        }
        (s.tile.bytes().len(), features)
    })
}

/// Starts an MVT layer: keys and values are numbered afresh, visibility set for `audience`.
fn start_layer(s: &mut Scratch, data: &LayerData, audience: Audience) {
    s.generation = s.generation.wrapping_add(1);
    if s.generation == 0 {
        // Wrapped: old stamps could collide, so start afresh.
        s.key_slots.iter_mut().for_each(|k| k.0 = 0);
        s.generation = 1;
    }
    if s.key_slots.len() < data.def.attributes.len() {
        s.key_slots.resize(data.def.attributes.len(), (0, 0));
    }
    s.values.clear();
    s.visible.clear();
    s.visible.extend(data.def.attributes.iter().map(|a| a.visibility.visible_to(audience)));
}

/// Writes the features one segment's level lists for the tile into the current MVT layer,
/// skipping those set in `removed`.
fn render_level(
    s: &mut Scratch,
    data: &LayerData,
    (segment, removed, single): (&Segment, Option<&[u64]>, u32),
    level: &Level,
    tile: TileCoord,
    thinning: Thinning,
) {
    // Geometry stays in world extent space; the builder subtracts the tile origin as it
    // encodes, and clipping uses the buffered tile rectangle in world space.
    let (ox, oy) = tile.origin();
    let origin = [ox as i32, oy as i32];
    let rect = Rect {
        min: [origin[0] - BUFFER, origin[1] - BUFFER],
        max: [origin[0] + EXTENT as i32 + BUFFER, origin[1] + EXTENT as i32 + BUFFER],
    };
    s.layer.set_origin(origin);
    let hits = level.tiles.get(tile.x, tile.y);
    for (i, &hit) in hits.iter().enumerate() {
        // The features a tile lists are scattered enough that the CPU does not fetch them
        // ahead by itself. In two stages: the record 16 ahead, then, once it has arrived,
        // what the record 8 ahead points to (reading a record not yet fetched would wait).
        if let Some(&far) = hits.get(i + 16) {
            prefetch(&level.features[far as usize]);
        }
        if let Some(&ahead) = hits.get(i + 8) {
            let g = &level.features[ahead as usize];
            prefetch(&segment.ids[g.feature as usize]);
            prefetch(level.tags_of(g).as_ptr());
            prefetch(level.encoded_of(ahead).as_ptr());
        }
        let f = &level.features[hit as usize];
        if removed.is_some_and(|m| is_masked(m, f.feature)) {
            continue;
        }
        let id = segment.ids[f.feature as usize];
        let (min, max) = level.bounds(f);
        if !thinning.keeps((max[0] - min[0]).max(max[1] - min[1]) as u32, id) {
            continue;
        }
        // Wholly inside: the level's encoding, moved to the tile (written with the tags below).
        let inside = rect.contains_bbox(min, max);
        if !inside {
            let clip = Clip { rect, shift: level.shift };
            write_parts(&mut s.layer, &mut s.clip, level.stored_parts(f), Some(clip));
            if !s.layer.has_geometry() {
                s.layer.clear_feature();
                continue;
            }
        }
        write_tags(s, data, level, f, single);
        if inside {
            s.layer.finish_shifted(Some(id), data.geom_type, level.encoded_of(hit), min);
        } else {
            s.layer.finish_feature(Some(id), data.geom_type);
        }
    }
}

/// Writes the attributes of `f` the current layer shows into its current feature. Values
/// numbered from `single` on are used by this feature alone, so are new to the tile.
#[inline]
fn write_tags(s: &mut Scratch, data: &LayerData, level: &Level, f: &LevelFeature, single: u32) {
    let generation = s.generation;
    for &(k, v) in level.tags_of(f) {
        if !s.visible[usize::from(k)] {
            continue;
        }
        let ks = &mut s.key_slots[usize::from(k)];
        if ks.0 != generation {
            *ks = (generation, s.layer.push_key(&data.def.attributes[usize::from(k)].name));
        }
        let key = ks.1;
        let value = if v >= single {
            s.layer.push_value(data.value(v))
        } else {
            *s.values.entry(v).or_insert_with(|| s.layer.push_value(data.value(v)))
        };
        s.layer.tag(key, value);
    }
}

/// Writes the label layer of a polygon layer: one point per polygon whose label point lies in
/// the tile itself (not its buffer, so a polygon cut by tile edges is labelled once), with
/// the label's attributes only (none when `audience` may not see them). Returns how many.
fn render_labels(s: &mut Scratch, data: &LayerData, tile: TileCoord, audience: Audience, thinning: Thinning) -> u32 {
    let Some(label) = data.def.label_for(audience) else { return 0 };
    s.layer.reset();
    start_layer(s, data, audience);
    for (shown, a) in s.visible.iter_mut().zip(&data.def.attributes) {
        *shown &= a.name == label.text || label.text_en.as_ref() == Some(&a.name);
    }
    let (ox, oy) = tile.origin();
    let origin = [ox as i32, oy as i32];
    let own = Rect { min: origin, max: [origin[0] + EXTENT as i32 - 1, origin[1] + EXTENT as i32 - 1] };
    s.layer.set_origin(origin);
    for (segment, removed, single) in data.segments() {
        let Some(level) = segment.level(tile.z) else { continue };
        for &hit in level.tiles.get(tile.x, tile.y) {
            let f = &level.features[hit as usize];
            let id = segment.ids[f.feature as usize];
            if removed.is_some_and(|m| is_masked(m, f.feature)) || !thinning.keeps(level.size(f), id) {
                continue;
            }
            let Some(at) = level.label_of(f).filter(|&p| own.contains(p)) else { continue };
            s.layer.points(&[at]);
            write_tags(s, data, level, f, single);
            s.layer.finish_feature(Some(id), crate::tile::mvt::GeomType::Point);
        }
    }
    s.tile.add_layer(&data.def.label_layer_name(), EXTENT, &s.layer);
    s.layer.feature_count()
}

/// Asks the CPU to bring the cache line at `p` in, without waiting for it.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    // SAFETY: a prefetch is a hint: it never faults, whatever the address, and changes no
    // state the program can observe. SSE is part of every x86_64 CPU.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast());
    }
    // Elsewhere (no stable hint): the hardware prefetcher does what it can.
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Buffers for clipping, reused across features.
#[derive(Default)]
pub(super) struct ClipBuffers {
    pts: Vec<[i32; 2]>,
    clipped: Vec<[i32; 2]>,
    tmp: Vec<[i32; 2]>,
    ends: Vec<usize>,
}

/// Where a feature is clipped: to `rect`, with the parts' coordinates `shift` zooms finer
/// than the rectangle's (a level reading a finer level's). Clipping happens at the finer zoom
/// against the rectangle scaled to it, and only what is kept is halved (rounded, as
/// [`super::level::shifted`]): the whole feature is never copied at the coarser zoom.
#[derive(Clone, Copy)]
pub(super) struct Clip {
    pub rect: Rect,
    pub shift: u8,
}

/// Writes a feature's parts into the builder's current feature, clipped when `clip` is given
/// and whole otherwise. A ring that collapses is dropped, and with an exterior its holes.
pub(super) fn write_parts<'a>(
    layer: &mut LayerBuilder,
    b: &mut ClipBuffers,
    parts: impl Iterator<Item = (PartKind, &'a [[i32; 2]])>,
    clip: Option<Clip>,
) {
    let halve = |pts: &mut [[i32; 2]], shift: u8| {
        if shift > 0 {
            pts.iter_mut().for_each(|p| *p = shifted(*p, shift));
        }
    };
    let shift = clip.map_or(0, |c| c.shift);
    let clip = clip.map(|c| c.rect.finer(c.shift));
    let mut skip_holes = false;
    for (kind, pts) in parts {
        match (kind, clip) {
            (PartKind::Interior, _) if skip_holes => {}
            (PartKind::Label, _) => {}
            (PartKind::Points, None) => layer.points(pts),
            (PartKind::Points, Some(rect)) => {
                b.pts.clear();
                b.pts.extend(pts.iter().filter(|&&p| rect.contains(p)));
                halve(&mut b.pts, shift);
                layer.points(&b.pts);
            }
            (PartKind::Line, None) => {
                layer.line(pts);
            }
            (PartKind::Line, Some(rect)) => {
                b.clipped.clear();
                b.ends.clear();
                clip_line(pts, rect, &mut b.clipped, &mut b.ends);
                halve(&mut b.clipped, shift);
                let mut start = 0;
                for &end in &b.ends {
                    layer.line(&b.clipped[start..end]);
                    start = end;
                }
            }
            (PartKind::Exterior | PartKind::Interior, _) => {
                let exterior = kind == PartKind::Exterior;
                let written = match clip {
                    None => layer.ring(pts, exterior),
                    Some(rect) => {
                        clip_ring(pts, rect, &mut b.clipped, &mut b.tmp);
                        halve(&mut b.clipped, shift);
                        !b.clipped.is_empty() && layer.ring(&b.clipped, exterior)
                    }
                };
                if exterior {
                    skip_holes = !written;
                }
            }
        }
    }
}
