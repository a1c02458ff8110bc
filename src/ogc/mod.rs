//! OGC API – Features, the parts that are not HTTP: CRS URIs and axis order ([`crs`]), CQL2
//! filters ([`filter`]) and choosing a page of items ([`items`]). The documents and handlers
//! are in [`crate::http::ogc`].
pub mod crs;
pub mod filter;
pub mod items;
pub mod write;
