//! Tile maths and Mapbox Vector Tile encoding: pure functions, no I/O.
//!
//! - [`coord`]: tile addresses (`TileCoord`), Web Mercator bounds and the integer "world extent
//!   space" in which the engine keeps geometry per zoom.
//! - [`clip`]: clipping of rings and polylines to a (buffered) tile rectangle in integer space.
//! - [`mvt`]: a hand-written MVT 2.1 encoder that writes protobuf bytes directly: command
//!   encoding, zig-zag deltas, ring winding and per-layer key/value tables.
//!
//! This module knows nothing about layers, stores or HTTP; the engine drives it.

pub mod clip;
pub mod coord;
pub mod mvt;

pub use coord::{EXTENT, MAX_ZOOM, TileCoord, TileCoordError};
