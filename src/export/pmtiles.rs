//! The public layers as one PMTiles v3 archive (`machizu export --format pmtiles`): every tile
//! the public map would ask machizu for, over a zoom range, rendered by the engine exactly as
//! `GET /tiles/{layers}/{z}/{x}/{y}.mvt` answers the public (public attributes only), gzip,
//! identical tiles stored once, in tile-id (Hilbert) order so the archive is clustered. A city
//! puts the file on its web server or CDN, and the public map reads it with the `pmtiles`
//! protocol when machizu is not there (a storm of visitors).
//!
//! The PMTiles format is written by the `pmtiles` crate's writer; machizu only chooses the
//! tiles and renders them.

use std::io::{Seek, Write};
use std::ops::RangeInclusive;

use pmtiles::{PmTilesWriter, TileCoord as PmCoord, TileId, TileType};
use rayon::prelude::*;

use super::ExportError;
use crate::catalog::{AttrType, Audience, LayerDef};
use crate::engine::Engine;
use crate::tile::TileCoord;

/// The archive's metadata (TileJSON 3.0 fields, as the PMTiles specification asks): its name,
/// the attribution (the dataset notice first: synthetic demo data says so), and each vector
/// layer with its public attributes — the polygon layers' label layers too.
pub fn metadata(config: &crate::config::Config, layers: &[&LayerDef], dataset: Option<&str>) -> serde_json::Value {
    use serde_json::json;
    let mut vector_layers = Vec::new();
    for l in layers {
        let fields: serde_json::Map<String, serde_json::Value> = l
            .visible_attributes(Audience::Public)
            .map(|(_, a)| {
                let kind = match a.kind {
                    AttrType::Integer | AttrType::Real => "Number",
                    AttrType::Boolean => "Boolean",
                    AttrType::Text | AttrType::Date | AttrType::DateTime => "String",
                };
                (a.name.clone(), json!(kind))
            })
            .collect();
        vector_layers.push(json!({"id": l.id.as_str(), "description": format!("{} / {}", l.title.ja, l.title.en), "minzoom": l.minzoom, "maxzoom": l.maxzoom, "fields": fields}));
        if let Some(label) = l.label_points_at(l.maxzoom).and_then(|_| l.label_for(Audience::Public)) {
            let mut fields = serde_json::Map::new();
            for name in std::iter::once(&label.text).chain(label.text_en.as_ref()) {
                fields.insert(name.clone(), json!("String"));
            }
            let minzoom = label.minzoom.min(label.print_minzoom.unwrap_or(label.minzoom)).max(l.minzoom);
            vector_layers
                .push(json!({"id": l.label_layer_name(), "minzoom": minzoom, "maxzoom": l.maxzoom, "fields": fields}));
        }
    }
    let attribution: Vec<&str> =
        dataset.into_iter().chain(layers.iter().filter_map(|l| l.file.as_ref()?.attribution.as_deref())).collect();
    json!({
        "name": format!("{} (machizu)", config.city.name_ja),
        "description": dataset.unwrap_or_default(),
        "attribution": attribution.join(" / "),
        "type": "overlay",
        "format": "pbf",
        "generator": concat!("machizu ", env!("CARGO_PKG_VERSION")),
        "vector_layers": vector_layers,
    })
}

/// Tiles rendered at once (in parallel) before they are written in order.
const BATCH: usize = 4096;

/// Writes `layers` (ids of public layers loaded in `engine`) at `zooms` over `bounds`
/// (`[west, south, east, north]` in degrees) to `out`, with `metadata` (a TileJSON-like object).
/// `progress(z, done, total)` is called as each batch of a zoom is written. Returns how many
/// tiles hold data (the writer stores identical ones once).
pub fn write<W: Write + Seek>(
    engine: &Engine,
    layers: &[String],
    zooms: RangeInclusive<u8>,
    bounds: [f64; 4],
    metadata: &serde_json::Value,
    out: W,
    mut progress: impl FnMut(u8, usize, usize),
) -> Result<u64, ExportError> {
    let [west, south, east, north] = bounds;
    let centre_z = (*zooms.start()).max((*zooms.end()).min(14));
    let mut writer = PmTilesWriter::new(TileType::Mvt)
        .min_zoom(*zooms.start())
        .max_zoom(*zooms.end())
        .bounds(west, south, east, north)
        .center((west + east) / 2.0, (south + north) / 2.0)
        .center_zoom(centre_z)
        .metadata(metadata.to_string())
        .create(out)?;
    let mut written = 0;
    for z in zooms {
        // Every tile of the zoom that meets the bounds, and the ring around them (whose buffer
        // may hold a feature's edge), in tile-id order.
        let (a, b) = (TileCoord::containing(west, north, z), TileCoord::containing(east, south, z));
        let last = (1u32 << z) - 1;
        let (xs, ys) = (a.x.saturating_sub(1)..=(b.x + 1).min(last), a.y.saturating_sub(1)..=(b.y + 1).min(last));
        let mut tiles: Vec<(u64, TileCoord)> = xs
            .flat_map(|x| ys.clone().map(move |y| (x, y)))
            .map(|(x, y)| {
                let id = TileId::from(PmCoord::new(z, x, y).expect("a tile of the zoom")).value();
                (id, TileCoord { z, x, y })
            })
            .collect();
        tiles.sort_unstable_by_key(|&(id, _)| id);
        let total = tiles.len();
        for (i, chunk) in tiles.chunks(BATCH).enumerate() {
            let rendered: Vec<Vec<u8>> =
                chunk.par_iter().map(|&(_, t)| engine.render(layers, t, Audience::Public)).collect();
            for ((_, t), raw) in chunk.iter().zip(rendered) {
                if raw.is_empty() {
                    continue;
                }
                written += 1;
                writer.add_tile(PmCoord::new(t.z, t.x, t.y)?, &raw)?;
            }
            progress(z, (i * BATCH + chunk.len()).min(total), total);
        }
    }
    writer.finalize()?;
    Ok(written)
}
