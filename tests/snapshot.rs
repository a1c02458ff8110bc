//! Engine snapshots (src/engine/snapshot.rs) across real restarts of the app on the demo city:
//! a snapshot serves the very tiles a build from the store would; a layer changed in the store
//! while machizu was down (by another program, straight into the GeoPackage) is built from the
//! store and no stale tile is served; a truncated, corrupted or other-version snapshot is
//! discarded and replaced.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use machizu::app::App;
use machizu::catalog::Audience;
use machizu::config::Config;
use machizu::crs::{Epsg, Transformer};
use machizu::engine::snapshot::{self, SnapshotError, Stamp};
use machizu::follow::Loaded;
use machizu::store::gpkg::FILE_NAME;
use machizu::tile::TileCoord;

/// A data directory holding a copy of the demo city.
async fn demo_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(support::demo_gpkg().await, dir.path().join(FILE_NAME)).unwrap();
    dir
}

/// The app over `dir`, with or without snapshots, and with no simulated plows (they would
/// change the roads while it runs).
async fn open(dir: &Path, snapshots: bool) -> App {
    let mut config = Config { data_dir: dir.to_owned(), demo: false, snapshots, ..Config::defaults() };
    config.live.demo_plows = 0;
    App::open(config).await.unwrap()
}

fn snapshot_path(dir: &Path, layer: &str) -> PathBuf {
    snapshot::path(&dir.join("snapshots"), layer)
}

/// Waits until every layer the app loaded from the store has its snapshot written (they are
/// written on another thread), and returns their modification times.
fn written(app: &App, dir: &Path, since: std::time::SystemTime) -> Vec<(String, std::time::SystemTime)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    app.loaded
        .iter()
        .filter(|(_, from)| *from == Loaded::Store)
        .map(|(layer, _)| {
            loop {
                let modified = std::fs::metadata(snapshot_path(dir, layer)).and_then(|m| m.modified());
                match modified {
                    Ok(t) if t >= since => break (layer.clone(), t),
                    _ => {
                        assert!(Instant::now() < deadline, "no snapshot of {layer} was written");
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
        })
        .collect()
}

fn loaded(app: &App, layer: &str) -> Loaded {
    app.loaded.iter().find(|(l, _)| l == layer).map(|&(_, from)| from).unwrap()
}

/// Tiles in a 3 × 3 block around the centre of the demo city at every zoom from 8 to 18.
fn tiles() -> Vec<TileCoord> {
    let (z0, x0, y0) = support::CENTRE_Z14;
    let mut tiles = Vec::new();
    for z in 8..=18u8 {
        let (x, y) = if z <= z0 { (x0 >> (z0 - z), y0 >> (z0 - z)) } else { (x0 << (z - z0), y0 << (z - z0)) };
        for dx in 0..3 {
            for dy in 0..3 {
                tiles.push(TileCoord::new(z.into(), u64::from(x + dx - 1), u64::from(y + dy - 1)).unwrap());
            }
        }
    }
    tiles
}

/// Every tile of every layer, as staff see them.
fn render_all(app: &App) -> Vec<Vec<u8>> {
    let layers: Vec<String> = app.engine.catalog().layers().iter().map(|l| l.id.to_string()).collect();
    tiles()
        .into_iter()
        .flat_map(|t| layers.iter().map(move |l| (t, l.clone())))
        .map(|(t, l)| app.engine.render(&[l], t, Audience::Staff))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_serves_from_snapshots_the_tiles_a_build_would() {
    let dir = demo_dir().await;
    let started = std::time::SystemTime::now();
    let first = open(dir.path(), true).await;
    assert!(first.loaded.iter().all(|(_, from)| *from == Loaded::Store), "no snapshot yet: {:?}", first.loaded);
    let built = render_all(&first);
    assert!(built.iter().filter(|t| !t.is_empty()).count() > 100, "the block holds the city");
    written(&first, dir.path(), started);
    drop(first);

    let second = open(dir.path(), true).await;
    assert!(second.loaded.iter().all(|(_, from)| *from == Loaded::Snapshot), "{:?}", second.loaded);
    let served = render_all(&second);
    assert!(built == served, "tiles from snapshots differ from tiles built from the store");

    // What is not in the file — the R-tree, the value lookup — is made on first use and agrees.
    let parcels = second.engine.layer("parcels").unwrap();
    let fresh = open(dir.path(), false).await;
    let reference = fresh.engine.layer("parcels").unwrap();
    let some = reference.features().take(3).collect::<Vec<_>>();
    use geo::BoundingRect;
    let near = some[0].geometry.bounding_rect().unwrap();
    let area = geo_types::Rect::new(near.min() - (300.0, 300.0).into(), near.max() + (300.0, 300.0).into());
    let ids = |l: &machizu::engine::LayerData| {
        let mut v: Vec<u64> = l.in_box(area).map(|s| l.id(s) as u64).collect();
        v.sort_unstable();
        v
    };
    assert!(!ids(&reference).is_empty(), "the query area holds parcels");
    assert_eq!(ids(&parcels), ids(&reference));
    for f in &some {
        assert_eq!(parcels.get(f.id).as_ref(), Some(f));
    }
    // An edit after a snapshot load interns its values against the base's.
    let mut edited = some[0].clone();
    edited.geometry = some[1].geometry.clone();
    second.engine.apply_changes("parcels", vec![edited.clone()], &[]).unwrap();
    let after = second.engine.layer("parcels").unwrap();
    assert_eq!(after.get(edited.id), Some(edited));
    assert_eq!(after.value_count(), parcels.value_count(), "an edit with known values adds none");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_layer_changed_while_down_is_built_from_the_store_and_serves_no_stale_tile() {
    let dir = demo_dir().await;
    let started = std::time::SystemTime::now();
    let first = open(dir.path(), true).await;
    let times = written(&first, dir.path(), started);
    drop(first);

    // Another program edits a parcel straight in the GeoPackage while machizu is down.
    let marker = "STALE-SNAPSHOT-CHECK";
    let url = format!("sqlite://{}", dir.path().join(FILE_NAME).display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let fid: i64 = sqlx::query_scalar("SELECT min(fid) FROM parcels").fetch_one(&pool).await.unwrap();
    sqlx::query("UPDATE parcels SET owner_name = ?1 WHERE fid = ?2")
        .bind(marker)
        .bind(fid)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let restarted = std::time::SystemTime::now();
    let second = open(dir.path(), true).await;
    assert_eq!(loaded(&second, "parcels"), Loaded::Store, "the parcels' snapshot is stale");
    assert_eq!(loaded(&second, "roads"), Loaded::Snapshot, "the roads did not change");
    let parcels = second.engine.layer("parcels").unwrap();
    let feature = parcels.get(fid).unwrap();
    let i = parcels.def.attribute_index("owner_name").unwrap();
    assert_eq!(feature.attributes[i], machizu::feature::AttrValue::Text(marker.into()));
    // The tile holding the parcel carries the new value.
    use geo::{BoundingRect, Centroid};
    let c = feature.geometry.bounding_rect().unwrap().centroid();
    let (lon, lat) = Transformer::new(Epsg::JGD2011_ZONE_X, Epsg::WGS84).unwrap().point(c.x(), c.y()).unwrap();
    let tile = TileCoord::containing(lon, lat, 16);
    let bytes = second.engine.render(&["parcels".to_owned()], tile, Audience::Staff);
    assert!(bytes.windows(marker.len()).any(|w| w == marker.as_bytes()), "the tile of parcel {fid} is stale");

    // The stale snapshot was replaced by one of the store as it is now; the next start uses it.
    let at = |times: &[(String, std::time::SystemTime)]| times.iter().find(|(l, _)| l == "parcels").unwrap().1;
    assert!(at(&written(&second, dir.path(), restarted)) > at(&times));
    drop(second);
    let third = open(dir.path(), true).await;
    assert_eq!(loaded(&third, "parcels"), Loaded::Snapshot);
    let bytes_again = third.engine.render(&["parcels".to_owned()], tile, Audience::Staff);
    assert_eq!(bytes, bytes_again);
}

#[tokio::test(flavor = "multi_thread")]
async fn truncated_corrupted_and_other_version_snapshots_are_discarded() {
    let dir = demo_dir().await;
    let started = std::time::SystemTime::now();
    let first = open(dir.path(), true).await;
    written(&first, dir.path(), started);
    let crs = first.engine.store_crs();
    let def = first.engine.catalog().get("parcels").unwrap().clone();
    let version = first.store.layer_version(&def).await.unwrap();
    let good = std::fs::read(snapshot_path(dir.path(), "parcels")).unwrap();
    let reference = render_all(&first);
    drop(first);
    let stamp = Stamp { store_version: version, crs };
    let path = snapshot_path(dir.path(), "parcels");
    assert!(snapshot::read(&path, &def, stamp).is_ok(), "the snapshot as written is good");

    // The format number (after the 8-byte magic) and the machizu version string (after its
    // 8-byte length) are the header's second and third fields.
    let mut other_format = good.clone();
    other_format[8] ^= 0x7f;
    let mut other_version = good.clone();
    other_version[24] = b'9' + 1;
    let mut flipped = good.clone();
    let middle = good.len() / 2;
    flipped[middle] ^= 0x01;
    // What is wrong, the bytes, the error expected, and whether to restart the app on it too.
    type Case = (&'static str, Vec<u8>, fn(&SnapshotError) -> bool, bool);
    let cases: [Case; 5] = [
        ("truncated", good[..good.len() * 2 / 3].to_vec(), |e| matches!(e, SnapshotError::Corrupt(_)), true),
        ("without its checksum", good[..good.len() - 8].to_vec(), |e| matches!(e, SnapshotError::Corrupt(_)), false),
        ("with one bit flipped", flipped, |e| matches!(e, SnapshotError::Corrupt(_)), true),
        ("of another format", other_format, |e| matches!(e, SnapshotError::OtherVersion { .. }), false),
        ("of another machizu version", other_version, |e| matches!(e, SnapshotError::OtherVersion { .. }), true),
    ];
    for (what, bytes, expected, restart) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let err = snapshot::read(&path, &def, stamp).err().unwrap_or_else(|| panic!("a snapshot {what} was read"));
        assert!(expected(&err), "a snapshot {what}: {err}");
        if !restart {
            continue;
        }

        // The app discards it, builds the layer from the store and serves what it should.
        let restarted = std::time::SystemTime::now();
        let app = open(dir.path(), true).await;
        assert_eq!(loaded(&app, "parcels"), Loaded::Store, "a snapshot {what}");
        assert!(render_all(&app) == reference, "a snapshot {what}: tiles differ");
        written(&app, dir.path(), restarted);
        drop(app);
        assert_eq!(std::fs::read(&path).unwrap(), good, "a snapshot {what} is written again as it was");
    }
    // Built for another definition of the layer or another store version: not used.
    let mut other = def.clone();
    other.maxzoom -= 1;
    assert!(matches!(snapshot::read(&path, &other, stamp), Err(SnapshotError::OtherDefinition)));
    let newer = Stamp { store_version: version + 1, crs };
    assert!(matches!(snapshot::read(&path, &def, newer), Err(SnapshotError::Stale { .. })));
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgis_every_statement_that_changes_a_layer_moves_its_version_and_stales_its_snapshot() {
    let url = support::fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        let mut config = Config {
            database_url: Some(machizu::config::Secret(url.clone())),
            data_dir: dir.path().to_owned(),
            ..Config::defaults()
        };
        config.live.demo_plows = 0;
        App::open(config)
    };
    let started = std::time::SystemTime::now();
    let first = open().await.unwrap();
    written(&first, dir.path(), started);
    let roads = first.engine.catalog().get("roads").unwrap().clone();
    let store = first.store.clone();
    drop(first);

    let second = open().await.unwrap();
    assert!(second.loaded.iter().all(|(_, from)| *from == Loaded::Snapshot), "{:?}", second.loaded);
    drop(second);

    // Statements from another client: each that changes rows moves the version; one that
    // changes none does not.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let fid: i64 = sqlx::query_scalar("SELECT min(fid) FROM roads").fetch_one(&pool).await.unwrap();
    let mut version = store.layer_version(&roads).await.unwrap();
    for (sql, moves) in [
        ("UPDATE roads SET name = 'x' WHERE false", false),
        ("UPDATE roads SET name = '版の試験' WHERE fid = $1", true),
        ("DELETE FROM roads WHERE fid = $1 + 1", true),
        ("INSERT INTO roads (geom, name) SELECT geom, 'copy' FROM roads WHERE fid = $1", true),
    ] {
        let q = sqlx::query(sqlx::AssertSqlSafe(sql));
        let q = if sql.contains("$1") { q.bind(fid) } else { q };
        q.execute(&pool).await.unwrap();
        let now = store.layer_version(&roads).await.unwrap();
        assert_eq!(now != version, moves, "{sql}: {version} → {now}");
        assert!(now >= version, "versions only move forward");
        version = now;
    }
    pool.close().await;

    let third = open().await.unwrap();
    assert_eq!(loaded(&third, "roads"), Loaded::Store, "the roads' snapshot is stale");
    assert_eq!(loaded(&third, "parcels"), Loaded::Snapshot);
    let road = third.engine.layer("roads").unwrap().get(fid).unwrap();
    assert!(format!("{:?}", road.attributes).contains("版の試験"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_layer_changed_while_serving_gets_a_current_snapshot_once_it_is_quiet() {
    let dir = demo_dir().await;
    let open = |refresh: u64| {
        let mut config = Config { data_dir: dir.path().to_owned(), demo: false, ..Config::defaults() };
        config.live.demo_plows = 0;
        config.snapshot_refresh = Duration::from_secs(refresh);
        App::open(config)
    };
    let started = std::time::SystemTime::now();
    let first = open(1).await.unwrap();
    let before = written(&first, dir.path(), started);
    let parcels_at = |times: &[(String, std::time::SystemTime)]| times.iter().find(|(l, _)| l == "parcels").unwrap().1;

    // A parcel edited through the store while serving: the engine has it at once, and the
    // snapshot follows once the layer has been quiet for a period.
    let def = first.engine.catalog().get("parcels").unwrap().clone();
    let i = def.attribute_index("owner_name").unwrap();
    let fid = first.engine.layer("parcels").unwrap().features().next().unwrap().id;
    let value = vec![Some("走行中の変更".to_owned())];
    first.store.set_derived(&def, &["owner_name"], &[(fid, value)]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    while std::fs::metadata(snapshot_path(dir.path(), "parcels")).unwrap().modified().unwrap() <= parcels_at(&before) {
        assert!(Instant::now() < deadline, "the parcels' snapshot was not refreshed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(first);

    let second = open(600).await.unwrap();
    assert_eq!(loaded(&second, "parcels"), Loaded::Snapshot, "the refreshed snapshot is current");
    let feature = second.engine.layer("parcels").unwrap().get(fid).unwrap();
    assert_eq!(feature.attributes[i], machizu::feature::AttrValue::Text("走行中の変更".into()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_layer_whose_rows_fail_part_way_is_not_replaced_by_the_part_that_was_read() {
    let dir = demo_dir().await;
    let app = open(dir.path(), false).await;
    let before = app.engine.layer("parcels").unwrap();
    assert!(before.len() > 1000);

    // A parcel in the middle of the table gets a geometry no reader can decode. The layer is
    // built as the rows stream in, so its first half is built before the bad row comes.
    let url = format!("sqlite://{}", dir.path().join(FILE_NAME).display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let fid: i64 =
        sqlx::query_scalar("SELECT fid FROM parcels ORDER BY fid LIMIT 1 OFFSET (SELECT count(*) / 2 FROM parcels)")
            .fetch_one(&pool)
            .await
            .unwrap();
    sqlx::query("UPDATE parcels SET geom = X'4750000100000000DEADBEEF' WHERE fid = ?1")
        .bind(fid)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let err = machizu::follow::reload(app.store.as_ref(), &app.engine, "parcels").await.unwrap_err();
    assert!(err.to_string().contains(&fid.to_string()), "the error names the row: {err}");
    let after = app.engine.layer("parcels").unwrap();
    assert!(std::sync::Arc::ptr_eq(&before, &after), "the layer as it was is still served");
    assert_eq!(after.len(), before.len());
}
