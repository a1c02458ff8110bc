//! The in-memory tile cache: encoded tiles by (layers, tile, audience), bounded in bytes.
//!
//! Each entry keeps the raw MVT bytes, their ETag, and a gzip copy made on first demand, so a
//! hot tile is compressed once, not per request. Concurrent misses for one key are coalesced:
//! one request renders, the others wait for its result. When features of a layer change, the
//! entries naming the layer whose buffered bounds meet the old or new geometry are dropped, at
//! every zoom ([`TileCache::invalidate_areas`]); the rest stay.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use libdeflater::{CompressionLvl, Compressor};
use moka::sync::Cache;

use geo_types::Rect;

use crate::catalog::Audience;
use crate::feature::union_rects;
use crate::tile::coord::{MAX_ZOOM, mercator_to_world};
use crate::tile::{EXTENT, TileCoord};

/// Above this many changed areas in one call, their union is invalidated instead (fewer,
/// larger areas: more tiles dropped, less work per cache entry).
const MAX_AREAS: usize = 256;

/// What identifies a cached tile.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
    /// The requested layer ids, comma-separated, in request order.
    pub layers: Arc<str>,
    pub tile: TileCoord,
    pub audience: Audience,
}

impl TileKey {
    fn names(&self, layer: &str) -> bool {
        self.layers.split(',').any(|l| l == layer)
    }
}

/// An encoded tile with its validators.
#[derive(Debug)]
pub struct EncodedTile {
    pub raw: Bytes,
    /// Strong validator of the raw bytes (quoted, as sent in `ETag`).
    pub etag: String,
    gzip: OnceLock<Bytes>,
}

impl EncodedTile {
    pub fn new(raw: Vec<u8>) -> Self {
        let etag = format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(&raw));
        Self { raw: Bytes::from(raw), etag, gzip: OnceLock::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Whether the gzip copy has been made.
    pub fn has_gzip(&self) -> bool {
        self.gzip.get().is_some()
    }

    /// The gzip-compressed tile, made on first call.
    pub fn gzip(&self) -> Bytes {
        self.gzip.get_or_init(|| Bytes::from(gzip(&self.raw))).clone()
    }

    /// The ETag of the gzip representation (a different entity, so a different tag).
    pub fn gzip_etag(&self) -> String {
        format!("{}-gz\"", self.etag.trim_end_matches('"'))
    }

    fn weight(&self) -> u32 {
        let gz = self.gzip.get().map_or(0, Bytes::len);
        u32::try_from(self.raw.len() + gz + 128).unwrap_or(u32::MAX)
    }
}

/// `raw` compressed as gzip, at the fastest level: tiles are compressed on request, and
/// libdeflate's level 1 makes a dense 300 KB tile in about 1.8 ms and 2 % larger than its
/// level 4 does in 2.7 ms (miniz at level 4: 6.2 ms; docs/benchmarks.md).
fn gzip(raw: &[u8]) -> Vec<u8> {
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<Compressor> =
            std::cell::RefCell::new(Compressor::new(CompressionLvl::new(1).expect("1 is a level")));
    }
    COMPRESSOR.with_borrow_mut(|c| {
        let mut out = vec![0; c.gzip_compress_bound(raw.len())];
        let n = c.gzip_compress(raw, &mut out).expect("the output holds the compression bound");
        out.truncate(n);
        out.shrink_to_fit(); // the cache keeps it
        out
    })
}

/// A byte-bounded tile cache. A capacity of zero disables caching.
#[derive(Clone)]
pub struct TileCache {
    inner: Option<Cache<TileKey, Arc<EncodedTile>>>,
}

impl TileCache {
    pub fn new(capacity_bytes: u64) -> Self {
        let inner = (capacity_bytes > 0).then(|| {
            Cache::builder()
                .max_capacity(capacity_bytes)
                .weigher(|_k: &TileKey, v: &Arc<EncodedTile>| v.weight())
                .support_invalidation_closures()
                .build()
        });
        Self { inner }
    }

    /// The cached tile for `key`, or the result of `render` (stored for next time).
    pub fn get_or_render(&self, key: TileKey, render: impl FnOnce() -> Vec<u8>) -> Arc<EncodedTile> {
        match &self.inner {
            Some(c) => c.get_with(key, || Arc::new(EncodedTile::new(render()))),
            None => Arc::new(EncodedTile::new(render())),
        }
    }

    /// The cached tile for `key`, if any.
    pub fn get(&self, key: &TileKey) -> Option<Arc<EncodedTile>> {
        self.inner.as_ref().and_then(|c| c.get(key))
    }

    /// Whether `key` is cached (for tests and metrics; does not touch recency).
    pub fn contains(&self, key: &TileKey) -> bool {
        self.inner.as_ref().is_some_and(|c| c.contains_key(key))
    }

    /// Drops every cached tile that includes `layer`.
    pub fn invalidate_layer(&self, layer: &str) {
        if let Some(c) = &self.inner {
            let layer = layer.to_owned();
            // Cannot fail: invalidation closures are enabled in `new`.
            let _ = c.invalidate_entries_if(move |k, _| k.names(&layer));
        }
    }

    /// Drops every cached tile that includes `layer` and whose area, widened by `margin`
    /// extent units on each side (the render buffer), meets one of `areas` (Web Mercator).
    pub fn invalidate_areas(&self, layer: &str, areas: &[Rect<f64>], margin: i32) {
        let Some(c) = &self.inner else { return };
        if areas.is_empty() {
            return;
        }
        let ranges = TileRanges::new(areas, margin);
        let layer = layer.to_owned();
        // Cannot fail: invalidation closures are enabled in `new`.
        let _ = c.invalidate_entries_if(move |k, _| k.names(&layer) && ranges.contains(k.tile));
    }

    /// Drops one entry.
    pub fn invalidate(&self, key: &TileKey) {
        if let Some(c) = &self.inner {
            c.invalidate(key);
        }
    }

    pub fn entry_count(&self) -> u64 {
        self.inner.as_ref().map_or(0, |c| {
            c.run_pending_tasks();
            c.entry_count()
        })
    }
}

/// The tiles meeting a set of areas, as inclusive column and row ranges per area and zoom.
struct TileRanges {
    /// `ranges[area][z] = [x0, y0, x1, y1]`.
    ranges: Vec<[[u32; 4]; MAX_ZOOM as usize + 1]>,
}

impl TileRanges {
    fn new(areas: &[Rect<f64>], margin: i32) -> Self {
        let union;
        let areas = if areas.len() > MAX_AREAS {
            union = [union_rects(areas.iter().copied()).expect("more than MAX_AREAS areas")];
            &union[..]
        } else {
            areas
        };
        // One extent unit more than the buffer: quantisation rounds to the nearest unit.
        let margin = f64::from(margin + 1);
        let ranges = areas
            .iter()
            .map(|r| {
                std::array::from_fn(|z| {
                    let z = z as u8;
                    let (x0, y0) = mercator_to_world(r.min().x, r.max().y, z);
                    let (x1, y1) = mercator_to_world(r.max().x, r.min().y, z);
                    let last = f64::from((1u32 << z) - 1);
                    let tile = |w: f64| (w / f64::from(EXTENT)).floor().clamp(0.0, last) as u32;
                    [tile(x0 - margin), tile(y0 - margin), tile(x1 + margin), tile(y1 + margin)]
                })
            })
            .collect();
        Self { ranges }
    }

    fn contains(&self, t: TileCoord) -> bool {
        self.ranges.iter().any(|r| {
            let [x0, y0, x1, y1] = r[usize::from(t.z)];
            (x0..=x1).contains(&t.x) && (y0..=y1).contains(&t.y)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tile::coord::lonlat_to_mercator;

    #[test]
    fn tile_ranges_cover_the_area_and_its_buffer_only() {
        // A 20 m square in Obanazawa.
        let (x, y) = lonlat_to_mercator(140.40, 38.60);
        let area = Rect::new((x, y), (x + 20.0, y + 20.0));
        let r = TileRanges::new(&[area], 64);
        for z in 0..=MAX_ZOOM {
            let inside = TileCoord::containing(140.40001, 38.60001, z);
            assert!(r.contains(inside), "z{z}");
        }
        // Far away tiles are untouched; a neighbour at z18 (20 m ≈ 0.3 tiles) only within reach.
        assert!(!r.contains(TileCoord::containing(140.50, 38.60, 14)));
        let t = TileCoord::containing(140.40001, 38.60001, 18);
        assert!(!r.contains(TileCoord { z: 18, x: t.x + 3, y: t.y }));
        // A buffer is counted: an area ending just short of a tile edge touches the next tile.
        let t = TileCoord::containing(140.40, 38.60, 16);
        let [w, _, e, _] = t.mercator_bounds();
        let edge = Rect::new((w + 1.0, y), (e - 0.5, y + 1.0));
        let r = TileRanges::new(&[edge], 64);
        assert!(r.contains(TileCoord { z: 16, x: t.x + 1, y: t.y }));
        let r = TileRanges::new(&[edge], 0);
        assert!(!r.contains(TileCoord { z: 16, x: t.x + 1, y: t.y }));
    }

    #[test]
    fn invalidating_an_area_drops_only_the_tiles_it_meets() {
        let cache = TileCache::new(1 << 20);
        let key = |layers: &str, lon, lat| TileKey {
            layers: layers.into(),
            tile: TileCoord::containing(lon, lat, 14),
            audience: Audience::Public,
        };
        let near = key("roads,parcels", 140.40, 38.60);
        let far = key("roads", 140.50, 38.60);
        let other_layer = key("parcels", 140.40, 38.60);
        for k in [&near, &far, &other_layer] {
            cache.get_or_render(k.clone(), || vec![1, 2, 3]);
        }
        let (x, y) = lonlat_to_mercator(140.40, 38.60);
        cache.invalidate_areas("roads", &[Rect::new((x - 5.0, y - 5.0), (x + 5.0, y + 5.0))], 64);
        assert!(cache.get(&near).is_none());
        assert!(cache.get(&far).is_some());
        assert!(cache.get(&other_layer).is_some());
    }
}
