//! How much memory a layer holds, by structure: what the compact-engine work of issue #20 is
//! measured against, logged per layer at load and exported as a metric.
//!
//! Counted from the structures' capacities (what the allocator was asked for), not from the
//! process's resident size, which also holds allocator slack and freed memory not yet returned:
//! [`tune_allocator`] keeps large arrays out of the allocator's heaps, and
//! [`return_freed_memory`] gives back what was freed after a layer is built.

use std::collections::HashMap;

/// Bytes held by one layer (or a part of it), by structure.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// The features in the store's CRS: geometry (WKB), attributes (value ids) and the cache of
    /// their GeoJSON in CRS84.
    pub features: u64,
    /// The box index (a packed R-tree) and the ids.
    pub index: u64,
    /// The distinct attribute values, encoded for MVT.
    pub values: u64,
    /// Every zoom level's generalised geometry (counted once where levels share it), encoded
    /// commands and own attributes.
    pub levels: u64,
    /// Every zoom level's per-tile feature lists.
    pub tiles: u64,
}

impl Footprint {
    pub fn total(&self) -> u64 {
        self.features + self.index + self.values + self.levels + self.tiles
    }

    /// The parts by name, for logs and metrics.
    pub fn parts(&self) -> [(&'static str, u64); 5] {
        [
            ("features", self.features),
            ("index", self.index),
            ("values", self.values),
            ("levels", self.levels),
            ("tiles", self.tiles),
        ]
    }
}

impl std::ops::AddAssign for Footprint {
    fn add_assign(&mut self, o: Self) {
        self.features += o.features;
        self.index += o.index;
        self.values += o.values;
        self.levels += o.levels;
        self.tiles += o.tiles;
    }
}

/// The heap bytes of a vector's buffer.
pub fn vec_bytes<T>(v: &Vec<T>) -> u64 {
    (v.capacity() * std::mem::size_of::<T>()) as u64
}

/// The heap bytes of a hash map's table (entries and one control byte each).
pub fn map_bytes<K, V>(m: &HashMap<K, V>) -> u64 {
    (m.capacity() * (std::mem::size_of::<(K, V)>() + 1)) as u64
}

/// Gives the memory freed since the last call back to the operating system. Building a layer
/// allocates several times what it keeps (the features as loaded, a Web Mercator copy, every
/// level built in parallel on its own thread): glibc keeps what was freed in each thread's arena,
/// and the process stays as large as at its peak. `malloc_trim` releases the free pages in every
/// arena. Elsewhere than glibc, nothing.
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Makes glibc give every allocation of [`MMAP_THRESHOLD`] or more a mapping of its own,
/// returned to the system when freed. Called once at start, before any thread.
///
/// By default glibc raises that threshold (up to 32 MiB) each time such a block is freed, so
/// after the first few the large arrays a layer is built in are carved from the heaps, between
/// what lives on, and their pages stay resident after they are freed. Measured with 1 M parcels
/// after load and 20 s of tiles: 633 MiB resident on a first start, 587 on a restart; fixed at
/// 1 MiB, 558 and 560. Tiles (at most 480 KiB) and the render's buffers stay below it.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator; it is called before any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
    }
}

/// See [`tune_allocator`].
const MMAP_THRESHOLD: usize = 1 << 20;
