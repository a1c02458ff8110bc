//! Copying every layer from one store to another — `machizu db push` (GeoPackage → PostGIS) and
//! `machizu db pull` (PostGIS → GeoPackage).
//!
//! Lossless by construction: both stores hold geometry in the same CRS (a copy between CRSs is
//! refused rather than reprojected), geometry travels as WKB of the same doubles, and ids,
//! attribute values, row versions and times are kept. The target is replaced in one
//! transaction: it ends up exactly like the source, or unchanged.

use super::{Store, StoreError};
use crate::catalog::Catalog;
use crate::demo;

/// Metadata entries that travel with the data.
const META_KEYS: &[&str] = &[demo::META_KEY];

/// What a copy wrote: features per layer, in catalog order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub layers: Vec<(String, usize)>,
}

/// Copies every catalog layer of `from`, and every layer made from a file, into `to`. Without `replace`, a target that already
/// holds features is refused.
pub async fn copy(
    from: &dyn Store,
    to: &dyn Store,
    catalog: &Catalog,
    replace: bool,
) -> Result<CopyReport, StoreError> {
    let refuse = |message: String| StoreError::Schema { layer: "(copy)".into(), message };
    if from.crs() != to.crs() {
        return Err(refuse(format!(
            "the source holds geometry in {} and the target in {}; a copy would reproject, so it is refused",
            from.crs(),
            to.crs()
        )));
    }
    from.prepare(catalog).await?;
    to.prepare(catalog).await?;
    // The layers made from files travel too, definitions and data.
    let defs = from.layer_defs().await?;
    let mut all = catalog.clone();
    for def in &defs {
        all.push(def.clone()).map_err(|e| refuse(e.to_string()))?;
    }
    if !replace {
        if let Some(def) = to.layer_defs().await?.first() {
            return Err(refuse(format!(
                "the target already holds layer {} made from a file; pass --replace to overwrite it",
                def.id
            )));
        }
        for layer in catalog.layers() {
            let n = to.count(layer).await?;
            if n > 0 {
                return Err(refuse(format!(
                    "the target already holds {n} features in layer {}; pass --replace to overwrite it",
                    layer.id
                )));
            }
        }
    }
    let mut layers = Vec::new();
    for layer in all.layers() {
        layers.push((layer.clone(), from.export(layer).await?));
    }
    // The target ends up with the source's entries, and without those the source lacks (a
    // real city pushed over the demo must not keep the demo's "synthetic" notice).
    let mut meta = Vec::new();
    for key in META_KEYS {
        meta.push(((*key).to_owned(), from.meta(key).await?));
    }
    to.replace(&defs, &layers, &meta).await?;
    Ok(CopyReport { layers: layers.iter().map(|(l, r)| (l.id.to_string(), r.len())).collect() })
}
