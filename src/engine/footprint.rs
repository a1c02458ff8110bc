//! How much memory a layer holds, by structure: what the compact-engine work of issue #20 is
//! measured against, logged per layer at load and exported as a metric.
//!
//! Counted from the structures' capacities (what the allocator was asked for), not from the
//! process's resident size, which also holds allocator slack and freed memory not yet returned:
//! [`return_freed_memory`] gives that back after a layer is built.

use std::collections::HashMap;

use geo_types::Geometry;

use crate::feature::{AttrValue, Feature};

/// Bytes held by one layer (or a part of it), by structure.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// The features in the store's CRS: geometry and attribute values.
    pub features: u64,
    /// The R-tree, Web Mercator bounds, ids and the id index.
    pub index: u64,
    /// The distinct attribute values, encoded for MVT.
    pub values: u64,
    /// Every zoom level's generalised geometry, encoded commands and attributes.
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

/// The bytes of a vector of features, with what each holds on the heap.
pub fn features_bytes(features: &Vec<Feature>) -> u64 {
    vec_bytes(features)
        + features.iter().map(|f| geometry_heap(&f.geometry) + attributes_heap(&f.attributes)).sum::<u64>()
}

fn attributes_heap(a: &Vec<AttrValue>) -> u64 {
    let text = |v: &AttrValue| if let AttrValue::Text(s) = v { s.capacity() as u64 } else { 0 };
    vec_bytes(a) + a.iter().map(text).sum::<u64>()
}

fn geometry_heap(g: &Geometry<f64>) -> u64 {
    use geo_types::{LineString, Polygon};
    let line = |l: &LineString<f64>| vec_bytes(&l.0);
    let polygon = |p: &Polygon<f64>| {
        line(p.exterior()) + std::mem::size_of_val(p.interiors()) as u64 + p.interiors().iter().map(line).sum::<u64>()
    };
    match g {
        Geometry::LineString(l) => line(l),
        Geometry::Polygon(p) => polygon(p),
        Geometry::MultiPoint(mp) => vec_bytes(&mp.0),
        Geometry::MultiLineString(ml) => vec_bytes(&ml.0) + ml.0.iter().map(line).sum::<u64>(),
        Geometry::MultiPolygon(mp) => vec_bytes(&mp.0) + mp.0.iter().map(polygon).sum::<u64>(),
        Geometry::GeometryCollection(gc) => vec_bytes(&gc.0) + gc.0.iter().map(geometry_heap).sum::<u64>(),
        Geometry::Point(_) | Geometry::Line(_) | Geometry::Rect(_) | Geometry::Triangle(_) => 0,
    }
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
