//! Plowed roads: the newest time a plowing vehicle was matched to each road, written to the
//! road's `last_plowed_at` and `plowed_class` in the store (then the engine, so the roads tiles
//! carry it), and the classes moved on as time passes.

use chrono::{DateTime, Utc};

use super::{Live, LiveError, ROADS, parse_ms};
use crate::feature::{AttrValue, FeatureId};

/// The plowed-status class of a road last plowed `age` ago.
pub fn plowed_class(age: chrono::Duration) -> &'static str {
    match age.num_minutes() {
        ..60 => "under_1h",
        60..180 => "1_3h",
        180..360 => "3_6h",
        360..720 => "6_12h",
        _ => "over_12h",
    }
}

impl Live {
    /// Writes the newest matched time of each road whose stored `last_plowed_at` is older,
    /// with its class, then updates the engine. On failure the times are kept for next time.
    pub(super) async fn flush_plowed(&self) -> Result<(), LiveError> {
        let pending: Vec<(FeatureId, String)> = self.plowed.lock().expect("not poisoned").drain().collect();
        let (Some(roads), Some(def)) = (self.engine.layer(ROADS), self.engine.catalog().get(ROADS)) else {
            return Ok(());
        };
        let Some(at) = def.attribute_index("last_plowed_at") else { return Ok(()) };
        let now = Utc::now();
        let rows: Vec<(FeatureId, Vec<Option<String>>)> = pending
            .iter()
            .filter(|(id, t)| {
                roads.get(*id).is_some_and(|f| match &f.attributes[at] {
                    AttrValue::Text(old) => parse_ms(old) < parse_ms(t),
                    _ => true,
                })
            })
            .map(|(id, t)| {
                let age = now - DateTime::parse_from_rfc3339(t).map_or(now, |t| t.with_timezone(&Utc));
                (*id, vec![Some(t.clone()), Some(plowed_class(age).to_owned())])
            })
            .collect();
        drop(roads);
        self.set_plowed(def, rows).await.inspect_err(|_| {
            let mut plowed = self.plowed.lock().expect("not poisoned");
            for (id, t) in pending {
                let e = plowed.entry(id).or_default();
                if *e < t {
                    *e = t;
                }
            }
        })
    }

    async fn set_plowed(
        &self,
        def: &crate::catalog::LayerDef,
        rows: Vec<(FeatureId, Vec<Option<String>>)>,
    ) -> Result<(), LiveError> {
        if rows.is_empty() {
            return Ok(());
        }
        let features = self.store.set_derived(def, &["last_plowed_at", "plowed_class"], &rows).await?;
        if let Err(e) = self.engine.apply_changes(ROADS, features, &[]) {
            tracing::warn!(error = %e, "roads not updated in the engine");
        }
        Ok(())
    }

    /// Moves roads whose plowed time crossed a class boundary into their new class.
    pub(super) async fn reclassify(&self) -> Result<(), LiveError> {
        let (Some(roads), Some(def)) = (self.engine.layer(ROADS), self.engine.catalog().get(ROADS)) else {
            return Ok(());
        };
        let (Some(at), Some(class)) = (def.attribute_index("last_plowed_at"), def.attribute_index("plowed_class"))
        else {
            return Ok(());
        };
        let now = Utc::now();
        let rows: Vec<(FeatureId, Vec<Option<String>>)> = roads
            .features()
            .filter_map(|f| {
                let AttrValue::Text(t) = &f.attributes[at] else { return None };
                let age = now - DateTime::parse_from_rfc3339(t).ok()?.with_timezone(&Utc);
                let want = plowed_class(age);
                (!matches!(&f.attributes[class], AttrValue::Text(c) if c == want))
                    .then(|| (f.id, vec![Some(t.clone()), Some(want.to_owned())]))
            })
            .collect();
        drop(roads);
        self.set_plowed(def, rows).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_by_age() {
        let m = chrono::Duration::minutes;
        let classes: Vec<&str> = [0, 59, 60, 179, 180, 359, 360, 719, 720, 10_000].map(|n| plowed_class(m(n))).to_vec();
        assert_eq!(
            classes,
            ["under_1h", "under_1h", "1_3h", "1_3h", "3_6h", "3_6h", "6_12h", "6_12h", "over_12h", "over_12h"]
        );
    }
}
