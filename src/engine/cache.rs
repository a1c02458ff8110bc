//! The in-memory tile cache: encoded tiles by (layers, tile, audience), bounded in bytes.
//!
//! Each entry keeps the raw MVT bytes, their ETag, and a gzip copy made on first demand, so a
//! hot tile is compressed once, not per request. Concurrent misses for one key are coalesced:
//! one request renders, the others wait for its result. Entries naming a layer are dropped
//! when that layer changes.

use std::io::Write;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use moka::sync::Cache;

use crate::catalog::Audience;
use crate::tile::TileCoord;

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
        self.gzip
            .get_or_init(|| {
                let mut enc = GzEncoder::new(Vec::with_capacity(self.raw.len() / 2), Compression::new(4));
                enc.write_all(&self.raw).expect("writing to a Vec cannot fail");
                Bytes::from(enc.finish().expect("writing to a Vec cannot fail"))
            })
            .clone()
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

    pub fn entry_count(&self) -> u64 {
        self.inner.as_ref().map_or(0, |c| {
            c.run_pending_tasks();
            c.entry_count()
        })
    }
}
