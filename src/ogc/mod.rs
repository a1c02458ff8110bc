//! OGC API – Features: CRS handling ([`crs`]).
pub mod crs;
