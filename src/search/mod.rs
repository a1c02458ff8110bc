//! Search: finding parcels by 地番 and features by name (issue #5). So far the 地番 query
//! normaliser and ranking ([`chiban`]), which the search routes build on.

pub mod chiban;
