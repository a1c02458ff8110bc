//! machizu (町図): an integrated GIS tile and geodata server for Japanese municipalities.
//!
//! Read `docs/ARCHITECTURE.md` first. In one line: [`store`] keeps the layers, [`engine`]
//! holds them in memory generalised per zoom, [`tile`] encodes vector tiles, [`http`] serves
//! them with the feature API ([`ogc`]), spatial questions ([`query`]) and search ([`search`]) to
//! the callers [`auth`] allows, [`follow`] keeps the engine in step with changes to the store,
//! [`import`] reads the files cities hold, [`export`] writes public layers as open data, and
//! [`app`] wires these together from a [`config::Config`].

pub mod app;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod crs;
pub mod demo;
pub mod engine;
pub mod export;
pub mod feature;
pub mod follow;
pub mod http;
pub mod import;
pub mod layers;
pub mod live;
pub mod metrics;
pub mod mqtt;
pub mod network;
pub mod notices;
pub mod ogc;
pub mod print;
pub mod priority;
pub mod query;
pub mod search;
pub mod sensors;
pub mod store;
pub mod text;
pub mod tile;
pub mod users;
