//! Two machizu processes on one PostGIS database follow changes made by someone else (psql):
//! an update shows in the next tile from both within a second, a moved feature leaves its old
//! tile and enters its new one, a deleted feature disappears, and cached tiles the change does
//! not touch stay cached (seen through each server's `X-Cache` header).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use machizu::app::App;
use machizu::config::{Config, Secret};
use machizu::tile::TileCoord;
use support::vector_tile::{decode, value_string};

/// A `machizu serve` process on the database.
struct Server(support::Serving);

impl Server {
    /// GETs a tile of `roads`; returns the `X-Cache` header and the body.
    fn tile(&self, t: TileCoord) -> (String, Vec<u8>) {
        let mut s = TcpStream::connect(&self.0.addr).unwrap();
        let path = format!("/tiles/roads/{}/{}/{}.mvt", t.z, t.x, t.y);
        write!(s, "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", self.0.addr).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP response");
        let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
        assert!(head.starts_with("http/1.1 200") || head.starts_with("http/1.1 204"), "{head}");
        let cache = head.lines().find_map(|l| l.strip_prefix("x-cache: ")).expect("an X-Cache header").to_owned();
        (cache, raw[split + 4..].to_vec())
    }

    /// The `name` of road `fid` in tile `t`, if the tile has it.
    fn road_name(&self, t: TileCoord, fid: i64) -> Option<String> {
        let (_, body) = self.tile(t);
        if body.is_empty() {
            return None;
        }
        let tile = decode(&body);
        let layer = tile.layers.iter().find(|l| l.name == "roads")?;
        let f = layer.features.iter().find(|f| f.id == Some(fid as u64))?;
        let name = layer.keys.iter().position(|k| k == "name")? as u32;
        f.tags.chunks(2).find(|kv| kv[0] == name).map(|kv| value_string(&layer.values[kv[1] as usize]))
    }
}

fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql").args([url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql]).output().expect("psql runs");
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A road near a point: its fid and the z14 tile holding its middle.
fn road_near(url: &str, lon: f64, lat: f64) -> (i64, TileCoord) {
    let row = psql(
        url,
        &format!(
            "SELECT fid, ST_X(p), ST_Y(p) FROM (SELECT fid, ST_Transform(ST_LineInterpolatePoint(geom, 0.5), 4326) p \
             FROM roads ORDER BY geom <-> ST_Transform(ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326), 6678) LIMIT 1) r"
        ),
    );
    let v: Vec<&str> = row.split('|').collect();
    (v[0].parse().unwrap(), TileCoord::containing(v[1].parse().unwrap(), v[2].parse().unwrap(), 14))
}

/// Waits until `done` holds for every server; returns how long that took. Fails after 1 s.
fn within_a_second(servers: &[&Server], what: &str, done: impl Fn(&Server) -> bool) -> Duration {
    let start = Instant::now();
    let mut pending: Vec<&Server> = servers.to_vec();
    while !pending.is_empty() {
        pending.retain(|s| !done(s));
        assert!(start.elapsed() < Duration::from_secs(1), "{what}: not seen within 1 s by {} server(s)", pending.len());
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
async fn psql_changes_reach_two_servers_within_a_second_and_only_touched_tiles_are_dropped() {
    let url = support::fresh_database().await;
    // Fill the database with the demo city, then let go of it.
    let config = Config { database_url: Some(Secret(url.clone())), snapshots: false, ..Config::defaults() };
    drop(App::open(config).await.unwrap());

    let (a, b) = (Server(support::Serving::postgis(&url)), Server(support::Serving::postgis(&url)));
    let servers = [&a, &b];
    let (renamed, t_renamed) = road_near(&url, 140.406, 38.600);
    let (moved, t_moved) = road_near(&url, 140.420, 38.590);
    let (deleted, t_deleted) = road_near(&url, 140.395, 38.610);
    // A tile of the city well away from all three (about 4 km south-west).
    let far = TileCoord::containing(140.37, 38.57, 14);
    assert!(![t_renamed, t_moved, t_deleted].contains(&far));
    for s in servers {
        assert!(s.road_name(t_renamed, renamed).is_some(), "road {renamed} is in tile {t_renamed}");
        assert!(s.road_name(t_deleted, deleted).is_some());
        assert!(s.road_name(t_moved, moved).is_some());
        let (_, body) = s.tile(far);
        assert!(!body.is_empty(), "the far tile has roads");
        assert_eq!(s.tile(far).0, "hit", "the far tile is cached");
    }

    // An attribute changes.
    psql(&url, &format!("UPDATE roads SET name = '雪見通り（試験）' WHERE fid = {renamed}"));
    let took = within_a_second(&servers, "renamed road", |s| {
        s.road_name(t_renamed, renamed).as_deref() == Some("雪見通り（試験）")
    });
    eprintln!("rename seen by both servers after {took:?}");

    // A geometry moves 2 km east: it leaves its old tile and shows in its new one.
    psql(&url, &format!("UPDATE roads SET geom = ST_Translate(geom, 2000, 0) WHERE fid = {moved}"));
    let new_tile = {
        let [w, s, e, n] = t_moved.mercator_bounds();
        let (lon, lat) = machizu::tile::coord::mercator_to_lonlat((w + e) / 2.0, (s + n) / 2.0);
        let row = psql(
            &url,
            &format!(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_LineInterpolatePoint(geom, 0.5), 4326) p \
                 FROM roads WHERE fid = {moved}) r"
            ),
        );
        let v: Vec<f64> = row.split('|').map(|x| x.parse().unwrap()).collect();
        assert!(v[0] > lon, "moved east of {lon},{lat}");
        TileCoord::containing(v[0], v[1], 14)
    };
    assert_ne!(new_tile, t_moved);
    let took = within_a_second(&servers, "moved road", |s| {
        s.road_name(t_moved, moved).is_none() && s.road_name(new_tile, moved).is_some()
    });
    eprintln!("move seen by both servers after {took:?}");

    // A feature is deleted.
    psql(&url, &format!("DELETE FROM roads WHERE fid = {deleted}"));
    let took = within_a_second(&servers, "deleted road", |s| s.road_name(t_deleted, deleted).is_none());
    eprintln!("delete seen by both servers after {took:?}");

    // None of it touched the far tile: both servers still answer it from their cache.
    for s in servers {
        assert_eq!(s.tile(far).0, "hit", "the far tile stayed cached on {}", s.0.addr);
    }
    // While the changed tile was rendered afresh after the change, then cached again.
    for s in servers {
        assert_eq!(s.tile(t_renamed).0, "hit");
    }
}
