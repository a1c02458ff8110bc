//! Plowed roads: when each road was last plowed by the coverage rule (enough of it driven
//! plowing within the window, [`crate::network::coverage`]), written to the road's
//! `last_plowed_at`, `plowed_class` and `plowed_coverage` (staff) in the store, then the engine
//! (so the roads tiles carry it), and the classes moved on as time passes.

use chrono::{DateTime, Utc};

use super::{Live, LiveError, ROADS, iso_ms, parse_ms};
use crate::catalog::PLOWED_AT_ATTRIBUTE;
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

/// When a road was last plowed, in words for residents, Japanese and English, as seen at `now`
/// in Japan time: 「今朝 5:40 に除雪済み」 / "plowed at 5:40 this morning"; `None`: no plow has
/// passed this season.
pub fn plowed_words(last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> (String, String) {
    use chrono::{Datelike, Timelike};
    let Some(last) = last else {
        return ("今シーズンはまだ除雪車が通っていません".into(), "No plow has passed this season".into());
    };
    let (t, today) = (last.with_timezone(&super::report::jst()), now.with_timezone(&super::report::jst()).date_naive());
    let hm = format!("{}:{:02}", t.hour(), t.minute());
    let days = (today - t.date_naive()).num_days();
    let (ja, en) = match (days, t.hour()) {
        (0, 0..4) => (format!("今日未明 {hm}"), format!("at {hm} early this morning")),
        (0, 4..12) => (format!("今朝 {hm}"), format!("at {hm} this morning")),
        (0, _) => (format!("今日 {hm}"), format!("at {hm} today")),
        (1, 18..) => (format!("昨夜 {hm}"), format!("at {hm} last night")),
        (1, _) => (format!("昨日 {hm}"), format!("yesterday at {hm}")),
        _ => (
            format!("{}月{}日 {hm}", t.month(), t.day()),
            format!(
                "on {} {} at {hm}",
                t.day(),
                ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
                    [t.month0() as usize]
            ),
        ),
    };
    (format!("{ja} に除雪済み"), format!("Plowed {en}"))
}

impl Live {
    /// Writes the plowed time, class and coverage of each road with new passes (see
    /// [`crate::network::coverage`]), keeping a stored plowed time that is newer; then updates
    /// the engine. On failure the roads are kept for next time.
    pub(super) async fn flush_plowed(&self) -> Result<(), LiveError> {
        let pending: Vec<FeatureId> = self.touched.lock().expect("not poisoned").drain().collect();
        if pending.is_empty() {
            return Ok(());
        }
        let (Some(roads), Some(net)) = (self.engine.layer(ROADS), self.network()) else {
            return Ok(());
        };
        let def = &roads.def.clone();
        let (Some(at), Some(share)) =
            (def.attribute_index(PLOWED_AT_ATTRIBUTE), def.attribute_index("plowed_coverage"))
        else {
            return Ok(());
        };
        let now = Utc::now();
        let window_ms = i64::from(self.config.plowed_window_min) * 60_000;
        let rows: Vec<(FeatureId, Vec<Option<String>>)> = {
            let coverage = self.coverage.lock().expect("not poisoned");
            pending
                .iter()
                .filter_map(|id| {
                    let f = roads.get(*id)?;
                    let plowed = coverage.get(id)?.plowed(net.road_length(*id)?, self.config.plowed_share, window_ms);
                    let stored = match &f.attributes[at] {
                        AttrValue::Text(t) => Some(parse_ms(t)),
                        _ => None,
                    };
                    let last = stored.max(plowed.at_ms);
                    let coverage = (plowed.coverage * 1000.0).round() / 1000.0;
                    if last == stored && matches!(f.attributes[share], AttrValue::Real(c) if c == coverage) {
                        return None;
                    }
                    let class = last.map(|ms| plowed_class(now - DateTime::from_timestamp_millis(ms).unwrap_or(now)));
                    Some((*id, vec![last.map(iso_ms), class.map(str::to_owned), Some(coverage.to_string())]))
                })
                .collect()
        };
        drop(roads);
        self.set_plowed(def, &[PLOWED_AT_ATTRIBUTE, "plowed_class", "plowed_coverage"], rows).await.inspect_err(|_| {
            self.touched.lock().expect("not poisoned").extend(pending);
        })
    }

    /// Forgets passes older than the horizon.
    pub(super) fn prune_coverage(&self) {
        let horizon = self.horizon().timestamp_millis();
        let mut coverage = self.coverage.lock().expect("not poisoned");
        for p in coverage.values_mut() {
            p.prune(horizon);
        }
        coverage.retain(|_, p| !p.is_empty());
    }

    async fn set_plowed(
        &self,
        def: &crate::catalog::LayerDef,
        attributes: &[&str],
        rows: Vec<(FeatureId, Vec<Option<String>>)>,
    ) -> Result<(), LiveError> {
        if rows.is_empty() {
            return Ok(());
        }
        let features = self.store.set_derived(def, attributes, &rows).await?;
        if let Err(e) = self.engine.apply_derived(ROADS, features, &[]) {
            tracing::warn!(error = %e, "roads not updated in the engine");
        }
        Ok(())
    }

    /// Moves roads whose plowed time crossed a class boundary into their new class.
    pub(super) async fn reclassify(&self) -> Result<(), LiveError> {
        let Some(roads) = self.engine.layer(ROADS) else {
            return Ok(());
        };
        let def = &roads.def.clone();
        let (Some(at), Some(class)) = (def.attribute_index(PLOWED_AT_ATTRIBUTE), def.attribute_index("plowed_class"))
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
        self.set_plowed(def, &[PLOWED_AT_ATTRIBUTE, "plowed_class"], rows).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residents_hear_when_in_words() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let now = at("2026-01-11T08:30:00+09:00");
        let said = |s: &str| plowed_words(Some(at(s)), now);
        assert_eq!(
            said("2026-01-11T05:40:00+09:00"),
            ("今朝 5:40 に除雪済み".into(), "Plowed at 5:40 this morning".into())
        );
        assert_eq!(said("2026-01-11T02:05:00+09:00").1, "Plowed at 2:05 early this morning");
        assert_eq!(said("2026-01-10T23:10:00+09:00").0, "昨夜 23:10 に除雪済み");
        assert_eq!(said("2026-01-10T09:00:00+09:00").1, "Plowed yesterday at 9:00");
        // Japan time decides the day: 20:00 UTC on the 9th is 05:00 on the 10th in Japan.
        assert_eq!(said("2026-01-09T20:00:00Z").0, "昨日 5:00 に除雪済み");
        assert_eq!(
            said("2026-01-03T16:45:00+09:00"),
            ("1月3日 16:45 に除雪済み".into(), "Plowed on 3 Jan at 16:45".into())
        );
        assert_eq!(plowed_words(None, now).1, "No plow has passed this season");
        let afternoon = at("2026-01-11T15:00:00+09:00");
        assert_eq!(plowed_words(Some(at("2026-01-11T14:20:00+09:00")), afternoon).0, "今日 14:20 に除雪済み");
    }

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
