//! A layer as the engine holds it: ids, attribute tags, and one generalised [`Level`] per zoom.
//!
//! Built once from the store's features: geometry is reprojected from the store CRS to Web
//! Mercator, features are put in Hilbert order, attribute values are interned into one
//! layer-wide table of ready-encoded MVT values (each distinct value encoded once, however many
//! features share it), and the zoom levels are generalised in parallel.

use std::collections::HashMap;

use geo::BoundingRect;
use geo_types::Geometry;
use rayon::prelude::*;

use super::EngineError;
use super::level::Level;
use crate::catalog::LayerDef;
use crate::crs::{Epsg, Transformer};
use crate::feature::Feature;
use crate::tile::coord::mercator_to_lonlat;
use crate::tile::mvt::{GeomType, encode_value};

/// A layer's features, ready for tile rendering.
#[derive(Debug)]
pub struct LayerData {
    pub def: LayerDef,
    pub geom_type: GeomType,
    /// Feature ids, by feature index.
    pub ids: Vec<u64>,
    /// `tags[tag_offsets[i]..tag_offsets[i + 1]]` are feature `i`'s (attribute index, value id).
    pub tag_offsets: Vec<u32>,
    pub tags: Vec<(u16, u32)>,
    /// Distinct attribute values of the layer, each encoded as an MVT `Value` body, in one
    /// arena: value `v` is `value_bytes[value_offsets[v]..value_offsets[v + 1]]`.
    pub value_bytes: Vec<u8>,
    pub value_offsets: Vec<u32>,
    /// `levels[z]`, `None` outside the layer's zoom range.
    pub levels: Vec<Option<Level>>,
    /// Bounds of all features as `[west, south, east, north]` in degrees.
    pub bounds: Option<[f64; 4]>,
}

impl LayerData {
    /// Builds the layer from features in `store_crs`.
    pub fn build(def: LayerDef, features: Vec<Feature>, store_crs: Epsg) -> Result<Self, EngineError> {
        let to_mercator = Transformer::new(store_crs, Epsg::WEB_MERCATOR)?;
        let mut ids = Vec::with_capacity(features.len());
        let mut geometries = Vec::with_capacity(features.len());
        let mut tag_offsets = Vec::with_capacity(features.len() + 1);
        let mut tags = Vec::new();
        let mut value_bytes = Vec::new();
        let mut value_offsets = vec![0u32];
        let mut value_ids: HashMap<Vec<u8>, u32> = HashMap::new();
        tag_offsets.push(0);
        let mut projected = Vec::with_capacity(features.len());
        for mut f in features {
            to_mercator.geometry(&mut f.geometry)?;
            projected.push(f);
        }
        // Features near each other on the map sit near each other in memory, so a tile reads
        // a few runs of each array instead of jumping across the layer (the hot path is
        // bound by memory, not arithmetic).
        projected
            .sort_by_cached_key(|f| f.geometry.bounding_rect().map_or(0, |r| hilbert_key(r.center().x, r.center().y)));
        for f in projected {
            geometries.push(f.geometry);
            ids.push(f.id as u64);
            for (k, v) in f.attributes.iter().enumerate().take(def.attributes.len()) {
                let Some(enc) = encode_value(v) else { continue };
                let id = *value_ids.entry(enc).or_insert_with_key(|enc| {
                    value_bytes.extend_from_slice(enc);
                    value_offsets.push(value_bytes.len() as u32);
                    (value_offsets.len() - 2) as u32
                });
                tags.push((k as u16, id));
            }
            tag_offsets.push(tags.len() as u32);
        }
        let bounds = bounds_of(&geometries);
        let levels = (0..=def.maxzoom)
            .into_par_iter()
            .map(|z| (z >= def.minzoom).then(|| Level::build(&geometries, z, z < def.maxzoom)))
            .collect();
        let geom_type = match def.geometry.family() {
            "point" => GeomType::Point,
            "line" => GeomType::LineString,
            _ => GeomType::Polygon,
        };
        Ok(Self { def, geom_type, ids, tag_offsets, tags, value_bytes, value_offsets, levels, bounds })
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

    /// Number of distinct attribute values.
    pub fn value_count(&self) -> usize {
        self.value_offsets.len() - 1
    }

    /// The encoded MVT `Value` body of value `v`.
    #[inline]
    pub fn value(&self, v: u32) -> &[u8] {
        &self.value_bytes[self.value_offsets[v as usize] as usize..self.value_offsets[v as usize + 1] as usize]
    }

    pub fn tags_of(&self, feature: u32) -> &[(u16, u32)] {
        let i = feature as usize;
        &self.tags[self.tag_offsets[i] as usize..self.tag_offsets[i + 1] as usize]
    }
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

fn bounds_of(geometries: &[Geometry<f64>]) -> Option<[f64; 4]> {
    let mut acc: Option<[f64; 4]> = None;
    for r in geometries.iter().filter_map(BoundingRect::bounding_rect) {
        let (w, s) = mercator_to_lonlat(r.min().x, r.min().y);
        let (e, n) = mercator_to_lonlat(r.max().x, r.max().y);
        acc = Some(match acc {
            None => [w, s, e, n],
            Some(b) => [b[0].min(w), b[1].min(s), b[2].max(e), b[3].max(n)],
        });
    }
    acc
}
