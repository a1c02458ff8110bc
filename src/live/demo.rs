//! Simulated plows for the synthetic demo city: a few plows drive night routes through the town
//! and report through the live pipeline like real trackers (a fix every [`REPORT_EVERY`]), so a
//! newcomer who opens the map sees plows moving, trails and plowed roads within a minute. They
//! run only over the demo city (`machizu serve` checks the store's synthetic-data mark), are
//! labelled synthetic (デモ・架空), and `[live] demo_plows = 0` or `--no-demo-plows` turns them
//! off.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use geo::Coord;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use super::fix::Fix;
use super::vehicle::{NewVehicle, VehicleKind};
use super::{Live, LiveError};
use crate::crs::{Epsg, with_transformer};
use crate::network::drive::{Drive, DriveParams, drive};

/// How often a simulated plow reports (a common tracker interval).
pub const REPORT_EVERY: Duration = Duration::from_secs(5);
/// The meta key of the secret the demo plows' device credentials are derived from.
const SECRET_KEY: &str = "machizu:demo_plow_secret";

/// Registers the demo plows (once) and starts driving them.
pub async fn spawn(live: Arc<Live>, count: u32, centre: [f64; 2]) -> Result<(), LiveError> {
    let store = live.store().clone();
    let secret = match store.meta(SECRET_KEY).await? {
        Some(s) => s,
        None => {
            let s = hex::encode(rand::random::<[u8; 20]>());
            store.set_meta(SECRET_KEY, &s).await?;
            s
        }
    };
    let registered = store.vehicles().await?;
    let mut devices = Vec::new();
    for n in 1..=count {
        let id = format!("demo-plow-{n}");
        let credential = hex::encode(&Sha256::digest(format!("{secret}:{id}"))[..20]);
        if !registered.iter().any(|v| v.id == id) {
            let mut new = NewVehicle::generate(
                &id,
                &format!("デモ除雪車{n}号（架空）"),
                if n % 3 == 0 { VehicleKind::Blower } else { VehicleKind::Plow },
                Some("デモ（架空のデータ / synthetic）".into()),
                Some(format!("デモ除雪車{n}（架空 / synthetic）")),
                true,
            )
            .map_err(|e| LiveError::Config(e.to_string()))?;
            new.hash = crate::auth::hash_token(&credential);
            new.credential = credential.clone();
            live.add_vehicle(&new).await?;
        }
        devices.push(credential);
    }
    tokio::spawn(run(Arc::downgrade(&live), devices, centre));
    Ok(())
}

/// Drives the plows: each follows a simulated drive from near the centre, reporting its
/// position every [`REPORT_EVERY`].
async fn run(live: std::sync::Weak<Live>, devices: Vec<String>, centre: [f64; 2]) {
    let params = DriveParams { leg_m: (300.0, 1500.0), stop_s: (10, 60), ..DriveParams::default() };
    let mut rng = ChaCha8Rng::seed_from_u64(Utc::now().timestamp() as u64);
    let mut drives: Vec<Option<(Drive, i64)>> = vec![None; devices.len()];
    let mut tick = tokio::time::interval(REPORT_EVERY);
    loop {
        tick.tick().await;
        let Some(live) = live.upgrade() else { return };
        let Some(net) = live.network() else { continue };
        let crs = live.store().crs();
        let now = Utc::now();
        let ms = now.timestamp_millis();
        let mut fixes = Vec::new();
        for (k, device) in devices.iter().enumerate() {
            let done = drives[k].as_ref().is_none_or(|(d, start)| d.samples.last().is_none_or(|s| s.ms < ms - start));
            if done {
                // Start near the centre (each plow a little apart), or go on from where it is.
                let from = match &drives[k] {
                    Some((d, _)) => {
                        d.route.last().map(|(s, _, _)| crate::network::Position { edge: s.edge, offset: s.to })
                    }
                    None => with_transformer(Epsg::WGS84, crs, |t| t.point(centre[0], centre[1]))
                        .ok()
                        .and_then(Result::ok)
                        .and_then(|(x, y)| net.nearby(Coord { x, y }, 1500.0, devices.len()).get(k).map(|n| n.at)),
                };
                let d = drive(&net, &mut rng, &params, 0, 30 * 60, from);
                drives[k] = Some((d, ms));
            }
            let Some((d, start)) = &drives[k] else { continue };
            let i = d.samples.partition_point(|s| s.ms <= ms - start).saturating_sub(1);
            let Some(s) = d.samples.get(i) else { continue };
            let Ok(Ok((lon, lat))) = with_transformer(crs, Epsg::WGS84, |t| t.point(s.at.x, s.at.y)) else { continue };
            fixes.push(Fix {
                device: device.clone(),
                time: now,
                lon,
                lat,
                speed_mps: Some(s.speed_mps),
                heading_deg: Some(s.heading_deg.rem_euclid(360.0)),
                altitude_m: None,
                accuracy_m: Some(5.0),
                hdop: None,
                battery_pct: None,
                blade_down: Some(s.blade_down),
                spreader_on: None,
                extra: Default::default(),
            });
        }
        if let Err(e) = live.ingest(fixes).await {
            tracing::warn!(error = %e, "demo plows not moved");
        }
    }
}
